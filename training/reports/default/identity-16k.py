# Study (session 13), not part of the trainer: run from training/ as
#   python3 reports/default/identity-16k.py ../models/default.safetensors OTHER.safetensors
# (OTHER: e.g. `git show 18f294f:models/default.safetensors`, the 32 kHz model with the per-key onset).
# Identity from MIDI with one yardstick: a classifier on the 48 kHz real notes band-limited to
# 16 kHz (resampled to 32 kHz), judging each model's MIDI renders resampled to 32 kHz.
import sys, numpy as np, torch
from pathlib import Path
from scipy.signal import resample_poly
from timbred_train.export import load_exported
from timbred_train.cache import load_or_build
from timbred_train import evaluate as E
torch.set_num_threads(1)
def to32(x, sr): return x if sr == 32000 else resample_poly(x, 2, 3)
results = {}
for path in sys.argv[1:]:
    model, env, meta = load_exported(Path(path)); cfg = model.cfg
    data = Path('data/default48' if cfg.sample_rate == 48000 else 'data/default')
    results[path] = (model, env, meta, load_or_build(data, cfg))
# classifier on 48 kHz real training notes, at 32 kHz
m48 = [v for v in results.values() if v[0].cfg.sample_rate == 48000][0]
notes = m48[3]
idx = notes.indices("train")
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000, C=0.5))
clf.fit(np.stack([E.classifier_features(to32(notes.audio[i], 48000), 32000) for i in idx]), notes.instrument[idx])
test = notes.indices("test"); y = notes.instrument[test]
print("real held-out:", (clf.predict(np.stack([E.classifier_features(to32(notes.audio[i], 48000), 32000) for i in test])) == y).mean(), flush=True)
for path, (model, env, meta, n) in results.items():
    cfg = model.cfg; sr = cfg.sample_rate; means = model.prior_mu.detach().numpy()
    tone = E._tone_lookup(Path(path), model, meta); tr = E._transient_player(Path(path), model, env, meta)
    feats = []
    tt = n.indices("test")
    assert list(n.instrument[tt]) == list(y)
    for i in tt:
        inst = int(n.instrument[i]); hold = int(n.hold_frames[i])
        f0m, ldm = E.midi_controls(model, env, inst, int(n.pitch[i]), int(n.velocity[i]), hold / cfg.frame_rate, len(n.f0_hz[i]))
        ym = E.resynthesize(model, f0m, ldm, means[inst], seed=int(i), velocity=float(n.velocity[i]), hold_s=hold / cfg.frame_rate,
                            **tone(inst, float(n.pitch[i]), float(n.velocity[i])))
        if tr is not None:
            ym = ym + tr(inst, float(n.pitch[i]), float(n.velocity[i]), len(ym), room=True)
        feats.append(E.classifier_features(to32(ym, sr), 32000))
    p = clf.predict(np.stack(feats))
    print(path, "from MIDI (with transients):", round(float((p == y).mean()), 3), flush=True)
    for k, name in enumerate(n.instruments):
        sel = y == k
        print(f"  {name:15s} {(p[sel] == k).mean():.2f}")
