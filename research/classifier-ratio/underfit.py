"""Does the shipped decoder fit the notes it was trained on? Multi-scale spectral distance of the
resynthesis (as `timbred-train evaluate` makes it) on the first 8 training and 8 held-out notes of
five instruments, then the church organ's partials, real against resynthesised, on every 4th
held-out organ note (level in dB re the loudest of the first 9 harmonics, ±3 bins at 1 s).

python3 experiments/underfit.py [checkpoint]   (default runs/v2/checkpoint.pt; ~3 min on one core)

Session 5, the shipped weights: spectral distance train / held-out: church organ 4.65 / 4.94,
marimba 1.36 / 1.26, vibraphone 2.13 / 1.82, flute 4.12 / 4.45, piano 3.11 / 3.64; the organ at
MIDI 90: 3rd harmonic -25.7 dB real, +0.6 dB model; at MIDI 78 and 90 a partial at 1.5·f0 of
-8.2 and -10.3 dB real, -59.5 and -69.5 dB model.
"""
import sys
from pathlib import Path

import numpy as np
import torch

from timbred_train import dsp
from timbred_train.cache import load_or_build
from timbred_train.config import ModelConfig
from timbred_train.evaluate import resynthesize
from timbred_train.model import TimbreDDSP
from timbred_train.train import load_checkpoint

torch.set_num_threads(1)
ck = load_checkpoint(Path(sys.argv[1] if len(sys.argv) > 1 else "runs/v2/checkpoint.pt"))
cfg = ModelConfig.from_dict(ck["config"])
model = TimbreDDSP(cfg)
model.load_state_dict(ck["model"])
model.eval()
means = model.prior_mu.detach().numpy()
notes = load_or_build(Path("data/default"), cfg)
mss = dsp.MultiScaleSpectralLoss()


def resynth(i: int) -> np.ndarray:
    k = int(notes.instrument[i])
    return resynthesize(model, notes.f0_hz[i], notes.loudness_db[i], means[k], seed=int(i))


def of(name: str, split: str) -> list[int]:
    k = notes.instruments.index(name)
    return [int(i) for i in notes.indices(split) if notes.instrument[i] == k]


for name in ("church_organ", "marimba", "vibraphone", "flute", "piano"):
    dist = []
    for split in ("train", "test"):
        dist.append(np.mean([float(mss(torch.as_tensor(notes.audio[i])[None], torch.as_tensor(resynth(i))[None]))
                             for i in of(name, split)[:8]]))
    print(f"{name}: spectral distance train {dist[0]:.2f} held-out {dist[1]:.2f}", flush=True)

ratios = [0.5, 1, 1.5, 2, 2.5, 3, 4, 5, 6, 8]
print("church organ partials at", " ".join(f"{r:g}·f0" for r in ratios))
for i in of("church_organ", "test")[::4]:
    f0 = float(np.median(notes.f0_hz[i][20:150]))
    sr = cfg.sample_rate
    freqs = np.fft.rfftfreq(32768, 1 / sr)

    def power(a):
        return np.abs(np.fft.rfft(a[8000:8000 + 32768] * np.hanning(32768))) ** 2

    def level(p, f):
        j = int(round(f / freqs[1]))
        return 10 * np.log10(p[max(j - 3, 0):j + 4].sum() + 1e-12)

    px, py = power(notes.audio[i]), power(resynth(i))
    ref = max(level(px, f0 * h) for h in range(1, 10))
    print(f"MIDI {notes.pitch[i]} velocity {notes.velocity[i]}, f0 {f0:.1f} Hz")
    print("  real ", " ".join(f"{level(px, f0 * r) - ref:6.1f}" for r in ratios))
    print("  model", " ".join(f"{level(py, f0 * r) - ref:6.1f}" for r in ratios), flush=True)
