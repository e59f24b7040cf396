"""The decoder's frame-to-frame zigzag, and the control smoothing that averages it away
(docs/model-format.md, "Control smoothing").

Held for seconds, the decoder's recurrence falls into a limit cycle on some notes: each decoded
frame's level alternates up and down, 0.58 dB on average at worst (the vibraphone's MIDI 69-89 at
velocities 64-100, the marimba's 51-59 at 80-127, the piano's 94-95 at 127). The engine ramps linearly from
one frame to the next, so that is an amplitude modulation at half the frame rate (50 Hz): the
vibraphone's 71 at 64 rang sidebands 27 dB under its fundamental, 50 Hz either side of it, over
1.5-2.9 s (FluidR3's: 63-64 dB under it). No instrument's course moves from one 10 ms frame to
the next and back: it is the decoder's, not the sound's.

From frame `controls.smooth_from_frame` on, each frame's controls (the harmonic amplitudes and noise
bands after the tone balance, before the partial motion) are the mean of the frame and the one
before it: the alternation at half the frame rate is cancelled, a course that moves smoothly is
delayed by half a frame (5 ms). The frames before it (the first 600 ms in the shipped model: the
attack, a bowed or blown note's swell, where the key's onset course sets each frame's level) play
as decoded.

`timbred-train smoothing` plays every key and velocity of each instrument from MIDI through the
PyTorch twin of the engine, prints each instrument's worst zigzag before and after, and writes the
tensor.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .errors import UserError

FROM_FRAME = 60  # the first smoothed frame (600 ms at 100 frames/s: the attack and a bowed or blown note's swell
# play as decoded, frame by frame as the key's onset course shapes them; from 10 ms on the slow attacks of the cello,
# horn and choir came within 3 dB of their peak 4-11 ms later, the cello's 41 past issue 14's bound)
TENSOR = "controls.smooth_from_frame"
SCAN_VELOCITIES = (16, 40, 64, 80, 100, 127)
SCAN_FRAMES = 300  # 3 s held
SCAN_FROM = 30  # the zigzag is read from this frame on (or from the first smoothed frame, if later)
AUDIBLE_DB = 0.1  # a note whose zigzag exceeds this is listed


def smooth(controls: dict, from_frame: int | None) -> dict:
    """The controls {harmonics [1, T, K], noise [1, T, B], ...} with frames from `from_frame` on
    each the mean of itself and the frame before (as decoded); unchanged when `from_frame` is None."""
    if from_frame is None:
        return controls
    out = dict(controls)
    for key in ("harmonics", "noise"):
        x = controls[key]
        y = x.clone()
        y[:, from_frame:] = 0.5 * (x[:, from_frame:] + x[:, from_frame - 1:-1])
        out[key] = y
    return out


def zigzag_db(levels_db: np.ndarray) -> float:
    """How far a frame course (dB per frame) alternates from one frame to the next: the mean
    |second difference| / 4, dB (a course alternating ±a dB gives a; a straight line 0)."""
    x = np.asarray(levels_db, np.float64)
    return float(np.abs(np.diff(x, 2)).mean() / 4) if len(x) > 2 else 0.0


def read(model_path: Path) -> int | None:
    """The file's first smoothed frame, or None when it has no `controls.smooth_from_frame`."""
    from safetensors import safe_open

    with safe_open(str(model_path), framework="np") as f:
        return int(f.get_tensor(TENSOR)[0]) if TENSOR in f.keys() else None


def scan(model_path: Path, from_frame: int | None, names: list[str] | None = None, verbose: bool = True,
         read_from: int = SCAN_FROM) -> dict:
    """Every key of each instrument's range at SCAN_VELOCITIES, held SCAN_FRAMES frames from MIDI
    through the twin (the decoder, its controls and the tone balance, as `evaluate.resynthesize`
    plays them), smoothed from `from_frame` (None: as decoded): per instrument the worst zigzag of
    the harmonic power from frame `read_from` on (dB) and its note, and the notes over AUDIBLE_DB."""
    import torch

    from .config import DEFAULT_INSTRUMENTS
    from .evaluate import _tone_lookup, midi_controls, played_controls
    from .export import load_exported

    model, env, meta = load_exported(Path(model_path))
    cfg = model.cfg
    tone = _tone_lookup(Path(model_path), model, meta)
    means = model.prior_mu.detach().numpy()
    out = {}
    for name, _, lo, hi in DEFAULT_INSTRUMENTS:
        if name not in cfg.instruments or (names and name not in names):
            continue
        k = cfg.instruments.index(name)
        worst, loud = (0.0, None), []
        for key in range(lo, hi + 1):
            for vel in SCAN_VELOCITIES:
                f0, ld = midi_controls(model, env, k, key, vel, SCAN_FRAMES / cfg.frame_rate, SCAN_FRAMES)
                balance = tone(k, float(key), float(vel)) | {"smooth_from_frame": from_frame}
                with torch.no_grad():
                    c = played_controls(model, f0, ld, means[k], float(vel), None, **balance)
                h = c["harmonics"][0].numpy()
                z = zigzag_db(10 * np.log10((h.astype(np.float64) ** 2).sum(-1)[read_from:] + 1e-12))
                if z > worst[0]:
                    worst = (z, (key, vel))
                if z > AUDIBLE_DB:
                    loud.append((key, vel, round(z, 3)))
        out[name] = {"worst_db": worst[0], "worst_note": worst[1], "over": loud}
        if verbose:
            print(f"  {name:16s} worst {worst[0]:.3f} dB at {worst[1]}, {len(loud)} notes over {AUDIBLE_DB} dB",
                  flush=True)
    return out


def run(model_path: Path, from_frame: int = FROM_FRAME, out: Path | None = None, write: bool = True,
        names: list[str] | None = None) -> dict:
    """`timbred-train smoothing`: the zigzag as decoded and with the smoothing from `from_frame`,
    printed per instrument; writes `controls.smooth_from_frame` (every other tensor unchanged)."""
    from .modelfile import replace_tensors

    if not 1 <= from_frame <= 1000:
        raise UserError(f"--from-frame {from_frame}: a frame 1…1000")
    read_from = max(SCAN_FROM, from_frame)
    print(f"the decoder's frame-to-frame zigzag from frame {read_from} on, every key and velocity held 3 s "
          "(the twin), as decoded:", flush=True)
    before = scan(model_path, None, names, read_from=read_from)
    print(f"smoothed from frame {from_frame}:", flush=True)
    after = scan(model_path, from_frame, names, read_from=read_from)
    if write:
        replace_tensors(Path(model_path), TENSOR, {TENSOR: np.array([from_frame], np.float32)}, "control_smoothing",
                        {"from_frame": from_frame}, out)
        print(f"wrote {TENSOR} = {from_frame} into {out or model_path}")
    return {"before": before, "after": after}
