"""`timbred-train`: dataset, features, train, export, evaluate. User errors print one line."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import UserError


def _model_config(args, notes=None):
    """The model config: the defaults, at the sample rate of the dataset in `args.data` (a model
    learns at the rate its notes were recorded at), with the command line's overrides."""
    from .config import ModelConfig
    from .dataset import load_manifest

    cfg = ModelConfig()
    data = getattr(args, "data", None)
    if data and (Path(data) / "manifest.json").is_file():
        cfg.sample_rate, _ = load_manifest(Path(data))
    if getattr(args, "sample_rate", None):
        cfg.sample_rate = args.sample_rate
    if getattr(args, "z_dim", None):
        cfg.z_dim = args.z_dim
    if notes is not None:
        cfg.instruments = list(notes.instruments)
    return cfg


def cmd_dataset(args) -> None:
    from . import dataset

    out = Path(args.out)
    if args.nsynth:
        notes = dataset.import_nsynth(Path(args.nsynth), out, args.sample_rate)
    elif args.wav_folder:
        if not args.instrument:
            raise UserError("--wav-folder needs --instrument NAME")
        notes = dataset.import_wav_folder(Path(args.wav_folder), out, args.instrument, args.sample_rate)
    else:
        insts = None
        if args.instruments:
            from .config import DEFAULT_INSTRUMENTS

            wanted = args.instruments.split(",")
            known = {i[0]: i for i in DEFAULT_INSTRUMENTS}
            missing = [w for w in wanted if w not in known]
            if missing:
                raise UserError(f"unknown instrument(s): {', '.join(missing)} (known: {', '.join(known)})")
            insts = [known[w] for w in wanted]
            if args.max_pitches:
                insts = [(n, p, lo, min(hi, lo + args.pitch_step * (args.max_pitches - 1))) for n, p, lo, hi in insts]
        velocities = tuple(int(v) for v in args.velocities.split(","))
        notes = dataset.render_soundfont(out, Path(args.soundfont), args.sample_rate, insts, velocities,
                                         args.pitch_step, args.hold, args.release, args.pitch_offset)
    print(f"{len(notes)} notes in {out}")


def cmd_features(args) -> None:
    from .cache import load_or_build

    ns = load_or_build(Path(args.data), _model_config(args))
    print(f"{len(ns.pitch)} notes, {len(ns.instruments)} instruments: features cached in {args.data}")


def cmd_train(args) -> None:
    import torch

    from .cache import load_or_build
    from .config import TrainConfig
    from .train import train

    torch.set_num_threads(args.threads)
    ns = load_or_build(Path(args.data), _model_config(args))
    cfg = _model_config(args, ns)
    tc = TrainConfig()
    if args.regression_steps is not None:
        tc.regression_steps = args.regression_steps
    if args.spectral_steps is not None:
        tc.spectral_steps = args.spectral_steps
    if args.lr is not None:
        tc.lr = args.lr
    if args.room_lr_scale is not None:
        tc.room_lr_scale = args.room_lr_scale
    if args.motion_weight is not None:
        tc.motion_weight = args.motion_weight
    if args.band_weight is not None:
        tc.band_weight = args.band_weight
    if args.onset_weight is not None:
        tc.onset_weight = args.onset_weight
    if args.mix_weight is not None:
        tc.mix_weight = args.mix_weight
    if args.mix_frames is not None:
        tc.mix_crop_frames = args.mix_frames
    tc.freeze_latent = args.freeze_latent
    if args.batch:
        tc.batch_regression = args.batch
    tc.seed = args.seed
    train(ns, cfg, tc, Path(args.run), threads=args.threads, device=args.device,
          init_from=Path(args.init_from) if args.init_from else None)


def cmd_export(args) -> None:
    from .export import export

    export(Path(args.run), Path(args.data), args.name, Path(args.models), Path(args.presets),
           Path(args.fixtures) if args.fixtures else None)


def cmd_evaluate(args) -> None:
    from .evaluate import evaluate

    evaluate(Path(args.model), Path(args.data), Path(args.report), threads=args.threads, dry=args.dry)


