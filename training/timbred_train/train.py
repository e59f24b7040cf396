"""Training loop: warm start by regression onto analysed harmonic and noise amplitudes, then
end-to-end training through the synthesiser with the multi-scale spectral loss. Both stages carry
the GMVAE terms (KL to the instrument's component, component classification) and the pitch and
velocity invariance term on pairs of notes of the same instrument. A fine-tune can add the
latent mixup (`mixup_loss`): the decoder along straight paths between instruments, so a morph
moves evenly and arrives.
"""
from __future__ import annotations

import json
import math
import random
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from . import dsp
from .cache import NoteSet
from .config import ModelConfig, TrainConfig
from .errors import UserError
from .envelope import fit_envelopes, instrument_courses, note_priors
from .model import TimbreDDSP, note_inputs

LOG_FLOOR = 1e-4  # -80 dB floor for log-amplitude regression
ONSET_EMPHASIS_S = 0.1  # regression weight 1 + onset_weight · exp(-t_on / 100 ms) (TrainConfig.onset_weight)


class Batcher:
    """Draws pairs of notes (same instrument, other pitch or velocity) and frame crops."""

    def __init__(self, notes: NoteSet, indices: np.ndarray, rng: np.random.Generator):
        self.notes, self.idx, self.rng = notes, indices, rng
        self.by_inst: dict[int, np.ndarray] = {}
        for i in indices:
            self.by_inst.setdefault(int(notes.instrument[i]), []).append(int(i))
        self.by_inst = {k: np.asarray(v) for k, v in self.by_inst.items()}

    def pairs(self, n_pairs: int) -> np.ndarray:
        a = self.rng.choice(self.idx, n_pairs)
        b = np.array([self.rng.choice(self.by_inst[int(self.notes.instrument[i])]) for i in a])
        return np.concatenate([a, b])

    def partners(self, idx: np.ndarray) -> np.ndarray:
        """For each note, a note of another instrument (drawn at random) at the same velocity and
        the nearest pitch: the other end of a latent mixup (`mixup_loss`)."""
        if not hasattr(self, "by_inst_vel"):
            self.by_inst_vel = {}
            for i in self.idx:
                key = (int(self.notes.instrument[i]), int(self.notes.velocity[i]))
                self.by_inst_vel.setdefault(key, []).append(int(i))
            self.by_inst_vel = {k: np.asarray(v) for k, v in self.by_inst_vel.items()}
        out = np.empty(len(idx), int)
        for n, a in enumerate(idx):
            vel, inst = int(self.notes.velocity[a]), int(self.notes.instrument[a])
            others = [k for k in self.by_inst if k != inst and (k, vel) in self.by_inst_vel]
            cand = self.by_inst_vel[(int(self.rng.choice(others)), vel)]
            dist = np.abs(self.notes.pitch[cand] - self.notes.pitch[a])
            out[n] = self.rng.choice(cand[dist == dist.min()])
        return out

    def crops(self, n: int, crop: int, n_frames: int) -> np.ndarray:
        starts = self.rng.integers(0, n_frames - crop + 1, n)
        onset = self.rng.random(n) < 0.5
        return np.where(onset, 0, starts)


