from pathlib import Path as _P
ROOT = str(_P(__file__).resolve().parents[2])
import os as _os; _os.makedirs("/tmp/morph-line", exist_ok=True)
import sys, os, subprocess, numpy as np
from pathlib import Path
from timbred_train import playing
from timbred_train.evaluate import spectral_centroid_hz
from timbred_train.playing import RATE, DEFAULT_INSTRUMENTS, read_audio, DEFAULT_SOUNDFONT
from timbred_train.dataset import FluidSynth
fs = FluidSynth(DEFAULT_SOUNDFONT, RATE)
prog = {n: p for n, p, _, _ in DEFAULT_INSTRUMENTS}
models = sys.argv[1].split(",")
names = sys.argv[2].split(",")
pitch = int(sys.argv[3]) if len(sys.argv) > 3 else 69
def fig(a):
    c = spectral_centroid_hz(a[:7*RATE], RATE, n_fft=4096, hop=RATE//10)[10:51]
    s = np.abs(np.diff(c)); return s.mean(), s.max()/s.mean(), c.mean()
for n in names:
    r = fs.render_note(prog[n], pitch, 100, 7.0, 1.0)
    m, x, c = fig(r); line = f"{n:14s} FluidR3 mean step {m:5.0f} Hz ({100*m/c:4.1f} %) max/mean {x:4.1f}"
    for mo in models:
        wav = f"/tmp/morph-line/al-{n}.wav"
        subprocess.run([os.environ.get("TIM",ROOT + "/.build/release/timbred"),"render","-o",wav,"--model",mo,"--rate",str(RATE),"--tail","0","--reverb","0","--note",str(pitch),"--seconds","7","--preset",n],check=True,capture_output=True,env={"TIMBRED_HOME":ROOT + "","PATH":"/usr/bin:/bin"})
        m, x, c = fig(read_audio(Path(wav), RATE)); line += f" | {m:5.0f} Hz ({100*m/c:4.1f} %) {x:4.1f}"
    print(line)