def _model_sample_rate(model: Path) -> int:
    """The rate a model file was trained at (its config's sample_rate), for rendering the notes
    it is checked against when no dataset is there yet."""
    import json

    from safetensors import safe_open

    try:
        with safe_open(str(model), framework="np") as f:
            return int(json.loads((f.metadata() or {})["config"])["sample_rate"])
    except Exception as e:
        raise UserError(f"{model}: cannot read the model's config ({e})") from None


def _render_missing_dataset(data: Path, model: Path) -> None:
    """Renders the default note set into `data` at the model's rate if it is not there."""
    if not (data / "manifest.json").is_file():
        from . import dataset

        dataset.render_soundfont(data, sample_rate=_model_sample_rate(model))


def cmd_engine_check(args) -> None:
    from .engine_check import engine_check

    rate = _model_sample_rate(Path(args.model))
    data = Path(args.data or ("data/default" if rate == 32000 else f"data/default{rate // 1000}"))
    _render_missing_dataset(data, Path(args.model))
    engine_check(Path(args.timbred), Path(args.model), Path(args.presets), data, Path(args.work),
                 Path(args.report) if args.report else None, args.tolerance, args.reverb)


def cmd_encode_check(args) -> None:
    import shlex

    from .encode_check import encode_check

    data = Path(args.data)
    if not args.no_held_out:
        _render_missing_dataset(data, Path(args.model))
    command = "timbred-train " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == ["encode-check"] \
        else "timbred-train encode-check"
    encode_check(Path(args.timbred), Path(args.model), Path(args.presets), data, Path(args.work), Path(args.report),
                 held_out=not args.no_held_out, unseen=not args.no_unseen, command=command)


def cmd_playing(args) -> None:
    from .playing import playing

    playing(Path(args.timbred), Path(args.model), Path(args.presets), Path(args.work), Path(args.report),
            instruments=args.instruments.split(",") if args.instruments else None, dry=args.dry, ladder_step=args.ladder)


def cmd_inharmonicity(args) -> None:
    from .inharmonicity import run

    run(Path(args.model), Path(args.data), Path(args.out) if args.out else None, write=not args.dry,
        tuned=[x for x in (args.tuned or "").split(",") if x], modes=_names(args.modes), only=_names(args.only))


def cmd_smoothing(args) -> None:
    from .smoothing import run

    run(Path(args.model), args.from_frame, Path(args.out) if args.out else None, write=not args.dry,
        names=_names(args.only))


def _name_values(text: str | None, flag: str, what: str) -> dict[str, float]:
    """`NAME=VALUE,NAME=VALUE` of a command-line option as a dict; a malformed item is refused."""
    out = {}
    for item in (text or "").split(","):
        if item.strip():
            name, _, value = item.partition("=")
            try:
                out[name.strip()] = float(value)
            except ValueError:
                raise UserError(f"{flag}: {item.strip()!r} is not NAME={what}") from None
    return out


def cmd_motion(args) -> None:
    from .motion import hold_still, run, set_drift_cut

    still = [x.strip() for x in (args.still or "").split(",") if x.strip()]
    drift_for = _name_values(args.drift_cut_for, "--drift-cut-for", "HZ")
    out = Path(args.out) if args.out else None
    if args.keep_measured:
        if not still and args.drift_cut is None and not drift_for:
            raise UserError("--keep-measured: name the instruments to hold still with --still, or give --drift-cut "
                            "or --drift-cut-for")
        if still:
            hold_still(Path(args.model), still, out, write=not args.dry)
        if args.drift_cut is not None or drift_for:
            set_drift_cut(out if still and out and not args.dry else Path(args.model), args.drift_cut or 0.0,
                          drift_for, out, write=not args.dry)
        return
    run(Path(args.model), Path(args.data), out, write=not args.dry, smoothing=args.smoothing,
        smoothing_for=_name_values(args.smoothing_for, "--smoothing-for", "BETA"), still=still,
        drift_cut=args.drift_cut or 0.0, drift_cut_for=drift_for)


def cmd_highpass(args) -> None:
    from .highpass import run

    unfiltered = tuple(n.strip() for n in args.unfiltered.split(",") if n.strip()) if args.unfiltered else ()
    run(Path(args.model), Path(args.data), Path(args.out) if args.out else None, write=not args.dry,
        unfiltered=unfiltered)


