"""What the session-7 probes share: the dataset and the classifier as `timbred-train evaluate` builds
them, a checkpoint as a model, a held-out note's training neighbours, the seeded noise, and the
score line. Import from `training/` (`python3 experiments/NAME.py` puts this folder on the path)."""
from pathlib import Path

import numpy as np
import torch

from timbred_train.cache import NoteSet, load_or_build
from timbred_train.config import ModelConfig
from timbred_train.evaluate import real_note_classifier
from timbred_train.model import TimbreDDSP
from timbred_train.train import load_checkpoint


def setup() -> tuple[ModelConfig, NoteSet]:
    """One thread, the default config, and the default dataset's cached features."""
    torch.set_num_threads(1)
    cfg = ModelConfig()
    return cfg, load_or_build(Path("data/default"), cfg)


def load_model(path: str) -> TimbreDDSP:
    """A training checkpoint as a model in eval mode."""
    ck = load_checkpoint(Path(path))
    model = TimbreDDSP(ModelConfig.from_dict(ck["config"]))
    model.load_state_dict(ck["model"])
    return model.eval()


def neighbours(notes: NoteSet, i: int, train: np.ndarray) -> tuple[int, int, int]:
    """Note i's training notes of the same instrument and velocity: (nearest in pitch, ties going
    below; nearest below; nearest above). A missing side falls back to the nearest."""
    k, p = notes.instrument[i], int(notes.pitch[i])
    cand = [j for j in train if notes.instrument[j] == k and notes.velocity[j] == notes.velocity[i]]
    near = min(cand, key=lambda j: (abs(int(notes.pitch[j]) - p), notes.pitch[j]))
    below = [j for j in cand if notes.pitch[j] < p]
    above = [j for j in cand if notes.pitch[j] > p]
    return (near, max(below, key=lambda j: notes.pitch[j]) if below else near,
            min(above, key=lambda j: notes.pitch[j]) if above else near)


def white_noise(i: int, n_frames: int, hop: int) -> torch.Tensor:
    """The noise generator's input for note i, seeded as `evaluate.resynthesize` seeds it."""
    return torch.rand(1, n_frames * hop, generator=torch.Generator().manual_seed(int(i))) * 2 - 1


def ir_energy_db(model: TimbreDDSP) -> float:
    """Energy of the model's room impulse response relative to the direct sound (dB)."""
    return 10 * float(np.log10((model.ir().detach() ** 2).sum().item()))


def report(notes: NoteSet, test: np.ndarray, feats: dict[str, list], extra: dict[str, str] | None = None) -> None:
    """Train the evaluation's classifier on the real training notes, then print its accuracy on each
    set of held-out features, overall and per instrument."""
    clf = real_note_classifier(notes, ModelConfig().sample_rate)
    y = notes.instrument[test]
    for key, f in feats.items():
        p = clf.predict(np.stack(f))
        per = " ".join(f"{n[:5]}={(p[y == k] == k).mean():.2f}" for k, n in enumerate(notes.instruments))
        print(f"{key}: {(p == y).mean():.3f}{(extra or {}).get(key, '')}  {per}", flush=True)
