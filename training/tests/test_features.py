"""The trainer's analyses against signals whose answer is known."""
import math

import numpy as np
import torch

from timbred_train import dsp
from timbred_train.config import ModelConfig
from timbred_train.features import analyse_noise


def _harmonic_tone(f0_hz: float, seconds: float, sr: int) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return sum(0.3 / k * np.sin(2 * np.pi * k * f0_hz * t) for k in range(1, 40) if k * f0_hz < sr / 2)


def test_noise_residual_measures_the_synthesisers_noise_beside_loud_harmonics():
    """Known noise (the synthesiser's own, band magnitude 1e-3: about 60 dB under the harmonics)
    under a 39-harmonic tone at 440 Hz: the residual recovers the band magnitude within 2.5 dB in
    every band it measures, and the tone alone leaves a residual 40 dB lower still."""
    cfg = ModelConfig()
    sr, n_frames = cfg.sample_rate, 150
    f0 = np.full(n_frames, 440.0)
    tone = _harmonic_tone(440.0, n_frames / cfg.frame_rate, sr).astype(np.float32)
    mags = torch.full((1, n_frames, cfg.n_noise_bands), 1e-3)
    white = torch.as_tensor(np.random.default_rng(3).uniform(-1, 1, (1, n_frames * cfg.hop)).astype(np.float32))
    noise = dsp.filtered_noise(mags, white, cfg.frame_rate, sr, cfg.band_limit_hz)[0].numpy()
    measured, weight = analyse_noise(tone + noise, cfg, f0)
    inner = slice(20, n_frames - 20)  # away from the edges of the signal
    ok = weight[inner] > 0
    assert ok.mean() > 0.8  # at 440 Hz the harmonics leave gaps in most bands
    db = 20 * np.log10(np.median(np.where(ok, measured[inner], np.nan), axis=0)[1:] / 1e-3)
    db = db[np.isfinite(db)]
    assert np.abs(db).max() < 2.5, db  # 1.8 dB measured (a 32 ms Hann window with 2 bins: 31 dB)
    alone, _ = analyse_noise(tone, cfg, f0)
    assert 20 * math.log10(np.median(alone[inner][ok]) / 1e-3) < -40.0  # -46 dB measured (Hann 32 ms: +9 dB)


def test_a_tone_that_starts_at_the_onset_reads_full_level_from_frame_0():
    """A steady tone (and white noise) starting at sample 0: the onset-aware analysis reads frame 0
    within 1 dB of the steady frames, so a decoder trained on it can strike at once; windows
    normalised over their whole length (the analysis before format 2) read frame 0 of the tone
    6 dB low and of the noise 3 dB low."""
    from timbred_train.features import analyse_harmonics

    cfg = ModelConfig()
    sr, n_frames = cfg.sample_rate, 60
    f0 = np.full(n_frames, 330.0)
    tone = _harmonic_tone(330.0, n_frames / cfg.frame_rate, sr).astype(np.float32)
    harm = analyse_harmonics(tone, sr, cfg.frame_rate, f0, cfg.n_harmonics, cfg.band_limit_hz)
    steady = np.median(harm[20:40, 0])
    for n in range(3):
        assert abs(20 * math.log10(harm[n, 0] / steady)) < 1.0, (n, harm[:4, 0], steady)
    # white noise from sample 0: frame 0 (half its window before the onset) reads the steady level
    band, ratios = slice(5, 40), []
    for seed in range(8):
        white = 0.01 * np.random.default_rng(seed).uniform(-1, 1, n_frames * cfg.hop).astype(np.float32)
        mags, _ = analyse_noise(white, cfg, np.full(n_frames, 4000.0))
        ratios.append(20 * np.log10(np.median(mags[0, band]) / np.median(mags[20:40, band])))
    assert abs(np.mean(ratios)) < 1.0, ratios  # without the onset normalisation: -3 dB


def test_a_strike_reads_its_onset_level_in_frame_0():
    """A tone struck at full level that decays with a 15 ms time constant (a mallet's first
    milliseconds): the long analysis windows read frame 0 below the strike; with onset_levels
    frame 0 is within 2 dB of the signal's level over its first 5 ms, and above frame 1."""
    from timbred_train.features import analyse_harmonics, onset_levels

    cfg = ModelConfig()
    sr, n_frames = cfg.sample_rate, 40
    t = np.arange(n_frames * cfg.hop) / sr
    strike = (np.sin(2 * np.pi * 523.25 * t) * (0.2 + 0.8 * np.exp(-t / 0.015))).astype(np.float32)
    f0 = np.full(n_frames, 523.25)
    harm = analyse_harmonics(strike, sr, cfg.frame_rate, f0, cfg.n_harmonics, cfg.band_limit_hz)
    noise = np.zeros((n_frames, cfg.n_noise_bands), np.float32)
    before = harm[0, 0]
    onset_levels(strike, cfg, f0, harm, noise)
    first5ms = math.sqrt(2 * np.mean(strike[: cfg.hop // 2].astype(np.float64) ** 2))  # sine amplitude
    assert abs(20 * math.log10(harm[0, 0] / first5ms)) < 2.0, (harm[0, 0], first5ms)
    assert harm[0, 0] > before and harm[0, 0] > harm[1, 0]
