"""Which training neighbour predicts a held-out note? Each held-out note resynthesised (shipped
model's noise and room, the note's f0) with the harmonic distribution of its training neighbour
below, above, the nearer of the two (ties go below), or the geometric mean of both, scaled to the
note's own analysed harmonic level; scored by the evaluation's classifier.

Session 7 figures (every held-out note has its neighbours two semitones away):
  nearest 0.776, below 0.776, above 0.667, geometric mean of both 0.738.
A SoundFont zone plays one sample upward from its root more often than downward, so the note
below shares the sample more often; blending two zones' courses is worse than taking either.

python3 experiments/neighbour_blend.py
"""
from pathlib import Path
import numpy as np, torch
from timbred_train import dsp
from timbred_train.cache import load_or_build
from timbred_train.config import ModelConfig
from timbred_train.evaluate import classifier_features, real_note_classifier
from timbred_train.model import TimbreDDSP
from timbred_train.train import load_checkpoint
torch.set_num_threads(1)
cfg = ModelConfig(); notes = load_or_build(Path("data/default"), cfg); sr = cfg.sample_rate
te, tr = notes.indices("test"), notes.indices("train")
ck = load_checkpoint(Path("runs/v2/checkpoint.pt"))
model = TimbreDDSP(ModelConfig.from_dict(ck["config"])); model.load_state_dict(ck["model"]); model.eval()
means = model.prior_mu.detach()
feats = {"nearest": [], "below": [], "above": [], "blend": []}
gaps = []
for i in te:
    k = int(notes.instrument[i]); p = int(notes.pitch[i])
    f0 = torch.as_tensor(notes.f0_hz[i])[None]; ld = torch.as_tensor(notes.loudness_db[i])[None]
    white = torch.rand(1, f0.shape[1] * cfg.hop, generator=torch.Generator().manual_seed(int(i))) * 2 - 1
    mask = dsp.harmonic_mask(f0, cfg.n_harmonics, cfg.band_limit_hz)
    with torch.no_grad():
        mn = model.decoder.controls(model.decoder(f0, ld, means[k][None]), f0)["noise"]
    cand = [j for j in tr if notes.instrument[j] == k and notes.velocity[j] == notes.velocity[i]]
    near = min(cand, key=lambda j: (abs(int(notes.pitch[j]) - p), notes.pitch[j]))
    below = [j for j in cand if notes.pitch[j] < p]; above = [j for j in cand if notes.pitch[j] > p]
    jb = max(below, key=lambda j: notes.pitch[j]) if below else near
    ja = min(above, key=lambda j: notes.pitch[j]) if above else near
    gaps.append((p - int(notes.pitch[jb]), int(notes.pitch[ja]) - p))
    level = notes.harmonics[i].astype(np.float32).sum(1, keepdims=True)
    d = lambda j: notes.harmonics[j].astype(np.float32) / (notes.harmonics[j].astype(np.float32).sum(1, keepdims=True) + 1e-9)
    g = np.exp(0.5 * (np.log(d(jb) + 1e-6) + np.log(d(ja) + 1e-6))); g /= g.sum(1, keepdims=True)
    for key, dist in (("nearest", d(near)), ("below", d(jb)), ("above", d(ja)), ("blend", g)):
        h = torch.as_tensor((dist * level).astype(np.float32))[None] * mask
        with torch.no_grad():
            out = model.synthesize({"harmonics": h, "noise": mn}, f0, white)
        feats[key].append(classifier_features(out["audio"][0].numpy(), sr))
print("pitch gaps (below, above):", sorted(set(gaps))[:10])
clf = real_note_classifier(notes, sr); y = notes.instrument[te]
for key, f in feats.items():
    p = clf.predict(np.stack(f))
    print(f"{key}: {(p == y).mean():.3f}  " + " ".join(f"{n[:5]}={(p[y == k] == k).mean():.2f}" for k, n in enumerate(notes.instruments)), flush=True)
