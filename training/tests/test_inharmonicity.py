"""Inharmonicity: the estimator on synthetic stretched tones, the stretched synthesiser, the lookup."""
import math

import numpy as np
import pytest
import torch

from timbred_train import dsp
from timbred_train.errors import UserError
from timbred_train.inharmonicity import (B_MIN, add_to_model, build_table, build_tuning, choose_blend_scale, estimate,
                                         partial_one_hz, predict, stretch_cents, stretch_ratio, training_entries,
                                         tuning_semitones)


def stiff_tone(f0: float, b: float, sr: int = 32000, seconds: float = 1.5, partials: int = 40, noise: float = 1e-4,
               seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    x = np.zeros_like(t)
    for k in range(1, partials + 1):
        f = k * f0 * math.sqrt(1 + b * k * k)
        if f < 0.45 * sr:
            x += (0.5 / k) * np.exp(-t * (0.5 + 0.1 * k)) * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
    return (x + noise * rng.standard_normal(len(t))).astype(np.float32)


def test_estimator_recovers_a_known_b_within_a_few_percent():
    for f0, b in ((110.0, 1e-4), (261.63, 3.2e-4), (523.25, 9e-4), (98.0, 4e-5)):
        e = estimate(stiff_tone(f0, b), 32000, f0 * 1.003)  # nominal pitch 5 cents off
        assert e["reliable"], (f0, b, e)
        assert abs(e["b"] / b - 1) < 0.03, (f0, b, e["b"])
        assert abs(e["f0"] / f0 - 1) < 1e-4


def test_estimator_reads_a_harmonic_tone_as_harmonic():
    for f0 in (110.0, 440.0):
        e = estimate(stiff_tone(f0, 0.0, seed=3), 32000, f0)
        assert e["b"] == 0.0, e
    # at 48 kHz too
    e = estimate(stiff_tone(220.0, 2e-4, sr=48000), 48000, 220.0)
    assert abs(e["b"] / 2e-4 - 1) < 0.03


def measured_freq(x: np.ndarray, sr: float, near: float) -> float:
    n = len(x) // 2
    t = np.arange(n)
    w = np.hanning(n)

    def ph(seg, off):
        return np.angle(np.sum(w * seg * np.exp(-2j * np.pi * near * (t + off) / sr)))

    d = np.angle(np.exp(1j * (ph(x[n:2 * n], n) - ph(x[:n], 0))))
    return near + d * sr / (2 * np.pi * n)


def test_stretched_partial_is_at_k_f0_sqrt_1_plus_b_k2_within_0_1_cent():
    sr, f0, b, k = 48000, 220.0, 3e-4, 15
    n = 100
    amps = torch.zeros(1, n, 16)
    amps[..., k - 1] = 0.5
    x = dsp.harmonic_synth(torch.full((1, n), f0), amps, 100, sr, sr, inharmonicity=torch.full((1, n), b)).numpy()[0]
    want = f0 * stretch_ratio(k, b)
    cents = 1200 * math.log2(measured_freq(x, sr, want) / want)
    assert abs(cents) < 0.1, cents


def test_zero_inharmonicity_is_the_harmonic_synthesiser_exactly():
    f0 = torch.linspace(100, 300, 20)[None]
    amps = torch.rand(1, 20, 12, generator=torch.Generator().manual_seed(1))
    a = dsp.harmonic_synth(f0, amps, 100, 32000, 6400)
    b = dsp.harmonic_synth(f0, amps, 100, 32000, 6400, inharmonicity=torch.zeros(1, 20))
    assert torch.equal(a, b)
    # and the stretched path with r_k = k (B = 0 after a stretched frame) agrees closely
    bb = torch.zeros(1, 20)
    bb[0, 19] = 1e-4  # only the last frame is stretched: everything before it is harmonic
    c = dsp.harmonic_synth(f0, amps, 100, 32000, 6400, inharmonicity=bb)
    assert torch.max(torch.abs(c[:, :6080] - a[:, :6080])) < 1e-5


def test_mask_uses_the_stretched_frequencies():
    f0 = torch.tensor([[1000.0]])
    m = dsp.harmonic_mask(f0, 16, 16000.0, torch.tensor([[1e-3]]))
    # 15 * sqrt(1 + 0.225) * 1000 = 16.6 kHz: muted; partial 14 at 15.2 kHz is not
    ratios = stretch_ratio(np.arange(1, 17), 1e-3)
    assert m[0, 0].tolist() == [1.0 if r * 1000 < 16000 else 0.0 for r in ratios]
    assert m[0, 0, 13] == 1.0 and m[0, 0, 14] == 0.0


def test_table_blend_and_scale():
    measured = []
    for p in range(21, 109, 2):
        for v in (40, 80):
            measured.append({"instrument": "piano", "pitch": p, "velocity": v, "b": 1e-4 * 2 ** ((p - 48) / 12),
                             "reliable": p < 100})
            measured.append({"instrument": "flute", "pitch": p, "velocity": v, "b": 0.0, "reliable": True})
            # a few stray fits do not make an instrument stretched
            measured.append({"instrument": "violin", "pitch": p, "velocity": v, "b": 5e-5 if p < 30 else 0.0,
                             "reliable": True})
    table = build_table(measured, ["piano", "flute", "violin"])
    assert np.all(table[1] == 0) and np.all(table[2] == 0)
    assert abs(table[0, 49] / (1e-4 * 2 ** (1 / 12)) - 1) < 1e-4
    assert abs(table[0, 48] / 1e-4 - 1) < 1e-4  # an even pitch: interpolated in log10 B
    assert table[0, 127] == table[0, 99]  # held past the last reliable pitch
    means = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.2]])
    scale = choose_blend_scale(table, means, largest=1.0)
    assert scale < 1.0
    assert abs(predict(table, means, scale, means[0], 60) / table[0, 60] - 1) <= 0.01
    assert predict(table, means, scale, means[1], 60) == 0.0
    # a morph moves B continuously and monotonically from the piano's to 0
    path = [predict(table, means, scale, means[0] + a * (means[1] - means[0]), 60) for a in np.linspace(0, 1, 101)]
    assert all(x >= y for x, y in zip(path, path[1:]))
    assert max(abs(x - y) for x, y in zip(path, path[1:])) < 0.2 * path[0]
    assert min(v for v in path if v > 0) >= B_MIN


