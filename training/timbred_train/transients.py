"""Attack transients (docs/model-format.md, "Transients"): what a note's first 100 ms hold that the
harmonic-plus-noise synthesiser fed the note's own analysis does not make (a mallet's click, a
hammer's thump, a pluck, a pipe's chiff), kept as band-limited noise with a fine time envelope.

Per training note: the power of the recording and of its analysis-resynthesis in 1/3-octave bands
every 2 ms (5 ms Hann windows); the residual amplitude is `sqrt(max(0, P_rec - 2 P_syn))` (the
factor 2 keeps the flicker of a steady band out), tapered to zero over the last 40 ms. The
amplitudes of every note ([T, B] each) are compressed into K basis envelopes by a singular value
decomposition (no centring: zero coefficients are silence), and the note's K coefficients are
tabulated per instrument, MIDI pitch 0…127 (linear between the notes measured, clamped outside)
and velocity anchor. The engine blends the coefficients over instruments by the model's blend
rule (so morphs and encoded presets get a strike too), interpolates pitch and velocity, and plays
`sum_k c_k w_k(t)`: w_k is basis envelope k applied to fixed band noises, built once at load, so
a note's transient costs K multiply-adds per sample for 100 ms and nothing per note start but the
lookup.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch

from .errors import UserError

FRAME_RATE_HZ = 500.0  # transient envelope frames per second (2 ms)
FRAMES = 50  # 100 ms
TAPER_FRAMES = 20  # the last 40 ms fade to zero (raised cosine)
WINDOW_S = (0.005, 0.020)  # analysis window (Hann): 2.5 periods of the note, within these bounds
WINDOW_PERIODS = 2.5
SYNTH_MARGIN = 2.0  # residual power = recording - SYNTH_MARGIN × resynthesis (3 dB)
BASIS = 24  # K
NOISE_SEED = 0x7EA5  # the engine's PCG32 seed of band b's white noise, stream b


def band_edges_hz() -> np.ndarray:
    """Edges of the B = 28 bands: 0, then 1/3-octave edges around 1 kHz · 2^(n/3), n = -13…13
    (44 Hz … 22.6 kHz)."""
    return np.array([0.0] + [1000.0 * 2 ** ((n - 0.5) / 3) for n in range(-13, 15)])


BANDS = len(band_edges_hz()) - 1


def taper() -> np.ndarray:
    """Per-frame weight: 1, then a raised cosine to 0 over the last TAPER_FRAMES frames."""
    w = np.ones(FRAMES)
    j = np.arange(TAPER_FRAMES)
    w[FRAMES - TAPER_FRAMES:] = 0.5 + 0.5 * np.cos(np.pi * (j + 1) / TAPER_FRAMES)
    return w


def window_s(pitch: float) -> float:
    """The analysis window of a note: WINDOW_PERIODS periods of its fundamental within WINDOW_S, so
    that a band holding several harmonics does not beat within a window (the recording's and the
    resynthesis's partials beat with other phases, and their difference would be flicker, not a
    transient)."""
    f0 = 440.0 * 2 ** ((pitch - 69) / 12)
    return min(max(WINDOW_PERIODS / f0, WINDOW_S[0]), WINDOW_S[1])


def fine_band_power(audio: np.ndarray, sample_rate: int, window: float = WINDOW_S[0]) -> np.ndarray:
    """Power [FRAMES, BANDS] of `audio` (from the note-on) in the bands, Hann windows of `window`
    seconds, frame j centred at j / FRAME_RATE_HZ (zeros before the start), scaled so a sinusoid
    of amplitude A gives A²/2."""
    n_win = int(round(window * sample_rate))
    n_fft = 1 << max(8, (n_win - 1).bit_length())
    hop = sample_rate / FRAME_RATE_HZ
    w = np.hanning(n_win + 2)[1:-1]
    pad = np.concatenate([np.zeros(n_win), audio[: int(FRAMES * hop) + 2 * n_win], np.zeros(2 * n_win)])
    starts = (np.round(np.arange(FRAMES) * hop).astype(int) + n_win - n_win // 2)
    frames = np.stack([pad[s: s + n_win] * w for s in starts])
    spec = np.abs(np.fft.rfft(frames, n_fft)) ** 2
    spec[:, 1:-1] *= 2
    spec /= (w ** 2).sum() * n_fft
    f = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    which = np.searchsorted(band_edges_hz(), f, side="right") - 1
    out = np.zeros((FRAMES, BANDS))
    for b in range(BANDS):
        sel = which == b
        if sel.any():
            out[:, b] = spec[:, sel].sum(1)
    return out


def residual_amplitudes(recording: np.ndarray, resynthesis: np.ndarray, sample_rate: int, pitch: float) -> np.ndarray:
    """The transient of one note: [FRAMES, BANDS] RMS amplitudes of band noise."""
    r = fine_band_power(recording, sample_rate, window_s(pitch))
    s = fine_band_power(resynthesis, sample_rate, window_s(pitch))
    a = np.sqrt(np.maximum(r - SYNTH_MARGIN * s, 0.0)) * taper()[:, None]
    a[:, band_edges_hz()[:-1] >= sample_rate / 2] = 0
    return a


# --- the table ---------------------------------------------------------------------------------

def measure_notes(model, notes, verbose: bool = True) -> np.ndarray:
    """Residual amplitudes [N, FRAMES, BANDS] of every note, against its analysis-resynthesis
    through `model`'s synthesiser (first 20 frames only: the transient ends at 100 ms)."""
    from .evaluate import analysis_resynthesis_head

    sr = model.cfg.sample_rate
    out = np.zeros((len(notes.pitch), FRAMES, BANDS), np.float32)
    for i in range(len(notes.pitch)):
        syn = analysis_resynthesis_head(model, notes, i, frames=20)
        out[i] = residual_amplitudes(notes.audio[i], syn, sr, float(notes.pitch[i]))
        if verbose and i % 200 == 0:
            print(f"  transients: note {i}/{len(notes.pitch)}", flush=True)
    return out


