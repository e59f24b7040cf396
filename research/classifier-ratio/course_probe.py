"""Can a frame-wise network learn each instrument's slow spectral course, if it is told the time?

Session 6 found that a held-out note's nearest training neighbour's harmonic distribution scores
0.776 with the evaluation's classifier (0.752 smoothed over 250 ms), the shipped decoder 0.638, and
that the decoder's smoothed-distribution error is twice a neighbour's (0.555 against 0.283 held-out).
A SoundFont plays one sample across a zone of keys, so a note's spectral course is that sample's,
read at a pitch-dependent speed: it is a function of (instrument, pitch, velocity, time since
note-on, time since note-off), which a recurrent decoder fed only f0, loudness and z must infer.

This probe fits exactly that function with a plain MLP, no recurrence, on every training frame:
inputs z (the shipped model's component mean of the instrument, so presets and morphs keep
working), f0 (midi/127 and 30 pitch hat functions), loudness, optionally velocity, and hat
functions of log time since note-on (20) and since note-off (12 and an "off" flag). Outputs: log
amplitude of every harmonic and noise band, L1 against the analysis as in the warm start. Then:
audible-harmonic L1 and 250 ms-smoothed distribution L1 on training and held-out notes (as in
`decoder_inputs.py`), and the classifier on held-out notes resynthesised with the shipped
synthesiser and room from (a) the probe's harmonics and noise, (b) the probe's harmonic
distribution at the note's analysed level with the shipped model's noise (the neighbour oracle's
setting).

Session 7 figures, 3 000 steps each (13-18 min on one core), audible L1 and smoothed-distribution L1
on training / held-out notes, then the classifier with the shipped room for (a) / (b) / the probe's
harmonics with the shipped noise:
  no clock, no jitter   0.305/0.556  0.281/0.557   0.505 / 0.571 / 0.576
  clock                 0.233/0.500  0.180/0.471   0.548 / 0.652 / 0.652
  clock, jitter 1       0.247/0.429  0.197/0.403   0.543 / 0.619 / 0.629
  clock, jitter 2       0.278/0.407  0.237/0.380   0.490 / 0.605 / 0.605
(shipped decoder 0.513/0.555 smoothed, classifier 0.638; nearest training neighbour 0.283 held-out.)
Told the time, a frame-wise network fits the training notes' slow course three times closer than
the shipped decoder (0.18 against 0.51), but at unseen pitches it is off by 0.38-0.47, and the
classifier hardly moves: what it learns of one pitch's course does not carry to the next pitch.
Jitter trades the training fit for the held-out one without helping the classifier.

python3 experiments/course_probe.py STEPS [velocity] [noclock] [jitter=SEMITONES] [save=OUT.pt]
"""
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from timbred_train import dsp
from timbred_train.cache import load_or_build
from timbred_train.config import ModelConfig
from timbred_train.evaluate import classifier_features, real_note_classifier
from timbred_train.model import MLP, TimbreDDSP
from timbred_train.train import LOG_FLOOR, load_checkpoint

torch.set_num_threads(int(__import__("os").environ.get("THREADS", "1")))
STEPS = int(sys.argv[1])
VELOCITY = "velocity" in sys.argv[2:]
CLOCK = "noclock" not in sys.argv[2:]
JITTER = next((float(a[7:]) for a in sys.argv[2:] if a.startswith("jitter=")), 0.0)  # semitones, training only
cfg = ModelConfig()
notes = load_or_build(Path("data/default"), cfg)
ck = load_checkpoint(Path("runs/v2/checkpoint.pt"))
shipped = TimbreDDSP(ModelConfig.from_dict(ck["config"]))
shipped.load_state_dict(ck["model"])
shipped.eval()
Z = shipped.prior_mu.detach()
M, N, K = notes.harmonics.shape
B = notes.noise.shape[2]


def hats(x: torch.Tensor, lo: float, hi: float, n: int) -> torch.Tensor:
    """Linear-interpolation weights of x on n evenly spaced nodes over [lo, hi]."""
    pos = (x.clamp(lo, hi) - lo) / (hi - lo) * (n - 1)
    return (1 - (pos[..., None] - torch.arange(n, dtype=x.dtype)).abs()).clamp(min=0)


