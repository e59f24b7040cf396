#!/usr/bin/env python3
"""Host-side helper of scripts/guest-alsa-test.

    guest_alsa_analyse.py midi OUT.mid          write the test's MIDI file (notes in NOTES)
    guest_alsa_analyse.py check SHARE_DIR       analyse what the guest left in SHARE_DIR

`check` reads the guest's check lines (SHARE_DIR/checks.txt), analyses the loopback recordings
(sequence.wav, virmidi.wav, panic-*.wav) and prints one line per check with its measured number.
Exit status 0 only when every check passed.

Audio checks:
  sequence  every note of NOTES is found, at its pitch (error in cents against 12-TET, A4 = 440 Hz)
            and at its time relative to the first note (error in ms against the MIDI file's timing)
  virmidi   the note sent as raw bytes through the autoconnected virmidi port sounds at its pitch
  sysex     a MIDI Tuning Standard SysEx sent the same way retunes key 60 by +50 cents: the note
            sounds at 60.5 (the SysEx branch of the sequencer input, live)
  panic-*   a note held by a source stays loud until the source goes away (killed, unsubscribed,
            unplugged), then falls below PANIC_FLOOR_DB within PANIC_BOUND_S; the moment is placed
            in the recording through a marker note sent at a known guest time
"""
import struct
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

# The test's MIDI file: (note, start s, length s); velocity 100, channel 1.
NOTES = [(57, 0.0, 0.6), (64, 1.0, 0.6), (69, 2.0, 0.6), (76, 3.0, 0.6)]
VIRMIDI_NOTE = 60
SYSEX_TUNED_NOTE = 60.5  # key 60 after the guest's MTS single-note tuning change (+50 cents)
PANIC_NOTE = 64
MARKER_NOTE = 72                           # starts each panic recording, sent at a known time

CENTS_TOLERANCE = 15.0
ONSET_TOLERANCE_S = 2 * 2048 / 48000      # two jackd periods (-p 2048 at 48 kHz): 85 ms
PANIC_FLOOR_DB = -60.0                     # "silent": below this level (dBFS, 5 ms RMS)
PANIC_BOUND_S = 0.5                        # from the moment the source went away
HELD_LEVEL_DB = -40.0                      # a held note is louder than this until then


# ---------------------------------------------------------------- MIDI file

def vlq(n):
    """MIDI variable-length quantity."""
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.insert(0, 0x80 | (n & 0x7F))
        n >>= 7
    return bytes(out)


def write_midi(path, notes, division=480, tempo_us=500000):
    """A format-0 Standard MIDI File with the notes at 120 bpm (one tick = 1/960 s)."""
    ticks_per_s = division * 1_000_000 / tempo_us
    events = []
    for note, start, length in notes:
        events.append((round(start * ticks_per_s), 1, bytes([0x90, note, 100])))
        events.append((round((start + length) * ticks_per_s), 0, bytes([0x80, note, 0])))
    events.sort()
    track = b"\x00\xFF\x51\x03" + tempo_us.to_bytes(3, "big")
    now = 0
    for tick, _, data in events:
        track += vlq(tick - now) + data
        now = tick
    track += vlq(division) + b"\xFF\x2F\x00"   # end of track half a second after the last note-off
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, division)
    Path(path).write_bytes(header + b"MTrk" + struct.pack(">I", len(track)) + track)


# ---------------------------------------------------------------- signal analysis

def load_mono(path):
    audio, rate = sf.read(path, dtype="float64", always_2d=True)
    return audio.mean(axis=1), rate


