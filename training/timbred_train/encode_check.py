"""Checks `timbred encode` (issue 6) with numbers.

1. Held-out notes land nearest their own instrument: every held-out (test-split) note of the note
   set is encoded alone by `timbred encode`, and each instrument's held-out notes are encoded
   together (one call, the product of their posteriors); the table gives, per instrument, the
   fraction of notes whose nearest instrument is their own and where the combined encoding lands.
2. A sound the model never saw: notes of another SoundFont (TimGM6mb) and of FluidR3 programs that
   are not among the model's instruments are rendered (the dataset's renderer: reverb and chorus
   off), encoded together into a preset, and the same notes are played from MIDI by `timbred
   render` with the encoded preset and with the shipped preset of its nearest instrument. Each
   rendered note is compared with its recording by a timbre distance: the log-mel spectrum averaged
   over the note, level-normalised (insensitive to phase, timing and gain); the multi-scale spectral
   distance of the level-matched notes is reported beside it. FluidR3 instruments the model was
   trained on go through the same procedure as a reference (not counted).

Writes REPORT/README.md and REPORT/summary.json.
"""
from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from .dataset import FluidSynth, load_manifest, read_audio
from .engine_check import GAP_S, NOTE_S, write_midi
from .errors import UserError

FLUID_R3 = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
TIMGM6MB = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")
SOUNDFONT_PACKAGES = {FLUID_R3: "fluid-soundfont-gm", TIMGM6MB: "timgm6mb-soundfont"}
VELOCITY = 100
HOLD_S, RELEASE_S = 2.0, 1.0
COMPARE_S = 2.0  # the held part of each note is compared
RENDER_RATE = 32000  # recordings and `timbred render --rate`


@dataclass(frozen=True)
class Sound:
    """A sound the model never heard: a SoundFont program and three pitches in its range."""

    key: str  # file-name-safe identifier, also the encoded preset's name
    label: str
    soundfont: Path
    program: int  # GM program, 0-based
    pitches: tuple[int, ...]
    seen: bool = False  # a reference: the very sound the model was trained on (not counted)


# GM programs (0-based): flute 73, trumpet 56, violin 40, clarinet 71 (TimGM6mb's own samples of
# instruments the model knows from FluidR3); bassoon 70, accordion 21, harmonica 22, pan flute 75,
# tenor sax 66 (FluidR3 programs that are not among the model's instruments).
UNSEEN_SOUNDS: tuple[Sound, ...] = (
    Sound("timgm_flute", "TimGM6mb flute", TIMGM6MB, 73, (67, 74, 81)),
    Sound("timgm_trumpet", "TimGM6mb trumpet", TIMGM6MB, 56, (55, 62, 69)),
    Sound("timgm_violin", "TimGM6mb violin", TIMGM6MB, 40, (62, 69, 76)),
    Sound("timgm_clarinet", "TimGM6mb clarinet", TIMGM6MB, 71, (55, 62, 69)),
    Sound("fluid_bassoon", "FluidR3 bassoon", FLUID_R3, 70, (43, 50, 57)),
    Sound("fluid_accordion", "FluidR3 accordion", FLUID_R3, 21, (55, 62, 69)),
    Sound("fluid_harmonica", "FluidR3 harmonica", FLUID_R3, 22, (60, 67, 74)),
    Sound("fluid_pan_flute", "FluidR3 pan flute", FLUID_R3, 75, (67, 74, 81)),
    Sound("fluid_tenor_sax", "FluidR3 tenor sax", FLUID_R3, 66, (50, 57, 64)),
    # references: FluidR3 instruments the model was trained on, to show the distances' floor
    Sound("fluid_flute", "FluidR3 flute", FLUID_R3, 73, (67, 74, 81), seen=True),
    Sound("fluid_trumpet", "FluidR3 trumpet", FLUID_R3, 56, (55, 62, 69), seen=True),
    Sound("fluid_violin", "FluidR3 violin", FLUID_R3, 40, (62, 69, 76), seen=True),
)