def gather(notes: NoteSet, prior_ld: np.ndarray, cfg: ModelConfig, idx: np.ndarray, starts: np.ndarray, crop: int,
           audio: bool = False, onset_weight: float = 3.0):
    """A batch of crops: tracked f0, the engine's loudness prior and note input (what the decoder
    is fed when the note is played from MIDI), the analysed targets, and optionally the audio."""
    fr = np.arange(crop)[None, :] + starts[:, None]
    t_on = torch.as_tensor(fr / cfg.frame_rate, dtype=torch.float32)
    t_off = t_on - torch.as_tensor(notes.hold_frames[idx] / cfg.frame_rate, dtype=torch.float32)[:, None]
    hop = cfg.hop
    out = {
        "f0": torch.as_tensor(notes.f0_hz[idx[:, None], fr]),
        "ld": torch.as_tensor(prior_ld[idx[:, None], fr]),
        "note": note_inputs(cfg, torch.as_tensor(notes.velocity[idx]), t_on, t_off),
        # the first 100 ms weigh up to 4× in the regression: a strike is a few frames of a crop,
        # and what a player hears first
        "onset_w": 1.0 + onset_weight * torch.exp(-t_on / ONSET_EMPHASIS_S),
        "start_s": t_on[:, 0],
        "harm": torch.as_tensor(notes.harmonics[idx[:, None], fr].astype(np.float32)),
        "noise": torch.as_tensor(notes.noise[idx[:, None], fr].astype(np.float32)),
        "noise_w": torch.as_tensor(notes.noise_weight[idx[:, None], fr]),
        "enc": torch.as_tensor(notes.encoder[idx]),
        "label": torch.as_tensor(notes.instrument[idx]).long(),
    }
    if audio:
        smp = np.arange(crop * hop)[None, :] + (starts * hop)[:, None]
        out["audio"] = torch.as_tensor(notes.audio[idx[:, None], smp])
    return out


def latent_terms(model: TimbreDDSP, b: dict, tc: TrainConfig, n_pairs: int):
    mu, logvar = model.encoder(b["enc"])
    z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
    kl = model.kl_to_component(mu, logvar, b["label"])
    inv = ((mu[:n_pairs] - mu[n_pairs:]) ** 2).sum(-1).mean()
    cls = F.cross_entropy(model.component_log_likelihood(z), b["label"])
    prior = (model.prior_mu ** 2).mean()
    loss = tc.kl_weight * kl + tc.invariance_weight * inv + 0.1 * cls + tc.prior_weight * prior
    return z, loss, {"kl": kl.item(), "inv": inv.item(), "cls": cls.item()}


def band_power(harmonics: torch.Tensor, noise: torch.Tensor, f0_hz: torch.Tensor, cfg: ModelConfig,
               edges_hz: torch.Tensor) -> torch.Tensor:
    """The power of the synthesiser's output in frequency bands, per frame, from its controls:
    harmonic k (amplitude A_k at k·f0) adds A_k²/2 to the band holding k·f0; noise band j
    (magnitude m_j over its equal share of 0…band_limit) adds m_j²/3 (uniform white noise's
    variance) times the share of the band it overlaps, as a fraction of the whole spectrum.
    harmonics [B, T, K], noise [B, T, J], f0 [B, T] → [B, T, len(edges) - 1]."""
    k = torch.arange(1, harmonics.shape[-1] + 1, device=harmonics.device, dtype=harmonics.dtype)
    freqs = f0_hz[..., None] * k
    n_bands = len(edges_hz) - 1
    which = torch.bucketize(freqs, edges_hz) - 1  # -1 below the first edge, n_bands above the last
    valid = (which >= 0) & (which < n_bands)
    hp = torch.zeros(*harmonics.shape[:-1], n_bands + 1, device=harmonics.device, dtype=harmonics.dtype)
    hp.scatter_add_(-1, torch.where(valid, which, torch.full_like(which, n_bands)), 0.5 * harmonics ** 2)
    j = noise.shape[-1]
    width = cfg.band_limit_hz / j
    lo = torch.arange(j, device=noise.device, dtype=noise.dtype) * width
    overlap = (torch.minimum(lo[:, None] + width, edges_hz[None, 1:]) - torch.maximum(lo[:, None], edges_hz[None, :-1]))
    share = overlap.clamp(min=0) / cfg.band_limit_hz  # [J, bands]
    return hp[..., :n_bands] + (noise ** 2 / 3.0) @ share


