"""A held note's sidebands 50 Hz either side of its fundamental through the engine (the decoder's
frame-to-frame zigzag, ramped from frame to frame, is an amplitude modulation at half the frame
rate), dB under the fundamental over 0.05-0.5 / 0.5-1.5 / 1.5-2.9 s:

    python3 sidebands.py MODEL NAME KEY/VEL,...      e.g. ../models/default.safetensors vibraphone 71/64,79/80

FluidR3's same notes beside them (reverb and chorus off).

Session 36: session 35's model rang the vibraphone's 71/64 at -27 dB over 1.5-2.9 s, 79/80 at -29,
89/100 at -29 over 0.5-1.5 s; with the control smoothing from 600 ms: -67, -70, -66; FluidR3's
-62 to -69."""
import sys
from pathlib import Path

import numpy as np

from timbred_train.config import DEFAULT_INSTRUMENTS
from timbred_train.dataset import DEFAULT_SOUNDFONT, FluidSynth
from timbred_train.playing import HOLD_S, RATE, RELEASE_S, render_timbred

ROOT = Path(__file__).resolve().parents[2]
model, name = Path(sys.argv[1]), sys.argv[2]
notes = [tuple(int(x) for x in kv.split("/")) for kv in sys.argv[3].split(",")]
work = Path("/tmp/session36"); work.mkdir(exist_ok=True)
ours = render_timbred(ROOT / ".build/release/timbred", model, ROOT / "presets", name, notes, work, dry=True)
fs, program = FluidSynth(DEFAULT_SOUNDFONT, RATE), [p for n, p, lo, hi in DEFAULT_INSTRUMENTS if n == name][0]
for (key, vel), audio in zip(notes, ours):
    for who, a in (("timbred", audio), ("FluidR3", fs.render_note(program, key, vel, HOLD_S, RELEASE_S))):
        f0, out = 440 * 2 ** ((key - 69) / 12), []
        for t0, t1 in ((0.05, 0.5), (0.5, 1.5), (1.5, 2.9)):
            x = a[int(t0 * RATE):int(t1 * RATE)]
            p = np.abs(np.fft.rfft(x * np.hanning(len(x)), n=1 << 18)) ** 2
            f = np.fft.rfftfreq(1 << 18, 1 / RATE)
            below = p[(f > f0 - 53) & (f < f0 - 47)].max()
            above = p[(f > f0 + 47) & (f < f0 + 53)].max()
            at = p[(f > f0 - 3) & (f < f0 + 3)].max()
            out.append(f"{t0}-{t1} s: {10 * np.log10(below / at):.0f} / {10 * np.log10(above / at):.0f} dB")
        print(f"{name} {key}/{vel} {who}: " + " | ".join(out))