def fit_basis(amps: np.ndarray, k: int = BASIS) -> tuple[np.ndarray, np.ndarray, float]:
    """Basis [K, FRAMES, BANDS] and coefficients [N, K] of the amplitudes [N, FRAMES, BANDS]
    (uncentred SVD), and the fraction of their energy the basis keeps."""
    x = amps.reshape(len(amps), -1).astype(np.float64)
    _, s, vt = np.linalg.svd(x, full_matrices=False)
    basis = vt[:k]
    # sign: each basis envelope mostly positive
    basis *= np.where(basis.sum(1, keepdims=True) < 0, -1.0, 1.0)
    coef = x @ basis.T
    kept = float((s[:k] ** 2).sum() / (s ** 2).sum())
    return basis.reshape(k, FRAMES, BANDS).astype(np.float32), coef.astype(np.float32), kept


def build_table(coef: np.ndarray, instrument: np.ndarray, pitch: np.ndarray, velocity: np.ndarray,
                n_instruments: int, velocity_anchors: list[float]) -> np.ndarray:
    """Coefficients [I, 128, V, K]: per instrument and velocity anchor the mean over notes of a
    pitch, linear between the pitches measured, the nearest outside them."""
    k = coef.shape[1]
    table = np.zeros((n_instruments, 128, len(velocity_anchors), k), np.float32)
    for i in range(n_instruments):
        for v, vel in enumerate(velocity_anchors):
            sel = (instrument == i) & (velocity == vel)
            if not sel.any():
                # the nearest velocity measured for this instrument
                vs = np.unique(velocity[instrument == i])
                if len(vs) == 0:
                    continue
                sel = (instrument == i) & (velocity == vs[np.argmin(np.abs(vs - vel))])
            ps = np.unique(pitch[sel])
            rows = np.stack([coef[sel & (pitch == p)].mean(0) for p in ps])
            for j in range(k):
                table[i, :, v, j] = np.interp(np.arange(128), ps, rows[:, j])
    return table


def blend_weights(z: np.ndarray, means: np.ndarray, scale: float, rule: str) -> np.ndarray:
    from .envelope import blend_weights as bw
    return np.asarray(bw(np.asarray(z, np.float64), np.asarray(means, np.float64), scale, rule), np.float64)


