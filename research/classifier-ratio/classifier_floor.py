"""Classifier ratio for other log-mel floors (50-80 dB) and feature subsets. Session 4: the 80 dB
floor used by evaluate.py gives the highest ratio for the model (0.684); 50-70 dB 0.61-0.68."""
import numpy as np, torch
from pathlib import Path
from scipy.fft import dct
from timbred_train.evaluate import resynthesize, load_exported
from timbred_train.evaluate import classifier_log_mel
from timbred_train.cache import load_or_build
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
torch.set_num_threads(1)
model, env, meta = load_exported(Path('../models/default.safetensors'))
cfg=model.cfg; sr=cfg.sample_rate
notes=load_or_build(Path('data/default'), cfg)
tr=notes.indices('train'); te=notes.indices('test'); means=model.prior_mu.detach().numpy()
def lmel(a):
    return classifier_log_mel(a,sr)
def feats(lm0, floor, gate=25, parts='all'):
    lm=np.maximum(lm0,lm0.max()-floor)
    loud=lm.max(0)>lm.max()-gate
    lm=lm[:,loud] if loud.sum()>2 else lm
    c=dct(lm,type=2,axis=0,norm='ortho')[:20]; d=np.diff(c,axis=1)
    f={'mean':c.mean(1),'std':c.std(1),'dstd':d.std(1)}
    if parts=='all': return np.concatenate([f['mean'],f['std'],f['dstd']])
    return np.concatenate([f[p] for p in parts])
Ltr=[lmel(notes.audio[i]) for i in tr]
Lre=[lmel(notes.audio[i]) for i in te]
Lsy=[lmel(resynthesize(model,notes.f0_hz[i],notes.loudness_db[i],means[int(notes.instrument[i])],seed=int(i))) for i in te]
y=notes.instrument[te]
for floor in (50,60,70,80):
  for parts in ('all',('mean','std'),('mean',)):
    F=np.stack([feats(l,floor,parts=parts) for l in Ltr])
    clf=make_pipeline(StandardScaler(),LogisticRegression(max_iter=3000,C=0.5)).fit(F,notes.instrument[tr])
    ar=(clf.predict(np.stack([feats(l,floor,parts=parts) for l in Lre]))==y).mean()
    asy=(clf.predict(np.stack([feats(l,floor,parts=parts) for l in Lsy]))==y).mean()
    print(floor, parts, round(ar,3), round(asy,3), round(asy/ar,3), flush=True)
