"""The bands between and under a low note's partials with the partial motion and without it:
writes a copy of MODEL with `motion.depth_db` zeroed and prints, per key, timbred minus FluidR3 in
the 1/3-octave bands from 125 Hz (`../morph-line/key_bands.py`'s D rows) for both:

    python3 motion_gaps.py french_horn 39,60 [MODEL]

Session 35: the horn's 39 at 125 / 200 Hz +26.4 / +19.7 dB, without the motion +12.6 / +6.3; its
60 at 200 Hz +21.2, without +4.8; the choir's 52 at 200 Hz +19.9, without +11.6."""
import os, subprocess, sys
from pathlib import Path
import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

root = Path(__file__).resolve().parents[2]
name, keys = sys.argv[1], sys.argv[2]
model = sys.argv[3] if len(sys.argv) > 3 else str(root / "models/default.safetensors")
still = Path(f"/tmp/motion-gaps-{os.getpid()}.safetensors")
tensors = load_file(model)
tensors["motion.depth_db"] = np.zeros_like(tensors["motion.depth_db"])
save_file(tensors, str(still), metadata=safe_open(model, "np").metadata())
for label, m in (("with the motion", model), ("without", str(still))):
    out = subprocess.run([sys.executable, str(root / "research/morph-line/key_bands.py"), name, keys], check=True,
                         capture_output=True, text=True, env={**os.environ, "MODEL": m}).stdout.splitlines()
    print(label); print(out[0]); print("\n".join(l for l in out[1:] if " D " in l))