def test_add_to_model_keeps_every_other_tensor(tmp_path):
    from safetensors import safe_open
    from safetensors.numpy import save_file

    src = tmp_path / "m.safetensors"
    tensors = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.ones(4, np.float32)}
    save_file(tensors, str(src), metadata={"format": "timbred-ddsp", "format_version": "2"})
    add_to_model(src, {"inharmonicity.b": np.zeros((2, 128), np.float32)}, {"x": 1})
    add_to_model(src, {"inharmonicity.b": np.ones((2, 128), np.float32)}, {"x": 2})  # replaces, does not add
    with safe_open(str(src), framework="np") as f:
        assert sorted(f.keys()) == ["a", "b", "inharmonicity.b"]
        assert np.array_equal(f.get_tensor("a"), tensors["a"]) and np.array_equal(f.get_tensor("b"), tensors["b"])
        assert np.all(f.get_tensor("inharmonicity.b") == 1)
        meta = f.metadata()
        assert meta["format_version"] == "2" and '"x": 2' in meta["inharmonicity"]


def test_the_table_never_hears_a_held_out_pitch():
    measured, splits = [], []
    for p in range(21, 109, 2):
        measured.append({"instrument": "piano", "pitch": p, "velocity": 80, "b": 1e-4 * 2 ** ((p - 48) / 12),
                         "reliable": True})
        splits.append("test" if p == 61 else "train")
    measured[splits.index("test")]["b"] = 1e-2  # a wild held-out note
    table = build_table(training_entries(measured, splits), ["piano"])
    # pitch 61 takes its neighbours' B (interpolated in log10 B), not its own
    assert abs(table[0, 61] / (1e-4 * 2 ** (13 / 12)) - 1) < 1e-3
    assert build_table(measured, ["piano"])[0, 61] > 1e-3  # every note: the wild one would count
    with pytest.raises(UserError, match="measurements for"):
        training_entries(measured, splits[:-1])


def test_the_first_partials_peak_is_read_within_half_a_cent():
    sr = 48000
    for f in (2217.46 * 2 ** (15.5 / 1200), 4186.0 * 2 ** (27 / 1200), 261.6):
        x = stiff_tone(f, 0.0, sr=sr, seconds=1.6, partials=5)
        assert abs(1200 * math.log2(partial_one_hz(x, sr, f * 2 ** (-20 / 1200)) / f)) < 0.5


