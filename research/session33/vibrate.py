"""The vibrato's rate and depth second by second in a rendered A4 (a morph's WAV, as `playing`
writes it): the fundamental every 10 ms, up-crossings of its swing.  python3 vibrate.py WAV

Session 33, piano -> violin: before the phase was summed frame by frame the swing ran at 8.6 Hz in
the turn's third second and 12.9 Hz in its fourth (the violin's 5.7 Hz plus the time since the
note-on times the rate's change); now 4.3 and 5.7 Hz."""
import sys
import numpy as np
from timbred_train import playing
ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]
__import__("pathlib").Path("/tmp/session33").mkdir(exist_ok=True)
x=playing.read_audio(sys.argv[1], playing.RATE); R=playing.RATE; n=4096
cents=[]
for s in range(0, 7*R-n, 480):
    seg=x[s:s+n]*np.hanning(n); P=np.abs(np.fft.rfft(seg, 4*n)); f=np.fft.rfftfreq(4*n,1/R)
    m=(f>440*0.94)&(f<440*1.06); k=np.argmax(P[m]); fm=f[m]; lp=np.log(P[m]+1e-20)
    if 0<k<len(fm)-1:
        a,b,c=lp[k-1],lp[k],lp[k+1]; d=0.5*(a-c)/(a-2*b+c); hz=fm[k]+d*(f[1]-f[0])
    else: hz=fm[k]
    cents.append(1200*np.log2(hz/440))
c=np.array(cents); t=np.arange(len(c))*0.01
for lo in range(1,7):
    m=(t>=lo)&(t<lo+1); seg=c[m]-np.convolve(c[m],np.ones(31)/31,mode="same"); seg=seg[15:-15]
    ups=np.sum((seg[:-1]<0)&(seg[1:]>=0))
    print(f"{lo}-{lo+1} s: {ups/ (len(seg)/100):.1f} Hz, swing {seg.std()*np.sqrt(2):.1f} cents")