# --- timbre distances ---------------------------------------------------------------------------------

def mean_log_mel(audio: np.ndarray, sample_rate: int, seconds: float = COMPARE_S, n_fft: int = 2048,
                 hop: int = 512, n_mels: int = 64, floor_db: float = 60.0) -> np.ndarray:
    """The note's timbre as one vector: its mel power spectrum averaged over the first `seconds`,
    normalised to unit total power (so gain does not count), in dB, floored `floor_db` below its
    loudest band."""
    from .dsp import mel_matrix

    x = np.asarray(audio, np.float64)[: int(seconds * sample_rate)]
    if len(x) < n_fft:
        x = np.pad(x, (0, n_fft - len(x)))
    win = np.hanning(n_fft + 1)[:-1]
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop] * win
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2  # [T, F]
    mel = mel_matrix(sample_rate, n_fft, n_mels) @ power.mean(0)
    mel = mel / max(float(mel.sum()), 1e-30)
    db = 10 * np.log10(mel + 1e-30)
    return np.maximum(db, db.max() - floor_db)


def log_mel_distance(a: np.ndarray, b: np.ndarray, sample_rate: int, seconds: float = COMPARE_S) -> float:
    """RMS difference (dB) between two notes' level-normalised mean log-mel spectra: a timbre
    distance that ignores phase, small timing offsets and gain."""
    return float(np.sqrt(np.mean((mean_log_mel(a, sample_rate, seconds) - mean_log_mel(b, sample_rate, seconds)) ** 2)))


def multiscale_distance(target: np.ndarray, pred: np.ndarray, sample_rate: int, seconds: float = COMPARE_S) -> float:
    """The training loss's multi-scale spectral distance (FFT 64…2048, linear + log magnitude) over
    the first `seconds`, after scaling `pred` to the RMS of `target`."""
    import torch

    from .dsp import MultiScaleSpectralLoss

    n = int(seconds * sample_rate)
    t = np.pad(np.asarray(target, np.float32)[:n], (0, max(0, n - len(target))))
    p = np.pad(np.asarray(pred, np.float32)[:n], (0, max(0, n - len(pred))))
    p = p * (np.sqrt(np.mean(t ** 2)) / max(np.sqrt(np.mean(p ** 2)), 1e-12))
    with torch.no_grad():
        return float(MultiScaleSpectralLoss()(torch.as_tensor(t)[None], torch.as_tensor(p)[None]))


# --- the binary ---------------------------------------------------------------------------------------

