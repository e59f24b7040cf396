"""The noise's high-pass below the fundamental: the twin filters as a Butterworth high-pass does,
carries its state across frames, leaves the noise alone at ratio 0, and the measurement picks the
ratio that brings a note's noise under its fundamental down to the recording's."""
import numpy as np
from scipy.signal import butter, lfilter, welch

from timbred_train import dsp
from timbred_train import highpass as H

RATE = 48000


def test_the_twin_is_a_second_order_butterworth_high_pass():
    for cutoff in (60.0, 300.0, 2000.0):
        b, a = dsp.highpass_coefficients(cutoff, RATE)
        rb, ra = butter(2, cutoff, btype="highpass", fs=RATE)
        assert np.allclose(b, rb, rtol=1e-9, atol=1e-12) and np.allclose(a, ra, rtol=1e-9, atol=1e-12)
    # held below 0.45 of the rate: a cutoff past Nyquist still gives a stable filter
    b, a = dsp.highpass_coefficients(1e6, RATE)
    assert np.all(np.abs(np.roots(a)) < 1)


def test_noise_highpass_cuts_below_the_cutoff_and_passes_above():
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, RATE * 2).astype(np.float32)
    f0 = np.full(200, 400.0, np.float32)
    y = dsp.noise_highpass(x, f0, 0.5, 100, RATE)  # cutoff 200 Hz
    f, px = welch(x, RATE, nperseg=8192)
    _, py = welch(y, RATE, nperseg=8192)

    def gain_db(lo, hi):
        m = (f >= lo) & (f < hi)
        return 10 * np.log10(py[m].sum() / px[m].sum())

    # the analogue response: 50 Hz, a quarter of the cutoff, loses 24 dB; an octave above passes
    assert abs(gain_db(45, 55) - 10 * np.log10(highpass_power(50, 200))) < 1.5, gain_db(45, 55)
    assert abs(gain_db(1000, 4000)) < 0.3
    # ratio 0 leaves the noise bit for bit
    assert np.array_equal(dsp.noise_highpass(x, f0, 0.0, 100, RATE), x)


def highpass_power(f, fc):
    return float(dsp.highpass_power(np.array([f]), fc)[0])


def test_noise_highpass_carries_its_state_across_frames():
    """With a steady f0 the per-frame filtering equals one pass of the same filter (no restart at
    frame edges); a changing f0 changes the cutoff each hop."""
    rng = np.random.default_rng(4)
    x = rng.uniform(-1, 1, 480 * 30)
    steady = dsp.noise_highpass(x, np.full(30, 300.0), 0.7, 100, RATE)
    b, a = dsp.highpass_coefficients(210.0, RATE)
    assert np.allclose(steady, lfilter(b, a, x), atol=1e-6)
    gliding = dsp.noise_highpass(x, np.linspace(100, 1000, 30), 0.7, 100, RATE)
    first = lfilter(*dsp.highpass_coefficients(70.0, RATE), x[:480])  # frame 0: f0 100 Hz, cutoff 70 Hz
    assert np.allclose(gliding[:480], first, atol=1e-6)
    assert not np.allclose(gliding[-480:], steady[-480:], atol=1e-3)


def test_a_cutoff_under_the_floor_leaves_the_noise_alone():
    """A blend that gives a cutoff of a few mHz (an unfiltered instrument's neighbour weighing 1e-5)
    passes the noise unfiltered, as the engine does: its poles would sit within rounding of z = 1."""
    rng = np.random.default_rng(5)
    x = rng.uniform(-1, 1, 480 * 20).astype(np.float32)
    assert np.array_equal(dsp.noise_highpass(x, np.full(20, 440.0), 1e-5, 100, RATE), x)
    just_above = dsp.noise_highpass(x, np.full(20, 440.0), dsp.HIGHPASS_MIN_CUTOFF_HZ / 440.0 * 1.01, 100, RATE)
    assert not np.array_equal(just_above, x) and np.max(np.abs(just_above)) < 2


def test_sub_f0_bands_lie_wholly_under_the_fundamental():
    from timbred_train.transients import band_edges_hz

    e = band_edges_hz()
    for f0 in (65.0, 262.0, 1000.0):
        bands = H.sub_f0_bands(f0)
        assert all(e[b + 1] <= H.SUB_F0 * f0 and e[b] >= 44 for b in bands)
    assert H.sub_f0_bands(40.0) == []
    assert len(H.sub_f0_bands(1000.0)) > len(H.sub_f0_bands(262.0))


def test_the_measurement_finds_the_ratio_that_matches_the_recording():
    """A note whose recording has its noise high-passed at 0.5 f0, played with the noise unfiltered:
    the errors fall to their least near 0.5, and `choose` takes it; a note whose recording has
    the same noise as the played one keeps ratio 0."""
    rng = np.random.default_rng(5)
    f0, n = 500.0, RATE
    t = np.arange(n) / RATE
    harmonic = (0.3 * np.sin(2 * np.pi * f0 * t) + 0.1 * np.sin(2 * np.pi * 2 * f0 * t)).astype(np.float32)
    noise = (0.01 * rng.uniform(-1, 1, n)).astype(np.float32)
    recorded_noise = dsp.noise_highpass(noise, np.full(100, f0), 0.5, 100, RATE)
    e = H.note_errors_db(harmonic + recorded_noise, harmonic, noise, f0, RATE, 0.8)
    assert e is not None and len(e) == len(H.RATIOS)
    assert abs(H.RATIOS[H.choose(e)] - 0.5) <= 0.1, e
    assert e[0] > e[H.choose(e)] + 3  # unfiltered, the bands under f0 sit dB above the recording's
    same = H.note_errors_db(harmonic + noise, harmonic, noise, f0, RATE, 0.8)
    assert H.RATIOS[H.choose(same)] == 0.0, same
    # a note too low to have a band under its fundamental gives nothing to judge
    assert H.note_errors_db(harmonic, harmonic, noise, 50.0, RATE, 0.8) is None


def test_choose_takes_the_smallest_ratio_within_the_tolerance():
    e = np.array([5.0, 4.0, 3.05, 3.0, 3.5] + [4.0] * (len(H.RATIOS) - 5))
    assert H.choose(e) == 2
    assert H.choose(np.full(len(H.RATIOS), 2.0)) == 0


def test_the_fixture_is_the_twin_on_its_inputs(tmp_path):
    from safetensors.numpy import load_file

    path = H.write_fixture(tmp_path)
    f = load_file(str(path))
    for rate in (44100, 48000):
        again = dsp.noise_highpass(f[f"audio.noise.{rate}"], f["f0_hz"], float(f["ratio"][0]), 100, rate)
        assert np.allclose(again, f[f"audio.highpass.{rate}"], atol=1e-7)
        assert not np.allclose(f[f"audio.noise.{rate}"], f[f"audio.highpass.{rate}"], atol=1e-3)
