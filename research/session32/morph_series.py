"""The morph's brightness, 100 ms frame by frame over the knob's turn (the figures of `playing`),
beside B held alone over the same frames:

    python3 morph_series.py BINARY piano:violin flute:trumpet
"""
import sys
from pathlib import Path

import numpy as np

from timbred_train import playing

binary, pairs = Path(sys.argv[1]), [p.split(":") for p in sys.argv[2:]]
work = Path("/tmp/morph-series"); work.mkdir(exist_ok=True)
root = Path(__file__).resolve().parents[2]
model = Path(__import__("os").environ.get("MODEL", root / "models/default.safetensors"))
for a, b in pairs:
    r = playing.morph_figures(binary, model, root / "presets", a, b, work)
    cen = np.array(r["centroid_hz"])
    alone = playing.read_audio(work / f"morph-{b}-alone.wav", playing.RATE)
    _, _, cen_b = playing.turn_figures(alone)
    print(f"{a} -> {b}: rho {r['rho']:.3f}, largest step {r['max_step_over_mean']:.2f} x the mean, "
          f"last second vs B {100 * r['end_vs_b']:+.1f} %")
    s, e = int(playing.MORPH_START_S * 10), int((playing.MORPH_START_S + playing.MORPH_TURN_S) * 10) + 1
    print("  morph  :", " ".join(f"{c:.0f}" for c in cen[s:e]))
    print("  B alone:", " ".join(f"{c:.0f}" for c in cen_b[s:e]))