def lookup(table: np.ndarray, anchors: np.ndarray, means: np.ndarray, scale: float, rule: str,
           z: np.ndarray, pitch: float, velocity: float) -> np.ndarray:
    """The K coefficients of a note (the engine's lookup): blend weights over instruments, pitch
    linear between integers clamped to [0, 127], velocity linear between anchors clamped to them."""
    w = blend_weights(z, means, scale, rule)
    p = min(max(float(pitch), 0.0), 127.0)
    j = min(int(math.floor(p)), 126)
    fp = p - j
    v = min(max(float(velocity), float(anchors[0])), float(anchors[-1]))
    m = int(np.searchsorted(anchors, v, side="right") - 1)
    m = min(max(m, 0), len(anchors) - 2)
    fv = (v - anchors[m]) / (anchors[m + 1] - anchors[m])
    t = table.astype(np.float64)
    at_p = (1 - fp) * t[:, j] + fp * t[:, j + 1]  # [I, V, K]
    at_v = (1 - fv) * at_p[:, m] + fv * at_p[:, m + 1]  # [I, K]
    return (w[:, None] * at_v).sum(0)


# --- synthesis (the engine's reference) -------------------------------------------------------

def band_noises(white: np.ndarray, sample_rate: float) -> np.ndarray:
    """Unit-RMS band noises [BANDS, L] from white noise [BANDS, L]: each row's rfft kept only on
    its band's bins (f in [lo, hi)), back to time, divided by its own RMS (a band without bins
    below Nyquist is zeros)."""
    n = white.shape[1]
    f = np.fft.rfftfreq(n, 1.0 / sample_rate)
    edges = band_edges_hz()
    out = np.zeros_like(white, dtype=np.float64)
    for b in range(BANDS):
        spec = np.fft.rfft(white[b].astype(np.float64))
        spec[(f < edges[b]) | (f >= edges[b + 1])] = 0
        x = np.fft.irfft(spec, n)
        rms = math.sqrt(float((x ** 2).mean()))
        if rms > 0:
            out[b] = x / rms
    return out


def length_samples(sample_rate: float) -> int:
    """L: samples of a transient at `sample_rate` (FRAMES frames)."""
    return int(math.ceil(FRAMES * sample_rate / FRAME_RATE_HZ))


def basis_waveforms(basis: np.ndarray, noises: np.ndarray, sample_rate: float) -> np.ndarray:
    """w_k(i) = sum_b U_k(i, b) n_b(i), U_k linear between frames (frame j at j / FRAME_RATE_HZ),
    zero after the last frame. → [K, L]"""
    n = noises.shape[1]
    p = np.arange(n) * FRAME_RATE_HZ / sample_rate
    j = np.minimum(np.floor(p).astype(int), FRAMES - 1)
    f = p - j
    nxt = np.minimum(j + 1, FRAMES - 1)
    b64 = basis.astype(np.float64)
    env = (1 - f)[None, :, None] * b64[:, j] + f[None, :, None] * np.where((j + 1 < FRAMES)[None, :, None], b64[:, nxt], 0.0)
    return np.einsum("kib,bi->ki", env, noises)


def synthesize(coefficients: np.ndarray, waveforms: np.ndarray) -> np.ndarray:
    """A note's transient: sum_k c_k w_k → [L]."""
    return np.asarray(coefficients, np.float64) @ waveforms


def white_for(sample_rate: float, seed: int = NOISE_SEED) -> np.ndarray:
    """Stand-in white noise for studies (the engine draws its own PCG32 noise; fixtures carry
    the noise used)."""
    g = np.random.default_rng(seed)
    return g.uniform(-1, 1, (BANDS, length_samples(sample_rate)))


# --- the command -------------------------------------------------------------------------------

def add_to_model(path: Path, tensors: dict[str, np.ndarray], info: dict, out: Path | None = None) -> None:
    """Writes `tensors` into the model file (replacing any earlier `transient.*`); every other
    tensor's bytes and the metadata stay as they were, plus an informative `transients` key."""
    from safetensors import safe_open
    from safetensors.numpy import save_file

    with safe_open(str(path), framework="np") as f:
        meta = dict(f.metadata() or {})
        old = {k: f.get_tensor(k) for k in f.keys() if not k.startswith("transient.")}
    old.update({k: np.ascontiguousarray(v, np.float32) for k, v in tensors.items()})
    meta["transients"] = json.dumps(info, sort_keys=True)
    save_file(old, str(out or path), metadata=meta)


