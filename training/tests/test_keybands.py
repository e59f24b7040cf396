"""The per-key band balance read through the engine: which bands hold a partial, and a note's
correction (damped, clamped, only where a partial sounds, the note's power kept)."""
import numpy as np
import pytest

from timbred_train import keybands as K
from timbred_train.playing import BAND_CENTRES_HZ, BAND_NOMINAL_HZ


def test_a_band_holds_a_partial_only_where_one_of_the_notes_partials_falls():
    holds = K.band_holds_partial(440.0, BAND_CENTRES_HZ, 100, 24000.0)
    got = {hz for hz, h in zip(BAND_NOMINAL_HZ, holds) if h}
    # A4: 440 (400 Hz band, and 500's, whose edge at 445 Hz lies within a quarter tone), 880 (800),
    # 1320 (1250), ...; nothing under the fundamental, nothing between it and the 2nd partial
    assert {400, 500, 800, 1250} <= got
    assert not {100, 125, 160, 200, 250, 315, 630} & got
    # from the 2 kHz band up every band holds one (partials 440 Hz apart, bands wider than that)
    assert all(h for hz, h in zip(BAND_NOMINAL_HZ, holds) if hz >= 2000)
    # ten partials only: nothing above 4.4 kHz (the 5 kHz band reaches down to it with the slack)
    few = K.band_holds_partial(440.0, BAND_CENTRES_HZ, 10, 24000.0)
    assert not any(h for hz, h in zip(BAND_NOMINAL_HZ, few) if hz >= 6300)


def test_a_correction_moves_the_bands_with_a_partial_keeps_the_power_and_leaves_the_rest_to_the_shift():
    n = len(BAND_CENTRES_HZ)
    ours = np.full(n, -30.0)
    real = ours.copy()
    holds = np.zeros(n, bool)
    holds[[5, 10, 15]] = True
    real[5] += 6.0     # a partial 6 dB short
    real[10] -= 30.0   # one 30 dB too loud: clamped to 12 before damping
    real[3] += 20.0    # a band with only noise in it: left alone
    g, shift = K.correction_db(real, ours, holds, damping=0.5)
    assert g[5] - shift == pytest.approx(3.0) and g[10] - shift == pytest.approx(-6.0)
    assert g[15] == pytest.approx(shift) and g[3] == pytest.approx(shift)
    # the engine's note keeps its power
    p = 10 ** (ours / 10)
    assert (p * 10 ** (g / 10)).sum() == pytest.approx(p.sum(), rel=1e-9)
    # nothing to correct: nothing moves
    g0, s0 = K.correction_db(ours, ours, holds)
    assert np.all(g0 == 0) and s0 == 0


def test_bands_far_under_the_note_on_both_sides_are_left_alone():
    n = len(BAND_CENTRES_HZ)
    ours = np.full(n, -90.0)
    real = np.full(n, -95.0)
    ours[0] = real[0] = -3.0
    g, shift = K.correction_db(real, ours, np.ones(n, bool), damping=1.0)
    # band 0 agrees; every other band lies more than FLOOR_DB under both notes' strongest
    assert np.allclose(g, 0.0, atol=1e-9)