def cmd_envelopes(args) -> None:
    from .envelope import refit, refit_tails

    if args.tails:
        refit_tails(Path(args.model), Path(args.data), Path(args.out) if args.out else None, write=not args.dry,
                    timbred=Path(args.timbred) if args.timbred else None)
    else:
        refit(Path(args.model), Path(args.data), Path(args.out) if args.out else None, write=not args.dry)


def cmd_transients(args) -> None:
    from .transients import run

    run(Path(args.model), Path(args.data), Path(args.out) if args.out else None, write=not args.dry)


def cmd_tone(args) -> None:
    from .tone import add_strike, add_velocity_layers, run

    if args.strike:
        add_strike(Path(args.model), Path(args.data), Path(args.out) if args.out else None, write=not args.dry)
        return
    if args.velocity_layers:
        add_velocity_layers(Path(args.model), Path(args.velocity_layers), Path(args.out) if args.out else None,
                            write=not args.dry)
        return
    run(Path(args.model), Path(args.data), Path(args.out) if args.out else None, write=not args.dry,
        reference=Path(args.reference) if args.reference else None, keep_bands=args.keep_bands,
        key_layers=Path(args.key_layers) if args.key_layers else None, threads=args.threads)


def cmd_key_strikes(args) -> None:
    from .keybands import strike_keys

    layers = [Path(x) for x in args.layers.split(",") if x] if args.layers else []
    strike_keys(Path(args.model), Path(args.data), layers, Path(args.timbred), Path(args.out) if args.out else None,
                write=not args.dry, rounds=args.rounds, only=_names(args.only))


def cmd_key_onsets(args) -> None:
    from .keybands import onset_keys

    layers = [Path(x) for x in args.layers.split(",") if x] if args.layers else []
    onset_keys(Path(args.model), Path(args.data), layers, Path(args.timbred), Path(args.out) if args.out else None,
               write=not args.dry, rounds=args.rounds, frames=args.frames,
               only=_names(args.only), past=args.past_frames,
               between_only=args.between_only, gain_velocities=args.gain_velocities, from_onset=args.from_onset)


def cmd_key_bands(args) -> None:
    from .keybands import run

    layers = [Path(x) for x in args.layers.split(",") if x] if args.layers else []
    run(Path(args.model), Path(args.data), layers, Path(args.timbred), Path(args.out) if args.out else None,
        write=not args.dry, rounds=args.rounds, damping=args.damping, noise_only=args.noise_only,
        only=_names(args.only), floor_db=args.floor_db, min_db=args.min_db)


def _names(text: str | None) -> list[str] | None:
    """A comma-separated list of instrument names (--only), or None."""
    return [x for x in text.split(",") if x] if text else None


def cmd_bench_decoder(args) -> None:
    from .bench_decoder import main_args

    main_args(args)


