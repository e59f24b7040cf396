"""Inharmonic (stretched) partials: a stiff string's partial k sits at f_k = k·f0·sqrt(1 + B·k²).

1. `estimate`: B of one note by peak tracking (not gradient descent, which cannot find
   frequencies): a long zero-padded Hann window over the sustained part, the peak near each
   predicted partial found with parabolic interpolation, (f0, B) fitted by least squares on
   (f_k / k)² = f0² + f0²·B·k², partial by partial so each prediction uses the partials found below it.
2. `measure_dataset`: B of every note of a dataset, cached in DATA/inharmonicity.json.
3. `build_table`: B per instrument and MIDI pitch; `predict` blends the instruments' B with
   softmax weights of a latent point z's distances to the instruments' prior means (docs/model-format.md, "Inharmonicity"), so
   a morph moves B smoothly and an encoded sound gets its nearest instruments' stretch. (A small
   MLP from (z, pitch) fitted with Adam was tried first: FluidR3's piano has one sample per zone
   of about four semitones, so B is a staircase in pitch, and the MLP's value at MIDI 72 moved by
   ±0.8 % at partial 15 from one seed to the next, beyond the 0.3 % bound. The table is exact at
   every measured pitch.)
4. `add_to_model`: writes `inharmonicity.b` and `inharmonicity.blend_scale` into an exported model file, every other tensor
   and the metadata kept as they are (plus an informative `inharmonicity` metadata key).

`timbred-train inharmonicity --model FILE --data DATA` runs all four and prints measured against
predicted B and the ratios of partials 7, 11 and 15 per instrument.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from .errors import UserError

B_MAX = 1e-2  # largest B measured or predicted
B_MIN = 1e-6  # below this a note counts as harmonic (partial 15 off by < 0.2 cent)
HARMONIC_LOG10 = -8.0  # log10 B standing for a harmonic pitch when interpolating between pitches
N_PITCHES = 128  # the table's pitch axis: MIDI 0..127
CACHE_VERSION = 2
MODE_WINDOW = 0.45  # `estimate(modes=True)`: each partial after the first is searched within ± this × f0
MODE_MIN_PARTIALS = 3  # ... and this many found (the fundamental and two modes) make a fit
MODE_RANGE_DB = 50.0  # ... each within this of the note's strongest peak
REPORT_PARTIALS = (7, 11, 15)


def stretch_ratio(k, b):
    """r_k = k · sqrt(1 + B k²): partial k's frequency over f0."""
    k = np.asarray(k, np.float64)
    return k * np.sqrt(1.0 + np.asarray(b, np.float64) * k * k)


def _fit(k: np.ndarray, f: np.ndarray) -> tuple[float, float, float]:
    """Least squares of (f_k/k)² = a + b k²: (f0, B, standard error of B)."""
    x, y = k.astype(np.float64) ** 2, (f / k) ** 2
    A = np.stack([np.ones_like(x), x], 1)
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    a, b = coef
    f0 = math.sqrt(max(a, 1e-9))
    if len(k) > 2:
        res = y - A @ coef
        s2 = float(res @ res) / (len(k) - 2)
        cov = s2 * np.linalg.inv(A.T @ A)
        se = math.sqrt(max(cov[1, 1], 0.0)) / max(a, 1e-9)
    else:
        se = math.inf
    return f0, b / max(a, 1e-9), se


