"""How much room do the held-out notes want? The shipped model's resynthesis and each note's own
analysis-resynthesis with the shipped room's impulse response scaled by a gain, scored by the
evaluation's classifier (real notes 0.919).

Session 7 figures (IR energy -6.2 dB re the direct sound):
  room gain        0 dB   -6 dB  -12 dB  -20 dB  none
  shipped model    0.638  0.638  0.571   0.548   0.514
  own analysis     0.624    -    0.748   0.795   0.805
(0 dB and "none" from ceilings.py and TRAINING.md.) Controls as good as the analysis want the
notes dry, as the dataset is; the shipped decoder, trained through this room for 9 000 steps,
leans on it.

python3 experiments/room_level.py
"""
import numpy as np
import torch

from common import ir_energy_db, load_model, report, setup, white_noise
from timbred_train import dsp
from timbred_train.evaluate import analysis_resynthesis, classifier_features

cfg, notes = setup()
sr = cfg.sample_rate
te = notes.indices("test")
model = load_model("runs/v2/checkpoint.pt")
ir = model.ir().detach()
print(f"IR energy re direct: {ir_energy_db(model):.1f} dB")
model_gains, analysis_gains = (-6, -12, -20), (-12, -20)
feats = {f"model room {g} dB": [] for g in model_gains}
feats.update({f"own analysis room {g} dB": [] for g in analysis_gains})
for i in te:
    k = int(notes.instrument[i])
    f0 = torch.as_tensor(notes.f0_hz[i])[None]
    ld = torch.as_tensor(notes.loudness_db[i])[None]
    with torch.no_grad():
        c = model.decoder.controls(model.decoder(f0, ld, model.prior_mu[k][None]), f0)
        dry = model.synthesize(c, f0, white_noise(i, f0.shape[1], cfg.hop), reverb=False)["audio"]
    own = torch.as_tensor(analysis_resynthesis(model, notes, int(i)))[None]
    for name, x, gains in (("model", dry, model_gains), ("own analysis", own, analysis_gains)):
        wet = dsp.fft_convolve(x, ir)
        for g in gains:
            feats[f"{name} room {g} dB"].append(classifier_features((x + wet * 10 ** (g / 20))[0].numpy(), sr))
report(notes, te, feats)
