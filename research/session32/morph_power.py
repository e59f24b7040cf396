"""`playing`'s morph figures (rho over the turn / largest 100 ms step over the mean) read two ways:
the magnitude centroid (`playing`'s) and the power centroid (`MorphTests`'), at several pitches.

    python3 morph_power.py BINARY 57,69,81

Session 32, piano -> violin, power centroid rho at 57 / 69 / 81: session 31's engine (5829370)
0.01 / 0.09 / 0.13, with the tilt 0.80 / 0.49 / 0.50."""
import sys
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

from timbred_train import playing

binary, pitches = Path(sys.argv[1]), [int(p) for p in sys.argv[2].split(",")]
root = Path(__file__).resolve().parents[2]
work = Path("/tmp/morph-power"); work.mkdir(exist_ok=True)
rate = playing.RATE


def centroid(x: np.ndarray, power: bool) -> np.ndarray:
    spec = torch.stft(torch.as_tensor(x[: int(playing.MORPH_HOLD_S * rate)].astype(np.float32)), 4096,
                      hop_length=rate // 10, window=torch.hann_window(4096), return_complex=True).abs().numpy()
    spec = spec ** 2 if power else spec
    f = np.arange(spec.shape[0]) * rate / 4096
    return (f[:, None] * spec).sum(0) / (spec.sum(0) + 1e-12)


s, e = int(playing.MORPH_START_S * 10), int((playing.MORPH_START_S + playing.MORPH_TURN_S) * 10) + 1
for a, b in (("flute", "trumpet"), ("piano", "violin"), ("clarinet", "oboe")):
    cells = []
    for pitch in pitches:
        playing.morph_figures(binary, root / "models/default.safetensors", root / "presets", a, b, work, pitch=pitch)
        x = playing.read_audio(work / f"morph-{a}-{b}.wav", rate)
        both = []
        for power in (False, True):
            t = centroid(x, power)[s:e]
            steps = np.abs(np.diff(t))
            both.append(f"{spearmanr(np.arange(len(t)), t)[0]:+.2f} / {steps.max() / steps.mean():.1f}")
        cells.append(f"{pitch}: magnitude {both[0]}, power {both[1]}")
    print(f"{a} -> {b}: " + " | ".join(cells), flush=True)