def audio_band_power(audio: torch.Tensor, cfg: ModelConfig, edges_hz: torch.Tensor) -> torch.Tensor:
    """The mean power of recorded audio [B, N] in frequency bands: a Hann-windowed one-sided
    periodogram scaled so that a sinusoid of amplitude A gives A²/2 and the bands sum to the
    signal's mean power, as `band_power` counts it. → [B, len(edges) - 1]"""
    n = audio.shape[-1]
    window = torch.hann_window(n, periodic=False, device=audio.device, dtype=audio.dtype)
    spec = torch.fft.rfft(audio * window).abs() ** 2 * (2.0 / (n * (window ** 2).sum()))
    freqs = torch.fft.rfftfreq(n, 1.0 / cfg.sample_rate).to(audio.device)
    which = torch.bucketize(freqs, edges_hz) - 1
    n_bands = len(edges_hz) - 1
    valid = (which >= 0) & (which < n_bands)
    out = torch.zeros(audio.shape[0], n_bands + 1, device=audio.device, dtype=audio.dtype)
    out.scatter_add_(-1, torch.where(valid, which, torch.full_like(which, n_bands)).expand_as(spec), spec)
    return out[:, :n_bands]


def band_edges_hz(cfg: ModelConfig, device) -> torch.Tensor:
    """1/3-octave band edges from 45 Hz to the band limit (the top band ends there)."""
    n = int(math.floor(3 * math.log2(cfg.band_limit_hz / 45.0)))
    edges = [45.0 * 2 ** (i / 3) for i in range(n + 1)]
    edges[-1] = cfg.band_limit_hz
    return torch.tensor(edges, device=device)


def regression_loss(model: TimbreDDSP, b: dict, z: torch.Tensor, band_weight: float = 0.0) -> tuple[torch.Tensor, dict]:
    """Log-amplitude L1 of every harmonic and noise band against the analysis, and (band_weight)
    the L1 of the log power in 1/3-octave bands over the crop, each relative to its total, the
    synthesiser's (from its controls, `band_power`) against the recording's (`audio_band_power`;
    needs b["audio"]), on the crops that do not start at the note-on.
    The per-partial L1 fits the median of each partial's log amplitude, which sits below its mean
    power where the partial flickers (high partials, breathy noise), and the analysis spreads the
    lowest noise band's power evenly down to 0 Hz: the band term fits the power a listener hears
    in each band, so the top octaves do not come out dull nor the bass noisy."""
    raw = model.decoder(b["f0"], b["ld"], b["note"], z)
    c = model.decoder.controls(raw, b["f0"])
    w = b["onset_w"][..., None]
    lh = ((torch.log(c["harmonics"] + LOG_FLOOR) - torch.log(b["harm"] + LOG_FLOOR)).abs() * w).mean()
    ln = ((torch.log(c["noise"] + LOG_FLOOR) - torch.log(b["noise"] + LOG_FLOOR)).abs() * b["noise_w"] * w).mean()
    logs = {"harm": lh.item(), "noise": ln.item()}
    total = lh + 0.5 * ln
    if band_weight > 0:
        cfg = model.cfg
        edges = band_edges_hz(cfg, c["harmonics"].device)
        pred = band_power(c["harmonics"], c["noise"], b["f0"], cfg, edges).mean(1)
        want = audio_band_power(b["audio"], cfg, edges)
        # the spectrum's shape, each side relative to its own total: the level stays the per-partial
        # term's (where the analysis and the recording disagree on a note's power, as for the
        # mallets' inharmonic partials, a level term pulls the strike down to a slow swell)
        floor = 1e-8
        pred = pred / (pred.sum(-1, keepdim=True) + floor)
        want = want / (want.sum(-1, keepdim=True) + floor)
        lb = 0.5 * (torch.log(pred + floor) - torch.log(want + floor)).abs().mean(-1)  # in log-amplitude units
        # crops from the note-on leave the strike to the per-partial term: a strike's broadband
        # click is no harmonic-plus-noise shape, and fitting one pulled the first frames down
        lb = (lb * (b["start_s"] > 0)).mean()
        logs["bands"] = lb.item()
        total = total + band_weight * lb
    return total, logs


