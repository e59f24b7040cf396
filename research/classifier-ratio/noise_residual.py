"""Analysis-resynthesis with other noise-residual analyses (window, length, bins excluded around
each harmonic). Session 4: Hann 32 ms/2 bins (features.py until session 5) 0.729; Blackman-Harris 32 ms/4 0.767,
64 ms/4 0.776, 64 ms/6 0.805 (features.py since session 5), 64 ms/8 0.786, 128 ms/8 0.771."""
import numpy as np, torch, pickle, math
from pathlib import Path
from timbred_train.evaluate import load_exported, classifier_features
from timbred_train.cache import load_or_build
from scipy.signal import get_window
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
torch.set_num_threads(1)
model, env, meta = load_exported(Path('../models/default.safetensors'))
cfg=model.cfg; sr=cfg.sample_rate; hop=cfg.hop
notes=load_or_build(Path('data/default'), cfg)
tr=notes.indices('train'); te=notes.indices('test'); y=notes.instrument[te]
clf=make_pipeline(StandardScaler(),LogisticRegression(max_iter=3000,C=0.5)).fit(np.stack([classifier_features(notes.audio[i],sr) for i in tr]),notes.instrument[tr])
def noise_an(audio,f0_hz,win_s,wname,excl):
    n_fft=int(round(win_s*sr)); n_fft+=n_fft%2; n_frames=len(f0_hz)
    win=torch.as_tensor(get_window(wname,n_fft,fftbins=True).astype(np.float32))
    spec=torch.stft(torch.as_tensor(audio)[None],n_fft,hop_length=hop,window=win,center=True,pad_mode='constant',return_complex=True)[0]
    power=spec.abs().pow(2).numpy().T[:n_frames]
    bin_hz=sr/n_fft; freqs=np.arange(n_fft//2+1)*bin_hz
    ratio=freqs[None,:]/f0_hz[:,None]; near=np.abs(ratio-np.round(ratio))*f0_hz[:,None]/bin_hz
    keep=(near>excl)&(np.round(ratio)>=1)|(ratio<0.5)
    spacing=cfg.band_limit_hz/(cfg.n_noise_bands-1); bob=np.round(freqs/spacing).astype(int)
    mags=np.zeros((n_frames,cfg.n_noise_bands),np.float32); calib=float((win.double()**2).sum())/3.0
    last=np.zeros(n_frames)
    for b in range(cfg.n_noise_bands):
        sel=bob==b; kb=keep[:,sel]; pb=power[:,sel]; cnt=kb.sum(1); ok=cnt>=1
        mp=np.where(ok,(pb*kb).sum(1)/np.maximum(cnt,1),0.0)
        mags[:,b]=np.sqrt(mp/calib)
    return mags
variants=[('hann',0.032,2.0),('blackmanharris',0.032,4.0),('blackmanharris',0.064,4.0),('blackmanharris',0.064,6.0),('blackmanharris',0.064,8.0),('blackmanharris',0.128,8.0)]
for wname,ws,ex in variants:
    F=[]
    for i in te:
        f0=torch.as_tensor(notes.f0_hz[i])[None]
        nz=noise_an(notes.audio[i],notes.f0_hz[i],ws,wname,ex)
        c={'harmonics':torch.as_tensor(notes.harmonics[i].astype(np.float32))[None],'noise':torch.as_tensor(nz)[None]}
        g=torch.Generator().manual_seed(int(i)); white=torch.rand(1,f0.shape[1]*hop,generator=g)*2-1
        with torch.no_grad(): F.append(classifier_features(model.synthesize(c,f0,white,reverb=False)['audio'][0].numpy(),sr))
    p=clf.predict(np.stack(F))
    per={nm:(p[y==k]==k).mean() for k,nm in enumerate(notes.instruments)}
    print(wname,ws,ex,'acc %.3f'%(p==y).mean(),'trumpet %.2f epiano %.2f piano %.2f organ %.2f'%(per['trumpet'],per['electric_piano'],per['piano'],per['church_organ']),flush=True)
