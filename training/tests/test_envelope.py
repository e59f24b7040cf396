"""The tail slope: the level past the envelope table, read on notes held long."""
import numpy as np

from timbred_train.cache import NoteSet
from timbred_train.config import ModelConfig
from timbred_train.envelope import TAIL_FROM_S, note_tail_slope_db_per_s, tail_table

RATE = 100


def test_a_beating_sustain_reads_flat_where_its_last_half_second_reads_a_fade():
    """A held note beating ±3 dB at 0.4 Hz: the fit over 2.5-10 s finds no fade, though its last
    half second of the first 3 s falls by 2.4 dB/s (what the table's own slope read)."""
    t = np.arange(int(10 * RATE)) / RATE
    ld = -20 + 3 * np.cos(2 * np.pi * 0.4 * t)
    assert abs(note_tail_slope_db_per_s(ld, RATE)) < 0.3
    last = (t >= 2.5) & (t < 3.0)
    assert np.polyfit(t[last], ld[last], 1)[0] < -2.0


def test_a_decay_is_read_above_the_floor_and_a_short_tail_reads_nothing():
    t = np.arange(int(10 * RATE)) / RATE
    decay = np.maximum(-8.0 * t, -120.0)  # 60 dB under its loudest at 7.5 s, then the floor
    assert abs(note_tail_slope_db_per_s(decay, RATE) + 8.0) < 0.05
    fast = np.maximum(-40.0 * t, -120.0)  # under the range from 1.5 s on: no tail to read
    assert note_tail_slope_db_per_s(fast, RATE) is None
    assert TAIL_FROM_S == 2.5


def _notes(instrument, pitch, velocity):
    n = len(pitch)
    empty = np.zeros((n, 1), np.float32)
    return NoteSet(audio=empty, f0_hz=empty, f0_conf=empty, loudness_db=empty, harmonics=empty, noise=empty,
                   noise_weight=empty, encoder=empty, instrument=np.asarray(instrument), pitch=np.asarray(pitch),
                   velocity=np.asarray(velocity), split=np.array(["train"] * n), hold_frames=np.full(n, 300),
                   instruments=["horn", "piano", "organ"])


def test_the_table_averages_each_anchor_s_notes_and_keeps_the_old_slope_where_none_was_read():
    cfg = ModelConfig()
    pitches = [60, 62, 60, 62, 60]
    notes = _notes([0, 0, 1, 1, 2], pitches, [80] * 5)
    fallback = np.full((3, len(cfg.env_pitches), len(cfg.env_velocities)), -1.5, np.float32)
    # the horn holds (a slight rise reads 0: a tail never grows), the piano decays, the organ's
    # note had no tail to read
    table = tail_table([0.3, 0.1, -6.0, -4.0, None], notes, cfg, fallback)
    p60 = list(cfg.env_pitches).index(60)
    assert np.all(table[0] == 0.0)
    assert -6.0 < table[1, p60, 2] < -5.0  # 60 weighs more than 62 at the 60 anchor
    assert np.all(table[2] == -1.5)


def test_tails_need_the_soundfont_the_notes_came_from(tmp_path):
    """A note set imported from recordings cannot be played longer: one clear line naming the note."""
    import json

    import pytest

    from timbred_train.envelope import measure_tails
    from timbred_train.errors import UserError

    (tmp_path / "manifest.json").write_text(json.dumps({"sample_rate": 48000, "notes": [
        {"file": "c4.wav", "instrument": "horn", "program": 60, "pitch": 60, "velocity": 100, "split": "train",
         "hold_s": 3.0, "source": "wav:my-horn/c4.wav"}]}))
    notes = _notes([0], [60], [100])
    with pytest.raises(UserError, match="c4.wav is not from a SoundFont"):
        measure_tails(notes, tmp_path, ModelConfig(), verbose=False)
    (tmp_path / "manifest.json").write_text(json.dumps({"sample_rate": 48000, "notes": [
        {"file": "c4.wav", "instrument": "horn", "program": 60, "pitch": 60, "velocity": 100, "split": "train",
         "hold_s": 3.0, "source": "soundfont:NoSuchFont.sf2"}]}))
    with pytest.raises(UserError, match="NoSuchFont.sf2: the note set's SoundFont is not installed"):
        measure_tails(notes, tmp_path, ModelConfig(), verbose=False)