def mixup_loss(model: TimbreDDSP, a: dict, b: dict, courses: torch.Tensor, scale: float,
               ends: torch.Tensor | None = None, times: torch.Tensor | None = None) -> tuple[torch.Tensor, dict]:
    """The decoder along straight latent paths between two instruments (a morph): for notes `a`
    and partners `b` (another instrument, same velocity, nearest pitch, same frames), z moves
    linearly from (1 - l0)·mu_a + l0·mu_b to (1 - l1)·mu_a + l1·mu_b over the crop (l0, l1
    uniform in [0, 1]; mu the instruments' latent means, where the presets sit), the decoder is
    fed a's f0 and note input and the loudness prior the engine computes at each z (its blend
    weights times every instrument's course, `courses` [B, N, I]), and its controls are held to
    the same mixture of the two notes' analysed log amplitudes (per harmonic and noise band).
    Trained only at the latent means, the decoder switched timbre in steps between them and kept
    the old one while z moved (a GRU latch); this term makes a morph move evenly and arrive.
    `ends` [B, 2] gives (l0, l1) instead of drawing them; `times` [B, 2] (fractions of the crop,
    default 0 and 1) where the move starts and ends: l0 before, l1 after, so the decoder also
    learns to arrive and stay while the note goes on."""
    mu = model.prior_mu.detach()
    n, crop = a["f0"].shape
    if ends is None:
        # half of them a whole morph, A to B (what the knob does from end to end), the rest
        # anywhere along the path
        ends = torch.rand(n, 2, device=a["f0"].device)
        whole = torch.rand(n, device=ends.device) < 0.5
        ends = torch.where(whole[:, None], torch.tensor([0.0, 1.0], device=ends.device), ends)
    if times is None:
        times = torch.tensor([[0.0, 1.0]], device=ends.device).expand(n, 2)
    frac = torch.linspace(0, 1, crop, device=ends.device)[None, :]
    ramp = ((frac - times[:, :1]) / (times[:, 1:] - times[:, :1]).clamp(min=1e-6)).clamp(0.0, 1.0)
    lam = ends[:, :1] + (ends[:, 1:] - ends[:, :1]) * ramp
    za, zb = mu[a["label"]], mu[b["label"]]
    z = za[:, None, :] + lam[..., None] * (zb - za)[:, None, :]
    d2 = ((z[:, :, None, :] - mu[None, None]) ** 2).sum(-1) / scale**2 + 1e-6  # [B, N, I]
    w = d2.pow(-2)
    w = w / w.sum(-1, keepdim=True)
    ld = (w * courses).sum(-1).clamp(-120.0, 0.0)
    raw = model.decoder(a["f0"], ld, a["note"], z)
    c = model.decoder.controls(raw, a["f0"])
    wt = a["onset_w"][..., None]
    lm = lam[..., None]

    def mix(x, y):
        return (1 - lm) * torch.log(x + LOG_FLOOR) + lm * torch.log(y + LOG_FLOOR)

    lh = ((torch.log(c["harmonics"] + LOG_FLOOR) - mix(a["harm"], b["harm"])).abs() * wt).mean()
    ln = ((torch.log(c["noise"] + LOG_FLOOR) - mix(a["noise"], b["noise"])).abs()
          * a["noise_w"] * b["noise_w"] * wt).mean()
    return lh + 0.5 * ln, {"mix": (lh + 0.5 * ln).item()}


def spectral_loss(model: TimbreDDSP, b: dict, z: torch.Tensor, mss, motion=None,
                  motion_weight: float = 0.0) -> tuple[torch.Tensor, dict]:
    """Multi-scale spectral loss through the synthesiser, a light harmonic-analysis anchor, and,
    when `motion` is given, `motion_weight` times the spectral-motion loss."""
    raw = model.decoder(b["f0"], b["ld"], b["note"], z)
    c = model.decoder.controls(raw, b["f0"])
    white = torch.rand(b["audio"].shape, device=b["audio"].device) * 2.0 - 1.0
    out = model.synthesize(c, b["f0"], white)
    loss = mss(b["audio"], out["audio"])
    lh = (torch.log(c["harmonics"] + LOG_FLOOR) - torch.log(b["harm"] + LOG_FLOOR)).abs().mean()
    logs = {"mss": loss.item(), "harm": lh.item()}
    total = loss + 0.1 * lh
    if motion is not None:
        mo = motion(b["audio"], out["audio"])
        total = total + motion_weight * mo
        logs["motion"] = mo.item()
    return total, logs


