"""A copy of MODEL with one instrument's onset course raised on its first frame by DB at the given
keys (every velocity anchor), and that note's first 60 ms beside FluidR3's
(`../session34/early_course.py`):

    python3 first_frame.py nylon_guitar 77 100 12,36 [MODEL]

Session 35 (session 34's model): the guitar's 77 at 100, first 2 ms steps, dB of its peak: as
shipped −18 −13 −6 −5 −1 (attack 7.5 ms); +12 dB −17 −12 −5 −5 −1 (7.5); +36 dB −6 −5 −3 −6 0
(5.0): the first frame's level was what held the pluck back."""
import json, os, subprocess, sys
from pathlib import Path
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

root = Path(__file__).resolve().parents[2]
name, key, vel = sys.argv[1], int(sys.argv[2]), sys.argv[3]
raises = [float(v) for v in sys.argv[4].split(",")]
model = sys.argv[5] if len(sys.argv) > 5 else str(root / "models/default.safetensors")
meta = safe_open(model, "np").metadata()
i = json.loads(meta["config"])["instruments"].index(name)
for db in raises:
    t = load_file(model)
    p = list(t["tone.onset_pitches"]).index(key)
    t["tone.onset_db"][i, p, :, 0] += db
    out = Path(f"/tmp/first-frame-{os.getpid()}-{db:g}.safetensors")
    save_file(t, str(out), metadata=meta)
    r = subprocess.run([sys.executable, str(root / "research/session34/early_course.py"), name, str(key), vel, str(out)],
                       check=True, capture_output=True, text=True).stdout
    print(f"+{db:g} dB on the first frame:\n{r}", flush=True)