class Timbred:
    """Runs `timbred encode` / `timbred render` in a clean environment: presets come from
    HOME/presets (the shipped ones) and CONFIG/timbred/presets (the encoded ones) only."""

    def __init__(self, binary: Path, model: Path, home: Path, work: Path):
        if not binary.is_file() or not os.access(binary, os.X_OK):
            raise UserError(f"{binary}: timbred binary not found (build it: swift build -c release --product timbred)")
        if not model.is_file():
            raise UserError(f"{model}: model file not found")
        self.binary, self.model = binary.resolve(), model.resolve()
        self.work = work
        self.config = work / "config"
        self.user_presets = self.config / "timbred" / "presets"
        self.user_presets.mkdir(parents=True, exist_ok=True)
        self.env = {"TIMBRED_HOME": str(home.resolve()), "XDG_CONFIG_HOME": str(self.config.resolve()),
                    "XDG_DATA_HOME": str((work / "data-home").resolve()), "HOME": str(work.resolve()),
                    "PATH": "/usr/bin:/bin"}
        self.seconds = {"encode": 0.0, "render": 0.0}
        self.calls = {"encode": 0, "render": 0}
        self.typical_spacing: float | None = None  # as `timbred encode` prints it

    def _run(self, kind: str, args: list[str]) -> str:
        t0 = time.perf_counter()
        p = subprocess.run([str(self.binary), *args], capture_output=True, text=True, env=self.env, cwd=self.work)
        self.seconds[kind] += time.perf_counter() - t0
        self.calls[kind] += 1
        if p.returncode != 0:
            raise UserError(f"timbred {kind} failed: {(p.stderr.strip() or p.stdout.strip()).splitlines()[-1:]}")
        return p.stdout

    def encode(self, files: list[Path], name: str, out: Path, pitch: int | None = None, refine: bool = True) -> dict:
        args = ["encode", *(str(f.resolve()) for f in files), "--name", name, "-o", str(out.resolve()), "--model", str(self.model), "--force"]
        if not refine:
            args.append("--no-refine")  # the encoder alone: where its posterior lands
        if pitch is not None:
            args += ["--pitch", str(pitch)]
        stdout = self._run("encode", args)
        m = re.search(r"typical spacing between instruments: ([0-9.]+)", stdout)
        if m:
            self.typical_spacing = float(m.group(1))
        return read_preset(out)

    def render(self, midi: Path, out: Path, preset: str) -> None:
        self._run("render", ["render", str(midi.resolve()), "-o", str(out.resolve()), "--model", str(self.model), "--preset", preset,
                             "--rate", str(RENDER_RATE), "--reverb", "0", "--tail", "1.0"])


def read_preset(path: Path) -> dict:
    try:
        p = tomllib.loads(path.read_text())
        enc = p["encoded"]
        return {"latent": [float(v) for v in p["latent"]], "nearest": list(enc["nearest"]),
                "nearest_distance": [float(v) for v in enc["nearest_distance"]],
                "pitch_low": int(enc["pitch_low"]), "pitch_high": int(enc["pitch_high"]),
                "far_outside": bool(enc["far_outside"]), "files": list(enc["files"]),
                # the instrument the encoder itself placed the sound nearest (before refinement)
                "encoder_nearest": str(enc.get("encoder_nearest", enc["nearest"][0])),
                "match_db": enc.get("match_db"), "encoder_match_db": enc.get("encoder_match_db")}
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UserError(f"{path}: not an encoded preset ({e})") from None


# --- 1: held-out notes --------------------------------------------------------------------------------

def held_out_check(tb: Timbred, instruments: list[str], data: Path, work: Path, log=print) -> dict:
    _, notes = load_manifest(data)
    out = work / "held-out"
    out.mkdir(parents=True, exist_ok=True)
    rows, per_note = [], []
    for name in instruments:
        mine = [n for n in notes if n.instrument == name and n.split == "test"]
        if not mine:
            continue
        right = 0
        for n in mine:
            wav = data / "audio" / n.file
            enc = tb.encode([wav], f"note {n.file}", out / f"{Path(n.file).stem}.toml", refine=False)
            ok = enc["nearest"][0] == name
            right += ok
            per_note.append({"file": n.file, "instrument": name, "pitch": n.pitch, "velocity": n.velocity,
                             "nearest": enc["nearest"][0], "distance": enc["nearest_distance"][0],
                             "far_outside": enc["far_outside"]})
        comb = tb.encode([data / "audio" / n.file for n in mine], f"{name} held-out", out / f"{name}-all.toml", refine=False)
        rows.append({"instrument": name, "notes": len(mine), "right": right, "fraction": right / len(mine),
                     "combined_nearest": comb["nearest"][0], "combined_distance": comb["nearest_distance"][0],
                     "combined_second": comb["nearest"][1] if len(comb["nearest"]) > 1 else "",
                     "combined_far_outside": comb["far_outside"],
                     "pitch_range": [comb["pitch_low"], comb["pitch_high"]],
                     "pitch_range_expected": [min(n.pitch for n in mine), max(n.pitch for n in mine)]})
        log(f"held-out {name}: {right}/{len(mine)} nearest their own; all together → {comb['nearest'][0]} "
            f"({comb['nearest_distance'][0]:.2f})")
    if not rows:
        raise UserError(f"{data}: no held-out (test-split) notes of the model's instruments")
    total = sum(r["notes"] for r in rows)
    return {"instruments": rows, "notes": per_note, "total_notes": total,
            "overall_fraction": sum(r["right"] for r in rows) / total,
            "combined_right": sum(r["combined_nearest"] == r["instrument"] for r in rows)}


