"""The evaluation's classifier (trained on the real training notes) scoring the resynthesis of the
210 held-out notes by training checkpoints, without exporting them: a quick look at a run in
progress. The resynthesis is `timbred-train evaluate`'s (own f0 and loudness, the instrument's
preset point, the learned room), so the figures match its report for the same weights.

python3 experiments/checkpoint_classifier.py runs/v2/checkpoint.pt runs/m1/checkpoint.pt ...

Session 5, the spectral-motion fine-tune (see TRAINING.md): runs/v2 (shipped) 0.638; motion
weight 1 at steps 25 500 / 26 000 / 27 000: 0.633 / 0.619 / 0.629; weight 3 at 25 500: 0.614.

Session 7, the room set free (runs/v4: the shipped checkpoint resumed for 1 000 spectral steps with
the room at lr × 300, `--spectral-steps 10000`; the step-25 250 and 25 750 files are copies of
runs/v4/checkpoint.pt taken while it ran, as checkpoint-25250.pt / checkpoint-25750.pt):
steps 25 250 / 25 750 / 26 000: 0.543 / 0.571 / 0.576; held-out spectral distance runs/v2 3.871 (the report's), runs/v4 at 26 000 3.508
(analysis-resynthesis 3.323).
"""
import sys
from pathlib import Path

import numpy as np
import torch

from timbred_train import dsp
from timbred_train.cache import load_or_build
from timbred_train.config import ModelConfig
from timbred_train.evaluate import classifier_features, real_note_classifier, resynthesize
from timbred_train.model import TimbreDDSP
from timbred_train.train import load_checkpoint

torch.set_num_threads(1)
cfg = ModelConfig()
notes = load_or_build(Path("data/default"), cfg)
sr = cfg.sample_rate
te = notes.indices("test")
clf = real_note_classifier(notes, sr)
y = notes.instrument[te]
real = clf.score(np.stack([classifier_features(notes.audio[i], sr) for i in te]), y)
for path in sys.argv[1:]:
    ck = load_checkpoint(Path(path))
    model = TimbreDDSP(ModelConfig.from_dict(ck["config"]))
    model.load_state_dict(ck["model"])
    model.eval()
    means = model.prior_mu.detach().numpy()
    feats, dist = [], []
    mss = dsp.MultiScaleSpectralLoss()
    for i in te:
        out = resynthesize(model, notes.f0_hz[i], notes.loudness_db[i], means[notes.instrument[i]], seed=int(i))
        feats.append(classifier_features(out, sr))
        with torch.no_grad():
            dist.append(float(mss(torch.as_tensor(notes.audio[i])[None], torch.as_tensor(out)[None])))
    p = clf.predict(np.stack(feats))
    per = " ".join(f"{n}={(p[y == k] == k).mean():.2f}" for k, n in enumerate(notes.instruments))
    print(f"{path} (step {ck['step']}): real {real:.3f}, resynthesised {(p == y).mean():.3f}, "
          f"ratio {(p == y).mean() / real:.3f}; held-out spectral distance {np.mean(dist):.3f}\n  {per}", flush=True)
