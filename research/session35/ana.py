"""Analysis-resynthesis (each held-out note's own analysis through the synthesiser, as `evaluate`
scores it) classified on the held-out notes, and every note it names wrongly; saves the features
and the classifier for `stretch_ana.py` in $WORK (default /tmp/session35):

    python3 ana.py        # from training/, 4 min

Session 35: real 0.946, analysis 0.797 (0.842x); the misses come a key at a time (all five
velocities of piano 27 and 99, electric piano 94, harpsichord 35, cello 66, organ 54, oboe 88 ...).
Their features differ most in the frame-to-frame change of the MFCCs (mean |difference| per group
0.18 / 0.34 / 0.42 standard units; the change's c1 +0.66, c3 +0.61: analysis-resynthesis moves
more from frame to frame than the real notes)."""
import os, sys, numpy as np, torch, collections, time
from pathlib import Path
from timbred_train.evaluate import real_note_classifier, classifier_features, analysis_resynthesis
from timbred_train.export import load_exported
from timbred_train.cache import load_or_build
torch.set_num_threads(1)
model, env, meta = load_exported(Path("../models/default.safetensors"))
cfg = model.cfg
notes = load_or_build(Path("data/default48"), cfg)
sr = cfg.sample_rate
t0=time.time()
clf = real_note_classifier(notes, sr); print("clf", time.time()-t0, flush=True)
test = notes.indices("test")
import pickle
WORK = os.environ.get("WORK", "/tmp/session35"); os.makedirs(WORK, exist_ok=True)
rows=[]
for i in test:
    x = notes.audio[i]; ya = analysis_resynthesis(model, notes, int(i))
    rows.append((int(i), int(notes.instrument[i]), int(notes.pitch[i]), int(notes.velocity[i]), classifier_features(x, sr), classifier_features(ya, sr)))
pickle.dump(rows, open(WORK + "/ana_rows.pkl","wb")); pickle.dump(clf, open(WORK + "/clf.pkl","wb"))
y = np.array([r[1] for r in rows]); pr = clf.predict(np.stack([r[4] for r in rows])); pa = clf.predict(np.stack([r[5] for r in rows]))
print("real", (pr==y).mean(), "analysis", (pa==y).mean(), "ratio", (pa==y).mean()/(pr==y).mean())
names = notes.instruments
for r, p, q in zip(rows, pr, pa):
    if q != r[1]: print(f"{names[r[1]]:14s} {r[2]:3d} v{r[3]:3d} real->{names[p]:14s} analysis->{names[q]}")
# which features differ most, analysis-resynthesis minus real, in the classifier's standard units
# (groups of 20: MFCC means, their standard deviations, the standard deviations of their frame-to-frame change)
scaler = clf.named_steps["standardscaler"]
D = scaler.transform(np.stack([r[5] for r in rows])) - scaler.transform(np.stack([r[4] for r in rows]))
print("mean |difference| per group (mean, std, change):", np.round([np.abs(D[:, g * 20:(g + 1) * 20]).mean() for g in range(3)], 2))
print("mean difference of the change's std, c0 … c5:", np.round(D[:, 40:46].mean(0), 2))