# --- 2: unseen sounds ---------------------------------------------------------------------------------

def unseen_check(tb: Timbred, sounds: tuple[Sound, ...], work: Path, sample_rate: int, log=print) -> dict:
    for sf2 in sorted({s.soundfont for s in sounds}):
        if not sf2.is_file():
            raise UserError(f"{sf2}: SoundFont not found (Debian: apt-get install {SOUNDFONT_PACKAGES.get(sf2, 'it')})")
    synths: dict[Path, FluidSynth] = {}
    out = work / "unseen"
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for s in sounds:
        fs = synths.get(s.soundfont) or synths.setdefault(s.soundfont, FluidSynth(s.soundfont, sample_rate))
        recs, wavs = [], []
        for p in s.pitches:
            audio = fs.render_note(s.program, p, VELOCITY, HOLD_S, RELEASE_S)
            if float(np.max(np.abs(audio))) < 1e-3:
                raise UserError(f"{s.label}: note {p} is silent in {s.soundfont.name}")
            wav = out / f"{s.key}_{p}.wav"  # the pitch in the name: encode reads it from there
            sf.write(wav, audio, sample_rate, subtype="FLOAT")
            recs.append(audio)
            wavs.append(wav)
        enc = tb.encode(wavs, s.key, tb.user_presets / f"{s.key}.toml")
        # compare with the shipped preset of the instrument the encoder placed the sound nearest:
        # what the musician would reach for without `timbred encode`
        nearest = enc["encoder_nearest"]
        midi = out / f"{s.key}.mid"
        write_midi(midi, [(p, VELOCITY) for p in s.pitches])
        dist: dict[str, dict[str, list[float]]] = {}
        for which, preset in (("encoded", s.key), ("nearest", nearest)):
            wav = out / f"{s.key}-render-{which}.wav"
            tb.render(midi, wav, preset)
            audio = read_audio(wav, sample_rate)
            d = {"log_mel_db": [], "multiscale": []}
            for j, rec in enumerate(recs):
                start = int(round(j * (NOTE_S + GAP_S) * sample_rate))
                seg = audio[start:start + len(rec)]
                d["log_mel_db"].append(log_mel_distance(rec, seg, sample_rate))
                d["multiscale"].append(multiscale_distance(rec, seg, sample_rate))
            dist[which] = d
        row = {"sound": s.label, "key": s.key, "seen": s.seen, "soundfont": s.soundfont.name, "program": s.program,
               "pitches": list(s.pitches), "nearest": nearest, "nearest_distance": enc["nearest_distance"][0],
               "second": enc["nearest"][1] if len(enc["nearest"]) > 1 else "", "far_outside": enc["far_outside"],
               "encoded_log_mel_db": float(np.mean(dist["encoded"]["log_mel_db"])),
               "nearest_log_mel_db": float(np.mean(dist["nearest"]["log_mel_db"])),
               "encoded_multiscale": float(np.mean(dist["encoded"]["multiscale"])),
               "nearest_multiscale": float(np.mean(dist["nearest"]["multiscale"])),
               "per_note": dist}
        row["encoded_better"] = row["encoded_log_mel_db"] < row["nearest_log_mel_db"]
        row["encoded_better_multiscale"] = row["encoded_multiscale"] < row["nearest_multiscale"]
        rows.append(row)
        log(f"{'reference' if s.seen else 'unseen'} {s.label}: nearest {nearest} ({row['nearest_distance']:.2f}); log-mel distance "
            f"encoded {row['encoded_log_mel_db']:.2f} dB, {nearest} preset {row['nearest_log_mel_db']:.2f} dB")
    new = [r for r in rows if not r["seen"]]
    return {"sounds": rows, "encoded_better": sum(r["encoded_better"] for r in new),
            "encoded_better_multiscale": sum(r["encoded_better_multiscale"] for r in new), "count": len(new)}


