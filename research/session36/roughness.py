"""How much a note's 10 ms level moves from one frame to the next over 0.1-0.6 s (mean |second
difference| / 4, dB), FluidR3 beside timbred, velocity 100:

    python3 roughness.py MODEL NAME KEYS      e.g. ../models/default.safetensors violin 80,93

Session 36: the violin's 80 0.27 dB in FluidR3, 0.28 in ours; its 93 0.68 and 0.48: the onset
course's frame-to-frame moves are the recordings' own, so the control smoothing leaves 600 ms alone."""
import sys
from pathlib import Path

import numpy as np

from timbred_train.config import DEFAULT_INSTRUMENTS
from timbred_train.dataset import DEFAULT_SOUNDFONT, FluidSynth
from timbred_train.playing import RATE, render_timbred

ROOT = Path(__file__).resolve().parents[2]
model, name, keys = Path(sys.argv[1]), sys.argv[2], [int(k) for k in sys.argv[3].split(",")]
work = Path("/tmp/session36"); work.mkdir(exist_ok=True)
fs, program = FluidSynth(DEFAULT_SOUNDFONT, RATE), [p for n, p, lo, hi in DEFAULT_INSTRUMENTS if n == name][0]
ours = render_timbred(ROOT / ".build/release/timbred", model, ROOT / "presets", name, [(k, 100) for k in keys], work, dry=True)


def rough(a: np.ndarray) -> float:
    h = RATE // 100
    levels = np.array([10 * np.log10(np.mean(a[i * h:(i + 1) * h] ** 2) + 1e-20) for i in range(10, 60)])
    return float(np.abs(np.diff(levels, 2)).mean() / 4)


for key, audio in zip(keys, ours):
    print(f"{name} {key}: FluidR3 {rough(fs.render_note(program, key, 100, 3.0, 1.0)):.2f} dB, timbred {rough(audio):.2f} dB")
