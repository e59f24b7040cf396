"""A held note's sidebands 50 Hz either side of its fundamental through the engine (the decoder's
frame-to-frame zigzag, ramped from frame to frame, is an amplitude modulation at half the frame
rate), dB under the fundamental over 0.05-0.5 / 0.5-1.5 / 1.5-2.9 s:

    python3 sidebands.py MODEL NAME KEY/VEL,...      e.g. ../models/default.safetensors vibraphone 71/64,79/80

Session 36: session 35's model rang the vibraphone's 71/64 at -27 dB over 1.5-2.9 s, 79/80 at -29,
89/100 at -29 over 0.5-1.5 s; with the control smoothing from 600 ms: -67, -70, -66."""
import sys
from pathlib import Path

import numpy as np

from timbred_train.playing import RATE, render_timbred

ROOT = Path(__file__).resolve().parents[2]
model, name = Path(sys.argv[1]), sys.argv[2]
notes = [tuple(int(x) for x in kv.split("/")) for kv in sys.argv[3].split(",")]
work = Path("/tmp/session36"); work.mkdir(exist_ok=True)
ours = render_timbred(ROOT / ".build/release/timbred", model, ROOT / "presets", name, notes, work, dry=True)
for (key, vel), audio in zip(notes, ours):
    f0, out = 440 * 2 ** ((key - 69) / 12), []
    for t0, t1 in ((0.05, 0.5), (0.5, 1.5), (1.5, 2.9)):
        x = audio[int(t0 * RATE):int(t1 * RATE)]
        p = np.abs(np.fft.rfft(x * np.hanning(len(x)), n=1 << 18)) ** 2
        f = np.fft.rfftfreq(1 << 18, 1 / RATE)

        def peak(c):
            return p[(f > c - 3) & (f < c + 3)].max()

        out.append(f"{t0}-{t1} s: {10 * np.log10(peak(f0 - 50) / peak(f0)):.0f} / {10 * np.log10(peak(f0 + 50) / peak(f0)):.0f} dB")
    print(f"{name} {key}/{vel}: " + " | ".join(out))
