"""Differentiable synthesis, exactly as docs/model-format.md specifies it for the engine.

All functions take batched tensors: frames are [batch, n_frames, ...], audio is [batch, n_samples].
Times are defined in seconds, frequencies in Hz, so the same controls render at any output rate.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

LOG10 = math.log(10.0)


def exp_sigmoid(x: torch.Tensor, exponent: float = 10.0, max_value: float = 2.0, threshold: float = 1e-7) -> torch.Tensor:
    """DDSP's scale function: max_value * sigmoid(x) ** ln(exponent) + threshold."""
    return max_value * torch.sigmoid(x) ** math.log(exponent) + threshold


def hz_to_midi(f0_hz: torch.Tensor) -> torch.Tensor:
    return 69.0 + 12.0 * torch.log2(torch.clamp(f0_hz, min=1e-3) / 440.0)


def midi_to_hz(midi: torch.Tensor | float) -> torch.Tensor | float:
    if isinstance(midi, torch.Tensor):
        return 440.0 * torch.pow(2.0, (midi - 69.0) / 12.0)
    return 440.0 * 2.0 ** ((midi - 69.0) / 12.0)


def frames_to_samples(frames: torch.Tensor, frame_rate: float, sample_rate: float, n_samples: int) -> torch.Tensor:
    """Linear interpolation of per-frame values onto the sample grid.

    Frame n holds the value at time n / frame_rate. Sample i (time i / sample_rate) gets
    v[n] + frac * (v[n+1] - v[n]) with n = floor(i * frame_rate / sample_rate); after the last
    frame the value is held. frames: [B, N] or [B, N, C] -> [B, n_samples] or [B, n_samples, C].
    """
    squeeze = frames.dim() == 2
    if squeeze:
        frames = frames.unsqueeze(-1)
    n_frames = frames.shape[1]
    pos = torch.arange(n_samples, dtype=torch.float64, device=frames.device) * (frame_rate / sample_rate)
    idx = torch.clamp(torch.floor(pos).long(), max=n_frames - 1)
    idx1 = torch.clamp(idx + 1, max=n_frames - 1)
    frac = (pos - idx.double()).clamp(0.0, 1.0).to(frames.dtype)
    frac = torch.where(idx >= n_frames - 1, torch.zeros_like(frac), frac)
    v0 = frames[:, idx, :]
    v1 = frames[:, idx1, :]
    out = v0 + frac[None, :, None] * (v1 - v0)
    return out.squeeze(-1) if squeeze else out


def stretch_ratios(n_harmonics: int, inharmonicity: torch.Tensor) -> torch.Tensor:
    """r_k = k · sqrt(1 + B k²) (k = 1..K) per frame, float64: partial k's frequency over f0 for a
    stiff string's inharmonicity coefficient B (docs/model-format.md, "Inharmonicity").
    inharmonicity: [B, N] -> [B, N, K]."""
    k = torch.arange(1, n_harmonics + 1, dtype=torch.float64, device=inharmonicity.device)
    return k * torch.sqrt(1.0 + inharmonicity.double()[..., None] * k * k)


def harmonic_mask(f0_hz: torch.Tensor, n_harmonics: int, limit_hz: float,
                  inharmonicity: torch.Tensor | None = None) -> torch.Tensor:
    """1 where partial k (1-based) of each frame lies below limit_hz, else 0. f0_hz: [B, N].
    Partial k sits at k·f0, or at r_k·f0 (`stretch_ratios`) with a per-frame inharmonicity [B, N]."""
    if inharmonicity is None:
        k = torch.arange(1, n_harmonics + 1, dtype=f0_hz.dtype, device=f0_hz.device)
        return (f0_hz[..., None] * k < limit_hz).to(f0_hz.dtype)
    return (f0_hz.double()[..., None] * stretch_ratios(n_harmonics, inharmonicity) < limit_hz).to(f0_hz.dtype)


def harmonic_amplitudes(amplitude: torch.Tensor, distribution: torch.Tensor, f0_hz: torch.Tensor, limit_hz: float,
                        inharmonicity: torch.Tensor | None = None) -> torch.Tensor:
    """Per-harmonic amplitudes A_k = a * c_k / sum(c) after muting partials at or above limit_hz.

    amplitude: [B, N, 1]; distribution: [B, N, K] (positive); f0_hz: [B, N]; inharmonicity:
    [B, N] or None (harmonic). Returns [B, N, K].
    """
    mask = harmonic_mask(f0_hz, distribution.shape[-1], limit_hz, inharmonicity)
    dist = distribution * mask
    dist = dist / (dist.sum(-1, keepdim=True) + 1e-7)
    return amplitude * dist


