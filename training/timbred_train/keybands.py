"""Each key's own band balance, read through the engine (docs/model-format.md, "Tone balance",
`tone.gain_pitches`).

The tone balance's band gains sit on the envelopes' pitch anchors, 12 semitones apart, and are
measured against the PyTorch twin of the decoder. A SoundFont changes samples every few keys, and
the twin plays the piano's partials unstretched, so a key between two anchors can sit 5-10 dB off
the real note in a band: FluidR3's piano key 97 at 12.5 kHz, its flute key 64 at 2.5 kHz.

Per round, every train note (the note set and its layers: other keys, other velocities) is played
from MIDI by `timbred render` at its instrument's latent mean, held as recorded, and read with the
report's band measure (`playing.band_levels_db`: the held part's 1/3-octave bands, relative to the
note's whole power) beside the recording. A band's correction is the recording's level minus the
engine's, where the band holds one of the note's partials (a band with only noise in it, under the
fundamental or between a high note's partials, is shaped by noise bands 375 Hz wide and moves with
its neighbours' gains, so it is left alone), clamped to ±LIMIT_DB and damped by DAMPING; then the
corrected bands are shifted together so that the note's power stays as it was (the onset course,
the strike and the envelopes were measured against that level; a band of noise alone keeps its
level). The corrections are averaged per key and
velocity anchor (`tone.build_table` on every key, `tone.ONSET_PITCH_SPAN`), added to the band gains
read at every key, and the file gets `tone.gain_pitches`. ROUNDS rounds: the engine's balance is not
linear in the gains (a partial between two bands takes both).

The noise under 375 Hz, in the same rounds (`noise_floor_db`): the engine's noise band 0 reads the
balance's band 1 (50 Hz), which no partial from 63 Hz up reads, so on those keys band 1 sets the
noise under the fundamental alone. Where that noise is the noise band's (the piano's hiss under its
middle C: −41 dB of the note's power at 100 Hz, the real note's −55) it follows; where the energy
under the fundamental is the partials' own (the sidebands of a horn's or a choir's vibrato and
level motion), band 1 moves it by less than 1 dB and the correction changes nothing audible.

`timbred-train key-bands --timbred BINARY --layers DATA,DATA` measures and writes; `--only NAMES`
plays and sets only those instruments (every other gain stays bit for bit), `--floor-db` and
`--min-db` move the floor and the gains' lower clamp (the shipped piano: 72 and −40, session 34:
FluidR3's top piano keys sit 60-63 dB under the note at 12.5 kHz).
"""
from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from .errors import UserError

DAMPING = 0.6  # each round adds this share of the measured correction
LIMIT_DB = 12.0  # a band's measured correction is clamped to ±this before damping
FLOOR_DB = 60.0  # bands this far under the note's strongest, both ways, are left alone
ROUNDS = 2
NOISE_BAND = 1  # the balance's band (50 Hz) whose gain noise band 0 (0-375 Hz) takes, `noise_floor_db`
NOISE_TOP_HZ = 250.0  # the report's bands up to this centre (upper edge 281 Hz) lie in noise band 0's span
NOISE_KEY_MIN_HZ = 63.0  # from this f0 up no partial reads band NOISE_BAND's gain (band 2's centre)
STRIKE_DAMPING = 0.8  # key-strikes: each round adds this share of the measured correction
STRIKE_TOP_LIMIT_DB = 24.0  # the strike's top on a key, either way
STRIKE_HOLD_S, STRIKE_STEP_S = 1.0, 2.0  # key-strikes' renders: each note held (its peak within it, as the recordings'), and the next one's start
HOLD_STEP_S = 4.5  # one note every this many seconds in the render
MEASURED_S = 3.0  # the part of each note read (the report's held part lies within it)


def band_holds_partial(f0_hz: float, centres_hz, n_harmonics: int, nyquist_hz: float,
                       stretch_b: float = 0.0) -> np.ndarray:
    """Whether each 1/3-octave band (centre × 2^±1/6) holds one of the first `n_harmonics`
    partials below `nyquist_hz`, partial k at `k · f0 · sqrt(1 + B k²)` (the engine's stretch:
    FluidR3's piano key 94 has its 3rd partial in the 12.5 kHz band, 1 % above 3 f0's band)."""
    k = np.arange(1, n_harmonics + 1, dtype=float)
    k = k * f0_hz * np.sqrt(1.0 + stretch_b * k * k)
    k = k[k < nyquist_hz]
    c = np.asarray(centres_hz, float)
    lo, hi = c * 2 ** (-1 / 6), c * 2 ** (1 / 6)
    return np.array([bool(np.any((k >= a) & (k < b))) for a, b in zip(lo, hi)])


def correction_db(real_db: np.ndarray, ours_db: np.ndarray, holds: np.ndarray,
                  damping: float = DAMPING, floor_db: float = FLOOR_DB) -> tuple[np.ndarray, float]:
    """One note's band correction (dB per band of `real_db` / `ours_db`, both relative to their
    note's power) and the level shift in it: where a band holds a partial and either side sounds
    within `floor_db` of the note's strongest band, damping × (real − ours), clamped to ±LIMIT_DB
    before damping, all of those bands then shifted by the same dB so that the engine's note, its
    bands multiplied by the correction, keeps its power; 0 elsewhere (a band of noise alone keeps
    its level, and so its level against the note's)."""
    real_db, ours_db = np.asarray(real_db, float), np.asarray(ours_db, float)
    floor = max(real_db.max(), ours_db.max()) - floor_db
    ok = np.asarray(holds, bool) & ((real_db > floor) | (ours_db > floor))
    if not ok.any():
        return np.zeros_like(real_db), 0.0
    g = damping * np.clip(np.maximum(real_db, floor) - np.maximum(ours_db, floor), -LIMIT_DB, LIMIT_DB)
    power = 10 ** (ours_db[ok] / 10)
    shift = -10 * np.log10((power * 10 ** (g[ok] / 10)).sum() / power.sum())
    return np.where(ok, g + shift, 0.0), float(shift)