def save_checkpoint(path: Path, model, opt, step: int, cfg: ModelConfig, tc: TrainConfig, history: list) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "config": asdict(cfg),
                "train_config": asdict(tc), "history": history, "rng": torch.get_rng_state()}, tmp)
    tmp.replace(path)


def load_checkpoint(path: Path, cfg: ModelConfig | None = None) -> dict:
    try:
        ck = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:
        raise UserError(f"{path}: not a readable checkpoint ({e.__class__.__name__})") from None
    if not isinstance(ck, dict) or "model" not in ck or "config" not in ck:
        raise UserError(f"{path}: not a timbred checkpoint (no model/config)")
    if cfg is not None:
        theirs = ModelConfig.from_dict(ck["config"])
        if theirs.to_json() != cfg.to_json():
            a, b = json.loads(theirs.to_json()), json.loads(cfg.to_json())
            diff = [k for k in a if a[k] != b.get(k)]
            raise UserError(f"{path}: checkpoint was trained with another config (differs in {', '.join(diff)})")
    return ck


def _room_split(model: TimbreDDSP) -> tuple[list[int], list[int]]:
    """Indices into model.parameters() of everything but the room, and of the room."""
    room = {id(p) for p in model.reverb.parameters()}
    params = list(model.parameters())
    return ([i for i, p in enumerate(params) if id(p) not in room], [i for i, p in enumerate(params) if id(p) in room])


def make_optimizer(model: TimbreDDSP, tc: TrainConfig) -> torch.optim.Adam:
    """Adam with two parameter groups: the network at lr, the room at lr × tc.room_lr_scale."""
    params = list(model.parameters())
    rest, room = _room_split(model)
    return torch.optim.Adam([{"params": [params[i] for i in rest], "lr": tc.lr},
                             {"params": [params[i] for i in room], "lr": tc.lr * tc.room_lr_scale}])


def optimizer_state(model: TimbreDDSP, state: dict) -> dict:
    """An optimiser state from `make_optimizer`; a checkpoint from before the room had its own
    learning rate (one parameter group, in model.parameters() order) is split the same way."""
    if len(state["param_groups"]) != 1:
        return state
    (group,) = state["param_groups"]
    rest, room = _room_split(model)
    ids = group["params"]
    return {"state": state["state"], "param_groups": [
        {**group, "params": [ids[i] for i in rest]}, {**group, "params": [ids[i] for i in room]}]}


def init_from_checkpoint(model: TimbreDDSP, path: Path) -> None:
    """Start from another run's checkpoint (its room included), trained at any sample rate: every
    parameter is rate-free (harmonic and noise-band weights, the room's per-band levels and decay
    times in seconds; the room's noise and time axis are rebuilt at this model's rate). Sizes must
    match; the optimiser starts afresh."""
    ck = load_checkpoint(path)
    theirs = ModelConfig.from_dict(ck["config"])
    mine = model.cfg if hasattr(model, "cfg") else None
    if mine is not None and list(theirs.instruments) != list(mine.instruments):
        raise UserError(f"{path}: instruments differ ({theirs.instruments} vs {mine.instruments})")
    try:
        model.load_state_dict(ck["model"])
    except RuntimeError as e:
        raise UserError(f"{path}: does not fit this model ({str(e).splitlines()[0]})") from None
    print(f"initialised from {path} (trained at {theirs.sample_rate} Hz, step {ck['step']})")


