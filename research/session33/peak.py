"""Each of a note's first partials in the held part, FluidR3 beside the shipped model through
`timbred render`: its power (dB of the note's), its power-weighted frequency against k × the key
(cents) and its spread:  python3 peak.py NAME KEY HARMONICS   (e.g. violin 93 1,2,3)

Session 33: FluidR3's violin key 93 has its 2nd partial at +12.4 cents (spread 16.1), the engine's
at -10.4 (10.8): over the 4 kHz band's lower edge (3548 Hz, +13.7 cents) in FluidR3's, under it in
the engine's, the three-pitch band figure's -8.4 dB."""
import sys, subprocess
import numpy as np
from pathlib import Path
from timbred_train import playing
from timbred_train.dataset import FluidSynth
from timbred_train.config import DEFAULT_INSTRUMENTS
ROOT = Path(__file__).resolve().parents[2]
Path("/tmp/session33").mkdir(exist_ok=True)
prog={n:p for n,p,_,_ in DEFAULT_INSTRUMENTS}
inst=sys.argv[1]; key=int(sys.argv[2]); harmonics=[int(h) for h in sys.argv[3].split(",")]
fs=FluidSynth(Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"), playing.RATE)
r=fs.render_note(prog[inst], key, 100, playing.HOLD_S, playing.RELEASE_S)
wav=Path("/tmp/session33/pk.wav")
subprocess.run([str(ROOT / ".build/release/timbred"),"render","-o",str(wav),"--model",str(ROOT / "models/default.safetensors"),"--rate",str(playing.RATE),"--tail","0","--reverb","0","--note",str(key),"--seconds",str(playing.HOLD_S),"--preset",inst],check=True,capture_output=True,env={"TIMBRED_HOME":str(ROOT),"PATH":"/usr/bin:/bin"})
t=playing.read_audio(wav, playing.RATE)
f0=440*2**((key-69)/12)
for name,x in (("FluidR3",r),("timbred",t)):
    x=x[int(0.05*playing.RATE):int((playing.HOLD_S-0.1)*playing.RATE)]
    P=np.abs(np.fft.rfft(x*np.hanning(len(x))))**2; f=np.fft.rfftfreq(len(x),1/playing.RATE); tot=P.sum()
    out=[]
    for h in harmonics:
        m=(f>h*f0*0.97)&(f<h*f0*1.03)
        c=(P[m]*f[m]).sum()/P[m].sum()
        out.append(f"h{h}: {10*np.log10(P[m].sum()/tot):+.1f} dB at {1200*np.log2(c/(h*f0)):+.1f} c (spread {np.sqrt((P[m]*(1200*np.log2(f[m]/c))**2).sum()/P[m].sum()):.1f} c)")
    print(name, "; ".join(out))