def harmonic_synth(f0_hz: torch.Tensor, harm_amps: torch.Tensor, frame_rate: float, sample_rate: float, n_samples: int,
                   inharmonicity: torch.Tensor | None = None) -> torch.Tensor:
    """Sum of sines: sum_k A_k(i) sin(k * phi(i)), phi(i) = 2 pi sum_{j<i} f0(j) / sample_rate.

    Phase is accumulated in float64 and starts at 0 for every harmonic. f0_hz: [B, N];
    harm_amps: [B, N, K]. Returns [B, n_samples] float32.

    With `inharmonicity` ([B, N], B per frame; None or all 0: the harmonic sum above) partial k's
    phase accumulates r_k of the sample's frame times f0: theta_k(i) = 2 pi sum_{j<i}
    r_k(frame(j)) f0(j) / sample_rate, frame(j) = min(floor(j frame_rate / sample_rate), N - 1),
    and the output is sum_k A_k(i) sin(theta_k(i)).
    """
    if inharmonicity is not None and bool((inharmonicity != 0).any()):
        return _stretched_synth(f0_hz, harm_amps, frame_rate, sample_rate, n_samples, inharmonicity)
    f0_s = frames_to_samples(f0_hz.double(), frame_rate, sample_rate, n_samples)
    inc = 2.0 * math.pi * f0_s / sample_rate
    phase = torch.cumsum(inc, dim=1) - inc  # phase of sample 0 is 0
    phase = torch.remainder(phase, 2.0 * math.pi)
    amps = frames_to_samples(harm_amps, frame_rate, sample_rate, n_samples)
    k = torch.arange(1, harm_amps.shape[-1] + 1, dtype=torch.float64, device=f0_hz.device)
    # sin(k * phase) computed in float64 then cast, so large k keep their precision.
    sines = torch.sin(torch.remainder(phase[..., None] * k, 2.0 * math.pi)).to(harm_amps.dtype)
    return (sines * amps).sum(-1)


def _stretched_synth(f0_hz, harm_amps, frame_rate, sample_rate, n_samples, inharmonicity):
    """harmonic_synth with stretched partials (see there)."""
    n_frames = f0_hz.shape[1]
    f0_s = frames_to_samples(f0_hz.double(), frame_rate, sample_rate, n_samples)
    frame = torch.clamp(torch.floor(torch.arange(n_samples, dtype=torch.float64) * (frame_rate / sample_rate)).long(),
                        max=n_frames - 1)
    ratios = stretch_ratios(harm_amps.shape[-1], inharmonicity)[:, frame, :]  # [B, n, K]
    inc = ratios * (f0_s / sample_rate)[..., None]  # cycles per sample
    cycles = torch.cumsum(inc, dim=1) - inc
    cycles = cycles - torch.floor(cycles)
    amps = frames_to_samples(harm_amps, frame_rate, sample_rate, n_samples)
    return (torch.sin(2.0 * math.pi * cycles).to(harm_amps.dtype) * amps).sum(-1)


def noise_fir_length(n_bands: int, band_limit_hz: float, sample_rate: float) -> int:
    """Length N_d of the per-frame noise FIR at sample_rate (even): 2 * round((B-1) * R / (2 F))."""
    return 2 * int(round((n_bands - 1) * sample_rate / (2.0 * band_limit_hz)))