def estimate(audio: np.ndarray, sample_rate: int, f0_nominal: float, start_s: float = 0.1, end_s: float = 1.0,
             max_partials: int = 40, min_snr_db: float = 20.0, pad: int = 8,
             tolerance_cents: float = 12.0, modes: bool = False) -> dict:
    """B of one note by peak tracking over audio[start_s:end_s].

    Partial k is searched within ±40 % (first) or ±25 % of f0 around k·f0·sqrt(1 + B k²) of the
    partials found so far, must stand `min_snr_db` above the median level around it, and once four
    are found, lie within `tolerance_cents` of the prediction.

    `modes`: a struck bar's few modes (a vibraphone's at 1, 4 and about 10 × f0) instead of a
    string's many partials: each partial after the first is searched within ±MODE_WINDOW of f0 (FluidR3's
    lowest vibraphone bars ring their third mode at 10.33 f0, outside ±25 % of 10 f0) and must lie
    within MODE_RANGE_DB of the strongest peak (between a bar's modes the spectrum is nearly silent, so
    the median floor passes stray peaks 80 dB down), and MODE_MIN_PARTIALS found, the highest at
    least the 8th, make the fit reliable.

    Returns {"b": B clamped to [0, B_MAX] (0 when the fit is unreliable or not significant),
    "b_raw", "b_se", "f0", "partials": [k...], "freqs": [Hz...], "reliable": bool}."""
    x = np.asarray(audio, np.float64)[int(start_s * sample_rate): int(end_s * sample_rate)]
    out = {"b": 0.0, "b_raw": 0.0, "b_se": math.inf, "f0": float(f0_nominal), "partials": [], "freqs": [],
           "reliable": False}
    if len(x) < 1024 or np.max(np.abs(x)) < 1e-5:
        return out
    n_fft = 1 << int(math.ceil(math.log2(len(x) * pad)))
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)), n_fft))
    db = 20 * np.log10(spec + 1e-12)
    bin_hz = sample_rate / n_fft
    top_db = float(db.max())
    f0, b = float(f0_nominal), 0.0
    ks, fs = [], []
    nyq = 0.45 * sample_rate
    for k in range(1, max_partials + 1):
        pred = k * f0 * math.sqrt(1 + b * k * k)
        if pred > nyq:
            break
        # search ±25 % of f0 around the prediction (±40 % for the first, whose f0 is the nominal one)
        half = (0.4 if not ks else MODE_WINDOW if modes else 0.25) * f0
        lo, hi = int((pred - half) / bin_hz), int((pred + half) / bin_hz)
        lo, hi = max(lo, 2), min(hi, len(db) - 3)
        if hi <= lo + 2:
            continue
        i = lo + int(np.argmax(db[lo:hi + 1]))
        if i <= lo or i >= hi:
            continue  # no peak inside the window (the window's edge is the maximum)
        floor = float(np.median(db[max(0, int((pred - 0.5 * f0) / bin_hz)): int((pred + 0.5 * f0) / bin_hz)]))
        if db[i] - floor < min_snr_db or (modes and db[i] < top_db - MODE_RANGE_DB):
            continue
        a_, b_, c_ = db[i - 1], db[i], db[i + 1]
        den = a_ - 2 * b_ + c_
        delta = 0.5 * (a_ - c_) / den if den != 0 else 0.0
        found = (i + delta) * bin_hz
        if len(ks) >= 4 and abs(1200 * math.log2(found / pred)) > tolerance_cents:
            continue  # not this partial (an image, a neighbour, a mallet mode): the fit predicts it well
        ks.append(k)
        fs.append(found)
        if len(ks) >= 3:
            f0, b, _ = _fit(np.asarray(ks), np.asarray(fs))
            b = min(max(b, 0.0), B_MAX)
        elif len(ks) == 1:
            f0 = fs[0]  # the first partial found sets f0 until there are enough for a fit
            if k > 1:
                f0 /= k
    if len(ks) < (MODE_MIN_PARTIALS if modes else 4):
        out.update(partials=ks, freqs=fs)
        return out
    k_arr, f_arr = np.asarray(ks), np.asarray(fs)
    f0, b, se = _fit(k_arr, f_arr)
    # drop partials more than 8 cents off the fit (split peaks of a string pair), fit again
    cents = 1200 * np.log2(f_arr / (f0 * stretch_ratio(k_arr, max(b, 0.0))))
    keep = np.abs(cents) < 8
    if keep.sum() >= 4 and not keep.all():
        k_arr, f_arr = k_arr[keep], f_arr[keep]
        f0, b, se = _fit(k_arr, f_arr)
    # enough partials, and most of those searched up to the highest one found (vibrato smears
    # a bowed string's or a voice's upper partials below the SNR and leaves a few stray peaks)
    reliable = len(k_arr) >= 5 and int(k_arr.max()) >= 8 and len(k_arr) >= 0.6 * int(k_arr.max())
    if modes:
        reliable = len(k_arr) >= MODE_MIN_PARTIALS and int(k_arr.max()) >= 8
    significant = b > 3 * se and b >= B_MIN
    out.update(b_raw=float(b), b_se=float(se), f0=float(f0), partials=[int(v) for v in k_arr],
               freqs=[float(v) for v in f_arr], reliable=bool(reliable))
    out["b"] = float(min(b, B_MAX)) if reliable and significant else 0.0
    return out


