"""Note datasets: rendered from a SoundFont through libfluidsynth, read from an NSynth folder,
or read from a folder of the user's own WAV notes. Every source ends in the same layout:

    DATA/audio/<instrument>-<pitch>-<velocity>.wav   mono float, model sample rate, onset at 0
    DATA/manifest.json                               one entry per note
"""
from __future__ import annotations

import ctypes
import ctypes.util
import json
import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

from .config import DEFAULT_INSTRUMENTS
from .errors import UserError

DEFAULT_SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
NOTE_NAMES = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}


@dataclass
class Note:
    """One manifest entry."""

    file: str
    instrument: str
    program: int
    pitch: int
    velocity: int
    split: str
    hold_s: float
    source: str


def split_for(index_in_range: int) -> str:
    """Pitch-held-out split: every sixth pitch of an instrument's range is a test pitch."""
    return "test" if index_in_range % 6 == 3 else "train"


class FluidSynth:
    """Minimal libfluidsynth binding (ctypes): one synth, one SoundFont loaded once."""

    def __init__(self, soundfont: Path, sample_rate: int):
        name = ctypes.util.find_library("fluidsynth") or "libfluidsynth.so.3"
        try:
            lib = ctypes.CDLL(name)
        except OSError as e:
            raise UserError(f"libfluidsynth not found ({e}); install libfluidsynth3") from None
        self.lib = lib
        lib.new_fluid_settings.restype = ctypes.c_void_p
        lib.new_fluid_synth.restype = ctypes.c_void_p
        lib.new_fluid_synth.argtypes = [ctypes.c_void_p]
        lib.fluid_settings_setnum.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_double]
        lib.fluid_settings_setint.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
        lib.fluid_synth_sfload.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
        lib.fluid_synth_program_select.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.fluid_synth_noteon.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.fluid_synth_noteoff.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
        lib.fluid_synth_all_sounds_off.argtypes = [ctypes.c_void_p, ctypes.c_int]
        lib.fluid_synth_system_reset.argtypes = [ctypes.c_void_p]
        lib.fluid_synth_write_float.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
                                                ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
        self.settings = lib.new_fluid_settings()
        lib.fluid_settings_setnum(self.settings, b"synth.sample-rate", float(sample_rate))
        lib.fluid_settings_setint(self.settings, b"synth.reverb.active", 0)
        lib.fluid_settings_setint(self.settings, b"synth.chorus.active", 0)
        lib.fluid_settings_setnum(self.settings, b"synth.gain", 1.5)
        lib.fluid_settings_setint(self.settings, b"synth.polyphony", 64)
        self.synth = lib.new_fluid_synth(self.settings)
        self.sfid = lib.fluid_synth_sfload(self.synth, str(soundfont).encode(), 1)
        if self.sfid < 0:
            raise UserError(f"{soundfont}: not a SoundFont fluidsynth can load")
        self.sample_rate = sample_rate

    def render_note(self, program: int, pitch: int, velocity: int, hold_s: float, release_s: float) -> np.ndarray:
        """Render one note on channel 0: note-on at sample 0, note-off after hold_s, then release_s."""
        lib, s = self.lib, self.synth
        lib.fluid_synth_system_reset(s)
        if lib.fluid_synth_program_select(s, 0, self.sfid, 0, program) != 0:
            raise UserError(f"program {program} not in the SoundFont")
        self._render(int(0.05 * self.sample_rate))  # let the reset settle
        lib.fluid_synth_noteon(s, 0, pitch, velocity)
        held = self._render(int(round(hold_s * self.sample_rate)))
        lib.fluid_synth_noteoff(s, 0, pitch)
        rel = self._render(int(round(release_s * self.sample_rate)))
        lib.fluid_synth_all_sounds_off(s, 0)
        # rendered away: the voices cut here still sound for a few ms, and a loud bright tail (the
        # organ's MIDI 91 after 0.5 s of release) left in the synth ran into the next note's first
        # samples (a vibraphone's first 20 ms came out 13 dB brighter above 6 kHz)
        self._render(int(0.05 * self.sample_rate))
        return np.concatenate([held, rel])

    def _render(self, n: int) -> np.ndarray:
        left = np.zeros(n, np.float32)
        right = np.zeros(n, np.float32)
        self.lib.fluid_synth_write_float(self.synth, n, left.ctypes.data, 0, 1, right.ctypes.data, 0, 1)
        return 0.5 * (left + right)