def run(model_path: Path, data: Path, out: Path | None = None, write: bool = True, threads: int = 1) -> dict:
    """`timbred-train transients`: measure every note's residual attack, fit the basis, build the
    table, write it into the model. Returns the figures."""
    from .cache import load_or_build
    from .export import load_exported

    torch.set_num_threads(threads)
    model, _, meta = load_exported(Path(model_path))
    cfg = model.cfg
    notes = load_or_build(Path(data), cfg)
    print(f"measuring the attack residual of {len(notes.pitch)} notes of {data}", flush=True)
    amps = measure_notes(model, notes)
    basis, coef, kept = fit_basis(amps)
    anchors = sorted({float(v) for v in notes.velocity})
    table = build_table(coef, notes.instrument, notes.pitch, notes.velocity, len(cfg.instruments), anchors)
    means = model.prior_mu.detach().numpy()
    rule = meta.get("envelope_blend", "gaussian")
    scale = float(meta["envelope_blend_scale"])
    figures = {"kept_energy": kept, "notes": len(notes.pitch), "instruments": {}}
    print(f"basis of {BASIS} envelopes keeps {100 * kept:.1f} % of the residuals' energy")
    for i, name in enumerate(cfg.instruments):
        sel = notes.instrument == i
        e = (amps[sel] ** 2).sum((1, 2)).mean() / FRAME_RATE_HZ
        figures["instruments"][name] = {"mean_energy_db": float(10 * np.log10(e + 1e-20))}
        print(f"  {name:16s} residual energy per note {10 * np.log10(e + 1e-20):7.1f} dB")
    if write:
        info = {"notes": len(notes.pitch), "dataset": Path(data).name, "kept_energy": round(kept, 4)}
        add_to_model(Path(model_path), {"transient.basis": basis, "transient.coefficients": table,
                                        "transient.velocity_anchors": np.array(anchors, np.float32)}, info, out)
        print(f"wrote transient.basis {list(basis.shape)}, transient.coefficients {list(table.shape)} into "
              f"{out or model_path}")
    figures.update(basis=basis, table=table, anchors=anchors, amps=amps, coef=coef, means=means, rule=rule,
                   scale=scale)
    return figures


# --- the engine's fixture ------------------------------------------------------------------------

def write_fixture(folder: Path) -> Path:
    """`transient-reference.safetensors`: a small random table (K = 3, I = 2, Z = 2, V = 3) with
    lookup queries and answers, and per rate R in 32000, 48000 the white noise used (`white.R`
    [B, L]), the basis waveforms (`waveforms.R` [K, L]) and one note's transient (`audio.R`) for
    the coefficients `audio.coefficients` (model-independent)."""
    from safetensors.numpy import save_file

    g = np.random.default_rng(15)
    k, n_inst, z_dim, anchors = 3, 2, 2, np.array([20.0, 64.0, 120.0])
    basis = (g.random((k, FRAMES, BANDS)) * taper()[None, :, None]).astype(np.float32)
    coef = g.normal(0, 0.05, (n_inst, 128, len(anchors), k)).astype(np.float32)
    means = np.array([[0.0, 0.0], [1.0, 0.5]], np.float32)
    scale, rule = 0.7, "inverse_distance"
    queries_z = np.array([[0.0, 0.0], [1.0, 0.5], [0.4, 0.3], [0.2, -0.5], [0.7, 0.1]], np.float32)
    queries_p = np.array([60.0, 61.5, 0.0, 127.0, 33.25], np.float32)
    queries_v = np.array([100.0, 10.0, 127.0, 64.0, 42.0], np.float32)
    answers = np.stack([lookup(coef, anchors, means, scale, rule, zq, p, v)
                        for zq, p, v in zip(queries_z, queries_p, queries_v)]).astype(np.float32)
    out = {"basis": basis, "coefficients": coef, "velocity_anchors": anchors.astype(np.float32), "means": means,
           "blend_scale": np.array([scale], np.float32), "lookup.z": queries_z, "lookup.pitch": queries_p,
           "lookup.velocity": queries_v, "lookup.values": answers,
           "audio.coefficients": np.array([0.8, -0.3, 0.5], np.float32)}
    for rate in (32000, 48000):
        white = (g.random((BANDS, length_samples(rate))) * 2 - 1).astype(np.float32)
        waves = basis_waveforms(basis, band_noises(white.astype(np.float64), rate), rate)
        out[f"white.{rate}"] = white
        out[f"waveforms.{rate}"] = waves.astype(np.float32)
        out[f"audio.{rate}"] = synthesize(out["audio.coefficients"], waves).astype(np.float32)
    path = Path(folder) / "transient-reference.safetensors"
    save_file({k: np.ascontiguousarray(v, np.float32) for k, v in out.items()}, str(path), metadata={"blend_rule": rule})
    return path