def measure_dataset(data: Path, cache: bool = True, verbose: bool = True, modes: list[str] | None = None) -> list[dict]:
    """B of every note in DATA's manifest (order of the manifest), cached in DATA/inharmonicity.json;
    the notes of the instruments in `modes` read by their modes (`estimate(modes=True)`, cached
    apart, in DATA/inharmonicity-modes.json)."""
    if modes:
        plain = measure_dataset(data, cache, verbose)
        by_mode = _measure_notes(data, data / "inharmonicity-modes.json", cache, verbose, set(modes))
        return [p if m is None else m for p, m in zip(plain, by_mode)]
    return _measure_notes(data, data / "inharmonicity.json", cache, verbose, set())


def _measure_notes(data: Path, path: Path, cache: bool, verbose: bool, modes: set[str]) -> list[dict]:
    """`measure_dataset`'s pass over the manifest, cached in `path`: every note, or with `modes`
    only those instruments' (read by their modes; the others' entries are None)."""
    from .dataset import load_manifest, read_audio

    sr, notes = load_manifest(data)
    cached = {}
    if cache and path.is_file():
        try:
            c = json.loads(path.read_text())
            if c.get("version") == CACHE_VERSION and c.get("sample_rate") == sr:
                cached = {n["file"]: n for n in c["notes"]}
        except (ValueError, KeyError):
            cached = {}
    out, fresh = [], 0
    for i, note in enumerate(notes):
        if modes and note.instrument not in modes:
            out.append(None)
            continue
        if note.file in cached:
            out.append(cached[note.file])
            continue
        audio = read_audio(data / "audio" / note.file, sr)
        e = estimate(audio, sr, 440.0 * 2 ** ((note.pitch - 69) / 12), modes=bool(modes))
        out.append({"file": note.file, "instrument": note.instrument, "pitch": note.pitch, "velocity": note.velocity,
                    "b": e["b"], "b_raw": e["b_raw"], "b_se": e["b_se"] if math.isfinite(e["b_se"]) else None,
                    "f0": e["f0"], "n_partials": len(e["partials"]), "reliable": e["reliable"]})
        fresh += 1
        if verbose and fresh % 200 == 0:
            print(f"  measured {fresh} notes ({i + 1}/{len(notes)})", flush=True)
    if fresh and cache:
        path.write_text(json.dumps({"version": CACHE_VERSION, "sample_rate": sr,
                                    "notes": [n for n in out if n is not None]}, indent=0))
    return out


# --- the predictor -------------------------------------------------------------------------------

def build_table(measured: list[dict], instruments: list[str], modes: list[str] | None = None) -> np.ndarray:
    """`inharmonicity.b` [I, N_PITCHES]: B per instrument at every MIDI pitch (0 = harmonic).

    An instrument is stretched when at least half of its notes measure B > 0 (so a few stray fits
    of a bowed string's vibrato or a clarinet's missing even partials leave it harmonic), or when it
    is named in `modes` and any of them does (a SoundFont's mallet changes samples every few keys,
    and only some of them ring a mode off its harmonic). Then its
    B at a measured pitch is the median over the pitch's reliably measured velocities; pitches
    without a reliable note are interpolated linearly in log10 B between the nearest that have
    one, and the ends are held. Every other instrument's B is 0."""
    table = np.zeros((len(instruments), N_PITCHES), np.float32)
    for i, name in enumerate(instruments):
        ms = [m for m in measured if m["instrument"] == name]
        stretched = sum(m["b"] > 0 for m in ms)
        if not ms or not stretched or (stretched < 0.5 * len(ms) and name not in (modes or [])):
            continue
        pitches, ys = [], []
        for p in sorted({m["pitch"] for m in ms}):
            good = [m["b"] for m in ms if m["pitch"] == p and m["reliable"]]
            if good:
                b = float(np.median(good))
                pitches.append(p)
                ys.append(math.log10(b) if b > 0 else HARMONIC_LOG10)
        if pitches:
            b = 10.0 ** np.interp(np.arange(N_PITCHES), pitches, ys)
            table[i] = np.where(b < B_MIN, 0.0, np.minimum(b, B_MAX)).astype(np.float32)
    return table


TUNING_LIMIT_CENTS = 100.0  # |cents| a tuning table may hold (the engine refuses more)


FIT_PARTIALS_FOR_TUNING = 8  # a note whose fit found fewer partials is tuned by its first partial's peak