def note_is_usable(audio: np.ndarray, sample_rate: int) -> tuple[bool, str]:
    """Drop silent or broken notes: no signal, NaN, or clipping."""
    if not np.all(np.isfinite(audio)):
        return False, "non-finite samples"
    peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
    if peak < 1e-3:
        return False, "silent"
    if peak >= 0.999:
        return False, "clipped"
    first = audio[: int(0.2 * sample_rate)]
    if float(np.max(np.abs(first))) < 0.1 * peak:
        return False, "no onset in the first 200 ms"
    return True, ""


def render_soundfont(out: Path, soundfont: Path = DEFAULT_SOUNDFONT, sample_rate: int = 48000,
                     instruments=None, velocities=(16, 40, 80, 120, 127), pitch_step: int = 2,
                     hold_s: float = 3.0, release_s: float = 1.0, pitch_offset: int = 0) -> list[Note]:
    """Render an NSynth-style note set (one note per file) from a SoundFont, loaded once; each
    instrument's pitches from its lowest + `pitch_offset`, every `pitch_step` semitones."""
    if not soundfont.is_file():
        raise UserError(f"{soundfont}: SoundFont not found (Debian: apt-get install fluid-soundfont-gm)")
    instruments = instruments or DEFAULT_INSTRUMENTS
    fs = FluidSynth(soundfont, sample_rate)
    (out / "audio").mkdir(parents=True, exist_ok=True)
    jobs = []
    for name, program, lo, hi in instruments:
        for i, pitch in enumerate(range(lo + pitch_offset, hi + 1, pitch_step)):
            for vel in velocities:
                jobs.append((name, program, pitch, vel, split_for(i)))
    notes, dropped = [], []
    for name, program, pitch, vel, split in tqdm(jobs, desc="render", unit="note"):
        audio = fs.render_note(program, pitch, vel, hold_s, release_s)
        ok, why = note_is_usable(audio, sample_rate)
        if not ok:
            dropped.append(f"{name} {pitch} {vel}: {why}")
            continue
        fname = f"{name}-{pitch:03d}-{vel:03d}.wav"
        sf.write(out / "audio" / fname, audio, sample_rate, subtype="FLOAT")
        notes.append(Note(fname, name, program, pitch, vel, split, hold_s, f"soundfont:{soundfont.name}"))
    write_manifest(out, notes, sample_rate, dropped)
    return notes


def write_manifest(out: Path, notes: list[Note], sample_rate: int, dropped: list[str]) -> None:
    if not notes:
        raise UserError(f"{out}: no usable notes")
    manifest = {"sample_rate": sample_rate, "notes": [asdict(n) for n in notes], "dropped": dropped}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))


def load_manifest(data: Path) -> tuple[int, list[Note]]:
    path = data / "manifest.json"
    if not path.is_file():
        raise UserError(f"{path}: no manifest (run `timbred-train dataset` first)")
    try:
        m = json.loads(path.read_text())
        return int(m["sample_rate"]), [Note(**n) for n in m["notes"]]
    except (ValueError, KeyError, TypeError) as e:
        raise UserError(f"{path}: malformed manifest ({e})") from None


def read_audio(path: Path, sample_rate: int) -> np.ndarray:
    """Read any libsndfile format, mix to mono and resample (band-limited, FFT) to sample_rate."""
    try:
        audio, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as e:  # soundfile raises several types for unreadable files
        why = str(e).split(": ")[-1].rstrip(".") if ": " in str(e) else str(e)
        raise UserError(f"{path}: unreadable audio ({why})") from None
    audio = audio.mean(1)
    if len(audio) == 0:
        raise UserError(f"{path}: empty audio file")
    if sr != sample_rate:
        audio = resample(audio, sr, sample_rate)
    return audio.astype(np.float32)