def _model_command(sub, name: str, help: str, *, data: tuple[str, str], out: str, dry: str, func):
    """A command that measures a note set and rewrites an exported model: --model, --data (default,
    help), --out, --dry. Returns its parser for further arguments."""
    p = sub.add_parser(name, help=help)
    p.add_argument("--model", default="../models/default.safetensors", help="exported model file (rewritten in place)")
    p.add_argument("--data", default=data[0], help=data[1])
    p.add_argument("--out", help=out)
    p.add_argument("--dry", action="store_true", help=dry)
    p.set_defaults(func=func)
    return p


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="timbred-train", description="Train and export timbred's timbre-space DDSP models.")
    sub = p.add_subparsers(dest="cmd", required=True)

    d = sub.add_parser("dataset", help="render or import a note set")
    d.add_argument("--out", default="data/default", help="output folder (default: data/default)")
    d.add_argument("--soundfont", default="/usr/share/sounds/sf2/FluidR3_GM.sf2")
    d.add_argument("--nsynth", help="import an NSynth-format folder (examples.json + audio/)")
    d.add_argument("--wav-folder", help="import a folder of your own notes, one note per file")
    d.add_argument("--instrument", help="instrument name for --wav-folder")
    d.add_argument("--instruments", help="comma-separated subset of the default instruments")
    d.add_argument("--max-pitches", type=int, help="at most this many pitches per instrument")
    d.add_argument("--velocities", default="16,40,80,120,127")
    d.add_argument("--pitch-step", type=int, default=2, help="semitones between rendered pitches")
    d.add_argument("--pitch-offset", type=int, default=0, help="start this many semitones above each instrument's "
                                                                "lowest pitch (1: the keys between the default set's)")
    d.add_argument("--hold", type=float, default=3.0, help="seconds from note-on to note-off")
    d.add_argument("--release", type=float, default=1.0, help="seconds rendered after note-off")
    d.add_argument("--sample-rate", type=int, default=48000,
                   help="Hz (default 48000: harmonics and noise up to 20 kHz; the model learns at this rate)")
    d.set_defaults(func=cmd_dataset)

    f = sub.add_parser("features", help="compute and cache features of a note set")
    f.add_argument("--data", default="data/default")
    f.set_defaults(func=cmd_features)

    t = sub.add_parser("train", help="train (resumes from RUN/checkpoint.pt)")
    t.add_argument("--data", default="data/default")
    t.add_argument("--run", default="runs/default")
    t.add_argument("--threads", type=int, default=1, help="CPU threads (1 is fastest on a busy 2-core machine)")
    t.add_argument("--device", help="cpu or cuda (default: cuda when present)")
    t.add_argument("--regression-steps", type=int)
    t.add_argument("--spectral-steps", type=int)
    t.add_argument("--batch", type=int)
    t.add_argument("--lr", type=float, help="peak learning rate of the cosine schedule over all steps (default 1e-3)")
    t.add_argument("--room-lr-scale", type=float,
                   help="the room's parameters learn at lr × this (default 300; the dB level moves ~lr × scale per step)")
    t.add_argument("--motion-weight", type=float,
                   help="weight of the spectral-motion loss in the spectral stage (see dsp.SpectralMotionLoss)")
    t.add_argument("--band-weight", type=float,
                   help="weight of the regression's 1/3-octave band-power term (default 1; 0 = per-partial L1 only)")
    t.add_argument("--onset-weight", type=float,
                   help="extra weight of the regression's first 100 ms: 1 + this · exp(-t / 100 ms) (default 3)")
    t.add_argument("--mix-weight", type=float,
                   help="weight of the latent-mixup term: the decoder along straight paths between instruments, "
                        "held to the mixture of their analyses (default 0, off; see train.mixup_loss)")
    t.add_argument("--mix-frames", type=int,
                   help="frames of each mixup note from its note-on (default: the regression crop, 128)")
    t.add_argument("--freeze-latent", action="store_true",
                   help="keep the encoder and the latent means (where the presets sit) as they are")
    t.add_argument("--seed", type=int, default=1234)
    t.add_argument("--init-from", help="an exported model file (.safetensors) or another run's checkpoint.pt to start "
                                        "from when the run has no checkpoint yet (a format-1 file fills all but the "
                                        "note input, which starts at zero; a checkpoint may come from another sample "
                                        "rate and brings its room)")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("export", help="write models/NAME.safetensors, presets and fixtures")
    e.add_argument("--run", default="runs/default")
    e.add_argument("--data", default="data/default")
    e.add_argument("--name", default="default")
    e.add_argument("--models", default="../models")
    e.add_argument("--presets", default="../presets")
    e.add_argument("--fixtures", help="also write reference fixtures into this folder")
    e.set_defaults(func=cmd_export)

    v = sub.add_parser("evaluate", help="write a Markdown + PNG report for a model")
    v.add_argument("--model", default="../models/default.safetensors")
    v.add_argument("--data", default="data/default")
    v.add_argument("--report", default="reports/default")
    v.add_argument("--threads", type=int, default=1)
    v.add_argument("--dry", action="store_true", help="resynthesise without the model's reverb")
    v.set_defaults(func=cmd_evaluate)
    c = sub.add_parser("engine-check", help="score the Swift engine's renders with the report's measures")
    c.add_argument("--timbred", required=True, help="path of the timbred binary")
    c.add_argument("--model", default="../models/default.safetensors")
    c.add_argument("--presets", default="../presets")
    c.add_argument("--data", help="note set (rendered if missing; default data/default for a 32 kHz model, "
                                  "data/default48 for a 48 kHz one)")
    c.add_argument("--work", default="runs/engine-check")
    c.add_argument("--report", help="the model's evaluation summary.json to compare with")
    c.add_argument("--tolerance", type=float, default=0.05, help="allowed accuracy difference")
    c.add_argument("--reverb", type=float, help="render at this reverb mix (default: the engine's default, dry; "
                   "1: the model's room)")
    c.set_defaults(func=cmd_engine_check)

    k = sub.add_parser("encode-check", help="check `timbred encode` on held-out notes and on sounds the model never saw")
    k.add_argument("--timbred", required=True, help="path of the timbred binary")
    k.add_argument("--model", default="../models/default.safetensors")
    k.add_argument("--presets", default="../presets", help="the shipped presets (their parent is TIMBRED_HOME)")
    k.add_argument("--data", default="data/default", help="note set whose test split is encoded (rendered if missing)")
    k.add_argument("--work", default="runs/encode-check", help="scratch folder (recordings, presets, renders)")
    k.add_argument("--report", default="reports/encode-check")
    k.add_argument("--no-held-out", action="store_true", help="skip part 1 (held-out notes)")
    k.add_argument("--no-unseen", action="store_true", help="skip part 2 (sounds the model never saw)")
    k.set_defaults(func=cmd_encode_check)

    g = sub.add_parser("playing", help="every instrument played from MIDI through `timbred render` beside FluidSynth: "
                                       "attack, decay, release, velocity range, pitch")
    g.add_argument("--timbred", required=True, help="path of the timbred binary")
    g.add_argument("--model", default="../models/default.safetensors")
    g.add_argument("--presets", default="../presets", help="the presets (their parent is TIMBRED_HOME)")
    g.add_argument("--work", default="runs/playing", help="scratch folder (MIDI files, renders)")
    g.add_argument("--report", default="reports/default", help="writes playing.json and playing.md here")
    g.add_argument("--instruments", help="comma-separated subset")
    g.add_argument("--dry", action="store_true", help="timbred without its room (--reverb 0)")
    g.add_argument("--ladder", type=int, default=0, metavar="STEP",
                   help="also the band balance over a key every STEP semitones of each range (3: 254 notes, 4 min)")
    g.set_defaults(func=cmd_playing)

    inh = _model_command(sub, "inharmonicity", "measure the notes' stretched partials (B of f_k = k f0 sqrt(1 + B k^2)) "
                                         "and add B per instrument and pitch (blended by z) to an exported model",
                   data=("data/default", "the model's note set (B per note cached in DATA/inharmonicity.json)"),
                   out="write the model with the predictor here instead of in place",
                   dry="measure, fit and print; write nothing into the model", func=cmd_inharmonicity)
    inh.add_argument("--tuned", help="comma-separated instruments whose keys take their recordings' stretch tuning "
                                     "(e.g. piano: its treble sharp, its bass flat, as a tuner sets it to its "
                                     "stretched partials); every other instrument stays at equal temperament")
    inh.add_argument("--modes", help="comma-separated struck bars read by their few strong modes (the shipped model: "
                                     "vibraphone, whose lowest bars in FluidR3 ring their third mode at 10.33 f0) "
                                     "instead of a string's many partials")
    inh.add_argument("--only", help="comma-separated instruments: only their rows are set (every other row, the tuning "
                                    "of the others and the blend scale stay bit for bit)")

    sm = sub.add_parser("smoothing", help="measure the decoder's frame-to-frame zigzag on every key and velocity "
                                          "(the PyTorch twin, held 3 s) and write the control smoothing that "
                                          "averages it away from a frame on (controls.smooth_from_frame)")
    sm.add_argument("--model", default="../models/default.safetensors", help="exported model file (rewritten in place)")
    sm.add_argument("--from-frame", type=int, default=60, help="the first smoothed frame (default 60: 600 ms, after "
                                                               "the attack and the onset course)")
    sm.add_argument("--only", help="comma-separated instruments to measure (the tensor is the model's, for all)")
    sm.add_argument("--out", help="write the model with the smoothing here instead of in place")
    sm.add_argument("--dry", action="store_true", help="measure and print; write nothing into the model")
    sm.set_defaults(func=cmd_smoothing)

    motion = _model_command(sub, "motion", "measure how much each partial's level moves while a note is held (per "
                                  "instrument) and add it to an exported model, for the engine to put back",
                   data=("data/default48", "the model's note set"),
                   out="write the model with the motion table here instead of in place",
                   dry="measure and print; write nothing into the model", func=cmd_motion)
    motion.add_argument("--smoothing", type=float, default=0.0,
                        help="β of the one-pole smoother after every instrument's motion (0 ≤ β ≤ 0.99; default 0, "
                             "none; the shipped model: 0.8, see docs/model-format.md, \"Partial motion\")")
    motion.add_argument("--still", help="comma-separated instruments whose partials hold their course (no motion): "
                                        "the shipped model's vibraphone, whose modes FluidR3 holds within 0.01 dB")
    motion.add_argument("--keep-measured", action="store_true",
                        help="with --still or --drift-cut(-for): measure nothing; the file's motion stays as it is but "
                             "for the instruments held still and the drift cut")
    motion.add_argument("--drift-cut", type=float,
                        help="Hz of the first-order high-pass on every instrument's walk, so that it moves the partials "
                             "without wandering slowly (0 ≤ Hz ≤ 10; default 0, none)")
    motion.add_argument("--drift-cut-for", help="comma-separated NAME=HZ for instruments whose drift cut differs "
                                                "(the shipped model's: training/README.md)")
    motion.add_argument("--smoothing-for", help="comma-separated NAME=BETA for instruments whose smoothing differs "
                                                "(the shipped model: piano=0, ..., violin=0.5; training/README.md)")

    _model_command(sub, "highpass", "measure how far under each note's fundamental its noise reaches (per "
                                    "instrument, played from MIDI as the engine plays it) and add the noise's "
                                    "high-pass to an exported model",
                   data=("data/default48", "the model's note set"),
                   out="write the model with the high-pass here instead of in place",
                   dry="measure and print; write nothing into the model", func=cmd_highpass).add_argument(
        "--unfiltered", help="comma-separated instruments that keep all their noise (ratio 0) whatever they measure "
                             "(the shipped model: choir_aahs, whose notes the classifier names less often filtered)")

    _model_command(sub, "envelopes", "fit the loudness envelopes again from the note set's train split and "
                                     "write them into an exported model (then measure tone and transients again)",
                   data=("data/default", "the model's note set"),
                   out="write the model with the new envelopes here instead of in place",
                   dry="fit and print the change; write nothing into the model", func=cmd_envelopes).add_argument(
        "--tails", action="store_true", help="only the level past the table: the tail slopes read on the train notes "
                                             "played again from their SoundFont, held 10 s (run it after a full fit)")
    sub.choices["envelopes"].add_argument(
        "--timbred", help="with --tails: the timbred binary, to read the slopes again on what the engine plays and "
                          "set the decoder's input so that it plays the SoundFont's")

    _model_command(sub, "transients", "measure each note's attack beyond its analysis-resynthesis (click, hammer, "
                                      "pluck, chiff) and add the transient basis and table to an exported model",
                   data=("data/default", "the model's note set"),
                   out="write the model with the transients here instead of in place",
                   dry="measure, fit and print; write nothing into the model", func=cmd_transients)

    o = sub.add_parser("tone", help="measure each band's level played from MIDI against the real notes while they "
                                     "sound, and add the tone balance table (gain per band) to an exported model")
    o.add_argument("--model", default="../models/default.safetensors", help="exported model file (rewritten in place)")
    o.add_argument("--data", default="data/default", help="the model's note set")
    o.add_argument("--reference", help="the same notes rendered at the rate the engine plays at (e.g. data/default48): "
                                       "measure against those recordings, the model rendered at their rate")
    o.add_argument("--keep-bands", action="store_true", help="keep the file's band balance; measure the onset course only")
    o.add_argument("--threads", type=int, default=1, help="PyTorch threads (default 1)")
    o.add_argument("--key-layers", help="a note set of the keys between the note set's (`dataset --out data/default48k "
                                        "--pitch-offset 1`): the onset course is measured on every key's own notes")
    o.add_argument("--velocity-layers", help="a note set of the same notes at velocities the model's set lacks (e.g. "
                                             "`dataset --out data/default48v --velocities 64,100`): measure their band "
                                             "balance and add it to the file's as velocity anchors of its own; nothing else")
    o.add_argument("--strike", action="store_true", help="measure how much of the band balance each instrument's "
                                                            "strike (its first 20 ms) takes, against the real notes' "
                                                            "power above 6 kHz, and add tone.strike_fraction; nothing "
                                                            "else (run it after the other tone steps)")
    o.add_argument("--out", help="write the model with the tone balance here instead of in place")
    o.add_argument("--dry", action="store_true", help="measure and print; write nothing into the model")
    o.set_defaults(func=cmd_tone)

    def per_key_command(name: str, what: str, wrote: str, func, rounds: int = 2):
        """A command that plays every train note (and the layers') through timbred and sets a table
        on every key: its --timbred, --layers and --rounds."""
        c = _model_command(sub, name, what, data=("data/default48", "the model's note set"),
                           out=f"write the model with {wrote} on every key here instead of in place",
                           dry="measure and print; write nothing into the model", func=func)
        c.add_argument("--timbred", required=True, help="path of the timbred binary")
        c.add_argument("--layers", help="comma-separated note sets whose train notes are played too (e.g. "
                                        "data/default48k,data/default48v,data/default48kv: the keys between and "
                                        "the velocities beside)")
        c.add_argument("--rounds", type=int, default=rounds, help=f"rounds of measuring and setting (default {rounds})")
        c.add_argument("--only", help="comma-separated instruments: only their notes are played and their tables set "
                                      "(every other instrument's stay bit for bit)")
        return c

    per_key_command("key-strikes", "play every loud train note through timbred and set each key's strike "
                                   "(tone.strike_top_db: everything from 6.3 kHz up over the first 120 ms) so that its "
                                   "first 20 ms are as bright as the real note's (the last step, after the strike and "
                                   "key-bands)", "the strikes", cmd_key_strikes, rounds=3)
    ko = per_key_command("key-onsets", "play every train note through timbred and set each key's onset course "
                                       "(tone.onset_db, lengthened to --frames) so that its level over those frames "
                                       "follows the real note's (after key-bands and key-strikes)",
                         "the onset courses", cmd_key_onsets)
    ko.add_argument("--frames", type=int, default=200, help="the course's length in 10 ms frames, 1-200 (default 200: 2 s)")
    ko.add_argument("--between-only", action="store_true",
                    help="set only the courses of keys with no train note of their own between two train notes (steered "
                         "towards their recordings' course, interpolated); the train keys' courses stay as they are")
    ko.add_argument("--gain-velocities", action="store_true",
                    help="move the onset course onto the band gains' velocity anchors first (playing as before), so "
                         "that the velocity layers' notes (e.g. 64 and 100) set anchors of their own")
    ko.add_argument("--from-onset", action="store_true",
                    help="read each recording from its onset as the attack reads it (its first one-period window 40 dB "
                         "under its peak), as the engine sounds from the note-on, and where it sounds at once set the "
                         "course's first frame from the notes' first moment (their first period, 2-5 ms) rather than "
                         "from a 10 ms frame centred on the note-on, the frames after it both ways")
    ko.add_argument("--past-frames", type=int, default=100,
                    help="frames after the course (10 ms each) whose mean level sets the gain held for the rest of "
                         "the note (default 100: 2-3 s); 0 holds the mean of the course's own last 0.5 s")
    kb = per_key_command("key-bands", "play every train note through timbred and set each key's band balance "
                                      "(tone.gain_pitches: every key) so that it sounds as the real note's (run it "
                                      "after the tone steps, then the onset course, transients and strike again)",
                         "the band balance", cmd_key_bands)
    kb.add_argument("--noise-only", action="store_true",
                    help="only the noise under 375 Hz (the last step, after the strike and the high-pass; "
                         "every partial's balance stays as it is)")
    kb.add_argument("--damping", type=float, default=0.6, help="share of each round's measured correction taken (default 0.6)")
    kb.add_argument("--floor-db", type=float, default=60.0,
                    help="bands this far under a note's strongest band, both ways, are left alone (default 60)")
    kb.add_argument("--min-db", type=float, help="the band gains' lower clamp, dB (default -24)")

    b = sub.add_parser("bench-decoder", help="the decoder step side by side: timbred, PyTorch eager and ONNX Runtime "
                                             "(one thread each) on the same weights, batch 1-64, GFLOP/s and %% of the FMA peak")
    from .bench_decoder import add_arguments as bench_decoder_arguments

    bench_decoder_arguments(b)
    b.set_defaults(func=cmd_bench_decoder)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except UserError as e:
        print(f"timbred-train: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("timbred-train: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
