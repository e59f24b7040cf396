"""Is the missing movement random? Measures, per instrument and harmonic group (1, 2, 3-4, 5-8,
9-16, 17-32, 33-64, 65-100), the standard deviation and lag-1 correlation of the shipped decoder's
log-amplitude residual against the analysis (high-passed with a 250 ms moving average, audible
harmonics of the loud frames, every second training note), then resynthesises the held-out notes
with an AR(1) jitter of those statistics multiplied into the harmonics (0, half and full strength),
scored by the evaluation's classifier.

Session 6 figures (2 threads, ~5 min): 0.638 / 0.619 / 0.548. Random jitter does not give the real
notes' movement; see controls_probe.py for what does.

python3 experiments/jitter_probe.py [HIGHPASS_FRAMES [noise]]   (default 25; "noise" jitters the noise bands too)
"""
import sys, numpy as np, torch
from pathlib import Path
from timbred_train.cache import load_or_build
from timbred_train.config import ModelConfig
from timbred_train.evaluate import classifier_features, real_note_classifier
from timbred_train.model import TimbreDDSP
from timbred_train.train import load_checkpoint
torch.set_num_threads(2)
cfg = ModelConfig(); notes = load_or_build(Path("data/default"), cfg); sr = cfg.sample_rate
W = int(sys.argv[1]) if len(sys.argv) > 1 else 25
NOISE = len(sys.argv) > 2 and sys.argv[2] == "noise"
te = notes.indices("test"); tr = notes.indices("train"); clf = real_note_classifier(notes, sr); y = notes.instrument[te]
ck = load_checkpoint(Path("runs/v2/checkpoint.pt")); model = TimbreDDSP(ModelConfig.from_dict(ck["config"])); model.load_state_dict(ck["model"]); model.eval()
means = model.prior_mu.detach()
F = 1e-4
groups = [(0,1),(1,2),(2,4),(4,8),(8,16),(16,32),(32,64),(64,100)]
def controls(i):
    f0 = torch.as_tensor(notes.f0_hz[i])[None]; ld = torch.as_tensor(notes.loudness_db[i])[None]
    with torch.no_grad():
        c = model.decoder.controls(model.decoder(f0, ld, means[notes.instrument[i]][None]), f0)
    return c["harmonics"][0].numpy(), c["noise"][0].numpy()
def highpass(x, w):  # x [T, K]
    if w <= 1: return x - x.mean(0)
    k = np.ones(w) / w
    pad = np.pad(x, ((w//2, w - 1 - w//2), (0, 0)), mode="edge")
    sm = np.stack([np.convolve(pad[:, j], k, mode="valid") for j in range(x.shape[1])], 1)
    return x - sm
nI = len(notes.instruments)
acc = {k: {"s": np.zeros(len(groups)), "c": np.zeros(len(groups)), "r": np.zeros(len(groups)), "ns": 0.0, "nc": 0.0, "nr": 0.0} for k in range(nI)}
for i in tr[::2]:
    h, nz = controls(i)
    a = notes.harmonics[i].astype(np.float32)
    loud = notes.loudness_db[i] > notes.loudness_db[i].max() - 30
    e = highpass(np.log(a + F) - np.log(h + F), W)
    aud = (a > a.max(1, keepdims=True) * 0.01) & loud[:, None]
    st = acc[int(notes.instrument[i])]
    for g, (lo, hi) in enumerate(groups):
        m = aud[:, lo:hi]
        st["s"][g] += (e[:, lo:hi][m] ** 2).sum(); st["c"][g] += m.sum()
        both = m[1:] & m[:-1]
        st["r"][g] += (e[1:, lo:hi][both] * e[:-1, lo:hi][both]).sum()
    en = highpass(np.log(notes.noise[i].astype(np.float32) + F) - np.log(nz + F), W)[loud]
    st["ns"] += (en[1:] ** 2).sum(); st["nr"] += (en[1:] * en[:-1]).sum(); st["nc"] += en[1:].size
sig = np.zeros((nI, len(groups))); rho = np.zeros((nI, len(groups))); nsig = np.zeros(nI); nrho = np.zeros(nI)
for k in range(nI):
    st = acc[k]
    sig[k] = np.sqrt(st["s"] / np.maximum(st["c"], 1)); rho[k] = np.clip(st["r"] / np.maximum(st["s"], 1e-9), 0, 0.99)
    nsig[k] = np.sqrt(st["ns"] / max(st["nc"], 1)); nrho[k] = np.clip(st["nr"] / max(st["ns"], 1e-9), 0, 0.99)
    print(f"{notes.instruments[k]:15s} sigma " + " ".join(f"{v:.2f}" for v in sig[k]) + " rho " + " ".join(f"{v:.2f}" for v in rho[k]) + f" | noise {nsig[k]:.2f} {nrho[k]:.2f}")
def ar1(T, K, s, r, g):
    x = np.zeros((T, K)); e = g.standard_normal((T, K)); cur = e[0] * s
    for t in range(T):
        cur = r * cur + np.sqrt(1 - r * r) * s * e[t] if t else cur
        x[t] = cur
    return x
for scale in (0.0, 0.5, 1.0):
    feats = []
    for i in te:
        k = int(notes.instrument[i]); g = np.random.default_rng(int(i))
        h, nz = controls(i)
        s = np.concatenate([np.full(hi - lo, sig[k, j]) for j, (lo, hi) in enumerate(groups)])
        r = np.concatenate([np.full(hi - lo, rho[k, j]) for j, (lo, hi) in enumerate(groups)])
        h = h * np.exp(ar1(len(h), h.shape[1], s * scale, r, g))
        if NOISE: nz = nz * np.exp(ar1(len(nz), nz.shape[1], nsig[k] * scale, nrho[k], g))
        f0 = torch.as_tensor(notes.f0_hz[i])[None]
        white = torch.rand(1, f0.shape[1] * cfg.hop, generator=torch.Generator().manual_seed(int(i))) * 2 - 1
        with torch.no_grad():
            out = model.synthesize({"harmonics": torch.as_tensor(h, dtype=torch.float32)[None], "noise": torch.as_tensor(nz, dtype=torch.float32)[None]}, f0, white)["audio"][0].numpy()
        feats.append(classifier_features(out, sr))
    p = clf.predict(np.stack(feats))
    print(f"W={W} noise={NOISE} scale {scale}: classifier {(p == y).mean():.3f}  " + " ".join(f"{n[:5]}={(p[y == k] == k).mean():.2f}" for k, n in enumerate(notes.instruments)), flush=True)
