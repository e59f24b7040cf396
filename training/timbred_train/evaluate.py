"""Evaluation report for an exported model: held-out pitches only.

- multi-scale spectral distance between each held-out note and its resynthesis (per instrument);
- f0 error in cents of the resynthesis, measured by an independent full-range tracker
  (harmonic-sum salience over an STFT, not the trainer's YIN); octave errors counted;
- loudness error in dB;
- an instrument classifier trained on real training-split notes, scored on real held-out notes, on
  their resynthesis, on the notes played from MIDI, and on their analysis-resynthesis (the
  synthesiser fed the trainer's analysed controls of the note, no decoder: about what a decoder
  that reproduced the analysis exactly would score, so a shortfall can be put on the decoder or on
  the synthesis and its analysis);
- a 2-D map of the latent space (notes and presets) and a morph path with its spectral centroid.

Resynthesis uses the instrument's preset point (its component mean), as a musician playing the
preset would hear it, with the real note's f0, its note input and the engine's loudness prior.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from . import dsp
from .cache import NoteSet, load_or_build
from .export import load_exported
from .envelope import course
from .model import TimbreDDSP, note_inputs


# --- independent measurements ---------------------------------------------------------------------

def harmonic_sum_f0(audio: np.ndarray, sample_rate: int, lo_hz: float = 25.0, hi_hz: float = 4200.0,
                    n_fft: int = 8192, hop: int = 1024, max_harmonic_hz: float = 5000.0, max_harmonics: int = 40,
                    decay: float = 0.9) -> np.ndarray:
    """Full-range f0 per frame by subharmonic summation (after Hermes 1988): for each log-spaced
    candidate g (5-cent grid), sum over its harmonics k·g below max_harmonic_hz of
    decay^(k-1) · (C(k·g) - C((k-1/2)·g)), where C is the log-compressed magnitude spectrum
    log(1 + |X| / (1e-3 · peak)); the best candidate wins. Counting every harmonic up to a fixed
    frequency (not a fixed number of them) keeps low notes, whose energy sits in high harmonics,
    from being heard an octave up; the compression keeps one strong partial from outvoting the
    series. Frames below -60 dB of the loudest give NaN.

    (The first version summed 10 harmonics of raw magnitude: it put 9 of the 210 real held-out
    notes an octave or more off — low piano, trombone, choir — so it could not judge the model.)
    """
    x = torch.as_tensor(np.asarray(audio, np.float32))
    win = torch.hann_window(n_fft)
    spec = torch.stft(x, n_fft, hop_length=hop, window=win, center=True, return_complex=True).abs().numpy().T
    compressed = np.log1p(spec / (spec.max() * 1e-3 + 1e-12))
    bin_hz = sample_rate / n_fft
    cents = np.arange(0, 1200 * math.log2(hi_hz / lo_hz), 5.0)
    cand = lo_hz * 2 ** (cents / 1200)

    def mag_at(freqs):
        pos = freqs / bin_hz
        i0 = np.clip(np.floor(pos).astype(int), 0, spec.shape[1] - 2)
        fr = pos - i0
        return compressed[:, i0] * (1 - fr) + compressed[:, i0 + 1] * fr  # [T, ...]

    limit = min(max_harmonic_hz, sample_rate / 2)
    sal = np.zeros((spec.shape[0], len(cand)))
    for k in range(1, max_harmonics + 1):
        fk, fh = k * cand, (k - 0.5) * cand
        ok = fk < limit
        if not ok.any():
            break
        sal[:, ok] += (mag_at(fk[ok]) - mag_at(fh[ok])) * decay ** (k - 1)
    j = np.clip(np.argmax(sal, 1), 1, len(cand) - 2)
    rows = np.arange(len(j))
    a, b, c = sal[rows, j - 1], sal[rows, j], sal[rows, j + 1]
    den = a - 2 * b + c
    shift = np.where(np.abs(den) > 1e-12, 0.5 * (a - c) / np.where(np.abs(den) > 1e-12, den, 1), 0.0)
    f0 = lo_hz * 2 ** ((cents[j] + np.clip(shift, -1, 1) * 5.0) / 1200)
    energy = spec.max(1)
    f0[energy < energy.max() * 1e-3] = np.nan
    return f0


def spectral_centroid_hz(audio: np.ndarray, sample_rate: int, n_fft: int = 2048, hop: int = 512) -> np.ndarray:
    x = torch.as_tensor(np.asarray(audio, np.float32))
    spec = torch.stft(x, n_fft, hop_length=hop, window=torch.hann_window(n_fft), return_complex=True).abs().numpy()
    freqs = np.arange(spec.shape[0]) * sample_rate / n_fft
    return (freqs[:, None] * spec).sum(0) / (spec.sum(0) + 1e-9)


def classifier_log_mel(audio: np.ndarray, sample_rate: int, n_fft: int = 2048, hop: int = 512) -> np.ndarray:
    """The classifier's spectrogram: 64-band mel power in dB, [64, frames], not floored."""
    x = torch.as_tensor(np.asarray(audio, np.float32))
    spec = torch.stft(x, n_fft, hop_length=hop, window=torch.hann_window(n_fft), return_complex=True).abs().pow(2).numpy()
    return 10 * np.log10(dsp.mel_matrix(sample_rate, n_fft, 64) @ spec + 1e-20)


