"""The engine check's octave ladder judges a note by the pitch it is heard at."""
import numpy as np

from timbred_train.engine_check import LADDER, heard_cents

RATE = 48000


def tone(f0_hz: float, partials: list[int], seconds: float = 1.2) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return sum(np.sin(2 * np.pi * k * f0_hz * t) / k for k in partials).astype(np.float32)


def test_the_ladder_is_the_issue_s():
    assert LADDER == (48, 53, 58, 63, 68, 73, 78, 83)


def test_a_full_harmonic_note_is_heard_at_its_key():
    f0 = 440 * 2 ** ((57 - 69) / 12)  # A3
    assert abs(heard_cents(tone(f0, list(range(1, 13))), 57, RATE)) < 10


def test_a_note_with_only_even_partials_is_heard_an_octave_up():
    # partials 2, 4, 6, ... of A3 are the harmonic series of A4: the check counts it as an octave error
    f0 = 440 * 2 ** ((57 - 69) / 12)
    assert abs(heard_cents(tone(f0, [2, 4, 6, 8, 10, 12]), 57, RATE) - 1200) < 10


def test_silence_has_no_pitch():
    assert heard_cents(np.zeros(RATE, np.float32), 60, RATE) is None
