"""Attack transients (docs/model-format.md, "Transients"): what a note's first 100 ms hold that
neither the harmonic-plus-noise synthesiser fed the note's own analysis nor the model played from
MIDI makes (a mallet's click, a hammer's thump, a pluck, a pipe's chiff), kept as band-limited
noise with a fine time envelope.

Per training note: the power of the recording, of its analysis-resynthesis and of the model played
from MIDI in 1/3-octave bands every 2 ms (Hann windows of 2.5 periods, 5-20 ms); the residual amplitude is
`sqrt(max(0, P_rec - 2 max(P_ana, P_midi)))` (the factor 2 keeps a steady band's flicker out), tapered to zero
over the last 40 ms. The amplitudes are averaged per instrument around the envelopes' pitch
anchors, per velocity anchor ([I, P, V, T, B]). The engine blends them over instruments by the
model's blend rule (so morphs and encoded presets get a strike too), interpolates pitch and
velocity at note-on, and plays `sum_b A(t, b) n_b(t)` with fixed unit-RMS band noises n_b built at
load: B multiply-adds per sample for 100 ms.

(A shared basis was tried first: an SVD's and a non-negative factorisation's reconstruction errors
put 10-20 dB of hiss above 6 kHz on notes whose real attack has none, e.g. the electric piano.)
"""
from __future__ import annotations

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


def residual_amplitudes(recording: np.ndarray, syntheses: list[np.ndarray], sample_rate: int, pitch: float) -> np.ndarray:
    """The transient of one note: [FRAMES, BANDS] RMS amplitudes of band noise: what the
    recording holds beyond the largest of `syntheses` in each band and frame."""
    r = fine_band_power(recording, sample_rate, window_s(pitch))
    s = np.max([fine_band_power(y, sample_rate, window_s(pitch)) for y in syntheses], axis=0)
    a = np.sqrt(np.maximum(r - SYNTH_MARGIN * s, 0.0)) * taper()[:, None]
    a[:, band_edges_hz()[:-1] >= sample_rate / 2] = 0
    return a


# --- the table ---------------------------------------------------------------------------------

def measure_notes(model, env: dict, notes, verbose: bool = True, tone=None) -> np.ndarray:
    """Residual amplitudes [N, FRAMES, BANDS] of every note, against both its analysis-resynthesis
    through `model`'s synthesiser and the model played from MIDI as the engine plays it (its
    instrument's preset, envelope and velocity; no room): first 20 frames only, the transient
    ends at 100 ms. Against both, because where the decoder already makes more than the analysis
    (it learned the spectrum's level, not the analysis alone), a residual against the analysis
    alone would add that part twice (the acoustic bass's strike came out 4-9 dB too bright).
    `tone` (instrument, pitch, velocity) → the model's tone balance (`evaluate._tone_lookup`), which
    the engine applies to what it plays from MIDI."""
    from .envelope import course
    from .evaluate import analysis_resynthesis_head, resynthesize

    cfg = model.cfg
    sr = cfg.sample_rate
    means = model.prior_mu.detach().numpy()
    eye = np.eye(len(means))
    frames = 20
    out = np.zeros((len(notes.pitch), FRAMES, BANDS), np.float32)
    for i in range(len(notes.pitch)):
        k, pitch, vel = int(notes.instrument[i]), float(notes.pitch[i]), float(notes.velocity[i])
        hold_s = int(notes.hold_frames[i]) / cfg.frame_rate
        ana = analysis_resynthesis_head(model, notes, i, frames=frames)
        f0 = np.full(frames, 440.0 * 2 ** ((pitch - 69) / 12), np.float32)
        ld = course(env, cfg, eye[k], pitch, vel, frames, hold_s)
        midi = resynthesize(model, f0, ld, means[k], seed=i, velocity=vel, hold_s=hold_s, reverb=False,
                            **({} if tone is None else tone(k, pitch, vel)))
        out[i] = residual_amplitudes(notes.audio[i], [ana, midi], sr, pitch)
        if verbose and i % 200 == 0:
            print(f"  transients: note {i}/{len(notes.pitch)}", flush=True)
    return out


PITCH_SPAN = 12.0  # semitones: an anchor averages the notes within this distance, weighted 1 - d/span


