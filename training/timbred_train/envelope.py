"""Loudness envelopes per instrument, fitted from the training notes.

For every instrument, pitch anchor and velocity anchor the table holds the loudness (dB, the
decoder's loudness input) over time after note-on (`hold`), and the change after note-off
(`release`, relative to the level at note-off). The engine reads them as docs/model-format.md
says; `lookup` here is the reference implementation the Swift tests compare against.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .cache import NoteSet
from .config import ModelConfig

FLOOR_DB = -120.0
PITCH_SIGMA = 6.0  # semitones: width of the pitch neighbourhood averaged into an anchor


def _slope_db_per_s(curve: np.ndarray, frame_rate: int, seconds: float = 0.5) -> float:
    n = max(2, int(seconds * frame_rate))
    y = curve[-n:]
    t = np.arange(n) / frame_rate
    return float(np.polyfit(t, y, 1)[0])


# The level past the table (3 s, as long as the note set holds its notes) goes on at the tail
# slope. The last half second of a 3 s note cannot tell a decay from a beat: FluidR3's French horn
# beats by ±3 dB, and a slope of -1.5 dB/s read on one beat faded a held horn by 8 dB in 11 s
# where the SoundFont's holds it. So the tail slope is read on the same notes held TAIL_HOLD_S,
# rendered again from their SoundFont (`timbred-train envelopes --tails`): the loudness's linear
# fit from TAIL_FROM_S (where the 0.5 s fit starts) to the end of the hold, on the frames within
# TAIL_RANGE_DB of the note's loudest (a decay that reaches the floor is read above it).
TAIL_HOLD_S = 10.0
TAIL_FROM_S = 2.5
TAIL_RANGE_DB = 60.0
TAIL_MIN_S = 1.0  # a note with less of its tail above the range keeps the table's slope
# The tail slope of an anchor comes from the notes nearest it (a Gaussian of TAIL_PITCH_SIGMA
# semitones from the nearest): a SoundFont's tails change from one sample zone to the next (FluidR3's
# harpsichord: -4.8 dB/s at C4, -11.3 at C5), and the envelopes' PITCH_SIGMA of 6 let the notes 6-11
# semitones away pull C4's anchor to -6.9 dB/s: a held C4 lost 50.6 dB from 2.5 s to 9 s where
# the SoundFont's loses 31.2.
TAIL_PITCH_SIGMA = 1.5


def note_tail_slope_db_per_s(loudness_db: np.ndarray, frame_rate: int, start_s: float = TAIL_FROM_S) -> float | None:
    """The slope (dB/s) of a long held note's loudness [frames] from `start_s` to its end, fitted
    on the frames within TAIL_RANGE_DB of its loudest; None when fewer than TAIL_MIN_S of them."""
    ld = np.asarray(loudness_db, np.float64)
    t = np.arange(len(ld)) / frame_rate
    keep = (t >= start_s) & (ld >= ld.max() - TAIL_RANGE_DB)
    if keep.sum() < TAIL_MIN_S * frame_rate:
        return None
    return float(np.polyfit(t[keep], ld[keep], 1)[0])


def _anchor_notes(notes: NoteSet, i: int, pitch: float, velocity: float, usable: np.ndarray | None = None,
                  sigma: float = PITCH_SIGMA):
    """The notes an anchor averages and their weights: instrument i's notes of the recorded
    velocity nearest `velocity`, weighted by pitch (a Gaussian of `sigma` semitones from the
    nearest); only the `usable` ones when given (None when instrument i has none)."""
    mine = np.nonzero((notes.instrument == i) & (True if usable is None else usable))[0]
    if len(mine) == 0:
        return None
    rec_v = np.unique(notes.velocity[mine])
    v_near = rec_v[np.argmin(np.abs(rec_v - velocity))]
    sel = mine[notes.velocity[mine] == v_near]
    d = notes.pitch[sel].astype(float) - pitch
    w = np.exp(-0.5 * ((np.abs(d) - np.abs(d).min()) / sigma) ** 2)
    return sel, w / w.sum()


def tail_table(slopes: list, notes: NoteSet, cfg: ModelConfig, fallback: np.ndarray) -> np.ndarray:
    """The tail slopes [I, P, V] at the anchors from every note's long-render slope (None: not
    read), averaged as the envelopes are (`_anchor_notes`) but over the nearest notes
    (TAIL_PITCH_SIGMA), and kept at or below 0 as they are; an anchor whose instrument has no
    slope read keeps `fallback`'s."""
    usable = np.array([s is not None for s in slopes])
    values = np.array([0.0 if s is None else s for s in slopes])
    out = np.array(fallback, np.float32, copy=True)
    for i in range(len(notes.instruments)):
        for pi, p in enumerate(cfg.env_pitches):
            for vi, v in enumerate(cfg.env_velocities):
                picked = _anchor_notes(notes, i, p, v, usable, sigma=TAIL_PITCH_SIGMA)
                if picked is not None:
                    sel, w = picked
                    out[i, pi, vi] = min(0.0, float((values[sel] * w).sum()))
    return out


