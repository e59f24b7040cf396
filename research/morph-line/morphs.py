"""The morph figures of `timbred-train playing` (one A4 held 7 s, the knob turned from A to B over
4 s; brightness rho over the turn, largest 100 ms step over the mean, last second against B alone)
for any pairs, with any timbred binary (build an earlier commit for a before):

    python3 morphs.py BINARY flute:trumpet piano:violin clarinet:oboe trumpet:cello

Session 28 (48 kHz, shipped model), session 27's engine (90a3117) | settled state (bebb742) |
morph line (1bcbbc2): flute → trumpet 0.949/3.3× | 0.939/3.5× | 0.990/2.2×; piano → violin
0.765/3.7× | 0.878/4.8× | 0.803/3.6×; clarinet → oboe −0.735/3.6× | −0.634/4.2× | −0.822/3.3×;
trumpet → cello (bebb742 | 1bcbbc2) −0.13/7.0× | −0.19/3.9×."""
import sys
from pathlib import Path

from timbred_train import playing

binary, pairs = Path(sys.argv[1]), [p.split(":") for p in sys.argv[2:]]
work = Path("/tmp/morph-line"); work.mkdir(exist_ok=True)
root = Path(__file__).resolve().parents[2]
for a, b in pairs:
    r = playing.morph_figures(binary, root / "models/default.safetensors", root / "presets", a, b, work)
    print(f"{a} -> {b}: rho {r['rho']:.3f}, largest step {r['max_step_over_mean']:.2f} x the mean, "
          f"last second vs B {100 * r['end_vs_b']:+.1f} %")
