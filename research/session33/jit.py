"""How much a morph's brightness swings around its own 250 ms trend, second by second over the
turn, beside A and B held alone (the magnitude centroid every 10 ms; MODEL=file to play another
model):  python3 jit.py BINARY A:B [PITCH]

Session 33, flute -> trumpet at A4: 34-36 Hz rms at 3-4 s of the turn against 18-20 Hz for
either instrument alone; without the vibrato lock 28, without the vibrato 23, without any partial
motion 21 (every part of the held motion adds to it; none alone brings the largest step to 2x)."""
import sys, subprocess
from pathlib import Path
import numpy as np
from timbred_train import playing
from timbred_train.evaluate import spectral_centroid_hz
ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]
__import__("pathlib").Path("/tmp/session33").mkdir(exist_ok=True)
binary=sys.argv[1]; a,b=sys.argv[2].split(":"); pitch=int(sys.argv[3]) if len(sys.argv)>3 else 69
root=ROOT; work=Path("/tmp/session33"); work.mkdir(exist_ok=True)
r=playing.morph_figures(Path(binary), Path(__import__("os").environ.get("MODEL", str(ROOT / "models/default.safetensors"))), root/"presets", a, b, work, pitch=pitch)
def jit(x, lo, hi):
    c=spectral_centroid_hz(x, playing.RATE, n_fft=4096, hop=playing.RATE//100)
    seg=c[int(lo*100):int(hi*100)]
    res=(seg-np.convolve(seg,np.ones(25)/25,mode="same"))[15:-15]
    return res.std(), seg.mean()
def render(name, preset):
    wav=work/f"{name}.wav"
    subprocess.run([binary,"render","-o",str(wav),"--model",str(Path(__import__("os").environ.get("MODEL", str(ROOT / "models/default.safetensors")))),"--rate",str(playing.RATE),"--tail","0","--reverb","0","--note",str(pitch),"--seconds","7","--preset",preset],check=True,capture_output=True,env={"TIMBRED_HOME":str(root),"PATH":"/usr/bin:/bin"})
    return playing.read_audio(wav, playing.RATE)
xa=render("a-alone",a); xb=render("b-alone",b)
m=playing.read_audio(work/f"morph-{a}-{b}.wav", playing.RATE)
print(f"{a}->{b} @{pitch} rho {r['rho']:.3f} step {r['max_step_over_mean']:.2f}")
for lo in range(1,6):
    print(f"  {lo}-{lo+1}s: morph {jit(m,lo,lo+1)[0]:5.1f} Hz rms (mean {jit(m,lo,lo+1)[1]:.0f})  A alone {jit(xa,lo,lo+1)[0]:5.1f}  B alone {jit(xb,lo,lo+1)[0]:5.1f}")