def level_db(x, rate, hop_s=0.001, win_s=0.005):
    """RMS level in dBFS of windows of win_s every hop_s (1 ms: onsets to the millisecond);
    times are window centres."""
    hop, win = int(rate * hop_s), int(rate * win_s)
    n = max(0, (len(x) - win) // hop + 1)
    frames = np.lib.stride_tricks.as_strided(x, (n, win), (x.strides[0] * hop, x.strides[0]))
    rms = np.sqrt(np.mean(frames ** 2, axis=1) + 1e-20)
    return 20 * np.log10(rms), (np.arange(n) * hop + win / 2) / rate


def midi_hz(note):
    return 440.0 * 2 ** ((note - 69) / 12)


def estimate_f0(x, rate, fmin=50.0, fmax=2000.0):
    """Fundamental frequency of a steady harmonic segment, found without knowing the note:
    YIN's cumulative mean normalised difference picks the period (first dip under 0.15, so no
    octave errors), then the spectral peak nearest that frequency in a zero-padded Hann-windowed
    FFT, interpolated on its log magnitude, gives the precise value. Returns Hz (nan: no pitch)."""
    x = x - x.mean()
    lag_max = int(rate / fmin)
    lag_min = int(rate / fmax)
    w = len(x) - lag_max
    if w < lag_max:
        return float("nan")
    # difference function d(tau) = sum (x[j] - x[j+tau])^2 over a window of w samples, via FFT
    n = 1 << int(np.ceil(np.log2(len(x) + w)))
    xf = np.fft.rfft(x, n)
    wf = np.fft.rfft(x[:w], n)
    corr = np.fft.irfft(xf * np.conj(wf), n)[:lag_max + 1]
    energy = np.concatenate(([0.0], np.cumsum(x ** 2)))
    e0 = energy[w]
    etau = energy[np.arange(lag_max + 1) + w] - energy[np.arange(lag_max + 1)]
    d = e0 + etau - 2 * corr
    cmnd = np.ones_like(d)
    cmnd[1:] = d[1:] * np.arange(1, lag_max + 1) / np.maximum(np.cumsum(d[1:]), 1e-20)
    candidates = np.where(cmnd[lag_min:] < 0.15)[0]
    if len(candidates) == 0:
        tau = lag_min + int(np.argmin(cmnd[lag_min:]))
    else:
        tau = lag_min + int(candidates[0])
        while tau + 1 <= lag_max and cmnd[tau + 1] < cmnd[tau]:
            tau += 1
    coarse = rate / tau
    # refine on the spectrum: the peak within +-4 % of the YIN estimate
    nfft = 1 << 20
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)), nfft))
    bin_hz = rate / nfft
    lo, hi = int(coarse * 0.96 / bin_hz), int(coarse * 1.04 / bin_hz) + 1
    k = lo + int(np.argmax(spec[lo:hi]))
    a, b, c = np.log(spec[k - 1:k + 2] + 1e-20)
    offset = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) != 0 else 0.0
    return (k + offset) * bin_hz


def cents(f, ref):
    return 1200 * np.log2(f / ref)


def onsets(db, times, threshold_db, rearm_db=10.0):
    """Times where the level crosses threshold_db upwards, counted again only after it fell
    rearm_db below the threshold (so a note's wobble or a slow release is no new onset)."""
    out = []
    armed = True
    for i in range(1, len(db)):
        if armed and db[i] > threshold_db >= db[i - 1]:
            out.append(times[i])
            armed = False
        elif db[i] < threshold_db - rearm_db:
            armed = True
    return out


# ---------------------------------------------------------------- checks

class Checks:
    def __init__(self):
        self.failed = []
        self.summary = {}

    def report(self, name, ok, text):
        print(f"{'PASS' if ok else 'FAIL'} {name}: {text}")
        if not ok:
            self.failed.append(name)


