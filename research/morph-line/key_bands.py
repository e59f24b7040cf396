from pathlib import Path as _P
ROOT = str(_P(__file__).resolve().parents[2])
import os as _os; _os.makedirs("/tmp/morph-line", exist_ok=True)
import sys, os, subprocess, numpy as np
from pathlib import Path
from timbred_train import playing
from timbred_train.playing import RATE, DEFAULT_INSTRUMENTS, read_audio, DEFAULT_SOUNDFONT, band_levels_db, BAND_CENTRES_HZ, HOLD_S, RELEASE_S
from timbred_train.dataset import FluidSynth
from timbred_train.keybands import band_holds_partial
fs = FluidSynth(DEFAULT_SOUNDFONT, RATE)
prog = {n: p for n, p, _, _ in DEFAULT_INSTRUMENTS}
name = sys.argv[1]; keys = [int(k) for k in sys.argv[2].split(",")]; vel = int(sys.argv[3]) if len(sys.argv) > 3 else 100
model = os.environ.get("MODEL", ROOT + "/models/default.safetensors")
C = np.array(BAND_CENTRES_HZ); sel = (C >= 100) & (C <= 16000)
print("        " + " ".join(f"{c:>6.0f}" for c in C[sel]))
for k in keys:
    r = np.array(band_levels_db(fs.render_note(prog[name], k, vel, HOLD_S, RELEASE_S)))
    wav = f"/tmp/morph-line/kb.wav"
    subprocess.run([os.environ.get("TIM", ROOT + "/.build/release/timbred"), "render", "-o", wav, "--model", model, "--rate", str(RATE), "--tail", "0", "--reverb", "0", "--note", str(k), "--velocity", str(vel), "--seconds", str(HOLD_S), "--preset", name], check=True, capture_output=True, env={"TIMBRED_HOME": ROOT + "", "PATH": "/usr/bin:/bin"})
    o = np.array(band_levels_db(read_audio(Path(wav), RATE)))
    print(f"{k:3d} R   " + " ".join(f"{x:6.1f}" for x in r[sel]))
    print(f"{k:3d} D   " + " ".join(f"{x:6.1f}" for x in (o - r)[sel]))