def partial_band_error_db(real_db: np.ndarray, ours_db: np.ndarray, holds: np.ndarray,
                          floor_db: float = FLOOR_DB) -> float | None:
    """The mean |real − ours| (dB) over the bands that hold a partial where either side lies
    within `floor_db` of the note's strongest band; None where no band does. What `key-bands`
    corrects and reports, and what `playing --ladder` reads."""
    real_db, ours_db = np.asarray(real_db, float), np.asarray(ours_db, float)
    floor = max(real_db.max(), ours_db.max()) - floor_db
    ok = np.asarray(holds, bool) & ((real_db > floor) | (ours_db > floor))
    return float(np.abs(real_db - ours_db)[ok].mean()) if ok.any() else None


def noise_floor_db(real_db: np.ndarray, ours_db: np.ndarray, centres_hz, holds: np.ndarray, f0_hz: float,
                   damping: float = DAMPING, limit_db: float = LIMIT_DB, cut_only: bool = True) -> float | None:
    """One note's correction for the noise under 375 Hz (dB, for the balance's band NOISE_BAND):
    damping × (real − ours) in the summed power of the report's bands up to NOISE_TOP_HZ that hold
    no partial (under the fundamental, or between a low note's partials), each floored FLOOR_DB under
    the note's strongest band, clamped to ±`limit_db` before damping, and with `cut_only` never
    above 0; None where the note has no such band or a partial under NOISE_KEY_MIN_HZ (which reads
    that band's gain too).

    Only cuts: the gain applies to the noise at the note-on too, where a bowed or blown note's
    noise is strongest, and a boost set for the held part made a thump of the onset (the cello's
    MIDI 41 reached its level in 26 ms instead of FluidR3's 152).

    The engine's noise band b takes the balance's gain at b · 375 Hz; noise band 0, at 0 Hz, reads
    band NOISE_BAND's, which no partial from NOISE_KEY_MIN_HZ up reads, so that gain sets the noise
    under the fundamental on its own (the sub-bass rumble of a low horn note, the hiss under a
    choir's or a piano's middle C) without moving a partial."""
    if f0_hz < NOISE_KEY_MIN_HZ:
        return None
    real_db, ours_db = np.asarray(real_db, float), np.asarray(ours_db, float)
    sel = ~np.asarray(holds, bool) & (np.asarray(centres_hz, float) <= NOISE_TOP_HZ)
    if not sel.any():
        return None
    floor = max(real_db.max(), ours_db.max()) - FLOOR_DB
    rp = np.sum(10 ** (np.maximum(real_db[sel], floor) / 10))
    op = np.sum(10 ** (np.maximum(ours_db[sel], floor) / 10))
    return float(damping * np.clip(10 * np.log10(rp / op), -limit_db, 0.0 if cut_only else limit_db))


def _engine_render(timbred: Path, model_path: Path, latent: np.ndarray, pitch, velocity, hold_s, step_s: float,
                   work: Path, name: str, what: str, extra: tuple[str, ...] = ()) -> tuple[np.ndarray, list[int], int]:
    """Notes (MIDI `pitch`, `velocity`, each held `hold_s`) played one after another, `step_s` apart,
    by `timbred render` at latent point `latent`, dry: the audio, each note's start in ticks (960 a
    second) and the rate. The render is deleted once read (an instrument's notes run to gigabytes)."""
    import mido

    from .dataset import read_audio

    work.mkdir(parents=True, exist_ok=True)
    mid, wav = work / f"{name}.mid", work / f"{name}.wav"
    song = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    song.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=500000, time=0))  # 960 ticks a second
    # note j starts at tick j · step_s · 960 and ends its hold later
    on = [int(round(j * step_s * 960)) for j in range(len(pitch))]
    off = [t + int(round(h * 960)) for t, h in zip(on, hold_s)]
    last = 0
    for p, v, t0, t1 in zip(pitch, velocity, on, off):
        track.append(mido.Message("note_on", note=int(p), velocity=int(v), time=t0 - last))
        track.append(mido.Message("note_off", note=int(p), velocity=0, time=t1 - t0))
        last = t1
    song.save(mid)
    rate = 48000
    r = subprocess.run([str(timbred), "render", str(mid), "-o", str(wav), "--model", str(model_path),
                        "--latent=" + ",".join(f"{x:.7g}" for x in latent), "--rate", str(rate), "--reverb", "0",
                        "--tail", "1", *extra], capture_output=True, text=True)
    if r.returncode != 0:
        raise UserError(f"timbred render failed for the {what} of {name}: {r.stderr.strip()}")
    audio = read_audio(wav, rate)
    wav.unlink()
    return audio, on, rate


