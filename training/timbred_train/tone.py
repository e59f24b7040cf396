"""Tone balance (docs/model-format.md, "Tone balance"): how far the model played from MIDI sits
above or below the real instrument in each 1/3-octave band while a note sounds, kept as a gain
table the engine applies to the decoder's controls.

The decoder learned its spectra through a loss that weighs the loud low partials most: played
from MIDI, the band around 12.5 kHz comes out 7-18 dB below the real piano, trumpet and saxophone,
and the noise below a low note's fundamental 5-9 dB above it. Per training note: the power of the
recording and of the model played from MIDI as the engine plays it (its instrument's preset,
envelope and velocity; no room, no transient), in the transients' 28 bands, averaged over the
sustain (0.12 s after note-on to the release, at most 0.8 s); the gain is their ratio in dB where
either holds something (within FLOOR_DB of the recording's strongest band), clamped to
[MIN_DB, MAX_DB]. The gains are averaged in dB per instrument around the envelopes' pitch anchors,
per velocity anchor ([I, P, V, B]), and smoothed over neighbouring bands.

The band course follows the same bands through the whole held note: the gains measured over
each of COURSE_EDGES_S's segments (0.12-0.3 s, 0.3-0.6 s, …, 2-3 s) minus the sustain's, the same
averages, kept as `tone.course_db` [I, P, V, S, B] at the segments' centres
(`tone.course_seconds`); the engine adds it to the band gains, linear in time between the centres,
the first centre's before it and the last one's after it. A real piano's upper partials die
faster than its lower ones, so its spectrum darkens over the note; the decoder's darkens less, and
the classifier named the piano played from MIDI 0.46 of the time (`engine-check`; 0.74 with the
course; reports/default/TRAINING.md, session 15).

The engine blends the table over instruments by the model's blend rule (so morphs and encoded
presets are balanced too), interpolates pitch and velocity, and per decoded frame multiplies
harmonic k's amplitude by the gain at its frequency and noise band b's magnitude by the gain at
b's frequency (`linear_gain_at`: linear in amplitude between band centres, on a log-frequency
axis).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch

from .errors import UserError
from .transients import BANDS, band_edges_hz

SUSTAIN_S = (0.12, 0.8)  # the part of a note measured: after the transient, before the release
FLOOR_DB = -80.0  # bands this far below the recording's strongest band in both are left alone (gain 0)
MIN_DB, MAX_DB = -24.0, 18.0  # the gains' clamp
PITCH_SPAN = 12.0  # semitones: an anchor averages the notes within this distance, weighted 1 - d/span
N_FFT = 4096
ONSET_FRAMES = 60  # the onset course: 10 ms frames from note-on (600 ms: the slowest real attacks take 520 ms)
# The onset course's own pitch anchors: every key of the piano's range, each averaging the notes
# within ONSET_PITCH_SPAN semitones, the nearest where none lies that close (a note set every 2
# semitones: a key between two notes takes both halves; with the key layers every key its own).
# A SoundFont's attack changes from one sample's key range to the next (the organ
# reaches its level in 99 ms at MIDI 60 and 248 ms at 62, the horn in 76 ms at 58 and 266 ms at
# 60): the envelopes' anchors, 12 semitones apart, averaged them away.
ONSET_PITCHES = tuple(float(p) for p in range(21, 109))
ONSET_PITCH_SPAN = 1.0
ONSET_TAPER = 10  # its last 100 ms fade to the level it holds (raised cosine)
ONSET_HOLD_FRAMES = 20  # the level it holds from then on: the mean of the last 200 ms
ONSET_FLOOR_DB = -50.0  # frames this far below the recording's loudest are left alone
ONSET_MIN_DB, ONSET_MAX_DB = -30.0, 18.0
# The band course's segments (seconds after note-on): each one's band gains minus the sustain's,
# kept at the segment's centre. 3 s: the note set holds its notes that long.
COURSE_EDGES_S = (0.12, 0.3, 0.6, 1.2, 2.0, 3.0)
COURSE_LIMIT_DB = 30.0  # the course's clamp, either way
# The strike: the band balance is measured on the sustain, and the decoder's first frames are
# brighter than its sustain (the vibraphone's first 20 ms +8 dB above 6 kHz with the balance, +0.4
# without it, against FluidR3's). `tone.strike_fraction` [I] is the share of the balance at the
# note-on, rising linearly to all of it at STRIKE_RAMP_S.
STRIKE_RAMP_S = SUSTAIN_S[0]  # all of it where its measurement begins (0.12 s)
STRIKE_FRACTIONS = (0.0, 0.25, 0.5, 0.75, 1.0)  # the candidates
STRIKE_TOLERANCE_DB = 0.3  # the largest fraction within this of the least error is taken
# The strike's noise: the decoder's first frames carry more noise above 6 kHz than the real
# strikes of some instruments (the electric piano's first 20 ms 7 dB brighter than FluidR3's, the
# vibraphone's 4-5 dB, whatever share of the balance they take) and less than others' (the flute's
# breath 4 dB darker). `tone.strike_noise_db` [I] is the noise's gain at the note-on, in dB,
# linear to 0 at STRIKE_RAMP_S (the noise alone moves); chosen after the share, the value nearest
# 0 within STRIKE_TOLERANCE_DB of the least error.
STRIKE_NOISE_DB = (-18.0, -12.0, -9.0, -6.0, -3.0, 0.0, 3.0, 6.0)  # the candidates
# The strike's top per key (`timbred-train key-strikes`, keybands.py): FluidR3's strikes change
# from one sample's key range to the next (the marimba's first 20 ms above 6 kHz 16 dB too bright
# on keys 72-74 and 15 dB too dark on 76), which an instrument's share and noise gain cannot follow.
# `tone.strike_top_db` [I, P_onset, V_gain] is the gain in dB of everything from band
# STRIKE_TOP_BAND (6.3 kHz) up at the note-on (linear in amplitude to 0 dB at the band below),
# linear to 0 dB at STRIKE_RAMP_S, after the share and the noise gain.
STRIKE_TOP_BAND = 22
STRIKE_FRAMES = 8  # frames played per note to read its strike (80 ms)
STRIKE_MIN_VELOCITY = 80  # softer notes' strikes sink under the noise floor of their first 20 ms


def course_seconds() -> np.ndarray:
    """The band course's times [S]: the segments' centres."""
    e = np.asarray(COURSE_EDGES_S, np.float64)
    return (e[:-1] + e[1:]) / 2


def course_at(course_db: np.ndarray, seconds: np.ndarray, t_s: np.ndarray) -> np.ndarray:
    """The band course [T, B] at times `t_s` [T] of a note's course [S, B] kept at `seconds` [S]:
    linear between them, the first value before the first, the last after the last (the engine's)."""
    c = np.asarray(course_db, np.float64)
    return np.stack([np.interp(t_s, seconds, c[:, b]) for b in range(c.shape[1])], axis=-1)


def band_centre_position(f_hz):
    """The band position of a frequency: band b (b >= 1) is centred at 1000 · 2^((b - 14) / 3) Hz,
    so position = 3 log2(f / 1 kHz) + 14; the engine's formula too."""
    return 3.0 * np.log2(np.maximum(np.asarray(f_hz, np.float64), 1.0) / 1000.0) + 14.0


def linear_gain_at(gains_db: np.ndarray, f_hz) -> np.ndarray:
    """Amplitude gain at frequency f of a [BANDS] curve in dB: each band's gain 10^(g/20), linear
    between the centres of bands 1 … BANDS-1 on the band-position axis, constant beyond them
    (band 0, below 44 Hz, is not used). The engine's `ToneBalance`. A curve per frame, [T, BANDS],
    takes frequencies whose second-to-last axis is T (or one axis: the same in every frame)."""
    p = np.clip(band_centre_position(f_hz), 1.0, BANDS - 1.0)
    j = np.minimum(np.floor(p).astype(int), BANDS - 2)
    f = p - j
    g = 10 ** (np.asarray(gains_db, np.float64) / 20)
    if g.ndim == 1:
        return g[j] + f * (g[j + 1] - g[j])
    shape = np.broadcast_shapes(j.shape, g.shape[:-1] + (1,))
    j, f = np.broadcast_to(j, shape), np.broadcast_to(f, shape)
    g = np.broadcast_to(g, shape[:-1] + g.shape[-1:])
    lo, hi = np.take_along_axis(g, j, axis=-1), np.take_along_axis(g, j + 1, axis=-1)
    return lo + f * (hi - lo)


def noise_band_hz(n_bands: int, band_limit_hz: float) -> np.ndarray:
    """The frequency of each noise band: b · F / (B - 1) (docs/model-format.md, "Filtered noise")."""
    return np.arange(n_bands) * band_limit_hz / (n_bands - 1)


def strike_ramp(fraction: float, t_s: np.ndarray) -> np.ndarray:
    """The share of the band balance at times `t_s` after note-on: `fraction` at the note-on,
    linear to 1 at STRIKE_RAMP_S and 1 from then on (docs/model-format.md, "Tone balance")."""
    return fraction + (1.0 - fraction) * np.clip(np.asarray(t_s, np.float64) / STRIKE_RAMP_S, 0.0, 1.0)


def strike_noise_ramp(noise_db: float, t_s: np.ndarray) -> np.ndarray:
    """The strike's noise gain in dB at times `t_s` after note-on: `noise_db` at the note-on,
    linear to 0 at STRIKE_RAMP_S and 0 from then on (docs/model-format.md, "Tone balance")."""
    return noise_db * (1.0 - np.clip(np.asarray(t_s, np.float64) / STRIKE_RAMP_S, 0.0, 1.0))


def strike_top_gains_db(top_db: float, t_s: np.ndarray) -> np.ndarray:
    """The strike's top as band gains [T, BANDS] in dB at times `t_s` after note-on: `top_db` on
    the bands from STRIKE_TOP_BAND up (the strike noise's ramp: linear to 0 at STRIKE_RAMP_S), 0 under."""
    g = np.zeros((len(t_s), BANDS))
    g[:, STRIKE_TOP_BAND:] = strike_noise_ramp(top_db, t_s)[:, None]
    return g


def lift_transient(amplitudes: np.ndarray, top_db: float, frame_rate_hz: float | None = None) -> np.ndarray:
    """A note's transient amplitudes [T, BANDS] (frame t at t / frame_rate_hz s) lifted by its
    strike's top as the balance is (`strike_top_gains_db`): bands from STRIKE_TOP_BAND up by
    `top_db`, linear in dB to 0 at STRIKE_RAMP_S (the engine's `ToneTable.liftTransient`); frames at
    `transients.FRAME_RATE_HZ` unless given."""
    from .transients import FRAME_RATE_HZ

    t = np.arange(amplitudes.shape[0]) / (frame_rate_hz or FRAME_RATE_HZ)
    return np.asarray(amplitudes, np.float64) * 10 ** (strike_top_gains_db(top_db, t) / 20)


def partial_hz(f0_hz: torch.Tensor, k: int, stretch_b: float = 0.0) -> np.ndarray:
    """Where partials 1 … k of frames with fundamental `f0_hz` [..., T] sound: r_k · f0 [..., T, k]
    (`inharmonicity.stretch_ratio`, the oscillator bank's stretch)."""
    from .inharmonicity import stretch_ratio

    return f0_hz.detach().numpy().astype(np.float64)[..., None] * stretch_ratio(np.arange(1, k + 1), stretch_b)


def apply(controls: dict, gains_db: np.ndarray, f0_hz: torch.Tensor, band_limit_hz: float,
          onset_db: np.ndarray | None = None, course: tuple | None = None, frame_rate: float = 100.0,
          strike: float | None = None, strike_noise_db: float = 0.0, strike_top_db: float = 0.0,
          stretch_b: float = 0.0) -> dict:
    """The controls with the tone balance applied (the engine's rule): harmonic k at the frequency
    it sounds at, k · f0 · √(1 + B k²) with `stretch_b` B (the piano's 54th partial at MIDI 60
    sounds 569 cents above 54 · f0, 1.4 bands), noise band b at its frequency.
    `gains_db` [BANDS] for the whole note; `course` (course_db [S, BANDS], seconds [S]) the band
    course added to them, frame n at n / frame_rate s after note-on (`course_at`); `strike` the
    share of both at the note-on (`strike_ramp`; None: all of it), the frame kept at the power the
    whole gains give, and `strike_noise_db` the gain of the noise there (`strike_noise_ramp`), after
    the rest, then `strike_top_db` the gain of everything from STRIKE_TOP_BAND up there
    (`strike_top_gains_db`, the same ramp);
    `onset_db` [ONSET_FRAMES] the onset course, frame n's gain on everything of frame n (its last
    value after the course)."""
    harm = controls["harmonics"]
    k = harm.shape[-1]
    t = np.arange(harm.shape[-2]) / frame_rate
    if strike_top_db != 0.0:
        # the strike's top, after everything else (the engine's `ToneBalance.apply`)
        out = apply(controls, gains_db, f0_hz, band_limit_hz, onset_db, course, frame_rate, strike, strike_noise_db,
                    stretch_b=stretch_b)
        top = strike_top_gains_db(strike_top_db, t)  # [T, BANDS]
        f = partial_hz(f0_hz, k, stretch_b)
        hg = torch.as_tensor(linear_gain_at(top, f), dtype=harm.dtype)
        ng = torch.as_tensor(linear_gain_at(top, noise_band_hz(out["noise"].shape[-1], band_limit_hz)), dtype=harm.dtype)
        return dict(out, harmonics=(out["harmonics"] * hg).to(harm.dtype), noise=(out["noise"] * ng).to(harm.dtype))
    if course is not None:
        gains_db = np.asarray(gains_db, np.float64)[None] + course_at(course[0], course[1], t)
    if strike_noise_db != 0.0:
        # the strike's noise gain, after everything else (the engine's `ToneBalance.apply`): the
        # noise's magnitudes over-count its share of the frame's power, so it is not made up for
        out = apply(controls, gains_db, f0_hz, band_limit_hz, onset_db,
                    frame_rate=frame_rate, strike=strike, stretch_b=stretch_b)
        gain = torch.as_tensor(10 ** (strike_noise_ramp(strike_noise_db, t) / 20), dtype=harm.dtype)[:, None]
        return dict(out, noise=(out["noise"] * gain).to(harm.dtype))
    if strike is not None and strike < 1.0:
        # the strike: the share of the bands' gains in dB, each frame scaled to the power
        # (Σ harmonics² + Σ noise²) the whole gains give (the engine's `ToneBalance.apply`)
        share = strike_ramp(strike, t)
        whole = apply(controls, gains_db, f0_hz, band_limit_hz, onset_db, frame_rate=frame_rate, stretch_b=stretch_b)
        shared = apply(controls, np.broadcast_to(np.asarray(gains_db, np.float64), (len(t), BANDS)) * share[:, None],
                       f0_hz, band_limit_hz, onset_db, frame_rate=frame_rate, stretch_b=stretch_b)
        power = lambda c: (c["harmonics"].double() ** 2).sum(-1) + (c["noise"].double() ** 2).sum(-1)  # noqa: E731
        p_whole, p_shared = power(whole), power(shared)
        level = torch.where(p_shared > 0, torch.sqrt(p_whole / p_shared.clamp_min(1e-30)), torch.ones_like(p_shared))[..., None]
        out = dict(controls)
        out["harmonics"] = (shared["harmonics"] * level).to(harm.dtype)
        out["noise"] = (shared["noise"] * level).to(harm.dtype)
        return out
    f = partial_hz(f0_hz, k, stretch_b)  # [1, T, K]
    hg = torch.as_tensor(linear_gain_at(gains_db, f), dtype=harm.dtype)
    nb = controls["noise"].shape[-1]
    ng = torch.as_tensor(linear_gain_at(gains_db, noise_band_hz(nb, band_limit_hz)), dtype=harm.dtype)
    if onset_db is not None:
        frames = harm.shape[-2]
        o = np.full(frames, float(onset_db[-1]))  # the course's last value holds after it
        m = min(frames, len(onset_db))
        o[:m] = onset_db[:m]
        og = torch.as_tensor(10 ** (o / 20), dtype=harm.dtype)[None, :, None]
        hg, ng = hg * og, ng * og
    out = dict(controls)
    out["harmonics"] = harm * hg
    out["noise"] = controls["noise"] * ng
    return out


def sustain_band_power(audio: np.ndarray, sample_rate: int, end_s: float,
                       start_s: float = SUSTAIN_S[0]) -> np.ndarray:
    """Mean power [BANDS] of `audio` in the bands over Hann frames of N_FFT samples between
    `start_s` (default: the sustain's start) and `end_s` (hop N_FFT / 4), per sample (a sinusoid
    of amplitude A gives A²/2 at any rate)."""
    a = int(start_s * sample_rate)
    b = max(a + N_FFT, int(end_s * sample_rate))
    x = np.asarray(audio[a:b], np.float64)
    if len(x) < N_FFT:
        x = np.concatenate([x, np.zeros(N_FFT - len(x))])
    w = np.hanning(N_FFT)
    starts = range(0, len(x) - N_FFT + 1, N_FFT // 4)
    spec = np.mean([np.abs(np.fft.rfft(x[s:s + N_FFT] * w)) ** 2 for s in starts], axis=0) * 2 / (N_FFT * (w ** 2).sum())
    f = np.fft.rfftfreq(N_FFT, 1.0 / sample_rate)
    which = np.searchsorted(band_edges_hz(), f, side="right") - 1
    return np.array([spec[which == b].sum() for b in range(BANDS)])


def note_gains_db(recording: np.ndarray, played: np.ndarray, sample_rate: int, end_s: float,
                  start_s: float = SUSTAIN_S[0], min_db: float = MIN_DB) -> np.ndarray:
    """One note's gains [BANDS] between `start_s` and `end_s`: recording over played, in dB, where
    either band is within FLOOR_DB of the recording's strongest band (else 0), clamped to
    [min_db, MAX_DB]; bands above Nyquist 0."""
    r = sustain_band_power(recording, sample_rate, end_s, start_s)
    p = sustain_band_power(played, sample_rate, end_s, start_s)
    floor = r.max() * 10 ** (FLOOR_DB / 10) + 1e-20
    g = 10 * np.log10((r + floor) / (p + floor))
    g[(r < floor) & (p < floor)] = 0.0
    g[band_edges_hz()[:-1] >= sample_rate / 2] = 0.0
    return np.clip(g, min_db, MAX_DB)


def note_course_db(recording: np.ndarray, played: np.ndarray, sample_rate: int, hold_s: float,
                   sustain_db: np.ndarray) -> np.ndarray:
    """One note's band course [S, BANDS]: each COURSE_EDGES_S segment's gains (`note_gains_db`)
    minus the sustain's `sustain_db`, clamped to ±COURSE_LIMIT_DB; a segment that starts after the
    release (a note held shorter than the segments) repeats the one before."""
    e = COURSE_EDGES_S
    out = np.zeros((len(e) - 1, BANDS), np.float32)
    for s in range(len(e) - 1):
        if s > 0 and e[s] >= hold_s - 0.05:
            out[s] = out[s - 1]
            continue
        g = note_gains_db(recording, played, sample_rate, min(e[s + 1], hold_s), start_s=e[s],
                          min_db=-COURSE_LIMIT_DB - 12)
        out[s] = np.clip(g - sustain_db, -COURSE_LIMIT_DB, COURSE_LIMIT_DB)
    return out


def reference_audio(notes, reference: Path) -> tuple[list[np.ndarray], int]:
    """The recordings of `notes` in another rendering of the same note set (e.g. the SoundFont
    rendered at 48 kHz for a 32 kHz model: FluidSynth's filter darkens a 32 kHz rendering by 5-6
    dB at 12.5 kHz), matched by instrument, pitch and velocity, at that set's own rate."""
    from .dataset import load_manifest, read_audio
    from .errors import UserError

    rate, manifest = load_manifest(reference)
    by_key = {(n.instrument, int(n.pitch), int(n.velocity)): n.file for n in manifest}
    out = []
    for i in range(len(notes.pitch)):
        key = (notes.instruments[int(notes.instrument[i])], int(notes.pitch[i]), int(notes.velocity[i]))
        if key not in by_key:
            raise UserError(f"{reference}: no note {key[0]} {key[1]} velocity {key[2]} (the reference must hold "
                            "the same notes as the model's note set)")
        out.append(read_audio(reference / "audio" / by_key[key], rate))
    return out, rate


def measure_notes(model, env: dict, notes, verbose: bool = True, reference: Path | None = None,
                  with_course: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Gains [N, BANDS] and band courses [N, S, BANDS] of every note against the model played from
    MIDI (its instrument's preset point, envelope and velocity, released when the recording's note
    was; no room), both at the rate of `reference`'s recordings when given (see
    `reference_audio`), else at the model's. `with_course` False: the sustain only (the courses
    are zeros)."""
    from .envelope import course
    from .evaluate import resynthesize

    cfg = model.cfg
    recordings, sr = reference_audio(notes, reference) if reference is not None else (notes.audio, cfg.sample_rate)
    means = model.prior_mu.detach().numpy()
    eye = np.eye(len(means))
    out = np.zeros((len(notes.pitch), BANDS), np.float32)
    courses = np.zeros((len(notes.pitch), len(COURSE_EDGES_S) - 1, BANDS), np.float32)
    for i in range(len(notes.pitch)):
        k, pitch, vel = int(notes.instrument[i]), float(notes.pitch[i]), float(notes.velocity[i])
        hold_s = int(notes.hold_frames[i]) / cfg.frame_rate
        end_s = min(SUSTAIN_S[1], hold_s)
        course_end_s = min(COURSE_EDGES_S[-1], hold_s) if with_course else end_s
        frames = int(math.ceil(max(course_end_s, SUSTAIN_S[0] + N_FFT / sr) * cfg.frame_rate)) + 2
        f0 = np.full(frames, 440.0 * 2 ** ((pitch - 69) / 12), np.float32)
        ld = course(env, cfg, eye[k], pitch, vel, frames, hold_s)
        played = resynthesize(model, f0, ld, means[k], seed=i, velocity=vel, hold_s=hold_s, reverb=False,
                              sample_rate=sr)
        out[i] = note_gains_db(recordings[i], played, sr, end_s)
        if with_course:
            courses[i] = note_course_db(recordings[i], played, sr, hold_s, out[i])
        if verbose and i % 200 == 0:
            print(f"  tone: note {i}/{len(notes.pitch)}", flush=True)
    return out, courses


def onset_window(hop: int, period: float | None) -> int:
    """Samples of an onset frame's level window: a whole number of the note's periods (`period`,
    samples; None: one hop), as many as come nearest to one hop, at least one. Over a whole number
    of periods a held note's power does not depend on where the window starts; over one hop it
    does (a hop is 0.55 of the period of MIDI 33): the level of a low note rippled by 3-10 dB from
    frame to frame, in the recording and in the model each at its own phase, and the course, their
    difference, put that ripple onto the note as a 25-50 Hz buzz (the electric piano's key 37 had
    a band between its first two partials 45 dB above FluidR3's)."""
    if period is None or period <= 0:
        return hop
    return max(1, int(round(max(1, round(hop / period)) * period)))


def onset_level_db(audio: np.ndarray, hop: int, period: float | None = None, frames: int = ONSET_FRAMES) -> np.ndarray:
    """Level [frames] in dB of frames centred on n · hop, each `onset_window(hop, period)`
    samples long (zeros before the start)."""
    w = onset_window(hop, period)
    x = np.concatenate([np.zeros(w // 2), np.asarray(audio, np.float64), np.zeros(frames * hop + w)])
    energy = np.concatenate([[0.0], np.cumsum(x ** 2)])
    starts = np.arange(frames) * hop
    return 10 * np.log10((energy[starts + w] - energy[starts]) / w + 1e-20)


def onset_taper() -> np.ndarray:
    """Per-frame weight of the onset course's own shape: 1, then a raised cosine to 0 over the
    last frames (where the course reaches the level it holds)."""
    w = np.ones(ONSET_FRAMES)
    j = np.arange(ONSET_TAPER)
    w[ONSET_FRAMES - ONSET_TAPER:] = 0.5 + 0.5 * np.cos(np.pi * (j + 1) / ONSET_TAPER)
    return w


def note_onset_db(recording: np.ndarray, played: np.ndarray, hop: int, period: float | None = None) -> np.ndarray:
    """One note's onset course [ONSET_FRAMES]: recording over played per frame (levels over whole
    periods of the note, `period` samples: `onset_level_db`) in dB where either
    is within ONSET_FLOOR_DB of the recording's loudest frame (else 0), clamped; its last frames
    taper to the mean of the last ONSET_HOLD_FRAMES, the level the engine holds after the course
    (so a key whose level differs from its neighbours' keeps the difference for the whole note,
    not only for the first 600 ms: a step down at 600 ms was 3 dB on a 48 kHz alto sax)."""
    r, p = onset_level_db(recording, hop, period), onset_level_db(played, hop, period)
    g = np.clip(r - p, ONSET_MIN_DB, ONSET_MAX_DB)
    g[np.maximum(r, p) < r.max() + ONSET_FLOOR_DB] = 0.0
    hold = float(g[-ONSET_HOLD_FRAMES:].mean())
    w = onset_taper()
    return w * g + (1 - w) * hold


def measure_onsets(model, env: dict, notes, band_table: np.ndarray, meta: dict, verbose: bool = True,
                   course_table: np.ndarray | None = None, band_velocities=None, band_pitches=None) -> np.ndarray:
    """Onset courses [N, ONSET_FRAMES] of every note against the model played from MIDI with the
    band balance `band_table` (and the band course `course_table`) applied (its preset point,
    envelope and velocity; no room, no transient), at the model's rate."""
    from .envelope import course
    from .evaluate import resynthesize

    cfg = model.cfg
    means = model.prior_mu.detach().numpy()
    eye = np.eye(len(means))
    rule, scale = meta.get("envelope_blend", "gaussian"), float(meta["envelope_blend_scale"])
    out = np.zeros((len(notes.pitch), ONSET_FRAMES), np.float32)
    for i in range(len(notes.pitch)):
        k, pitch, vel = int(notes.instrument[i]), float(notes.pitch[i]), float(notes.velocity[i])
        hold_s = int(notes.hold_frames[i]) / cfg.frame_rate
        f0 = np.full(ONSET_FRAMES + 2, 440.0 * 2 ** ((pitch - 69) / 12), np.float32)
        ld = course(env, cfg, eye[k], pitch, vel, len(f0), hold_s)
        bands = lookup(band_table, band_pitches or cfg.env_pitches, band_velocities or cfg.env_velocities, means,
                       scale, rule,
                       means[k], pitch, vel)
        band_course = None if course_table is None else (
            lookup_course(course_table, cfg.env_pitches, course_velocities(course_table, band_velocities, cfg),
                          means, scale, rule, means[k], pitch, vel),
            course_seconds())
        played = resynthesize(model, f0, ld, means[k], seed=i, velocity=vel, hold_s=hold_s, reverb=False,
                              tone_db=bands, course_db=band_course)
        out[i] = note_onset_db(notes.audio[i], played, cfg.hop, period=cfg.sample_rate / float(f0[0]))
        if verbose and i % 400 == 0:
            print(f"  onset: note {i}/{len(notes.pitch)}", flush=True)
    return out


def build_table(gains: np.ndarray, instrument: np.ndarray, pitch: np.ndarray, velocity: np.ndarray,
                n_instruments: int, pitch_anchors, velocity_anchors, smooth: bool = True,
                pitch_span: float | None = None) -> np.ndarray:
    """Gains [I, P, V, X] at the anchors (X: bands, or onset frames), averaged over an
    instrument's notes as the transients are (`transients.build_table`, with `pitch_span` when
    given), then with `smooth` smoothed over X with (1/4, 1/2, 1/4)."""
    from .transients import build_table as anchor_table

    table = anchor_table(gains, instrument, pitch, velocity, n_instruments, pitch_anchors, velocity_anchors,
                         span=pitch_span)
    if not smooth:
        return table
    padded = np.concatenate([table[..., :1], table, table[..., -1:]], axis=-1)
    return (0.25 * padded[..., :-2] + 0.5 * padded[..., 1:-1] + 0.25 * padded[..., 2:]).astype(np.float32)


def lookup(table: np.ndarray, pitch_anchors, velocity_anchors, means: np.ndarray, scale: float, rule: str,
           z: np.ndarray, pitch: float, velocity: float) -> np.ndarray:
    """A note's gains [X] of a [I, P, V, X] table (the band gains, or the onset course): the
    transients' lookup, the engine's."""
    from .transients import lookup as anchor_lookup

    return anchor_lookup(table, pitch_anchors, velocity_anchors, means, scale, rule, z, pitch, velocity)


def lookup_course(table: np.ndarray, pitch_anchors, velocity_anchors, means: np.ndarray, scale: float, rule: str,
                  z: np.ndarray, pitch: float, velocity: float) -> np.ndarray:
    """A note's band course [S, BANDS] of a [I, P, V, S, BANDS] table (`lookup` over S · BANDS)."""
    i, p, v, n, b = table.shape
    return lookup(table.reshape(i, p, v, n * b), pitch_anchors, velocity_anchors, means, scale, rule, z, pitch,
                  velocity).reshape(n, b)


def build_course_table(courses: np.ndarray, instrument: np.ndarray, pitch: np.ndarray, velocity: np.ndarray,
                       n_instruments: int, pitch_anchors, velocity_anchors) -> np.ndarray:
    """The band course table [I, P, V, S, BANDS] from every note's course [N, S, BANDS]: each
    segment's gains averaged and smoothed over bands as the band table's (`build_table`)."""
    return np.stack([build_table(courses[:, s], instrument, pitch, velocity, n_instruments, pitch_anchors,
                                 velocity_anchors) for s in range(courses.shape[1])], axis=3)


def read_table(model_path: Path, name: str = "tone.gain_db"):
    """The model file's `tone.gain_db` (or another `tone.*` tensor), or None."""
    from safetensors import safe_open

    with safe_open(str(model_path), framework="np") as f:
        return f.get_tensor(name) if name in f.keys() else None


def onset_pitches(model_path: Path, cfg) -> list[float]:
    """The pitch anchors of the file's `tone.onset_db`: `tone.onset_pitches`, else (a file of
    session 12) the envelopes' anchors."""
    p = read_table(model_path, "tone.onset_pitches")
    return [float(x) for x in p] if p is not None else list(cfg.env_pitches)


def run(model_path: Path, data: Path, out: Path | None = None, write: bool = True, threads: int = 1,
        reference: Path | None = None, keep_bands: bool = False, key_layers: Path | None = None) -> dict:
    """`timbred-train tone`: measure every train note's band balance (`cache.training_notes`) against the model played from MIDI
    (without any earlier tone table; `keep_bands`: keep the file's), build the table, then every
    note's onset course against the balanced model, build that table, write both into the model.
    Returns the figures."""
    from .cache import load_or_build, training_notes
    from .export import load_exported

    torch.set_num_threads(threads)
    model, env, meta = load_exported(Path(model_path))
    cfg = model.cfg
    notes = training_notes(load_or_build(Path(data), cfg))
    centres = [1000 * 2 ** ((b - 14) / 3) for b in range(BANDS)]
    p60 = list(cfg.env_pitches).index(60) if 60 in cfg.env_pitches else 0
    v100 = int(np.argmin(np.abs(np.asarray(cfg.env_velocities) - 100)))
    figures = {"notes": len(notes.pitch), "instruments": {n: {} for n in cfg.instruments}}
    band_velocities, band_pitches = list(cfg.env_velocities), list(cfg.env_pitches)
    if keep_bands and read_table(Path(model_path)) is not None:
        table = read_table(Path(model_path))
        course_table = read_table(Path(model_path), "tone.course_db")
        band_velocities = gain_velocities(Path(model_path), cfg)
        band_pitches = gain_pitches(Path(model_path), cfg)
        print(f"keeping the band balance of {model_path}")
    else:
        print(f"measuring the tone balance of {len(notes.pitch)} notes of {data}", flush=True)
        gains, courses = measure_notes(model, env, notes, reference=reference)
        table = build_table(gains, notes.instrument, notes.pitch, notes.velocity, len(cfg.instruments),
                            cfg.env_pitches, cfg.env_velocities)
        course_table = build_course_table(courses, notes.instrument, notes.pitch, notes.velocity,
                                          len(cfg.instruments), cfg.env_pitches, cfg.env_velocities)
    show = [2, 8, 14, 20, 23, 25]
    b100 = int(np.argmin(np.abs(np.asarray(band_velocities) - 100)))
    print(f"band gain dB at MIDI {cfg.env_pitches[p60]}, velocity anchor {band_velocities[b100]}: "
          + " ".join(f"{centres[b]:.0f}Hz" for b in show))
    g60 = band_pitches.index(60.0) if 60.0 in band_pitches else p60
    for i, name in enumerate(cfg.instruments):
        row = table[i, g60, b100]
        figures["instruments"][name]["bands_db"] = {f"{centres[b]:.0f}": float(row[b]) for b in show}
        print(f"{name:16s} " + " ".join(f"{row[b]:+6.1f}" for b in show))
    if write and not keep_bands:
        # the band balance first (a file without an onset course plays), so that `--keep-bands`
        # resumes from here
        first = {"tone.gain_db": table}
        if course_table is not None:
            first.update({"tone.course_db": course_table, "tone.course_seconds": course_seconds().astype(np.float32)})
        _write(Path(model_path), first, {"notes": len(notes.pitch), "dataset": Path(data).name, "onset": "pending"}, out)
        model_path, out = Path(out or model_path), None
    if course_table is not None:
        secs = course_seconds()
        print(f"band course dB at MIDI {cfg.env_pitches[p60]}, velocity anchor {cfg.env_velocities[v100]}, at "
              + " / ".join(f"{t:.2f}" for t in secs) + " s: bands " + " ".join(f"{centres[b]:.0f}Hz" for b in show))
        for i, name in enumerate(cfg.instruments):
            rows = course_table[i, p60, v100]
            figures["instruments"][name]["course_db"] = {f"{t:.2f}": {f"{centres[b]:.0f}": float(rows[s, b])
                                                                      for b in show} for s, t in enumerate(secs)}
            print(f"{name:16s} " + " | ".join(" ".join(f"{rows[s, b]:+5.1f}" for b in show) for s in range(len(secs))))
    print(f"measuring the onset course of {len(notes.pitch)} notes", flush=True)
    onset_notes = notes
    if key_layers is not None:
        # every key has notes of its own, and a key's course is its own notes' alone (span 1). Until
        # session 23 its neighbours weighed 1/2 beside them: a single note per velocity made the
        # first 100 ms jagged, but that was the 10 ms frames' ripple (`onset_window`); measured over
        # whole periods, its own notes give the trombone's key 44 an attack of 120 ms against the
        # real 123 (82 with its neighbours), the organ's key 87 112 against 276 (78; `playing`'s
        # measure averaged over 8 start offsets)
        onset_notes = _joined(notes, _manifest_notes(Path(key_layers), cfg))
        print(f"  with the {len(onset_notes.pitch) - len(notes.pitch)} notes of {key_layers}: every key's own notes")
    onsets = measure_onsets(model, env, onset_notes, table, meta, course_table=course_table,
                            band_velocities=band_velocities, band_pitches=band_pitches)
    onset_table = build_table(onsets, onset_notes.instrument, onset_notes.pitch, onset_notes.velocity,
                              len(cfg.instruments), ONSET_PITCHES, cfg.env_velocities, smooth=False,
                              pitch_span=ONSET_PITCH_SPAN)
    o60 = ONSET_PITCHES.index(60.0)
    print(f"onset gain dB at MIDI 60, velocity anchor {cfg.env_velocities[v100]}: "
          "frames 0 / 1 / 2 / 5 / 10 / 20 / 40 (10 ms each)")
    for i, name in enumerate(cfg.instruments):
        row = onset_table[i, o60, v100]
        figures["instruments"][name]["onset_db"] = [float(row[n]) for n in (0, 1, 2, 5, 10, 20, 40)]
        print(f"{name:16s} " + " ".join(f"{row[n]:+6.1f}" for n in (0, 1, 2, 5, 10, 20, 40)))
    if write:
        info = {"notes": len(notes.pitch), "dataset": Path(data).name,
                "reference": Path(reference).name if reference is not None else Path(data).name}
        tables = {"tone.gain_db": table, "tone.onset_db": onset_table,
                  "tone.onset_pitches": np.asarray(ONSET_PITCHES, np.float32)}
        if course_table is not None:
            tables.update({"tone.course_db": course_table, "tone.course_seconds": course_seconds().astype(np.float32)})
        if band_velocities != list(cfg.env_velocities):
            tables["tone.gain_velocities"] = np.asarray(band_velocities, np.float32)
        if band_pitches != list(cfg.env_pitches):
            tables["tone.gain_pitches"] = np.asarray(band_pitches, np.float32)
        _write(Path(model_path), tables, info, out)
        print(f"wrote " + ", ".join(f"{k} {list(v.shape)}" for k, v in tables.items()) + f" into {out or model_path}")
    figures.update(table=table, onset_table=onset_table, course_table=course_table)
    return figures


def _manifest_notes(data: Path, cfg):
    """A note set's notes with their audio at the model's rate, from its manifest (no feature
    cache: layers are only measured, never trained on; `engine_check._NoteAudio`)."""
    from .engine_check import _NoteAudio

    return _NoteAudio(Path(data), cfg.sample_rate, list(cfg.instruments), cfg.frame_rate)


def _joined(notes, more):
    """Two note sets as one, for `measure_onsets` (both at the model's rate)."""
    from types import SimpleNamespace

    names = list(notes.instruments)
    instrument = np.array([names.index(more.instruments[int(k)]) for k in more.instrument], int)
    return SimpleNamespace(instruments=names, audio=list(notes.audio) + list(more.audio),
                           instrument=np.concatenate([np.asarray(notes.instrument), instrument]),
                           **{k: np.concatenate([np.asarray(getattr(notes, k)), getattr(more, k)])
                              for k in ("pitch", "velocity", "hold_frames")})


def course_velocities(course_table: np.ndarray, band_velocities, cfg) -> list[float]:
    """The velocity anchors of a course table [I, P, V, ...] (the band course, the onset course),
    as the engine reads them: the band gains' own when they are more than the envelopes' and the
    course has as many (measured at the velocity layers too), else the envelopes' (band courses
    before session 22, onset courses before session 34)."""
    band, env = list(band_velocities or cfg.env_velocities), list(cfg.env_velocities)
    return band if len(band) != len(env) and course_table.shape[2] == len(band) else env


def gain_pitches(model_path: Path, cfg) -> list[float]:
    """The pitch anchors of the file's `tone.gain_db`: `tone.gain_pitches` when it has them (the
    shipped file: every key, written by `timbred-train key-bands`), else the envelopes'."""
    p = read_table(model_path, "tone.gain_pitches")
    return [float(x) for x in p] if p is not None else list(cfg.env_pitches)


def gain_velocities(model_path: Path, cfg) -> list[float]:
    """The velocity anchors of the file's `tone.gain_db`: `tone.gain_velocities`, else the
    envelopes'."""
    v = read_table(model_path, "tone.gain_velocities")
    return [float(x) for x in v] if v is not None else list(cfg.env_velocities)


def onset_velocities(model_path: Path, cfg) -> list[float]:
    """The velocity anchors of the file's `tone.onset_db`, as the engine reads them: the band
    gains' own when the course has as many and they are more than the envelopes' (a course set at
    the velocity layers too, `key-onsets --gain-velocities`, session 34), else the envelopes'."""
    onset = read_table(model_path, "tone.onset_db")
    if onset is None or read_table(model_path, "tone.onset_pitches") is None:
        return list(cfg.env_velocities)
    return course_velocities(onset, gain_velocities(model_path, cfg), cfg)


def read_at_anchors(table: np.ndarray, anchors, at, axis: int) -> np.ndarray:
    """A table whose `axis` lies on `anchors` (increasing) read at each of `at` instead, as the
    engine's lookup reads it (linear between anchors, the first and last anchor's value outside
    them), in float64."""
    from .envelope import anchor_axis

    table = np.moveaxis(np.asarray(table, np.float64), axis, 0)
    rows = []
    for x in at:
        j, f = anchor_axis(anchors, float(x))
        f = float(np.clip(f, 0.0, 1.0))
        rows.append((1 - f) * table[j] + f * table[j + 1])
    return np.moveaxis(np.stack(rows), 0, axis)


def widened_velocities(table: np.ndarray, have: list[float], new: list[float]) -> np.ndarray:
    """A table [I, P, V, ...] on velocity anchors `have` on anchors `new` instead (every one of
    `have` among them, `read_at_anchors`): the lookup gives the same at every velocity."""
    if not {float(v) for v in have} <= {float(v) for v in new}:
        raise ValueError(f"velocity anchors {list(have)} are not all among {list(new)}")
    return read_at_anchors(table, have, new, axis=2)


def merge_velocity_layers(table: np.ndarray, have: list[float], layer: np.ndarray,
                          new: list[float]) -> tuple[np.ndarray, list[float]]:
    """A [I, P, V, B] table on velocity anchors `have` and a [I, P, V_new, B] one on `new` as one
    table on both anchors, increasing."""
    order = np.argsort(np.asarray(list(have) + list(new)), kind="stable")
    merged = np.concatenate([table, layer], axis=2)[:, :, order]
    return merged, [float((list(have) + list(new))[j]) for j in order]


def add_velocity_layers(model_path: Path, layers: Path, out: Path | None = None, write: bool = True,
                        threads: int = 1) -> dict:
    """`timbred-train tone --velocity-layers DIR`: the band gains of DIR's notes (the same
    instruments and pitches at velocities the note set lacks, e.g. 64 and 100: FluidSynth's
    velocity-to-brightness curve is not the decoder's, and a table interpolated in dB between 80
    and 120 left the trumpet's 8-16 kHz 7-11 dB dull at 100) against the model played from MIDI
    without a tone balance, merged into the file's `tone.gain_db` as velocity anchors of its own
    (`tone.gain_velocities`); everything else as it was. Returns the figures."""
    from .cache import training_notes
    from .export import load_exported

    torch.set_num_threads(threads)
    model, env, meta = load_exported(Path(model_path))
    cfg = model.cfg
    if read_table(Path(model_path), "tone.gain_pitches") is not None:
        raise UserError(f"{model_path}: its band gains are on pitch anchors of their own (tone.gain_pitches); "
                        "velocity layers are measured on the envelopes' anchors")
    table = read_table(Path(model_path))
    if table is None:
        from .errors import UserError
        raise UserError(f"{model_path}: no tone.gain_db to add velocity layers to (run `timbred-train tone` first)")
    notes = _manifest_notes(Path(layers), cfg)
    new = sorted(set(float(v) for v in notes.velocity) - set(float(v) for v in cfg.env_velocities))
    # layers the file already has are measured again (the command can be run again on its output)
    have_all = gain_velocities(Path(model_path), cfg)
    keep = [j for j, v in enumerate(have_all) if v not in new]
    have = [have_all[j] for j in keep]
    course_table = read_table(Path(model_path), "tone.course_db")
    if course_table is not None and course_table.shape[2] == len(have_all):
        course_table = course_table[:, :, keep]
    table = table[:, :, keep]
    # the train split's pitches only: the held-out ones stay unheard
    sub = training_notes(notes.subset(np.isin(notes.velocity.astype(float), new)))
    print(f"measuring the band balance of {len(sub.pitch)} notes of {layers} at velocities {new}", flush=True)
    with_course = course_table is not None and course_table.shape[2] == len(have)
    gains, courses = measure_notes(model, env, sub, with_course=with_course)
    layer = build_table(gains, sub.instrument, sub.pitch, sub.velocity, len(cfg.instruments), cfg.env_pitches, new)
    merged, anchors = merge_velocity_layers(table, have, layer, new)
    tensors = {"tone.gain_db": merged.astype(np.float32), "tone.gain_velocities": np.asarray(anchors, np.float32)}
    if with_course:
        # the band course at the layers too: the decoder between its trained velocities has a
        # course of its own (the violin A4 at velocity 100 swells 1.5 dB from 0.5 to 1 s, flat at 80
        # and 120), which a course interpolated between 80 and 120 leaves in
        layer_course = build_course_table(courses, sub.instrument, sub.pitch, sub.velocity, len(cfg.instruments),
                                          cfg.env_pitches, new)
        layer_course = within_onset_as_before(layer_course, course_table, have, new, cfg.frame_rate)
        s, b = course_table.shape[3:]
        merged_course, _ = merge_velocity_layers(course_table.reshape(*course_table.shape[:3], s * b), have,
                                                 layer_course.reshape(*layer_course.shape[:3], s * b), new)
        tensors["tone.course_db"] = merged_course.reshape(*merged_course.shape[:3], s, b).astype(np.float32)
    figures = {"velocities": anchors, "instruments": {}}
    show = [20, 22, 23, 24, 25]
    centres = [1000 * 2 ** ((b - 14) / 3) for b in range(BANDS)]
    p60 = list(cfg.env_pitches).index(60) if 60 in cfg.env_pitches else 0
    print(f"band gain dB at MIDI {cfg.env_pitches[p60]} per velocity anchor {anchors}: bands "
          + " ".join(f"{centres[b]:.0f}Hz" for b in show))
    for i, name in enumerate(cfg.instruments):
        rows = merged[i, p60]
        figures["instruments"][name] = {f"{v:g}": {f"{centres[b]:.0f}": float(rows[j, b]) for b in show}
                                        for j, v in enumerate(anchors)}
        print(f"{name:16s} " + " | ".join(" ".join(f"{rows[j, b]:+5.1f}" for b in show) for j in range(len(anchors))))
    if write:
        from .modelfile import replace_tensors
        replace_tensors(Path(model_path), "tone.gain_", tensors, "tone_velocity_layers",
                        {"notes": len(sub.pitch), "dataset": Path(layers).name, "velocities": new,
                         "course": with_course}, out)
        print("wrote " + ", ".join(f"{k} {list(v.shape)}" for k, v in tensors.items())
              + f" (velocities {anchors}) into {out or model_path}")
    figures["table"] = merged
    return figures


def within_onset_as_before(layer_course: np.ndarray, course_table: np.ndarray, have: list[float], new: list[float],
                           frame_rate: float) -> np.ndarray:
    """A velocity layer's band course [I, P, V_new, S, B] with its times inside the onset course's
    span (ONSET_FRAMES) read between its neighbouring anchors' courses, as before the layer had a
    course: the onset course at a layer's velocity is read between its neighbours', measured with
    their courses, so a course of the layer's own there counts twice (the cello's key 41 at velocity
    100 reached its level in 243 ms instead of 187; FluidR3 152)."""
    from .envelope import anchor_axis

    out = np.array(layer_course, copy=True)
    early = course_seconds() < ONSET_FRAMES / frame_rate
    for j, v in enumerate(new):
        m, f = anchor_axis(have, v)
        between = (1 - f) * course_table[:, :, m] + f * course_table[:, :, m + 1]
        out[:, :, j][:, :, early] = between[:, :, early]
    return out


def _write(path: Path, tables: dict[str, np.ndarray], info: dict, out: Path | None) -> None:
    """Writes the `tone.*` tensors into the model file (replacing earlier ones), with a `tone`
    metadata key; everything else as it was."""
    from .modelfile import replace_tensors

    replace_tensors(path, "tone.", tables, "tone", info, out)


def measure_strike(model_path: Path, data: Path, verbose: bool = True,
                   candidates=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean |strike error| [I, C] in dB, mean strike error [I, C] (timbred minus the recording,
    dB) and notes counted [I]: every train note of velocity
    STRIKE_MIN_VELOCITY or more, its first STRIKE_FRAMES frames played from MIDI as the engine
    plays them (the file's tone balance with each of the instrument's C candidate (share, noise
    dB) pairs at the note-on, `candidates(k)`, by default each of STRIKE_FRACTIONS with the
    decoder's own noise; no room, no transient), `playing.strike_db` (power above 6 kHz in the first 20 ms)
    against the recording's."""
    from .cache import load_or_build, training_notes
    from .envelope import course
    from .evaluate import _tone_lookup, resynthesize
    from .export import load_exported
    from .playing import strike_db

    model, env, meta = load_exported(Path(model_path))
    cfg = model.cfg
    if read_table(Path(model_path)) is None:
        raise UserError(f"{model_path}: no tone balance (tone.gain_db) to measure the strike of: run `timbred-train tone` first")
    candidates = candidates or (lambda k: [(f, 0.0) for f in STRIKE_FRACTIONS])
    notes = training_notes(load_or_build(Path(data), cfg))
    tone = _tone_lookup(Path(model_path), model, meta)
    means = model.prior_mu.detach().numpy()
    eye = np.eye(len(means))
    errors = np.zeros((len(cfg.instruments), len(candidates(0))))
    signed = np.zeros_like(errors)
    count = np.zeros(len(cfg.instruments), int)
    for i in range(len(notes.pitch)):
        k, pitch, vel = int(notes.instrument[i]), float(notes.pitch[i]), float(notes.velocity[i])
        if vel < STRIKE_MIN_VELOCITY:
            continue
        hold_s = int(notes.hold_frames[i]) / cfg.frame_rate
        f0 = np.full(STRIKE_FRAMES, 440.0 * 2 ** ((pitch - 69) / 12), np.float32)
        ld = course(env, cfg, eye[k], pitch, vel, STRIKE_FRAMES, hold_s)
        real = strike_db(np.asarray(notes.audio[i][: STRIKE_FRAMES * cfg.hop]))
        balance = tone(k, pitch, vel)
        for j, (fraction, noise_db) in enumerate(candidates(k)):
            played = resynthesize(model, f0, ld, means[k], seed=i, velocity=vel, hold_s=hold_s, reverb=False,
                                  **(balance | {"strike": fraction, "strike_noise_db": noise_db}))
            errors[k, j] += abs(strike_db(played) - real)
            signed[k, j] += strike_db(played) - real
        count[k] += 1
        if verbose and i % 400 == 0:
            print(f"  strike: note {i}/{len(notes.pitch)}", flush=True)
    return errors / np.maximum(count, 1)[:, None], signed / np.maximum(count, 1)[:, None], count


def choose_strike(errors: np.ndarray) -> float:
    """The largest of STRIKE_FRACTIONS whose error is within STRIKE_TOLERANCE_DB of the least (the
    whole balance unless less of it is clearly better)."""
    e = np.asarray(errors, np.float64)
    return float(STRIKE_FRACTIONS[int(np.flatnonzero(e <= e.min() + STRIKE_TOLERANCE_DB)[-1])])


def choose_strike_noise(errors: np.ndarray) -> float:
    """The value of STRIKE_NOISE_DB nearest 0 whose error is within STRIKE_TOLERANCE_DB of the
    least (the noise as the decoder makes it unless another level is clearly better)."""
    e = np.asarray(errors, np.float64)
    near = np.flatnonzero(e <= e.min() + STRIKE_TOLERANCE_DB)
    return float(STRIKE_NOISE_DB[int(near[np.argmin(np.abs(np.asarray(STRIKE_NOISE_DB)[near]))])])


def add_strike(model_path: Path, data: Path, out: Path | None = None, write: bool = True) -> dict:
    """`timbred-train tone --strike`: measure the balance's share at the note-on per instrument
    (`measure_strike`, `choose_strike`), then with it the noise's gain there (`choose_strike_noise`),
    print, write `tone.strike_fraction` [I] and `tone.strike_noise_db` [I] beside the file's other
    `tone.*` tensors."""
    from safetensors import safe_open

    from .export import load_exported

    names = list(load_exported(Path(model_path))[0].cfg.instruments)
    errors, _, count = measure_strike(model_path, data)
    chosen = np.array([choose_strike(e) if n else 1.0 for e, n in zip(errors, count)], np.float32)
    print("strike: mean |error| of the power above 6 kHz in the first 20 ms, dB, with the band balance's share at "
          "the note-on = " + " ".join(f"{f:g}" for f in STRIKE_FRACTIONS))
    for i, name in enumerate(names):
        print(f"{name:16s} {count[i]:4d} notes  " + " ".join(f"{e:5.1f}" for e in errors[i]) + f"   -> {chosen[i]:g}")
    noise_errors, noise_bias, _ = measure_strike(model_path, data, candidates=lambda k: [(float(chosen[k]), n) for n in STRIKE_NOISE_DB])
    noise = np.array([choose_strike_noise(e) if n else 0.0 for e, n in zip(noise_errors, count)], np.float32)
    print("strike: the same with that share and the noise's gain at the note-on = "
          + " ".join(f"{n:+g}" for n in STRIKE_NOISE_DB) + " dB")
    for i, name in enumerate(names):
        print(f"{name:16s} {count[i]:4d} notes  " + " ".join(f"{e:5.1f}" for e in noise_errors[i]) + f"   -> {noise[i]:+g} dB")
    if write:
        with safe_open(str(model_path), framework="np") as f:
            tables = {k: f.get_tensor(k) for k in f.keys()
                      if k.startswith("tone.") and k not in ("tone.strike_fraction", "tone.strike_noise_db")}
            info = json.loads((f.metadata() or {}).get("tone", "{}"))
        tables["tone.strike_fraction"] = chosen
        if np.any(noise != 0):
            tables["tone.strike_noise_db"] = noise
        _write(Path(model_path), tables, info | {"strike_notes": int(count.sum())}, out)
        print(f"wrote tone.strike_fraction [{len(names)}]" + (f", tone.strike_noise_db [{len(names)}]" if np.any(noise != 0) else "")
              + f" into {out or model_path}")
    return {"fractions": {n: float(c) for n, c in zip(names, chosen)},
            "noise_db": {n: float(c) for n, c in zip(names, noise)},
            "errors_db": {n: [float(x) for x in e] for n, e in zip(names, errors)},
            "noise_errors_db": {n: [float(x) for x in e] for n, e in zip(names, noise_errors)},
            "noise_bias_db": {n: [float(x) for x in e] for n, e in zip(names, noise_bias)}}


# --- the engine's fixture ------------------------------------------------------------------------

def write_fixture(folder: Path) -> Path:
    """`tone-reference.safetensors`: a small random band table and onset table (I = 2, Z = 2,
    pitch anchors 36 / 60 / 84, the onset's own 40 / 55 / 60 / 61 / 90, velocity anchors 20 / 64 /
    120) with lookup queries (z, pitch,
    velocity, seconds since note-on) and answers, and random controls (K = 40 harmonics, 17 noise
    bands to 16 kHz) before and after `apply` at several f0 (model-independent), and after it at the
    note-on with a strike share and noise gain each (`apply.strike`: [σ, N] per frame), and with a
    strike top each too (`apply.strike_top_db`), and with stretched partials as well (`apply.stretch_b`:
    B per frame); a strike top table (`strike_top_db` [I, P_onset, V])
    and its values at the queries (`lookup.strike_top`); a transient [50, BANDS] before and after
    its lift by a strike top (`transient.in`, `transient.top_db`, `transient.out`); a band course
    (S = 3) and the band gains with it at the queries' seconds (`lookup.course_values`); band gains
    on pitch anchors of their own (30 / 45 / 60 / 61 / 100) with that course
    (`lookup.key_course_values`)."""
    from safetensors.numpy import save_file

    g = np.random.default_rng(27)
    pitches, velocities = np.array([36.0, 60.0, 84.0]), np.array([20.0, 64.0, 120.0])
    table = (g.random((2, 3, 3, BANDS)) * 30 - 15).astype(np.float32)
    means = np.array([[0.0, 0.0], [1.0, 0.5]], np.float32)
    scale, rule = 0.7, "inverse_distance"
    queries_z = np.array([[0.4, 0.3], [1.0, 0.5], [0.0, 0.0], [0.2, -0.5], [0.7, 0.1]], np.float32)
    queries_p = np.array([61.5, 60.0, 0.0, 127.0, 33.25], np.float32)
    queries_v = np.array([100.0, 10.0, 127.0, 64.0, 42.0], np.float32)
    onset_pitches = np.array([40.0, 55.0, 60.0, 61.0, 90.0])
    onset = (g.random((2, len(onset_pitches), 3, ONSET_FRAMES)) * 40 - 25).astype(np.float32)
    queries_s = np.array([0.0, 0.013, 0.155, 0.593, 2.5], np.float32)
    answers = np.stack([lookup(table, pitches, velocities, means, scale, rule, zq, p, v)
                        for zq, p, v in zip(queries_z, queries_p, queries_v)]).astype(np.float32)

    def onset_at(course, seconds):  # the engine's: linear between frames, the last value after them
        x = float(seconds) * 100.0
        if x < 0:
            return 0.0
        if x >= ONSET_FRAMES - 1:
            return float(course[-1])
        j = int(x)
        nxt = course[j + 1]
        return course[j] + (x - j) * (nxt - course[j])

    onset_answers = np.array([onset_at(lookup(onset, onset_pitches, velocities, means, scale, rule, zq, p, v), sq)
                              for zq, p, v, sq in zip(queries_z, queries_p, queries_v, queries_s)], np.float32)
    # the band course: S = 3 times, queried before the first, between two and after the last
    course_s = np.array([0.2, 0.5, 1.4])
    course = (np.random.default_rng(28).random((2, 3, 3, len(course_s), BANDS)) * 20 - 10).astype(np.float32)
    course_answers = np.stack([
        answers[q] + course_at(lookup_course(course, pitches, velocities, means, scale, rule, zq, p, v), course_s,
                               np.array([float(sq)]))[0]
        for q, (zq, p, v, sq) in enumerate(zip(queries_z, queries_p, queries_v, queries_s))]).astype(np.float32)
    f0 = np.array([[27.5, 110.0, 261.63, 1046.5, 3520.0]], np.float32)  # [1, T]
    harm = g.random((1, 5, 40)).astype(np.float32)
    noise = g.random((1, 5, 17)).astype(np.float32)
    applied = [apply({"harmonics": torch.as_tensor(harm[:, t:t + 1]), "noise": torch.as_tensor(noise[:, t:t + 1])},
                     answers[t], torch.as_tensor(f0[:, t:t + 1]), 16000.0, np.array([onset_answers[t]]))
               for t in range(5)]
    # the same frames at the note-on with a strike share and noise gain each
    strike = np.array([[0.0, -12.0], [0.25, 0.0], [1.0, -6.0], [0.5, 4.0], [1.0, 0.0]], np.float32)
    struck = [apply({"harmonics": torch.as_tensor(harm[:, t:t + 1]), "noise": torch.as_tensor(noise[:, t:t + 1])},
                    answers[t], torch.as_tensor(f0[:, t:t + 1]), 16000.0, np.array([onset_answers[t]]),
                    strike=float(strike[t, 0]), strike_noise_db=float(strike[t, 1]))
              for t in range(5)]
    # the same frames with the strike's top as well, and a strike top table [I, P_onset, V] looked
    # up at the queries (0 from the ramp's end on)
    tops = np.array([6.0, -9.0, 12.0, 0.0, -4.0], np.float32)
    topped = [apply({"harmonics": torch.as_tensor(harm[:, t:t + 1]), "noise": torch.as_tensor(noise[:, t:t + 1])},
                    answers[t], torch.as_tensor(f0[:, t:t + 1]), 16000.0, np.array([onset_answers[t]]),
                    strike=float(strike[t, 0]), strike_noise_db=float(strike[t, 1]), strike_top_db=float(tops[t]))
              for t in range(5)]
    # the same frames with stretched partials (B per frame): each partial's gain read where it sounds
    stretch = np.array([0.0, 2e-4, 1e-3, 5e-5, 3e-3], np.float32)
    stretched = [apply({"harmonics": torch.as_tensor(harm[:, t:t + 1]), "noise": torch.as_tensor(noise[:, t:t + 1])},
                       answers[t], torch.as_tensor(f0[:, t:t + 1]), 16000.0, np.array([onset_answers[t]]),
                       strike=float(strike[t, 0]), strike_noise_db=float(strike[t, 1]), strike_top_db=float(tops[t]),
                       stretch_b=float(stretch[t]))
                 for t in range(5)]
    top_table = (np.random.default_rng(30).random((2, len(onset_pitches), 3)) * 30 - 15).astype(np.float32)
    top_answers = np.array([float(strike_noise_ramp(lookup(top_table[..., None], onset_pitches, velocities, means, scale,
                                                           rule, zq, p, v)[0], np.array([float(sq)]))[0])
                            for zq, p, v, sq in zip(queries_z, queries_p, queries_v, queries_s)], np.float32)
    transient = np.random.default_rng(31).random((50, BANDS)).astype(np.float32)
    out = {"gain_db": table, "onset_db": onset, "pitch_anchors": pitches, "onset_pitch_anchors": onset_pitches,
           "transient.in": transient, "transient.top_db": np.array([-13.5], np.float32),
           "transient.out": lift_transient(transient, -13.5).astype(np.float32),
           "apply.strike_top_db": tops,
           "apply.strike_top_harmonics_out": np.concatenate([a["harmonics"][0].numpy() for a in topped]),
           "apply.strike_top_noise_out": np.concatenate([a["noise"][0].numpy() for a in topped]),
           "apply.stretch_b": stretch,
           "apply.stretched_harmonics_out": np.concatenate([a["harmonics"][0].numpy() for a in stretched]),
           "apply.stretched_noise_out": np.concatenate([a["noise"][0].numpy() for a in stretched]),
           "strike_top_db": top_table, "lookup.strike_top": top_answers,
           "velocity_anchors": velocities,
           "means": means, "blend_scale": np.array([scale]), "lookup.z": queries_z, "lookup.pitch": queries_p,
           "lookup.velocity": queries_v, "lookup.seconds": queries_s, "lookup.values": answers,
           "lookup.onset": onset_answers, "apply.f0_hz": f0[0],
           "apply.harmonics": harm[0], "apply.noise": noise[0],
           "apply.harmonics_out": np.concatenate([a["harmonics"][0].numpy() for a in applied]),
           "apply.noise_out": np.concatenate([a["noise"][0].numpy() for a in applied]),
           "apply.strike": strike.reshape(-1),
           "apply.strike_harmonics_out": np.concatenate([a["harmonics"][0].numpy() for a in struck]),
           "apply.strike_noise_out": np.concatenate([a["noise"][0].numpy() for a in struck]),
           "course_db": course, "course_seconds": course_s, "lookup.course_values": course_answers}
    # band gains on pitch anchors of their own (`tone.gain_pitches`: every key in a shipped file),
    # the course still on the envelopes': the band gains with the course at the queries' seconds
    gain_keys = np.array([30.0, 45.0, 60.0, 61.0, 100.0])
    keyed = (np.random.default_rng(29).random((2, len(gain_keys), 3, BANDS)) * 30 - 15).astype(np.float32)
    out.update({"gain_keys_db": keyed, "gain_key_anchors": gain_keys, "lookup.key_course_values": np.stack([
        lookup(keyed, gain_keys, velocities, means, scale, rule, zq, p, v)
        + course_at(lookup_course(course, pitches, velocities, means, scale, rule, zq, p, v), course_s,
                    np.array([float(sq)]))[0]
        for zq, p, v, sq in zip(queries_z, queries_p, queries_v, queries_s)]).astype(np.float32)})
    path = Path(folder) / "tone-reference.safetensors"
    save_file({k: np.ascontiguousarray(v, np.float32) for k, v in out.items()}, str(path), metadata={"blend_rule": rule})
    return path