def inputs(i: np.ndarray) -> torch.Tensor:
    """Per-frame inputs [len(i), N, F] of whole notes i."""
    f0 = torch.as_tensor(notes.f0_hz[i]).float()
    midi = dsp.hz_to_midi(f0.clamp(min=20.0))
    ld = torch.as_tensor(notes.loudness_db[i]).float() / cfg.db_range + 1
    t = torch.arange(N, dtype=torch.float32)[None].expand(len(i), -1) / cfg.frame_rate
    t_off = t - torch.as_tensor(notes.hold_frames[i]).float()[:, None] / cfg.frame_rate
    off = (t_off >= 0).float()
    parts = [Z[notes.instrument[i]][:, None].expand(-1, N, -1), (midi / 127)[..., None], hats(midi, 21, 108, 30),
             ld[..., None]]
    if CLOCK:
        parts += [hats(torch.log1p(t / 0.05), 0, np.log1p(3 / 0.05), 20),
                  off[..., None], off[..., None] * hats(torch.log1p(t_off.clamp(min=0) / 0.05), 0, np.log1p(1 / 0.05), 12)]
    if VELOCITY:
        parts.append(torch.as_tensor(notes.velocity[i]).float()[:, None, None].expand(-1, N, 1) / 127)
    return torch.cat(parts, -1)


class Course(nn.Module):
    """Frame-wise MLP: inputs -> log amplitudes of K harmonics and B noise bands."""

    def __init__(self, n_in: int, units: int = 512, layers: int = 3):
        super().__init__()
        self.mlp = MLP(n_in, units, layers, cfg.leaky_relu_slope, cfg.layer_norm_eps)
        self.out = nn.Linear(units, K + B)

    def forward(self, x):
        y = self.out(self.mlp(x))
        return y[..., :K] - 4, y[..., K:] - 4  # log amplitudes, starting near -4 (about -35 dB)


tr, te = notes.indices("train"), notes.indices("test")
x_tr, x_te = inputs(tr), inputs(te)
harm = torch.log(torch.as_tensor(notes.harmonics.astype(np.float32)) + LOG_FLOOR)
noise = torch.log(torch.as_tensor(notes.noise.astype(np.float32)) + LOG_FLOOR)
nw = torch.as_tensor(notes.noise_weight.astype(np.float32))
torch.manual_seed(1234)
net = Course(x_tr.shape[-1])
opt = torch.optim.Adam(net.parameters(), lr=1e-3)
sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, STEPS, eta_min=1e-5)
rng = np.random.default_rng(1234)
flat_x = x_tr.reshape(-1, x_tr.shape[-1])
flat_h, flat_n = harm[tr].reshape(-1, K), noise[tr].reshape(-1, B)
flat_w = nw[tr].reshape(len(tr) * N, -1)
flat_midi = dsp.hz_to_midi(torch.as_tensor(notes.f0_hz[tr]).float().clamp(min=20.0)).reshape(-1)
ZD = Z.shape[1]
t0 = time.time()
for step in range(STEPS):
    j = torch.as_tensor(rng.integers(0, len(flat_x), 4096))
    xb = flat_x[j]
    if JITTER:
        midi = flat_midi[j] + (torch.rand(len(j)) * 2 - 1) * JITTER
        xb = torch.cat([xb[:, :ZD], (midi / 127)[:, None], hats(midi, 21, 108, 30), xb[:, ZD + 31:]], 1)
    ph, pn = net(xb)
    lh = (torch.logaddexp(ph, torch.tensor(np.log(LOG_FLOOR))) - flat_h[j]).abs().mean()
    ln = ((torch.logaddexp(pn, torch.tensor(np.log(LOG_FLOOR))) - flat_n[j]).abs() * flat_w[j]).mean()
    opt.zero_grad()
    (lh + 0.5 * ln).backward()
    opt.step()
    sched.step()
    if (step + 1) % 500 == 0:
        print(f"step {step + 1}, {time.time() - t0:.0f} s, harm {lh.item():.3f} noise {ln.item():.3f}", flush=True)


