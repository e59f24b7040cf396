"""Export: models/NAME.safetensors (docs/model-format.md), one preset per instrument, and the
reference fixtures the Swift engine's tests compare against.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import save_file

from . import dsp
from .cache import NoteSet, load_or_build, training_notes
from .config import FORMAT_VERSION, ModelConfig
from .envelope import fit_envelopes
from .errors import UserError
from .model import TimbreDDSP, note_inputs, note_times
from .train import load_checkpoint

FORMAT_NAME = "timbred-ddsp"


def model_tensors(model: TimbreDDSP) -> dict[str, np.ndarray]:
    """The network's tensors under their file names (GRU: PyTorch gate order r, z, n)."""
    out = {}
    for name, t in model.state_dict().items():
        if name in ("prior_mu", "prior_logvar") or name.startswith("reverb."):
            continue
        name = name.replace("decoder.gru.weight_ih_l0", "decoder.gru.weight_ih").replace(
            "decoder.gru.weight_hh_l0", "decoder.gru.weight_hh").replace(
            "decoder.gru.bias_ih_l0", "decoder.gru.bias_ih").replace("decoder.gru.bias_hh_l0", "decoder.gru.bias_hh")
        out[name] = t.detach().cpu().float().numpy()
    out["latent.means"] = model.prior_mu.detach().cpu().float().numpy()
    out["latent.logvars"] = model.prior_logvar.detach().cpu().float().numpy()
    out["reverb.ir"] = model.ir().detach().cpu().float().numpy()
    return out


# the rule exported models blend their per-instrument tables by (metadata `envelope_blend`):
# exactly an instrument at its own mean, as the decoder was trained (`envelope.note_priors`)
BLEND_RULE = "inverse_distance"


