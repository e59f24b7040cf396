"""How far a held note's partials move around their course (each partial's level against the
note's, 0.3-1.5 s, less a parabola; std, dB), FluidR3 beside models played through `timbred render`:
python3 wobble.py NAME KEYS VELOCITY MODEL[,MODEL...]

Session 33: FluidR3's vibraphone holds its modes within 0.00-0.01 dB (keys 59, 69, 71, 83 at 80);
the shipped model moved its 4th partial by 0.6-0.8 dB, held still 0.26-0.6 (the decoder's course)."""
import sys, subprocess
import numpy as np
from pathlib import Path
from timbred_train import playing
from timbred_train.dataset import FluidSynth
from timbred_train.config import DEFAULT_INSTRUMENTS
import mido
ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]
__import__("pathlib").Path("/tmp/session33").mkdir(exist_ok=True)
prog={n:p for n,p,_,_ in DEFAULT_INSTRUMENTS}
inst=sys.argv[1]; keys=[int(k) for k in sys.argv[2].split(",")]; vel=int(sys.argv[3]); models=sys.argv[4].split(",")
R=48000; fs=FluidSynth(Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"), R)
def partial_wobble(x,f0,t0,t1,ks=(1,2,3,4,5,6,8,10)):
    n=2048; hop=480; out=[]
    frames=range(int(t0*R),int(t1*R)-n,hop)
    L=[]
    for s in frames:
        P=np.abs(np.fft.rfft(x[s:s+n]*np.hanning(n)))**2; f=np.fft.rfftfreq(n,1/R)
        row=[]
        for k in ks:
            w=max(0.03*k*f0,1.6*R/n); m=(f>k*f0-w)&(f<k*f0+w)
            row.append(10*np.log10(P[m].sum()+1e-20))
        L.append(row)
    L=np.array(L); tot=10*np.log10(np.sum(10**(L/10),1))
    res=[]
    for j in range(L.shape[1]):
        y=L[:,j]-tot; tt=np.arange(len(y)); c=np.polyfit(tt,y,2); r=y-np.polyval(c,tt)
        if L[:,j].max()>L.max()-50: res.append(r.std())
        else: res.append(np.nan)
    return np.array(res)
for k in keys:
    f0=440*2**((k-69)/12)
    r=fs.render_note(prog[inst],k,vel,2.0,0.3)
    line=f"{k}: FluidR3 "+" ".join(f"{v:.2f}" for v in partial_wobble(r,f0,0.3,1.5))
    for mdl in models:
        m=mido.MidiFile(ticks_per_beat=480); tr=mido.MidiTrack(); m.tracks.append(tr); tr.append(mido.MetaMessage("set_tempo",tempo=500000,time=0))
        tr.append(mido.Message("note_on",note=k,velocity=vel,time=0)); tr.append(mido.Message("note_off",note=k,velocity=0,time=1920)); m.save("/tmp/session33/wb.mid")
        subprocess.run([str(ROOT / ".build/release/timbred"),"render","-o","/tmp/session33/wb.wav","--model",mdl,"--rate",str(R),"--tail","0.3","--reverb","0","/tmp/session33/wb.mid","--preset",inst],check=True,capture_output=True,env={"TIMBRED_HOME":str(ROOT),"PATH":"/usr/bin:/bin"})
        t=playing.read_audio(Path("/tmp/session33/wb.wav"),R)
        line+=f" | {Path(mdl).stem[:10]} "+" ".join(f"{v:.2f}" for v in partial_wobble(t,f0,0.3,1.5))
    print(line)
