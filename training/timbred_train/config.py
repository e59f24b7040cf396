"""Model and training configuration: every size and scaling the engine must agree on.

The values in `ModelConfig` travel into the exported model's metadata (see docs/model-format.md),
so the Swift engine never hard-codes them.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

FORMAT_VERSION = 2  # 2: the decoder also reads the note (velocity, time since note-on / note-off)

# GM programs (0-based) of the default instrument set: at least one per family.
DEFAULT_INSTRUMENTS: list[tuple[str, int, int, int]] = [
    # name, GM program (0-based), lowest MIDI note, highest MIDI note
    ("piano", 0, 21, 108),
    ("electric_piano", 4, 28, 103),
    ("harpsichord", 6, 29, 89),
    ("vibraphone", 11, 53, 89),
    ("marimba", 12, 45, 96),
    ("church_organ", 19, 24, 96),
    ("nylon_guitar", 24, 40, 83),
    ("acoustic_bass", 32, 28, 67),
    ("violin", 40, 55, 100),
    ("cello", 42, 36, 76),
    ("trumpet", 56, 54, 86),
    ("trombone", 57, 40, 72),
    ("french_horn", 60, 34, 77),
    ("alto_sax", 65, 49, 81),
    ("oboe", 68, 58, 91),
    ("clarinet", 71, 50, 91),
    ("flute", 73, 60, 96),
    ("choir_aahs", 52, 48, 79),
]


@dataclass
class ModelConfig:
    """Sizes and scalings of a timbre-space DDSP model."""

    sample_rate: int = 48000  # the model's rate; a dataset at another rate sets its own (cli._model_config)
    frame_rate: int = 100  # decoder frames per second; hop = sample_rate / frame_rate
    n_harmonics: int = 100
    n_noise_bands: int = 65
    z_dim: int = 8
    mlp_units: int = 128
    mlp_layers: int = 2
    gru_units: int = 192
    leaky_relu_slope: float = 0.2
    layer_norm_eps: float = 1e-5
    noise_bias: float = -5.0  # added to the noise logits before exp_sigmoid (DDSP's initial_bias)
    db_range: float = 120.0  # loudness scaling: ld_scaled = ld_db / db_range + 1
    reverb_seconds: float = 1.0
    # note inputs (format 2): velocity / 127, exp(-t_on / tau) for each tau of note_on_taus_s, a
    # released flag, and released * exp(-t_off / tau) for each tau of note_off_taus_s: what the
    # engine knows of a note, so the decoder can make its strike, decay and release itself
    note_on_taus_s: tuple[float, ...] = (0.005, 0.02, 0.08, 0.3, 1.0, 3.0)
    note_off_taus_s: tuple[float, ...] = (0.02, 0.1, 0.4, 1.5)
    # encoder features: log-magnitude spectrum on a pitch-relative log-frequency axis
    enc_bins_per_octave: int = 24
    enc_octaves_below: int = 1
    enc_octaves_above: int = 5
    enc_n_fft: int = 2048
    enc_segments_s: tuple[float, ...] = (0.0, 0.05, 0.25, 1.0, 2.0)
    enc_units: int = 256
    # loudness envelope tables
    env_pitches: tuple[int, ...] = (24, 36, 48, 60, 72, 84, 96, 108)
    env_velocities: tuple[int, ...] = (16, 40, 80, 120, 127)
    env_hold_s: float = 3.0
    env_release_s: float = 1.0
    instruments: list[str] = field(default_factory=list)

    @property
    def hop(self) -> int:
        return self.sample_rate // self.frame_rate

    @property
    def band_limit_hz(self) -> float:
        return self.sample_rate / 2.0

    @property
    def n_note_inputs(self) -> int:
        return 2 + len(self.note_on_taus_s) + len(self.note_off_taus_s)

    @property
    def enc_bins(self) -> int:
        return self.enc_bins_per_octave * (self.enc_octaves_below + self.enc_octaves_above)

    @property
    def enc_features(self) -> int:
        n_seg = len(self.enc_segments_s) - 1
        return n_seg * self.enc_bins + n_seg

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @staticmethod
    def from_dict(d: dict) -> "ModelConfig":
        known = {f.name for f in dataclasses.fields(ModelConfig)}
        kw = {k: v for k, v in d.items() if k in known}
        for k in ("enc_segments_s", "env_pitches", "env_velocities", "note_on_taus_s", "note_off_taus_s"):
            if k in kw:
                kw[k] = tuple(kw[k])
        return ModelConfig(**kw)


@dataclass
class TrainConfig:
    """Optimisation settings; not part of the exported model."""

    seed: int = 1234
    regression_steps: int = 6000
    spectral_steps: int = 3000
    batch_regression: int = 16
    batch_spectral: int = 6
    crop_frames: int = 128
    lr: float = 1e-3
    kl_weight: float = 0.05
    invariance_weight: float = 1.0
    prior_weight: float = 0.01
    checkpoint_every: int = 250
    fft_sizes: tuple[int, ...] = (2048, 1024, 512, 256, 128, 64)
    motion_weight: float = 0.0  # weight of dsp.SpectralMotionLoss in the spectral stage
    band_weight: float = 1.0  # weight of the 1/3-octave band-power term of the regression (train.regression_loss)
    mix_weight: float = 0.0  # weight of the latent-mixup term of the regression (train.mixup_loss)
    mix_crop_frames: int = 0  # frames of the mixup's notes from the note-on (0: the regression crop)
    freeze_latent: bool = False  # keep the encoder and latent means (the presets) as they are
    onset_weight: float = 3.0  # the regression weighs frame t by 1 + onset_weight · exp(-t / 100 ms)
    # the room's parameters (level in dB, log decay time) learn at lr × this: Adam moves a
    # parameter by about lr per step, and 1e-3 dB per step left the room at its initial level
    room_lr_scale: float = 300.0