def measure_tails(notes: NoteSet, data: Path, cfg: ModelConfig, verbose: bool = True) -> list:
    """Every note's tail slope (`note_tail_slope_db_per_s`): the note played again from its
    SoundFont (the note set's manifest names it and the program) held TAIL_HOLD_S at the note
    set's rate, its loudness as the features read it."""
    from . import dsp
    from .dataset import DEFAULT_SOUNDFONT, FluidSynth, load_manifest
    from .errors import UserError

    rate, manifest = load_manifest(Path(data))
    programs, fonts = {}, set()
    for n in manifest:
        source = getattr(n, "source", "") or ""
        if not source.startswith("soundfont:"):
            raise UserError(f"{data}: note {n.file} is not from a SoundFont ({source or 'no source'}): "
                            "its tail cannot be played longer")
        programs[n.instrument] = n.program
        fonts.add(source.split(":", 1)[1])
    if len(fonts) != 1:
        raise UserError(f"{data}: notes from {len(fonts)} SoundFonts ({', '.join(sorted(fonts))}); one is needed")
    font = DEFAULT_SOUNDFONT.parent / fonts.pop()
    if not font.is_file():
        raise UserError(f"{font}: the note set's SoundFont is not installed")
    fs = FluidSynth(font, rate)
    slopes = []
    for j in range(len(notes.pitch)):
        name = notes.instruments[int(notes.instrument[j])]
        audio = fs.render_note(programs[name], int(notes.pitch[j]), int(notes.velocity[j]), TAIL_HOLD_S, 0.05)
        ld = dsp.loudness_db(audio[: int(TAIL_HOLD_S * rate)], rate, cfg.frame_rate)
        slopes.append(note_tail_slope_db_per_s(ld, cfg.frame_rate))
        if verbose and j % 400 == 0:
            print(f"  tails: note {j}/{len(notes.pitch)}", flush=True)
    return slopes


# What the player hears past the table is the decoder's answer to the tail slope, not the slope: at
# -60 to -80 dB the decoder's level falls more slowly than its loudness input on the piano (an input
# slope of -3.5 dB/s came out at -2.6) and faster on the harpsichord (-6.9 came out at -7.8). So with
# the engine at hand the slopes are read again on what it plays: every decaying anchor (a read slope
# under TAIL_DECAYING_DB_PER_S) is played from MIDI through `timbred render` (its instrument's
# latent mean, no room) held TAIL_HOLD_S, its slope read from TAIL_PLAYED_FROM_S (past the table)
# as the SoundFont's was, and its input slope scaled by read / played (the scale held within
# TAIL_LOOP_SCALE), TAIL_LOOPS times.
TAIL_DECAYING_DB_PER_S = -0.5
TAIL_PLAYED_FROM_S = 3.5
TAIL_LOOP_SCALE = (0.5, 2.0)
TAIL_LOOPS = 2


