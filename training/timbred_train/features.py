"""Per-note features: tracked f0, A-weighted loudness, harmonic amplitudes, noise residual and
the timbre encoder's pitch-relative spectrum. All at the model's frame rate.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .config import ModelConfig
from .dsp import loudness_db, noise_fir_length

SILENCE_DB = -120.0


def track_f0(audio: np.ndarray, sample_rate: int, frame_rate: int, nominal_hz: float, n_frames: int,
             search_semitones: float = 1.5) -> tuple[np.ndarray, np.ndarray]:
    """Track f0 per frame within +-search_semitones of nominal_hz (so it never jumps an octave).

    Uses the YIN difference function over lags of the search range, its cumulative-mean
    normalisation for a confidence value, and parabolic interpolation of the minimum.
    Frame n is centred at sample n * hop. Returns (f0_hz [n_frames], confidence [n_frames] in 0..1).
    Unvoiced or silent frames take the median of the confident frames.
    """
    hop = sample_rate // frame_rate
    lag_min = int(math.floor(sample_rate / (nominal_hz * 2 ** (search_semitones / 12)))) - 1
    lag_max = int(math.ceil(sample_rate / (nominal_hz * 2 ** (-search_semitones / 12)))) + 1
    lag_min = max(lag_min, 2)
    win = max(int(2.5 * lag_max), int(0.025 * sample_rate))
    x = np.asarray(audio, dtype=np.float64)
    pad = win + lag_max + 2
    xp = torch.as_tensor(np.pad(x, (pad, pad)))
    centres = torch.arange(n_frames) * hop + pad
    starts = centres - win // 2
    span = win + lag_max + 1
    seg = xp[starts[:, None] + torch.arange(span)[None, :]]  # [N, win + lag_max + 1]
    head = seg[:, :win]
    # r(lag) = sum_j x_j x_{j+lag} for j < win, by FFT cross-correlation
    n_fft = 1 << (span + win).bit_length()
    r = torch.fft.irfft(torch.fft.rfft(seg, n=n_fft) * torch.fft.rfft(head, n=n_fft).conj(), n=n_fft)[:, : lag_max + 2]
    sq = torch.cat([torch.zeros(n_frames, 1, dtype=seg.dtype), torch.cumsum(seg**2, 1)], 1)
    lags = np.arange(1, lag_max + 2)
    lt = torch.as_tensor(lags)
    energy0 = sq[:, win].numpy()
    e_lag = (sq[:, lt + win] - sq[:, lt]).numpy()
    d = np.maximum(energy0[:, None] + e_lag - 2.0 * r[:, lt].numpy(), 0.0)
    cum = np.cumsum(d, axis=1) / np.arange(1, len(lags) + 1)[None, :]
    cmnd = d / np.maximum(cum, 1e-12)
    lo, hi = lag_min - 1, lag_max - 1  # indices into lags (lag = index + 1)
    sub = cmnd[:, lo:hi + 1]
    j = np.argmin(sub, axis=1) + lo
    j = np.clip(j, 1, len(lags) - 2)
    a, b, c = d[np.arange(n_frames), j - 1], d[np.arange(n_frames), j], d[np.arange(n_frames), j + 1]
    denom = a - 2 * b + c
    shift = 0.5 * (a - c) / np.where(np.abs(denom) > 1e-12, denom, np.inf)
    shift = np.clip(shift, -1, 1)
    lag = lags[j] + shift
    f0 = sample_rate / lag
    conf = 1.0 - np.clip(cmnd[np.arange(n_frames), j], 0, 1)
    rms = np.sqrt(energy0 / win)
    voiced = (conf > 0.5) & (rms > 1e-4)
    if voiced.any():
        fill = np.median(f0[voiced])
    else:
        fill = nominal_hz
    f0 = np.where(voiced, f0, fill)
    conf = np.where(rms > 1e-4, conf, 0.0)
    return f0.astype(np.float32), conf.astype(np.float32)


def analyse_harmonics(audio: np.ndarray, sample_rate: int, frame_rate: int, f0_hz: np.ndarray, n_harmonics: int,
                      band_limit_hz: float) -> np.ndarray:
    """Sinusoidal analysis: amplitude of each harmonic k*f0 per frame, by a DFT at exactly that
    frequency over a Hann window of max(4 periods, 32 ms), centred on the frame; a window that
    reaches before the onset is normalised by its part after the onset.

    Harmonics at or above band_limit_hz are 0. Returns [n_frames, n_harmonics] (sine amplitudes).
    """
    hop = sample_rate // frame_rate
    n_frames = len(f0_hz)
    period = sample_rate / float(np.median(f0_hz))
    win = int(max(4 * period, 0.032 * sample_rate))
    win += win % 2
    x = torch.as_tensor(np.pad(np.asarray(audio, np.float64), (win, win)))
    centres = torch.arange(n_frames) * hop + win
    t = torch.arange(win, dtype=torch.float64) - win / 2
    seg = x[(centres - win // 2)[:, None] + torch.arange(win)[None, :]]  # [N, win]
    w = torch.hann_window(win, periodic=False, dtype=torch.float64)
    seg = seg * w
    # onset-aware: only the part of the window that lies at or after the onset (sample 0) holds
    # signal, so the amplitude is normalised by that part's weight; a window centred on the onset
    # would otherwise read a strike 6 dB low and smear it over half a window
    inside = ((centres - win // 2 - win)[:, None] + torch.arange(win)[None, :]) >= 0
    w_sum = (w[None, :] * inside).sum(1)
    theta = 2 * math.pi * torch.as_tensor(f0_hz, dtype=torch.float64)[:, None] / sample_rate * t[None, :]
    base = torch.polar(torch.ones_like(theta), -theta).to(torch.complex64)  # e^{-i theta}
    cur = base.clone()
    out = np.zeros((n_frames, n_harmonics), np.float32)
    scale = (2.0 / w_sum).float()
    segc = seg.to(torch.complex64)
    for k in range(n_harmonics):
        out[:, k] = ((segc * cur).sum(1).abs() * scale).numpy()
        cur = cur * base
    k = np.arange(1, n_harmonics + 1)
    out[np.asarray(f0_hz)[:, None] * k[None, :] >= band_limit_hz] = 0.0
    return out


NOISE_N_FFT_S = 0.064  # window of the noise-residual analysis
NOISE_EXCLUDE_BINS = 6.0  # bins this close to a harmonic are left out of the residual


def blackman_harris(n: int) -> torch.Tensor:
    """Periodic 4-term Blackman-Harris window (sidelobes -92 dB: a harmonic 6 bins away leaks
    nothing measurable into the residual, where a Hann window's -31 dB sidelobes leak a lot)."""
    t = 2.0 * math.pi * torch.arange(n, dtype=torch.float64) / n
    w = 0.35875 - 0.48829 * torch.cos(t) + 0.14128 * torch.cos(2 * t) - 0.01168 * torch.cos(3 * t)
    return w.float()


def analyse_noise(audio: np.ndarray, cfg: ModelConfig, f0_hz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Residual (non-harmonic) magnitude per noise band and frame, in the units of the noise
    synthesiser's band magnitudes, plus a 0/1 weight that is 0 where harmonics leave no gap.

    A 64 ms Blackman-Harris window; bins within 6 bins (94 Hz) of any harmonic are excluded;
    each band averages the power of the remaining bins within half a band spacing. (With the
    32 ms Hann window and 2 bins first used here, harmonic leakage and vibrato counted as noise:
    analysis-resynthesis of the held-out notes classified 0.729 right, with this one 0.805; see
    research/classifier-ratio/noise_residual.py, on the format-1 dataset.) The calibration maps the power of white noise
    uniform in [-1, 1) filtered with band magnitude m back to m.
    """
    sr, hop = cfg.sample_rate, cfg.hop
    n_fft = int(round(NOISE_N_FFT_S * sr))
    n_fft += n_fft % 2
    n_frames = len(f0_hz)
    x = torch.as_tensor(np.asarray(audio, np.float32))[None]
    win = blackman_harris(n_fft)
    spec = torch.stft(x, n_fft, hop_length=hop, window=win, center=True, pad_mode="constant", return_complex=True)[0]
    power = spec.abs().pow(2).numpy().T[:n_frames]  # [N, bins]
    if power.shape[0] < n_frames:
        power = np.pad(power, ((0, n_frames - power.shape[0]), (0, 0)))
    bin_hz = sr / n_fft
    freqs = np.arange(n_fft // 2 + 1) * bin_hz
    # distance of each bin to the nearest harmonic, in bins
    ratio = freqs[None, :] / f0_hz[:, None]
    near = np.abs(ratio - np.round(ratio)) * f0_hz[:, None] / bin_hz
    keep = (near > NOISE_EXCLUDE_BINS) & (np.round(ratio) >= 1) | (ratio < 0.5)
    spacing = cfg.band_limit_hz / (cfg.n_noise_bands - 1)
    band_of_bin = np.round(freqs / spacing).astype(int)
    mags = np.zeros((n_frames, cfg.n_noise_bands), np.float32)
    weight = np.zeros((n_frames, cfg.n_noise_bands), np.float32)
    # white uniform noise (variance 1/3) through a filter of gain m: E|X|^2 = m^2/3 * sum(win^2),
    # the sum over the part of the window at or after the onset (frames near it see less signal)
    starts = np.arange(n_frames)[:, None] * hop - n_fft // 2 + np.arange(n_fft)[None, :]
    calib = ((win.double().numpy() ** 2)[None, :] * (starts >= 0)).sum(1) / 3.0
    for b in range(cfg.n_noise_bands):
        sel = band_of_bin == b
        kb = keep[:, sel]
        pb = power[:, sel]
        cnt = kb.sum(1)
        ok = cnt >= 1
        mean_p = np.where(ok, (pb * kb).sum(1) / np.maximum(cnt, 1), 0.0)
        mags[:, b] = np.sqrt(mean_p / calib)
        weight[:, b] = ok.astype(np.float32)
    return mags, weight


def encoder_features(audio: np.ndarray, cfg: ModelConfig, f0_hz: np.ndarray, ld_db: np.ndarray) -> np.ndarray:
    """The timbre encoder's input: a pitch-relative log-frequency spectrum averaged over time
    segments after the onset, plus each segment's loudness relative to the note's peak.

    Per frame, log(|STFT| + 1e-5) (Hann, enc_n_fft, frame-centred) is sampled by linear
    interpolation at f0 * 2^(j / bins_per_octave - octaves_below), j = 0..enc_bins-1; points at or
    above the band limit take log(1e-5). The note's maximum is subtracted (so velocity shifts
    cancel), then frames are averaged within each segment [s_i, s_{i+1}) seconds. Missing segments
    (short notes) get log(1e-5) - max. The segment loudness is mean(ld) - max(ld), divided by 20.
    """
    sr, hop = cfg.sample_rate, cfg.hop
    n_frames = len(f0_hz)
    x = torch.as_tensor(np.asarray(audio, np.float32))[None]
    win = torch.hann_window(cfg.enc_n_fft)
    spec = torch.stft(x, cfg.enc_n_fft, hop_length=hop, window=win, center=True, pad_mode="constant",
                      return_complex=True)[0].abs().numpy().T[:n_frames]
    if spec.shape[0] < n_frames:
        spec = np.pad(spec, ((0, n_frames - spec.shape[0]), (0, 0)))
    logspec = np.log(spec + 1e-5)
    floor = math.log(1e-5)
    j = np.arange(cfg.enc_bins)
    rel = 2.0 ** (j / cfg.enc_bins_per_octave - cfg.enc_octaves_below)
    fq = f0_hz[:, None] * rel[None, :]  # [N, bins]
    pos = fq / (sr / cfg.enc_n_fft)
    i0 = np.clip(np.floor(pos).astype(int), 0, spec.shape[1] - 2)
    fr = np.clip(pos - i0, 0, 1)
    rows = np.arange(n_frames)[:, None]
    val = logspec[rows, i0] * (1 - fr) + logspec[rows, i0 + 1] * fr
    val = np.where(fq < cfg.band_limit_hz, val, floor)
    val = val - val.max()
    seg_s = cfg.enc_segments_s
    feats = []
    ld_feats = []
    ld_max = float(np.max(ld_db))
    for s0, s1 in zip(seg_s[:-1], seg_s[1:]):
        a, b = int(round(s0 * cfg.frame_rate)), int(round(s1 * cfg.frame_rate))
        b = min(b, n_frames)
        if a < b:
            feats.append(val[a:b].mean(0))
            ld_feats.append((float(np.mean(ld_db[a:b])) - ld_max) / 20.0)
        else:
            feats.append(np.full(cfg.enc_bins, floor - val.max(), np.float32))
            ld_feats.append(-6.0)
    return np.concatenate([np.concatenate(feats), np.asarray(ld_feats)]).astype(np.float32)


ONSET_FRAMES = 4  # frames whose level comes from a short window (see onset_levels)
ONSET_GAIN_LIMIT_DB = 12.0


def onset_levels(audio: np.ndarray, cfg: ModelConfig, f0_hz: np.ndarray, harm: np.ndarray, noise: np.ndarray) -> None:
    """Sets the level of the first ONSET_FRAMES frames from a short window, in place.

    The analysis windows (32 ms and longer) smear a strike of a few milliseconds over several
    frames, and the synthesiser interpolates linearly between frames, so a note whose frame 0 and
    1 are read from long windows rises over 10-20 ms whatever the decoder learns. Here frame n's
    harmonics and noise keep their shape but are scaled (by at most ±12 dB) so that their power
    equals the signal's mean square over [n·hop − w, n·hop + w) ∩ [0, ∞), w = max(hop, one
    period) / 2: the level the synthesiser then passes through at frame n's time.
    """
    hop, sr = cfg.hop, cfg.sample_rate
    x = np.asarray(audio, np.float64)
    limit = 10 ** (ONSET_GAIN_LIMIT_DB / 20)
    for n in range(min(ONSET_FRAMES, len(f0_hz))):
        half = int(max(hop, sr / max(float(f0_hz[n]), 20.0)) / 2)
        seg = x[max(0, n * hop - half): n * hop + half]
        if len(seg) == 0:
            continue
        measured = float(np.mean(seg ** 2))
        # the synthesiser's power for these controls: sines A^2/2, filtered uniform noise m^2/3
        model = float((harm[n].astype(np.float64) ** 2).sum() / 2 + (noise[n].astype(np.float64) ** 2).mean() / 3)
        if model <= 1e-12 or measured <= 1e-12:
            continue
        g = float(np.clip(math.sqrt(measured / model), 1 / limit, limit))
        harm[n] *= g
        noise[n] *= g


def note_features(audio: np.ndarray, cfg: ModelConfig, nominal_pitch: int) -> dict[str, np.ndarray]:
    """Everything the trainer needs from one note (audio at cfg.sample_rate, starting at the onset)."""
    n_frames = int(math.ceil(len(audio) / cfg.hop))
    nominal_hz = 440.0 * 2 ** ((nominal_pitch - 69) / 12)
    f0, conf = track_f0(audio, cfg.sample_rate, cfg.frame_rate, nominal_hz, n_frames)
    ld = loudness_db(audio, cfg.sample_rate, cfg.frame_rate, n_frames)
    harm = analyse_harmonics(audio, cfg.sample_rate, cfg.frame_rate, f0, cfg.n_harmonics, cfg.band_limit_hz)
    noise, noise_w = analyse_noise(audio, cfg, f0)
    onset_levels(audio, cfg, f0, harm, noise)
    enc = encoder_features(audio, cfg, f0, ld)
    return {"f0_hz": f0, "f0_conf": conf, "loudness_db": ld, "harmonics": harm, "noise": noise,
            "noise_weight": noise_w, "encoder": enc}


__all__ = ["track_f0", "analyse_harmonics", "analyse_noise", "encoder_features", "note_features", "noise_fir_length"]