def stretch_cents(b) -> np.ndarray:
    """How far a stiff string's first partial lies above f0: 1200 log2 sqrt(1 + B), cents."""
    return 600.0 * np.log2(1.0 + np.asarray(b, np.float64))


def partial_one_hz(audio: np.ndarray, sample_rate: int, near_hz: float, start_s: float = 0.3,
                   end_s: float = 1.5) -> float:
    """The first partial's frequency: the strongest peak within ±3 % of `near_hz` in the spectrum
    of `start_s`-`end_s` (Hann window, zero-padded 4×, parabolic interpolation in dB)."""
    x = np.asarray(audio, np.float64)[int(start_s * sample_rate): int(end_s * sample_rate)]
    n = 4 * len(x)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)), n)) + 1e-12
    hz = np.fft.rfftfreq(n, 1.0 / sample_rate)
    inside = np.flatnonzero((hz > 0.97 * near_hz) & (hz < 1.03 * near_hz))
    i = int(inside[np.argmax(spectrum[inside])])
    a, b, c = 20 * np.log10(spectrum[i - 1: i + 2])
    shift = 0.5 * (a - c) / (a - 2 * b + c) if a - 2 * b + c < 0 else 0.0
    return float(hz[i] + shift * (hz[1] - hz[0]))


def build_tuning(data: Path, measured: list[dict], instruments: list[str], tuned: list[str],
                 b_table: np.ndarray) -> np.ndarray:
    """`inharmonicity.tuning_cents` [I, N_PITCHES]: the stretch tuning of each instrument in
    `tuned`, cents per MIDI key (0 for every other instrument).

    A piano's tuner sets each octave to its stretched partials, so its treble sits sharp and its
    bass flat (FluidR3's first partial: +16 cents at MIDI 96, +27 at 108); played at equal
    temperament with stretched partials, its octaves beat. The cents put the engine's first
    partial, `f0 · sqrt(1 + B)` with `b_table`'s B, where the recordings' lies: per note, the fit's
    `f0 · sqrt(1 + B)` where it found FIT_PARTIALS_FOR_TUNING partials or more, else the peak of its
    first partial (`partial_one_hz`: a treble note has too few partials for a fit); per key the
    median over the velocities, less the stretch of the table's B there; linear between keys, the
    ends held. Only where asked: the other instruments of a SoundFont are tuned equal (a few cents
    either way is a sample's error, and a wind's vibrato or an organ's detuned ranks move it)."""
    from .dataset import load_manifest, read_audio

    sr = None
    table = np.zeros((len(instruments), N_PITCHES), np.float32)
    for name in tuned:
        if name not in instruments:
            raise UserError(f"inharmonicity: --tuned names {name}, which the model does not have "
                            f"({', '.join(instruments)})")
        i = instruments.index(name)
        first: dict[int, list[float]] = {}
        for m in (m for m in measured if m["instrument"] == name):
            nominal = 440.0 * 2 ** ((m["pitch"] - 69) / 12)
            if m["reliable"] and m["n_partials"] >= FIT_PARTIALS_FOR_TUNING:
                hz = m["f0"] * math.sqrt(1 + m["b"])
            else:
                sr = sr or load_manifest(data)[0]
                hz = partial_one_hz(read_audio(data / "audio" / m["file"], sr), sr, nominal)
            first.setdefault(int(m["pitch"]), []).append(1200.0 * math.log2(hz / nominal))
        if not first:
            raise UserError(f"inharmonicity: no note of {name} to tune it by")
        keys = sorted(first)
        cents = [float(np.median(first[k])) - float(stretch_cents(b_table[i, k])) for k in keys]
        row = np.interp(np.arange(N_PITCHES), keys, cents)
        table[i] = np.clip(row, -TUNING_LIMIT_CENTS, TUNING_LIMIT_CENTS).astype(np.float32)
    return table


def tuning_semitones(table: np.ndarray, means: np.ndarray, scale: float, z: np.ndarray, key: float,
                     rule: str = "gaussian") -> float:
    """The stretch tuning at latent point z and MIDI key (docs/model-format.md, "Inharmonicity"):
    Σ_i w_i(z) · cents_i(key) / 100 semitones, cents linear between integer keys, clamped to
    [0, 127]; added to the key's pitch."""
    return float(blend_weights(z, means, scale, rule) @ table_value(table, key)) / 100.0


