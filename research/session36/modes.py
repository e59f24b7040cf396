"""Where a few partials of a note lie, FluidR3 beside timbred: the peak within ±15 % of k·f0 over
0.05-1.5 s of each key at velocity 100, as a ratio to f0 (its level in dB of the note's power):

    python3 modes.py MODEL NAME KEYS PARTIALS      e.g. ../models/default.safetensors vibraphone 53,57,60 1,4,10

Session 36, session 35's model: the vibraphone's 53-57 ring their third mode at 10.333 × f0 in
FluidR3 (-29 dB), ours at 10.000 (-28 to -31); from 58 up FluidR3's sits at 10.005, from 69 at 9.01.
This model: 10.359-10.360."""
import sys
from pathlib import Path

import numpy as np

from timbred_train.config import DEFAULT_INSTRUMENTS
from timbred_train.dataset import DEFAULT_SOUNDFONT, FluidSynth
from timbred_train.playing import HOLD_S, RATE, RELEASE_S, render_timbred

ROOT = Path(__file__).resolve().parents[2]
model, name = Path(sys.argv[1]), sys.argv[2]
keys = [int(k) for k in sys.argv[3].split(",")]
ks = [int(k) for k in sys.argv[4].split(",")]
work = Path("/tmp/session36"); work.mkdir(exist_ok=True)
fs = FluidSynth(DEFAULT_SOUNDFONT, RATE)
program = [p for n, p, lo, hi in DEFAULT_INSTRUMENTS if n == name][0]
ours = render_timbred(ROOT / ".build/release/timbred", model, ROOT / "presets", name, [(k, 100) for k in keys], work, dry=True)
for key, o in zip(keys, ours):
    real, f0, out = fs.render_note(program, key, 100, HOLD_S, RELEASE_S), 440 * 2 ** ((key - 69) / 12), []
    for label, a in (("real", real), ("ours", o)):
        x = a[int(0.05 * RATE):int(1.5 * RATE)]
        p = np.abs(np.fft.rfft(x * np.hanning(len(x)), n=1 << 18)) ** 2
        f = np.fft.rfftfreq(1 << 18, 1 / RATE)
        s = []
        for k in ks:
            sel = (f > k * f0 * 0.85) & (f < k * f0 * 1.15)
            i = np.argmax(p[sel])
            s.append(f"{k}:{f[sel][i] / f0:.3f}({10 * np.log10(p[sel][i] / p.sum()):.0f})")
        out.append(label + " " + " ".join(s))
    print(key, " | ".join(out))
