"""The spectrum under 300 Hz of held notes, FluidR3 beside timbred (dB of the note's power per
10 Hz bin), to tell noise (flat) from partial skirts (peaked near f0):

    python3 low_spectrum.py BINARY NAME KEYS [MODEL]
"""
import sys
from pathlib import Path
import numpy as np
from timbred_train.playing import RATE, HOLD_S, RELEASE_S, render_timbred
from timbred_train.dataset import FluidSynth
from timbred_train.config import DEFAULT_INSTRUMENTS

ROOT = Path(__file__).resolve().parents[2]
binary, name = Path(sys.argv[1]), sys.argv[2]
keys = [int(k) for k in sys.argv[3].split(",")]
model = Path(sys.argv[4]) if len(sys.argv) > 4 else ROOT / "models/default.safetensors"
program = {n: p for n, p, lo, hi in DEFAULT_INSTRUMENTS}[name]
fs = FluidSynth(Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"), RATE)
work = Path("/tmp/session34/low"); work.mkdir(parents=True, exist_ok=True)
ours = render_timbred(binary, model, ROOT / "presets", name, [(k, 100) for k in keys], work, dry=True)


def spectrum(x):
    x = np.asarray(x[int(0.3 * RATE): int(2.9 * RATE)], float)
    p = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    f = np.fft.rfftfreq(len(x), 1 / RATE)
    edges = np.arange(40, 310, 10)
    return edges, [10 * np.log10(p[(f >= a) & (f < a + 10)].sum() / p.sum() + 1e-30) for a in edges]


for k, o in zip(keys, ours):
    e, r = spectrum(fs.render_note(program, k, 100, HOLD_S, RELEASE_S))
    _, t = spectrum(o)
    print(f"{name} {k} (f0 {440 * 2 ** ((k - 69) / 12):.0f} Hz), 10 Hz bins from 40 Hz, FluidR3/timbred dB:")
    print("  " + " ".join(f"{a}:{x:.0f}/{y:.0f}" for a, x, y in zip(e, r, t)))