# --- report -------------------------------------------------------------------------------------------

def machine_description() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def markdown_tables(summary: dict) -> str:
    """The report's two tables (and their totals) as Markdown."""
    lines = []
    h = summary.get("held_out")
    if h:
        lines += ["## 1. Held-out notes: nearest instrument", "",
                  "Each held-out note encoded alone (one `timbred encode` call per note), and all of an instrument's "
                  "held-out notes encoded together (one call with all its files); the pitch comes from the file "
                  "names. Distances are latent distances to the nearest instrument's component mean"
                  + (f" (typical spacing between instruments: {summary['typical_spacing']:.2f})"
                     if summary.get("typical_spacing") else "") + ".", "",
                  "| instrument | notes | nearest is own | fraction | all together: nearest | distance | 2nd |",
                  "|---|---:|---:|---:|---|---:|---|"]
        for r in h["instruments"]:
            mark = "" if r["combined_nearest"] == r["instrument"] else " ✗"
            lines.append(f"| {r['instrument']} | {r['notes']} | {r['right']} | {r['fraction']:.2f} | "
                         f"{r['combined_nearest']}{mark} | {r['combined_distance']:.2f} | {r['combined_second']} |")
        right = sum(r["right"] for r in h["instruments"])
        lines += [f"| **all** | **{h['total_notes']}** | **{right}** | **{h['overall_fraction']:.3f}** | "
                  f"**{h['combined_right']}/{len(h['instruments'])} own** | | |", ""]
        wrong = [n for n in h.get("notes", []) if n["nearest"] != n["instrument"]]
        if wrong:
            lines += ["Notes nearest another instrument: " + "; ".join(
                f"{n['file']} → {n['nearest']} ({n['distance']:.2f})" for n in wrong) + ".", ""]
    u = summary.get("unseen")
    if u:
        lines += ["## 2. Sounds the model never saw", "",
                  "Three notes per sound (velocity 100, 2 s held + 1 s release, 32 kHz, reverb and chorus off), "
                  "encoded together into a preset, then played from MIDI by `timbred render --rate 32000 --reverb 0` "
                  "with the encoded preset and with the shipped preset of the encoded preset's nearest instrument. "
                  "Distance of each rendered note to its recording over the first 2 s, averaged over the three "
                  "notes: **log-mel** = RMS difference (dB) of the level-normalised mean log-mel spectra (64 bands); "
                  "**MSS** = multi-scale spectral distance (the training loss, FFT 64…2048, linear + log) after "
                  "matching RMS levels. Lower is closer.", "",
                  *_sound_table([r for r in u["sounds"] if not r.get("seen")]),
                  "", f"Encoded preset closer to the recording than the nearest instrument's preset: "
                  f"**{u['encoded_better']} of {u['count']}** (log-mel), {u['encoded_better_multiscale']} of "
                  f"{u['count']} (multi-scale).", ""]
        seen = [r for r in u["sounds"] if r.get("seen")]
        if seen:
            lines += ["Reference, not counted: the same procedure on FluidR3 instruments the model was trained on "
                      "(the distances an instrument's own preset reaches; the pitches may be training pitches).", "",
                      *_sound_table(seen), ""]
    return "\n".join(lines)


