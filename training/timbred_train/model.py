"""The timbre-space DDSP model: a GMVAE timbre encoder and an RnnFcDecoder-family DDSP decoder.

Tensor names here are the names in the exported file (docs/model-format.md), so the exporter is a
plain state_dict dump plus metadata.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import dsp
from .config import ModelConfig


class MLP(nn.Module):
    """Stack of (Linear -> LayerNorm -> LeakyReLU) layers."""

    def __init__(self, n_in: int, units: int, layers: int, slope: float, eps: float):
        super().__init__()
        self.layers = nn.ModuleList()
        for i in range(layers):
            self.layers.append(nn.ModuleDict({
                "dense": nn.Linear(n_in if i == 0 else units, units),
                "norm": nn.LayerNorm(units, eps=eps),
            }))
        self.slope = slope

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = F.leaky_relu(layer["norm"](layer["dense"](x)), self.slope)
        return x


def note_inputs(cfg: ModelConfig, velocity: torch.Tensor, t_on_s: torch.Tensor,
                t_off_s: torch.Tensor | None = None) -> torch.Tensor:
    """The decoder's note input per frame (docs/model-format.md, "Note input").

    velocity: [B] (MIDI 1-127); t_on_s: [B, N] seconds since note-on (already divided by the
    attack scale); t_off_s: [B, N] seconds since note-off (divided by the release scale), < 0
    while the note is held, or None for a held note. Returns [B, N, n_note_inputs]:
    velocity / 127, exp(-t_on / tau) per tau of note_on_taus_s, released (0/1), and
    released * exp(-t_off / tau) per tau of note_off_taus_s.
    """
    t_on = t_on_s.clamp(min=0.0)
    if t_off_s is None:
        t_off_s = torch.full_like(t_on, -1.0)
    released = (t_off_s >= 0).to(t_on.dtype)
    t_off = t_off_s.clamp(min=0.0)
    cols = [(velocity.to(t_on.dtype) / 127.0)[:, None].expand_as(t_on)]
    cols += [torch.exp(-t_on / tau) for tau in cfg.note_on_taus_s]
    cols.append(released)
    cols += [released * torch.exp(-t_off / tau) for tau in cfg.note_off_taus_s]
    return torch.stack(cols, -1)


def note_times(n_frames: int, frame_rate: int, hold_frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Seconds since note-on and since note-off (negative while held) of frames 0..n_frames-1 of
    notes released after hold_frames[b] frames: ([B, N], [B, N])."""
    t = torch.arange(n_frames, dtype=torch.float32)[None, :] / frame_rate
    off = hold_frames.to(torch.float32)[:, None] / frame_rate
    return t.expand(len(hold_frames), -1), t - off