def build_table(amps: np.ndarray, instrument: np.ndarray, pitch: np.ndarray, velocity: np.ndarray,
                n_instruments: int, pitch_anchors, velocity_anchors, span: float | None = None) -> np.ndarray:
    """Amplitudes [I, P, V, FRAMES, BANDS] at the envelopes' anchors (any per-note shape: [I, P, V,
    *amps.shape[1:]]): per instrument and velocity, the notes' amplitudes averaged around each pitch
    anchor (weights 1 - |d| / span, PITCH_SPAN unless given; an
    anchor outside the instrument's range takes the nearest notes); a velocity the instrument
    lacks takes the nearest one it has. Averaging over neighbouring notes keeps what their
    attacks share and evens out each note's flicker."""
    table = np.zeros((n_instruments, len(pitch_anchors), len(velocity_anchors)) + amps.shape[1:], np.float32)
    span = PITCH_SPAN if span is None else span
    for i in range(n_instruments):
        mine = instrument == i
        if not mine.any():
            continue
        vs = np.unique(velocity[mine])
        for v, vel in enumerate(velocity_anchors):
            sel = mine & (velocity == vs[np.argmin(np.abs(vs - vel))])
            ps = pitch[sel].astype(np.float64)
            for j, pa in enumerate(pitch_anchors):
                w = np.maximum(0.0, 1 - np.abs(ps - pa) / span)
                if w.sum() == 0:
                    w = (np.abs(ps - pa) == np.abs(ps - pa).min()).astype(np.float64)
                table[i, j, v] = np.tensordot(w / w.sum(), amps[sel], axes=1)
    return table


def lookup(table: np.ndarray, pitch_anchors, velocity_anchors, means: np.ndarray, scale: float, rule: str,
           z: np.ndarray, pitch: float, velocity: float) -> np.ndarray:
    """A note's transient amplitudes [FRAMES, BANDS] (any table [I, P, V, ...]: its [...]; the
    engine's lookup): blend weights over instruments, pitch and velocity linear between anchors,
    clamped to them."""
    from .envelope import anchor_axis, blend_weights

    w = np.asarray(blend_weights(np.asarray(z, np.float64), np.asarray(means, np.float64), scale, rule), np.float64)
    j, fp = anchor_axis(pitch_anchors, pitch)
    m, fv = anchor_axis(velocity_anchors, velocity)
    fp, fv = float(np.clip(fp, 0.0, 1.0)), float(np.clip(fv, 0.0, 1.0))  # clamped to the anchors
    t = table.astype(np.float64)
    at_p = (1 - fp) * t[:, j] + fp * t[:, j + 1]  # [I, V, ...]
    at_v = (1 - fv) * at_p[:, m] + fv * at_p[:, m + 1]  # [I, ...]
    w = np.where(np.isfinite(w), w, 0.0)
    return np.tensordot(w, at_v, axes=1)


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


def synthesize(amplitudes: np.ndarray, noises: np.ndarray, sample_rate: float) -> np.ndarray:
    """A note's transient: x(i) = sum_b A(i, b) n_b(i), A linear between frames (frame t at
    t / FRAME_RATE_HZ s; zero after the last). → [L]"""
    n = noises.shape[1]
    p = np.arange(n) * FRAME_RATE_HZ / sample_rate
    j = np.minimum(np.floor(p).astype(int), FRAMES - 1)
    f = p - j
    a = np.asarray(amplitudes, np.float64)
    nxt = np.where((j + 1 < FRAMES)[:, None], a[np.minimum(j + 1, FRAMES - 1)], 0.0)
    env = (1 - f)[:, None] * a[j] + f[:, None] * nxt  # [L, B]
    return (env * noises.T).sum(1)


def white_for(sample_rate: float, seed: int = 0x7EA5) -> np.ndarray:
    """White noise [BANDS, L] for the trainer's own renders (uniform in [-1, 1), numpy's
    generator; the engine draws its own PCG32 noise, and the fixture carries the noise used)."""
    g = np.random.default_rng(seed)
    return g.uniform(-1, 1, (BANDS, length_samples(sample_rate)))


# --- the command -------------------------------------------------------------------------------

def add_to_model(path: Path, tensors: dict[str, np.ndarray], info: dict, out: Path | None = None) -> None:
    """Writes `tensors` into the model file (replacing any earlier `transient.*`); every other
    tensor's bytes and the metadata stay as they were, plus an informative `transients` key."""
    from .modelfile import replace_tensors

    replace_tensors(path, "transient.", tensors, "transients", info, out)