def blend_weights(z: np.ndarray, means: np.ndarray, scale: float, rule: str = "gaussian") -> np.ndarray:
    """The envelopes' blend weights (`envelope.blend_weights`, the model's rule) with this table's scale."""
    from .envelope import blend_weights as weights

    return weights(np.asarray(z, np.float64), np.asarray(means, np.float64), scale, rule)


def table_value(table: np.ndarray, pitch: float) -> np.ndarray:
    """Every instrument's B at a (fractional) MIDI pitch: linear between integer pitches, clamped."""
    p = min(max(float(pitch), 0.0), N_PITCHES - 1.0)
    j = min(int(math.floor(p)), N_PITCHES - 2)
    f = p - j
    return (1 - f) * table[:, j].astype(np.float64) + f * table[:, j + 1].astype(np.float64)


def predict(table: np.ndarray, means: np.ndarray, scale: float, z: np.ndarray, pitch: float,
            rule: str = "gaussian") -> float:
    """B at latent point z and MIDI pitch (docs/model-format.md, "Inharmonicity"):
    y = Σ_i w_i(z) B_i(pitch); B = 0 where y < B_MIN, else min(y, B_MAX)."""
    y = float(blend_weights(z, means, scale, rule) @ table_value(table, pitch))
    return 0.0 if y < B_MIN else min(y, B_MAX)


def choose_blend_scale(table: np.ndarray, means: np.ndarray, largest: float, tolerance: float = 0.01,
                       rule: str = "gaussian") -> float:
    """The largest blend scale (at most `largest`, the envelope's) at which every instrument's own
    prior mean plays its own B at every pitch: within `tolerance` of it, and harmonic (below
    B_MIN) where it is 0. Smaller scales make a morph's change of B happen over a shorter part of
    its path (still continuous); the envelope's scale lets neighbours leak in at the presets
    (a piano's own weight there is about 0.76)."""
    def ok(scale: float) -> bool:
        for i in range(len(means)):
            y = blend_weights(means[i], means, scale, rule) @ table.astype(np.float64)
            own = table[i].astype(np.float64)
            if np.any(np.where(own > 0, np.abs(y - own) > tolerance * own, y >= B_MIN)):
                return False
        return True

    if ok(largest):
        return float(largest)
    lo, hi = 1e-3 * largest, largest
    for _ in range(40):
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return float(lo)


def add_to_model(path: Path, tensors: dict[str, np.ndarray], info: dict, out: Path | None = None) -> None:
    """Writes `tensors` into the model file (replacing any earlier `inharmonicity.*`); every other
    tensor's bytes and the metadata stay as they were, plus an informative `inharmonicity` key."""
    from .modelfile import replace_tensors

    replace_tensors(path, "inharmonicity.", tensors, "inharmonicity", info, out)


# --- the command ---------------------------------------------------------------------------------

def training_entries(measured: list[dict], splits: list[str]) -> list[dict]:
    """The measurements of the train split's notes (`splits`: each note's split, in the manifest's
    order, as `measure_dataset` returns them): the table never hears the held-out pitches that the
    report judges (`cache.training_notes`); a held-out pitch takes B from its neighbours."""
    if len(splits) != len(measured):
        raise UserError(f"inharmonicity: {len(measured)} measurements for {len(splits)} notes")
    return [m for m, split in zip(measured, splits) if split == "train"]


