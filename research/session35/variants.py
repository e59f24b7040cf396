"""Analysis-resynthesis of the held-out notes with its parts changed, classified as `ana.py` (run
first; it saves the classifier in $WORK) classifies:

    python3 variants.py        # from training/, 8 min

Session 35: as `evaluate` 0.797; the harmonics alone 0.682; the noise at half its level 0.811; the
harmonic amplitudes smoothed over three frames 0.785."""
import os, pickle, time
from pathlib import Path
import numpy as np, torch
from timbred_train.evaluate import classifier_features
from timbred_train.export import load_exported
from timbred_train.cache import load_or_build
WORK = os.environ.get("WORK", "/tmp/session35")
torch.set_num_threads(1)
model, env, meta = load_exported(Path("../models/default.safetensors")); cfg = model.cfg
notes = load_or_build(Path("data/default48"), cfg); sr = cfg.sample_rate
clf = pickle.load(open(WORK + "/clf.pkl", "rb"))


def parts(i, harm_fn=lambda h: h):
    f0 = torch.as_tensor(notes.f0_hz[i])[None]
    h = torch.as_tensor(harm_fn(notes.harmonics[i]).astype(np.float32))[None]
    nz = torch.as_tensor(notes.noise[i].astype(np.float32))[None]
    g = torch.Generator().manual_seed(int(i)); white = torch.rand(1, f0.shape[1] * cfg.hop, generator=g) * 2 - 1
    with torch.no_grad():
        out = model.synthesize({"harmonics": h, "noise": nz}, f0, white, reverb=False)
    return out["harmonic"][0].numpy(), out["noise"][0].numpy()


def smooth(h, k=3):
    p = np.pad(h, ((k // 2, k // 2), (0, 0)), mode="edge")
    return np.mean([p[j:j + len(h)] for j in range(k)], 0)


V = {"as evaluate": [], "harmonics alone": [], "noise at half": [], "harmonics smoothed over 3 frames": []}
y, t0 = [], time.time()
for i in notes.indices("test"):
    i = int(i); y.append(int(notes.instrument[i]))
    h, n = parts(i)
    V["as evaluate"].append(classifier_features(h + n, sr))
    V["harmonics alone"].append(classifier_features(h, sr))
    V["noise at half"].append(classifier_features(h + 0.5 * n, sr))
    V["harmonics smoothed over 3 frames"].append(classifier_features(parts(i, smooth)[0] + n, sr))
y = np.array(y)
for k, f in V.items():
    print(f"{k:34s} {float((clf.predict(np.stack(f)) == y).mean()):.3f}")
print(f"{time.time() - t0:.0f} s")