def classifier_features(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Classic instrument-recognition features: mean and standard deviation over time of 20 MFCCs
    (DCT of a 64-band log-mel spectrum floored 80 dB below its peak), and the standard deviation
    of their frame-to-frame change, over the frames within 25 dB of the loudest."""
    from scipy.fft import dct

    lm = classifier_log_mel(audio, sample_rate)
    lm = np.maximum(lm, lm.max() - 80.0)
    loud = lm.max(0) > lm.max() - 25.0
    lm = lm[:, loud] if loud.sum() > 2 else lm
    c = dct(lm, type=2, axis=0, norm="ortho")[:20]
    d = np.diff(c, axis=1) if c.shape[1] > 1 else np.zeros_like(c)
    return np.concatenate([c.mean(1), c.std(1), d.std(1)])


def real_note_classifier(notes: NoteSet, sample_rate: int):
    """The evaluation's instrument classifier: `classifier_features` of the real training notes
    (the held-out pitches are never seen), standardised, multinomial logistic regression."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    idx = notes.indices("train")
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000, C=0.5))
    return clf.fit(np.stack([classifier_features(notes.audio[i], sample_rate) for i in idx]), notes.instrument[idx])


# --- resynthesis -----------------------------------------------------------------------------------

def played_controls(model: TimbreDDSP, f0: np.ndarray, ld: np.ndarray, z: np.ndarray, velocity: float = 100.0,
                    hold_s: float | None = None, tone_db: np.ndarray | None = None, onset_db: np.ndarray | None = None,
                    course_db: tuple | None = None, strike: float | None = None, strike_noise_db: float = 0.0,
                    smooth_from_frame: int | None = None) -> dict:
    """The controls of a note played from MIDI as the engine computes them before the partial
    motion: the decoder's (note struck at frame 0 with `velocity`, released after hold_s, None:
    held), the tone balance applied (`tone.apply`, when `tone_db` is given) and the control
    smoothing (`smoothing.smooth`). Call under `torch.no_grad()`."""
    cfg = model.cfg
    f0t, ldt = torch.as_tensor(f0)[None], torch.as_tensor(ld)[None]
    zt = torch.as_tensor(np.asarray(z, np.float32))[None]
    t_on = torch.arange(len(f0), dtype=torch.float32)[None] / cfg.frame_rate
    t_off = t_on - (hold_s if hold_s is not None else 1e9)
    note = note_inputs(cfg, torch.tensor([float(velocity)]), t_on, t_off)
    c = model.decoder.controls(model.decoder(f0t, ldt, note, zt), f0t)
    if tone_db is not None:
        from .tone import apply

        c = apply(c, tone_db, f0t, cfg.band_limit_hz, onset_db, course=course_db, frame_rate=cfg.frame_rate,
                  strike=strike, strike_noise_db=strike_noise_db)
    if smooth_from_frame is not None:
        from .smoothing import smooth

        c = smooth(c, smooth_from_frame)
    return c


