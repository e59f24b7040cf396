"""Scores the Swift engine's output with the evaluation report's measures.

For every instrument, the held-out (test-split) notes are written to a MIDI file, rendered by
`timbred render` with that instrument's preset (the learned envelope drives loudness, as when a
musician plays), cut back into notes, and scored with the same instrument classifier (trained
on real training-split notes) and the same independent f0 tracker as `evaluate`. Every preset
also plays the octave ladder (MIDI 48, 53, ..., 83), and no note may be heard an octave off.
"""
from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import mido
import numpy as np

from .dataset import load_manifest, read_audio
from .errors import UserError
from .evaluate import classifier_features, harmonic_sum_f0
from .export import load_exported

NOTE_S, GAP_S = 3.0, 1.0  # the dataset's notes: 3 s held, 1 s released


class _NoteAudio:
    """The dataset's notes as the check (and `tone`'s layers) need them: audio, labels and hold
    times, no analysis (so a fresh machine does not compute the trainer's features just to score
    the engine). `frame_rate` gives `hold_frames`, as the feature cache has them."""

    def __init__(self, data: Path, sample_rate: int, instruments: list[str], frame_rate: float = 100.0):
        sr, manifest = load_manifest(data)
        if sr != sample_rate:
            raise UserError(f"{data}: dataset is at {sr} Hz but the model is configured for {sample_rate} Hz")
        manifest = [n for n in manifest if n.instrument in instruments]
        self.audio = [read_audio(data / "audio" / n.file, sample_rate) for n in manifest]
        self.instrument = np.array([instruments.index(n.instrument) for n in manifest])
        self.pitch = np.array([n.pitch for n in manifest])
        self.velocity = np.array([n.velocity for n in manifest])
        self.split = np.array([n.split for n in manifest])
        self.hold_frames = np.array([int(round(n.hold_s * frame_rate)) for n in manifest])
        self.instruments = instruments

    def subset(self, keep: np.ndarray) -> "_NoteAudio":
        """The notes where `keep` is true."""
        out = _NoteAudio.__new__(_NoteAudio)
        out.instruments = self.instruments
        out.audio = [a for a, k in zip(self.audio, keep) if k]
        for name in ("instrument", "pitch", "velocity", "split", "hold_frames"):
            setattr(out, name, getattr(self, name)[keep])
        return out

    def indices(self, split: str) -> np.ndarray:
        return np.nonzero(self.split == split)[0]


def write_midi(path: Path, notes: list[tuple[int, int]], note_s: float = NOTE_S, gap_s: float = GAP_S) -> None:
    """One note after another: `note_s` held, `gap_s` of silence (120 bpm, 480 ticks per beat)."""
    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=500000, time=0))
    ticks_note, ticks_gap = int(note_s * 960), int(gap_s * 960)
    first = True
    for pitch, vel in notes:
        track.append(mido.Message("note_on", note=pitch, velocity=vel, time=0 if first else ticks_gap))
        track.append(mido.Message("note_off", note=pitch, velocity=0, time=ticks_note))
        first = False
    mid.save(path)


LADDER = tuple(range(48, 84, 5))  # 48, 53, ..., 83: issue 14's octave ladder
LADDER_NOTE_S, LADDER_GAP_S = 1.5, 0.5


def render(timbred: Path, mid: Path, model_path: Path, presets: Path, preset: str, tail_s: float,
           sample_rate: int, reverb: float | None = None) -> np.ndarray:
    """`mid` played by `timbred render` with `preset` and the default settings (as a player
    hears it; `reverb`: that mix instead of the default, dry), `tail_s` after its end, read back
    at `sample_rate` (beside `mid`, as .wav)."""
    wav = mid.with_suffix(".wav")
    mix = [] if reverb is None else ["--reverb", str(reverb)]
    p = subprocess.run([str(timbred), "render", str(mid), "-o", str(wav), "--model", str(model_path),
                        "--preset", preset, "--rate", "48000", "--tail", str(tail_s)] + mix, capture_output=True, text=True,
                       env={"TIMBRED_HOME": str(presets.parent), "PATH": "/usr/bin:/bin"})
    if p.returncode != 0:
        raise UserError(f"timbred render failed for {preset}: {p.stderr.strip()}")
    return read_audio(wav, sample_rate)


def heard_cents(audio: np.ndarray, pitch: int, sample_rate: int) -> float | None:
    """The pitch a note is heard at against its key, in cents: the median of the independent f0
    tracker (`harmonic_sum_f0`) over `audio`; None where it finds no pitch (silence included)."""
    if not np.sqrt(np.mean(np.square(audio, dtype=np.float64))) > 1e-6:
        return None
    f0 = harmonic_sum_f0(audio, sample_rate)
    if not np.isfinite(f0).any():
        return None
    return 1200 * math.log2(float(np.nanmedian(f0)) / (440 * 2 ** ((pitch - 69) / 12)))


