"""The cheap parts of `timbred-train encode-check` (no Swift binary needed)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from timbred_train import cli
from timbred_train.encode_check import (Sound, encode_check, log_mel_distance, markdown_tables, multiscale_distance,
                                        read_preset, write_report)
from timbred_train.errors import UserError

SR = 32000


def tone(f0: float, seconds: float = 2.0, harmonics: int = 1, gain: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    x = gain * sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, harmonics + 1))
    return (x * np.minimum(1.0, t / 0.02)).astype(np.float32)  # a 20 ms attack, as a played note has


def test_log_mel_distance_zero_for_identical_and_large_for_octave():
    a = tone(440.0)
    assert log_mel_distance(a, a.copy(), SR) == pytest.approx(0.0, abs=1e-9)
    octave = log_mel_distance(a, tone(880.0), SR)
    assert octave > 10.0  # dB: the energy sits in other mel bands


def test_log_mel_distance_ignores_gain_and_small_offsets_but_sees_timbre():
    a = tone(220.0, harmonics=8)
    assert log_mel_distance(a, 0.1 * a, SR) == pytest.approx(0.0, abs=1e-6)
    shifted = np.concatenate([np.zeros(160, np.float32), a])[: len(a)]  # 5 ms late
    brighter = tone(220.0, harmonics=20)
    assert log_mel_distance(a, shifted, SR) < 0.5
    assert log_mel_distance(a, brighter, SR) > 2.0


def test_multiscale_distance_zero_for_identical_and_level_matched():
    a = tone(330.0, harmonics=5)
    assert multiscale_distance(a, a, SR) == pytest.approx(0.0, abs=1e-5)
    assert multiscale_distance(a, 0.25 * a, SR) == pytest.approx(0.0, abs=1e-3)
    assert multiscale_distance(a, tone(660.0, harmonics=5), SR) > 1.0


def test_read_preset(tmp_path: Path):
    p = tmp_path / "x.toml"
    p.write_text('# comment\nname = "x"\nmodel = "default"\nlatent = [0.1, -0.2]\n\n[encoded]\nfiles = ["a.wav"]\n'
                 'pitch_low = 60\npitch_high = 67\nnearest = ["flute", "oboe", "clarinet"]\n'
                 'nearest_distance = [0.5, 1.25, 2.0]\nfar_outside = false\n')
    r = read_preset(p)
    assert r["nearest"][0] == "flute" and r["nearest_distance"][1] == 1.25 and r["pitch_high"] == 67
    assert not r["far_outside"]
    (tmp_path / "bad.toml").write_text('name = "x"\n')
    with pytest.raises(UserError):
        read_preset(tmp_path / "bad.toml")


def fake_summary() -> dict:
    held = {"instruments": [
        {"instrument": "flute", "notes": 4, "right": 3, "fraction": 0.75, "combined_nearest": "flute",
         "combined_distance": 0.4, "combined_second": "oboe"},
        {"instrument": "oboe", "notes": 2, "right": 0, "fraction": 0.0, "combined_nearest": "clarinet",
         "combined_distance": 1.1, "combined_second": "oboe"}],
        "total_notes": 6, "overall_fraction": 0.5, "combined_right": 1}
    unseen = {"sounds": [
        {"sound": "FluidR3 bassoon", "pitches": [43, 50, 57], "nearest": "cello", "nearest_distance": 2.5,
         "far_outside": True, "encoded_log_mel_db": 5.0, "nearest_log_mel_db": 7.5, "encoded_multiscale": 3.0,
         "nearest_multiscale": 2.0, "encoded_better": True, "encoded_better_multiscale": False}],
        "encoded_better": 1, "encoded_better_multiscale": 0, "count": 1}
    return {"model": "m.safetensors", "data": "data/default", "timbred": "timbred", "command": "timbred-train encode-check",
            "machine": "test", "runtime_s": 1.0, "encode_calls": 3, "encode_s": 0.5, "render_calls": 2, "render_s": 0.3,
            "held_out": held, "unseen": unseen}


def test_tables_and_report(tmp_path: Path):
    s = fake_summary()
    md = markdown_tables(s)
    assert "| flute | 4 | 3 | 0.75 | flute | 0.40 | oboe |" in md
    assert "| oboe | 2 | 0 | 0.00 | clarinet ✗ | 1.10 | oboe |" in md
    assert "**0.500**" in md and "**1/2 own**" in md
    assert "| FluidR3 bassoon | 43, 50, 57 | cello (2.50, far outside) | 5.00 dB | 7.50 dB | yes | 3.00 | 2.00 | no |" in md
    assert "**1 of 1**" in md
    write_report(s, tmp_path / "rep")
    assert json.loads((tmp_path / "rep" / "summary.json").read_text())["held_out"]["total_notes"] == 6
    readme = (tmp_path / "rep" / "README.md").read_text()
    assert readme.startswith("# `timbred encode` check") and "timbred-train encode-check" in readme
    # every table row has as many cells as its header
    for block in readme.split("\n\n"):
        rows = [r for r in block.splitlines() if r.startswith("|")]
        if rows:
            assert len({r.count("|") for r in rows}) == 1


def test_missing_binary_is_one_line(tmp_path: Path, capsys):
    rc = cli.main(["encode-check", "--timbred", str(tmp_path / "nope"), "--data", str(tmp_path),
                   "--work", str(tmp_path / "w"), "--report", str(tmp_path / "r"), "--no-held-out"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "timbred binary not found" in err


def test_missing_soundfont_is_a_user_error(tmp_path: Path):
    binary = tmp_path / "timbred"
    binary.write_text("#!/bin/sh\nexit 1\n")
    binary.chmod(0o755)
    model = tmp_path / "m.safetensors"
    model.write_bytes(b"")
    sound = Sound("x", "x", tmp_path / "missing.sf2", 0, (60,))
    with pytest.raises(UserError, match="SoundFont not found"):
        encode_check(binary, model, tmp_path / "presets", tmp_path, tmp_path / "w", tmp_path / "r",
                     sounds=(sound,), held_out=False)
