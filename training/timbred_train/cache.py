"""Feature cache: every note's audio and features, stacked into arrays and saved next to the data.

The cache is keyed by the feature-relevant part of the model config, so changing a size
re-computes it instead of silently mixing features.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .config import ModelConfig
from .dataset import load_manifest, read_audio
from .errors import UserError
from .features import note_features

FEATURE_VERSION = 4  # bump when an analysis in features.py changes: 2 = cleaner noise residual, 3 = onset-aware windows, 4 = onset levels from short windows
FEATURE_KEYS = ("sample_rate", "frame_rate", "n_harmonics", "n_noise_bands", "enc_bins_per_octave",
                "enc_octaves_below", "enc_octaves_above", "enc_n_fft", "enc_segments_s")


@dataclass
class NoteSet:
    """All notes of a dataset as arrays; frames are [notes, n_frames, ...]."""

    audio: np.ndarray  # [M, n_frames * hop] float32
    f0_hz: np.ndarray  # [M, n_frames]
    f0_conf: np.ndarray
    loudness_db: np.ndarray
    harmonics: np.ndarray  # [M, n_frames, K] float16
    noise: np.ndarray  # [M, n_frames, Bands] float16
    noise_weight: np.ndarray
    encoder: np.ndarray  # [M, enc_features]
    instrument: np.ndarray  # [M] int index into instruments
    pitch: np.ndarray
    velocity: np.ndarray
    split: np.ndarray  # [M] str
    hold_frames: np.ndarray  # [M] frames until note-off
    instruments: list[str]

    def indices(self, split: str) -> np.ndarray:
        return np.nonzero(self.split == split)[0]

    def subset(self, keep: np.ndarray) -> "NoteSet":
        """The notes where `keep` (a boolean mask or indices) selects them."""
        fields = {k: getattr(self, k)[keep] for k in self.__dataclass_fields__ if k != "instruments"}
        return NoteSet(**fields, instruments=list(self.instruments))


def training_notes(notes):
    """The notes the model's tables are measured on: the train split. The held-out pitches (every
    sixth of a range, `dataset.split_for`) stay unheard by the envelopes, the tone balance and the
    transients as by the decoder, so that the report's pitch-held-out figures judge notes no part of
    the model has seen. Works on a `NoteSet` and on `engine_check._NoteAudio`."""
    return notes.subset(np.asarray(notes.split) == "train")


def cache_key(cfg: ModelConfig, n_frames: int) -> str:
    d = {k: getattr(cfg, k) for k in FEATURE_KEYS}
    d["n_frames"] = n_frames
    d["feature_version"] = FEATURE_VERSION
    return hashlib.sha1(json.dumps(d, sort_keys=True, default=list).encode()).hexdigest()[:12]


def load_or_build(data: Path, cfg: ModelConfig, seconds: float = 4.0) -> NoteSet:
    """Load the cached features of a dataset folder, computing them first if needed."""
    sr, notes = load_manifest(data)
    if sr != cfg.sample_rate:
        raise UserError(f"{data}: dataset is at {sr} Hz but the model is configured for {cfg.sample_rate} Hz")
    n_frames = int(round(seconds * cfg.frame_rate))
    n_samples = n_frames * cfg.hop
    path = data / f"features-{cache_key(cfg, n_frames)}.npz"
    instruments = sorted({n.instrument for n in notes})
    if path.is_file():
        z = np.load(path, allow_pickle=False)
        return NoteSet(**{k: z[k] for k in z.files if k != "instruments"}, instruments=list(z["instruments"]))
    cols: dict[str, list] = {k: [] for k in ("audio", "f0_hz", "f0_conf", "loudness_db", "harmonics", "noise",
                                              "noise_weight", "encoder")}
    meta = {"instrument": [], "pitch": [], "velocity": [], "split": [], "hold_frames": []}
    for note in tqdm(notes, desc="features", unit="note"):
        audio = read_audio(data / "audio" / note.file, cfg.sample_rate)[:n_samples]
        audio = np.pad(audio, (0, n_samples - len(audio)))
        f = note_features(audio, cfg, note.pitch)
        cols["audio"].append(audio)
        for k in ("f0_hz", "f0_conf", "loudness_db", "noise_weight"):
            cols[k].append(f[k][:n_frames])
        cols["encoder"].append(f["encoder"])
        cols["harmonics"].append(f["harmonics"][:n_frames].astype(np.float16))
        cols["noise"].append(f["noise"][:n_frames].astype(np.float16))
        meta["instrument"].append(instruments.index(note.instrument))
        meta["pitch"].append(note.pitch)
        meta["velocity"].append(note.velocity)
        meta["split"].append(note.split)
        meta["hold_frames"].append(int(round(note.hold_s * cfg.frame_rate)))
    arrays = {k: np.stack(v) for k, v in cols.items()}
    arrays.update({k: np.asarray(v) for k, v in meta.items()})
    np.savez(path, **arrays, instruments=np.asarray(instruments))
    return NoteSet(**arrays, instruments=instruments)