def run(model_path: Path, data: Path, out: Path | None = None, write: bool = True, threads: int = 1) -> dict:
    """`timbred-train transients`: measure every train note's residual attack (`cache.training_notes`), build the table at the
    envelopes' anchors, write it into the model. Returns the figures."""
    from .cache import load_or_build, training_notes
    from .export import load_exported

    torch.set_num_threads(threads)
    model, env, meta = load_exported(Path(model_path))
    cfg = model.cfg
    notes = training_notes(load_or_build(Path(data), cfg))
    print(f"measuring the attack residual of {len(notes.pitch)} notes of {data}", flush=True)
    from .evaluate import _tone_lookup

    amps = measure_notes(model, env, notes, tone=_tone_lookup(Path(model_path), model, meta))
    table = build_table(amps, notes.instrument, notes.pitch, notes.velocity, len(cfg.instruments),
                        cfg.env_pitches, cfg.env_velocities)
    means = model.prior_mu.detach().numpy()
    rule = meta.get("envelope_blend", "gaussian")
    scale = float(meta["envelope_blend_scale"])
    hf = band_edges_hz()[:-1] >= 5657
    figures = {"notes": len(notes.pitch), "instruments": {}}
    print(f"{'instrument':16s} {'energy dB':>9s} {'>5.7 kHz share dB':>17s}  (velocity 120, first 20 ms, mean over notes)")
    for i, name in enumerate(cfg.instruments):
        sel = (notes.instrument == i) & (notes.velocity == max(notes.velocity))
        if not sel.any():
            continue
        a = amps[sel]
        e = float(10 * np.log10((a ** 2).sum((1, 2)).mean() / FRAME_RATE_HZ + 1e-20))
        share = float(10 * np.log10((a[:, :10][..., hf] ** 2).sum() / ((a[:, :10] ** 2).sum() + 1e-20) + 1e-12))
        figures["instruments"][name] = {"energy_db": e, "high_share_db": share}
        print(f"{name:16s} {e:9.1f} {share:17.1f}")
    if write:
        info = {"notes": len(notes.pitch), "dataset": Path(data).name}
        add_to_model(Path(model_path), {"transient.amplitude": table}, info, out)
        print(f"wrote transient.amplitude {list(table.shape)} into {out or model_path}")
    figures.update(table=table, amps=amps, means=means, rule=rule, scale=scale)
    return figures


# --- the engine's fixture ------------------------------------------------------------------------

def write_fixture(folder: Path) -> Path:
    """`transient-reference.safetensors`: a small random table (I = 2, Z = 2, pitch anchors 36 / 60
    / 84, velocity anchors 20 / 64 / 120) with lookup queries and answers, and per rate R in 32000,
    48000 the white noise used (`white.R` [B, L]) and the transient of the first query
    (`audio.R`) (model-independent)."""
    from safetensors.numpy import save_file

    g = np.random.default_rng(15)
    pitches, velocities = np.array([36.0, 60.0, 84.0]), np.array([20.0, 64.0, 120.0])
    table = (g.random((2, 3, 3, FRAMES, BANDS)) * 0.05 * taper()[None, None, None, :, None]).astype(np.float32)
    means = np.array([[0.0, 0.0], [1.0, 0.5]], np.float32)
    scale, rule = 0.7, "inverse_distance"
    queries_z = np.array([[0.4, 0.3], [1.0, 0.5], [0.0, 0.0], [0.2, -0.5], [0.7, 0.1]], np.float32)
    queries_p = np.array([61.5, 60.0, 0.0, 127.0, 33.25], np.float32)
    queries_v = np.array([100.0, 10.0, 127.0, 64.0, 42.0], np.float32)
    answers = np.stack([lookup(table, pitches, velocities, means, scale, rule, zq, p, v)
                        for zq, p, v in zip(queries_z, queries_p, queries_v)])
    out = {"amplitude": table, "pitch_anchors": pitches, "velocity_anchors": velocities, "means": means,
           "blend_scale": np.array([scale]), "lookup.z": queries_z, "lookup.pitch": queries_p,
           "lookup.velocity": queries_v, "lookup.values": answers}
    for rate in (32000, 48000):
        white = (g.random((BANDS, length_samples(rate))) * 2 - 1).astype(np.float32)
        out[f"white.{rate}"] = white
        out[f"audio.{rate}"] = synthesize(answers[0], band_noises(white.astype(np.float64), rate), rate)
    path = Path(folder) / "transient-reference.safetensors"
    save_file({k: np.ascontiguousarray(v, np.float32) for k, v in out.items()}, str(path), metadata={"blend_rule": rule})
    return path