def octave_ladder(timbred: Path, model_path: Path, presets: Path, instruments: list[str], work: Path,
                  sample_rate: int, reverb: float | None = None) -> dict:
    """Every instrument's preset plays the ladder MIDI 48, 53, ..., 83 at velocity 100 through
    `timbred render` (one note after another, LADDER_NOTE_S held); each note's pitch is the
    median of the independent f0 tracker over its held part (from 0.2 s). A note heard more than
    600 cents from its key is an octave error (a choir note whose second harmonic outweighs its
    fundamental is heard an octave up). Returns the count, the errors and the largest deviation."""
    errors, worst = [], 0.0
    for name in instruments:
        mid = work / f"ladder-{name}.mid"
        write_midi(mid, [(pitch, 100) for pitch in LADDER], LADDER_NOTE_S, LADDER_GAP_S)
        audio = render(timbred, mid, model_path, presets, name, LADDER_GAP_S, sample_rate, reverb)
        step = LADDER_NOTE_S + LADDER_GAP_S
        for j, pitch in enumerate(LADDER):
            seg = audio[int((j * step + 0.2) * sample_rate): int((j * step + LADDER_NOTE_S) * sample_rate)]
            c = heard_cents(seg, pitch, sample_rate)
            worst = max(worst, abs(c)) if c is not None else worst
            if c is None or abs(c) > 600:
                errors.append({"preset": name, "pitch": pitch, "cents": None if c is None else round(c, 1)})
    return {"notes": len(LADDER) * len(instruments), "octave_errors": len(errors), "errors": errors,
            "largest_abs_cents": round(worst, 1)}


def engine_check(timbred: Path, model_path: Path, presets: Path, data: Path, work: Path, report: Path | None,
                 tolerance: float = 0.05, reverb: float | None = None) -> dict:
    """Scores the engine's held-out notes and its octave ladder (module docstring); `reverb`
    renders at that mix instead of the default (dry), e.g. 1 for the model's room."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model, _, _ = load_exported(model_path)
    cfg = model.cfg
    sr = cfg.sample_rate
    notes = _NoteAudio(data, sr, cfg.instruments)
    train_idx, test = notes.indices("train"), notes.indices("test")
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000, C=0.5))
    clf.fit(np.stack([classifier_features(notes.audio[i], sr) for i in train_idx]), notes.instrument[train_idx])
    work.mkdir(parents=True, exist_ok=True)
    feats, labels, cents, real_feats, real_cents, keys = [], [], [], [], [], []
    for k, name in enumerate(notes.instruments):
        mine = [int(i) for i in test if notes.instrument[i] == k]
        if not mine:
            continue
        seq = [(int(notes.pitch[i]), int(notes.velocity[i])) for i in mine]
        mid = work / f"{name}.mid"
        write_midi(mid, seq)
        audio = render(timbred, mid, model_path, presets, name, GAP_S, sr, reverb)
        for j, i in enumerate(mine):
            start = int(j * (NOTE_S + GAP_S) * sr)
            seg = audio[start:start + int((NOTE_S + GAP_S) * sr)]
            seg = np.pad(seg, (0, max(0, len(notes.audio[i]) - len(seg))))[: len(notes.audio[i])]
            feats.append(classifier_features(seg, sr))
            real_feats.append(classifier_features(notes.audio[i], sr))
            labels.append(k)
            keys.append(f"{int(notes.pitch[i])}/{int(notes.velocity[i])}")
            c = heard_cents(seg[: int(NOTE_S * sr)], int(notes.pitch[i]), sr)
            cents.append(float("nan") if c is None else c)
            c = heard_cents(notes.audio[i][: int(NOTE_S * sr)], int(notes.pitch[i]), sr)
            real_cents.append(float("nan") if c is None else c)
    labels = np.asarray(labels)
    named = clf.predict(np.stack(feats))
    acc_engine = float((named == labels).mean())
    acc_real = float((clf.predict(np.stack(real_feats)) == labels).mean())
    cents, real_cents = np.asarray(cents), np.asarray(real_cents)
    result = {
        "notes": int(len(labels)), "classifier_accuracy_real": acc_real, "classifier_accuracy_engine": acc_engine,
        "engine_ratio": acc_engine / max(acc_real, 1e-9), "median_abs_f0_cents_engine": float(np.nanmedian(np.abs(cents))),
        # against the real note's own pitch (a stretch-tuned piano's treble lies sharp of its key)
        "median_abs_f0_cents_engine_vs_real": float(np.nanmedian(np.abs(cents - real_cents))),
        "octave_errors_engine": int(np.sum(np.abs(cents) > 600)),
        "per_instrument_engine": {name: float((named[labels == k] == k).mean())
                                  for k, name in enumerate(notes.instruments) if np.any(labels == k)},
        # what each instrument's misnamed notes were heard as: "pitch/velocity" -> instrument
        "misheard_engine": {name: {keys[j]: notes.instruments[int(named[j])] for j in np.flatnonzero(labels == k)
                                   if named[j] != k}
                            for k, name in enumerate(notes.instruments) if np.any((labels == k) & (named != k))},
    }
    result["ladder"] = octave_ladder(timbred, model_path, presets, list(notes.instruments), work, sr, reverb)
    if report is not None and report.is_file():
        rep = json.loads(report.read_text())
        # the report's notes played from MIDI through the PyTorch model: the same notes, envelope
        # and presets the engine plays
        result["classifier_accuracy_pytorch"] = rep["classifier_accuracy_midi"]
        result["median_abs_f0_cents_pytorch"] = rep["median_abs_f0_cents_midi"]
        result["octave_errors_pytorch"] = rep["octave_errors_midi"]
        result["accuracy_difference"] = acc_engine - rep["classifier_accuracy_midi"]
    (work / "engine-check.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    # The engine must agree with what PyTorch computes for the same model: the report's figures
    # are the reference, whatever the model's quality.
    ok = result["median_abs_f0_cents_engine"] < 10 and result["ladder"]["octave_errors"] == 0
    if "accuracy_difference" in result:
        ok = ok and abs(result["accuracy_difference"]) <= tolerance
    if not ok:
        raise UserError(f"engine check failed: {json.dumps(result)}")
    return result
