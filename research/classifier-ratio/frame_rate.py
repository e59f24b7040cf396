"""Analysis-resynthesis at another control rate: `python3 experiments/frame_rate.py RATE MIN_WINDOW_S`.
Session 4: 100 0.032 -> 0.729; 250 0.016 -> 0.710."""
import numpy as np, torch, dataclasses, sys
from pathlib import Path
import timbred_train.features as fe
from timbred_train.evaluate import load_exported, classifier_features
from timbred_train.cache import load_or_build
from timbred_train import dsp
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
torch.set_num_threads(1)
model, env, meta = load_exported(Path('../models/default.safetensors'))
cfg=model.cfg; sr=cfg.sample_rate
notes=load_or_build(Path('data/default'), cfg)
tr=notes.indices('train'); te=notes.indices('test')
F=np.stack([classifier_features(notes.audio[i],sr) for i in tr])
clf=make_pipeline(StandardScaler(),LogisticRegression(max_iter=3000,C=0.5)).fit(F,notes.instrument[tr])
y=notes.instrument[te]
fr=int(sys.argv[1]); minwin=float(sys.argv[2])
c2=dataclasses.replace(cfg, frame_rate=fr)
def harm(audio,f0):
    hop=sr//fr; n=len(f0); period=sr/float(np.median(f0)); win=int(max(4*period, minwin*sr)); win+=win%2
    x=torch.as_tensor(np.pad(np.asarray(audio,np.float64),(win,win))); centres=torch.arange(n)*hop+win
    t=torch.arange(win,dtype=torch.float64)-win/2
    seg=x[(centres-win//2)[:,None]+torch.arange(win)[None,:]]; w=torch.hann_window(win,periodic=False,dtype=torch.float64); seg=seg*w
    theta=2*np.pi*torch.as_tensor(f0,dtype=torch.float64)[:,None]/sr*t[None,:]
    base=torch.polar(torch.ones_like(theta),-theta).to(torch.complex64); cur=base.clone(); segc=seg.to(torch.complex64)
    out=np.zeros((n,cfg.n_harmonics),np.float32); sc=2.0/w.sum()
    for k in range(cfg.n_harmonics):
        out[:,k]=((segc*cur).sum(1).abs()*sc).numpy(); cur=cur*base
    k=np.arange(1,cfg.n_harmonics+1); out[np.asarray(f0)[:,None]*k[None,:]>=sr/2]=0; return out
fe.NOISE_N_FFT_S=minwin
O=[];H=[]
for i in te:
    a=notes.audio[i]
    n=int(np.ceil(len(a)/(sr//fr)))
    # f0 upsampled from the 100 Hz track
    f0=np.interp(np.arange(n)/fr, np.arange(len(notes.f0_hz[i]))/cfg.frame_rate, notes.f0_hz[i]).astype(np.float32)
    h=harm(a,f0); nz,_=fe.analyse_noise(a,c2,f0)
    f0t=torch.as_tensor(f0)[None]
    g=torch.Generator().manual_seed(int(i)); white=torch.rand(1,n*(sr//fr),generator=g)*2-1
    with torch.no_grad():
        hs=dsp.harmonic_synth(f0t,torch.as_tensor(h)[None],fr,sr,n*(sr//fr))
        ns=dsp.filtered_noise(torch.as_tensor(nz)[None],white,fr,sr,sr/2)
    O.append(classifier_features((hs+ns)[0].numpy()[:len(a)],sr)); H.append(classifier_features(hs[0].numpy()[:len(a)],sr))
po=clf.predict(np.stack(O)); ph=clf.predict(np.stack(H))
print(fr, minwin, 'oracle h+n',(po==y).mean(),'harm only',(ph==y).mean())
for k,nm in enumerate(notes.instruments):
    m=y==k; print(f'{nm:15s} {(po[m]==k).mean():.2f} {(ph[m]==k).mean():.2f}')
