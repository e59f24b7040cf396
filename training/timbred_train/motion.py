"""Partial motion: how much each partial's level moves while a note is held.

A real held note is never still. In the training notes of the French horn, alto sax, choir,
flute and violin each partial's level wanders by 2-5 dB around its course, 5-10 times a second,
mostly independently of the other partials (vibrato walking the partials over the formants,
bowing, breath). The decoder, fitted to each partial's typical level for a pitch, velocity and
time, gives the course without the motion. A held note then sounds frozen, and the evaluation's
classifier (whose features include how much the spectrum moves) names those instruments trumpet
or trombone. With the motion put back, the same notes are named right (horn 0 → 20 of 20).

1. `measure`: per training note, the held part (300 ms after the note-on to 50 ms before the
   note-off, cut where it has fallen 40 dB below its loudest): each audible partial's level in dB
   against the note's harmonic level, each minus a straight line fitted over the 0.51 s around
   each frame (the course the decoder gives). Per instrument: the standard deviation for each
   group of partials (`HARMONIC_EDGES`), and the correlation from one frame to the next.
2. `add_to_model`: writes `motion.harmonic_edges` [G + 1], `motion.depth_db` [I, G] and
   `motion.correlation` [I] into an exported model (docs/model-format.md, "Partial motion").
3. `gains` and `apply`: the engine's rule in NumPy (Sources/Engine/PartialMotion.swift), used by
   `evaluate` for the notes it plays from MIDI: per voice and partial a first-order
   autoregressive process of unit variance (correlation ρ per frame), scaled to the depth in dB
   and faded in between 100 and 300 ms after the note-on, each frame's gains scaled so that its
   harmonic power stays as decoded: the spectrum's shape moves, the note's level course (attack,
   decay, velocity) stays the decoder's and the envelopes'. (Session 14 tried variants that are
   no longer in the code, see training/reports/default/TRAINING.md: moving the level as well
   lengthened the slow attacks of organ, violin and choir 1.5-2.5×.)

4. `measure_vibrato`: the held note's pitch moves too. The f0 of each training note's held part,
   in cents against its key, minus the same straight-line course, band-passed to VIBRATO_BAND_HZ:
   its depth (the standard deviation × √2, a sine's amplitude) and the rate of its strongest
   component; per instrument the medians over its notes, 0 under VIBRATO_FLOOR_CENTS (the
   analysis's own wobble: piano and organ 0.6-0.7 cents). The real violin swings by 15.5 cents at
   5.6 Hz, alto sax, cello, flute and oboe by 7-9 cents at 4-5 Hz. A player's vibrato changes
   over the range, so depth and rate are read at each of the envelopes' pitch anchors too: the
   weighted medians of the instrument's notes near it (a Gaussian of VIBRATO_PITCH_SIGMA
   semitones; an anchor outside the instrument's range takes its nearest notes'). FluidR3's
   trumpet swings by 2 cents low and 6 high, its oboe 5 and 12, its sax 7 and 12, its cello 7
   and 11, its flute 9 and 4 at the top. The engine adds a sine of that depth and rate (linear
   between the anchors at the voice's key) to the held note's pitch, faded in as the motion is,
   from a phase the key and velocity give (`vibrato_semitones`); the decoder hears the moving
   pitch, as it heard the recordings' in training.

`timbred-train motion --model FILE --data DATA` measures, prints the table and writes it.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from .errors import UserError

# first partial (1-based) of each group, and one past the last partial of the last group
HARMONIC_EDGES = (1, 2, 3, 4, 6, 9, 14, 22, 35, 56, 257)
HELD_START_FRAMES = 30  # 300 ms after the note-on: past every instrument's attack
HELD_END_FRAMES = 5  # 50 ms before the note-off
TREND_FRAMES = 51  # the span of the straight line that stands for the course the decoder gives
SOUNDING_DB = 40.0  # the held part ends where the note has fallen this far below its loudest
AUDIBLE_DB = 50.0  # partials within this of the frame's strongest
MIN_HELD_FRAMES = 50
FADE_IN_S = (0.1, 0.3)  # the motion fades in over this span after the note-on
MAX_DEPTH_DB = 8.0
VIBRATO_BAND_HZ = (3.0, 9.0)  # a player's vibrato (FluidR3's: 3.6-5.6 Hz)
VIBRATO_FLOOR_CENTS = 1.5
VIBRATO_PITCH_SIGMA = 4.0  # semitones: the notes an anchor's vibrato is read on


def _held(harmonics: np.ndarray, hold_frames: int) -> np.ndarray | None:
    """The held part's harmonic amplitudes [T, K], cut where the note has fallen `SOUNDING_DB`
    below its loudest held frame (a struck note's tail sinks into the analysis's floor), or None
    when under `MIN_HELD_FRAMES` frames remain."""
    end = hold_frames - HELD_END_FRAMES
    if end - HELD_START_FRAMES < MIN_HELD_FRAMES:
        return None
    h = np.asarray(harmonics[HELD_START_FRAMES:end], np.float64)
    power_db = 10 * np.log10((h ** 2).sum(-1) + 1e-12)
    below = np.flatnonzero(power_db < power_db.max() - SOUNDING_DB)
    if len(below):
        h = h[: below[0]]
    return h if len(h) >= MIN_HELD_FRAMES else None


def _detrend(db: np.ndarray) -> np.ndarray:
    """db minus its course: a straight line fitted over each 0.51 s (`TREND_FRAMES`) around the
    frame (a decay in dB leaves no residual, at the ends either)."""
    from scipy.signal import savgol_filter

    return db - savgol_filter(db, TREND_FRAMES, 1, axis=0, mode="interp")


def residual_db(harmonics: np.ndarray, hold_frames: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Each partial's level in the held part minus its course, in dB, and which frames of which
    partials are audible: ([T, K], [T, K] bool), or None for a note held too briefly."""
    h = _held(harmonics, hold_frames)
    if h is None:
        return None
    db = 20 * np.log10(h + 1e-5)
    audible = db > db.max(1, keepdims=True) - AUDIBLE_DB
    return _detrend(db), audible


def level_residual_db(harmonics: np.ndarray, hold_frames: int) -> np.ndarray | None:
    """The note's harmonic power in dB in the held part minus its course: [T], or None."""
    h = _held(harmonics, hold_frames)
    return None if h is None else _detrend(10 * np.log10((h ** 2).sum(-1) + 1e-12))