def resynthesize(model: TimbreDDSP, f0: np.ndarray, ld: np.ndarray, z: np.ndarray, seed: int = 0,
                 velocity: float = 100.0, hold_s: float | None = None, reverb: bool = True,
                 tone_db: np.ndarray | None = None, onset_db: np.ndarray | None = None,
                 sample_rate: int | None = None, motion: tuple | None = None,
                 course_db: tuple | None = None, vibrato: tuple | None = None, highpass: float = 0.0,
                 strike: float | None = None, strike_noise_db: float = 0.0, split: bool = False,
                 smooth_from_frame: int | None = None):
    """A note from per-frame f0 and loudness prior, the note input of a note struck at frame 0
    with `velocity` and released after hold_s (None: held), and the timbre point z ([Z] or
    [frames, Z]); `tone_db` ([28] band gains), `course_db` (the band course [S, 28] and its
    seconds [S]), `onset_db` (the onset course; `tone.lookup`) and `strike` (the balance's share at
    the note-on; `tone.strike_ramp`) and `strike_noise_db` (the noise's gain there;
    `tone.strike_noise_ramp`) balance it as the engine does; `motion` (depth per group [G], correlation, smoothing, vibrato lock; `motion.blended`)
    moves its partials as the engine does, `vibrato` (cents, Hz; `motion.blended_vibrato`) its pitch,
    from the phase the engine gives the nearest key; `highpass` (`highpass.blended`) sets the noise's
    high-pass below the fundamental at that ratio of f0; rendered at `sample_rate` (None: the
    model's). `split`: the harmonic part and the noise [n] each (no room) instead of the sum.
    `smooth_from_frame`: the control smoothing (`smoothing.smooth`), as the engine plays it."""
    cfg = model.cfg
    swing = None
    if vibrato is not None and vibrato[0] > 0:
        from . import motion as M

        key = int(round(69 + 12 * math.log2(max(float(f0[0]), 1.0) / 440.0)))
        phase = M.vibrato_phase(key, int(round(velocity)))
        swing = M.vibrato_swing(vibrato[1], len(f0), cfg.frame_rate, phase)
        f0 = np.asarray(f0, np.float32) * (2 ** (M.vibrato_semitones(vibrato[0], vibrato[1], len(f0), cfg.frame_rate,
                                                                        phase) / 12)).astype(np.float32)
    with torch.no_grad():
        f0t = torch.as_tensor(f0)[None]
        c = played_controls(model, f0, ld, z, velocity, hold_s, tone_db, onset_db, course_db, strike, strike_noise_db,
                            smooth_from_frame)
        if motion is not None:
            from . import motion as M

            c = dict(c, harmonics=M.apply(c["harmonics"], motion[0], motion[1], cfg.frame_rate, seed + 1,
                                          smoothing=motion[2] if len(motion) > 2 else 0.0,
                                          vibrato_lock=motion[3] if len(motion) > 3 else None, swing=swing,
                                          vibrato_tilt=motion[4] if len(motion) > 4 else None,
                                          drift_cut_hz=motion[5] if len(motion) > 5 else 0.0))
        g = torch.Generator().manual_seed(seed)
        sr = sample_rate or cfg.sample_rate
        white = torch.rand(1, int(len(f0) * sr / cfg.frame_rate), generator=g) * 2 - 1
        parts = model.synthesize(c, f0t, white, sample_rate=sr, reverb=False)
        harmonic = parts["harmonic"][0].numpy()
        noise = dsp.noise_highpass(parts["noise"][0].numpy(), f0t[0].numpy(), highpass, cfg.frame_rate, sr)
        if split:
            return harmonic, noise
        dry = torch.as_tensor(harmonic + noise)[None]
        out = dry + dsp.fft_convolve(dry, model.ir()) if reverb else dry
        return out[0].numpy()


def analysis_resynthesis(model: TimbreDDSP, notes: NoteSet, i: int) -> np.ndarray:
    """Note i resynthesised from its own analysed controls (the regression targets: harmonic
    amplitudes at the tracked f0 and the noise residual per band) through the model's synthesiser,
    without decoder or reverb; the noise is seeded with i, as in `resynthesize`'s use here."""
    return analysis_resynthesis_head(model, notes, i, frames=None)


def analysis_resynthesis_head(model: TimbreDDSP, notes: NoteSet, i: int, frames: int | None) -> np.ndarray:
    """`analysis_resynthesis` of the note's first `frames` frames (None: all)."""
    cfg = model.cfg
    n = slice(None) if frames is None else slice(0, frames)
    f0 = torch.as_tensor(notes.f0_hz[i][n])[None]
    controls = {"harmonics": torch.as_tensor(notes.harmonics[i][n].astype(np.float32))[None],
                "noise": torch.as_tensor(notes.noise[i][n].astype(np.float32))[None]}
    g = torch.Generator().manual_seed(i)
    white = torch.rand(1, f0.shape[1] * cfg.hop, generator=g) * 2 - 1
    with torch.no_grad():
        return model.synthesize(controls, f0, white, reverb=False)["audio"][0].numpy()


