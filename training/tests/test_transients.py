"""The attack-transient measurement and its reference synthesis (timbred_train.transients)."""
import numpy as np

from timbred_train import transients as T

SR = 32000


def tone(f0: float, seconds: float = 0.2) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return sum(0.2 / k * np.sin(2 * np.pi * k * f0 * t) for k in range(1, 6))


def test_a_click_above_the_synthesis_is_the_transient_and_a_steady_tone_is_not():
    body = tone(440.0)
    click = np.zeros_like(body)
    g = np.random.default_rng(0)
    click[:64] = g.normal(0, 0.3, 64) * np.hanning(64)  # 2 ms of broadband noise at the onset
    a = T.residual_amplitudes(body + click, [body], SR, pitch=69.0)
    assert a.shape == (T.FRAMES, T.BANDS)
    high = T.band_edges_hz()[:-1] >= 4000
    early, late = (a[:3] ** 2).sum(), (a[10:] ** 2).sum()
    assert (a[:3][:, high] ** 2).sum() > 0.3 * early, "the click is broadband: much of it above 4 kHz"
    assert early > 100 * late, "the residual is the click, not the steady tone"
    # the same tone against itself leaves nothing
    assert np.all(T.residual_amplitudes(body, [body], SR, pitch=69.0) == 0)
    # a synthesis that already makes the click leaves nothing either (the largest synthesis counts)
    assert (T.residual_amplitudes(body + click, [body, body + click], SR, pitch=69.0) ** 2).sum() < 0.01 * early


def test_the_taper_ends_every_transient_at_zero():
    w = T.taper()
    assert w[0] == 1 and w[T.FRAMES - T.TAPER_FRAMES - 1] == 1
    assert abs(w[-1]) < 1e-12 and np.all(np.diff(w[T.FRAMES - T.TAPER_FRAMES - 1:]) <= 0)


def test_synthesis_has_the_table_s_band_power():
    # one band (1 kHz centre) at amplitude 0.1 for 60 ms, nothing elsewhere
    b = int(np.searchsorted(T.band_edges_hz(), 1000.0) - 1)
    amps = np.zeros((T.FRAMES, T.BANDS))
    amps[:30, b] = 0.1
    white = np.random.default_rng(1).uniform(-1, 1, (T.BANDS, T.length_samples(48000)))
    x = T.synthesize(amps, T.band_noises(white, 48000), 48000)
    assert len(x) == 4800
    rms = np.sqrt(np.mean(x[200:2600] ** 2))  # the held part
    assert abs(20 * np.log10(rms / 0.1)) < 1.0  # a narrow band noise's level over 50 ms wanders a little
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / 48000)
    lo, hi = T.band_edges_hz()[b], T.band_edges_hz()[b + 1]
    assert spec[(f >= lo * 0.9) & (f < hi * 1.1)].sum() > 0.95 * spec.sum()
    assert np.all(x[3100:] == 0), "nothing after the last non-zero frame's ramp"


def test_lookup_at_an_instrument_s_mean_is_its_table_and_blends_between():
    g = np.random.default_rng(2)
    table = g.random((2, 3, 2, T.FRAMES, T.BANDS)).astype(np.float32)
    means = np.array([[0.0, 0.0], [1.0, 1.0]])
    pitches, vels = [36.0, 60.0, 84.0], [40.0, 120.0]
    a = T.lookup(table, pitches, vels, means, 0.5, "inverse_distance", means[1], 60.0, 120.0)
    np.testing.assert_allclose(a, table[1, 1, 1], rtol=1e-5)
    mid = T.lookup(table, pitches, vels, means, 0.5, "inverse_distance", np.array([0.5, 0.5]), 48.0, 80.0)
    corner = lambda i: 0.25 * (table[i, 0, 0] + table[i, 1, 0] + table[i, 0, 1] + table[i, 1, 1])
    np.testing.assert_allclose(mid, 0.5 * (corner(0) + corner(1)), rtol=1e-5)
    # clamped outside the anchors
    np.testing.assert_allclose(T.lookup(table, pitches, vels, means, 0.5, "inverse_distance", means[0], 10.0, 1.0),
                               table[0, 0, 0], rtol=1e-5)
