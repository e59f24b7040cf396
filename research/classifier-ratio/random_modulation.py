"""Does a per-voice random modulation input let the decoder make each note's spectrum move?

Prototype, training side only (the model format and the engine are unchanged): the decoder's
GRU input gets W·m(t) added, where m(t) holds 4 channels of low-passed Gaussian noise at the
frame rate (cut-offs 1, 3, 8 and 20 Hz, unit variance), drawn afresh for every crop, and W starts
at zero, so training starts from the shipped weights' exact behaviour. Fine-tuned from
runs/v2/checkpoint.pt with the spectral-motion loss (weight 1) as in TRAINING.md's session-5
run without modulation, then scored with the evaluation's classifier (modulation drawn with the
note's seed, as the engine would seed a voice).

python3 experiments/random_modulation.py [steps]   (default 1500; one core, about 1.5 s/step)

Session 5, 1 500 steps (41 min): classifier on resynthesised notes 0.633 (shipped 0.638; the
same fine-tune without modulation 0.629 at 2 000 steps); the mean |W| grew only to 0.0076 (the GRU
inputs are of order 1), so the decoder barely listens to the modulation at this length.
"""
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

from timbred_train import dsp
from timbred_train.cache import load_or_build
from timbred_train.config import ModelConfig, TrainConfig
from timbred_train.evaluate import classifier_features, real_note_classifier
from timbred_train.model import TimbreDDSP
from timbred_train.train import LOG_FLOOR, Batcher, gather, latent_terms, load_checkpoint

torch.set_num_threads(1)
steps = int(sys.argv[1]) if len(sys.argv) > 1 else 1500
CUTOFFS_HZ = (1.0, 3.0, 8.0, 20.0)

ck = load_checkpoint(Path("runs/v2/checkpoint.pt"))
cfg = ModelConfig.from_dict(ck["config"])
model = TimbreDDSP(cfg)
model.load_state_dict(ck["model"])
mod_in = torch.nn.Linear(len(CUTOFFS_HZ), 3 * cfg.mlp_units, bias=False)
torch.nn.init.zeros_(mod_in.weight)
notes = load_or_build(Path("data/default"), cfg)


def modulation(n: int, n_frames: int, gen: torch.Generator | None = None) -> torch.Tensor:
    """[n, n_frames, channels] of one-pole low-passed Gaussian noise, unit variance per channel."""
    x = torch.randn(n, n_frames + 200, len(CUTOFFS_HZ), generator=gen)
    a = torch.tensor([math.exp(-2 * math.pi * fc / cfg.frame_rate) for fc in CUTOFFS_HZ])
    y = torch.zeros_like(x)
    state = torch.zeros(n, len(CUTOFFS_HZ))
    for t in range(x.shape[1]):
        state = a * state + (1 - a) * x[:, t]
        y[:, t] = state
    y = y[:, 200:]  # settled
    return y / torch.sqrt((1 - a) / (1 + a))  # unit variance


def decode(f0, ld, z, m):
    d = model.decoder
    f0s, lds = d.scale_inputs(f0, ld)
    if z.dim() == 2:
        z = z[:, None, :].expand(-1, f0.shape[1], -1)
    hf, hl, hz = d.f0_mlp(f0s[..., None]), d.ld_mlp(lds[..., None]), d.z_mlp(z)
    g, _ = d.gru(torch.cat([hf, hl, hz], -1) + mod_in(m))
    return d.controls(d.out(d.out_mlp(torch.cat([g, hf, hl, hz], -1))), f0)


tc = TrainConfig()
opt = torch.optim.Adam(list(model.parameters()) + list(mod_in.parameters()), lr=4e-4)
mss, motion = dsp.MultiScaleSpectralLoss(tc.fft_sizes), dsp.SpectralMotionLoss(cfg.sample_rate)
batcher = Batcher(notes, notes.indices("train"), np.random.default_rng(55))
crop, t0 = cfg.frame_rate, time.time()
for step in range(steps):
    idx = batcher.pairs(tc.batch_spectral // 2)
    b = gather(notes, idx, batcher.crops(len(idx), crop, notes.f0_hz.shape[1]), crop, cfg.hop, audio=True)
    z, lat, _ = latent_terms(model, b, tc, tc.batch_spectral // 2)
    c = decode(b["f0"], b["ld"], z, modulation(len(idx), crop))
    out = model.synthesize(c, b["f0"], torch.rand(b["audio"].shape) * 2 - 1)["audio"]
    lm, lo = mss(b["audio"], out), motion(b["audio"], out)
    lh = (torch.log(c["harmonics"] + LOG_FLOOR) - torch.log(b["harm"] + LOG_FLOOR)).abs().mean()
    opt.zero_grad()
    (lm + lo + 0.1 * lh + lat).backward()
    torch.nn.utils.clip_grad_norm_(list(model.parameters()) + list(mod_in.parameters()), 3.0)
    opt.step()
    if (step + 1) % 100 == 0:
        print(f"step {step + 1}: mss {lm.item():.3f} motion {lo.item():.3f} |W| {mod_in.weight.abs().mean():.4f} "
              f"{time.time() - t0:.0f} s", flush=True)

model.eval()
sr = cfg.sample_rate
te = notes.indices("test")
clf = real_note_classifier(notes, sr)
y = notes.instrument[te]
real = clf.score(np.stack([classifier_features(notes.audio[i], sr) for i in te]), y)
means = model.prior_mu.detach()
feats = []
with torch.no_grad():
    for i in te:
        g = torch.Generator().manual_seed(int(i))
        f0, ld = torch.as_tensor(notes.f0_hz[i])[None], torch.as_tensor(notes.loudness_db[i])[None]
        c = decode(f0, ld, means[int(notes.instrument[i])][None], modulation(1, f0.shape[1], g))
        white = torch.rand(1, f0.shape[1] * cfg.hop, generator=g) * 2 - 1
        feats.append(classifier_features(model.synthesize(c, f0, white)["audio"][0].numpy(), sr))
p = clf.predict(np.stack(feats))
per = " ".join(f"{n}={(p[y == k] == k).mean():.2f}" for k, n in enumerate(notes.instruments))
print(f"random modulation, {steps} steps: real {real:.3f}, resynthesised {(p == y).mean():.3f}, "
      f"ratio {(p == y).mean() / real:.3f}\n  {per}", flush=True)
