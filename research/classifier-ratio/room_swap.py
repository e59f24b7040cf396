"""Is it the room or the decoder? The session-7 fine-tune (runs/v4, the room set free) resynthesising
the held-out notes dry, and through the shipped model's (runs/v2) room instead of its own; the
evaluation's classifier and spectral distance.

It first prints both rooms (level and decay time per band, IR energy) and the last 1 500 spectral
steps' training loss in 250-step means: v2 levels -44.9 to -45.8 dB (initial -45), decays
0.30-0.50 s, IR energy -6.2 dB; v4 levels -40.0 to -50.0 dB, decays 0.05-0.10 s, IR -14.9 dB;
v4's last 250 steps 3.88 against 4.05-4.33 before.

Session 7 figures: v4 decoder, no room 0.567 (spectral distance 3.530); v4 decoder + the shipped
room 0.581 (3.959); v4 as trained (its own 50 ms room) 0.576 (3.508); the shipped model 0.638
(3.871). Putting the long room back does not bring the classifier back: the shipped decoder's
0.638 came from the decoder and room trained together, and the re-fitted decoder lost it on its own.

python3 experiments/room_swap.py
"""
from pathlib import Path

import numpy as np
import torch

from common import ir_energy_db, load_model, report, setup, white_noise
from timbred_train import dsp
from timbred_train.evaluate import classifier_features
from timbred_train.train import load_checkpoint

cfg, notes = setup()
te = notes.indices("test")
runs = {"v2": "runs/v2/checkpoint.pt", "v4": "runs/v4/checkpoint.pt"}
models = {name: load_model(path) for name, path in runs.items()}
for name, m in models.items():
    hist = [h["mss"] for h in load_checkpoint(Path(runs[name]))["history"] if h["stage"] == "spectral"]
    print(f"{name} room: levels {[round(float(v), 1) for v in m.reverb.level_db.detach()]} dB, decay times "
          f"{[round(float(v), 2) for v in m.reverb.log_t60_s.detach().exp().clamp(0.05, 4.0)]} s, IR energy "
          f"{ir_energy_db(m):.1f} dB re direct; training spectral loss, last 250-step means: "
          f"{[round(float(np.mean(hist[a:a + 250])), 2) for a in range(len(hist) - 1500, len(hist), 250)]}", flush=True)
v4, ir2 = models["v4"], models["v2"].ir().detach()
mss = dsp.MultiScaleSpectralLoss()
feats = {"v4 decoder, no room": [], "v4 decoder + shipped (v2) room": []}
dist = {k: [] for k in feats}
for i in te:
    k = int(notes.instrument[i])
    f0 = torch.as_tensor(notes.f0_hz[i])[None]
    ld = torch.as_tensor(notes.loudness_db[i])[None]
    with torch.no_grad():
        c = v4.decoder.controls(v4.decoder(f0, ld, v4.prior_mu[k][None]), f0)
        dry = v4.synthesize(c, f0, white_noise(i, f0.shape[1], cfg.hop), reverb=False)["audio"]
        for key, y in (("v4 decoder, no room", dry), ("v4 decoder + shipped (v2) room", dry + dsp.fft_convolve(dry, ir2))):
            feats[key].append(classifier_features(y[0].numpy(), cfg.sample_rate))
            dist[key].append(float(mss(torch.as_tensor(notes.audio[i])[None], y)))
report(notes, te, feats, {k: f", spectral distance {np.mean(v):.3f}" for k, v in dist.items()})
