"""Classifier accuracy per feature group (MFCC mean / std over time / frame-to-frame change) on real,
analysis-resynthesised and model-resynthesised held-out notes. Writes experiments/lmels.pkl,
which inharmonicity.py reads. Session 4: mean 0.762/0.681/0.652, std 0.624/0.438/0.243,
change 0.386/0.200/0.162, all 0.919/0.729/0.629 (model at step 22 500)."""
import numpy as np, torch
from pathlib import Path
from scipy.fft import dct
from timbred_train.evaluate import load_exported, resynthesize
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
def feats(lm0, parts):
    lm=np.maximum(lm0,lm0.max()-80); loud=lm.max(0)>lm.max()-25; lm=lm[:,loud] if loud.sum()>2 else lm
    c=dct(lm,type=2,axis=0,norm='ortho')[:20]; d=np.diff(c,axis=1)
    f={'mean':c.mean(1),'std':c.std(1),'dstd':d.std(1)}
    return np.concatenate([f[p] for p in parts])
Ltr=[lmel(notes.audio[i]) for i in tr]; Lre=[lmel(notes.audio[i]) for i in te]
Lor=[];Lsy=[]
for i in te:
    f0=torch.as_tensor(notes.f0_hz[i])[None]
    c={'harmonics':torch.as_tensor(notes.harmonics[i].astype(np.float32))[None],'noise':torch.as_tensor(notes.noise[i].astype(np.float32))[None]}
    g=torch.Generator().manual_seed(int(i)); white=torch.rand(1,f0.shape[1]*cfg.hop,generator=g)*2-1
    with torch.no_grad(): Lor.append(lmel(model.synthesize(c,f0,white,reverb=False)['audio'][0].numpy()))
    Lsy.append(lmel(resynthesize(model,notes.f0_hz[i],notes.loudness_db[i],means[int(notes.instrument[i])],seed=int(i))))
import pickle; pickle.dump((Ltr,Lre,Lor,Lsy),open('experiments/lmels.pkl','wb'))
y=notes.instrument[te]
for parts in (('mean',),('std',),('dstd',),('mean','std'),('mean','dstd'),('mean','std','dstd')):
    F=np.stack([feats(l,parts) for l in Ltr])
    clf=make_pipeline(StandardScaler(),LogisticRegression(max_iter=3000,C=0.5)).fit(F,notes.instrument[tr])
    r=[(clf.predict(np.stack([feats(l,parts) for l in L]))==y).mean() for L in (Lre,Lor,Lsy)]
    print(parts, 'real %.3f oracle %.3f model %.3f'%tuple(r), flush=True)
