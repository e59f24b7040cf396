"""Writing measured tables into an exported model file."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def replace_tensors(path: Path, prefix: str, tensors: dict[str, np.ndarray], meta_key: str, info: dict,
                    out: Path | None = None) -> None:
    """Writes `tensors` (float32) into the model file at `path`, or at `out`, replacing every
    tensor whose name starts with `prefix`; every other tensor's bytes and the metadata stay as they
    were, plus `info` as JSON under the metadata key `meta_key`."""
    from safetensors import safe_open
    from safetensors.numpy import save_file

    with safe_open(str(path), framework="np") as f:
        meta = dict(f.metadata() or {})
        kept = {k: f.get_tensor(k) for k in f.keys() if not k.startswith(prefix)}
    kept.update({k: np.ascontiguousarray(v, np.float32) for k, v in tensors.items()})
    meta[meta_key] = json.dumps(info, sort_keys=True)
    save_file(kept, str(out or path), metadata=meta)
