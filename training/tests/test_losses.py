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


def _mixup_setup():
    from timbred_train.model import TimbreDDSP

    torch.manual_seed(2)
    cfg = ModelConfig(n_harmonics=12, n_noise_bands=9, z_dim=3, mlp_units=8, mlp_layers=1, gru_units=8,
                      reverb_seconds=0.05, enc_units=8, instruments=["a", "b", "c"])
    model = TimbreDDSP(cfg)
    with torch.no_grad():
        model.prior_mu.copy_(torch.tensor([[0.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 2.0, 0.0]]))
    n, crop = 2, 10

    def batch(label, seed):
        g = torch.Generator().manual_seed(seed)
        return {"f0": torch.full((n, crop), 220.0), "note": torch.rand(n, crop, cfg.n_note_inputs, generator=g),
                "onset_w": torch.ones(n, crop), "label": torch.full((n,), label),
                "harm": torch.rand(n, crop, 12, generator=g) * 0.1, "noise": torch.rand(n, crop, 9, generator=g) * 0.01,
                "noise_w": torch.ones(n, crop, 9)}
    courses = torch.stack([torch.full((n, crop), -10.0), torch.full((n, crop), -30.0), torch.full((n, crop), -50.0)], -1)
    return model, batch(0, 1), batch(1, 2), courses


def _l1(model, a, targets_h, targets_n, z, ld):
    from timbred_train.train import LOG_FLOOR

    c = model.decoder.controls(model.decoder(a["f0"], ld, a["note"], z), a["f0"])
    lh = (torch.log(c["harmonics"] + LOG_FLOOR) - targets_h).abs().mean()
    ln = (torch.log(c["noise"] + LOG_FLOOR) - targets_n).abs().mean()
    return float(lh + 0.5 * ln)


def test_mixup_at_either_end_is_that_instruments_own_regression():
    """l = 0 throughout: z at a's mean, the prior a's own course, the target a's analysis; l = 1:
    all of b. Between, z and the log targets move together along the path."""
    from timbred_train.train import LOG_FLOOR, mixup_loss

    model, a, b, courses = _mixup_setup()
    mu = model.prior_mu.detach()
    log = lambda x: torch.log(x + LOG_FLOOR)  # noqa: E731
    with torch.no_grad():
        at_a, _ = mixup_loss(model, a, b, courses, 0.7, ends=torch.zeros(2, 2))
        want_a = _l1(model, a, log(a["harm"]), log(a["noise"]), mu[0].expand(2, 10, 3), courses[..., 0])
        at_b, _ = mixup_loss(model, a, b, courses, 0.7, ends=torch.ones(2, 2))
        want_b = _l1(model, a, log(b["harm"]), log(b["noise"]), mu[1].expand(2, 10, 3), courses[..., 1])
        half, _ = mixup_loss(model, a, b, courses, 0.7, ends=torch.full((2, 2), 0.5))
    assert abs(float(at_a) - want_a) < 1e-5
    assert abs(float(at_b) - want_b) < 1e-5
    assert abs(float(at_a) - float(at_b)) > 1e-3  # the two ends do differ
    # halfway the prior is the engine's blend of the two courses (equal weights, c far off): -20 dB
    w = blend_weights(0.5 * (mu[0] + mu[1]).numpy(), mu.numpy(), 0.7, "inverse_distance")
    ld = torch.full((2, 10), float(w @ np.array([-10.0, -30.0, -50.0])))
    assert abs(float(ld[0, 0]) + 20.0) < 1.0
    with torch.no_grad():
        want_half = _l1(model, a, 0.5 * (log(a["harm"]) + log(b["harm"])), 0.5 * (log(a["noise"]) + log(b["noise"])),
                        (0.5 * (mu[0] + mu[1])).expand(2, 10, 3), ld)
    assert abs(float(half) - want_half) < 1e-4


def test_mixup_partner_is_another_instrument_at_the_same_velocity_and_nearest_pitch():
    from types import SimpleNamespace

    from timbred_train.train import Batcher

    notes = SimpleNamespace(instrument=np.array([0, 0, 1, 1, 1, 2, 2]), pitch=np.array([60, 62, 59, 64, 61, 40, 61]),
                            velocity=np.array([80, 80, 80, 80, 40, 80, 40]))
    batcher = Batcher(notes, np.arange(7), np.random.default_rng(0))
    got = batcher.partners(np.array([1] * 200))  # instrument 0, pitch 62, velocity 80
    assert set(got) == {3, 5}  # instrument 1's nearest at velocity 80 (64, not 61 at velocity 40); instrument 2's only
    assert set(batcher.partners(np.array([4] * 50))) == {6}  # velocity 40: only instrument 2 has one
