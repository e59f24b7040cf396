"""Does the spectral stage cost the harmonic distribution what the classifier needs? In the shipped
run the warm start brought the harmonic log-amplitude L1 to 0.083 (steps 15 500-16 000); the
spectral stage raised it to 0.122 while lowering the multi-scale spectral loss. This refits the
shipped decoder's harmonics to the analysis again (the warm start's harmonic L1) while holding its
noise to the shipped decoder's own noise output (L1 of log magnitudes against a frozen copy), so
the noise and the room the spectral stage learnt stay, and scores the result with the evaluation's
classifier (as `checkpoint_classifier.py`).

python3 experiments/harmonic_refit.py STEPS OUT.pt   (one core)
"""
import copy
import sys
import time
from pathlib import Path

import numpy as np
import torch

from timbred_train.cache import load_or_build
from timbred_train.config import ModelConfig, TrainConfig
from timbred_train.evaluate import classifier_features, real_note_classifier, resynthesize
from timbred_train.model import TimbreDDSP
from timbred_train.train import LOG_FLOOR, Batcher, gather, latent_terms, load_checkpoint

torch.set_num_threads(1)
steps, out = int(sys.argv[1]), Path(sys.argv[2])
cfg = ModelConfig()
notes = load_or_build(Path("data/default"), cfg)
ck = load_checkpoint(Path("runs/v2/checkpoint.pt"))
model = TimbreDDSP(ModelConfig.from_dict(ck["config"]))
model.load_state_dict(ck["model"])
frozen = copy.deepcopy(model).eval()
opt = torch.optim.Adam(model.decoder.parameters(), lr=3e-4)
tc = TrainConfig()
batcher = Batcher(notes, notes.indices("train"), np.random.default_rng(99))
t0 = time.time()
for step in range(steps):
    idx = batcher.pairs(tc.batch_regression // 2)
    b = gather(notes, idx, batcher.crops(len(idx), tc.crop_frames, notes.f0_hz.shape[1]), tc.crop_frames, cfg.hop)
    with torch.no_grad():
        z, _, _ = latent_terms(model, b, tc, tc.batch_regression // 2)
        keep = frozen.decoder.controls(frozen.decoder(b["f0"], b["ld"], z), b["f0"])["noise"]
    c = model.decoder.controls(model.decoder(b["f0"], b["ld"], z), b["f0"])
    lh = (torch.log(c["harmonics"] + LOG_FLOOR) - torch.log(b["harm"] + LOG_FLOOR)).abs().mean()
    ln = (torch.log(c["noise"] + LOG_FLOOR) - torch.log(keep + LOG_FLOOR)).abs().mean()
    opt.zero_grad()
    (lh + ln).backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 3.0)
    opt.step()
    if (step + 1) % 250 == 0:
        print(f"step {step + 1}, {time.time() - t0:.0f} s, harmonic L1 {lh.item():.3f}, noise drift {ln.item():.3f}", flush=True)
torch.save({"model": model.state_dict(), "config": ck["config"], "step": ck["step"] + steps}, out)
model.eval()
te = notes.indices("test")
clf = real_note_classifier(notes, cfg.sample_rate)
y = notes.instrument[te]
means = model.prior_mu.detach().numpy()
p = clf.predict(np.stack([classifier_features(resynthesize(model, notes.f0_hz[i], notes.loudness_db[i], means[y[n]], seed=int(i)),
                                              cfg.sample_rate) for n, i in enumerate(te)]))
print(f"refit {steps} steps: classifier on resynthesised held-out {(p == y).mean():.3f}\n  "
      + " ".join(f"{nm}={(p[y == k] == k).mean():.2f}" for k, nm in enumerate(notes.instruments)), flush=True)