class Decoder(nn.Module):
    """f0, loudness, the note and z per frame -> raw controls (amplitude, harmonic distribution,
    noise logits).

    Inputs are scaled as f0_scaled = midi(f0) / 127 and ld_scaled = ld_db / db_range + 1; the
    note input comes from `note_inputs`. The loudness is the engine's prior (the learned envelope
    tables); the note input lets the decoder shape the strike, decay and release around it.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        u, n, s, e = cfg.mlp_units, cfg.mlp_layers, cfg.leaky_relu_slope, cfg.layer_norm_eps
        self.cfg = cfg
        self.f0_mlp = MLP(1, u, n, s, e)
        self.ld_mlp = MLP(1, u, n, s, e)
        self.z_mlp = MLP(cfg.z_dim, u, n, s, e)
        self.note_mlp = MLP(cfg.n_note_inputs, u, n, s, e)
        self.gru = nn.GRU(4 * u, cfg.gru_units, batch_first=True)
        self.out_mlp = MLP(cfg.gru_units + 4 * u, u, n, s, e)
        self.out = nn.Linear(u, 1 + cfg.n_harmonics + cfg.n_noise_bands)

    def scale_inputs(self, f0_hz: torch.Tensor, ld_db: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return dsp.hz_to_midi(f0_hz) / 127.0, ld_db / self.cfg.db_range + 1.0

    def forward(self, f0_hz: torch.Tensor, ld_db: torch.Tensor, note: torch.Tensor, z: torch.Tensor,
                state: torch.Tensor | None = None, return_layers: bool = False):
        """f0_hz, ld_db: [B, N]; note: [B, N, n_note_inputs]; z: [B, z_dim] or [B, N, z_dim].
        Returns raw outputs [B, N, 1+K+Bands]."""
        f0s, lds = self.scale_inputs(f0_hz, ld_db)
        if z.dim() == 2:
            z = z[:, None, :].expand(-1, f0_hz.shape[1], -1)
        hf = self.f0_mlp(f0s[..., None])
        hl = self.ld_mlp(lds[..., None])
        hz = self.z_mlp(z)
        hn = self.note_mlp(note)
        x = torch.cat([hf, hl, hz, hn], -1)
        g, state = self.gru(x, state)
        y = self.out_mlp(torch.cat([g, hf, hl, hz, hn], -1))
        raw = self.out(y)
        if return_layers:
            return raw, {"f0_mlp": hf, "ld_mlp": hl, "z_mlp": hz, "note_mlp": hn, "gru": g, "out_mlp": y, "raw": raw}
        return raw

    def controls(self, raw: torch.Tensor, f0_hz: torch.Tensor) -> dict[str, torch.Tensor]:
        """Scale raw outputs into synthesiser controls (muting harmonics above the band limit)."""
        k = self.cfg.n_harmonics
        amplitude = dsp.exp_sigmoid(raw[..., :1])
        dist = dsp.exp_sigmoid(raw[..., 1:1 + k])
        noise = dsp.exp_sigmoid(raw[..., 1 + k:] + self.cfg.noise_bias)
        harm = dsp.harmonic_amplitudes(amplitude, dist, f0_hz, self.cfg.band_limit_hz)
        return {"amplitude": amplitude, "distribution": dist, "harmonics": harm, "noise": noise}


class Encoder(nn.Module):
    """Pitch-relative spectral features of a note -> Gaussian posterior (mu, logvar) over z."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.mlp = MLP(cfg.enc_features, cfg.enc_units, 2, cfg.leaky_relu_slope, cfg.layer_norm_eps)
        self.out = nn.Linear(cfg.enc_units, 2 * cfg.z_dim)
        self.z_dim = cfg.z_dim

    def forward(self, feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.out(self.mlp(feats))
        return h[..., : self.z_dim], h[..., self.z_dim:].clamp(-12.0, 4.0)


class Reverb(nn.Module):
    """The learned room: an impulse response built from band-limited noise with a learned level
    and decay time per band, faded in over its first milliseconds; sample 0 (the direct path) is 0.

    A free-form learned IR (one parameter per sample) tends to grow a strong early reflection that
    colours every note like a comb filter; this form can only add a diffuse tail, and a dry
    training set simply drives its levels down. Exported as plain samples (`reverb.ir`), so the
    engine does not know or care how it was parameterised. A model loaded from a file holds its
    IR in `fixed` instead.
    """

    BANDS = 12

    def __init__(self, n_ir: int, sample_rate: int):
        super().__init__()
        self.n_ir, self.sample_rate = n_ir, sample_rate
        g = torch.Generator().manual_seed(8)
        spec = torch.fft.rfft(torch.randn(max(n_ir, 2), generator=g))
        freqs = torch.fft.rfftfreq(max(n_ir, 2), 1.0 / sample_rate)
        edges = torch.logspace(math.log10(60.0), math.log10(sample_rate / 2), self.BANDS + 1)
        edges[0], edges[-1] = 0.0, sample_rate  # first band from DC, last up to Nyquist
        bands = []
        for b in range(self.BANDS):
            x = torch.fft.irfft(spec * ((freqs >= edges[b]) & (freqs < edges[b + 1])), max(n_ir, 2))[:n_ir]
            bands.append(x / (x.std() + 1e-9))
        self.register_buffer("band_noise", torch.stack(bands), persistent=False)
        self.register_buffer("t", torch.arange(n_ir) / sample_rate, persistent=False)
        self.level_db = nn.Parameter(torch.full((self.BANDS,), -45.0))
        self.log_t60_s = nn.Parameter(torch.full((self.BANDS,), math.log(0.6)))
        self.fixed: torch.Tensor | None = None

    def forward(self) -> torch.Tensor:
        if self.fixed is not None:
            return self.fixed
        t60 = self.log_t60_s.exp().clamp(0.05, 4.0)
        decay = torch.exp(-6.907755 * self.t[None, :] / t60[:, None])  # -60 dB at t60
        level = torch.pow(10.0, self.level_db / 20.0)
        ir = (level[:, None] * decay * self.band_noise).sum(0) * (1.0 - torch.exp(-self.t / 0.004))
        return torch.cat([torch.zeros(1, device=ir.device), ir[1:]])


class TimbreDDSP(nn.Module):
    """Encoder + Gaussian-mixture prior (one component per instrument) + decoder + reverb."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        n_inst = max(1, len(cfg.instruments))
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        # mixture components, spread on init so instruments start apart
        g = torch.Generator().manual_seed(7)
        self.prior_mu = nn.Parameter(torch.randn(n_inst, cfg.z_dim, generator=g) * 1.5)
        self.prior_logvar = nn.Parameter(torch.full((n_inst, cfg.z_dim), math.log(0.1)))
        self.reverb = Reverb(int(cfg.reverb_seconds * cfg.sample_rate), cfg.sample_rate)

    def ir(self) -> torch.Tensor:
        """The reverb impulse response with the direct path excluded (sample 0 is 0; dry is added)."""
        return self.reverb()

    def synthesize(self, controls: dict[str, torch.Tensor], f0_hz: torch.Tensor, white: torch.Tensor,
                   sample_rate: float | None = None, reverb: bool = True) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        sr = sample_rate or cfg.sample_rate
        n_samples = int(f0_hz.shape[1] * sr / cfg.frame_rate)
        harm = dsp.harmonic_synth(f0_hz, controls["harmonics"], cfg.frame_rate, sr, n_samples)
        noise = dsp.filtered_noise(controls["noise"], white, cfg.frame_rate, sr, cfg.band_limit_hz)
        dry = harm + noise
        out = dry + dsp.fft_convolve(dry, self.ir()) if reverb else dry
        return {"harmonic": harm, "noise": noise, "dry": dry, "audio": out}

    def kl_to_component(self, mu: torch.Tensor, logvar: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        """KL( N(mu, var) || N(prior_mu[label], prior_var[label]) ), summed over z, mean over batch."""
        pm, plv = self.prior_mu[label], self.prior_logvar[label]
        kl = 0.5 * (plv - logvar + (logvar.exp() + (mu - pm) ** 2) / plv.exp() - 1.0)
        return kl.sum(-1).mean()

    def component_log_likelihood(self, z: torch.Tensor) -> torch.Tensor:
        """log N(z; mu_k, var_k) for every component k: [B, K]."""
        mu, lv = self.prior_mu[None], self.prior_logvar[None]
        return -0.5 * (((z[:, None, :] - mu) ** 2) / lv.exp() + lv + math.log(2 * math.pi)).sum(-1)
