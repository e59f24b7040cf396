from pathlib import Path as _P
ROOT = str(_P(__file__).resolve().parents[2])
import sys, os, subprocess, tomllib, numpy as np
from pathlib import Path
from timbred_train.evaluate import spectral_centroid_hz
from timbred_train.playing import RATE, read_audio
a, b = sys.argv[1], sys.argv[2]
model = sys.argv[3] if len(sys.argv) > 3 else ROOT + "/models/default.safetensors"
P = {n: np.array(tomllib.load(open(ROOT + f"/presets/{n}.toml", "rb"))["latent"]) for n in (a, b)}
home = Path("/tmp/morph-line/home"); (home / "presets").mkdir(parents=True, exist_ok=True)
out = []
for i in range(17):
    s = i / 16; z = P[a] + (P[b] - P[a]) * s
    (home / "presets" / "pt.toml").write_text(f'name = "pt"\nmodel = "default"\nlatent = [{", ".join(f"{v:.6f}" for v in z)}]\n')
    wav = "/tmp/morph-line/pt.wav"
    r = subprocess.run([os.environ.get("TIM", ROOT + "/.build/release/timbred"), "render", "-o", wav, "--model", model, "--rate", str(RATE), "--tail", "0", "--reverb", "0", "--note", "69", "--seconds", "5", "--preset", "pt"], capture_output=True, text=True, env={**os.environ, "TIMBRED_HOME": str(home), "PATH": "/usr/bin:/bin"})
    if r.returncode: print(r.stderr); break
    c = spectral_centroid_hz(read_audio(Path(wav), RATE)[:5 * RATE], RATE, n_fft=4096, hop=RATE // 10)
    out.append((s, c[10:20].mean(), c[30:45].mean()))
for s, c1, c3 in out: print(f"s={s:.3f} heard 1-2 s {c1:6.0f} Hz, 3-4.5 s {c3:6.0f} Hz")