def check_sequence(checks, path):
    """Every note present, pitch within CENTS_TOLERANCE, onsets within ONSET_TOLERANCE_S."""
    x, rate = load_mono(path)
    db, t = level_db(x, rate)
    peak = db.max()
    if peak < -50:
        checks.report("sequence", False, f"the recording is silent (peak {peak:.1f} dBFS)")
        return
    found = onsets(db, t, peak - 30)
    if len(found) != len(NOTES):
        checks.report("sequence", False, f"{len(found)} onsets found at "
                      f"{', '.join(f'{s:.3f}' for s in found)} s, expected {len(NOTES)} "
                      f"(peak {peak:.1f} dBFS)")
        return
    worst_cents = worst_ms = 0.0
    for (note, start, length), onset in zip(NOTES, found):
        expected = onset - found[0]
        error_ms = 1000 * ((onset - found[0]) - (start - NOTES[0][1]))
        seg = x[int((onset + 0.2) * rate):int((onset + length - 0.05) * rate)]
        f0 = estimate_f0(seg, rate)
        error_cents = cents(f0, midi_hz(note)) if np.isfinite(f0) else float("inf")
        ok = abs(error_cents) <= CENTS_TOLERANCE and abs(error_ms) <= ONSET_TOLERANCE_S * 1000
        checks.report(f"sequence note {note}", ok,
                      f"onset {onset:.3f} s (+{expected:.3f} s from the first, {error_ms:+.1f} ms "
                      f"off the file), {f0:.2f} Hz = {error_cents:+.2f} cents from {midi_hz(note):.2f} Hz")
        worst_cents = max(worst_cents, abs(error_cents))
        worst_ms = max(worst_ms, abs(error_ms))
    checks.summary["sequence: worst pitch error"] = f"{worst_cents:.2f} cents (tolerance {CENTS_TOLERANCE:.0f})"
    checks.summary["sequence: worst onset error"] = f"{worst_ms:.1f} ms (tolerance {ONSET_TOLERANCE_S * 1000:.0f})"


def check_single_note(checks, name, path, note):
    x, rate = load_mono(path)
    db, t = level_db(x, rate)
    peak = db.max()
    found = onsets(db, t, peak - 30)
    if peak < -50 or not found:
        checks.report(name, False, f"no note in the recording (peak {peak:.1f} dBFS)")
        return
    seg = x[int((found[0] + 0.2) * rate):int((found[0] + 0.7) * rate)]
    f0 = estimate_f0(seg, rate)
    error_cents = cents(f0, midi_hz(note)) if np.isfinite(f0) else float("inf")
    checks.report(name, abs(error_cents) <= CENTS_TOLERANCE,
                  f"note {note} at {found[0]:.3f} s, {peak:.1f} dBFS peak, {f0:.2f} Hz = "
                  f"{error_cents:+.2f} cents from {midi_hz(note):.2f} Hz")
    checks.summary[f"{name}: pitch error"] = f"{error_cents:+.2f} cents"


