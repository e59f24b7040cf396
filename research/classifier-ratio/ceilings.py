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
import numpy as np
import torch
from scipy.signal import resample_poly

from common import load_model, neighbours, report, setup, white_noise
from timbred_train import dsp
from timbred_train.evaluate import analysis_resynthesis, classifier_features

cfg, notes = setup()
sr = cfg.sample_rate
te, tr = notes.indices("test"), notes.indices("train")
model = load_model("runs/v2/checkpoint.pt")
ir = model.ir().detach()
feats = {k: [] for k in ("own analysis, no room", "own analysis + room", "neighbour analysis, no room",
                         "neighbour analysis + room", "sampler (neighbour audio resampled)")}
for i in te:
    j = neighbours(notes, i, tr)[0]
    own = torch.as_tensor(analysis_resynthesis(model, notes, int(i)))[None]
    feats["own analysis, no room"].append(classifier_features(own[0].numpy(), sr))
    feats["own analysis + room"].append(classifier_features((own + dsp.fft_convolve(own, ir))[0].numpy(), sr))
    # the neighbour's analysed controls at the note's f0, scaled to the note's harmonic level
    f0 = torch.as_tensor(notes.f0_hz[i])[None]
    nh, nn_ = notes.harmonics[j].astype(np.float32), notes.noise[j].astype(np.float32)
    gain = notes.harmonics[i].astype(np.float32).sum(1, keepdims=True) / (nh.sum(1, keepdims=True) + 1e-9)
    controls = {"harmonics": torch.as_tensor(nh * gain)[None] * dsp.harmonic_mask(f0, cfg.n_harmonics, cfg.band_limit_hz),
                "noise": torch.as_tensor(nn_ * gain)[None]}
    with torch.no_grad():
        for room in (False, True):
            out = model.synthesize(controls, f0, white_noise(i, f0.shape[1], cfg.hop), reverb=room)
            feats[f"neighbour analysis{' + room' if room else ', no room'}"].append(
                classifier_features(out["audio"][0].numpy(), sr))
    # literal sampler: the neighbour's audio played faster or slower by the ratio of median f0s
    ratio = np.median(notes.f0_hz[i]) / np.median(notes.f0_hz[j])
    a = resample_poly(notes.audio[j], int(round(1000 / ratio)), 1000)[: len(notes.audio[i])]
    a = np.pad(a, (0, len(notes.audio[i]) - len(a)))
    rms = lambda x: np.sqrt(np.mean(x ** 2) + 1e-12)
    feats["sampler (neighbour audio resampled)"].append(
        classifier_features((a * rms(notes.audio[i]) / rms(a)).astype(np.float32), sr))
report(notes, te, feats)
