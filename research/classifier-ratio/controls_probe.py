"""Where is the gap between the classifier's 0.919 on real held-out notes and its 0.638 on their
resynthesis? Each probe resynthesises the 210 held-out notes through the shipped model's
synthesiser with some of its controls replaced, and scores them with the evaluation's classifier
(`evaluate.real_note_classifier`, features `evaluate.classifier_features`: mean and standard
deviation over time of 20 MFCCs and the standard deviation of their frame-to-frame change).

First, which features the resynthesis gets wrong: the resynthesised notes' features with one
group replaced by the real notes' own (mean / std / change-std of the MFCCs).

Then the probes (all with the model's f0 and the note's loudness as in the evaluation):
- the model as evaluated (preset point, learned room);
- the note's own analysed harmonics with the model's noise, and the reverse;
- the harmonics of its nearest training neighbour (same instrument and velocity, nearest pitch,
  two semitones away): its per-frame harmonic distribution scaled to the note's own harmonic level,
  the same smoothed over 250 ms, and its time-averaged distribution held for the whole note;
- the model's harmonics with the neighbour's fast fluctuation (what a 250 ms smoothing removes);
- the model's output scaled per frame so its loudness matches the note's exactly (two passes);
- the first control frame silenced (the note starts from zero, not from the 64 ms loudness window's level).

Session 6 figures (one thread, ~15 min):
  features replaced by the real ones: mean 0.657, std 0.710, change-std 0.729, std and change-std 0.871
  model as evaluated 0.638; own analysed harmonics + model noise 0.729; model harmonics + analysed
  noise 0.524; neighbour harmonics per frame 0.776, smoothed 250 ms 0.752, time-averaged 0.529;
  model + neighbour fluctuation 0.614; loudness matched (0.00 dB median error) 0.619; first frame
  silent 0.600.
So the held-out notes are predictable from the training notes (0.75-0.78 from a neighbour's
slow spectral course alone), fast fluctuation hardly matters, the loudness and the onset are not
it: the decoder misses the slow course of the harmonic distribution.

python3 experiments/controls_probe.py
"""
from pathlib import Path

import numpy as np
import torch

from timbred_train import dsp
from timbred_train.cache import load_or_build
from timbred_train.config import ModelConfig
from timbred_train.evaluate import classifier_features, real_note_classifier
from timbred_train.model import TimbreDDSP
from timbred_train.train import load_checkpoint

torch.set_num_threads(1)
cfg = ModelConfig()
notes = load_or_build(Path("data/default"), cfg)
sr = cfg.sample_rate
te, tr = notes.indices("test"), notes.indices("train")
clf = real_note_classifier(notes, sr)
y = notes.instrument[te]
ck = load_checkpoint(Path("runs/v2/checkpoint.pt"))
model = TimbreDDSP(ModelConfig.from_dict(ck["config"]))
model.load_state_dict(ck["model"])
model.eval()
means = model.prior_mu.detach()


def smooth(x: np.ndarray, w: int = 25) -> np.ndarray:
    """Moving average over frames (axis 0), edges padded."""
    pad = np.pad(x, ((w // 2, w - 1 - w // 2), (0, 0)), mode="edge")
    c = np.cumsum(np.concatenate([np.zeros((1, x.shape[1])), pad]), 0)
    return (c[w:] - c[:-w]) / w


def report(name: str, feats) -> None:
    p = clf.predict(np.stack(feats))
    per = " ".join(f"{n[:5]}={(p[y == k] == k).mean():.2f}" for k, n in enumerate(notes.instruments))
    print(f"{name}: {(p == y).mean():.3f}\n  {per}", flush=True)


real = np.stack([classifier_features(notes.audio[i], sr) for i in te])
probes: dict[str, list] = {k: [] for k in (
    "model as evaluated", "own analysed harmonics + model noise", "model harmonics + own analysed noise",
    "neighbour harmonics per frame", "neighbour harmonics smoothed 250 ms", "neighbour harmonics time-averaged",
    "model + neighbour fluctuation", "model, loudness matched", "model, first frame silent")}
for i in te:
    k = int(notes.instrument[i])
    f0 = torch.as_tensor(notes.f0_hz[i])[None]
    ld = torch.as_tensor(notes.loudness_db[i])[None]
    white = torch.rand(1, f0.shape[1] * cfg.hop, generator=torch.Generator().manual_seed(int(i))) * 2 - 1
    mask = dsp.harmonic_mask(f0, cfg.n_harmonics, cfg.band_limit_hz)
    with torch.no_grad():
        c = model.decoder.controls(model.decoder(f0, ld, means[k][None]), f0)
    mh, mn = c["harmonics"], c["noise"]
    ah = notes.harmonics[i].astype(np.float32)
    an = torch.as_tensor(notes.noise[i].astype(np.float32))[None]
    cand = [j for j in tr if notes.instrument[j] == k and notes.velocity[j] == notes.velocity[i]]
    j = min(cand, key=lambda j: (abs(int(notes.pitch[j]) - int(notes.pitch[i])), notes.pitch[j]))
    nh = notes.harmonics[j].astype(np.float32)
    level = ah.sum(1, keepdims=True)
    dist = nh / (nh.sum(1, keepdims=True) + 1e-9)
    smoothed = np.exp(smooth(np.log(dist + 1e-6)))
    smoothed /= smoothed.sum(1, keepdims=True)
    loud_j = notes.loudness_db[j] > notes.loudness_db[j].max() - 25
    averaged = np.repeat(dist[loud_j].mean(0, keepdims=True), len(ah), 0)
    fluct = np.log(nh + 1e-4) - smooth(np.log(nh + 1e-4))

    def t(a):
        return torch.as_tensor(np.asarray(a, np.float32))[None] * mask

    def run(h, n, reverb=True, key=None):
        with torch.no_grad():
            out = model.synthesize({"harmonics": h.float(), "noise": n.float()}, f0, white, reverb=reverb)
        if key:
            probes[key].append(classifier_features(out["audio"][0].numpy(), sr))
        return out

    run(mh, mn, key="model as evaluated")
    run(t(ah), mn, key="own analysed harmonics + model noise")
    run(mh, an, key="model harmonics + own analysed noise")
    run(t(dist * level), mn, key="neighbour harmonics per frame")
    run(t(smoothed * level), mn, key="neighbour harmonics smoothed 250 ms")
    run(t(averaged * level), mn, key="neighbour harmonics time-averaged")
    run(mh * torch.as_tensor(np.exp(np.clip(fluct, -3, 3)))[None], mn, key="model + neighbour fluctuation")
    h, n = mh, mn
    for _ in range(2):
        got = dsp.loudness_db(run(h, n)["dry"][0].numpy(), sr, cfg.frame_rate, f0.shape[1])
        g = torch.as_tensor(10 ** (np.clip(notes.loudness_db[i] - got, -30, 30) / 20), dtype=torch.float32)[None, :, None]
        h, n = h * g, n * g
    run(h, n, key="model, loudness matched")
    h, n = mh.clone(), mn.clone()
    h[:, 0], n[:, 0] = 0, 0
    run(h, n, key="model, first frame silent")

model_feats = np.stack(probes["model as evaluated"])
for name, sl in (("mean", slice(0, 20)), ("std", slice(20, 40)), ("change-std", slice(40, 60)),
                 ("std and change-std", slice(20, 60))):
    x = model_feats.copy()
    x[:, sl] = real[:, sl]
    report(f"model, {name} features replaced by the real note's", list(x))
for name, feats in probes.items():
    report(name, feats)