def test_the_stretch_tuning_puts_the_first_partial_where_the_recordings_is(tmp_path):
    import json

    import soundfile as sf

    # a piano whose fit is good up to MIDI 96 (its first partial 1 cent per key above 84 sharp),
    # a treble note (MIDI 104) with too few partials for a fit: tuned by its peak, +27 cents
    measured = []
    for p in range(21, 101, 2):
        b = 1e-4 * 2 ** ((p - 48) / 12)
        sharp = max(0, p - 84)
        f0 = 440 * 2 ** ((p - 69) / 12) * 2 ** (sharp / 1200) / math.sqrt(1 + b)
        measured.append({"instrument": "piano", "pitch": p, "velocity": 80, "b": b, "f0": f0, "reliable": True,
                         "n_partials": 20, "file": ""})
        measured.append({"instrument": "flute", "pitch": p, "velocity": 80, "b": 0.0, "f0": f0 * 1.01,
                         "reliable": True, "n_partials": 20, "file": ""})
    treble = 440 * 2 ** ((104 - 69) / 12) * 2 ** (27 / 1200)
    (tmp_path / "audio").mkdir()
    sf.write(tmp_path / "audio" / "top.wav", stiff_tone(treble, 0.0, sr=48000, seconds=1.6, partials=3), 48000)
    (tmp_path / "manifest.json").write_text(json.dumps({"sample_rate": 48000, "notes": [
        {"file": "top.wav", "instrument": "piano", "program": 0, "pitch": 104, "velocity": 80, "split": "train",
         "hold_s": 1.6, "source": "test"}]}))
    measured.append({"instrument": "piano", "pitch": 104, "velocity": 80, "b": 0.0, "f0": treble * 1.02,
                     "reliable": False, "n_partials": 3, "file": "top.wav"})
    names = ["piano", "flute"]
    table = build_table(measured, names)
    tuning = build_tuning(tmp_path, measured, names, ["piano"], table)
    assert np.all(tuning[1] == 0), "an instrument not asked for stays equal"
    first = tuning[0] + stretch_cents(table[0])  # where the engine's first partial lies
    assert abs(first[60]) < 0.05 and abs(first[90] - 6) < 0.05 and abs(first[21]) < 0.05
    assert abs(first[104] - 27) < 0.5  # the treble note by its peak, less the table's stretch there
    assert first[127] == pytest.approx(first[104])  # held past the last key
    assert abs(first[102] - (15 + (27 - 15) * 3 / 5)) < 0.5  # about linear between 99 and 104
    means = np.array([[0.0, 0.0], [1.0, 0.0]])
    scale = choose_blend_scale(table, means, largest=1.0)
    assert tuning_semitones(tuning, means, scale, means[0], 104) == pytest.approx(tuning[0, 104] / 100, rel=1e-3)
    assert abs(tuning_semitones(tuning, means, scale, means[1], 104)) < 1e-3
    with pytest.raises(UserError, match="oboe"):
        build_tuning(tmp_path, measured, names, ["oboe"], table)


def test_the_shipped_piano_is_stretch_tuned_as_fluidr3s(tmp_path, shipped_engine):
    """Through the engine, the shipped piano's fundamental at middle C, in the upper treble and at
    the top key lies within 3 cents of FluidR3's (at equal temperament the top key would sound 27
    cents flat of it)."""
    from timbred_train.dataset import DEFAULT_SOUNDFONT, FluidSynth
    from timbred_train.playing import RATE, cents, render_timbred

    timbred, model = shipped_engine
    keys = [60, 96, 105]
    ours = render_timbred(timbred, model, model.parents[1] / "presets", "piano", [(k, 100) for k in keys], tmp_path)
    fs = FluidSynth(DEFAULT_SOUNDFONT, RATE)
    for key, audio in zip(keys, ours):
        real = cents(fs.render_note(0, key, 100, 3.0, 1.0), key)
        got = cents(audio, key)
        print(f"piano MIDI {key}: FluidR3 {real:+.1f} cents, timbred {got:+.1f}")
        assert abs(got - real) < 3.0, f"MIDI {key}: {got:+.1f} cents against FluidR3's {real:+.1f}"
        if key == 105:
            assert got > 15.0