def smooth(x: torch.Tensor, w: int = 25) -> torch.Tensor:
    pad = torch.cat([x[:, :1].expand(-1, w // 2, -1), x, x[:, -1:].expand(-1, w - 1 - w // 2, -1)], 1)
    return pad.unfold(1, w, 1).mean(-1)


def predict(x: torch.Tensor, i: np.ndarray):
    """(harmonic amplitudes, noise magnitudes) [n, N, K], [n, N, B], harmonics above the band limit muted."""
    with torch.no_grad():
        ph, pn = net(x)
    f0 = torch.as_tensor(notes.f0_hz[i]).float()
    return torch.exp(ph) * dsp.harmonic_mask(f0, K, cfg.band_limit_hz), torch.exp(pn)


def errors(x, i):
    h, _ = predict(x, i)
    a = torch.as_tensor(notes.harmonics[i].astype(np.float32))
    ld = torch.as_tensor(notes.loudness_db[i])
    loud = (ld > ld.amax(1, keepdim=True) - 30)[..., None]
    audible = (a > a.amax(-1, keepdim=True) * 0.01) & loud
    e = (torch.log(h + LOG_FLOOR) - torch.log(a + LOG_FLOOR)).abs()
    dist = lambda v: torch.log(v / (v.sum(-1, keepdim=True) + 1e-9) + 1e-6)
    es = (smooth(dist(h)) - smooth(dist(a))).abs()
    return e[audible].mean().item(), es[audible].mean().item()


SAVE = next((a[5:] for a in sys.argv[2:] if a.startswith("save=")), None)
if SAVE:
    torch.save({"net": net.state_dict(), "argv": sys.argv}, SAVE)
e_tr, e_te = errors(x_tr, tr), errors(x_te, te)
print(f"velocity={VELOCITY} clock={CLOCK} jitter={JITTER} {STEPS} steps {time.time() - t0:.0f} s: audible L1 train/held-out "
      f"{e_tr[0]:.3f}/{e_te[0]:.3f}, smoothed distribution {e_tr[1]:.3f}/{e_te[1]:.3f}", flush=True)

clf = real_note_classifier(notes, cfg.sample_rate)
y = notes.instrument[te]
h_all, n_all = predict(x_te, te)
feats = {f"{k}{r}": [] for r in ("", ", no room") for k in (
    "probe harmonics + probe noise", "probe distribution at analysed level + shipped noise",
    "probe harmonics + shipped noise")}
for r, i in enumerate(te):
    f0 = torch.as_tensor(notes.f0_hz[i])[None]
    ld = torch.as_tensor(notes.loudness_db[i])[None]
    white = torch.rand(1, N * cfg.hop, generator=torch.Generator().manual_seed(int(i))) * 2 - 1
    with torch.no_grad():
        c = shipped.decoder.controls(shipped.decoder(f0, ld, Z[notes.instrument[i]][None]), f0)
        level = torch.as_tensor(notes.harmonics[i].astype(np.float32)).sum(-1, keepdim=True)[None]
        h = h_all[r:r + 1]
        for key, hh, nn_ in (("probe harmonics + probe noise", h, n_all[r:r + 1]),
                             ("probe distribution at analysed level + shipped noise",
                              h / (h.sum(-1, keepdim=True) + 1e-9) * level, c["noise"]),
                             ("probe harmonics + shipped noise", h, c["noise"])):
            for room in (True, False):
                out = shipped.synthesize({"harmonics": hh, "noise": nn_}, f0, white, reverb=room)
                feats[key + ("" if room else ", no room")].append(classifier_features(out["audio"][0].numpy(), cfg.sample_rate))
for key, f in feats.items():
    p = clf.predict(np.stack(f))
    per = " ".join(f"{n[:5]}={(p[y == k] == k).mean():.2f}" for k, n in enumerate(notes.instruments))
    print(f"{key}: {(p == y).mean():.3f}\n  {per}", flush=True)