def resample(audio: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Band-limited resampling by FFT (zero-padding or truncating the spectrum)."""
    n_out = int(round(len(audio) * sr_out / sr_in))
    spec = np.fft.rfft(audio)
    n_bins = n_out // 2 + 1
    if n_bins <= len(spec):
        spec = spec[:n_bins]
    else:
        spec = np.pad(spec, (0, n_bins - len(spec)))
    return np.fft.irfft(spec, n=n_out) * (n_out / len(audio))


def trim_to_onset(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Start at the onset: the first sample whose 5 ms envelope exceeds 5 % of the peak, minus 5 ms."""
    env = np.abs(audio)
    peak = env.max()
    idx = int(np.argmax(env > 0.05 * peak))
    return audio[max(0, idx - int(0.005 * sample_rate)):]


def import_nsynth(src: Path, out: Path, sample_rate: int = 48000) -> list[Note]:
    """Import an NSynth-format folder (examples.json + audio/NAME.wav)."""
    meta_path = src / "examples.json"
    if not meta_path.is_file():
        raise UserError(f"{src}: not an NSynth folder (no examples.json)")
    try:
        meta = json.loads(meta_path.read_text())
    except ValueError as e:
        raise UserError(f"{meta_path}: malformed JSON ({e})") from None
    (out / "audio").mkdir(parents=True, exist_ok=True)
    notes, dropped = [], []
    by_inst: dict[str, list[int]] = {}
    for key, ex in meta.items():
        by_inst.setdefault(ex.get("instrument_str", "unknown"), []).append(int(ex["pitch"]))
    for key, ex in tqdm(sorted(meta.items()), desc="nsynth", unit="note"):
        wav = src / "audio" / f"{key}.wav"
        if not wav.is_file():
            dropped.append(f"{key}: missing {wav.name}")
            continue
        audio = read_audio(wav, sample_rate)
        ok, why = note_is_usable(audio, sample_rate)
        if not ok:
            dropped.append(f"{key}: {why}")
            continue
        inst = ex.get("instrument_str", "unknown")
        pitches = sorted(set(by_inst[inst]))
        fname = f"{key}.wav"
        sf.write(out / "audio" / fname, audio, sample_rate, subtype="FLOAT")
        notes.append(Note(fname, inst, int(ex.get("instrument", -1)), int(ex["pitch"]), int(ex["velocity"]),
                          split_for(pitches.index(int(ex["pitch"]))), 3.0, f"nsynth:{src.name}"))
    write_manifest(out, notes, sample_rate, dropped)
    return notes


def pitch_from_name(name: str) -> int | None:
    """MIDI pitch from a file name: '..._60...', 'C4', 'f#3', 'Bb2' (C4 = 60)."""
    m = re.search(r"(?<![A-Za-z])([A-Ga-g])([#b]?)(-?\d)(?!\d)", name)
    if m:
        base = NOTE_NAMES[m.group(1).lower()] + {"#": 1, "b": -1, "": 0}[m.group(2)]
        return 12 * (int(m.group(3)) + 1) + base
    m = re.search(r"(?<!\d)(\d{2,3})(?!\d)", name)
    if m and 0 <= int(m.group(1)) <= 127:
        return int(m.group(1))
    return None


def import_wav_folder(src: Path, out: Path, instrument: str, sample_rate: int = 48000) -> list[Note]:
    """Import a folder of the user's own notes (one note per file). The pitch comes from the file
    name when it carries one, else it is tracked (YIN over the whole range)."""
    from .features import track_f0

    files = sorted(p for p in src.iterdir() if p.suffix.lower() in (".wav", ".flac", ".aiff", ".aif", ".ogg"))
    if not files:
        raise UserError(f"{src}: no audio files (wav, flac, aiff, ogg) in this folder")
    (out / "audio").mkdir(parents=True, exist_ok=True)
    notes, dropped = [], []
    entries = []
    for path in tqdm(files, desc="wav", unit="note"):
        audio = trim_to_onset(read_audio(path, sample_rate), sample_rate)
        ok, why = note_is_usable(audio, sample_rate)
        if not ok:
            dropped.append(f"{path.name}: {why}")
            continue
        pitch = pitch_from_name(path.stem)
        if pitch is None:
            n = max(1, len(audio) // (sample_rate // 100))
            f0, conf = track_f0(audio, sample_rate, 100, 261.6, n, search_semitones=36)
            good = conf > 0.5
            if not good.any():
                dropped.append(f"{path.name}: no pitch found")
                continue
            pitch = int(round(69 + 12 * math.log2(float(np.median(f0[good])) / 440)))
        peak = float(np.max(np.abs(audio)))
        velocity = int(np.clip(round(127 * peak ** 0.5), 1, 127))
        entries.append((path, audio, pitch, velocity))
    pitches = sorted({e[2] for e in entries})
    for path, audio, pitch, velocity in entries:
        fname = f"{instrument}-{path.stem}.wav"
        sf.write(out / "audio" / fname, audio, sample_rate, subtype="FLOAT")
        notes.append(Note(fname, instrument, -1, pitch, velocity, split_for(pitches.index(pitch)),
                          len(audio) / sample_rate, f"wav:{src.name}"))
    if not notes:
        raise UserError(f"{src}: no usable notes ({'; '.join(dropped[:3])})")
    write_manifest(out, notes, sample_rate, dropped)
    return notes
