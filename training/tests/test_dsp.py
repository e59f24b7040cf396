"""Synthesis math against closed forms."""
import math

import numpy as np
import torch

from timbred_train import dsp


def measured_freq(x: np.ndarray, sr: float) -> float:
    """Frequency of a pure sine by least-squares phase slope of its analytic signal."""
    spec = np.fft.rfft(x * np.hanning(len(x)), n=len(x) * 8)
    k = int(np.argmax(np.abs(spec)))
    a, b, c = np.log(np.abs(spec[k - 1:k + 2]))
    p = 0.5 * (a - c) / (a - 2 * b + c)
    coarse = (k + p) * sr / (len(x) * 8)
    # refine with phase of a DFT at the coarse frequency over two halves
    n = len(x) // 2
    t = np.arange(n)
    def ph(seg, off):
        return np.angle(np.sum(seg * np.exp(-2j * np.pi * coarse * (t + off) / sr)))
    d = np.angle(np.exp(1j * (ph(x[n:2 * n], n) - ph(x[:n], 0))))
    return coarse + d * sr / (2 * np.pi * n)


def test_single_harmonic_is_a_sine_at_f0_within_0_1_cent():
    for sr, f0 in ((32000, 440.0), (44100, 261.6256), (96000, 1234.5)):
        n_frames = 100
        f0s = torch.full((1, n_frames), f0)
        amps = torch.zeros(1, n_frames, 4)
        amps[..., 0] = 0.5
        x = dsp.harmonic_synth(f0s, amps, 100, sr, int(sr)).numpy()[0]
        cents = 1200 * math.log2(measured_freq(x, sr) / f0)
        assert abs(cents) < 0.1, (sr, cents)
        assert abs(np.max(np.abs(x)) - 0.5) < 1e-3


def test_harmonics_at_or_above_the_limit_are_muted():
    f0 = torch.full((1, 10), 3000.0)
    amp = torch.ones(1, 10, 1)
    dist = torch.ones(1, 10, 20)
    harm = dsp.harmonic_amplitudes(amp, dist, f0, 16000.0)
    assert torch.all(harm[..., 5:] == 0)  # 6 * 3000 = 18000 >= 16000
    assert torch.allclose(harm.sum(-1), torch.ones(1, 10), atol=1e-5)
    sr = 32000
    x = dsp.harmonic_synth(f0, harm, 100, sr, 3200).numpy()[0]
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    freqs = np.fft.rfftfreq(len(x), 1 / sr)
    above = spec[freqs > 15500].max()
    assert above < 1e-3 * spec.max()