def init_from_file(model: TimbreDDSP, path: Path) -> None:
    """Start from an exported model's weights (a warm start; the optimiser starts afresh).

    A format-1 file (no note input) fills everything but the note MLP; the GRU's and the output
    MLP's input weights get zero columns for the note features, so the decoder starts out
    computing exactly what the file's decoder computed. The room keeps its initial parameters
    (the file holds its samples, not its parameters)."""
    from safetensors import safe_open

    if path.suffix == ".pt":
        init_from_checkpoint(model, path)
        return
    try:
        with safe_open(str(path), framework="pt") as f:
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:
        raise UserError(f"{path}: not a safetensors model ({e})") from None
    state = model.state_dict()
    loaded = 0
    for k, v in state.items():
        fk = {"prior_mu": "latent.means", "prior_logvar": "latent.logvars"}.get(k, k.replace("_l0", ""))
        if fk not in tensors or k.startswith("reverb."):
            continue
        t = tensors[fk]
        if t.shape != v.shape:
            if t.dim() == 2 and t.shape[0] == v.shape[0] and t.shape[1] < v.shape[1] and (
                    k.startswith("decoder.gru.weight_ih") or k.startswith("decoder.out_mlp.layers.0.dense.weight")):
                t = torch.cat([t, torch.zeros(v.shape[0], v.shape[1] - t.shape[1])], 1)
            else:
                raise UserError(f"{path}: tensor {fk}: shape {list(t.shape)} does not fit {list(v.shape)}")
        state[k] = t
        loaded += 1
    model.load_state_dict(state)
    print(f"initialised {loaded} tensors from {path}")