def blend_scale(means: np.ndarray) -> float:
    """Envelope blending width: half the median nearest-neighbour distance between components."""
    if len(means) < 2:
        return 1.0
    d = np.sqrt(((means[:, None] - means[None]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    return float(0.5 * np.median(d.min(1)))


def write_model(path: Path, model: TimbreDDSP, envelopes: dict[str, np.ndarray], provenance: dict) -> dict:
    cfg = model.cfg
    tensors = model_tensors(model)
    tensors.update({k: np.ascontiguousarray(v, np.float32) for k, v in envelopes.items()})
    for k, v in tensors.items():
        if not np.all(np.isfinite(v)):
            raise UserError(f"refusing to export: tensor {k} has NaN/Inf")
    meta = {
        "format": FORMAT_NAME,
        "format_version": str(FORMAT_VERSION),
        "config": cfg.to_json(),
        "envelope_blend_scale": repr(blend_scale(tensors["latent.means"])),
        "envelope_blend": BLEND_RULE,
        "provenance": json.dumps(provenance, sort_keys=True),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(path), metadata=meta)
    return meta


def write_presets(folder: Path, model_name: str, cfg: ModelConfig, means: np.ndarray, programs: dict[str, int]) -> list[Path]:
    """One TOML preset per instrument: its component mean is the latent point."""
    folder.mkdir(parents=True, exist_ok=True)
    order = sorted(cfg.instruments, key=lambda n: (programs.get(n, 999), n))
    paths = []
    for number, name in enumerate(order):
        k = cfg.instruments.index(name)
        latent = ", ".join(f"{v:.6f}" for v in means[k])
        title = name.replace("_", " ").title()
        text = (f'# Preset for timbred: a point in the timbre space of model "{model_name}".\n'
                f'name = "{title}"\n'
                f'model = "{model_name}"\n'
                f'instrument = "{name}"\n'
                f"program = {number}\n"
                f"latent = [{latent}]\n")
        p = folder / f"{name}.toml"
        p.write_text(text)
        paths.append(p)
    return paths


def training_seconds(history: list) -> float | None:
    """Wall-clock training time summed over resumed segments (each segment's clock restarts)."""
    if not history:
        return None
    total, last = 0.0, 0.0
    for h in history:
        if h["seconds"] < last:
            total += last
        last = h["seconds"]
    return total + last


def export(run: Path, data: Path, name: str, models: Path, presets: Path, fixtures: Path | None) -> Path:
    ck = load_checkpoint(run / "checkpoint.pt")
    cfg = ModelConfig.from_dict(ck["config"])
    model = TimbreDDSP(cfg)
    model.load_state_dict(ck["model"])
    model.eval()
    notes = load_or_build(data, cfg)
    if list(notes.instruments) != list(cfg.instruments):
        raise UserError(f"{data}: instruments differ from the checkpoint's ({notes.instruments} vs {cfg.instruments})")
    env = fit_envelopes(training_notes(notes), cfg)
    hist = ck.get("history", [])
    prov = {"steps": ck["step"], "train_config": ck.get("train_config"), "instruments": cfg.instruments,
            "train_seconds": training_seconds(hist), "exported": time.strftime("%Y-%m-%d"),
            "dataset": str(data.name), "notes": int(len(notes.pitch))}
    path = models / f"{name}.safetensors"
    write_model(path, model, env, prov)
    manifest = json.loads((data / "manifest.json").read_text())
    programs = {}
    for n in manifest["notes"]:
        programs.setdefault(n["instrument"], n["program"])
    write_presets(presets, name, cfg, model.prior_mu.detach().numpy(), programs)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB) and {len(cfg.instruments)} presets in {presets}")
    if fixtures is not None:
        write_fixtures(fixtures, model, notes, env)
    return path


# --- reference fixtures --------------------------------------------------------------------------

def fixture_inputs(cfg: ModelConfig, n_frames: int, seed: int = 3) -> dict[str, np.ndarray]:
    """Fixed inputs: a vibrato glide over an octave, a loudness swell and decay, and the note
    input of a note struck with velocity 90 and released at 60 % of the frames (`note.velocity`,
    `note.release_frame`; the engine computes the note input itself and is checked against it)."""
    t = np.arange(n_frames) / n_frames
    f0 = 220.0 * 2 ** (t + 0.02 * np.sin(2 * np.pi * 5 * t * n_frames / 100))
    ld = -60.0 + 50.0 * np.sin(np.pi * t) ** 0.5
    rng = np.random.default_rng(seed)
    release = int(0.6 * n_frames)
    t_on, t_off = note_times(n_frames, cfg.frame_rate, torch.tensor([release]))
    note = note_inputs(cfg, torch.tensor([90.0]), t_on, t_off)[0].numpy()
    return {"f0_hz": f0.astype(np.float32), "loudness_db": ld.astype(np.float32),
            "z": rng.normal(size=cfg.z_dim).astype(np.float32), "note": note.astype(np.float32),
            "note.velocity": np.array([90.0], np.float32), "note.release_frame": np.array([release], np.float32)}


def stage_outputs(model: TimbreDDSP, inputs: dict[str, np.ndarray], white_seed: int, rates=(32000,)) -> dict[str, np.ndarray]:
    cfg = model.cfg
    f0 = torch.as_tensor(inputs["f0_hz"])[None]
    ld = torch.as_tensor(inputs["loudness_db"])[None]
    z = torch.as_tensor(inputs["z"])[None]
    note = torch.as_tensor(inputs["note"])[None]
    out = {}
    with torch.no_grad():
        raw, layers = model.decoder(f0, ld, note, z, return_layers=True)
        for k, v in layers.items():
            out[f"decoder.{k}"] = v[0].numpy()
        c = model.decoder.controls(raw, f0)
        for k, v in c.items():
            out[f"controls.{k}"] = v[0].numpy()
        for sr in rates:
            n = int(f0.shape[1] * sr / cfg.frame_rate)
            g = torch.Generator().manual_seed(white_seed)
            white = torch.rand(1, n, generator=g) * 2 - 1
            syn = model.synthesize(c, f0, white, sample_rate=sr)
            tag = f"{sr}"
            out[f"white.{tag}"] = white[0].numpy()
            for k in ("harmonic", "noise", "dry", "audio"):
                out[f"audio.{k}.{tag}"] = syn[k][0].numpy()
    return out


def write_fixtures(folder: Path, trained: TimbreDDSP, notes: NoteSet, envelopes: dict[str, np.ndarray]) -> None:
    """Write tests' fixtures: a small random model with every stage's output, and the trained
    model's decoder outputs, encoder outputs and envelope lookups on fixed inputs."""
    from .envelope import blend_weights, lookup

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(11)
    small_cfg = ModelConfig(sample_rate=32000, n_harmonics=24, n_noise_bands=17, z_dim=4, mlp_units=16, mlp_layers=2, gru_units=24,
                            reverb_seconds=0.05, enc_units=16, instruments=["a", "b", "c"],
                            env_pitches=(36, 60, 84), env_velocities=(40, 120), env_hold_s=0.5, env_release_s=0.3)
    small = TimbreDDSP(small_cfg)
    with torch.no_grad():  # make the small model's outputs span the interesting range
        small.decoder.out.bias.add_(torch.linspace(-1, 2, small.decoder.out.bias.shape[0]))
        small.reverb.level_db.add_(30.0)
    rng = np.random.default_rng(5)
    th, tr = int(small_cfg.env_hold_s * 100), int(small_cfg.env_release_s * 100)
    small_env = {
        "envelope.hold_db": (-20 - 30 * rng.random((3, 3, 2, th)).cumsum(-1) / th).astype(np.float32),
        "envelope.hold_slope_db_per_s": -rng.random((3, 3, 2)).astype(np.float32) * 10,
        "envelope.release_db": (-60 * rng.random((3, 3, 2, tr)).cumsum(-1) / tr).astype(np.float32),
        "envelope.release_slope_db_per_s": (-20 - 40 * rng.random((3, 3, 2))).astype(np.float32),
    }
    write_model(folder / "small.safetensors", small, small_env, {"fixture": True})
    inputs = fixture_inputs(small_cfg, 50)
    ref = dict(inputs)
    ref.update(stage_outputs(small, inputs, white_seed=17, rates=(32000, 44100, 48000, 96000)))
    # encoder on the features of a real note
    feats = notes.encoder[:1].astype(np.float32)
    with torch.no_grad():
        small_enc_in = torch.randn(2, small_cfg.enc_features, generator=torch.Generator().manual_seed(4))
        mu, lv = small.encoder(small_enc_in)
    ref["encoder.input"] = small_enc_in.numpy()
    ref["encoder.mu"] = mu.numpy()
    ref["encoder.logvar"] = lv.numpy()
    ref["reverb.ir"] = small.ir().detach().numpy()
    # envelope lookups: (pitch, velocity, t_on, t_off or -1, z index) -> dB
    means = small.prior_mu.detach().numpy()
    scale = blend_scale(means)
    queries, values = [], []
    for q in [(60, 100, 0.0, -1), (60, 100, 0.123, -1), (50, 64, 0.4, -1), (90, 127, 1.7, -1), (30, 20, 0.2, 0.1),
              (72, 80, 0.45, 0.3), (72, 80, 2.0, 0.3), (40, 110, 0.05, 0.01)]:
        zq = means[0] * 0.6 + means[1] * 0.4
        w = blend_weights(zq, means, scale, BLEND_RULE)
        v = lookup(small_env, small_cfg, w, q[0], q[1], q[2], None if q[3] < 0 else q[3])
        queries.append(list(q) + list(zq))
        values.append(v)
    ref["envelope.queries"] = np.asarray(queries, np.float32)
    ref["envelope.values"] = np.asarray(values, np.float32)
    save_file({k: np.ascontiguousarray(v, np.float32) for k, v in ref.items()}, str(folder / "small-reference.safetensors"),
              metadata={"white_noise": "torch.rand(seed 17) * 2 - 1 at each rate", "frames": "50"})
    # the trained model on fixed inputs
    tin = fixture_inputs(trained.cfg, 60)
    tin["z"] = trained.prior_mu[0].detach().numpy().astype(np.float32)
    tref = dict(tin)
    tref.update(stage_outputs(trained, tin, white_seed=23, rates=(32000, 48000)))
    with torch.no_grad():
        mu, lv = trained.encoder(torch.as_tensor(feats))
    tref["encoder.input"] = feats
    tref["encoder.mu"] = mu.numpy()
    tref["encoder.logvar"] = lv.numpy()
    tref["band_limit_hz"] = np.array([trained.cfg.band_limit_hz], np.float32)  # the model's (its rate / 2)
    save_file({k: np.ascontiguousarray(v, np.float32) for k, v in tref.items()}, str(folder / "default-reference.safetensors"),
              metadata={"white_noise": "torch.rand(seed 23) * 2 - 1 at each rate", "frames": "60"})
    write_analysis_fixture(folder, trained, notes)
    from .inharmonicity import write_fixture as write_inharmonic_fixture

    write_inharmonic_fixture(folder)
    from .transients import write_fixture as write_transient_fixture

    write_transient_fixture(folder)
    from .tone import write_fixture as write_tone_fixture

    write_tone_fixture(folder)
    from .highpass import write_fixture as write_highpass_fixture

    write_highpass_fixture(folder)
    print(f"wrote fixtures in {folder}")


def write_analysis_fixture(folder: Path, trained: TimbreDDSP, notes: NoteSet,
                           picks: tuple[str, ...] = ("flute", "piano", "acoustic_bass")) -> None:
    """Fixture for the engine's note analysis (`timbred encode`): a held-out note of each picked
    instrument, 2.2 s of it after 0.1 s of silence, with every analysis step's output (onset
    trim, tracked f0 at the nominal pitch and over the wide range, loudness, encoder features)
    and the trained encoder's posterior."""
    from .dataset import trim_to_onset
    from .features import encoder_features, track_f0

    cfg = trained.cfg
    sr, hop = cfg.sample_rate, cfg.hop
    out: dict[str, np.ndarray] = {}
    test = notes.indices("test")
    # the picked instruments when the note set has them, else others (a small test set)
    names = [n for n in picks if n in notes.instruments]
    names += [n for n in notes.instruments if n not in names][: max(0, len(picks) - len(names))]
    for slot, name in enumerate(names):
        k = notes.instruments.index(name)
        pool = [i for i in test if int(notes.instrument[i]) == k] or \
            [i for i in range(len(notes.instrument)) if int(notes.instrument[i]) == k]
        cands = [i for i in pool if int(notes.velocity[i]) == 80] or pool
        i = cands[len(cands) // 2]
        audio = np.concatenate([np.zeros(int(0.1 * sr), np.float32), notes.audio[i][: int(2.2 * sr)]]).astype(np.float32)
        trimmed = trim_to_onset(audio, sr)
        n = int(math.ceil(len(trimmed) / hop))
        pitch = int(notes.pitch[i])
        f0, _ = track_f0(trimmed, sr, cfg.frame_rate, 440.0 * 2 ** ((pitch - 69) / 12), n)
        wide, conf = track_f0(trimmed, sr, cfg.frame_rate, 261.6, n, search_semitones=36)
        ld = dsp.loudness_db(trimmed, sr, cfg.frame_rate, n)
        enc = encoder_features(trimmed, cfg, f0, ld)
        with torch.no_grad():
            mu, lv = trained.encoder(torch.as_tensor(enc)[None])
        p = f"analysis.{slot}."
        out[p + "audio"] = audio
        out[p + "pitch"] = np.asarray([pitch], np.float32)
        out[p + "instrument"] = np.asarray([k], np.float32)
        out[p + "trim_start"] = np.asarray([len(audio) - len(trimmed)], np.float32)
        out[p + "f0_hz"] = f0
        out[p + "wide_f0_hz"] = wide
        out[p + "wide_confidence"] = conf
        out[p + "loudness_db"] = ld
        out[p + "features"] = enc
        out[p + "mu"] = mu[0].numpy()
        out[p + "logvar"] = lv[0].numpy()
    save_file({k: np.ascontiguousarray(v, np.float32) for k, v in out.items()}, str(folder / "analysis-reference.safetensors"),
              metadata={"instruments": ",".join(names), "sample_rate": str(sr)})


# --- loading an exported model (round trip, evaluation) ------------------------------------------

def expected_shapes(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Every tensor a model file must hold, with its shape, derived from the config."""
    model = TimbreDDSP(cfg)
    shapes = {k: tuple(v.shape) for k, v in model_tensors(model).items()}
    n_i, n_p, n_v = len(cfg.instruments), len(cfg.env_pitches), len(cfg.env_velocities)
    th, tr = int(round(cfg.env_hold_s * cfg.frame_rate)), int(round(cfg.env_release_s * cfg.frame_rate))
    shapes.update({"envelope.hold_db": (n_i, n_p, n_v, th), "envelope.hold_slope_db_per_s": (n_i, n_p, n_v),
                   "envelope.release_db": (n_i, n_p, n_v, tr), "envelope.release_slope_db_per_s": (n_i, n_p, n_v)})
    return shapes


def load_exported(path: Path) -> tuple[TimbreDDSP, dict[str, np.ndarray], dict[str, str]]:
    """Load a model file written by `write_model`, checking format, version and every shape."""
    from safetensors import safe_open

    if not path.is_file():
        raise UserError(f"{path}: model file not found")
    try:
        with safe_open(str(path), framework="np") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:
        raise UserError(f"{path}: not a safetensors model ({e})") from None
    if meta.get("format") != FORMAT_NAME:
        raise UserError(f"{path}: not a timbred model (format {meta.get('format')!r})")
    if meta.get("format_version") != str(FORMAT_VERSION):
        raise UserError(f"{path}: unknown format_version {meta.get('format_version')} (this reads {FORMAT_VERSION})")
    try:
        cfg = ModelConfig.from_dict(json.loads(meta["config"]))
    except (KeyError, ValueError, TypeError) as e:
        raise UserError(f"{path}: bad config metadata ({e})") from None
    for name, shape in expected_shapes(cfg).items():
        if name not in tensors:
            raise UserError(f"{path}: missing tensor {name}")
        if tuple(tensors[name].shape) != shape:
            raise UserError(f"{path}: tensor {name}: expected shape {list(shape)}, found {list(tensors[name].shape)}")
        if not np.all(np.isfinite(tensors[name])):
            raise UserError(f"{path}: tensor {name} contains NaN/Inf")
    model = TimbreDDSP(cfg)
    state = {}
    for k in model.state_dict():
        fk = k.replace("_l0", "")
        if k == "prior_mu":
            fk = "latent.means"
        elif k == "prior_logvar":
            fk = "latent.logvars"
        elif k.startswith("reverb."):
            continue  # the file holds the IR's samples, not its parameters
        state[k] = torch.as_tensor(tensors[fk])
    missing, _ = model.load_state_dict(state, strict=False)
    assert all(k.startswith("reverb.") for k in missing), missing
    model.reverb.fixed = torch.as_tensor(tensors["reverb.ir"])
    model.eval()
    env = {k: v for k, v in tensors.items() if k.startswith("envelope.")}
    return model, env, meta