def engine_band_levels(timbred: Path, model_path: Path, latent: np.ndarray, pitch: np.ndarray,
                       velocity: np.ndarray, hold_s: np.ndarray, work: Path, name: str) -> list[np.ndarray]:
    """The report's band levels of each note (MIDI `pitch`, `velocity`, held `hold_s`) played one
    after another by `timbred render` at latent point `latent`, dry."""
    from .playing import band_levels_db

    audio, on, rate = _engine_render(timbred, model_path, latent, pitch, velocity, hold_s, HOLD_STEP_S, work, name,
                                     "key bands")
    n = int(MEASURED_S * rate)
    return [np.array(band_levels_db(np.pad(x := audio[t * rate // 960: t * rate // 960 + n], (0, n - len(x)))))
            for t in on]


def measure(timbred: Path, model_path: Path, notes, cfg, means: np.ndarray, work: Path,
            damping: float = DAMPING, verbose: bool = True, stretch: np.ndarray | None = None,
            partials: bool = True, floor_db: float = FLOOR_DB,
            chosen: list[int] | None = None) -> tuple[np.ndarray, dict, dict]:
    """Every note's correction [N, BANDS] (the transients' 28 bands: the report's 100 Hz-16 kHz
    where partials sound, unless `partials` is False, and band NOISE_BAND for the noise under
    375 Hz), per instrument the mean |real − ours| over the bands that hold a partial, dB, and the
    mean |real − ours| of the noise under 375 Hz (`noise_floor_db`'s bands, undamped), dB;
    `stretch`: the file's `inharmonicity.b` [I, 128]; `floor_db`: bands this far under the note's
    strongest, both ways, are left alone (`correction_db`); `chosen`: only these instruments' notes
    are played (the others' corrections are 0)."""
    from .playing import BAND_CENTRES_HZ, RATE, band_levels_db
    from .transients import BANDS

    index = [int(round(3 * np.log2(c / 1000) + 14)) for c in BAND_CENTRES_HZ]
    out = np.zeros((len(notes.pitch), BANDS), np.float32)
    errors, noise_errors = {}, {}
    for k, name in enumerate(notes.instruments):
        idx = np.flatnonzero(np.asarray(notes.instrument) == k)
        if len(idx) == 0 or (chosen is not None and k not in chosen):
            continue
        hold = np.asarray(notes.hold_frames)[idx] / cfg.frame_rate
        ours = engine_band_levels(timbred, model_path, means[k], np.asarray(notes.pitch)[idx],
                                  np.asarray(notes.velocity)[idx], hold, work, f"keybands-{k}")
        err, noise_err = [], []
        for j, i in enumerate(idx):
            real = np.array(band_levels_db(np.asarray(notes.audio[i])[: int(MEASURED_S * RATE)]))
            f0 = 440.0 * 2 ** ((float(notes.pitch[i]) - 69) / 12)
            b = 0.0 if stretch is None else float(stretch[k, int(np.clip(round(float(notes.pitch[i])), 0, 127))])
            holds = band_holds_partial(f0, BAND_CENTRES_HZ, cfg.n_harmonics, RATE / 2, b)
            if partials:
                out[i, index], _ = correction_db(real, ours[j], holds, damping, floor_db)
            noise = noise_floor_db(real, ours[j], BAND_CENTRES_HZ, holds, f0, damping)
            if noise is not None:
                out[i, NOISE_BAND] = noise
                noise_err.append(abs(noise_floor_db(real, ours[j], BAND_CENTRES_HZ, holds, f0, 1.0, np.inf, cut_only=False)))
            e = partial_band_error_db(real, ours[j], holds, floor_db)
            if e is not None:
                err.append(e)
        errors[name] = float(np.mean(err)) if err else float("nan")
        noise_errors[name] = float(np.mean(noise_err)) if noise_err else float("nan")
        if verbose:
            print(f"  {name:16s} {len(idx):4d} notes: mean |band error| where a partial sounds {errors[name]:.2f} dB, "
                  f"of the noise under 375 Hz {noise_errors[name]:.2f} dB", flush=True)
    return out, errors, noise_errors


def engine_strikes(timbred: Path, model_path: Path, latent: np.ndarray, pitch: np.ndarray, velocity: np.ndarray,
                   work: Path, name: str) -> np.ndarray:
    """`playing.strike_db` of each note (MIDI `pitch`, `velocity`) played one after another by
    `timbred render` at latent point `latent`, dry: held STRIKE_HOLD_S, STRIKE_STEP_S apart, each read
    over its first second."""
    from .playing import strike_db

    audio, on, rate = _engine_render(timbred, model_path, latent, pitch, velocity, [STRIKE_HOLD_S] * len(pitch),
                                     STRIKE_STEP_S, work, name, "strikes")
    return np.array([strike_db(np.pad(x := audio[t * rate // 960: t * rate // 960 + rate], (0, rate - len(x))))
                     for t in on])


def _train_notes(model_path: Path, data: Path, layers: list[Path], timbred: Path):
    """The model's config, the note set's train notes joined with the layers' (their audio at the
    model's rate) and the instruments' latent means, for a measurement through `timbred`."""
    from . import tone as T
    from .cache import load_or_build, training_notes
    from .export import load_exported

    if not Path(timbred).is_file():
        raise UserError(f"{timbred}: the timbred binary was not found (swift build -c release --product timbred)")
    model, _, _ = load_exported(Path(model_path))
    cfg = model.cfg
    notes = training_notes(load_or_build(Path(data), cfg))
    for layer in layers:
        more = T._manifest_notes(Path(layer), cfg)
        notes = T._joined(notes, more.subset(more.split == "train"))
    return cfg, notes, model.prior_mu.detach().numpy()


def _tone_tables(model_path: Path) -> tuple[dict[str, np.ndarray], dict]:
    """The model file's `tone.*` tensors and its `tone` metadata, for a per-key step to refine."""
    from safetensors import safe_open

    with safe_open(str(model_path), framework="np") as f:
        tables = {k: f.get_tensor(k) for k in f.keys() if k.startswith("tone.")}
        info = json.loads((f.metadata() or {}).get("tone", "{}"))
    return tables, info


def strike_keys(model_path: Path, data: Path, layers: list[Path], timbred: Path, out: Path | None = None,
                write: bool = True, rounds: int = ROUNDS, damping: float = STRIKE_DAMPING,
                work: Path | None = None, only: list[str] | None = None) -> dict:
    """`timbred-train key-strikes`: each key's strike as bright as the real note's. Every train note
    of velocity `tone.STRIKE_MIN_VELOCITY` or more (the note set's and the layers') is played through
    timbred at its instrument's mean; its power above 6 kHz in the first 20 ms (`playing.strike_db`)
    against the recording's gives damping × (real − ours), clamped to ±LIMIT_DB, which is averaged
    onto the onset course's keys and the band gains' velocities (`tone.build_table`, each key its own
    notes) and added to `tone.strike_top_db` [I, P_onset, V_gain] (velocities under the minimum keep
    0 dB), `rounds` times, then measured once more; `only`: these instruments alone (every other
    row stays bit for bit). Returns the mean |error| per instrument, one entry per measurement."""
    from . import tone as T
    from .playing import RATE, strike_db

    model_path = Path(model_path)
    cfg, notes, means = _train_notes(model_path, data, layers, timbred)
    tables, info = _tone_tables(model_path)
    if "tone.gain_db" not in tables or "tone.onset_pitches" not in tables:
        raise UserError(f"{model_path}: no band balance with an onset course on every key to refine "
                        "(timbred-train tone --key-layers first)")
    keys = [float(p) for p in tables["tone.onset_pitches"]]
    velocities = T.gain_velocities(model_path, cfg)
    shape = (len(cfg.instruments), len(keys), len(velocities))
    top = np.asarray(tables.get("tone.strike_top_db", np.zeros(shape, np.float32)), np.float64)
    if top.shape != shape:
        top = np.zeros(shape)
    chosen = _chosen(model_path, cfg, only)
    loud = np.flatnonzero((np.asarray(notes.velocity) >= T.STRIKE_MIN_VELOCITY)
                          & np.isin(np.asarray(notes.instrument), chosen))
    real = {int(i): strike_db(np.asarray(notes.audio[i][:RATE])) for i in loud}  # its first second, as ours
    work = Path(work) if work else Path(tempfile.mkdtemp(prefix="timbred-keystrikes-"))
    trial, history = model_path, []
    print(f"the strikes of {len(loud)} train notes (velocity ≥ {T.STRIKE_MIN_VELOCITY}) through {timbred}, "
          f"{rounds} rounds, damping {damping:g}", flush=True)
    for r in range(rounds + 1):
        print(f"round {r + 1}" if r < rounds else "the result", flush=True)
        errors, correction = {}, np.zeros(len(loud))
        for k, name in enumerate(cfg.instruments):
            mine = loud[np.asarray(notes.instrument)[loud] == k]
            if len(mine) == 0:
                continue
            ours = engine_strikes(Path(timbred), trial, means[k], np.asarray(notes.pitch)[mine],
                                  np.asarray(notes.velocity)[mine], work, f"keystrikes-{k}")
            e = ours - np.array([real[int(i)] for i in mine])
            correction[np.searchsorted(loud, mine)] = -damping * np.clip(e, -LIMIT_DB, LIMIT_DB)
            errors[name] = float(np.mean(np.abs(e)))
            worst = np.argsort(-np.abs(e))[:3]
            print(f"  {name:16s} {len(mine):4d} notes: mean |strike error| {errors[name]:.2f} dB, "
                  f"mean {float(np.mean(e)):+.2f} dB; furthest (key/velocity dB): "
                  + ", ".join(f"{int(notes.pitch[mine[j]])}/{int(notes.velocity[mine[j]])} {e[j]:+.1f}" for j in worst),
                  flush=True)
        history.append(errors)
        if r == rounds:
            break
        step = T.build_table(correction[:, None], np.asarray(notes.instrument)[loud], np.asarray(notes.pitch)[loud],
                             np.asarray(notes.velocity)[loud], len(cfg.instruments), keys, velocities, smooth=False,
                             pitch_span=T.ONSET_PITCH_SPAN)[..., 0]
        step[:, :, np.asarray(velocities) < T.STRIKE_MIN_VELOCITY] = 0.0
        top[chosen] = np.clip(top[chosen] + step[chosen], -STRIKE_TOP_LIMIT_DB, STRIKE_TOP_LIMIT_DB)
        tables["tone.strike_top_db"] = top.astype(np.float32)
        trial = work / f"strikes{r + 1}.safetensors"
        T._write(model_path, tables, info, trial)
    steps = " → ".join(["before"] + [f"round {r + 1}" for r in range(rounds)])
    print(f"mean |strike error| (power above 6 kHz in the first 20 ms), dB, {steps}")
    for n in cfg.instruments:
        if n in history[0]:
            print(f"  {n:16s} " + " → ".join(f"{h[n]:.2f}" for h in history))
    print(f"  {'all':16s} " + " → ".join(f"{np.mean(list(h.values())):.2f}" for h in history))
    if write:
        T._write(model_path, tables, info | {_step_name("key_strikes", only): {"notes": int(len(loud)), "rounds": rounds,
                                                                             "damping": damping}}, out)
        print(f"wrote tone.strike_top_db {list(shape)} into {out or model_path}")
    return {"errors_db": history}


def _step_name(step: str, only: list[str] | None) -> str:
    """The name a per-key step's record takes in the file's `tone` metadata: with `only`, the
    instruments' names appended, so that a later round on a few keeps the whole one's record."""
    return step + ("_" + "_".join(only) if only else "")


def _chosen(model_path: Path, cfg, only: list[str] | None) -> list[int]:
    """The instrument indices a per-key step works on: `only`'s (refusing a name the model lacks),
    else every one."""
    if not only:
        return list(range(len(cfg.instruments)))
    unknown = sorted(set(only) - set(cfg.instruments))
    if unknown:
        raise UserError(f"{model_path}: no instrument {', '.join(unknown)} (it has {', '.join(cfg.instruments)})")
    return [cfg.instruments.index(x) for x in only]


def gains_at_keys(table: np.ndarray, pitches, keys) -> np.ndarray:
    """A band gain table [I, P, V, B] on pitch anchors `pitches` read at every key of `keys`
    (`tone.read_at_anchors`): [I, K, V, B]."""
    from .tone import read_at_anchors

    return read_at_anchors(table, pitches, keys, axis=1)


def run(model_path: Path, data: Path, layers: list[Path], timbred: Path, out: Path | None = None,
        write: bool = True, rounds: int = ROUNDS, damping: float = DAMPING, work: Path | None = None,
        noise_only: bool = False, only: list[str] | None = None, floor_db: float = FLOOR_DB,
        min_db: float | None = None) -> dict:
    """`timbred-train key-bands`: ROUNDS rounds of `measure` and the band gains on every key, then
    the errors once more on the result; written into the model (or `out`). `noise_only`: only the
    noise under 375 Hz (band NOISE_BAND), every partial's balance as it is (the last step of the
    chain, after the onset course, the strike and the high-pass, which it leaves valid). `only`:
    these instruments' notes alone are played and their gains set (every other gain stays bit for
    bit); `floor_db`: how far under a note's strongest band a band is still corrected; `min_db`:
    the gains' lower clamp (default `tone.MIN_DB`). Returns the mean errors per instrument, one
    entry per measurement (`errors_db`: where a partial sounds; `noise_errors_db`: the noise under
    375 Hz)."""
    from safetensors import safe_open

    from . import tone as T

    model_path = Path(model_path)
    cfg, notes, means = _train_notes(model_path, data, layers, timbred)
    chosen = _chosen(model_path, cfg, only)
    min_db = T.MIN_DB if min_db is None else float(min_db)
    keys = [float(p) for p in T.ONSET_PITCHES]
    work = Path(work) if work else Path(tempfile.mkdtemp(prefix="timbred-keybands-"))
    trial, history, noise_history = model_path, [], []
    record = {"notes": int(np.isin(np.asarray(notes.instrument), chosen).sum()), "rounds": rounds, "damping": damping}
    if only:
        record |= {"only": list(only), "floor_db": floor_db, "min_db": min_db}
    written = {_step_name("key_noise" if noise_only else "key_bands", only): record}
    with safe_open(str(model_path), framework="np") as f:
        tables = {k: f.get_tensor(k) for k in f.keys() if k.startswith("tone.")}
        info = json.loads((f.metadata() or {}).get("tone", "{}"))
        stretch = f.get_tensor("inharmonicity.b") if "inharmonicity.b" in f.keys() else None
    if "tone.gain_db" not in tables:
        raise UserError(f"{model_path}: no tone balance to refine (timbred-train tone first)")
    velocities = T.gain_velocities(model_path, cfg)
    gains = gains_at_keys(tables["tone.gain_db"], T.gain_pitches(model_path, cfg), keys)
    what = "the noise under 375 Hz" if noise_only else "the band balance"
    print(f"{what} of {record['notes']} train notes through {timbred}, {rounds} rounds, damping {damping:g}",
          flush=True)
    for r in range(rounds + 1):
        print(f"round {r + 1}" if r < rounds else "the result", flush=True)
        corrections, errors, noise_errors = measure(Path(timbred), trial, notes, cfg, means, work, damping,
                                                    stretch=stretch, partials=not noise_only, floor_db=floor_db,
                                                    chosen=chosen)
        history.append(errors)
        noise_history.append(noise_errors)
        if r == rounds:
            break
        table = T.build_table(corrections, notes.instrument, notes.pitch, notes.velocity, len(cfg.instruments), keys,
                              velocities, smooth=False, pitch_span=T.ONSET_PITCH_SPAN)
        gains[chosen] = np.clip(gains[chosen] + table[chosen], min_db, T.MAX_DB)
        tables["tone.gain_db"] = gains.astype(np.float32)
        tables["tone.gain_pitches"] = np.asarray(keys, np.float32)
        trial = work / f"round{r + 1}.safetensors"
        T._write(model_path, tables, info | written, trial)
    names = [cfg.instruments[k] for k in chosen]
    steps = " → ".join(["before"] + [f"round {r + 1}" for r in range(rounds)])
    print(f"mean |band error| where a partial sounds | of the noise under 375 Hz, dB, {steps}")
    for n in names:
        print(f"  {n:16s} " + " → ".join(f"{h[n]:.2f}" for h in history) + "  |  "
              + " → ".join(f"{h[n]:.2f}" for h in noise_history))
    if write:
        T._write(model_path, tables, info | written, out)
        print(f"wrote tone.gain_db {list(tables['tone.gain_db'].shape)} and tone.gain_pitches into {out or model_path}")
    return {"errors_db": history, "noise_errors_db": noise_history}


ONSET_KEY_FRAMES = 200  # key-onsets: the onset course's length, 10 ms frames (the engine's largest, 2 s)
ONSET_KEY_HOLD_FRAMES = 50  # its last frames taper to the mean of the last 0.5 s (FluidR3's horn beats by ±4 dB)
ONSET_KEY_LIMIT_DB = 12.0  # a frame's measured correction is clamped to ±this before damping
ONSET_KEY_DAMPING = 0.8  # each round adds this share of the measured correction
ONSET_KEY_FIRST_FRAME = 3  # frames before this (the first 30 ms) are only raised: the transient sounds there, which
# the course does not scale, so a strike louder than the real one lowered the body under it (the vibraphone's
# key 58 then reached its level in 40 ms, FluidR3's at once)
ONSET_KEY_SWELL_MS = 10.0  # ... unless the recording itself takes this long to come within 3 dB of its peak (a soft
# mallet on a low marimba bar swells for 15-25 ms; ours was there at once)
ONSET_KEY_SMOOTH_FROM = 60  # from this frame (600 ms) on, a note's correction is smoothed over ONSET_KEY_SMOOTH_FRAMES
ONSET_KEY_SMOOTH_FRAMES = 25  # (a held note's tremolo and bow changes are its own; its swell and decay are the key's)
ONSET_KEY_PAST_FRAMES = 100  # the level held past the course is set on the second after it (2-3 s), where the
# envelopes take over: averaged over neighbouring keys that beat, the horn's C4 anchor fell 2 dB from 2 to 2.8 s
ONSET_KEY_BETWEEN_GAP = 3  # keys with no train note of their own between two at most this many semitones apart
# read the course of their neighbours' recordings (interpolated in dB): the marimba's held-out 51, between 50
# and 53, took 50's correction and reached its level in 30 ms, its neighbours' recordings in 17-19
ONSET_KEY_GAP_S = 1.5  # silence after each note's release before the next note (a choir's release takes 1 s)
SOUND_ONSET_LIMIT_S = 0.02  # `sound_onset` looks this far into a recording (trim_to_onset leaves 5 ms before it)
ONSET_KEY_START_LIMIT_DB = 24.0  # the first frame's correction from the first moments, clamped to ±this (while
# the first frame lies far under the next, the first moment reads the ramp to the next frame, under what it needs)
START_ONSET_DB = -20.0  # a recording's first moment is read from its first sample this far under its peak
# (`sound_onset`; FluidR3's guitar plays a pick's noise 33 dB under the pluck for 2 ms first)
START_WINDOW_S = (0.002, 0.005)  # `start_level_db`: the note's first period, at least 2 ms, at most 5 ms


def engine_onsets(timbred: Path, model_path: Path, latent: np.ndarray, pitch: np.ndarray, velocity: np.ndarray,
                  frames: int, hop: int, work: Path, name: str) -> tuple[np.ndarray, list[np.ndarray]]:
    """The onset levels [N, frames] (`tone.onset_level_db`, whole periods of each note) of notes
    (MIDI `pitch`, `velocity`) played one after another by `timbred render` at latent point
    `latent`, dry, at 0 dB output gain (the level the tone tables are measured at), each held just
    past the frames; and each note's audio over the frames, for the attack."""
    from . import tone as T

    rate = 48000
    hold = frames * hop / rate + 0.2
    audio, on, rate = _engine_render(timbred, model_path, latent, pitch, velocity, [hold] * len(pitch),
                                     hold + ONSET_KEY_GAP_S, work, name, "onsets",
                                     ("--gain-db", "0", "--decoder-thread", "false"))
    n = frames * hop
    levels, clips = [], []
    for t, p in zip(on, pitch):
        x = audio[t * rate // 960: t * rate // 960 + n]
        x = np.pad(x, (0, n - len(x)))
        levels.append(T.onset_level_db(x, hop, rate / (440.0 * 2 ** ((float(p) - 69) / 12)), frames))
        clips.append(x)
    return np.array(levels), clips


def level_error_db(real_db: np.ndarray, ours_db: np.ndarray, signed: bool = False,
                   loudest_db: float | None = None) -> float | None:
    """Mean |real − ours| of two onset-level courses (dB, `tone.onset_level_db`) over the frames
    where either lies within `tone.ONSET_FLOOR_DB` of the recording's loudest frame (`loudest_db`
    when the courses are part of a note; `signed`: the size of the mean of real − ours); None where
    no frame does."""
    from . import tone as T

    loudest = np.max(real_db) if loudest_db is None else loudest_db
    keep = np.maximum(real_db, ours_db) >= loudest + T.ONSET_FLOOR_DB
    if not keep.any():
        return None
    d = (real_db - ours_db)[keep]
    return abs(float(np.mean(d))) if signed else float(np.mean(np.abs(d)))


def onset_correction_db(real_db: np.ndarray, ours_db: np.ndarray, damping: float, smooth: bool = True,
                        past: int = 0, real_attack_ms: float = 0.0,
                        start_db: tuple[float, float] | None = None) -> np.ndarray:
    """One note's correction of its onset course [frames]: damping × (real − ours) per frame,
    clamped to ±ONSET_KEY_LIMIT_DB, 0 where both lie more than `tone.ONSET_FLOOR_DB` under the
    recording's loudest frame, never negative before ONSET_KEY_FIRST_FRAME unless the recording's
    own attack (`real_attack_ms`, `playing.attack_ms`) takes ONSET_KEY_SWELL_MS or more; from ONSET_KEY_SMOOTH_FROM on
    smoothed over ONSET_KEY_SMOOTH_FRAMES (`smooth`); its last `tone.ONSET_TAPER` frames taper (raised cosine) to the
    level the engine holds for the rest of the note: with `past` > 0 the mean correction of the
    last `past` frames of the levels given, which lie past the course (the course is the levels'
    length less `past`), else the mean of the course's last ONSET_KEY_HOLD_FRAMES. `start_db` (real,
    ours: `start_level_db`) sets the first frame's correction from the notes' first moment instead
    of the frame's level (clamped to ±ONSET_KEY_START_LIMIT_DB) where the recording sounds at once
    (its attack under ONSET_KEY_SWELL_MS), and then only that frame is never lowered: the first
    frame's amplitude is the engine's at the note-on, and a frame level centred there reads it under
    the ramp to the next frame (a plucked string that sounds at once read as well matched with our
    level rising over 10 ms)."""
    from . import tone as T

    after = None
    if past > 0:
        r, o = real_db[-past:], ours_db[-past:]
        keep = np.maximum(r, o) >= real_db.max() + T.ONSET_FLOOR_DB
        after = float(np.mean(np.clip(r - o, -ONSET_KEY_LIMIT_DB, ONSET_KEY_LIMIT_DB)[keep])) if keep.any() else 0.0
        real_db, ours_db = real_db[:-past], ours_db[:-past]

    g = np.clip(real_db - ours_db, -ONSET_KEY_LIMIT_DB, ONSET_KEY_LIMIT_DB)
    g[np.maximum(real_db, ours_db) < real_db.max() + T.ONSET_FLOOR_DB] = 0.0
    if start_db is not None and real_attack_ms < ONSET_KEY_SWELL_MS:
        r0, o0 = start_db
        limit = ONSET_KEY_START_LIMIT_DB
        g[0] = np.clip(r0 - o0, -limit, limit) if max(r0, o0) >= real_db.max() + T.ONSET_FLOOR_DB else 0.0
    if real_attack_ms < ONSET_KEY_SWELL_MS:
        # read from the first moment, only the first frame: the frames after it follow the recording
        # both ways (ours peaked at 10-20 ms, 3-4 dB over the guitar's, where FluidR3's falls from 4 ms)
        raised = 1 if start_db is not None else ONSET_KEY_FIRST_FRAME
        g[:raised] = np.maximum(g[:raised], 0.0)
    if len(g) > ONSET_KEY_SMOOTH_FROM and smooth:
        half = ONSET_KEY_SMOOTH_FRAMES // 2
        padded = np.pad(g, half, mode="edge")
        mean = np.convolve(padded, np.ones(2 * half + 1) / (2 * half + 1), mode="valid")
        g = np.concatenate([g[:ONSET_KEY_SMOOTH_FROM], mean[ONSET_KEY_SMOOTH_FROM:]])
    hold = float(g[-ONSET_KEY_HOLD_FRAMES:].mean()) if after is None else after
    w = np.ones(len(g))
    j = np.arange(T.ONSET_TAPER)
    w[len(g) - T.ONSET_TAPER:] = 0.5 + 0.5 * np.cos(np.pi * (j + 1) / T.ONSET_TAPER)
    return damping * (w * g + (1 - w) * hold)


def sound_onset(audio: np.ndarray, floor_db: float = START_ONSET_DB, limit_s: float = SOUND_ONSET_LIMIT_S,
                sample_rate: int = 48000) -> int:
    """The sample at which a recording's sound is under way: its first sample whose magnitude
    reaches `floor_db` of its peak magnitude, looked for within the first `limit_s` (0 when none is
    there). Some notes play a pick's or a hammer's noise 30-50 dB under the note first."""
    x = np.abs(np.asarray(audio, np.float64))
    if not len(x) or x.max() <= 0:
        return 0
    head = x[: int(limit_s * sample_rate)]
    hit = np.flatnonzero(head >= x.max() * 10 ** (floor_db / 20))
    return int(hit[0]) if len(hit) else 0


def start_level_db(audio: np.ndarray, period: float, sample_rate: int = 48000) -> float:
    """Level in dB of a note's first moment: RMS over its first period, at least START_WINDOW_S[0]
    and at most START_WINDOW_S[1] (what the engine's first frame sets: its amplitude at the note-on,
    linear to the next frame's 10 ms later)."""
    lo, hi = (int(v * sample_rate) for v in START_WINDOW_S)
    w = int(min(max(round(period), lo), hi))
    x = np.asarray(audio[:w], np.float64)
    return float(10 * np.log10(np.mean(x ** 2) + 1e-20)) if len(x) else -200.0


def between_keys(instrument: np.ndarray, pitch: np.ndarray, velocity: np.ndarray,
                 gap: int = ONSET_KEY_BETWEEN_GAP) -> list[tuple[int, int, float, int, int, float]]:
    """The keys with no note of their own at a recorded velocity of an instrument that lie between
    two of its notes at that velocity at most `gap` semitones apart (a held-out key between train
    keys): (instrument, key, velocity, the lower note's index, the upper's, the upper's share by
    pitch)."""
    out = []
    for ins in np.unique(instrument):
        for vel in np.unique(velocity[instrument == ins]):
            sel = np.flatnonzero((instrument == ins) & (velocity == vel))
            order = sel[np.argsort(pitch[sel])]
            for lo, hi in zip(order[:-1], order[1:]):
                a, b = float(pitch[lo]), float(pitch[hi])
                if b - a < 2 or b - a > gap:
                    continue
                for key in range(int(np.floor(a)) + 1, int(np.ceil(b))):
                    out.append((int(ins), key, float(vel), int(lo), int(hi), (key - a) / (b - a)))
    return out


def extended_course(onset: np.ndarray, frames: int) -> np.ndarray:
    """An onset course table [I, P, V, T] as one of `frames` frames that plays the same: the
    engine holds the last frame's gain past the course, so the new frames repeat it (a longer
    table is cut to `frames`)."""
    if onset.shape[-1] >= frames:
        return onset[..., :frames]
    pad = np.repeat(onset[..., -1:], frames - onset.shape[-1], axis=-1)
    return np.concatenate([onset, pad], axis=-1)


def onset_keys(model_path: Path, data: Path, layers: list[Path], timbred: Path, out: Path | None = None,
               write: bool = True, rounds: int = ROUNDS, damping: float = ONSET_KEY_DAMPING,
               frames: int = ONSET_KEY_FRAMES, work: Path | None = None, jobs: int = 2,
               only: list[str] | None = None, past: int = ONSET_KEY_PAST_FRAMES, between_only: bool = False,
               gain_velocities: bool = False, from_onset: bool = False) -> dict:
    """`timbred-train key-onsets`: each key's level over its first `frames` frames as the real
    note's, read through the engine. Every train note (the note set's and the layers'; a velocity
    anchor takes the notes of the velocity nearest it, as the tone tables do) is played through
    timbred at its instrument's mean, and its onset levels (`tone.onset_level_db`, whole periods)
    against the recording's give a correction (`onset_correction_db`), averaged onto the onset
    course's keys and velocity anchors (`tone.build_table`, each key its own notes) and added to
    `tone.onset_db`, first lengthened to `frames` (playing as before), `rounds` times, then measured
    once more. Returns, per measurement and instrument, the mean |level error| over the course (dB)
    and the share of notes whose attack (`playing.attack_ms`) is within max(5 ms, 1.5×) of the
    real note's. The level the engine holds past the course is set on the `past` frames after it
    (`onset_correction_db`). `only`: these instruments alone (the others' courses are lengthened, unchanged).
    A key with no train note of its own between two train notes (`between_keys`) is steered towards
    their recordings' course, interpolated; `between_only`: only those keys' courses are set (a
    course the train keys' rounds have settled stays as it is: each further round there raises the
    bowed and blown notes' level error, whose first frames are noise the course does not scale).
    `gain_velocities`: the course is first moved onto the band gains' velocity anchors (playing as
    before, `tone.widened_velocities`), so that the velocity layers' notes (64 and 100) set anchors of
    their own: FluidR3's vibraphone switches from the soft mallet's bloom to the hard one's click
    between 40 and 80, and at 64 its keys 72-84 reach their peak in 2-8 ms, ours in 15-20, read
    between those anchors. `from_onset`: each recording is read from its onset as the attack
    reads it (`playing.onset_s`), as the engine sounds from the note-on, and the course's first frame is set
    from the notes' first moment (`start_level_db`; the recording's from where it comes within
    START_ONSET_DB of its peak; `onset_correction_db`): the guitar's key 77 at 100 came within 3 dB
    of its peak in 7.5 ms against FluidR3's 2, its first frame 39 dB under the next (the
    recording's first 10 ms frame had read the pick's lead-in)."""
    from concurrent.futures import ThreadPoolExecutor

    from . import tone as T
    from .dsp import midi_to_hz
    from .playing import attack_within_bound, attack_ms, onset_s

    model_path = Path(model_path)
    cfg, notes, means = _train_notes(model_path, data, layers, timbred)
    tables, info = _tone_tables(model_path)
    if "tone.onset_db" not in tables or "tone.onset_pitches" not in tables:
        raise UserError(f"{model_path}: no onset course on every key to refine (timbred-train tone --key-layers first)")
    if not 1 <= frames <= 200:
        raise UserError(f"--frames {frames}: the engine reads an onset course of 1 to 200 frames")
    keys = [float(p) for p in tables["tone.onset_pitches"]]
    velocities = T.onset_velocities(model_path, cfg)
    course = extended_course(np.asarray(tables["tone.onset_db"], np.float64), frames)
    if gain_velocities and velocities != T.gain_velocities(model_path, cfg):
        course = T.widened_velocities(course, velocities, T.gain_velocities(model_path, cfg))
        velocities = T.gain_velocities(model_path, cfg)
    hop = cfg.hop
    # the notes a velocity anchor reads: per instrument, the recorded velocity nearest each anchor
    use = np.zeros(len(notes.pitch), bool)
    for k in range(len(cfg.instruments)):
        mine = np.asarray(notes.instrument) == k
        if mine.any():
            vs = np.unique(np.asarray(notes.velocity)[mine])
            for v in velocities:
                use |= mine & (np.asarray(notes.velocity) == vs[np.argmin(np.abs(vs - v))])
    use &= np.isin(np.asarray(notes.instrument), _chosen(model_path, cfg, only))
    idx_all = np.flatnonzero(use)
    # the frames read past the course, within every note's hold
    past = int(max(0, min(past, int(np.min(np.asarray(notes.hold_frames)[idx_all])) - frames)))
    n = (frames + past) * hop
    real = {}
    for i in idx_all:
        audio = np.asarray(notes.audio[i], np.float64)
        start = int(round(onset_s(audio, float(notes.pitch[i])) * cfg.sample_rate)) if from_onset else 0
        x = audio[start: start + n]
        x = np.pad(x, (0, n - len(x)))
        period = cfg.sample_rate / midi_to_hz(float(notes.pitch[i]))
        first = sound_onset(x, sample_rate=cfg.sample_rate)
        real[int(i)] = (T.onset_level_db(x, hop, period, frames + past), attack_ms(x, int(round(float(notes.pitch[i])))),
                        start_level_db(x[first:], period, cfg.sample_rate))
    # the keys between two train notes that have none of their own (a held-out key): the course of
    # their neighbours' recordings, interpolated in dB, is what they are steered towards
    between = between_keys(np.asarray(notes.instrument)[idx_all], np.asarray(notes.pitch)[idx_all],
                           np.asarray(notes.velocity)[idx_all])
    for ins, key, vel, lo, hi, f in between:
        il, ih = int(idx_all[lo]), int(idx_all[hi])
        real[("between", ins, key, vel)] = tuple((1 - f) * a + f * b for a, b in zip(real[il], real[ih]))
    # every note read: (instrument, pitch, velocity, key of `real`, whether it is a train note)
    entries = [(int(notes.instrument[i]), float(notes.pitch[i]), float(notes.velocity[i]), int(i), True)
               for i in idx_all]
    entries += [(ins, float(key), float(vel), ("between", ins, key, vel), False) for ins, key, vel, *_ in between]
    e_instrument = np.array([e[0] for e in entries])
    e_pitch, e_velocity = np.array([e[1] for e in entries]), np.array([e[2] for e in entries])
    e_period = cfg.sample_rate / midi_to_hz(e_pitch)  # samples, for the notes' first moment
    work = Path(work) if work else Path(tempfile.mkdtemp(prefix="timbred-keyonsets-"))
    trial, history = model_path, []
    print(f"the onset courses ({frames} frames, the level after them read over {past} more) of {len(idx_all)} train "
          f"notes and {len(between)} keys between them through {timbred}, {rounds} rounds, damping {damping:g}",
          flush=True)

    def one(k: int, model: Path):
        mine = np.flatnonzero(e_instrument == k)
        if len(mine) == 0:
            return k, mine, None, None
        ours, clips = engine_onsets(Path(timbred), model, means[k], e_pitch[mine], e_velocity[mine], frames + past,
                                    hop, work, f"keyonsets-{k}")
        return k, mine, ours, clips

    for r in range(rounds + 1):
        print(f"round {r + 1}" if r < rounds else "the result", flush=True)
        errors, correction = {}, np.zeros((len(entries), frames))
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            results = list(pool.map(lambda k: one(k, trial), range(len(cfg.instruments))))
        for k, mine, ours, clips in results:
            if ours is None:
                continue
            name = cfg.instruments[k]
            level_err, after_err, within, between_within = [], [], [], []
            for j, e in enumerate(mine):
                rl, ra, rs = real[entries[e][3]]
                start = (rs, start_level_db(clips[j], e_period[e], cfg.sample_rate)) if from_onset else None
                if not (between_only and entries[e][4]):
                    correction[e] = onset_correction_db(rl, ours[j], damping, past=past, real_attack_ms=ra,
                                                        start_db=start)
                if not entries[e][4]:
                    # a key between: against its neighbours' recordings, apart from the train notes' figures
                    between_within.append(attack_within_bound(ra, attack_ms(clips[j], int(round(entries[e][1])))))
                    continue
                i = entries[e][3]
                level_err.append(level_error_db(rl[:frames], ours[j][:frames], loudest_db=rl.max()) or 0.0)
                after = level_error_db(rl[frames:], ours[j][frames:], signed=True, loudest_db=rl.max()) if past else None
                if after is not None:
                    after_err.append(after)
                oa = attack_ms(clips[j], int(round(float(notes.pitch[i]))))
                within.append(attack_within_bound(ra, oa))
            errors[name] = {"level_db": float(np.mean(level_err)), "attack_within": float(np.mean(within)),
                            "after_db": float(np.mean(after_err)) if after_err else 0.0,
                            "between_attack_within": float(np.mean(between_within)) if between_within else None}
            print(f"  {name:16s} {len(within):4d} notes: mean |level error| {errors[name]['level_db']:.2f} dB, "
                  f"attack within the bound {errors[name]['attack_within']:.2f}, |mean level error| over the "
                  f"{past / cfg.frame_rate:g} s after {errors[name]['after_db']:.2f} dB"
                  + (f"; {len(between_within)} keys between, attack within their neighbours' "
                     f"{np.mean(between_within):.2f}" if between_within else ""), flush=True)
        history.append(errors)
        if r == rounds:
            break
        step = T.build_table(correction, e_instrument, e_pitch, e_velocity, len(cfg.instruments), keys, velocities,
                             smooth=False, pitch_span=T.ONSET_PITCH_SPAN)
        course = np.clip(course + step, -40.0, 40.0)
        tables["tone.onset_db"] = course.astype(np.float32)
        trial = work / f"onsets{r + 1}.safetensors"
        T._write(model_path, tables, info, trial)
    steps = " → ".join(["before"] + [f"round {r + 1}" for r in range(rounds)])
    print(f"mean |level error| over the first {frames / cfg.frame_rate:g} s, dB; attack within max(5 ms, 1.5×); "
          f"|mean level error| over the {past / cfg.frame_rate:g} s after, dB: {steps}")
    for nm in cfg.instruments:
        if nm in history[0]:
            print(f"  {nm:16s} " + " → ".join(f"{h[nm]['level_db']:.2f} / {h[nm]['attack_within']:.2f} / "
                                                f"{h[nm]['after_db']:.2f}" for h in history))
    if write:
        record = {"notes": int(len(idx_all)), "keys_between": len(between), "between_only": between_only,
                  "rounds": rounds, "damping": damping, "frames": frames, "past_frames": past, "velocities": velocities,
                  "from_onset": from_onset}
        T._write(model_path, tables, info | {_step_name("key_onsets", only): record}, out)
        print(f"wrote tone.onset_db {list(course.shape)} into {out or model_path}")
    return {"errors": history}