def check_panic(checks, name, path, after_marker_s, note):
    """The recording holds a marker note (MARKER_NOTE, sent at a known guest time) and then the
    held note. after_marker_s: seconds from the marker's note-on to the source going away (guest
    clock); the moment is placed in the recording at the marker's onset + after_marker_s, so the
    path's latency (sequencer, one JACK period, the loopback) cancels out."""
    x, rate = load_mono(path)
    db, t = level_db(x, rate)
    peak = db.max()
    found = onsets(db, t, peak - 30)
    if peak < -50 or len(found) != 2:
        checks.report(name, False, f"expected the marker and the held note, found {len(found)} onsets "
                      f"({', '.join(f'{s:.3f}' for s in found)} s; peak {peak:.1f} dBFS)")
        return
    marker, onset = found
    marker_f0 = estimate_f0(x[int((marker + 0.05) * rate):int((marker + 0.2) * rate)], rate)
    if not (np.isfinite(marker_f0) and abs(cents(marker_f0, midi_hz(MARKER_NOTE))) <= CENTS_TOLERANCE):
        checks.report(name, False, f"the first note at {marker:.3f} s is not the marker {MARKER_NOTE} ({marker_f0:.2f} Hz)")
        return
    gone_at = marker + after_marker_s
    # held: from 0.3 s after its onset until the source went away, never below HELD_LEVEL_DB
    held = db[(t > onset + 0.3) & (t < gone_at)]
    if len(held) == 0:
        checks.report(name, False, f"the source went away {gone_at - onset:.3f} s after the held note's onset")
        return
    # silent from then on: the first window after which the level stays under the floor
    quiet_at = None
    for i in np.where((t >= gone_at) & (db < PANIC_FLOOR_DB))[0]:
        if np.all(db[i:] < PANIC_FLOOR_DB):
            quiet_at = t[i]
            break
    seg = x[int((onset + 0.3) * rate):int(gone_at * rate)]
    f0 = estimate_f0(seg, rate) if len(seg) > rate * 0.2 else float("nan")
    error_cents = cents(f0, midi_hz(note)) if np.isfinite(f0) else float("inf")
    took = (quiet_at - gone_at) if quiet_at is not None else float("inf")
    ok = held.min() > HELD_LEVEL_DB and took <= PANIC_BOUND_S and abs(error_cents) <= CENTS_TOLERANCE
    checks.report(name, ok, f"note {note} ({error_cents:+.1f} cents) held at >= {held.min():.1f} dBFS for "
                  f"{gone_at - onset:.2f} s; after the source went away the level fell below "
                  f"{PANIC_FLOOR_DB:.0f} dBFS in {took * 1000:.0f} ms (bound {PANIC_BOUND_S * 1000:.0f} ms; "
                  f"level at the end {db[-100:].max():.1f} dBFS)")
    checks.summary[f"{name}: silent after"] = f"{took * 1000:.0f} ms"


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "midi":
        write_midi(sys.argv[2], NOTES)
        return 0
    if len(sys.argv) == 3 and sys.argv[1] == "midi-held":
        # one note-on, its note-off 20 s later: the source is killed long before that
        write_midi(sys.argv[2], [(PANIC_NOTE, 0.0, 20.0)])
        return 0
    if len(sys.argv) != 3 or sys.argv[1] != "check":
        print(__doc__, file=sys.stderr)
        return 2
    share = Path(sys.argv[2])
    checks = Checks()
    # the guest's own checks (sequencer ports, subscriptions) and the numbers it measured
    values = {}
    lines = (share / "checks.txt").read_text().splitlines() if (share / "checks.txt").exists() else []
    for line in lines:
        kind, _, rest = line.partition(" ")
        if kind in ("PASS", "FAIL"):
            name, _, text = rest.partition(": ")
            checks.report(name, kind == "PASS", text)
        elif kind == "VALUE":
            key, _, value = rest.partition("=")
            values[key] = value
    if not lines:
        checks.report("guest", False, "the guest wrote no checks")
    audio = [("sequence.wav", lambda p: check_sequence(checks, p)),
             ("virmidi.wav", lambda p: check_single_note(checks, "virmidi note", p, VIRMIDI_NOTE)),
             ("sysex.wav", lambda p: check_single_note(checks, "sysex tuning", p, SYSEX_TUNED_NOTE))]
    for kind in ("killed", "unsubscribed", "unplugged"):
        key = f"panic_{kind}_after_marker"
        if key in values:
            audio.append((f"panic-{kind}.wav", lambda p, k=kind, g=float(values[key]):
                          check_panic(checks, f"panic ({k})", p, g, PANIC_NOTE)))
        else:
            checks.report(f"panic ({kind})", False, "the guest did not get that far")
    for file, run in audio:
        if (share / file).exists():
            run(share / file)
        else:
            checks.report(file, False, "no recording")
    if "xruns" in values:
        checks.summary["jackd xruns (information, not a criterion)"] = values["xruns"]
    if "guest_seconds" in values:
        checks.summary["scenario length in guest time"] = f"{float(values['guest_seconds']):.1f} s"
    for key, value in checks.summary.items():
        print(f"  {key}: {value}")
    if checks.failed:
        print(f"{len(checks.failed)} check(s) failed: {', '.join(checks.failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
