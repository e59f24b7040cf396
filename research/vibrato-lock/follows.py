"""How much of each held partial's motion in the vibrato's band follows the vibrato (the share
`timbred-train motion` measures for `motion.vibrato_lock`, read the same way with
`motion.note_lock`), pooled over partials 1-24 and the keys given, FluidR3 beside each model
played through `timbred render` (dry). Run from training/:

    python3 ../research/vibrato-lock/follows.py violin,flute 62,69,76,81 MODEL [MODEL ...]

Session 29, keys 62, 69, 76, 81 (FluidR3 | session 27's model | with the lock and tilt): violin
0.62 | 0.04 | 0.58, flute 0.72 | 0.04 | 0.71, oboe 0.71 | 0.09 | 0.75, cello 0.50 | 0.06 | 0.51,
alto sax 0.76 | 0.06 | 0.70, trumpet 0.68 | 0.53 | 0.71, choir 0.07 | 0.03 | 0.10."""
import sys
from pathlib import Path

import numpy as np

from timbred_train import motion as M
from timbred_train import playing as P
from timbred_train.config import DEFAULT_INSTRUMENTS
from timbred_train.dataset import DEFAULT_SOUNDFONT, FluidSynth

root = Path(__file__).resolve().parents[2]
names, keys, models = sys.argv[1].split(","), [int(k) for k in sys.argv[2].split(",")], sys.argv[3:]
work = Path("/tmp/vibrato-lock"); work.mkdir(exist_ok=True)
fs = FluidSynth(DEFAULT_SOUNDFONT, P.RATE)
program = {n: p for n, p, _, _ in DEFAULT_INSTRUMENTS}
for name in names:
    out = []
    for source in ["FluidR3"] + models:
        if source == "FluidR3":
            notes = [fs.render_note(program[name], k, 100, P.HOLD_S, P.RELEASE_S) for k in keys]
        else:
            notes = P.render_timbred(root / ".build/release/timbred", Path(source), root / "presets", name,
                                     [(k, 100) for k in keys], work, dry=True)
        locked, band = np.zeros(M.LOCK_PARTIALS), np.zeros(M.LOCK_PARTIALS)
        for k, audio in zip(keys, notes):
            got = M.note_lock(audio, float(k), int(P.HOLD_S * 100), P.RATE, 100.0)
            if got is not None:
                locked += got[0]
                band += got[1]
        out.append(f"{Path(source).stem}: {locked.sum() / max(band.sum(), 1e-30):.2f}")
    print(f"{name:12s} " + " | ".join(out), flush=True)
