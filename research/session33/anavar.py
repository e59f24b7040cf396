"""Analysis-resynthesis with its controls smoothed over frames (harmonics over HK, noise over NK
frames): the report's classifier on the held-out notes. Run from training/:  python3 anavar.py

Session 33: as analysed 0.797; noise over 5 frames 0.814, over 15 0.811; harmonics over 3 frames
0.785 (cello 0.53 -> 0.33). The misheard notes go by whole pitches (cello 66, trumpet 84, oboe 88,
vibraphone 83 at every velocity): issue 15's 0.92x (0.870) is not within reach of smoothing."""
import sys, time
import numpy as np, torch
from pathlib import Path
from scipy.ndimage import uniform_filter1d
from timbred_train.evaluate import real_note_classifier, classifier_features
from timbred_train.export import load_exported
from timbred_train.cache import load_or_build
ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]
__import__("pathlib").Path("/tmp/session33").mkdir(exist_ok=True)
torch.set_num_threads(1)
t0=time.time()
model, env, meta = load_exported(Path(str(ROOT / "models/default.safetensors")))
cfg=model.cfg
notes=load_or_build(Path("data/default48"), cfg)
clf=real_note_classifier(notes, cfg.sample_rate)
test=notes.indices("test"); y=notes.instrument[test]
print("loaded", time.time()-t0, flush=True)
def synth(i, hk, nk):
    f0=torch.as_tensor(notes.f0_hz[i])[None]
    h=notes.harmonics[i].astype(np.float32); n=notes.noise[i].astype(np.float32)
    if hk>1: h=uniform_filter1d(h, hk, axis=0, mode="nearest")
    if nk>1: n=uniform_filter1d(n, nk, axis=0, mode="nearest")
    g=torch.Generator().manual_seed(int(i)); white=torch.rand(1,f0.shape[1]*cfg.hop,generator=g)*2-1
    with torch.no_grad(): return model.synthesize({"harmonics":torch.as_tensor(h)[None],"noise":torch.as_tensor(n)[None]},f0,white,reverb=False)["audio"][0].numpy()
print("harmonics shape", notes.harmonics[test[0]].shape, "noise", notes.noise[test[0]].shape, "min noise", notes.noise[test[0]].min())
for hk,nk in [(1,1),(1,5),(3,1),(3,5),(1,15)]:
    F=np.stack([classifier_features(synth(i,hk,nk), cfg.sample_rate) for i in test]); p=clf.predict(F)
    per={notes.instruments[k]: float((p[y==k]==k).mean()) for k in np.unique(y)}
    print(f"harm {hk} noise {nk}: acc {(p==y).mean():.3f}  "+" ".join(f"{a[:5]}:{b:.2f}" for a,b in per.items()), flush=True)