def played_tail_slopes(timbred: Path, model_path: Path, table: np.ndarray, cfg: ModelConfig, work: Path,
                       instruments: list[int]) -> np.ndarray:
    """The slope (dB/s) each anchor [I, P, V] of `instruments` comes out at through the engine
    (`timbred render` with `table` as the model's tail slopes), NaN where not read."""
    import subprocess

    import mido

    from . import dsp
    from .dataset import read_audio
    from .errors import UserError
    from .modelfile import replace_tensors
    from safetensors import safe_open

    work.mkdir(parents=True, exist_ok=True)
    trial = work / "tails.safetensors"
    with safe_open(str(model_path), framework="np") as f:
        tables = {k: f.get_tensor(k) for k in f.keys() if k.startswith("envelope.")}
        info = json.loads((f.metadata() or {}).get("envelopes", "{}"))
        means = f.get_tensor("latent.means")
    tables["envelope.hold_slope_db_per_s"] = table.astype(np.float32)
    replace_tensors(Path(model_path), "envelope.", tables, "envelopes", info, trial)
    rate, step_s = 48000, TAIL_HOLD_S + 1.0
    out = np.full(table.shape, np.nan)
    cells = [(p, v) for p in range(len(cfg.env_pitches)) for v in range(len(cfg.env_velocities))]
    for i in instruments:
        mid, wav = work / f"tails-{i}.mid", work / f"tails-{i}.wav"
        song = mido.MidiFile(ticks_per_beat=480)
        track = mido.MidiTrack()
        song.tracks.append(track)
        track.append(mido.MetaMessage("set_tempo", tempo=500000, time=0))
        for j, (p, v) in enumerate(cells):
            pitch = int(min(max(round(cfg.env_pitches[p]), 0), 127))
            vel = int(min(max(round(cfg.env_velocities[v]), 1), 127))
            track.append(mido.Message("note_on", note=pitch, velocity=vel, time=0 if j == 0 else 960))
            track.append(mido.Message("note_off", note=pitch, velocity=0, time=int(TAIL_HOLD_S * 960)))
        song.save(mid)
        latent = ",".join(f"{x:.7g}" for x in means[i])
        r = subprocess.run([str(timbred), "render", str(mid), "-o", str(wav), "--model", str(trial),
                            f"--latent={latent}", "--rate", str(rate), "--reverb", "0", "--tail", "1"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise UserError(f"timbred render failed for the tails of {cfg.instruments[i]}: {r.stderr.strip()}")
        audio = read_audio(wav, rate)
        for j, (p, v) in enumerate(cells):
            x = audio[int(j * step_s * rate): int((j * step_s + TAIL_HOLD_S) * rate)]
            ld = dsp.loudness_db(x, rate, cfg.frame_rate)
            got = note_tail_slope_db_per_s(ld, cfg.frame_rate, start_s=TAIL_PLAYED_FROM_S)
            out[i, p, v] = np.nan if got is None else got
    return out


def close_tail_loop(timbred: Path, model_path: Path, read: np.ndarray, cfg: ModelConfig, work: Path,
                    verbose: bool = True) -> np.ndarray:
    """The input slopes [I, P, V] under which the engine plays each decaying anchor of `read` (the
    SoundFont's slopes) at its read slope, TAIL_LOOPS rounds of input × read / played."""
    decaying = read < TAIL_DECAYING_DB_PER_S
    instruments = [i for i in range(read.shape[0]) if decaying[i].any()]
    table = read.astype(np.float64).copy()
    for loop in range(TAIL_LOOPS):
        played = played_tail_slopes(timbred, model_path, table, cfg, work, instruments)
        ok = decaying & np.isfinite(played) & (played < 0)
        scale = np.ones_like(table)
        scale[ok] = np.clip(read[ok] / played[ok], *TAIL_LOOP_SCALE)
        if verbose:
            err = np.abs(played[ok] - read[ok])
            print(f"  tails through the engine, round {loop + 1}: {int(ok.sum())} anchors, |played - read| "
                  f"mean {err.mean():.2f}, largest {err.max():.2f} dB/s", flush=True)
        table = np.where(ok, table * scale, table)
    return np.minimum(table, 0.0).astype(np.float32)


def refit_tails(model_path: Path, data: Path, out: Path | None = None, write: bool = True,
                timbred: Path | None = None, work: Path | None = None) -> dict:
    """`timbred-train envelopes --tails`: the tail slopes again from the train notes held
    TAIL_HOLD_S (`measure_tails`, `tail_table`), with `timbred` (the engine's binary) read again
    on what the engine plays (`close_tail_loop`, renders in `work`), written in place of the
    model's `envelope.hold_slope_db_per_s`; everything else as it was (the tables measured against
    the model played from MIDI hold no note past the envelope table, so they stand)."""
    from .cache import load_or_build, training_notes
    from .export import load_exported
    from .modelfile import replace_tensors
    from safetensors import safe_open

    model, old, _ = load_exported(Path(model_path))
    cfg = model.cfg
    notes = training_notes(load_or_build(Path(data), cfg))
    print(f"playing the {len(notes.pitch)} train notes of {data} again, held {TAIL_HOLD_S:g} s", flush=True)
    slopes = measure_tails(notes, Path(data), cfg)
    before = old["envelope.hold_slope_db_per_s"]
    table = tail_table(slopes, notes, cfg, before)
    if timbred is not None:
        import tempfile

        read = table
        table = close_tail_loop(Path(timbred), Path(model_path), read, cfg,
                                Path(work) if work else Path(tempfile.mkdtemp(prefix="timbred-tails-")))
        print("the SoundFont's slopes (read) against the input slopes that play them, velocity anchor 80:")
        v80 = int(np.argmin(np.abs(np.asarray(cfg.env_velocities) - 80)))
        for i, name in enumerate(notes.instruments):
            if (read[i] < TAIL_DECAYING_DB_PER_S).any():
                print(f"{name:16s} " + " ".join(f"{x:6.2f}" for x in read[i, :, v80]) + "  ->  "
                      + " ".join(f"{x:6.2f}" for x in table[i, :, v80]))
    v = int(np.argmin(np.abs(np.asarray(cfg.env_velocities) - 100)))
    print(f"tail slope dB/s at velocity anchor {cfg.env_velocities[v]}, pitch anchors "
          + " ".join(f"{p:g}" for p in cfg.env_pitches) + ": before -> after")
    for i, name in enumerate(notes.instruments):
        print(f"{name:16s} " + " ".join(f"{x:6.2f}" for x in before[i, :, v]) + "  ->  "
              + " ".join(f"{x:6.2f}" for x in table[i, :, v]))
    if write:
        with safe_open(str(model_path), framework="np") as f:
            tables = {k: f.get_tensor(k) for k in f.keys() if k.startswith("envelope.")}
            info = json.loads((f.metadata() or {}).get("envelopes", "{}"))
        tables["envelope.hold_slope_db_per_s"] = table
        replace_tensors(Path(model_path), "envelope.", tables, "envelopes",
                        info | {"tails_s": TAIL_HOLD_S, "tails_through_engine": timbred is not None}, out)
        print(f"wrote envelope.hold_slope_db_per_s {list(table.shape)} into {out or model_path}")
    return {"before": before, "after": table, "read": int(sum(s is not None for s in slopes))}


def fit_envelopes(notes: NoteSet, cfg: ModelConfig) -> dict[str, np.ndarray]:
    """Fit hold/release tables [I, P, V, T] and tail slopes [I, P, V] from every note of the set
    (the exporter passes the train split: `cache.training_notes`)."""
    n_i, n_p, n_v = len(notes.instruments), len(cfg.env_pitches), len(cfg.env_velocities)
    th = int(round(cfg.env_hold_s * cfg.frame_rate))
    tr = int(round(cfg.env_release_s * cfg.frame_rate))
    hold = np.full((n_i, n_p, n_v, th), FLOOR_DB, np.float32)
    release = np.zeros((n_i, n_p, n_v, tr), np.float32)
    hold_slope = np.zeros((n_i, n_p, n_v), np.float32)
    release_slope = np.full((n_i, n_p, n_v), -60.0, np.float32)
    for i in range(n_i):
        for pi, p in enumerate(cfg.env_pitches):
            for vi, v in enumerate(cfg.env_velocities):
                sel, w = _anchor_notes(notes, i, p, v)
                curves_h, curves_r = [], []
                for n in sel:
                    off = int(notes.hold_frames[n])
                    ld = notes.loudness_db[n]
                    h = ld[:th] if off >= th else np.concatenate([ld[:off], np.full(th - off, ld[off - 1])])
                    r = ld[off:off + tr] - ld[off]
                    r = np.concatenate([r, np.full(tr - len(r), r[-1] if len(r) else 0.0)])
                    curves_h.append(h)
                    curves_r.append(r)
                ch = (np.asarray(curves_h) * w[:, None]).sum(0)
                cr = (np.asarray(curves_r) * w[:, None]).sum(0)
                hold[i, pi, vi] = np.maximum(ch, FLOOR_DB)
                release[i, pi, vi] = np.minimum(cr, 0.0)
                hold_slope[i, pi, vi] = min(0.0, _slope_db_per_s(ch, cfg.frame_rate))
                release_slope[i, pi, vi] = min(-20.0, _slope_db_per_s(cr, cfg.frame_rate))
    return {"envelope.hold_db": hold, "envelope.hold_slope_db_per_s": hold_slope,
            "envelope.release_db": release, "envelope.release_slope_db_per_s": release_slope}


def refit(model_path: Path, data: Path, out: Path | None = None, write: bool = True) -> dict:
    """`timbred-train envelopes`: fit the loudness envelopes again from the note set's train split
    (`cache.training_notes`) and write them into an exported model in place of its `envelope.*`
    tensors; everything else as it was. The tables measured against the model played from MIDI
    (`tone`, `transients`) are to be measured again after it. Returns the largest change, dB."""
    from .cache import load_or_build, training_notes
    from .export import load_exported
    from .modelfile import replace_tensors

    model, old, _ = load_exported(Path(model_path))
    notes = training_notes(load_or_build(Path(data), model.cfg))
    env = fit_envelopes(notes, model.cfg)
    change = {k: float(np.abs(env[k] - old[k]).max()) for k in env if k in old}
    print(f"fitted the envelopes on the {len(notes.pitch)} train notes of {data}; largest change per table (dB): "
          + ", ".join(f"{k} {v:.1f}" for k, v in change.items()))
    if write:
        replace_tensors(Path(model_path), "envelope.", env, "envelopes",
                        {"notes": int(len(notes.pitch)), "dataset": Path(data).name, "split": "train"}, out)
        print(f"wrote {', '.join(env)} into {out or model_path}")
    return change


def blend_weights(z: np.ndarray, means: np.ndarray, scale: float, rule: str = "gaussian") -> np.ndarray:
    """Instrument weights for a latent point, by the model file's `envelope_blend` rule
    (docs/model-format.md, "Blend weights"; the engine's LatentBlendRule):
    "gaussian": softmax_k(-0.5 |z - mu_k|² / scale²); "inverse_distance":
    w_k ∝ (|z - mu_k|² / scale² + 1e-6)^-2, exactly instrument k at its mean."""
    d2 = ((np.asarray(means, np.float64) - np.asarray(z, np.float64)[None, :]) ** 2).sum(1)
    if rule == "inverse_distance":
        a = d2 / scale**2 + 1e-6
        w = 1.0 / (a * a)
    elif rule == "gaussian":
        a = -0.5 * d2 / scale**2
        a -= a.max()
        w = np.exp(a)
    else:
        raise ValueError(f"unknown blend rule {rule!r}")
    return w / w.sum()


def anchor_axis(values, x):
    """Index and fraction for linear interpolation on a grid, extrapolating linearly outside."""
    values = np.asarray(values, float)
    j = int(np.clip(np.searchsorted(values, x) - 1, 0, len(values) - 2))
    return j, (x - values[j]) / (values[j + 1] - values[j])


def _loudness(tables: dict[str, np.ndarray], cfg: ModelConfig, weights: np.ndarray, pitch: float, velocity: float,
              t_on_s: np.ndarray, t_off_s: float | None) -> np.ndarray:
    """The lookup at every time of t_on_s (seconds after note-on), released t_off_s after note-on."""
    per = _per_instrument(tables, cfg, pitch, velocity, t_on_s, t_off_s)
    return np.clip((weights[:, None] * per).sum(0), FLOOR_DB, 0.0)


def _per_instrument(tables: dict[str, np.ndarray], cfg: ModelConfig, pitch: float, velocity: float,
                    t_on_s: np.ndarray, t_off_s: float | None) -> np.ndarray:
    """Every instrument's own course at the times t_on_s, before blending and clamping: [I, N]."""
    jp, fp = anchor_axis(cfg.env_pitches, pitch)
    fp = float(np.clip(fp, 0.0, 1.0))
    jv, fv = anchor_axis(cfg.env_velocities, velocity)

    def grid(name):
        t = tables[name]
        a = t[:, jp] * (1 - fp) + t[:, jp + 1] * fp
        return a[:, jv] * (1 - fv) + a[:, jv + 1] * fv  # [I, ...]

    def curve(table, slope, t_s):  # table [I, T], slope [I], t_s [N] -> [I, N]
        n = table.shape[-1]
        t_s = np.asarray(t_s, float)
        pos = t_s * cfg.frame_rate
        i = np.clip(np.floor(pos).astype(int), 0, n - 2)
        f = pos - i
        inside = table[:, i] * (1 - f) + table[:, i + 1] * f
        beyond = table[:, -1:] + slope[:, None] * (t_s - (n - 1) / cfg.frame_rate)[None, :]
        return np.where(pos[None, :] >= n - 1, beyond, inside)

    t = np.asarray(t_on_s, float)
    hold, hs = grid("envelope.hold_db"), grid("envelope.hold_slope_db_per_s")
    per = curve(hold, hs, t)
    if t_off_s is not None:
        rel, rs = grid("envelope.release_db"), grid("envelope.release_slope_db_per_s")
        released = curve(hold, hs, np.array([t_off_s]))[:, :1] + curve(rel, rs, np.maximum(t - t_off_s, 0.0))
        per = np.where((t >= t_off_s)[None, :], released, per)
    return per


def lookup(tables: dict[str, np.ndarray], cfg: ModelConfig, weights: np.ndarray, pitch: float, velocity: float,
           t_on_s: float, t_off_s: float | None = None) -> float:
    """Loudness in dB at t_on_s after note-on (released at t_off_s after note-on, if given).

    Bilinear in pitch and velocity (linear extrapolation in velocity, pitch clamped to the grid),
    linear in time; past the table the tail slope continues; while held `hold(t_on)`, after the
    release `hold(t_off) + release(t_on - t_off)`; clamped to [-120, 0] dB.
    """
    return float(_loudness(tables, cfg, weights, pitch, velocity, np.array([t_on_s]), t_off_s)[0])


def course(tables: dict[str, np.ndarray], cfg: ModelConfig, weights: np.ndarray, pitch: float, velocity: float,
           n_frames: int, hold_s: float | None) -> np.ndarray:
    """`lookup` at every frame n / frame_rate, n < n_frames, of a note released hold_s after
    note-on (None: held): the loudness prior the engine feeds the decoder, [n_frames] float32."""
    return _loudness(tables, cfg, weights, pitch, velocity, np.arange(n_frames) / cfg.frame_rate, hold_s).astype(np.float32)


def note_priors(notes: NoteSet, cfg: ModelConfig, tables: dict[str, np.ndarray]) -> np.ndarray:
    """The loudness prior of every note of the set, as the engine would play it from MIDI with
    the note's own instrument: [M, n_frames]."""
    n_frames = notes.f0_hz.shape[1]
    eye = np.eye(len(notes.instruments))
    return np.stack([course(tables, cfg, eye[int(notes.instrument[m])], float(notes.pitch[m]), float(notes.velocity[m]),
                            n_frames, float(notes.hold_frames[m]) / cfg.frame_rate) for m in range(len(notes.pitch))])


def instrument_courses(notes: NoteSet, cfg: ModelConfig, tables: dict[str, np.ndarray]) -> np.ndarray:
    """Every instrument's course at every note's pitch, velocity and note-off, unblended:
    [M, I, n_frames] float32. A latent point's prior is its blend weights times these, clamped
    to [-120, 0] dB, as the engine computes it (the mixed latent points of train.mixup_loss)."""
    n_frames = notes.f0_hz.shape[1]
    t = np.arange(n_frames) / cfg.frame_rate
    return np.stack([_per_instrument(tables, cfg, float(notes.pitch[m]), float(notes.velocity[m]), t,
                                     float(notes.hold_frames[m]) / cfg.frame_rate)
                     for m in range(len(notes.pitch))]).astype(np.float32)
