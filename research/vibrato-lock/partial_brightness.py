"""A held A4's brightness (magnitude centroid, 4096-sample frames every 100 ms, 0.5-2.7 s) from one
frame to the next, of the whole spectrum and of the partials alone (±3 % around k·440 Hz), and
the magnitude share off the partials, FluidR3 | the shipped model (dry). Run from training/:

    python3 ../research/vibrato-lock/partial_brightness.py flute,violin

Session 29: flute 11.5 % / 12.0 % / 0.14 | 2.1 % / 1.9 % / 0.14; violin 8.7 % / 8.5 % / 0.17 |
2.7 % / 2.6 % / 0.17."""
import sys
from pathlib import Path

import numpy as np

from timbred_train import playing as P
from timbred_train.config import DEFAULT_INSTRUMENTS
from timbred_train.dataset import DEFAULT_SOUNDFONT, FluidSynth

root = Path(__file__).resolve().parents[2]
work = Path("/tmp/vibrato-lock"); work.mkdir(exist_ok=True)
fs = FluidSynth(DEFAULT_SOUNDFONT, P.RATE)
program = {n: p for n, p, _, _ in DEFAULT_INSTRUMENTS}
n, hop, f0 = 4096, P.RATE // 10, 440.0
f = np.fft.rfftfreq(n, 1 / P.RATE)
partials = np.zeros(len(f), bool)
for k in range(1, 60):
    partials |= (f > k * f0 * 0.97) & (f < k * f0 * 1.03)
for name in sys.argv[1].split(","):
    real = fs.render_note(program[name], 69, 100, P.HOLD_S, P.RELEASE_S)
    ours = P.render_timbred(root / ".build/release/timbred", root / "models/default.safetensors", root / "presets",
                            name, [(69, 100)], work, dry=True)[0]
    out = []
    for x in (real, ours):
        rows = []
        for s in range(5 * hop, 27 * hop, hop):
            m = np.abs(np.fft.rfft(x[s:s + n] * np.hanning(n)))
            rows.append(((f * m).sum() / m.sum(), (f[partials] * m[partials]).sum() / m[partials].sum(),
                         m[~partials].sum() / m.sum()))
        r = np.array(rows)
        step = [100 * np.abs(np.diff(v)).mean() / v.mean() for v in (r[:, 0], r[:, 1])]
        out.append(f"{step[0]:.1f} % / {step[1]:.1f} % / {r[:, 2].mean():.2f}")
    print(f"{name:10s} FluidR3 {out[0]} | timbred {out[1]}")
