"""The regression's band-power term and the blend rule, on inputs whose answers are known."""
import math

import numpy as np
import torch

from timbred_train.config import ModelConfig
from timbred_train.envelope import blend_weights
from timbred_train.train import audio_band_power, band_edges_hz, band_power


def test_band_power_of_controls_matches_the_audio_they_make():
    """A harmonic tone plus white noise: the power the controls imply per 1/3-octave band is the
    power measured in the audio: within 0.3 dB in the bands of the partials, within the
    periodogram's scatter in the bands of noise alone."""
    cfg = ModelConfig(sample_rate=48000)
    edges = band_edges_hz(cfg, "cpu")
    sr, n = cfg.sample_rate, 48000
    t = torch.arange(n) / sr
    f0, amps = 220.0, torch.tensor([0.5, 0.25, 0.1, 0.05, 0.02])
    x = sum(a * torch.sin(2 * math.pi * f0 * (k + 1) * t) for k, a in enumerate(amps))
    gen = torch.Generator().manual_seed(3)
    noise_mag = 0.01
    x = x + noise_mag * (torch.rand(n, generator=gen) * 2 - 1)
    harm = torch.zeros(1, 1, 100)
    harm[0, 0, :5] = amps
    noise = torch.full((1, 1, 65), noise_mag)
    want = band_power(harm, noise, torch.tensor([[f0]]), cfg, edges)[0, 0]
    got = audio_band_power(x[None], cfg, edges)[0]
    err = 10 * torch.log10(got / want)
    partials = torch.bucketize(f0 * torch.arange(1, 6), edges) - 1
    assert float(err[partials].abs().max()) < 0.3, err[partials]
    # noise-only bands: the periodogram of one second of noise scatters by about ±1.5 dB
    assert float(err.abs().max()) < 2.5, err
    assert abs(float(want.sum()) - float((x ** 2).mean())) / float((x ** 2).mean()) < 0.02


def test_band_edges_span_45_hz_to_the_band_limit_in_thirds():
    cfg = ModelConfig(sample_rate=48000)
    e = band_edges_hz(cfg, "cpu").numpy()
    assert e[0] == 45.0 and e[-1] == 24000.0
    assert np.allclose(e[1:-1] / e[:-2], 2 ** (1 / 3))


def test_inverse_distance_blend_is_the_instrument_at_its_mean():
    means = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 3.0]])
    for k in range(3):
        assert blend_weights(means[k], means, 0.8, "inverse_distance")[k] > 1 - 1e-6
        assert blend_weights(means[k], means, 1.5, "gaussian")[k] < 0.85  # what the old rule gave
    mid = blend_weights(np.array([1.0, 0.0]), means, 0.8, "inverse_distance")
    assert abs(mid[0] - mid[1]) < 1e-9 and mid[2] < 0.1
    path = np.array([blend_weights(np.array([a, 0.0]), means, 0.8, "inverse_distance")[1] for a in np.linspace(0, 2, 101)])
    steps = np.abs(np.diff(path))
    assert steps.max() < 4 * steps.mean()