def train(notes: NoteSet, cfg: ModelConfig, tc: TrainConfig, run_dir: Path, threads: int = 1,
          device: str | None = None, log_every: int = 25, init_from: Path | None = None) -> TimbreDDSP:
    """Train (or resume) a model in run_dir; writes checkpoint.pt, history.json and curves.png.
    Without a checkpoint there, `init_from` (an exported model file) gives the starting weights."""
    torch.set_num_threads(threads)
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    random.seed(tc.seed)
    np.random.seed(tc.seed)
    torch.manual_seed(tc.seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    model = TimbreDDSP(cfg).to(dev)
    opt = make_optimizer(model, tc)
    ck_path = run_dir / "checkpoint.pt"
    step, history = 0, []
    if ck_path.is_file():
        ck = load_checkpoint(ck_path, cfg)
        if "reverb_ir" in ck["model"]:
            # a checkpoint from before the reverb was parameterised: keep everything but the old
            # free-form IR; the optimiser state no longer lines up with the parameters, so restart it
            del ck["model"]["reverb_ir"]
            model.load_state_dict(ck["model"], strict=False)
            print(f"{ck_path}: older free-form reverb dropped; reverb and optimiser state start afresh")
        else:
            model.load_state_dict(ck["model"])
            opt.load_state_dict(optimizer_state(model, ck["opt"]))
        step, history = ck["step"], ck["history"]
        torch.set_rng_state(ck["rng"])
        print(f"resumed from {ck_path} at step {step}")
    elif init_from is not None:
        init_from_file(model, init_from)
    tables = fit_envelopes(notes, cfg)
    prior_ld = note_priors(notes, cfg, tables)
    courses = instrument_courses(notes, cfg, tables) if tc.mix_weight > 0 else None
    if tc.freeze_latent:
        # the encoder and the latent means stay put, so the presets (at the means) keep their sound
        for prm in list(model.encoder.parameters()) + [model.prior_mu, model.prior_logvar]:
            prm.requires_grad_(False)
    rng = np.random.default_rng(tc.seed + step)
    batcher = Batcher(notes, notes.indices("train"), rng)
    mss = dsp.MultiScaleSpectralLoss(tc.fft_sizes).to(dev)
    motion = dsp.SpectralMotionLoss(cfg.sample_rate).to(dev) if tc.motion_weight > 0 else None
    n_frames = notes.f0_hz.shape[1]
    total = tc.regression_steps + tc.spectral_steps
    bar = tqdm(total=total, initial=step, desc="train", unit="step")
    t0 = time.time()
    while step < total:
        regression = step < tc.regression_steps
        bsz = tc.batch_regression if regression else tc.batch_spectral
        crop = tc.crop_frames if regression else min(tc.crop_frames, cfg.frame_rate)
        lr = tc.lr * (0.5 * (1 + math.cos(math.pi * step / total)) * 0.9 + 0.1)
        for g, scale in zip(opt.param_groups, (1.0, tc.room_lr_scale)):
            g["lr"] = lr * scale
        idx = batcher.pairs(bsz // 2)
        starts = batcher.crops(len(idx), crop, n_frames)
        b = {k: v.to(dev) for k, v in gather(notes, prior_ld, cfg, idx, starts, crop,
                                             audio=not regression or tc.band_weight > 0,
                                             onset_weight=tc.onset_weight).items()}
        z, lat_loss, logs = latent_terms(model, b, tc, bsz // 2)
        rec, rec_logs = (regression_loss(model, b, z, tc.band_weight) if regression
                         else spectral_loss(model, b, z, mss, motion, tc.motion_weight))
        loss = rec + lat_loss
        if regression and courses is not None:
            from .export import blend_scale
            # whole notes from the note-on (the voice's GRU runs from there in the engine), the
            # timbre moving between two random times: a morph's start, its course and its end
            ia = idx[: bsz // 2]
            ib = batcher.partners(ia)
            mix_crop = min(tc.mix_crop_frames or crop, n_frames)
            zero = np.zeros(len(ia), int)
            ba, bb = ({k: v.to(dev) for k, v in gather(notes, prior_ld, cfg, i, zero, mix_crop,
                                                      onset_weight=tc.onset_weight).items()} for i in (ia, ib))
            cs = torch.as_tensor(courses[ia, :, :mix_crop].transpose(0, 2, 1)).to(dev)  # [B, N, I]
            times = torch.sort(torch.rand(len(ia), 2, device=dev), -1)[0]
            mixed, mix_logs = mixup_loss(model, ba, bb, cs, blend_scale(model.prior_mu.detach().cpu().numpy()),
                                         times=times)
            loss = loss + tc.mix_weight * mixed
            rec_logs.update(mix_logs)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 3.0)
        opt.step()
        step += 1
        logs.update(rec_logs)
        logs.update({"step": step, "loss": loss.item(), "stage": "regression" if regression else "spectral",
                     "seconds": time.time() - t0})
        history.append(logs)
        bar.update(1)
        if step % log_every == 0:
            bar.set_postfix(loss=f"{loss.item():.3f}", **{k: f"{v:.3f}" for k, v in rec_logs.items()})
        if step % tc.checkpoint_every == 0 or step == total:
            save_checkpoint(ck_path, model, opt, step, cfg, tc, history)
            (run_dir / "history.json").write_text(json.dumps(history))
            plot_curves(history, run_dir / "curves.png")
    bar.close()
    return model


def plot_curves(history: list, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    steps = np.array([h["step"] for h in history])

    def smooth(v, n=25):
        v = np.asarray(v, float)
        if len(v) < n:
            return v
        return np.convolve(v, np.ones(n) / n, mode="same")

    for key, ax in (("harm", axes[0]), ("mss", axes[1]), ("kl", axes[2])):
        vals = [(h["step"], h[key]) for h in history if key in h]
        if vals:
            s, v = zip(*vals)
            ax.plot(s, smooth(v))
        ax.set_title({"harm": "harmonic log-amplitude L1", "mss": "multi-scale spectral loss", "kl": "KL to component"}[key])
        ax.set_xlabel("step")
    for key in ("inv", "cls"):
        vals = [(h["step"], h[key]) for h in history]
        s, v = zip(*vals)
        axes[2].plot(s, smooth(v), label=key)
    axes[2].legend(["kl", "invariance", "classification"])
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
