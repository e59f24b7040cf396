"""Harmonic-only analysis-resynthesis at exact multiples of f0 vs with partials stretched by a
per-note fitted coefficient B. Needs experiments/lmels.pkl (feature_groups.py).
Session 4: 0.657 both; harpsichord 0.40 -> 0.67."""
import numpy as np, torch, pickle
from pathlib import Path
from timbred_train.evaluate import load_exported
from timbred_train.evaluate import classifier_log_mel
from timbred_train.cache import load_or_build
from timbred_train import dsp
from scipy.fft import dct
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
torch.set_num_threads(1)
model, env, meta = load_exported(Path('../models/default.safetensors'))
cfg=model.cfg; sr=cfg.sample_rate; hop=cfg.hop; K=cfg.n_harmonics
notes=load_or_build(Path('data/default'), cfg)
tr=notes.indices('train'); te=notes.indices('test')
Ltr,Lre,Lor,Lsy=pickle.load(open('experiments/lmels.pkl','rb'))
def lmel(a):
    return classifier_log_mel(a,sr)
def feats(lm0):
    lm=np.maximum(lm0,lm0.max()-80); loud=lm.max(0)>lm.max()-25; lm=lm[:,loud] if loud.sum()>2 else lm
    c=dct(lm,type=2,axis=0,norm='ortho')[:20]; dd=np.diff(c,axis=1); return np.concatenate([c.mean(1),c.std(1),dd.std(1)])
clf=make_pipeline(StandardScaler(),LogisticRegression(max_iter=3000,C=0.5)).fit(np.stack([feats(l) for l in Ltr]),notes.instrument[tr])
def estimate_B(x,f0):
    n=16384; seg=x[:n]*np.hanning(n); S=np.abs(np.fft.rfft(seg,4*n)); fr=np.fft.rfftfreq(4*n,1/sr)
    k=np.arange(1,41); best=(0,-1)
    for B in np.concatenate([[0],np.geomspace(1e-6,3e-3,60)]):
        f=k*f0*np.sqrt(1+B*k*k); f=f[f<sr/2*0.95]
        v=np.log(np.interp(f,fr,S)+1e-9).sum()/len(k)
        if v>best[1]: best=(B,v)
    return best[0]
def harm_stretch(x,f0t,B):
    n=len(f0t); period=sr/np.median(f0t); win=int(max(4*period,0.032*sr)); win+=win%2
    xp=np.pad(x.astype(np.float64),(win,win)); centres=np.arange(n)*hop+win
    seg=xp[(centres-win//2)[:,None]+np.arange(win)[None,:]]*np.hanning(win)[None,:]
    t=np.arange(win)-win/2; out=np.zeros((n,K)); sc=2/np.hanning(win).sum()
    for k in range(1,K+1):
        fk=k*f0t*np.sqrt(1+B*k*k)
        ok=fk<sr/2
        ph=np.exp(-2j*np.pi*fk[:,None]/sr*t[None,:])
        out[:,k-1]=np.abs((seg*ph).sum(1))*sc*ok
    return out
def synth(f0t,amps,B):
    N=len(f0t)*hop; tf=np.arange(len(f0t))*hop; ts=np.arange(N)
    f0s=np.interp(ts,tf,f0t); y=np.zeros(N)
    for k in range(1,K+1):
        fk=k*f0s*np.sqrt(1+B*k*k); a=np.interp(ts,tf,amps[:,k-1]); a[fk>=sr/2]=0
        if a.max()==0: continue
        y+=a*np.sin(2*np.pi*np.cumsum(fk)/sr)
    return y
y=notes.instrument[te]; P0=[];P1=[];Bs=[]
for j,i in enumerate(te):
    x=notes.audio[i].astype(np.float64); f0t=notes.f0_hz[i].astype(np.float64)
    B=estimate_B(x,np.median(f0t[5:50])); Bs.append(B)
    a0=notes.harmonics[i].astype(np.float64); a1=harm_stretch(x,f0t,B)
    P0.append(feats(lmel(synth(f0t,a0,0.0)))); P1.append(feats(lmel(synth(f0t,a1,B))))
p0=clf.predict(np.stack(P0)); p1=clf.predict(np.stack(P1)); Bs=np.array(Bs)
print('harm-only exact %.3f stretched %.3f'%((p0==y).mean(),(p1==y).mean()))
for k,nm in enumerate(notes.instruments):
    m=y==k; print('%-15s exact %.2f stretched %.2f  median B %.2e'%(nm,(p0[m]==k).mean(),(p1[m]==k).mean(),np.median(Bs[m])))
