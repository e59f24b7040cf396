"""Which training neighbour predicts a held-out note? Each held-out note resynthesised (shipped
model's noise and room, the note's f0) with the harmonic distribution of its training neighbour
below, above, the nearer of the two (ties go below), or the geometric mean of both, scaled to the
note's own analysed harmonic level; scored by the evaluation's classifier.

Session 7 figures (every held-out neighbour is two semitones away; a note at the top of its range
has none above, and takes the one below there, as `common.neighbours` does):
  nearest 0.776, below 0.776, above 0.667, geometric mean of both 0.738.
A SoundFont zone plays one sample upward from its root more often than downward, so the note
below shares the sample more often; blending two zones' courses is worse than taking either.

python3 experiments/neighbour_blend.py
"""
import numpy as np
import torch

from common import load_model, neighbours, report, setup, white_noise
from timbred_train import dsp
from timbred_train.evaluate import classifier_features

cfg, notes = setup()
te, tr = notes.indices("test"), notes.indices("train")
model = load_model("runs/v2/checkpoint.pt")
feats = {"nearest": [], "below": [], "above": [], "blend": []}
gaps = set()


def distribution(j: int) -> np.ndarray:
    h = notes.harmonics[j].astype(np.float32)
    return h / (h.sum(1, keepdims=True) + 1e-9)


for i in te:
    k, p = int(notes.instrument[i]), int(notes.pitch[i])
    f0 = torch.as_tensor(notes.f0_hz[i])[None]
    ld = torch.as_tensor(notes.loudness_db[i])[None]
    white = white_noise(i, f0.shape[1], cfg.hop)
    mask = dsp.harmonic_mask(f0, cfg.n_harmonics, cfg.band_limit_hz)
    with torch.no_grad():
        noise = model.decoder.controls(model.decoder(f0, ld, model.prior_mu[k][None]), f0)["noise"]
    near, jb, ja = neighbours(notes, i, tr)
    gaps.add((p - int(notes.pitch[jb]), int(notes.pitch[ja]) - p))
    level = notes.harmonics[i].astype(np.float32).sum(1, keepdims=True)
    blend = np.exp(0.5 * (np.log(distribution(jb) + 1e-6) + np.log(distribution(ja) + 1e-6)))
    blend /= blend.sum(1, keepdims=True)
    for key, dist in (("nearest", distribution(near)), ("below", distribution(jb)), ("above", distribution(ja)),
                      ("blend", blend)):
        h = torch.as_tensor((dist * level).astype(np.float32))[None] * mask
        with torch.no_grad():
            out = model.synthesize({"harmonics": h, "noise": noise}, f0, white)
        feats[key].append(classifier_features(out["audio"][0].numpy(), cfg.sample_rate))
print("pitch gaps (below, above):", sorted(gaps))
report(notes, te, feats)
