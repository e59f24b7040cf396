"""The spectral peaks (20 Hz smoothing) between two frequencies in a held note, FluidR3 beside the
shipped model, dB of the note's power:  python3 partials.py NAME KEY LOW_HZ HIGH_HZ

Session 33, piano 37 between 5.5 and 9 kHz: the engine's partial at 7151 Hz reads -35 dB, FluidR3's
nearest (7167 Hz) -55; FluidR3 has a fixed spike at 6144 Hz (-37 dB, 88.6 x f0) that the decoder
plays as partial 88, which the stretch moves to 7151 Hz: the ladder's piano +4.1 dB at 8 kHz."""
import sys, subprocess
import numpy as np
from pathlib import Path
from scipy.signal import find_peaks
from timbred_train import playing
from timbred_train.dataset import FluidSynth
from timbred_train.config import DEFAULT_INSTRUMENTS
ROOT = Path(__file__).resolve().parents[2]
Path("/tmp/session33").mkdir(exist_ok=True)
prog={n:p for n,p,_,_ in DEFAULT_INSTRUMENTS}
inst=sys.argv[1]; key=int(sys.argv[2]); lo,hi=float(sys.argv[3]),float(sys.argv[4])
fs=FluidSynth(Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"), playing.RATE)
r=fs.render_note(prog[inst], key, 100, playing.HOLD_S, playing.RELEASE_S)
wav=Path("/tmp/session33/sp.wav")
subprocess.run([str(ROOT / ".build/release/timbred"),"render","-o",str(wav),"--model",sys.argv[5] if len(sys.argv)>5 else str(ROOT / "models/default.safetensors"),"--rate",str(playing.RATE),"--tail","0","--reverb","0","--note",str(key),"--seconds",str(playing.HOLD_S),"--preset",inst],check=True,capture_output=True,env={"TIMBRED_HOME":str(ROOT),"PATH":"/usr/bin:/bin"})
t=playing.read_audio(wav, playing.RATE)
for name,x in (("FluidR3",r),("timbred",t)):
    x=x[int(0.05*playing.RATE):int((playing.HOLD_S-0.1)*playing.RATE)]
    P=np.abs(np.fft.rfft(x*np.hanning(len(x))))**2; f=np.fft.rfftfreq(len(x),1/playing.RATE); tot=P.sum()
    # smooth into 20 Hz bins
    w=int(20/(f[1]-f[0])); S=np.convolve(P,np.ones(w),mode="same")
    m=(f>=lo)&(f<hi); pk,_=find_peaks(S[m],distance=int(40/(f[1]-f[0])))
    print(name, " ".join(f"{f[m][i]:.0f}:{10*np.log10(S[m][i]/tot):+.0f}" for i in pk if 10*np.log10(S[m][i]/tot)>-90))