def _sound_table(rows: list[dict]) -> list[str]:
    lines = ["| sound | pitches | nearest instrument (latent dist.) | log-mel: encoded | log-mel: nearest preset "
             "| encoded better? | MSS: encoded | MSS: nearest preset | encoded better (MSS)? |",
             "|---|---|---|---:|---:|:---:|---:|---:|:---:|"]
    for r in rows:
        far = ", far outside" if r["far_outside"] else ""
        lines.append(f"| {r['sound']} | {', '.join(map(str, r['pitches']))} | {r['nearest']} "
                     f"({r['nearest_distance']:.2f}{far}) | {r['encoded_log_mel_db']:.2f} dB | "
                     f"{r['nearest_log_mel_db']:.2f} dB | {'yes' if r['encoded_better'] else 'no'} | "
                     f"{r['encoded_multiscale']:.2f} | {r['nearest_multiscale']:.2f} | "
                     f"{'yes' if r['encoded_better_multiscale'] else 'no'} |")
    return lines


def write_report(summary: dict, report: Path) -> None:
    report.mkdir(parents=True, exist_ok=True)
    (report / "summary.json").write_text(json.dumps(summary, indent=1))
    text = ["# `timbred encode` check", "",
            f"Model `{summary['model']}`; note set `{summary['data']}`; binary `{summary['timbred']}`.", "",
            "```sh", summary["command"], "```", "",
            f"Machine: {summary['machine']}. Runtime {summary['runtime_s']:.0f} s "
            f"({summary['encode_calls']} `timbred encode` calls, {summary['encode_s']:.0f} s; "
            f"{summary['render_calls']} `timbred render` calls, {summary['render_s']:.0f} s).", "",
            markdown_tables(summary)]
    (report / "README.md").write_text("\n".join(text))


def model_instruments(model: Path) -> list[str]:
    from safetensors import safe_open

    try:
        with safe_open(str(model), framework="np") as f:
            return list(json.loads((f.metadata() or {})["config"])["instruments"])
    except Exception as e:
        raise UserError(f"{model}: cannot read the model's instruments ({e})") from None


def encode_check(timbred: Path, model: Path, presets: Path, data: Path, work: Path, report: Path,
                 sounds: tuple[Sound, ...] = UNSEEN_SOUNDS, held_out: bool = True, unseen: bool = True,
                 command: str = "timbred-train encode-check") -> dict:
    started = time.perf_counter()
    work.mkdir(parents=True, exist_ok=True)
    tb = Timbred(timbred, model, presets.resolve().parent, work)
    missing = [str(s.soundfont) for s in sounds if unseen and not s.soundfont.is_file()]
    if missing:
        sf2 = Path(missing[0])
        raise UserError(f"{sf2}: SoundFont not found (Debian: apt-get install {SOUNDFONT_PACKAGES.get(sf2, 'it')})")
    instruments = model_instruments(model)
    summary: dict = {"model": str(model), "data": str(data), "timbred": str(timbred),
                     "command": command,
                     "machine": machine_description()}
    if held_out:
        summary["held_out"] = held_out_check(tb, instruments, data, work)
    if unseen:
        summary["unseen"] = unseen_check(tb, sounds, work, RENDER_RATE)
    summary.update({"typical_spacing": tb.typical_spacing, "runtime_s": time.perf_counter() - started, "encode_calls": tb.calls["encode"],
                    "encode_s": tb.seconds["encode"], "render_calls": tb.calls["render"], "render_s": tb.seconds["render"]})
    write_report(summary, report)
    h, u = summary.get("held_out"), summary.get("unseen")
    if h:
        print(f"held-out notes nearest their own instrument: {h['overall_fraction']:.3f} of {h['total_notes']}; "
              f"all of an instrument's notes together: {h['combined_right']}/{len(h['instruments'])} instruments right")
    if u:
        print(f"unseen sounds where the encoded preset is closer than the nearest instrument's: "
              f"{u['encoded_better']}/{u['count']} (log-mel), {u['encoded_better_multiscale']}/{u['count']} (multi-scale)")
    print(f"report: {report / 'README.md'} ({summary['runtime_s']:.0f} s)")
    return summary