def test_an_anchor_s_tail_comes_from_its_nearest_notes():
    """A SoundFont's tails change from one sample zone to the next: the C4 anchor takes its
    neighbours' -5 dB/s, not the -11 dB/s of the zone from F#4 up (the envelopes' 6-semitone
    Gaussian read -7)."""
    from timbred_train.envelope import TAIL_PITCH_SIGMA

    cfg = ModelConfig()
    pitches = [59, 61, 66, 67, 69, 71]
    notes = _notes([1] * 6, pitches, [80] * 6)
    fallback = np.zeros((3, len(cfg.env_pitches), len(cfg.env_velocities)), np.float32)
    table = tail_table([-5.0, -5.0, -11.0, -11.0, -11.0, -11.0], notes, cfg, fallback)
    p60 = list(cfg.env_pitches).index(60)
    assert TAIL_PITCH_SIGMA <= 2.0
    assert -5.3 < table[1, p60, 2] <= -5.0, table[1, p60, 2]


def test_the_loop_sets_each_input_slope_so_the_engine_plays_the_read_one(monkeypatch):
    """`close_tail_loop` with an engine whose decoder plays an input slope 0.8 × as steep on one
    instrument and 1.25 × on another: the inputs become read / 0.8 and read / 1.25; a holding
    instrument's slopes stay; a decoder 3 × as steep is scaled by at most 1/2 a round (the clamp).
    (The engine itself plays the shipped harpsichord in the test below.)"""
    from pathlib import Path

    from timbred_train import envelope as E

    cfg = ModelConfig()
    shape = (4, len(cfg.env_pitches), len(cfg.env_velocities))
    read = np.zeros(shape)
    read[0], read[1], read[3] = -4.0, -8.0, -6.0
    gain = np.array([0.8, 1.25, 1.0, 3.0])
    seen = []

    def fake_played(timbred, model_path, table, cfg, work, instruments):
        seen.append(sorted(instruments))
        out = np.full(table.shape, np.nan)
        for i in instruments:
            out[i] = table[i] * gain[i]
        return out

    monkeypatch.setattr(E, "played_tail_slopes", fake_played)
    table = E.close_tail_loop(Path("timbred"), Path("model"), read.astype(np.float32), cfg, Path("."), verbose=False)
    assert seen[0] == [0, 1, 3]  # the holding instrument is not played
    assert np.allclose(table[0], -4.0 / 0.8, rtol=1e-5) and np.allclose(table[1], -8.0 / 1.25, rtol=1e-5)
    assert np.all(table[2] == 0.0)
    # 3 × as steep: the first round scales by 1/2 (the clamp, not 1/3): -3, played -9; the second
    # by 6/9: -2 (played -6)
    assert E.TAIL_LOOP_SCALE == (0.5, 2.0) and E.TAIL_LOOPS == 2
    assert np.allclose(table[3], -2.0, rtol=1e-5)


def test_the_shipped_harpsichord_s_c4_decays_past_the_table_as_fluidr3_s(tmp_path, shipped_engine):
    """Through the engine (the release binary), the shipped model's harpsichord at the C4 anchor
    (velocity 80), held 10 s, decays from 3.5 s on within 1.5 dB/s of FluidR3's C4: -4.8 dB/s
    (-5.6: the anchor's input plays the -5.6 its neighbours B3-D#4 read). Before the tails were
    read through the engine it fell at -6.7 (its input, -6.9, averaged the keys up to B4)."""
    from safetensors import safe_open

    from timbred_train import dsp
    from timbred_train.dataset import DEFAULT_SOUNDFONT, FluidSynth
    from timbred_train.envelope import played_tail_slopes

    timbred, model = shipped_engine
    import json

    with safe_open(str(model), framework="np") as f:
        cfg = ModelConfig.from_dict(json.loads(f.metadata()["config"]))
        table = f.get_tensor("envelope.hold_slope_db_per_s")
    k = list(cfg.instruments).index("harpsichord")
    p60, v80 = list(cfg.env_pitches).index(60), list(cfg.env_velocities).index(80)
    played = played_tail_slopes(timbred, model, table, cfg, tmp_path, [k])[k, p60, v80]
    audio = FluidSynth(DEFAULT_SOUNDFONT, 48000).render_note(6, 60, 80, 10.0, 0.05)
    real = note_tail_slope_db_per_s(dsp.loudness_db(audio[: 480000], 48000, 100), 100)
    print(f"harpsichord C4 past the table: engine {played:.2f} dB/s, FluidR3 {real:.2f} dB/s")
    assert abs(played - real) < 1.5