def run(model_path: Path, data: Path, out: Path | None = None, write: bool = True,
        tuned: list[str] | None = None, modes: list[str] | None = None, only: list[str] | None = None) -> dict:
    """`timbred-train inharmonicity`: measure (cached), build the table (and the stretch tuning of
    the instruments in `tuned`), report, write. Returns the report's figures. `modes`: these
    instruments are read by their modes (`estimate(modes=True)`); `only`: just these instruments'
    rows of the file's tables are set, every other row and the blend scale stay as they are."""
    from safetensors import safe_open

    from .config import ModelConfig

    if not Path(model_path).is_file():
        raise UserError(f"{model_path}: model file not found")
    with safe_open(str(model_path), framework="np") as f:
        meta = f.metadata() or {}
        means = f.get_tensor("latent.means")
        before = {k: f.get_tensor(k) for k in f.keys() if k.startswith("inharmonicity.")}
    cfg = ModelConfig.from_dict(json.loads(meta["config"]))
    unknown = [n for n in (*(modes or []), *(only or [])) if n not in cfg.instruments]
    if unknown:
        raise UserError(f"{model_path}: no instrument {', '.join(unknown)} (it has {', '.join(cfg.instruments)})")
    if only and "inharmonicity.b" not in before:
        raise UserError(f"{model_path}: no inharmonicity.b to set only some rows of (run without --only first)")
    print(f"measuring B on the notes of {data} (cached in {data / 'inharmonicity.json'})", flush=True)
    from .dataset import load_manifest

    measured = training_entries(measure_dataset(data, modes=modes), [n.split for n in load_manifest(data)[1]])
    table = build_table(measured, list(cfg.instruments), modes)
    rule = meta.get("envelope_blend", "gaussian")
    kept = np.array([n not in only for n in cfg.instruments]) if only else None
    if kept is not None:
        table[kept] = before["inharmonicity.b"][kept]
        scale = float(before["inharmonicity.blend_scale"][0])
    else:
        scale = choose_blend_scale(table, means, float(meta["envelope_blend_scale"]), rule=rule)
    print(f"blend scale {scale:.4f} (the envelopes': {float(meta['envelope_blend_scale']):.4f})")
    figures: dict = {"instruments": {}}
    print(f"{'instrument':16s} {'notes':>5s} {'B > 0':>5s}  {'measured B (median at low/mid/high pitch)':>42s}  "
          f"{'predicted B at the preset':>28s}   partials 7/11/15 / f0 at the middle pitch: measured | predicted")
    by_name: dict[str, list] = {}
    for m in measured:
        by_name.setdefault(m["instrument"], []).append(m)
    for k, name in enumerate(cfg.instruments):
        ms = by_name.get(name, [])
        if not ms:
            continue
        pitches = sorted({m["pitch"] for m in ms})
        picks = [pitches[0], pitches[len(pitches) // 2], pitches[-1]]
        meas = [float(np.median([m["b"] for m in ms if m["pitch"] == p])) for p in picks]
        pred = [predict(table, means, scale, means[k], p, rule) for p in picks]
        r_meas = [float(stretch_ratio(q, meas[1])) for q in REPORT_PARTIALS]
        r_pred = [float(stretch_ratio(q, pred[1])) for q in REPORT_PARTIALS]
        stretched = int(sum(m["b"] > 0 for m in ms))
        figures["instruments"][name] = {"notes": len(ms), "stretched": stretched, "pitches": picks,
                                        "measured_b": meas, "predicted_b": pred,
                                        "ratios_measured": r_meas, "ratios_predicted": r_pred}
        print(f"{name:16s} {len(ms):5d} {stretched:5d}  {' '.join(f'{v:8.2e}' for v in meas)} @{picks[0]}/{picks[1]}/{picks[2]}"
              f"  {' '.join(f'{v:8.2e}' for v in pred):>28s}   "
              f"{'/'.join(f'{v:.3f}' for v in r_meas)} | {'/'.join(f'{v:.3f}' for v in r_pred)}")
    if "piano" in cfg.instruments:
        k = cfg.instruments.index("piano")
        figures["piano"] = {}
        for p in (48, 60, 72):
            b = predict(table, means, scale, means[k], p, rule)
            near = [m["b"] for m in by_name.get("piano", []) if abs(m["pitch"] - p) <= 1 and m["reliable"]]
            bm = float(np.median(near)) if near else 0.0
            rp = [float(stretch_ratio(q, b)) for q in REPORT_PARTIALS]
            rm = [float(stretch_ratio(q, bm)) for q in REPORT_PARTIALS]
            figures["piano"][p] = {"predicted_b": b, "measured_b": bm, "ratios_predicted": rp, "ratios_measured": rm}
            print(f"piano MIDI {p} at its preset: B {b:.3e}, partials 7/11/15 at {'/'.join(f'{v:.3f}' for v in rp)} "
                  f"x f0 (measured on MIDI {p - 1} and {p + 1}: B {bm:.3e}, {'/'.join(f'{v:.3f}' for v in rm)})")
    tuning = build_tuning(Path(data), measured, list(cfg.instruments), list(tuned or []), table)
    if kept is not None and "inharmonicity.tuning_cents" in before:
        tuning[kept] = before["inharmonicity.tuning_cents"][kept]
    for name in tuned or []:
        k = cfg.instruments.index(name)
        shown = [21, 36, 48, 60, 69, 84, 96, 102, 108]
        print(f"{name} stretch tuning at its preset, cents at MIDI {'/'.join(map(str, shown))}: "
              + " ".join(f"{tuning_semitones(tuning, means, scale, means[k], p, rule) * 100:+.1f}" for p in shown)
              + "; its first partial: "
              + " ".join(f"{tuning_semitones(tuning, means, scale, means[k], p, rule) * 100 + stretch_cents(predict(table, means, scale, means[k], p, rule)):+.1f}" for p in shown))
    figures["tuning_cents"] = tuning
    if write:
        info = {"measured_notes": len(measured), "stretched_notes": int(sum(m["b"] > 0 for m in measured)),
                "dataset": str(Path(data).name),
                "stretched_instruments": [n for i, n in enumerate(cfg.instruments) if table[i].max() > 0],
                "tuned_instruments": list(tuned or [])}
        if only:
            info = json.loads(meta.get("inharmonicity", "{}")) | {
                "stretched_instruments": info["stretched_instruments"],
                "set_only": {"instruments": list(only), "modes": list(modes or []), "dataset": info["dataset"]}}
        tensors = {"inharmonicity.b": table, "inharmonicity.blend_scale": np.array([scale], np.float32)}
        if tuned or (only and "inharmonicity.tuning_cents" in before):
            tensors["inharmonicity.tuning_cents"] = tuning
        add_to_model(model_path, tensors, info, out)
        print(f"wrote {', '.join(tensors)} into {out or model_path}")
    figures["table"], figures["blend_scale"] = table, scale
    return figures


# --- the engine's fixture ------------------------------------------------------------------------

def write_fixture(folder: Path) -> Path:
    """`inharmonic-reference.safetensors`: the stretched oscillator bank and the B lookup on fixed
    inputs, for the Swift engine's tests (model-independent).

    Synthesis: `f0_hz` [N] (a glide with vibrato), `amplitudes` [N, K] (already masked),
    `inharmonicity` [N] (0 for the first frames, then stretched, changing between frames), and per
    rate R in 44100, 48000: `audio.R` = dsp.harmonic_synth(..., inharmonicity). Mask: `mask.amplitude`
    [N], `mask.distribution` [N, K], `mask.limit_hz` [1], `mask.harmonics` [N, K] =
    dsp.harmonic_amplitudes with `inharmonicity`. Lookup: `lookup.b` [I, 128], `lookup.means` [I, Z],
    `lookup.blend_scale` [1], queries `lookup.z` [Q, Z], `lookup.pitch` [Q], answers `lookup.values` [Q];
    the stretch tuning `lookup.tuning_cents` [I, 128] and its answers at the same queries (the pitch
    as the key) `lookup.tuning_semitones` [Q]."""
    import torch
    from safetensors.numpy import save_file

    from . import dsp

    rng = np.random.default_rng(21)
    n, k = 40, 24
    t = np.arange(n) / n
    f0 = (180.0 * 2 ** (0.5 * t) * (1 + 0.01 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    amps = (0.3 / np.arange(1, k + 1)[None, :] * (1 + 0.3 * rng.random((n, k)))).astype(np.float32)
    amps[:, 20:] = 0.0  # partials above a frame's limit are masked: the bank sees zeros there
    b = np.zeros(n, np.float32)
    b[5:] = np.linspace(2e-4, 1.5e-3, n - 5).astype(np.float32)
    b[20:25] = 0.0  # back to B = 0 for a while: the partials keep their own phases
    out = {"f0_hz": f0, "amplitudes": amps, "inharmonicity": b}
    for rate in (44100, 48000):
        samples = int(n * rate / 100)
        audio = dsp.harmonic_synth(torch.as_tensor(f0)[None], torch.as_tensor(amps)[None], 100, rate, samples,
                                   inharmonicity=torch.as_tensor(b)[None])
        out[f"audio.{rate}"] = audio[0].numpy()
    dist = (0.05 + rng.random((n, k))).astype(np.float32)
    amplitude = (0.2 + 0.5 * rng.random(n)).astype(np.float32)
    mf0 = (900.0 + 500.0 * t).astype(np.float32)
    mb = np.linspace(0.0, 3e-3, n).astype(np.float32)
    harm = dsp.harmonic_amplitudes(torch.as_tensor(amplitude)[None, :, None], torch.as_tensor(dist)[None],
                                   torch.as_tensor(mf0)[None], 16000.0, torch.as_tensor(mb)[None])
    out.update({"mask.amplitude": amplitude, "mask.distribution": dist, "mask.f0_hz": mf0, "mask.inharmonicity": mb,
                "mask.limit_hz": np.array([16000.0], np.float32), "mask.harmonics": harm[0].numpy()})
    table = np.zeros((3, N_PITCHES), np.float32)
    table[0] = (10.0 ** np.interp(np.arange(N_PITCHES), [21, 60, 108], [-4.3, -3.5, -2.7])).astype(np.float32)
    table[2] = (10.0 ** np.interp(np.arange(N_PITCHES), [40, 80], [-5.0, -3.9])).astype(np.float32)
    means = rng.normal(size=(3, 4)).astype(np.float32) * 1.5
    scale = 0.6
    zs, ps, vs = [], [], []
    for q in range(12):
        a, c = rng.random(), rng.random()
        z = means[0] * a + means[1] * (1 - a) * c + means[2] * (1 - a) * (1 - c) + 0.1 * rng.normal(size=4)
        if q < 3:
            z = means[q].copy()
        p = float(rng.uniform(10, 120)) if q != 4 else 127.0
        zs.append(z)
        ps.append(p)
        vs.append(predict(table, means, scale, z, p))
    # the stretch tuning on the same queries (the pitch as the key): a stretched treble on
    # instrument 0, a flat bass on instrument 2
    tuning = np.zeros((3, N_PITCHES), np.float32)
    tuning[0] = np.interp(np.arange(N_PITCHES), [21, 69, 90, 108], [-8.0, 0.0, 4.0, 27.0]).astype(np.float32)
    tuning[2] = np.interp(np.arange(N_PITCHES), [20, 60], [-12.0, 0.0]).astype(np.float32)
    ts = [tuning_semitones(tuning, means, scale, z, p) for z, p in zip(zs, ps)]
    out.update({"lookup.b": table, "lookup.means": means, "lookup.blend_scale": np.array([scale], np.float32),
                "lookup.z": np.asarray(zs, np.float32), "lookup.pitch": np.asarray(ps, np.float32),
                "lookup.values": np.asarray(vs, np.float32), "lookup.tuning_cents": tuning,
                "lookup.tuning_semitones": np.asarray(ts, np.float32)})
    path = Path(folder) / "inharmonic-reference.safetensors"
    save_file({key: np.ascontiguousarray(v, np.float32) for key, v in out.items()}, str(path),
              metadata={"frame_rate": "100", "writer": "timbred_train.inharmonicity.write_fixture"})
    return path


# --- the check: played from MIDI beside FluidR3 --------------------------------------------------

def partial_ratios(audio: np.ndarray, sample_rate: int, pitch: int, partials=REPORT_PARTIALS) -> dict[int, float]:
    """f_k / f_1 of a note's partials by peak picking (the estimator's peaks over 0.1-1.0 s, 12 dB
    above the level around them: a decoder's weak upper partials count); nan where partial k was
    not found."""
    e = estimate(audio, sample_rate, 440.0 * 2 ** ((pitch - 69) / 12), min_snr_db=12.0)
    found = dict(zip(e["partials"], e["freqs"]))
    f1 = found.get(1, e["f0"] * math.sqrt(1 + e["b_raw"]))
    return {k: (found[k] / f1 if k in found else float("nan")) for k in partials}


def render_check(timbred: Path, model: Path, presets: Path, work: Path, pitches=(48, 60, 72), instrument: str = "piano",
                 program: int = 0, soundfont: Path = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")) -> dict:
    """Partials 7, 11, 15 over partial 1 of `instrument` at `pitches`, played from MIDI through
    `timbred render` with `model` and by FluidSynth (reverb and chorus off), velocity 100, 3 s held."""
    from .dataset import FluidSynth
    from .playing import RATE, render_timbred

    work.mkdir(parents=True, exist_ok=True)
    ours = render_timbred(timbred, model, presets, instrument, [(p, 100) for p in pitches], work)
    fs = FluidSynth(soundfont, RATE)
    out = {}
    for p, audio in zip(pitches, ours):
        real = fs.render_note(program, p, 100, 3.0, 1.0)
        r, o = partial_ratios(real, RATE, p), partial_ratios(audio, RATE, p)
        out[p] = {"real": r, "timbred": o,
                  "error_percent": {k: 100 * (o[k] / r[k] - 1) for k in r}}
    return out
