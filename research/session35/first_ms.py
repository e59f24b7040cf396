"""Whether a note starts with a click: over its first millisecond, the largest sample-to-sample step
against the largest one from 10 to 100 ms, and the first millisecond's peak against the note's,
FluidR3 beside models played through `timbred render`:

    python3 first_ms.py nylon_guitar 77:100,71:100,80:127 MODEL_BEFORE,MODEL_AFTER

Session 35 (session 34's model, this one): the guitar's 77 at 100 0.02 → 0.34, 71 at 100 0.01 →
0.10, 80 at 127 0.05 → 0.45: under the note's own steps later on (FluidR3 0.00: its pick's noise)."""
import os, subprocess, sys
from pathlib import Path
import numpy as np
from timbred_train.dataset import FluidSynth
from timbred_train.playing import DEFAULT_INSTRUMENTS, DEFAULT_SOUNDFONT, RATE, read_audio

root = Path(__file__).resolve().parents[2]
name = sys.argv[1]
notes = [tuple(int(v) for v in kv.split(":")) for kv in sys.argv[2].split(",")]
models = sys.argv[3].split(",")
program = {n: p for n, p, _, _ in DEFAULT_INSTRUMENTS}[name]
fs = FluidSynth(DEFAULT_SOUNDFONT, RATE)
ms = RATE // 1000


def figures(x):
    s = int(np.argmax(np.abs(x) > 1e-4)); d = np.abs(np.diff(x))
    return d[s:s + ms].max() / (d[s + 10 * ms:s + 100 * ms].max() + 1e-12), np.abs(x[s:s + ms]).max() / np.abs(x).max()


for key, vel in notes:
    line = "%s %d at %d: FluidR3 %.2f, %.2f" % ((name, key, vel) + figures(fs.render_note(program, key, vel, 1.0, 0.3)))
    for m in models:
        wav = Path(f"/tmp/first-ms-{os.getpid()}.wav")
        subprocess.run([os.environ.get("TIM", str(root / ".build/release/timbred")), "render", "--model", m, "--note",
                        str(key), "--velocity", str(vel), "--seconds", "1", "--preset", name, "--reverb", "0",
                        "--tail", "0.3", "-o", str(wav)], check=True, capture_output=True,
                       env={**os.environ, "TIMBRED_HOME": str(root)})
        line += " | %.2f, %.2f" % figures(read_audio(wav, RATE))
    print(line, flush=True)
