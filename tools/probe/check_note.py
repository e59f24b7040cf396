#!/usr/bin/env python3
"""Judges a note_probe recording (scripts/play-check): did the note sound, at the right pitch?

The recording holds --pre seconds before the note-on and the note after it (tools/probe/note_probe.c).
Level: RMS over the note's first --level-seconds (dBFS), against the level before the note-on. Pitch: over the note from
--skip seconds after the note-on (past the attack), the YIN difference function (de Cheveigné &
Kawahara 2002) gives the period without octave errors (the first dip under the threshold, not the
deepest), and a least-squares fit of the first harmonics' peak frequencies in a zero-padded
Hann-windowed spectrum refines it to a fraction of a cent. Prints one line; exits 1 with one line
on stderr when the note is silent, not louder than what came before it, or off pitch.
"""
import argparse
import math
import struct
import sys

import numpy as np


def read_wav(path):
    """A mono or multi-channel WAV (16/24/32-bit PCM or 32-bit float): (samples of channel 0, rate)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError(f"{path}: not a WAV file")
    pos, fmt, samples = 12, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        body = data[pos + 8:pos + 8 + size]
        if cid == b"fmt ":
            fmt = struct.unpack("<HHIIHH", body[:16])
        elif cid == b"data":
            samples = body
        pos += 8 + size + (size & 1)
    if fmt is None or samples is None:
        raise ValueError(f"{path}: no fmt or data chunk")
    tag, channels, rate, _, _, bits = fmt
    if tag == 3 and bits == 32:
        x = np.frombuffer(samples, dtype="<f4").astype(np.float64)
    elif tag == 1 and bits == 16:
        x = np.frombuffer(samples, dtype="<i2") / 32768.0
    elif tag == 1 and bits == 32:
        x = np.frombuffer(samples, dtype="<i4") / 2147483648.0
    else:
        raise ValueError(f"{path}: unsupported WAV format {tag}/{bits} bits")
    return x[: len(x) // channels * channels].reshape(-1, channels)[:, 0], rate


def dbfs(x):
    rms = math.sqrt(float(np.mean(np.square(x)))) if len(x) else 0.0
    return max(20 * math.log10(rms), -200.0) if rms > 0 else -200.0


def yin_f0(x, rate, fmin=30.0, fmax=2000.0, threshold=0.15):
    """YIN over the whole segment (cumulative-mean-normalised difference), parabolic refinement."""
    n = len(x)
    lag_min, lag_max = int(rate / fmax), min(int(rate / fmin), n // 2)
    w = n - lag_max  # window compared with its shifted copies
    x = x - np.mean(x)
    # d(tau) = sum (x[j] - x[j+tau])^2 over j < w, via FFT cross-correlation
    size = 1 << (n + w).bit_length()
    spec = np.fft.rfft(x, size)
    corr = np.fft.irfft(np.conj(np.fft.rfft(x[:w], size)) * spec, size)[: lag_max + 1]
    energy = np.concatenate(([0.0], np.cumsum(x * x)))
    e0 = energy[w]
    et = energy[np.arange(lag_max + 1) + w] - energy[np.arange(lag_max + 1)]
    d = e0 + et - 2 * corr
    d[0] = 0
    cmnd = np.ones_like(d)
    cum = np.cumsum(d[1:])
    cmnd[1:] = d[1:] * np.arange(1, lag_max + 1) / np.where(cum > 0, cum, 1)
    candidates = np.where(cmnd[lag_min:lag_max] < threshold)[0]
    if len(candidates):
        tau = lag_min + candidates[0]
        while tau + 1 < lag_max and cmnd[tau + 1] < cmnd[tau]:
            tau += 1  # down to the bottom of that dip
    else:
        tau = lag_min + int(np.argmin(cmnd[lag_min:lag_max]))
    if 0 < tau < lag_max:
        a, b, c = cmnd[tau - 1], cmnd[tau], cmnd[tau + 1]
        denom = a - 2 * b + c
        shift = 0.5 * (a - c) / denom if denom != 0 else 0.0
    else:
        shift = 0.0
    return rate / (tau + shift), float(cmnd[tau])


def harmonic_fit(x, rate, f0, harmonics=8):
    """Refines f0 from the peaks near its first harmonics: amplitude-weighted least squares of
    peak_k = k * f0 (log-magnitude parabolic interpolation in a 16x zero-padded Hann spectrum)."""
    n = len(x)
    size = 1 << (16 * n - 1).bit_length()
    mag = np.abs(np.fft.rfft((x - np.mean(x)) * np.hanning(n), size))
    bin_hz = rate / size
    num = den = 0.0
    for k in range(1, harmonics + 1):
        centre = k * f0
        if centre > rate / 2 - 4 * f0 / 2:
            break
        lo, hi = int((centre - f0 / 4) / bin_hz), int((centre + f0 / 4) / bin_hz)
        i = lo + int(np.argmax(mag[lo:hi]))
        a, b, c = (math.log(max(mag[j], 1e-30)) for j in (i - 1, i, i + 1))
        denom = a - 2 * b + c
        peak = (i + (0.5 * (a - c) / denom if denom != 0 else 0.0)) * bin_hz
        weight = mag[i] ** 2
        num += weight * k * peak
        den += weight * k * k
    return num / den if den > 0 else f0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("wav")
    p.add_argument("--pre", type=float, default=0.25, help="seconds before the note-on in the recording")
    p.add_argument("--skip", type=float, default=0.3, help="seconds after the note-on left out of the pitch estimate")
    p.add_argument("--expect-hz", type=float, default=440.0)
    p.add_argument("--tolerance-cents", type=float, default=20.0)
    p.add_argument("--level-seconds", type=float, default=0.5, help="the note's level is its RMS over this long after the note-on")
    p.add_argument("--min-dbfs", type=float, default=-40.0, help="the note's level must be above this")
    p.add_argument("--min-rise-db", type=float, default=20.0, help="and this far above the level before the note-on")
    a = p.parse_args()

    x, rate = read_wav(a.wav)
    onset = int(round(a.pre * rate))
    before, note = x[:onset], x[onset:]
    if not np.all(np.isfinite(x)):
        return fail(f"the recording holds {int(np.sum(~np.isfinite(x)))} non-finite samples")
    level, level_before = dbfs(note[: int(a.level_seconds * rate)]), dbfs(before)
    steady = note[int(a.skip * rate):]
    f0_yin, dip = yin_f0(steady, rate)
    f0 = harmonic_fit(steady, rate, f0_yin)
    cents = 1200 * math.log2(f0 / a.expect_hz)
    summary = (f"level {level:.1f} dBFS RMS over the first {a.level_seconds:g} s (over {len(note) / rate:.2f} s {dbfs(note):.1f}; "
               f"before the note-on {level_before:.1f}); f0 {f0:.2f} Hz ({cents:+.1f} cents from {a.expect_hz:g} Hz; "
               f"YIN {f0_yin:.2f} Hz, aperiodicity {dip:.3f})")
    if level <= a.min_dbfs:
        return fail(f"no sound: the note's level is {level:.1f} dBFS RMS over its first {a.level_seconds:g} s, "
                    f"not above {a.min_dbfs:g}")
    if level - level_before < a.min_rise_db:
        return fail(f"the sound did not come from the note: {level:.1f} dBFS after the note-on, {level_before:.1f} before "
                    f"(less than {a.min_rise_db:g} dB apart)")
    if abs(cents) > a.tolerance_cents:
        return fail(f"wrong pitch: f0 {f0:.2f} Hz is {cents:+.1f} cents from {a.expect_hz:g} Hz "
                    f"(tolerance {a.tolerance_cents:g} cents; YIN {f0_yin:.2f} Hz; level {level:.1f} dBFS)")
    print(summary)
    return 0


def fail(line):
    print(line, file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