def test_noise_filter_response_follows_its_bands():
    sr, n_bands, limit = 32000, 65, 16000.0
    mags = torch.zeros(1, 400, n_bands)
    mags[..., 10:20] = 1.0  # 2500..4750 Hz passband
    mags[..., 40:45] = 0.25
    g = torch.Generator().manual_seed(0)
    white = torch.rand(1, 400 * 320, generator=g) * 2 - 1
    y = dsp.filtered_noise(mags, white, 100, sr, limit).numpy()[0]
    seg = y[4096:]
    n = 2048
    frames = seg[: (len(seg) // n) * n].reshape(-1, n) * np.hanning(n)
    psd = (np.abs(np.fft.rfft(frames, axis=1)) ** 2).mean(0)
    freqs = np.fft.rfftfreq(n, 1 / sr)
    # expected: |H|^2 * var(white) * sum(win^2)
    var = 1 / 3
    norm = var * (np.hanning(n) ** 2).sum()
    def level(f):
        i = np.argmin(np.abs(freqs - f))
        return psd[i - 3:i + 4].mean() / norm
    assert abs(10 * np.log10(level(3500)) - 0.0) < 1.0
    assert abs(10 * np.log10(level(10600)) - 20 * np.log10(0.25)) < 1.5
    assert 10 * np.log10(level(7500) + 1e-20) < -30
    assert 10 * np.log10(level(14000) + 1e-20) < -30


def test_fir_length_scales_with_rate():
    assert dsp.noise_fir_length(65, 16000, 32000) == 128
    assert dsp.noise_fir_length(65, 16000, 48000) == 192


def test_loudness_of_a_known_level_tone():
    sr = 32000
    t = np.arange(sr) / sr
    for amp_db in (0.0, -20.0, -40.0):
        x = 10 ** (amp_db / 20) * np.sin(2 * np.pi * 1000 * t)
        ld = dsp.loudness_db(x, sr, 100)
        assert abs(np.median(ld[10:-10]) - amp_db) < 0.2, (amp_db, np.median(ld))
    # A-weighting: 100 Hz reads ~19.1 dB lower than 1 kHz
    x = np.sin(2 * np.pi * 100 * t)
    assert abs(np.median(dsp.loudness_db(x, sr, 100)[10:-10]) + 19.1) < 0.5
    assert np.all(dsp.loudness_db(np.zeros(sr), sr, 100) == -120.0)


def test_reverb_of_unit_impulse_is_the_ir():
    ir = torch.randn(500)
    x = torch.zeros(1, 2000)
    x[0, 0] = 1.0
    y = dsp.fft_convolve(x, ir)
    assert torch.allclose(y[0, :500], ir, atol=1e-5)
    assert torch.all(y[0, 500:].abs() < 1e-5)


def test_independent_tracker_hears_low_notes_and_weak_fundamentals_at_their_pitch():
    """The evaluation's full-range tracker: a 41.2 Hz (E1) tone whose energy sits in harmonics
    5-30, and a 392 Hz tone whose third harmonic is 12 dB above its fundamental, are both tracked
    at their fundamental (within 5 cents), not an octave or a twelfth up."""
    from timbred_train.evaluate import harmonic_sum_f0

    sr = 32000
    t = np.arange(int(1.0 * sr)) / sr
    for f0, amps in [(41.2, {k: (0.05 if k < 5 else 1.0 / k ** 0.5) for k in range(1, 31)}),
                     (392.0, {1: 0.25, 2: 0.3, 3: 1.0, 4: 0.2, 5: 0.3})]:
        x = sum(a * np.sin(2 * np.pi * k * f0 * t) for k, a in amps.items())
        x = (0.5 * x / np.abs(x).max()).astype(np.float32)
        f = harmonic_sum_f0(x, sr)
        cents = 1200 * np.log2(np.nanmedian(f) / f0)
        assert abs(cents) < 5, (f0, cents)


def test_spectral_motion_loss_sees_modulation_but_not_its_phase():
    """Two partials beating at 3 Hz against the same partials held steady: the motion loss must
    tell them apart, while the same beating with another phase must look (nearly) the same to it
    and very different to a frame-aligned spectral loss."""
    sr = 32000
    t = torch.arange(sr) / sr

    def tone(depth: float, phase: float) -> torch.Tensor:
        env = 1.0 + depth * torch.sin(2 * math.pi * 3.0 * t + phase)
        return (0.3 * env * torch.sin(2 * math.pi * 440 * t) + 0.1 * env.flip(0) * torch.sin(2 * math.pi * 1320 * t))[None]

    beating, shifted, steady = tone(0.9, 0.0), tone(0.9, math.pi), tone(0.0, 0.0)
    motion = dsp.SpectralMotionLoss(sr)
    mss = dsp.MultiScaleSpectralLoss()
    assert float(motion(beating, beating)) < 1e-3
    to_steady, to_shifted = float(motion(beating, steady)), float(motion(beating, shifted))
    assert to_steady > 2.0  # dB of missing movement, averaged over 64 bands (most empty here): 4.9 measured
    assert to_shifted < 0.05 * to_steady  # 0.03 dB measured
    # the frame-aligned loss prefers the frozen spectrum to the right movement out of phase
    assert float(mss(beating, shifted)) > float(mss(beating, steady))
    pred = steady.clone().requires_grad_(True)
    motion(beating, pred).backward()
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0
