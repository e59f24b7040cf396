"""The pipeline end to end on a handful of notes: dataset, features, training, export, evaluation,
and the one-line refusals of bad input."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from timbred_train import cli
from timbred_train.cache import NoteSet, load_or_build, training_notes
from timbred_train.envelope import fit_envelopes
from timbred_train.model import note_inputs, note_times
from timbred_train.config import ModelConfig, TrainConfig
from timbred_train.export import export, load_exported
from timbred_train.train import train

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
needs_sf = pytest.mark.skipif(not SOUNDFONT.is_file(), reason="fluid-soundfont-gm not installed")


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    out = tmp_path_factory.mktemp("data") / "tiny"
    rc = cli.main(["dataset", "--out", str(out), "--instruments", "flute,trumpet", "--max-pitches", "7",
                   "--pitch-step", "3", "--velocities", "60,110", "--hold", "0.6", "--release", "0.4"])
    assert rc == 0
    return out


@needs_sf
def test_dataset_builder_renders_two_instruments(tiny_data):
    m = json.loads((tiny_data / "manifest.json").read_text())
    notes = m["notes"]
    assert {n["instrument"] for n in notes} == {"flute", "trumpet"}
    assert len(notes) == 2 * 7 * 2
    assert {n["split"] for n in notes} == {"train", "test"}
    for n in notes[:4]:
        audio, sr = sf.read(tiny_data / "audio" / n["file"])
        assert sr == 48000
        assert len(audio) == int(1.0 * sr)
        assert np.abs(audio).max() > 0.01
        # the release is quieter than the held part (fluidsynth reverb is off: no long tail)
        assert np.abs(audio[-3200:]).max() < np.abs(audio[: int(0.6 * sr)]).max()


@needs_sf
def test_features_track_the_real_pitch(tiny_data):
    ns = load_or_build(tiny_data, ModelConfig(), seconds=1.0)
    for i in range(len(ns.pitch)):
        nominal = 440 * 2 ** ((ns.pitch[i] - 69) / 12)
        cents = 1200 * np.log2(np.median(ns.f0_hz[i][5:50]) / nominal)
        assert abs(cents) < 50, (ns.pitch[i], cents)
    assert ns.encoder.shape[1] == ModelConfig().enc_features


@needs_sf
def test_short_training_lowers_the_loss_and_exports(tiny_data, tmp_path):
    cfg = ModelConfig()
    ns = load_or_build(tiny_data, cfg, seconds=1.0)
    cfg.instruments = list(ns.instruments)
    tc = TrainConfig(regression_steps=20, spectral_steps=2, batch_regression=8, batch_spectral=2, crop_frames=64,
                     checkpoint_every=10, lr=2e-3, motion_weight=1.0)
    run = tmp_path / "run"
    train(ns, cfg, tc, run, threads=1)
    hist = json.loads((run / "history.json").read_text())
    reg = [h["harm"] for h in hist if h["stage"] == "regression"]
    assert np.mean(reg[-4:]) < 0.8 * np.mean(reg[:4]), reg
    # the spectral steps ran with the motion loss on (--motion-weight) and logged a finite value
    motion = [h["motion"] for h in hist if h["stage"] == "spectral"]
    assert len(motion) == 2 and all(np.isfinite(motion)) and min(motion) > 0, motion
    assert (run / "curves.png").stat().st_size > 1000

    models, presets, fixtures = tmp_path / "models", tmp_path / "presets", tmp_path / "fixtures"
    path = export(run, tiny_data, "tiny", models, presets, fixtures)
    model, env, meta = load_exported(path)
    assert meta["format_version"] == "2"
    assert env["envelope.hold_db"].shape == (2, len(cfg.env_pitches), len(cfg.env_velocities),
                                             int(cfg.env_hold_s * cfg.frame_rate))
    # round trip: the loaded model computes what the trained checkpoint computes
    ck = torch.load(run / "checkpoint.pt", weights_only=False)
    from timbred_train.model import TimbreDDSP

    ref = TimbreDDSP(cfg)
    ref.load_state_dict(ck["model"])
    f0, ld, z = torch.full((1, 30), 330.0), torch.linspace(-50, -10, 30)[None], torch.randn(1, cfg.z_dim)
    t_on, t_off = note_times(30, cfg.frame_rate, torch.tensor([20]))
    note = note_inputs(cfg, torch.tensor([64.0]), t_on, t_off)
    with torch.no_grad():
        assert torch.allclose(model.decoder(f0, ld, note, z), ref.decoder(f0, ld, note, z), atol=1e-6)
    assert sorted(p.name for p in presets.iterdir()) == ["flute.toml", "trumpet.toml"]
    text = (presets / "flute.toml").read_text()
    assert 'instrument = "flute"' in text and "latent = [" in text
    assert (fixtures / "small-reference.safetensors").is_file()

    # `timbred-train envelopes` fits the same train-split envelopes into the exported file
    assert cli.main(["envelopes", "--model", str(path), "--data", str(tiny_data)]) == 0
    _, refitted, _ = load_exported(path)
    for k, v in env.items():
        assert np.allclose(refitted[k], v, atol=1e-5), k

    # `envelopes --tails` reads the level past the table on the notes held 10 s: only the tail
    # slopes change, and FluidR3's flute and trumpet, whose samples loop, hold their level
    assert cli.main(["envelopes", "--tails", "--model", str(path), "--data", str(tiny_data)]) == 0
    _, tailed, _ = load_exported(path)
    for k, v in env.items():
        if k != "envelope.hold_slope_db_per_s":
            assert np.array_equal(tailed[k], refitted[k]), k
    assert np.all(tailed["envelope.hold_slope_db_per_s"] <= 0)
    assert np.abs(tailed["envelope.hold_slope_db_per_s"]).max() < 0.5, tailed["envelope.hold_slope_db_per_s"]

    # the envelope of a sustained flute stays within a few dB while held
    fl = ns.instruments.index("flute")
    hold = env["envelope.hold_db"][fl, 3, 1]
    assert np.ptp(hold[20:60]) < 12.0
    # evaluation writes a report with the measured numbers
    from timbred_train.evaluate import evaluate

    summary = evaluate(path, tiny_data, tmp_path / "report")
    assert (tmp_path / "report" / "README.md").is_file()
    assert (tmp_path / "report" / "latent-map.png").stat().st_size > 1000
    assert summary["held_out_notes"] == 4
    # the synthesiser fed the notes' own analysed controls comes far closer to them than the
    # 20-step model does (a broken analysis or synthesis path would not)
    assert summary["mean_spectral_distance_analysis"] < 0.8 * summary["mean_spectral_distance"]


def run_cli(*args, cwd=None):
    p = subprocess.run([sys.executable, "-m", "timbred_train.cli", *args], capture_output=True, text=True, cwd=cwd)
    return p.returncode, p.stdout, p.stderr


def assert_one_line_error(rc, err, *needles):
    assert rc == 2, err
    # progress bars may precede it; the error itself is exactly one line, and the last
    lines = [line for line in err.strip().splitlines() if "error" in line.lower()]
    assert len(lines) == 1, err
    assert err.strip().splitlines()[-1] == lines[0]
    assert "Traceback" not in err
    for n in needles:
        assert n in lines[0], lines[0]


def test_missing_soundfont_is_one_line(tmp_path):
    rc, _, err = run_cli("dataset", "--out", str(tmp_path / "d"), "--soundfont", str(tmp_path / "nope.sf2"))
    assert_one_line_error(rc, err, "nope.sf2", "SoundFont not found")


def test_unreadable_wav_and_empty_folder(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    rc, _, err = run_cli("dataset", "--out", str(tmp_path / "d"), "--wav-folder", str(empty), "--instrument", "x")
    assert_one_line_error(rc, err, "empty", "no audio files")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "C4.wav").write_bytes(b"RIFF garbage that is not a wav file")
    rc, _, err = run_cli("dataset", "--out", str(tmp_path / "d2"), "--wav-folder", str(bad), "--instrument", "x")
    assert_one_line_error(rc, err, "C4.wav", "unreadable audio")


def test_user_wav_folder_pitch_from_name_or_tracking(tmp_path):
    src = tmp_path / "mine"
    src.mkdir()
    sr = 44100
    t = np.arange(int(0.8 * sr)) / sr
    env = np.minimum(1, t / 0.01) * np.exp(-t * 2)
    for name, f in (("A4", 440.0), ("note_62", 293.66), ("untitled", 196.0)):
        x = 0.3 * env * (np.sin(2 * np.pi * f * t) + 0.3 * np.sin(4 * np.pi * f * t))
        sf.write(src / f"{name}.wav", np.stack([x, x], 1), sr)
    out = tmp_path / "out"
    assert cli.main(["dataset", "--out", str(out), "--wav-folder", str(src), "--instrument", "mine"]) == 0
    m = json.loads((out / "manifest.json").read_text())
    pitches = sorted(n["pitch"] for n in m["notes"])
    assert pitches == [55, 62, 69]


def test_checkpoint_from_another_config_and_bad_model(tmp_path):
    from timbred_train.model import TimbreDDSP
    from timbred_train.train import load_checkpoint

    cfg = ModelConfig(instruments=["a"], gru_units=32)
    m = TimbreDDSP(cfg)
    torch.save({"model": m.state_dict(), "config": cfg.__dict__ | {}, "step": 0}, tmp_path / "ck.pt")
    other = ModelConfig(instruments=["a"])
    with pytest.raises(Exception) as e:
        load_checkpoint(tmp_path / "ck.pt", other)
    assert "another config" in str(e.value) and "gru_units" in str(e.value)

    # a model file whose tensor has the wrong shape
    from safetensors.numpy import save_file

    from timbred_train.export import model_tensors

    small = ModelConfig(instruments=["a", "b"], mlp_units=8, gru_units=8, enc_units=8, n_harmonics=8, n_noise_bands=5)
    tensors = model_tensors(TimbreDDSP(small))
    tensors["decoder.gru.weight_hh"] = np.zeros((24, 7), np.float32)
    meta = {"format": "timbred-ddsp", "format_version": "2", "config": small.to_json()}
    save_file(tensors, str(tmp_path / "bad.safetensors"), metadata=meta)
    rc, _, err = run_cli("evaluate", "--model", str(tmp_path / "bad.safetensors"), "--data", str(tmp_path))
    assert_one_line_error(rc, err, "bad.safetensors", "decoder.gru.weight_hh", "expected shape [24, 8]", "found [24, 7]")


def test_nsynth_folder_import(tmp_path):
    src = tmp_path / "nsynth"
    (src / "audio").mkdir(parents=True)
    sr = 16000
    t = np.arange(sr) / sr
    meta = {}
    for i, pitch in enumerate((48, 55, 60, 67, 72, 79, 84)):
        key = f"reed_acoustic_000-{pitch:03d}-100"
        f = 440 * 2 ** ((pitch - 69) / 12)
        sf.write(src / "audio" / f"{key}.wav", 0.3 * np.exp(-t) * np.sin(2 * np.pi * f * t), sr)
        meta[key] = {"pitch": pitch, "velocity": 100, "instrument": 7, "instrument_str": "reed_acoustic_000"}
    (src / "examples.json").write_text(json.dumps(meta))
    out = tmp_path / "out"
    assert cli.main(["dataset", "--out", str(out), "--nsynth", str(src)]) == 0
    m = json.loads((out / "manifest.json").read_text())
    assert len(m["notes"]) == 7 and m["sample_rate"] == 48000
    assert {n["split"] for n in m["notes"]} == {"train", "test"}
    audio, sr_out = sf.read(out / "audio" / m["notes"][0]["file"])
    assert sr_out == 48000 and len(audio) == 48000


@needs_sf
def test_the_envelopes_never_hear_the_held_out_pitches(tiny_data):
    cfg = ModelConfig()
    ns = load_or_build(tiny_data, cfg, seconds=1.0)
    cfg.instruments = list(ns.instruments)
    train_only = training_notes(ns)
    assert set(train_only.split) == {"train"} and 0 < len(train_only.pitch) < len(ns.pitch)
    # the held-out notes 30 dB louder: the envelopes fitted on the train split do not move, the
    # ones fitted on every note do
    louder = NoteSet(**{k: getattr(ns, k).copy() for k in ns.__dataclass_fields__
                        if k != "instruments"}, instruments=list(ns.instruments))
    louder.loudness_db[louder.split == "test"] += 30
    a, b = fit_envelopes(train_only, cfg), fit_envelopes(training_notes(louder), cfg)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    every = fit_envelopes(louder, cfg)
    assert np.abs(every["envelope.hold_db"] - fit_envelopes(ns, cfg)["envelope.hold_db"]).max() > 1.0
