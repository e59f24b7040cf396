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