def bar_tone(f0: float, ratios=(1.0, 4.0, 10.333), levels_db=(0.0, -41.0, -21.0), sr: int = 48000,
             seconds: float = 1.5, seed: int = 0) -> np.ndarray:
    """A struck bar: a few decaying modes at `ratios` × f0, nothing between them but a faint noise
    (FluidR3's lowest vibraphone bars: 1, 4 and 10.33 × f0, the third mode 21 dB under the first)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    x = sum(0.5 * 10 ** (db / 20) * np.exp(-1.5 * t) * np.sin(2 * np.pi * r * f0 * t + rng.uniform(0, 2 * np.pi))
            for r, db in zip(ratios, levels_db))
    return (x + 1e-7 * rng.standard_normal(len(t))).astype(np.float32)


def test_a_bars_modes_give_the_stretch_that_puts_its_third_mode_where_it_rings():
    f0 = 440 * 2 ** ((55 - 69) / 12)
    e = estimate(bar_tone(f0), 48000, f0, modes=True)
    assert e["reliable"] and e["partials"] == [1, 4, 10], e
    # B ≈ 7.3e-4: the 10th partial at 10.33-10.36 × f0 (a harmonic one would sit 56 cents flat of the mode)
    assert 10.30 < float(stretch_ratio(10, e["b"])) < 10.40, e["b"]
    assert float(stretch_ratio(4, e["b"])) < 4.03  # the second mode within 13 cents
    # read as a string's partials, three peaks are no fit: harmonic
    assert estimate(bar_tone(f0), 48000, f0)["b"] == 0.0
    # a bar whose third mode rings at 10 × f0 reads as harmonic by its modes too
    assert estimate(bar_tone(f0, ratios=(1.0, 4.0, 10.0)), 48000, f0, modes=True)["b"] < B_MIN
    # stray peaks far under the modes are not modes
    quiet = bar_tone(f0, ratios=(1.0, 4.0, 10.0, 7.3), levels_db=(0.0, -41.0, -21.0, -70.0))
    assert estimate(quiet, 48000, f0, modes=True)["partials"] == [1, 4, 10]


def test_a_mallet_read_by_its_modes_is_stretched_only_where_its_bars_ring_off_harmonic():
    measured = [{"instrument": "vibraphone", "pitch": p, "velocity": v, "b": 7.3e-4 if p <= 57 else 0.0,
                 "reliable": True} for p in range(53, 90, 2) for v in (40, 80)]
    # three of nineteen pitches: too few for a string's rule, so without `modes` the bar stays harmonic
    assert np.all(build_table(measured, ["vibraphone"]) == 0)
    table = build_table(measured, ["vibraphone"], modes=["vibraphone"])[0]
    assert table[53] == table[57] == pytest.approx(7.3e-4)
    assert table[59] == 0.0 and table[89] == 0.0
    assert table[58] < 1e-5  # between a stretched bar and a harmonic one: log10-interpolated, nearly harmonic


def test_the_shipped_vibraphones_lowest_bars_ring_their_third_mode_where_fluidr3s_do(tmp_path, shipped_engine):
    """Through the engine, the vibraphone's MIDI 53 and 56 ring their third mode (21 dB under the
    first) within 10 cents of FluidR3's, 10.33 × f0; a harmonic 10th partial would sit 56 cents flat."""
    from timbred_train.dataset import DEFAULT_SOUNDFONT, FluidSynth
    from timbred_train.playing import RATE, render_timbred

    def peak_ratio(audio: np.ndarray, f0: float) -> float:
        x = np.asarray(audio[int(0.05 * RATE): int(1.5 * RATE)], np.float64)
        n = 1 << 19
        spec = np.abs(np.fft.rfft(x * np.hanning(len(x)), n))
        f = np.fft.rfftfreq(n, 1.0 / RATE)
        sel = (f > 9.5 * f0) & (f < 11.0 * f0)
        return float(f[sel][np.argmax(spec[sel])] / f0)

    timbred, model = shipped_engine
    keys = [53, 56]
    ours = render_timbred(timbred, model, model.parents[1] / "presets", "vibraphone", [(k, 100) for k in keys], tmp_path)
    fs = FluidSynth(DEFAULT_SOUNDFONT, RATE)
    for key, audio in zip(keys, ours):
        f0 = 440.0 * 2 ** ((key - 69) / 12)
        real, got = peak_ratio(fs.render_note(11, key, 100, 2.0, 0.5), f0), peak_ratio(audio, f0)
        print(f"vibraphone MIDI {key}: third mode at {real:.3f} × f0 in FluidR3, {got:.3f} in timbred")
        assert abs(1200 * math.log2(got / real)) < 10.0, f"MIDI {key}: {got:.3f} × f0 against FluidR3's {real:.3f}"