def noise_band_response(band_mags: torch.Tensor, band_limit_hz: float, sample_rate: float, n_fir: int) -> torch.Tensor:
    """Magnitude response on the rfft grid of n_fir points at sample_rate.

    Band b sits at b * band_limit_hz / (B-1); values are linearly interpolated in Hz and zero
    above band_limit_hz. band_mags: [B, N, Bands] -> [B, N, n_fir // 2 + 1].
    """
    n_bands = band_mags.shape[-1]
    freqs = torch.arange(n_fir // 2 + 1, dtype=torch.float64) * (sample_rate / n_fir)
    pos = freqs / band_limit_hz * (n_bands - 1)
    idx = torch.clamp(torch.floor(pos).long(), max=n_bands - 2)
    frac = (pos - idx.double()).to(band_mags.dtype)
    inside = (freqs <= band_limit_hz + 1e-9).to(band_mags.dtype)
    frac = torch.clamp(frac, 0.0, 1.0)
    m0 = band_mags[..., idx]
    m1 = band_mags[..., idx + 1]
    return (m0 + frac * (m1 - m0)) * inside


def noise_firs(band_mags: torch.Tensor, band_limit_hz: float, sample_rate: float) -> torch.Tensor:
    """Linear-phase FIR per frame: irfft of the band response, rotated by N_d/2, Hann-windowed.

    Returns [B, N, N_d]. The window is the periodic Hann window of length N_d.
    """
    n_fir = noise_fir_length(band_mags.shape[-1], band_limit_hz, sample_rate)
    resp = noise_band_response(band_mags, band_limit_hz, sample_rate, n_fir)
    ir = torch.fft.irfft(resp.to(torch.complex64), n=n_fir)
    ir = torch.roll(ir, shifts=n_fir // 2, dims=-1)
    window = torch.hann_window(n_fir, periodic=True, dtype=ir.dtype)
    return ir * window


def filtered_noise(band_mags: torch.Tensor, white: torch.Tensor, frame_rate: float, sample_rate: float, band_limit_hz: float) -> torch.Tensor:
    """Time-varying filtered noise by frame-wise linear convolution and overlap-add.

    Noise block n = white[n*H : (n+1)*H] is convolved with FIR n; the full convolution
    (length H + N_d - 1) is added at offset n*H. No delay compensation: the noise lags the
    controls by N_d / 2 samples, in training and in the engine alike.
    band_mags: [B, N, Bands]; white: [B, N*H]. Returns [B, N*H].
    """
    bsz, n_frames, _ = band_mags.shape
    hop = int(round(sample_rate / frame_rate))
    firs = noise_firs(band_mags, band_limit_hz, sample_rate)  # [B, N, L]
    n_fir = firs.shape[-1]
    n_fft = 1
    while n_fft < hop + n_fir - 1:
        n_fft *= 2
    blocks = white[:, : n_frames * hop].reshape(bsz, n_frames, hop)
    spec = torch.fft.rfft(blocks, n=n_fft) * torch.fft.rfft(firs, n=n_fft)
    conv = torch.fft.irfft(spec, n=n_fft)[..., : hop + n_fir - 1]  # [B, N, hop + L - 1]
    # overlap-add with fold: frame n lands at n*hop
    total = n_frames * hop + n_fir - 1
    out = F.fold(
        conv.transpose(1, 2),  # [B, hop+L-1, N]
        output_size=(1, (n_frames - 1) * hop + hop + n_fir - 1),
        kernel_size=(1, hop + n_fir - 1),
        stride=(1, hop),
    ).reshape(bsz, -1)
    assert out.shape[-1] == total
    return out[:, : n_frames * hop]


# Cutoffs below this leave the noise unfiltered (the engine's `HighPassBiquad.minimumCutoffHz`): a
# blend that gives a cutoff of a few mHz puts the poles within rounding of z = 1.
HIGHPASS_MIN_CUTOFF_HZ = 5.0


def highpass_coefficients(cutoff_hz: float, sample_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """The noise's high-pass below the fundamental: a second-order Butterworth (Q = 1/sqrt(2),
    bilinear transform, cutoff pre-warped and held below 0.45 of the rate), as (b, a) with a[0] = 1;
    the engine's `HighPassBiquad`."""
    w0 = 2 * math.pi * min(cutoff_hz, 0.45 * sample_rate) / sample_rate
    cos_w, alpha = math.cos(w0), math.sin(w0) / (2 * math.sqrt(0.5))
    a0 = 1 + alpha
    b0 = (1 + cos_w) / 2 / a0
    return np.array([b0, -2 * b0, b0]), np.array([1.0, -2 * cos_w / a0, (1 - alpha) / a0])


def highpass_power(f_hz, cutoff_hz: float) -> np.ndarray:
    """|H(f)|² of that high-pass (the analogue prototype: (f/fc)^4 / (1 + (f/fc)^4); 1 when the
    cutoff is 0)."""
    f = np.asarray(f_hz, np.float64)
    if cutoff_hz <= 0:
        return np.ones_like(f)
    q = (f / cutoff_hz) ** 4
    return q / (1 + q)


def noise_highpass(noise: np.ndarray, f0_hz: np.ndarray, ratio: float, frame_rate: float,
                   sample_rate: float) -> np.ndarray:
    """The filtered noise [n] of one note through the high-pass at `ratio` × each frame's f0, the
    cutoff set at the start of each frame's hop of samples and the filter's state carried across
    (transposed direct form II, as the engine runs it); ratio 0 returns the noise unchanged, and a
    frame whose cutoff is below HIGHPASS_MIN_CUTOFF_HZ passes its samples unfiltered (the state waits)."""
    from scipy.signal import lfilter

    x = np.asarray(noise, np.float64)
    if ratio <= 0:
        return x.astype(np.float32)
    hop = int(round(sample_rate / frame_rate))
    out = np.empty_like(x)
    state = np.zeros(2)
    for n in range(0, (len(x) + hop - 1) // hop):
        f0 = float(f0_hz[min(n, len(f0_hz) - 1)])
        chunk = slice(n * hop, min(len(x), (n + 1) * hop))
        if not ratio * f0 >= HIGHPASS_MIN_CUTOFF_HZ:
            out[chunk] = x[chunk]
            continue
        b, a = highpass_coefficients(ratio * f0, sample_rate)
        out[chunk], state = lfilter(b, a, x[chunk], zi=state)
    return out.astype(np.float32)


def fft_convolve(audio: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
    """Linear convolution of audio [B, T] with a single impulse response [L], truncated to T."""
    n = audio.shape[-1] + ir.shape[-1] - 1
    n_fft = 1 << (n - 1).bit_length()
    y = torch.fft.irfft(torch.fft.rfft(audio, n=n_fft) * torch.fft.rfft(ir, n=n_fft), n=n_fft)
    return y[..., : audio.shape[-1]]


def a_weighting_db(freqs_hz: np.ndarray) -> np.ndarray:
    """IEC 61672 A-weighting in dB (0 dB at 1 kHz)."""
    f2 = np.maximum(np.asarray(freqs_hz, dtype=np.float64), 1e-6) ** 2
    ra = (12194.0**2 * f2**2) / ((f2 + 20.6**2) * np.sqrt((f2 + 107.7**2) * (f2 + 737.9**2)) * (f2 + 12194.0**2))
    return 20.0 * np.log10(np.maximum(ra, 1e-20)) + 2.0


LOUDNESS_N_FFT_S = 0.064  # loudness STFT window in seconds (2048 at 32 kHz)


def loudness_db(audio: np.ndarray | torch.Tensor, sample_rate: int, frame_rate: int, n_frames: int | None = None) -> np.ndarray:
    """A-weighted loudness per frame in dB, DDSP-style, calibrated so a full-scale sine at 1 kHz reads 0 dB.

    Frame n is centred at sample n * hop (the signal is zero-padded at both ends). The power
    spectrum of a Hann window is A-weighted and averaged over bins (in power); a 1 kHz sine of
    amplitude 1 gives 0 dB. Values are floored at -120 dB.
    """
    x = torch.as_tensor(np.asarray(audio, dtype=np.float32))
    if x.dim() == 1:
        x = x[None]
    hop = sample_rate // frame_rate
    n_fft = int(round(LOUDNESS_N_FFT_S * sample_rate))
    n_fft += n_fft % 2
    window = torch.hann_window(n_fft, periodic=True)
    spec = torch.stft(x, n_fft=n_fft, hop_length=hop, window=window, center=True, pad_mode="constant", return_complex=True)
    power = spec.abs().pow(2).double()  # [B, bins, frames]
    freqs = np.arange(n_fft // 2 + 1) * sample_rate / n_fft
    w = torch.as_tensor(10.0 ** (a_weighting_db(freqs) / 10.0))
    weighted = (power * w[None, :, None]).mean(1)
    # calibration: a unit sine gives bin power (sum(window)/2)^2 spread over ~ the window's
    # main lobe; the mean over bins of the sum equals sum(w^2) * A^2 / 2 / n_bins by Parseval.
    ref = (window.double().pow(2).sum() * 0.5 * (n_fft / 2) / (n_fft // 2 + 1)).item()
    ld = 10.0 * torch.log10(weighted / ref + 1e-12)
    ld = torch.clamp(ld, min=-120.0)
    out = ld.numpy().astype(np.float32)
    if n_frames is not None:
        if out.shape[-1] < n_frames:
            out = np.pad(out, ((0, 0), (0, n_frames - out.shape[-1])), constant_values=-120.0)
        out = out[..., :n_frames]
    return out[0] if np.ndim(audio) == 1 else out


class MultiScaleSpectralLoss(torch.nn.Module):
    """Sum over FFT sizes of mean |S - S^| + log_weight * mean |log S - log S^| (DDSP)."""

    def __init__(self, fft_sizes=(2048, 1024, 512, 256, 128, 64), log_weight: float = 1.0):
        super().__init__()
        self.fft_sizes = tuple(fft_sizes)
        self.log_weight = log_weight
        for n in self.fft_sizes:
            self.register_buffer(f"win{n}", torch.hann_window(n), persistent=False)

    def forward(self, target: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
        loss = torch.zeros((), dtype=pred.dtype, device=pred.device)
        for n in self.fft_sizes:
            win = getattr(self, f"win{n}")
            st = torch.stft(target, n, hop_length=n // 4, window=win, return_complex=True).abs()
            sp = torch.stft(pred, n, hop_length=n // 4, window=win, return_complex=True).abs()
            loss = loss + (st - sp).abs().mean()
            loss = loss + self.log_weight * (torch.log(st + 1e-5) - torch.log(sp + 1e-5)).abs().mean()
        return loss


def mel_matrix(sample_rate: float, n_fft: int, n_mels: int, lo_hz: float = 30.0) -> np.ndarray:
    """Triangular mel filterbank [n_mels, n_fft // 2 + 1] from lo_hz to Nyquist (HTK mel scale)."""
    def hz2mel(f):
        return 2595 * np.log10(1 + np.asarray(f, float) / 700)

    def mel2hz(m):
        return 700 * (10 ** (np.asarray(m, float) / 2595) - 1)

    pts = mel2hz(np.linspace(hz2mel(lo_hz), hz2mel(sample_rate / 2), n_mels + 2))
    freqs = np.arange(n_fft // 2 + 1) * sample_rate / n_fft
    m = np.zeros((n_mels, len(freqs)))
    for i in range(n_mels):
        lo, c, hi = pts[i], pts[i + 1], pts[i + 2]
        m[i] = np.clip(np.minimum((freqs - lo) / (c - lo), (hi - freqs) / (hi - c)), 0, None)
    return m


class SpectralMotionLoss(torch.nn.Module):
    """How much the spectrum moves during a note, compared by statistics rather than frame by frame.

    Per mel band (log power in dB, floored `floor_db` below the crop's peak), over the frames
    where the target is within `active_db` of its loudest: the standard deviation over time and
    the standard deviation of the frame-to-frame change, of target and prediction, compared by L1
    (dB). A frame-aligned spectral loss punishes a modulation (a piano's beating unison strings,
    an organ's ranks) whose phase is off more than it punishes none at all, which pushes a
    decoder trained on it alone towards a steadier spectrum than the real note's; this loss does
    not care about the phase, only that the spectrum moves as much, and as fast, as the real
    note's. Session 5 measured it (training/reports/default/TRAINING.md); its weight is 0 by default.
    """

    def __init__(self, sample_rate: float, scales=((2048, 512), (512, 128)), n_mels: int = 64,
                 floor_db: float = 80.0, active_db: float = 30.0):
        super().__init__()
        self.scales = tuple(scales)
        self.floor_db, self.active_db = floor_db, active_db
        for n, _ in self.scales:
            self.register_buffer(f"win{n}", torch.hann_window(n), persistent=False)
            self.register_buffer(f"mel{n}", torch.as_tensor(mel_matrix(sample_rate, n, n_mels), dtype=torch.float32),
                                 persistent=False)

    def _log_mel(self, x: torch.Tensor, n: int, hop: int) -> torch.Tensor:
        s = torch.stft(x, n, hop_length=hop, window=getattr(self, f"win{n}"), return_complex=True).abs().pow(2)
        lm = 10.0 * torch.log10(getattr(self, f"mel{n}") @ s + 1e-12)  # [B, mels, frames]
        peak = lm.amax(dim=(1, 2), keepdim=True).detach()
        return torch.maximum(lm, peak - self.floor_db)

    @staticmethod
    def _stats(lm: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Weighted std over time of lm [B, M, T] and of its frame-to-frame change, frames weighted by w [B, T]."""
        def wstd(v, ww):
            n = ww.sum(-1, keepdim=True).clamp_min(1.0)
            mean = (v * ww[:, None]).sum(-1) / n
            var = (((v - mean[..., None]) ** 2) * ww[:, None]).sum(-1) / n
            return (var + 1e-6).sqrt()

        d = lm[..., 1:] - lm[..., :-1]
        return wstd(lm, w), wstd(d, w[:, 1:] * w[:, :-1])

    def forward(self, target: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
        loss = torch.zeros((), dtype=pred.dtype, device=pred.device)
        for n, hop in self.scales:
            lt, lp = self._log_mel(target, n, hop), self._log_mel(pred, n, hop)
            level = lt.amax(1)
            w = (level > level.amax(-1, keepdim=True) - self.active_db).to(lt.dtype)
            st, dt = self._stats(lt, w)
            sp, dp = self._stats(lp, w)
            loss = loss + (st - sp).abs().mean() + (dt - dp).abs().mean()
        return loss