def midi_controls(model: TimbreDDSP, env: dict, k: int, pitch: int, velocity: int, hold_s: float,
                  n_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """f0 and loudness of a note played from MIDI, as the engine plays it: equal-tempered pitch and
    the model's learned envelope for instrument k's preset point (note-off after hold_s)."""
    from .envelope import blend_weights
    from .export import BLEND_RULE, blend_scale

    cfg = model.cfg
    means = model.prior_mu.detach().numpy()
    w = blend_weights(means[k], means, blend_scale(means), BLEND_RULE)
    ld = course(env, cfg, w, pitch, velocity, n_frames, hold_s)
    f0 = np.full(n_frames, 440.0 * 2 ** ((pitch - 69) / 12), np.float32)
    return f0, ld


def evaluate(model_path: Path, data: Path, report: Path, threads: int = 1, dry: bool = False) -> dict:
    """Write the report for an exported model; dry=True leaves the reverb out of every resynthesis
    (to see how much of a score the learned room costs or earns)."""
    torch.set_num_threads(threads)
    t0 = time.time()
    model, env, meta = load_exported(model_path)
    if dry:
        model.reverb.fixed = torch.zeros_like(model.reverb.fixed)
    cfg = model.cfg
    notes = load_or_build(data, cfg)
    report.mkdir(parents=True, exist_ok=True)
    test = notes.indices("test")
    means = model.prior_mu.detach().numpy()
    sr = cfg.sample_rate
    mss = dsp.MultiScaleSpectralLoss()

    clf = real_note_classifier(notes, sr)
    note_transient = _transient_player(model_path, model, env, meta)
    note_tone = _tone_lookup(model_path, model, meta)
    note_motion = _motion_lookup(model_path, model, meta)
    note_highpass = _highpass_lookup(model_path, model, meta)
    midi_t_feats, analysis_t_feats = [], []

    rows = []
    resynth_feats, real_feats, midi_feats, analysis_feats = [], [], [], []
    for i in test:
        inst = int(notes.instrument[i])
        hold = int(notes.hold_frames[i])
        prior = course(env, cfg, np.eye(len(means))[inst], float(notes.pitch[i]), float(notes.velocity[i]),
                       len(notes.f0_hz[i]), hold / cfg.frame_rate)
        tone = note_tone(inst, float(notes.pitch[i]), float(notes.velocity[i])) | note_motion(inst, float(notes.pitch[i])) | note_highpass(inst)
        # the note's own f0 already swings as the recording's did: no vibrato on top of it
        y = resynthesize(model, notes.f0_hz[i], prior, means[inst], seed=int(i), velocity=float(notes.velocity[i]),
                         hold_s=hold / cfg.frame_rate, **(tone | {"vibrato": None}))
        x = notes.audio[i]
        with torch.no_grad():
            dist = float(mss(torch.as_tensor(x)[None], torch.as_tensor(y)[None]))
        # f0 in the held part, where the note sounds
        wanted = float(np.median(notes.f0_hz[i][5:hold]))
        meas = harmonic_sum_f0(y[: hold * cfg.hop], sr)
        meas_real = harmonic_sum_f0(x[: hold * cfg.hop], sr)
        cents = 1200 * math.log2(np.nanmedian(meas) / wanted) if np.isfinite(meas).any() else float("nan")
        cents_real = 1200 * math.log2(np.nanmedian(meas_real) / wanted) if np.isfinite(meas_real).any() else float("nan")
        ld_y = dsp.loudness_db(y, sr, cfg.frame_rate, len(notes.f0_hz[i]))
        ld_x = notes.loudness_db[i]
        audible = ld_x > ld_x.max() - 40
        ld_err = float(np.mean(np.abs(ld_y[audible] - ld_x[audible])))
        real_feats.append(classifier_features(x, sr))
        resynth_feats.append(classifier_features(y, sr))
        # the synthesiser fed the note's own analysed controls (no decoder, no room): what this
        # harmonic-plus-noise synthesiser gives from the trainer's analysis, decoder errors aside
        ya = analysis_resynthesis(model, notes, int(i))
        analysis_feats.append(classifier_features(ya, sr))
        with torch.no_grad():
            dist_analysis = float(mss(torch.as_tensor(x)[None], torch.as_tensor(ya)[None]))
        # the same note played from MIDI: learned envelope, equal-tempered pitch
        f0m, ldm = midi_controls(model, env, inst, int(notes.pitch[i]), int(notes.velocity[i]), hold / cfg.frame_rate,
                                 len(notes.f0_hz[i]))
        ym = resynthesize(model, f0m, ldm, means[inst], seed=int(i), velocity=float(notes.velocity[i]),
                          hold_s=hold / cfg.frame_rate, **tone)
        midi_feats.append(classifier_features(ym, sr))
        if note_transient is not None:
            # the same two with the model's attack transients, as the engine adds them
            t = note_transient(inst, float(notes.pitch[i]), float(notes.velocity[i]), len(ym), room=False)
            analysis_t_feats.append(classifier_features(ya + t[: len(ya)], sr))
            midi_t_feats.append(classifier_features(ym + note_transient(inst, float(notes.pitch[i]),
                                                                        float(notes.velocity[i]), len(ym),
                                                                        room=not dry), sr))
        meas_m = harmonic_sum_f0(ym[: hold * cfg.hop], sr)
        cents_midi = 1200 * math.log2(np.nanmedian(meas_m) / float(f0m[0])) if np.isfinite(meas_m).any() else float("nan")
        rows.append({"index": int(i), "instrument": notes.instruments[inst], "pitch": int(notes.pitch[i]),
                     "velocity": int(notes.velocity[i]), "spectral_distance": dist, "f0_cents": cents,
                     "f0_cents_real": cents_real, "f0_cents_midi": cents_midi, "loudness_error_db": ld_err,
                     "spectral_distance_analysis": dist_analysis})
    y_true = notes.instrument[test]
    acc_real = float((clf.predict(np.stack(real_feats)) == y_true).mean())
    acc_resynth = float((clf.predict(np.stack(resynth_feats)) == y_true).mean())
    acc_midi = float((clf.predict(np.stack(midi_feats)) == y_true).mean())
    acc_analysis = float((clf.predict(np.stack(analysis_feats)) == y_true).mean())
    acc_midi_t = float((clf.predict(np.stack(midi_t_feats)) == y_true).mean()) if midi_t_feats else None
    acc_analysis_t = float((clf.predict(np.stack(analysis_t_feats)) == y_true).mean()) if analysis_t_feats else None
    for r, pr, pa in zip(rows, clf.predict(np.stack(resynth_feats)), clf.predict(np.stack(analysis_feats))):
        r["classified_as"] = notes.instruments[int(pr)]
        r["analysis_classified_as"] = notes.instruments[int(pa)]
    for r, pm in zip(rows, clf.predict(np.stack(midi_feats))):
        r["midi_classified_as"] = notes.instruments[int(pm)]
    if midi_t_feats:
        for r, pm in zip(rows, clf.predict(np.stack(midi_t_feats))):
            r["midi_transients_classified_as"] = notes.instruments[int(pm)]

    cents = np.array([r["f0_cents"] for r in rows])
    octave_errors = int(np.sum(np.abs(cents) > 600))
    summary = {
        "model": str(model_path), "held_out_notes": len(rows), "instruments": len(notes.instruments),
        "sample_rate": sr, "median_abs_f0_cents": float(np.nanmedian(np.abs(cents))),
        "p95_abs_f0_cents": float(np.nanpercentile(np.abs(cents), 95)), "octave_errors": octave_errors,
        "median_abs_f0_cents_real_audio": float(np.nanmedian(np.abs([r["f0_cents_real"] for r in rows]))),
        "mean_loudness_error_db": float(np.mean([r["loudness_error_db"] for r in rows])),
        "mean_spectral_distance": float(np.mean([r["spectral_distance"] for r in rows])),
        "classifier_accuracy_real": acc_real, "classifier_accuracy_resynth": acc_resynth,
        "classifier_ratio": acc_resynth / max(acc_real, 1e-9),
        "classifier_accuracy_midi": acc_midi,
        "classifier_accuracy_analysis": acc_analysis,
        "classifier_ratio_analysis": acc_analysis / max(acc_real, 1e-9),
        "classifier_accuracy_midi_transients": acc_midi_t,
        "classifier_accuracy_analysis_transients": acc_analysis_t,
        "mean_spectral_distance_analysis": float(np.mean([r["spectral_distance_analysis"] for r in rows])),
        "median_abs_f0_cents_midi": float(np.nanmedian(np.abs([r["f0_cents_midi"] for r in rows]))),
        "octave_errors_midi": int(np.sum(np.abs([r["f0_cents_midi"] for r in rows]) > 600)),
        "octave_errors_real_audio": int(np.sum(np.abs([r["f0_cents_real"] for r in rows]) > 600)), "provenance": json.loads(meta.get("provenance", "{}")),
        "reverb": not dry,
        "evaluation_seconds": None,
    }
    per_inst = {}
    for name in notes.instruments:
        rs = [r for r in rows if r["instrument"] == name]
        if rs:
            per_inst[name] = {
                "notes": len(rs), "spectral_distance": float(np.mean([r["spectral_distance"] for r in rs])),
                "median_abs_f0_cents": float(np.nanmedian(np.abs([r["f0_cents"] for r in rs]))),
                "loudness_error_db": float(np.mean([r["loudness_error_db"] for r in rs])),
                "resynth_accuracy": float(np.mean([r["classified_as"] == name for r in rs])),
                "analysis_accuracy": float(np.mean([r["analysis_classified_as"] == name for r in rs])),
                "midi_accuracy": float(np.mean([r["midi_classified_as"] == name for r in rs])),
                "midi_transients_accuracy": (float(np.mean([r["midi_transients_classified_as"] == name for r in rs]))
                                             if midi_t_feats else None),
            }
    summary["per_instrument"] = per_inst

    _plot_latent_map(model, notes, report / "latent-map.png")
    morph = _morph_path(model, notes, report / "morph.png")
    summary["morph"] = morph
    summary["evaluation_seconds"] = time.time() - t0
    (report / "summary.json").write_text(json.dumps(summary, indent=1))
    (report / "notes.json").write_text(json.dumps(rows, indent=0))
    _write_markdown(summary, report)
    print(f"report written to {report}: f0 median {summary['median_abs_f0_cents']:.2f} cents, "
          f"classifier {acc_resynth:.3f} resynth vs {acc_real:.3f} real")
    return summary


def _tone_lookup(model_path: Path, model: TimbreDDSP, meta: dict):
    """A function (instrument, pitch, velocity) → `resynthesize`'s tone arguments for the note at
    the instrument's preset point, as the engine looks them up (`tone_db` [28] band gains and
    `onset_db`, the onset course, and `course_db`, the band course with its seconds, or None, and
    `strike`, the balance's share at the note-on, when the file has `tone.strike_fraction`, and
    `strike_noise_db`, the noise's gain there, when it has `tone.strike_noise_db`, and
    `smooth_from_frame`, the control smoothing, when it has `controls.smooth_from_frame`; {}
    when the model file has no `tone.gain_db`)."""
    from . import tone as T
    from .envelope import blend_weights

    table, onset = T.read_table(model_path), T.read_table(model_path, "tone.onset_db")
    course, course_s = T.read_table(model_path, "tone.course_db"), T.read_table(model_path, "tone.course_seconds")
    if table is None:
        return lambda k, pitch, velocity: {}
    cfg = model.cfg
    means = model.prior_mu.detach().numpy()
    rule, scale = meta.get("envelope_blend", "gaussian"), float(meta["envelope_blend_scale"])

    onset_pitches = T.onset_pitches(model_path, cfg)
    onset_velocities = T.onset_velocities(model_path, cfg)

    band_velocities = T.gain_velocities(model_path, cfg)
    band_pitches = T.gain_pitches(model_path, cfg)

    def look(t, pitches, k, pitch, velocity, velocities=cfg.env_velocities):
        return T.lookup(t, pitches, velocities, means, scale, rule, means[k], pitch, velocity)

    strike = T.read_table(model_path, "tone.strike_fraction")
    strike_at = [None if strike is None else float(blend_weights(means[k], means, scale, rule) @ strike)
                 for k in range(len(means))]
    noise = T.read_table(model_path, "tone.strike_noise_db")
    noise_at = [0.0 if noise is None else float(blend_weights(means[k], means, scale, rule) @ noise)
                for k in range(len(means))]

    from .smoothing import read as read_smoothing

    smooth_from = read_smoothing(model_path)
    return lambda k, pitch, velocity: {
        "smooth_from_frame": smooth_from,
        "strike": strike_at[k],
        "strike_noise_db": noise_at[k],
        "tone_db": look(table, band_pitches, k, pitch, velocity, band_velocities),
        "onset_db": None if onset is None else look(onset, onset_pitches, k, pitch, velocity, onset_velocities),
        "course_db": None if course is None else (
            T.lookup_course(course, cfg.env_pitches, T.course_velocities(course, band_velocities, cfg), means, scale,
                            rule, means[k], pitch, velocity),
            np.asarray(course_s, np.float64))}


def _motion_lookup(model_path: Path, model: TimbreDDSP, meta: dict):
    """A function (instrument, key) → `resynthesize`'s motion argument at the instrument's preset
    point and that key, blended as the engine blends it ({} when the model file has no `motion.*`)."""
    from . import motion as M
    from .envelope import blend_weights

    tables = M.read_tables(model_path)
    if tables is None:
        return lambda k, pitch: {}
    means = model.prior_mu.detach().numpy()
    rule, scale = meta.get("envelope_blend", "gaussian"), float(meta["envelope_blend_scale"])
    anchors = tuple(model.cfg.env_pitches)

    def lookup(k: int, pitch: float) -> dict:
        w = blend_weights(means[k], means, scale, rule)
        return {"motion": M.blended(tables, w), "vibrato": M.blended_vibrato(tables, w, pitch, anchors)}

    return lookup


def _highpass_lookup(model_path: Path, model: TimbreDDSP, meta: dict):
    """A function (instrument) → `resynthesize`'s highpass argument at the instrument's preset point,
    blended as the engine blends it ({} when the model file has no `highpass.ratio`)."""
    from . import highpass as H
    from .envelope import blend_weights

    ratios = H.read_table(model_path)
    if ratios is None:
        return lambda k: {}
    means = model.prior_mu.detach().numpy()
    rule, scale = meta.get("envelope_blend", "gaussian"), float(meta["envelope_blend_scale"])
    return lambda k: {"highpass": H.blended(ratios, blend_weights(means[k], means, scale, rule))}


def _transient_player(model_path: Path, model: TimbreDDSP, env: dict, meta: dict):
    """A function (instrument, pitch, velocity, n, room) → the note's attack transient [n] at the
    model rate as the engine plays it at the instrument's preset (the room's tail added when
    room), or None when the model file has no `transient.amplitude`."""
    from safetensors import safe_open

    from . import transients as T
    from .export import blend_scale

    with safe_open(str(model_path), framework="np") as f:
        if "transient.amplitude" not in f.keys():
            return None
        table = f.get_tensor("transient.amplitude")
    cfg = model.cfg
    means = model.prior_mu.detach().numpy()
    rule = meta.get("envelope_blend", "gaussian")
    scale = float(meta.get("envelope_blend_scale", blend_scale(means)))
    sr = cfg.sample_rate
    noises = T.band_noises(T.white_for(sr), sr)
    with torch.no_grad():
        ir = model.reverb().detach().numpy()

    def play(k: int, pitch: float, velocity: float, n: int, room: bool) -> np.ndarray:
        a = T.lookup(table, cfg.env_pitches, cfg.env_velocities, means, scale, rule, means[k], pitch, velocity)
        x = np.zeros(n)
        t = T.synthesize(a, noises, sr)[:n]
        x[: len(t)] = t
        if room:
            x += dsp.fft_convolve(torch.as_tensor(x)[None], torch.as_tensor(ir))[0].numpy()
        return x.astype(np.float32)

    return play


def _plot_latent_map(model: TimbreDDSP, notes: NoteSet, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.decomposition import PCA

    with torch.no_grad():
        mu, _ = model.encoder(torch.as_tensor(notes.encoder))
    mu = mu.numpy()
    means = model.prior_mu.detach().numpy()
    pca = PCA(2).fit(np.concatenate([means, mu]))
    p, m = pca.transform(mu), pca.transform(means)
    fig, ax = plt.subplots(figsize=(10, 8))
    cmap = plt.get_cmap("tab20")
    for k, name in enumerate(notes.instruments):
        sel = notes.instrument == k
        ax.scatter(p[sel, 0], p[sel, 1], s=6, color=cmap(k % 20), alpha=0.5)
        ax.scatter(m[k, 0], m[k, 1], s=90, color=cmap(k % 20), edgecolor="black", marker="*")
        ax.annotate(name, m[k], fontsize=9, xytext=(4, 4), textcoords="offset points")
    ev = pca.explained_variance_ratio_
    ax.set_xlabel(f"principal axis 1 of the timbre latent ({ev[0] * 100:.0f} % of variance)")
    ax.set_ylabel(f"principal axis 2 ({ev[1] * 100:.0f} % of variance)")
    ax.set_title("Timbre space: encoded notes (dots) and presets = component means (stars)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _morph_path(model: TimbreDDSP, notes: NoteSet, path: Path, a: str = "flute", b: str = "trumpet") -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = notes.instruments
    a = a if a in names else names[0]
    b = b if b in names else names[-1]
    means = model.prior_mu.detach().numpy()
    n = 400  # 4 s
    t = np.linspace(0, 1, n)
    z = (1 - t)[:, None] * means[names.index(a)] + t[:, None] * means[names.index(b)]
    f0 = np.full(n, 440.0, np.float32)
    ld = np.full(n, -25.0, np.float32)
    with torch.no_grad():
        cfg = model.cfg
        t_on = torch.arange(n, dtype=torch.float32)[None] / cfg.frame_rate
        note = note_inputs(cfg, torch.tensor([100.0]), t_on)
        raw = model.decoder(torch.as_tensor(f0)[None], torch.as_tensor(ld)[None], note,
                            torch.as_tensor(z, dtype=torch.float32)[None])
        c = model.decoder.controls(raw, torch.as_tensor(f0)[None])
        white = torch.rand(1, n * cfg.hop, generator=torch.Generator().manual_seed(0)) * 2 - 1
        y = model.synthesize(c, torch.as_tensor(f0)[None], white, reverb=False)["audio"][0].numpy()
    cen = spectral_centroid_hz(y, cfg.sample_rate)
    seg = cen[4:-4]
    steps = np.abs(np.diff(seg))
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot(np.linspace(0, 1, len(cen)), cen)
    ax.set_xlabel(f"morph position ({a} = 0 → {b} = 1)")
    ax.set_ylabel("spectral centroid (Hz)")
    ax.set_title(f"Morph {a} → {b} at A4, constant loudness")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return {"from": a, "to": b, "centroid_start_hz": float(seg[:5].mean()), "centroid_end_hz": float(seg[-5:].mean()),
            "max_step_hz": float(steps.max()), "mean_step_hz": float(steps.mean())}


def _write_markdown(s: dict, report: Path) -> None:
    prov = s.get("provenance", {})
    lines = [
        f"# Evaluation of `{Path(s['model']).name}`",
        "",
        f"Held-out pitches only ({s['held_out_notes']} notes, {s['instruments']} instruments, {s['sample_rate']} Hz). "
        "Resynthesis uses each instrument's preset point with the real note's tracked f0, its velocity and note-off time (the note input) and the engine's loudness prior (as played from MIDI, but with the real pitch track)."
        + (" Everything is played dry, as the engine plays by default (reverb 0; `evaluate --dry`)." if not s.get("reverb", True)
           else " Everything is played through the model's room (reverb 1)."),
        "",
        "| measure | value |",
        "|---|---|",
        f"| median abs f0 error of resynthesis (independent tracker) | {s['median_abs_f0_cents']:.2f} cents |",
        f"| 95th percentile abs f0 error | {s['p95_abs_f0_cents']:.2f} cents |",
        f"| octave errors (> 600 cents) | {s['octave_errors']} |",
        f"| same tracker on the real notes (tracker baseline) | {s['median_abs_f0_cents_real_audio']:.2f} cents, "
        f"{s['octave_errors_real_audio']} octave errors |",
        f"| mean loudness error (frames within 40 dB of peak) | {s['mean_loudness_error_db']:.2f} dB |",
        f"| mean multi-scale spectral distance | {s['mean_spectral_distance']:.3f} |",
        f"| classifier accuracy, real held-out notes | {s['classifier_accuracy_real']:.3f} |",
        f"| classifier accuracy, resynthesised held-out notes | {s['classifier_accuracy_resynth']:.3f} |",
        f"| ratio resynth / real (target ≥ 0.9) | {s['classifier_ratio']:.3f} |",
        f"| played from MIDI (learned envelope, equal temperament): classifier accuracy | {s['classifier_accuracy_midi']:.3f} |",
        f"| played from MIDI: median abs f0 error, octave errors | {s['median_abs_f0_cents_midi']:.2f} cents, {s['octave_errors_midi']} |",
        f"| analysis-resynthesis (the synthesiser fed each note's analysed harmonic amplitudes and noise, "
        f"no decoder, dry): classifier accuracy, ratio, spectral distance | {s['classifier_accuracy_analysis']:.3f}, "
        f"{s['classifier_ratio_analysis']:.3f}, {s['mean_spectral_distance_analysis']:.3f} |",
    ] + ([
        f"| with the attack transients (`transient.amplitude`): played from MIDI / analysis-resynthesis, "
        f"classifier accuracy | {s['classifier_accuracy_midi_transients']:.3f} / "
        f"{s['classifier_accuracy_analysis_transients']:.3f} |",
    ] if s.get("classifier_accuracy_midi_transients") is not None else []) + [
        "",
        "## Per instrument",
        "",
        "The analysis-resynthesis row is what the synthesiser itself (harmonics at k·f0, noise in "
        "linear bands) gives this classifier when fed the trainer's own analysis of each note: a decoder "
        "that reproduced that analysis exactly would score about that, and the gap between it and the "
        "resynthesis is the decoder's.",
        "",
        "| instrument | notes | spectral distance | f0 median abs (cents) | loudness error (dB) | classified correctly | analysis-resynthesis classified correctly | from MIDI classified correctly (with transients) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in s["per_instrument"].items():
        with_t = f" ({r['midi_transients_accuracy']:.2f})" if r.get("midi_transients_accuracy") is not None else ""
        lines.append(f"| {name} | {r['notes']} | {r['spectral_distance']:.3f} | {r['median_abs_f0_cents']:.2f} | "
                     f"{r['loudness_error_db']:.2f} | {r['resynth_accuracy']:.2f} | {r['analysis_accuracy']:.2f} | "
                     f"{r['midi_accuracy']:.2f}{with_t} |")
    m = s["morph"]
    lines += [
        "",
        "## Timbre space and morphing",
        "",
        "![latent map](latent-map.png)",
        "",
        f"Morph {m['from']} → {m['to']}: spectral centroid {m['centroid_start_hz']:.0f} Hz → {m['centroid_end_hz']:.0f} Hz, "
        f"largest step {m['max_step_hz']:.1f} Hz vs mean step {m['mean_step_hz']:.1f} Hz.",
        "",
        "![morph](morph.png)",
        "",
        "## Training",
        "",
        f"Steps: {prov.get('steps')}; training time: {prov.get('train_seconds', 0) or 0:.0f} s; "
        f"notes: {prov.get('notes')}; dataset: {prov.get('dataset')}.",
        "",
        "![training curves](curves.png)",
        "",
        f"How it was trained (commands, machine): [TRAINING.md](TRAINING.md). Evaluation took {s['evaluation_seconds']:.0f} s.",
    ]
    (report / "README.md").write_text("\n".join(lines) + "\n")
