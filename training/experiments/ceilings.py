"""Ceilings: each held-out note resynthesised from its own analysed controls (harmonic amplitudes
and noise bands) and from its nearest training neighbour's (scaled to the note's harmonic level),
through the synthesiser without and with the shipped model's room; and a literal sampler, the
neighbour's real audio resampled to the note's median f0 and level. Scored by the evaluation's
classifier (real notes 0.919; the shipped model 0.638).

Session 7 figures:
  own analysis, no room 0.805; own analysis + room 0.624
  neighbour analysis, no room 0.805; neighbour analysis + room 0.700
  sampler (neighbour audio resampled) 0.910
The training notes hold what the classifier needs (a sampler of them reaches the real notes'
accuracy). Through the synthesiser, controls as good as the note's own analysis reach 0.805 dry,
and the shipped room (IR energy -6.2 dB re the direct sound; its level never left its initial
-45 dB, see train.make_optimizer) takes 0.18 of that away.

python3 experiments/ceilings.py
"""
from pathlib import Path
import numpy as np, torch
from scipy.signal import resample_poly
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
keys = ["own analysis, no room", "own analysis + room", "neighbour analysis, no room", "neighbour analysis + room", "sampler (neighbour audio resampled)"]
feats = {k: [] for k in keys}
for i in te:
    k = int(notes.instrument[i]); p = int(notes.pitch[i])
    f0 = torch.as_tensor(notes.f0_hz[i])[None]
    white = torch.rand(1, f0.shape[1] * cfg.hop, generator=torch.Generator().manual_seed(int(i))) * 2 - 1
    mask = dsp.harmonic_mask(f0, cfg.n_harmonics, cfg.band_limit_hz)
    cand = [j for j in tr if notes.instrument[j] == k and notes.velocity[j] == notes.velocity[i]]
    j = min(cand, key=lambda j: (abs(int(notes.pitch[j]) - p), notes.pitch[j]))
    ah, an = notes.harmonics[i].astype(np.float32), notes.noise[i].astype(np.float32)
    nh, nn_ = notes.harmonics[j].astype(np.float32), notes.noise[j].astype(np.float32)
    gain = ah.sum(1, keepdims=True) / (nh.sum(1, keepdims=True) + 1e-9)
    T = lambda a: torch.as_tensor(np.asarray(a, np.float32))[None]
    with torch.no_grad():
        for key, h, n, room in (("own analysis, no room", ah, an, False), ("own analysis + room", ah, an, True),
                                ("neighbour analysis, no room", nh * gain, nn_ * gain, False),
                                ("neighbour analysis + room", nh * gain, nn_ * gain, True)):
            out = model.synthesize({"harmonics": T(h) * mask, "noise": T(n)}, f0, white, reverb=room)
            feats[key].append(classifier_features(out["audio"][0].numpy(), sr))
    # literal sampler: neighbour's audio played faster/slower by the ratio of median f0s
    ratio = np.median(notes.f0_hz[i]) / np.median(notes.f0_hz[j])
    up, down = int(round(1000 / ratio)), 1000
    a = resample_poly(notes.audio[j], up, down)[: len(notes.audio[i])]
    a = np.pad(a, (0, len(notes.audio[i]) - len(a)))
    rms = lambda x: np.sqrt(np.mean(x ** 2) + 1e-12)
    feats["sampler (neighbour audio resampled)"].append(classifier_features((a * rms(notes.audio[i]) / rms(a)).astype(np.float32), sr))
clf = real_note_classifier(notes, sr); y = notes.instrument[te]
for key, f in feats.items():
    pr = clf.predict(np.stack(f))
    print(f"{key}: {(pr == y).mean():.3f}  " + " ".join(f"{n[:5]}={(pr[y == c] == c).mean():.2f}" for c, n in enumerate(notes.instruments)), flush=True)