# The analysis's own wobble: a partial far under its note's strongest is read through the
# leakage of its neighbours, so its level wobbles from frame to frame however steady the note. A
# steady twin of each note (its held part's median partial amplitudes at its median f0, no noise)
# is analysed as the recordings were, its "motion" measured the same way, and that floor taken out
# of the depth in quadrature. FluidR3's clarinet, whose even partials lie 30-50 dB under its odd
# ones, read 0.7 dB of motion in the groups of partials 2 and 4-5 whether its notes moved or not
# (its twin: 0.7-0.8 dB); the horn's, violin's and trumpet's floors are under 0.02 dB.
FLOOR_NOTE_S = 1.5  # the twin's length: a held part of 1.15 s (frames 30 to 145)


def steady_twin_harmonics(harmonics: np.ndarray, f0_hz: np.ndarray, hold_frames: int, pitch: float,
                          sample_rate: int, frame_rate: int, band_limit_hz: float) -> np.ndarray | None:
    """The trainer's harmonic analysis [T, K] of a note's steady twin, FLOOR_NOTE_S long and held to
    its end (50 ms ramps in and out), or None for a note held too briefly to measure."""
    from .features import analyse_harmonics, track_f0

    h = _held(harmonics, hold_frames)
    if h is None:
        return None
    f0 = float(np.median(np.asarray(f0_hz[HELD_START_FRAMES: HELD_START_FRAMES + len(h)], np.float64)))
    amps = np.median(h, axis=0)
    n = int(FLOOR_NOTE_S * sample_rate)
    t = np.arange(n) / sample_rate
    y = np.zeros(n)
    for k, a in enumerate(amps, start=1):
        if a > amps.max() * 1e-4 and k * f0 < min(sample_rate / 2, band_limit_hz):
            y += a * np.sin(2 * np.pi * k * f0 * t)
    y *= np.clip(t / 0.05, 0, 1) * np.clip((FLOOR_NOTE_S - t) / 0.05, 0, 1)
    n_frames = int(math.ceil(n / (sample_rate // frame_rate)))
    track, _ = track_f0(y.astype(np.float32), sample_rate, frame_rate, 440.0 * 2 ** ((pitch - 69) / 12), n_frames)
    return analyse_harmonics(y.astype(np.float32), sample_rate, frame_rate, track, len(amps), band_limit_hz)


def without_floor(depth: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """The depth [I, G] with the analysis's floor [I, G] taken out in quadrature (never below 0)."""
    return np.sqrt(np.maximum(np.asarray(depth, np.float64) ** 2 - np.asarray(floor, np.float64) ** 2, 0.0))


def measure(harmonics: np.ndarray, hold_frames: np.ndarray, instrument: np.ndarray, n_instruments: int,
            edges=HARMONIC_EDGES) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Depth [I, G] in dB, correlation [I] and the count of notes measured [I] over the notes
    given (harmonics [M, T, K], hold_frames [M], instrument [M]). A partial's motion is taken
    against the note's level (the residual of the partial's level minus the residual of the
    note's harmonic level): the engine moves the spectrum's shape, and leaves the note's level
    course to the decoder and the envelopes."""
    g = len(edges) - 1
    depth = np.zeros((n_instruments, g))
    corr = np.zeros(n_instruments)
    count = np.zeros(n_instruments, int)
    for i in range(n_instruments):
        parts = []
        for m in np.flatnonzero(instrument == i):
            p, lv = residual_db(harmonics[m], int(hold_frames[m])), level_residual_db(harmonics[m], int(hold_frames[m]))
            if p is not None:
                parts.append((p[0] - lv[:, None], p[1]))
        count[i] = len(parts)
        if not parts:
            continue
        for j in range(g):
            a, b = edges[j] - 1, edges[j + 1] - 1
            vals = np.concatenate([r[:, a:b][ok[:, a:b]] for r, ok in parts])
            depth[i, j] = min(float(np.std(vals)), MAX_DEPTH_DB) if len(vals) > 20 else 0.0
        # frame-to-frame correlation of the audible partials' residuals, pooled
        x0, x1 = [], []
        for r, ok in parts:
            both = ok[:-1] & ok[1:]
            x0.append(r[:-1][both])
            x1.append(r[1:][both])
        x0, x1 = np.concatenate(x0), np.concatenate(x1)
        corr[i] = float(np.clip(np.corrcoef(x0, x1)[0, 1], 0.0, 0.99)) if len(x0) > 20 else 0.0
    return depth, corr, count


def vibrato_of_note(f0_hz: np.ndarray, pitch: float, hold_frames: int, frame_rate: float) -> tuple[float, float] | None:
    """A note's vibrato: (depth, the sine amplitude in cents; rate in Hz) of its held part's f0
    against its key, minus its course, band-passed to VIBRATO_BAND_HZ; None when held too briefly."""
    end = hold_frames - HELD_END_FRAMES
    if end - HELD_START_FRAMES < 2 * TREND_FRAMES:
        return None
    f0 = np.asarray(f0_hz[HELD_START_FRAMES:end], np.float64)
    return swing(1200 * np.log2(np.maximum(f0, 1.0) / (440.0 * 2 ** ((pitch - 69) / 12))), frame_rate)


def vibrato_band(track: np.ndarray, frame_rate: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A track [T] (or [T, K], along time) minus its course (`_detrend`), band-passed to
    VIBRATO_BAND_HZ: (the passed track, its spectrum, the spectrum's frequencies in Hz)."""
    d = _detrend(np.asarray(track, np.float64))
    spec = np.fft.rfft(d, axis=0)
    f = np.fft.rfftfreq(len(d), 1.0 / frame_rate)
    spec[~((f >= VIBRATO_BAND_HZ[0]) & (f <= VIBRATO_BAND_HZ[1]))] = 0
    return np.fft.irfft(spec, len(d), axis=0), spec, f


def swing(cents: np.ndarray, frame_rate: float) -> tuple[float, float]:
    """The vibrato in a pitch track [T] (cents, one value per frame): the track minus its course
    (`_detrend`), band-passed to VIBRATO_BAND_HZ: (depth, its standard deviation × √2, a sine's
    amplitude; rate, its strongest frequency in Hz). Also `playing`'s reading of rendered notes."""
    passed, spec, f = vibrato_band(cents, frame_rate)
    band = (f >= VIBRATO_BAND_HZ[0]) & (f <= VIBRATO_BAND_HZ[1])
    return float(passed.std() * math.sqrt(2)), float(f[band][np.argmax(np.abs(spec[band]))])


LOCK_FFT_S = 4096 / 48000  # the frames the vibrato lock is read with (85 ms, as `playing` reads a vibrato)
LOCK_PARTIALS = 24  # partials read per note


def note_lock(audio: np.ndarray, pitch: float, hold_frames: int, sample_rate: int,
              frame_rate: float) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """How much of one note's partial motion in the vibrato's band follows its vibrato, read as
    the ear follows a vibrato, in 85 ms frames every control frame (LOCK_FFT_S; the trainer's own
    32 ms analysis reads a violin's locked share 0.58 where these read 0.82, the rest of its
    band being the short frames' jitter): the vibrato is the strongest of the first 8 partials'
    peak frequency in cents; per partial its peak's level against the note's, both minus their
    course and band-passed to VIBRATO_BAND_HZ. Per partial [LOCK_PARTIALS] the variance a straight
    line in the vibrato explains, the variance in the band, and the line's slope (dB per cent: > 0,
    the partial rises as the pitch does) (0 where the partial lies over AUDIBLE_DB under the
    strongest, or above the Nyquist frequency): (locked, in band, slope), or None for a note held
    too briefly or without a vibrato (under VIBRATO_FLOOR_CENTS)."""
    n = int(round(LOCK_FFT_S * sample_rate))
    hop = int(round(sample_rate / frame_rate))
    f0 = 440.0 * 2 ** ((pitch - 69) / 12)
    x = np.asarray(audio[HELD_START_FRAMES * hop: (hold_frames - HELD_END_FRAMES) * hop], np.float64)
    if len(x) < n + 2 * TREND_FRAMES * hop:
        return None
    w = np.hanning(n)
    mag = np.stack([np.abs(np.fft.rfft(x[s:s + n] * w)) for s in range(0, len(x) - n, hop)])
    bins = np.fft.rfftfreq(n, 1.0 / sample_rate)
    strongest = 1 + int(np.argmax([mag[:, (bins > h * f0 * 0.97) & (bins < h * f0 * 1.03)].sum()
                                   if h * f0 < sample_rate / 2.2 else 0 for h in range(1, 9)]))
    lo, hi = int(strongest * f0 * 0.94 * n / sample_rate), int(strongest * f0 * 1.06 * n / sample_rate) + 1
    logm = np.log(mag + 1e-20)
    j = np.clip(lo + np.argmax(logm[:, lo:hi], axis=1), 1, mag.shape[1] - 2)
    rows = np.arange(len(mag))
    a, b, c = logm[rows, j - 1], logm[rows, j], logm[rows, j + 1]
    den = a - 2 * b + c
    track = (j + 0.5 * (a - c) / np.where(np.abs(den) > 1e-12, den, np.inf)) * sample_rate / n / strongest
    v, _, _ = vibrato_band(1200 * np.log2(np.maximum(track, 1.0) / f0), frame_rate)
    if v.std() * math.sqrt(2) < VIBRATO_FLOOR_CENTS:
        return None
    levels = np.full((len(mag), LOCK_PARTIALS), -300.0)
    for k in range(1, LOCK_PARTIALS + 1):
        if k * f0 * 1.02 >= sample_rate / 2:
            break
        centre = k * track
        jl = np.clip((centre * 0.985 * n / sample_rate).astype(int), 0, mag.shape[1] - 1)
        jh = np.clip((centre * 1.015 * n / sample_rate).astype(int) + 2, 1, mag.shape[1])
        levels[:, k - 1] = [20 * np.log10(mag[t, jl[t]:max(jh[t], jl[t] + 1)].max() + 1e-12) for t in rows]
    note_db = 10 * np.log10((10 ** (levels / 10)).sum(1) + 1e-30)
    audible = levels.mean(0) > levels.mean(0).max() - AUDIBLE_DB
    locked, inband, slope = np.zeros(LOCK_PARTIALS), np.zeros(LOCK_PARTIALS), np.zeros(LOCK_PARTIALS)
    vv = float(v @ v)
    for k in np.flatnonzero(audible):
        y, _, _ = vibrato_band(levels[:, k] - note_db, frame_rate)
        slope[k] = float(v @ y) / vv if vv > 0 else 0.0
        locked[k] = slope[k] ** 2 * vv / len(y)
        inband[k] = float(y @ y) / len(y)
    return locked, inband, slope


def walk_in_band(correlation: float, smoothing: float, frame_rate: float, n_frames: int = 4000,
                 drift_cut_hz: float = 0.0) -> float:
    """The share f of the engine's random walk (`gains` without a lock: correlation ρ, smoother
    β, drift cut) that lies in VIBRATO_BAND_HZ, of its variance around the course."""
    g = gains(np.array([10.0]), correlation, n_frames, 64, frame_rate, seed=3, edges=(1, 65), smoothing=smoothing,
              drift_cut_hz=drift_cut_hz)
    x = 20 * np.log10(g[int(0.5 * frame_rate):])
    passed, _, _ = vibrato_band(x, frame_rate)
    return float((passed ** 2).sum() / (_detrend(x) ** 2).sum())


def measure_lock(audio: np.ndarray, pitch: np.ndarray, hold_frames: np.ndarray, instrument: np.ndarray,
                 correlation: np.ndarray, smoothing: np.ndarray, sample_rate: int, frame_rate: float,
                 edges=HARMONIC_EDGES, drift_cut: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The vibrato lock [I, G]: per instrument and group of partials, the share λ of the motion's
    variance the engine puts on the vibrato, so that in the vibrato's band the share that follows
    it is the recordings' S (`note_lock`, pooled over the instrument's notes with a vibrato). The
    rest of the motion is the walk (correlation ρ, smoother β and drift cut per instrument), a share f of it
    in the band (`walk_in_band`): λ / (λ + (1 − λ) f) = S, so λ = S f / (1 − S + S f). Also the
    tilt [I, G]: how alike the slopes of a group's partials are, their mean over their root mean
    square (−1…1: +1, every partial of the group rises with the pitch by the same; 0, as many fall
    as rise), S [I, G] and the notes read [I]; 0 for an instrument without a vibrato. A level
    walking at random, unrelated to the vibrato, reads S of a few % (tests/test_motion.py)."""
    g = len(edges) - 1
    n_instruments = len(correlation)
    share, tilt = np.zeros((n_instruments, g)), np.zeros((n_instruments, g))
    count = np.zeros(n_instruments, int)
    for i in range(n_instruments):
        sums = np.zeros((5, g))  # locked, in band, slopes, their squares, partials
        for m in np.flatnonzero(instrument == i):
            got = note_lock(audio[m], float(pitch[m]), int(hold_frames[m]), sample_rate, frame_rate)
            if got is None:
                continue
            count[i] += 1
            for j in range(g):
                a, b = min(edges[j] - 1, LOCK_PARTIALS), min(edges[j + 1] - 1, LOCK_PARTIALS)
                read = got[1][a:b] > 0
                sums[:, j] += [got[0][a:b].sum(), got[1][a:b].sum(), got[2][a:b][read].sum(),
                               (got[2][a:b][read] ** 2).sum(), read.sum()]
        # a group past the partials read takes the last group's share
        for j in range(g):
            if sums[1, j] > 0:
                share[i, j] = np.clip(sums[0, j] / sums[1, j], 0.0, 1.0)
                tilt[i, j] = np.clip(sums[2, j] / np.sqrt(max(sums[3, j] * sums[4, j], 1e-30)), -1.0, 1.0)
            elif j > 0:
                share[i, j], tilt[i, j] = share[i, j - 1], tilt[i, j - 1]
    cuts = np.zeros(n_instruments) if drift_cut is None else np.asarray(drift_cut, np.float64)
    f = np.array([walk_in_band(float(r), float(b), frame_rate, drift_cut_hz=float(c))
                  for r, b, c in zip(correlation, smoothing, cuts)])[:, None]
    return lock_for_share(share, f), tilt, share, count


def lock_for_share(share: np.ndarray, f: np.ndarray) -> np.ndarray:
    """The lock λ that gives the vibrato's band the share S following the vibrato, the walk
    putting a share f of its variance in the band: λ / (λ + (1 − λ) f) = S, λ = S f / (1 − S + S f)."""
    return np.clip(share * f / np.maximum(1 - share + share * f, 1e-9), 0.0, 1.0)


def relock(lock: np.ndarray, correlation: np.ndarray, smoothing: np.ndarray, cut_before: np.ndarray,
           cut_after: np.ndarray, frame_rate: float) -> np.ndarray:
    """The vibrato lock [I, G] after an instrument's drift cut changes: a cut takes the walk's
    slow share away, so more of it lies in the vibrato's band (f grows), and the lock grows to
    keep the recordings' share S there (`lock_for_share`): S = λ / (λ + (1 − λ) f) with the walk
    before, λ' from S and the walk after. Instruments whose cut stays keep their lock bit for bit."""
    out = np.array(lock, np.float64)
    for i in np.flatnonzero(np.asarray(cut_before) != np.asarray(cut_after)):
        if not out[i].any():
            continue
        r, b = float(correlation[i]), float(smoothing[i])
        f0, f1 = (walk_in_band(r, b, frame_rate, drift_cut_hz=float(c)) for c in (cut_before[i], cut_after[i]))
        share = out[i] / np.maximum(out[i] + (1 - out[i]) * f0, 1e-12)
        out[i] = lock_for_share(share, f1)
    return out


def vibrato_readings(f0_hz: np.ndarray, hold_frames: np.ndarray, pitch: np.ndarray, instrument: np.ndarray,
                     n_instruments: int, frame_rate: float) -> list[tuple[np.ndarray, np.ndarray, np.ndarray] | None]:
    """Per instrument its notes' (keys, depth, rate): `vibrato_of_note` on each, the depth divided
    by `swing_gain` at its rate; None for an instrument without a note to read."""
    out = []
    for i in range(n_instruments):
        got = [(float(pitch[m]), v[0] / swing_gain(v[1], int(hold_frames[m]), frame_rate), v[1])
               for m in np.flatnonzero(instrument == i)
               if (v := vibrato_of_note(f0_hz[m], float(pitch[m]), int(hold_frames[m]), frame_rate)) is not None]
        out.append(tuple(np.array(c) for c in zip(*got)) if got else None)
    return out


def vibrato_table(readings, pitches: tuple[float, ...] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Vibrato depth (cents) and rate (Hz) from `vibrato_readings`: [I] without `pitches`, the
    medians over each instrument's notes; [I, P] with them, at each pitch anchor the medians of its
    notes weighted by a Gaussian of VIBRATO_PITCH_SIGMA semitones around the anchor (moved into the
    range of the instrument's notes first). An instrument whose median depth is under
    VIBRATO_FLOOR_CENTS gets 0 and 0 everywhere."""
    n = len(readings)
    shape = (n,) if pitches is None else (n, len(pitches))
    cents, hz = np.zeros(shape), np.zeros(shape)
    for i, r in enumerate(readings):
        if r is None or np.median(r[1]) < VIBRATO_FLOOR_CENTS:
            continue
        keys, depth, rate = r
        if pitches is None:
            cents[i], hz[i] = np.median(depth), np.median(rate)
            continue
        for a, anchor in enumerate(pitches):
            w = np.exp(-0.5 * ((keys - np.clip(anchor, keys.min(), keys.max())) / VIBRATO_PITCH_SIGMA) ** 2)
            cents[i, a], hz[i, a] = weighted_median(depth, w), weighted_median(rate, w)
    return cents, hz


def measure_vibrato(f0_hz: np.ndarray, hold_frames: np.ndarray, pitch: np.ndarray, instrument: np.ndarray,
                    n_instruments: int, frame_rate: float, pitches: tuple[float, ...] | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """`vibrato_table` of the notes' `vibrato_readings`."""
    return vibrato_table(vibrato_readings(f0_hz, hold_frames, pitch, instrument, n_instruments, frame_rate), pitches)


def swing_gain(hz: float, hold_frames: int, frame_rate: float) -> float:
    """What `swing` reads of a sine of unit depth at `hz` in the held part of a note held
    `hold_frames` (the mean over four phases): its band-pass on a track a few cycles long leaks,
    so it reads a 5 Hz sine 10 % short and a 3 Hz one 15 % long. The table divides each note's
    reading by it, so that the engine's sine, read the same way, reads as the recording did."""
    n = hold_frames - HELD_END_FRAMES - HELD_START_FRAMES
    if n < 2 * TREND_FRAMES or hz <= 0:
        return 1.0
    t = np.arange(n) / frame_rate
    return float(np.mean([swing(np.sin(2 * np.pi * hz * t + p), frame_rate)[0] for p in (0.0, 0.8, 1.6, 2.4)]))


def weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    """The value at which the weights (all > 0 somewhere) below and above balance."""
    order = np.argsort(values)
    v, c = np.asarray(values, float)[order], np.cumsum(np.asarray(weights, float)[order])
    return float(v[np.searchsorted(c, 0.5 * c[-1])])


def vibrato_phase(key: int, velocity: int) -> float:
    """The engine's vibrato phase at note-on (radians) from the key and velocity: the top 24 bits
    of the motion seed's 64-bit hash."""
    h = ((((key & 0xFF) << 8 | (velocity & 0xFF)) + 1) * 0x9E3779B97F4A7C15) % (1 << 64)
    return 2 * math.pi * (h >> 40) / float(1 << 24)


def vibrato_swing(hz: float, n_frames: int, frame_rate: float, phase: float) -> np.ndarray:
    """The engine's vibrato sine [T] at frames 0…T-1 (no depth, no fade): what the vibrato lock
    follows."""
    return np.sin(2 * np.pi * hz * np.arange(n_frames) / frame_rate + phase)


def vibrato_semitones(cents: float, hz: float, n_frames: int, frame_rate: float, phase: float) -> np.ndarray:
    """The engine's vibrato [T] in semitones at frames 0…T-1 (frame 0 at the note-on): a sine of
    amplitude `cents` at `hz` from `phase`, faded in over FADE_IN_S."""
    t = np.arange(n_frames) / frame_rate
    fade = np.clip((t - FADE_IN_S[0]) / (FADE_IN_S[1] - FADE_IN_S[0]), 0.0, 1.0)
    return cents / 100 * fade * np.sin(2 * np.pi * hz * t + phase)


def unit_normal(state: np.uint32) -> tuple[float, np.uint32]:
    """The engine's noise: the sum of four uniform draws of a 32-bit xorshift generator, scaled to
    unit variance (Irwin-Hall; bounded by ±2√3). Returns (value, new state)."""
    s = int(state)
    total = 0.0
    for _ in range(4):
        s ^= (s << 13) & 0xFFFFFFFF
        s ^= s >> 17
        s ^= (s << 5) & 0xFFFFFFFF
        total += s / 4294967296.0
    return (total - 2.0) * math.sqrt(3.0), np.uint32(s)


def smoothed_variance(rho: float, beta: float) -> float:
    """The stationary variance of y ← β y + (1 − β) u for u a first-order process of unit variance
    and correlation ρ."""
    return (1 - beta) * (1 + beta * rho) / ((1 + beta) * (1 - beta * rho))


MIN_DRIFT_CUT_HZ = 0.01  # the smallest cut that cuts (the engine's PartialMotion.minDriftCutHz)


def drift_pole(cut_hz: float, frame_rate: float) -> float:
    """The pole p of the drift cut: the first-order high-pass p (1 − z⁻¹) / (1 − p z⁻¹) at
    `cut_hz` on a process at `frame_rate` frames/s."""
    return math.exp(-2 * math.pi * max(0.0, cut_hz) / frame_rate)


def drift_cut_variance(rho: float, beta: float, pole: float) -> float:
    """The stationary variance of the walk of unit variance (correlation ρ, through the smoother β
    and back to unit variance; β = 0: none) through the drift cut's high-pass p (1 − z⁻¹) /
    (1 − p z⁻¹). The chain is a linear system driven by one unit draw e per frame, with the state s
    = (x, y, h): x' = ρ x + σ e, y' = β y + (1 − β) x', h' = p h + p u (y' − y) (σ = √(1 − ρ²), u =
    1 / √(the smoothed variance)); its matrix is lower triangular, so the stationary covariance P =
    A P Aᵀ + b bᵀ is solved entry by entry, each over 1 − A_ii A_jj (never 0: every pole lies
    below 1), exact even where poles coincide. Returns P[h, h]."""
    sigma = math.sqrt(max(0.0, 1.0 - rho * rho))
    u = 1.0 / math.sqrt(smoothed_variance(rho, beta))
    a = [[rho, 0.0, 0.0],
         [(1 - beta) * rho, beta, 0.0],
         [pole * u * (1 - beta) * rho, pole * u * (beta - 1), pole]]
    b = [sigma, (1 - beta) * sigma, pole * u * (1 - beta) * sigma]
    cov = [[0.0] * 3 for _ in range(3)]
    for i in range(3):
        for j in range(i + 1):
            acc = b[i] * b[j]
            for k in range(i + 1):
                for m in range(j + 1):
                    if (k, m) != (i, j):
                        acc += a[i][k] * a[j][m] * cov[k][m]
            cov[i][j] = cov[j][i] = acc / (1 - a[i][i] * a[j][j])
    return cov[2][2]


def lock_seed(seed: int) -> int:
    """The seed of the vibrato coefficients' generator (the engine's `PartialMotion.lockSeed`)."""
    mixed = (((seed % 4294967296) ^ 0xA5A55A5A) * 0x2C1B3C6D) % 4294967296
    return mixed or 0x9E3779B9


def log_bessel_i0(x: np.ndarray) -> np.ndarray:
    """ln I₀(x) as the engine computes it (`PartialMotion.logBesselI0`: Abramowitz and Stegun
    9.8.1 up to 3.75, 9.8.2 beyond)."""
    x = np.abs(np.asarray(x, np.float64))
    t = (np.minimum(x, 3.75) / 3.75) ** 2
    small = 1 + t * (3.5156229 + t * (3.0899424 + t * (1.2067492 + t * (0.2659732 + t * (0.0360768 + t * 0.0045813)))))
    u = 3.75 / np.maximum(x, 3.75)
    p = 0.39894228 + u * (0.01328592 + u * (0.00225319 + u * (-0.00157565 + u * (0.00916281 + u * (
        -0.02057706 + u * (0.02635537 + u * (-0.01647633 + u * 0.00392377)))))))
    return np.where(x <= 3.75, np.log(small), x - 0.5 * np.log(np.maximum(x, 3.75)) + np.log(p))


def gains(depth_db: np.ndarray, correlation: float, n_frames: int, n_harmonics: int, frame_rate: float,
          seed: int, edges=HARMONIC_EDGES, smoothing: float = 0.0, vibrato_lock: np.ndarray | None = None,
          swing: np.ndarray | None = None, vibrato_tilt: np.ndarray | None = None,
          drift_cut_hz: float = 0.0) -> np.ndarray:
    """The motion's gain per frame and partial [T, K] for one note (frame 0 at the note-on), as
    the engine computes it, before each frame's gains are scaled to keep its harmonic power
    (`apply`); `smoothing` β > 0: the process through a one-pole smoother, back to unit variance;
    `vibrato_lock` [G] with `swing` [T] (the vibrato's sine at each frame, `vibrato_swing`): that
    share of each group's variance follows the sine, by a coefficient per partial drawn at the
    note-on from a generator of its own (`lock_seed`), n, and the group's tilt μ [G] (None: 0):
    μ + √(1 − μ²) n; a partial's swing a · sin is brought back to its power over a vibrato cycle
    on its own (− ½ ln I₀(2a)), as it keeps its coefficient for the whole note; `drift_cut_hz` > 0:
    the walk (smoothed or not) through a first-order high-pass at that frequency and back to unit
    variance (`drift_cut_variance`), so that it moves the partials as fast as before without
    wandering slowly (the filter runs on the walk before its scaling to unit variance, its state
    the walk's last value, from its first, and its output, from 0)."""
    rho, beta = float(correlation), float(smoothing)
    drive = math.sqrt(max(0.0, 1.0 - rho * rho))
    k_depth = np.zeros(n_harmonics)
    for j in range(len(edges) - 1):
        k_depth[edges[j] - 1: min(edges[j + 1] - 1, n_harmonics)] = depth_db[j]
    a = k_depth * math.log(10) / 20  # nepers per unit of the process
    state = np.uint32(seed % 4294967296 or 0x9E3779B9)
    x = np.zeros(n_harmonics)
    for k in range(n_harmonics):  # start in the stationary distribution
        x[k], state = unit_normal(state)
    y = x.copy()
    lam = np.zeros(n_harmonics)
    c = np.zeros(n_harmonics)
    if vibrato_lock is not None and swing is not None:
        for j in range(len(edges) - 1):
            lam[edges[j] - 1: min(edges[j + 1] - 1, n_harmonics)] = np.clip(vibrato_lock[j], 0.0, 1.0)
        lstate = np.uint32(lock_seed(seed))
        for k in range(n_harmonics):
            c[k], lstate = unit_normal(lstate)
        if vibrato_tilt is not None:
            mu = np.zeros(n_harmonics)
            for j in range(len(edges) - 1):
                mu[edges[j] - 1: min(edges[j + 1] - 1, n_harmonics)] = np.clip(vibrato_tilt[j], -1.0, 1.0)
            c = mu + np.sqrt(1 - mu * mu) * c
    unit = 1.0 / math.sqrt(smoothed_variance(rho, beta)) if beta > 0 else 1.0
    cutting = drift_cut_hz >= MIN_DRIFT_CUT_HZ  # a few µHz from a blend's far instruments: none
    pole = float(np.float32(drift_pole(drift_cut_hz if cutting else 0.0, frame_rate)))  # the engine's float pole
    cut_unit = 1.0 / math.sqrt(drift_cut_variance(rho, beta, pole)) if cutting else 1.0
    previous, cut = x.copy(), np.zeros(n_harmonics)
    out = np.ones((n_frames, n_harmonics))
    lo, hi = FADE_IN_S
    for t in range(2, n_frames):  # frames 0 and 1 are decoded at the note-on, before any motion
        fade = min(max((t / frame_rate - lo) / (hi - lo), 0.0), 1.0)
        for k in range(n_harmonics):
            e, state = unit_normal(state)
            x[k] = rho * x[k] + drive * e
        if beta > 0:
            y = beta * y + (1 - beta) * x
        s = a * fade
        walk = y if beta > 0 else x
        cut = pole * (cut + walk - previous)
        previous = walk.copy()
        v = unit * cut_unit * cut if cutting else unit * walk
        if lam.any():
            swing_amp = s * np.sqrt(2 * lam) * c  # each partial's swing, nepers
            out[t] = np.exp(s * np.sqrt(1 - lam) * v - s * s * (1 - lam) + swing_amp * float(swing[t])
                            - 0.5 * log_bessel_i0(2 * swing_amp))
        else:
            out[t] = np.exp(s * v - s * s)  # divided by the mean power gain, square-rooted
    return out


def apply(harmonics, depth_db: np.ndarray, correlation: float, frame_rate: float, seed: int, smoothing: float = 0.0,
          vibrato_lock: np.ndarray | None = None, swing: np.ndarray | None = None,
          vibrato_tilt: np.ndarray | None = None, drift_cut_hz: float = 0.0):
    """Harmonic amplitudes [1, T, K] (torch or NumPy) times the motion's gains, each frame's gains
    scaled so that the frame's harmonic power stays as decoded: the spectrum's shape moves, the
    note's level course (attack, decay, velocity) stays the decoder's and the envelopes'."""
    n_frames, k = harmonics.shape[-2], harmonics.shape[-1]
    g = gains(depth_db, correlation, n_frames, k, frame_rate, seed, smoothing=smoothing, vibrato_lock=vibrato_lock,
              swing=swing, vibrato_tilt=vibrato_tilt, drift_cut_hz=drift_cut_hz)
    a = np.asarray(harmonics.detach().cpu().numpy() if hasattr(harmonics, "detach") else harmonics, np.float64)
    p0 = (a ** 2).sum(-1, keepdims=True)
    p1 = (a ** 2 * g ** 2).sum(-1, keepdims=True)
    g = g * np.sqrt(np.where(p1 > 0, p0 / np.maximum(p1, 1e-30), 1.0))
    try:
        import torch

        if isinstance(harmonics, torch.Tensor):
            return harmonics * torch.as_tensor(g, dtype=harmonics.dtype)
    except ImportError:
        pass
    return harmonics * g


def blended(tables: dict, weights: np.ndarray) -> tuple:
    """Depth [G], correlation, smoothing, vibrato lock [G], tilt [G] and drift cut (Hz) at a latent
    point whose instrument blend weights are `weights` [I] (smoothing 0 for a table without
    `motion.smoothing`, lock and tilt None without `motion.vibrato_lock`, drift cut 0 without
    `motion.drift_cut_hz`)."""
    beta = float(weights @ tables["motion.smoothing"]) if "motion.smoothing" in tables else 0.0
    lock = np.clip(weights @ tables["motion.vibrato_lock"], 0.0, 1.0) if "motion.vibrato_lock" in tables else None
    tilt = np.clip(weights @ tables["motion.vibrato_tilt"], -1.0, 1.0) if "motion.vibrato_tilt" in tables else None
    cut = float(weights @ tables["motion.drift_cut_hz"]) if "motion.drift_cut_hz" in tables else 0.0
    return weights @ tables["motion.depth_db"], float(weights @ tables["motion.correlation"]), beta, lock, tilt, cut


def blended_vibrato(tables: dict, weights: np.ndarray, pitch: float,
                    anchors: tuple[float, ...]) -> tuple[float, float] | None:
    """Vibrato depth (cents) and rate (Hz) at a latent point and key (None when the table has
    none): a table on the pitch anchors `anchors` ([I, P], the envelopes') linear between them at
    `pitch`, clamped to the first and last; one of [I] the same at every key."""
    if "motion.vibrato_cents" not in tables:
        return None
    cents, hz = np.asarray(tables["motion.vibrato_cents"], np.float64), np.asarray(tables["motion.vibrato_hz"], np.float64)
    if cents.ndim == 2:
        from .envelope import anchor_axis

        j, f = anchor_axis(anchors, pitch)
        f = float(np.clip(f, 0.0, 1.0))
        cents, hz = (1 - f) * cents[:, j] + f * cents[:, j + 1], (1 - f) * hz[:, j] + f * hz[:, j + 1]
    return float(weights @ cents), float(weights @ hz)


def read_tables(model_path: Path) -> dict | None:
    """The model's `motion.*` tensors, or None when it has none."""
    from safetensors import safe_open

    with safe_open(str(model_path), framework="np") as f:
        keys = set(f.keys())
        if "motion.depth_db" not in keys:
            return None
        return {k: f.get_tensor(k) for k in keys if k.startswith("motion.")}


def add_to_model(path: Path, tensors: dict[str, np.ndarray], info: dict, out: Path | None = None) -> None:
    """Writes `tensors` into the model file (replacing any earlier `motion.*`); every other tensor
    and the metadata stay as they were, plus an informative `motion` metadata key."""
    from .modelfile import replace_tensors

    replace_tensors(path, "motion.", tensors, "motion", info, out)


MAX_SMOOTHING = 0.99  # the engine's bound on motion.smoothing
MAX_DRIFT_CUT_HZ = 10.0  # the engine's bound on motion.drift_cut_hz


def drift_cut_table(names: list[str], cut_hz: float, cut_for: dict[str, float], model_path: Path) -> np.ndarray:
    """The drift cut per instrument [I]: `cut_for`'s value for the instruments it names, `cut_hz`
    for the others; an unknown name or a value outside 0…MAX_DRIFT_CUT_HZ is refused."""
    unknown = [u for u in cut_for if u not in names]
    if unknown:
        raise UserError(f"{model_path}: no instrument {', '.join(unknown)} for a drift cut (it has {', '.join(names)})")
    cut = np.array([cut_for.get(n, cut_hz) for n in names], np.float64)
    if not np.all((cut >= 0) & (cut <= MAX_DRIFT_CUT_HZ)):
        raise UserError(f"drift cut: Hz must lie in 0…{MAX_DRIFT_CUT_HZ:g} (got {cut.min():g}…{cut.max():g})")
    return cut


def set_drift_cut(model_path: Path, cut_hz: float, cut_for: dict[str, float], out: Path | None = None,
                  write: bool = True) -> dict:
    """`timbred-train motion --drift-cut HZ --drift-cut-for NAME=HZ,… --keep-measured`: the file's
    motion tables as they are plus `motion.drift_cut_hz` (all 0: the tensor is left out);
    nothing is measured, so everything else stays bit for bit."""
    meta, tensors = _measured_motion(model_path, "cut the drift of")
    config = json.loads(meta["config"])
    names = list(config["instruments"])
    cut = drift_cut_table(names, cut_hz, cut_for, model_path)
    before = np.asarray(tensors.get("motion.drift_cut_hz", np.zeros(len(names))), np.float64)
    if "motion.vibrato_lock" in tensors:
        smoothing = tensors.get("motion.smoothing", np.zeros(len(names)))
        lock = np.asarray(tensors["motion.vibrato_lock"], np.float64)
        new = relock(lock, tensors["motion.correlation"], smoothing, before, cut, float(config.get("frame_rate", 100)))
        for i in np.flatnonzero(np.abs(new - lock).max(1) > 0):
            print(f"{names[i]}: vibrato lock " + " ".join(f"{a:.2f}" for a in lock[i]) + " -> "
                  + " ".join(f"{a:.2f}" for a in new[i]) + " (the walk's share in the vibrato's band moved)")
        tensors["motion.vibrato_lock"] = new.astype(np.float32)
    tensors.pop("motion.drift_cut_hz", None)
    if cut.any():
        tensors["motion.drift_cut_hz"] = cut.astype(np.float32)
    info = json.loads(meta.get("motion", "{}"))
    info["drift_cut_hz"] = {n: float(c) for n, c in zip(names, cut) if c > 0}
    print("drift cut (Hz): " + ", ".join(f"{n} {c:g}" for n, c in zip(names, cut)))
    if write:
        add_to_model(Path(model_path), tensors, info, out)
        print(f"wrote motion.* into {out or model_path}")
    return {"drift_cut_hz": cut.tolist()}


def _still_rows(names: list[str], still: list[str], model_path: Path) -> np.ndarray:
    """Which of the model's instruments `still` names (bool [I]); an unknown name is refused."""
    unknown = [u for u in still if u not in names]
    if unknown:
        raise UserError(f"{model_path}: no instrument {', '.join(unknown)} to hold still (it has {', '.join(names)})")
    return np.isin(np.asarray(names), still)


def _measured_motion(model_path: Path, what: str) -> tuple[dict, dict]:
    """The metadata and the `motion.*` tensors of a model file already measured by `motion`; a
    missing file, or one without the motion (nothing to `what`), is refused."""
    from safetensors import safe_open

    if not Path(model_path).is_file():
        raise UserError(f"{model_path}: model file not found")
    with safe_open(str(model_path), framework="np") as f:
        meta = f.metadata() or {}
        tensors = {k: f.get_tensor(k) for k in f.keys() if k.startswith("motion.")}
    if "motion.depth_db" not in tensors:
        raise UserError(f"{model_path}: no partial motion to {what} (timbred-train motion first)")
    return meta, tensors


STILL_TENSORS = ("motion.depth_db", "motion.vibrato_lock", "motion.vibrato_tilt")  # what `--still` sets to 0


def hold_still(model_path: Path, still: list[str], out: Path | None = None, write: bool = True) -> dict:
    """`timbred-train motion --still NAMES --keep-measured`: the file's motion tables as they are,
    but the named instruments' partials hold their course (depth, lock and tilt 0; their vibrato
    stays); nothing is measured, so every other instrument's motion stays bit for bit."""
    meta, tensors = _measured_motion(model_path, "hold still")
    rows = _still_rows(list(json.loads(meta["config"])["instruments"]), still, model_path)
    for key in STILL_TENSORS:
        if key in tensors:
            tensors[key] = np.array(tensors[key], np.float32)
            tensors[key][rows] = 0.0
    info = json.loads(meta.get("motion", "{}"))
    info["still"] = sorted(set(info.get("still", [])) | set(still))
    for n in still:
        print(f"{n}: partials held still (depth, lock and tilt 0)")
    if write:
        add_to_model(Path(model_path), tensors, info, out)
        print(f"wrote motion.* into {out or model_path}")
    return {"still": info["still"]}


def run(model_path: Path, data: Path, out: Path | None = None, write: bool = True, smoothing: float = 0.0,
        smoothing_for: dict[str, float] | None = None, still: list[str] | None = None, drift_cut: float = 0.0,
        drift_cut_for: dict[str, float] | None = None) -> dict:
    """`timbred-train motion`: measure on the training notes, print, write; with `smoothing` β > 0
    (or `smoothing_for`, β per named instrument, the others `smoothing`) also `motion.smoothing`.
    `still`: instruments whose partials hold their course (depth and lock 0, whatever is read): a
    struck bar's few modes, between which the analysis reads its own floor (FluidR3's vibraphone
    at keys 59, 71 and 83: its modes move by 0.00-0.01 dB around their course, the table read
    0.7-1.1 dB and the engine played them 0.6-0.8 dB off it). `drift_cut` (or `drift_cut_for`, Hz per
    named instrument): `motion.drift_cut_hz`, the high-pass on the walk (`set_drift_cut`)."""
    from safetensors import safe_open

    from .cache import load_or_build
    from .config import ModelConfig

    if not Path(model_path).is_file():
        raise UserError(f"{model_path}: model file not found")
    with safe_open(str(model_path), framework="np") as f:
        meta = f.metadata() or {}
    cfg = ModelConfig.from_dict(json.loads(meta["config"]))
    notes = load_or_build(Path(data), cfg)
    train = notes.indices("train")
    names = list(cfg.instruments)
    if list(notes.instruments) != names:
        raise UserError(f"{data}: its instruments {list(notes.instruments)} are not the model's {names}")
    smoothing_for = dict(smoothing_for or {})
    unknown = [u for u in smoothing_for if u not in names]
    if unknown:
        raise UserError(f"{model_path}: no instrument {', '.join(unknown)} to smooth (it has {', '.join(names)})")
    held_still = _still_rows(names, list(still or []), model_path)
    cut = drift_cut_table(names, drift_cut, dict(drift_cut_for or {}), model_path)
    beta = np.array([smoothing_for.get(n, smoothing) for n in names], np.float64)
    if not np.all((beta >= 0) & (beta <= MAX_SMOOTHING)):
        raise UserError(f"smoothing: β must lie in 0…{MAX_SMOOTHING} (got {beta.min():g}…{beta.max():g})")
    depth, corr, count = measure(notes.harmonics[train], notes.hold_frames[train], notes.instrument[train], len(names))
    twins, kept = [], []
    for m in train:
        h = steady_twin_harmonics(notes.harmonics[m], notes.f0_hz[m], int(notes.hold_frames[m]), float(notes.pitch[m]),
                                  cfg.sample_rate, cfg.frame_rate, cfg.band_limit_hz)
        if h is not None:
            twins.append(h)
            kept.append(m)
    held = int(FLOOR_NOTE_S * cfg.frame_rate)
    floor, _, _ = measure(np.asarray(twins), np.full(len(kept), held), notes.instrument[kept], len(names))
    measured, depth = depth, without_floor(depth, floor)
    readings = vibrato_readings(notes.f0_hz[train], notes.hold_frames[train], notes.pitch[train],
                                notes.instrument[train], len(names), float(cfg.frame_rate))
    vib_cents, vib_hz = vibrato_table(readings, tuple(cfg.env_pitches))
    overall, _ = vibrato_table(readings)
    lock, tilt, share, locked_notes = measure_lock(notes.audio[train], notes.pitch[train], notes.hold_frames[train],
                                             notes.instrument[train], corr, beta, cfg.sample_rate,
                                             float(cfg.frame_rate), drift_cut=cut)
    lock[overall <= 0] = 0.0
    tilt[overall <= 0] = 0.0
    for table in (depth, lock, tilt):  # STILL_TENSORS
        table[held_still] = 0.0
    edges = HARMONIC_EDGES
    groups = [f"{a}" if b - a == 1 else f"{a}-{b - 1}" for a, b in zip(edges[:-1], edges[1:])]
    print(f"partial motion in the held part: std of each partial's level around its course, against the note's "
          f"level, dB, by partials ({', '.join(groups)}); frame-to-frame correlation at {cfg.frame_rate:g} frames/s")
    for i, name in enumerate(names):
        print(f"{name:16s} {count[i]:4d} notes  " + " ".join(f"{d:4.1f}" for d in depth[i]) + f"   rho {corr[i]:.2f}"
              + (f"   smoothing {beta[i]:.2f}" if beta.any() else "")
              + f"   vibrato {overall[i]:4.1f} cents" + ("   held still (--still)" if held_still[i] else ""))
        if overall[i] > 0:
            print(f"{'':16s} {'':4s} vibrato at MIDI " + ", ".join(
                f"{p}: {c:.1f} c {h:.1f} Hz" for p, c, h in zip(cfg.env_pitches, vib_cents[i], vib_hz[i])))
        if overall[i] > 0 and locked_notes[i]:
            print(f"{'':16s} {'':4s} in the vibrato's band, following it ({locked_notes[i]} notes): "
                  + " ".join(f"{x:4.2f}" for x in share[i]) + "   locked: " + " ".join(f"{x:4.2f}" for x in lock[i]))
            print(f"{'':16s} {'':4s} tilt (alike slopes, + rising with the pitch): "
                  + " ".join(f"{x:+5.2f}" for x in tilt[i]))
        if np.abs(measured[i] - depth[i]).max() >= 0.05:
            print(f"{'':16s} {'':4s} as read: " + " ".join(f"{d:4.1f}" for d in measured[i])
                  + "   the analysis's floor (a steady twin): " + " ".join(f"{d:4.1f}" for d in floor[i]))
    tensors = {"motion.harmonic_edges": np.asarray(edges, np.float32), "motion.depth_db": depth.astype(np.float32),
               "motion.correlation": corr.astype(np.float32), "motion.vibrato_cents": vib_cents.astype(np.float32),
               "motion.vibrato_hz": vib_hz.astype(np.float32), "motion.vibrato_lock": lock.astype(np.float32),
               "motion.vibrato_tilt": tilt.astype(np.float32)}
    if beta.any():
        tensors["motion.smoothing"] = beta.astype(np.float32)
    if cut.any():
        tensors["motion.drift_cut_hz"] = cut.astype(np.float32)
    info = {"data": str(data), "notes": int(count.sum()), "held_from_s": HELD_START_FRAMES / cfg.frame_rate,
            "trend_s": TREND_FRAMES / cfg.frame_rate,
            "vibrato_pitch_sigma": VIBRATO_PITCH_SIGMA, "audible_db": AUDIBLE_DB, "floor": "steady twin, in quadrature",
            "still": [n for n, h in zip(names, held_still) if h],
            "drift_cut_hz": {n: float(c) for n, c in zip(names, cut) if c > 0}}
    if write:
        add_to_model(Path(model_path), tensors, info, out)
        print(f"wrote motion.* into {out or model_path}")
    return {"depth_db": depth.tolist(), "correlation": corr.tolist(), "notes": count.tolist(), "smoothing": beta.tolist(),
            "vibrato_cents": vib_cents.tolist(), "vibrato_hz": vib_hz.tolist(), "vibrato_lock": lock.tolist(),
            "vibrato_tilt": tilt.tolist()}
