"""The noise's high-pass below the fundamental (docs/model-format.md, "Noise below the
fundamental"): how far under each note's f0 its noise reaches, measured per instrument.

The noise is shaped by B bands 375 Hz apart (a 128-tap FIR at 48 kHz), so the band at 0 Hz spans
0-375 Hz whatever the note: a flute's breath noise sounds as strongly at 100 Hz as at its
fundamental, and played from MIDI the flute's and trumpet's 100 Hz bands came out 5-7 dB above
FluidR3's (reports/default/playing.md). The engine filters each voice's noise with a
second-order Butterworth high-pass at `highpass.ratio` [I] × f0 (blended over instruments at the
voice's timbre point, as the other tables are); 0 leaves the noise as it is.

Per training note (`cache.training_notes`), the model is played from MIDI as the engine plays it
(the instrument's preset, envelope, tone balance, partial motion and vibrato; no room, no
transient) and its harmonic part and noise kept apart. Over the sustain (tone.SUSTAIN_S), in the
1/3-octave bands wholly below SUB_F0 × f0 (from 44 Hz up), each candidate ratio's error is
|10 log10((harmonic + noise · |H|²) / recording)| per band, both relative to their note's whole
power and floored at FLOOR_DB; an instrument takes the smallest ratio whose mean error over its
notes is within TOLERANCE_DB of the least.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .errors import UserError

RATIOS = (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)  # the candidates, × f0
SUB_F0 = 0.8  # bands wholly below this fraction of f0 are judged
FLOOR_DB = -70.0  # both spectra are floored this far below their note's whole power
TOLERANCE_DB = 0.1  # the smallest ratio within this of the best one is taken
MIN_HOLD_S = 0.3  # notes held shorter than this have no sustain to judge


def sub_f0_bands(f0_hz: float) -> list[int]:
    """The transients' 1/3-octave bands (`transients.band_edges_hz`) lying between 44 Hz and
    SUB_F0 × f0."""
    from .transients import band_edges_hz

    e = band_edges_hz()
    return [b for b in range(1, len(e) - 1) if e[b + 1] <= SUB_F0 * f0_hz]


def sustain_spectrum(audio: np.ndarray, sample_rate: int, end_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies and mean power spectrum of `audio` over the sustain (`tone.sustain_band_power`'s
    frames, per bin)."""
    from .tone import N_FFT, SUSTAIN_S

    a = int(SUSTAIN_S[0] * sample_rate)
    b = max(a + N_FFT, int(end_s * sample_rate))
    x = np.asarray(audio[a:b], np.float64)
    if len(x) < N_FFT:
        x = np.concatenate([x, np.zeros(N_FFT - len(x))])
    w = np.hanning(N_FFT)
    spec = np.mean([np.abs(np.fft.rfft(x[s:s + N_FFT] * w)) ** 2 for s in range(0, len(x) - N_FFT + 1, N_FFT // 4)],
                   axis=0)
    return np.fft.rfftfreq(N_FFT, 1.0 / sample_rate), spec


def note_errors_db(recording: np.ndarray, harmonic: np.ndarray, noise: np.ndarray, f0_hz: float,
                   sample_rate: int, end_s: float) -> np.ndarray | None:
    """One note's mean |band error| in dB below its fundamental for each of RATIOS (None when no
    band lies there)."""
    from .dsp import highpass_power
    from .transients import band_edges_hz

    bands = sub_f0_bands(f0_hz)
    if not bands:
        return None
    f, r = sustain_spectrum(recording, sample_rate, end_s)
    _, h = sustain_spectrum(harmonic, sample_rate, end_s)
    _, n = sustain_spectrum(noise, sample_rate, end_s)
    which = np.searchsorted(band_edges_hz(), f, side="right") - 1
    r_floor = r.sum() * 10 ** (FLOOR_DB / 10) + 1e-30
    p_floor = (h + n).sum() * 10 ** (FLOOR_DB / 10) + 1e-30
    real = np.array([r[which == b].sum() for b in bands]) / r_floor
    out = np.zeros(len(RATIOS))
    for j, ratio in enumerate(RATIOS):
        played = h + n * highpass_power(f, ratio * f0_hz)
        ours = np.array([played[which == b].sum() for b in bands]) / p_floor
        out[j] = np.mean(np.abs(10 * np.log10((ours + 1) / (real + 1))))
    return out


def choose(errors: np.ndarray) -> int:
    """The index into RATIOS of the smallest ratio whose error is within TOLERANCE_DB of the least."""
    e = np.asarray(errors, np.float64)
    return int(np.flatnonzero(e <= e.min() + TOLERANCE_DB)[0])


def measure(model_path: Path, data: Path, threads: int = 1, verbose: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Mean error [I, len(RATIOS)] per instrument and the number of notes [I] it averages."""
    import torch

    from .cache import load_or_build, training_notes
    from .envelope import blend_weights, course
    from .evaluate import _motion_lookup, _tone_lookup, resynthesize
    from .export import load_exported
    from .tone import SUSTAIN_S

    torch.set_num_threads(threads)
    model, env, meta = load_exported(Path(model_path))
    cfg = model.cfg
    notes = training_notes(load_or_build(Path(data), cfg))
    if list(notes.instruments) != list(cfg.instruments):
        raise UserError(f"{data}: its instruments {list(notes.instruments)} are not the model's {list(cfg.instruments)}")
    tone, motion = _tone_lookup(Path(model_path), model, meta), _motion_lookup(Path(model_path), model, meta)
    means = model.prior_mu.detach().numpy()
    eye = np.eye(len(means))
    total = np.zeros((len(cfg.instruments), len(RATIOS)))
    count = np.zeros(len(cfg.instruments), int)
    for i in range(len(notes.pitch)):
        k, pitch, vel = int(notes.instrument[i]), float(notes.pitch[i]), float(notes.velocity[i])
        hold_s = int(notes.hold_frames[i]) / cfg.frame_rate
        f0 = 440.0 * 2 ** ((pitch - 69) / 12)
        if hold_s < MIN_HOLD_S or not sub_f0_bands(f0):
            continue
        end_s = min(SUSTAIN_S[1], hold_s)
        frames = int(math.ceil(end_s * cfg.frame_rate)) + 2
        ld = course(env, cfg, eye[k], pitch, vel, frames, hold_s)
        harmonic, noise = resynthesize(model, np.full(frames, f0, np.float32), ld, means[k], seed=i, velocity=vel,
                                       hold_s=hold_s, reverb=False, split=True, **tone(k, pitch, vel), **motion(k, pitch))
        e = note_errors_db(notes.audio[i], harmonic, noise, f0, cfg.sample_rate, end_s)
        if e is not None:
            total[k] += e
            count[k] += 1
        if verbose and i % 200 == 0:
            print(f"  highpass: note {i}/{len(notes.pitch)}", flush=True)
    return total / np.maximum(count, 1)[:, None], count


def blended(ratios: np.ndarray | None, weights: np.ndarray) -> float:
    """The ratio at a latent point whose instrument blend weights are `weights` [I] (0 without a table)."""
    return 0.0 if ratios is None else float(weights @ ratios)


def read_table(model_path: Path) -> np.ndarray | None:
    """The model's `highpass.ratio` [I], or None when it has none."""
    from safetensors import safe_open

    with safe_open(str(model_path), framework="np") as f:
        return f.get_tensor("highpass.ratio") if "highpass.ratio" in f.keys() else None


def run(model_path: Path, data: Path, out: Path | None = None, write: bool = True, threads: int = 1,
        unfiltered: tuple[str, ...] = ()) -> dict:
    """`timbred-train highpass`: measure on the training notes, print, write `highpass.ratio`;
    the instruments named in `unfiltered` keep all their noise (ratio 0) whatever they measure."""
    from .export import load_exported
    from .modelfile import replace_tensors

    names = list(load_exported(Path(model_path))[0].cfg.instruments)
    unknown = [u for u in unfiltered if u not in names]
    if unknown:
        raise UserError(f"{model_path}: no instrument {', '.join(unknown)} to leave unfiltered (it has {', '.join(names)})")
    errors, count = measure(model_path, data, threads)
    chosen = np.array([RATIOS[choose(e)] if n and name not in unfiltered else 0.0
                       for e, n, name in zip(errors, count, names)], np.float32)
    print("noise below the fundamental: mean |band error| dB under "
          f"{SUB_F0:g} f0 for the high-pass at ratio × f0 = " + " ".join(f"{r:g}" for r in RATIOS))
    for i, name in enumerate(names):
        print(f"{name:16s} {count[i]:4d} notes  " + " ".join(f"{e:5.1f}" for e in errors[i])
              + f"   -> {chosen[i]:g}" + ("  (left unfiltered)" if name in unfiltered else ""))
    if write:
        replace_tensors(Path(model_path), "highpass.", {"highpass.ratio": chosen}, "highpass",
                        {"dataset": Path(data).name, "notes": int(count.sum())}, out)
        print(f"wrote highpass.ratio [{len(names)}] into {out or model_path}")
    return {"ratios": {n: float(r) for n, r in zip(names, chosen)},
            "errors_db": {n: [float(x) for x in e] for n, e in zip(names, errors)}}


def write_fixture(folder: Path) -> Path:
    """`highpass-reference.safetensors`: the filtered noise through the high-pass on fixed inputs, for
    the Swift engine's tests (model-independent): `controls.noise` [N, 17] band magnitudes (band
    limit 16 kHz), `f0_hz` [N] (a glide from 110 to 660 Hz), `ratio` [1], and per rate R in 44100,
    48000: `white.R` (torch.rand, seed 29, × 2 - 1), `audio.noise.R` = dsp.filtered_noise and
    `audio.highpass.R` = dsp.noise_highpass of it."""
    import torch
    from safetensors.numpy import save_file

    from . import dsp

    rng = np.random.default_rng(29)
    n, bands, limit, ratio = 30, 17, 16000.0, 0.7
    mags = (0.02 + 0.2 * rng.random((n, bands))).astype(np.float32)
    f0 = (110.0 * 6 ** (np.arange(n) / (n - 1))).astype(np.float32)
    out = {"controls.noise": mags, "f0_hz": f0, "ratio": np.array([ratio], np.float32),
           "band_limit_hz": np.array([limit], np.float32)}
    for rate in (44100, 48000):
        hop = int(round(rate / 100))
        white = torch.rand(1, n * hop, generator=torch.Generator().manual_seed(29)) * 2 - 1
        noise = dsp.filtered_noise(torch.as_tensor(mags)[None], white, 100, rate, limit)[0].numpy()
        out[f"white.{rate}"] = white[0].numpy()
        out[f"audio.noise.{rate}"] = noise
        out[f"audio.highpass.{rate}"] = dsp.noise_highpass(noise, f0, ratio, 100, rate)
    path = Path(folder) / "highpass-reference.safetensors"
    save_file({key: np.ascontiguousarray(v, np.float32) for key, v in out.items()}, str(path),
              metadata={"frame_rate": "100", "writer": "timbred_train.highpass.write_fixture"})
    return path
