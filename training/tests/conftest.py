"""Shared fixtures of the trainer's tests."""
import os
from pathlib import Path

import pytest


@pytest.fixture
def shipped_engine() -> tuple[Path, Path]:
    """The release timbred binary and the shipped model, for tests that play the product through
    the engine beside FluidR3; skips where any of the three is missing."""
    from timbred_train.dataset import DEFAULT_SOUNDFONT

    root = Path(__file__).resolve().parents[2]
    timbred, model = root / ".build" / "release" / "timbred", root / "models" / "default.safetensors"
    if not (timbred.is_file() and os.access(timbred, os.X_OK) and model.is_file() and DEFAULT_SOUNDFONT.is_file()):
        pytest.skip("needs the release timbred (swift build -c release), the shipped model and FluidR3")
    return timbred, model
