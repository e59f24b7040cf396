"""The morph figures of `playing` at several pitches (the engine's morph line is calibrated at A4):

    python3 morph_pitches.py BINARY 64,69,74 piano:violin flute:trumpet
"""
import sys
from pathlib import Path

from timbred_train import playing

binary, pitches, pairs = Path(sys.argv[1]), [int(p) for p in sys.argv[2].split(",")], [p.split(":") for p in sys.argv[3:]]
work = Path("/tmp/morph-pitches"); work.mkdir(exist_ok=True)
root = Path(__file__).resolve().parents[2]
for a, b in pairs:
    cells = []
    for pitch in pitches:
        r = playing.morph_figures(binary, root / "models/default.safetensors", root / "presets", a, b, work, pitch=pitch)
        cells.append(f"{pitch}: {r['rho']:.3f} / {r['max_step_over_mean']:.2f}x / {100 * r['end_vs_b']:+.1f} %")
    print(f"{a} -> {b}: " + " | ".join(cells), flush=True)
