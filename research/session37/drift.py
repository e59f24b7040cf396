"""How much each held partial wanders slowly, FluidR3 beside timbred: per instrument, 4 keys
(20/40/60/80 % of its range) × velocities 80 and 100, each note held 6 s (3 s for a decaying
one); each of partials 1-8 within 40 dB of the note, its level (4096-point frames every 10 ms)
against the note's, minus a straight line over 0.5-5.5 s (0.3-2.5 s), its standard deviation
("all") and that of its 0.5 s running mean ("slow"); then the mean |slow − FluidR3's slow| over
the partials ("err"):

    python3 drift.py MODEL[,MODEL...] [NAMES]       e.g. /tmp/cut0.safetensors,/tmp/cut3.safetensors violin,flute

Models with the drift cut at 0, 1, 2 and 3 Hz for every instrument:
`timbred-train motion --model ../models/default.safetensors --drift-cut HZ --keep-measured --out /tmp/cutHZ.safetensors`
(on session 36's file, which has no cut).

Session 37, err at cut 0 / 1 / 2 / 3 Hz (FluidR3's slow): violin 0.65 / 0.37 / 0.25 / 0.22 (0.32),
cello 1.12 / 0.68 / 0.48 / 0.39 (0.28), flute 0.75 / 0.44 / 0.30 / 0.23 (0.13), oboe 0.51 / 0.32 /
0.24 / 0.21 (0.15), alto sax 0.55 / 0.40 / 0.35 / 0.32 (0.46), choir 0.98 / 0.51 / 0.44 / 0.46
(1.24), trumpet 0.12 / 0.10 / 0.10 / 0.10, French horn 0.74 / 0.84 / 0.99 / 1.08 (1.81), organ
0.75 / 0.83 / 0.95 / 1.03 (1.70); the decaying instruments' partials leave their line as they
decay (piano 0.75 / 0.82 / 0.89 / 0.92)."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from timbred_train.config import DEFAULT_INSTRUMENTS
from timbred_train.dataset import DEFAULT_SOUNDFONT, FluidSynth
from timbred_train.playing import DECAYING, RATE, read_audio

TIMBRED = Path(__file__).resolve().parents[2] / ".build/release/timbred"
HOME = Path(__file__).resolve().parents[2]


def ours(model: str, name: str, key: int, velocity: int, seconds: float, wav: Path) -> np.ndarray:
    subprocess.run([str(TIMBRED), "render", "-o", str(wav), "--model", model, "--rate", str(RATE), "--tail", "0",
                    "--reverb", "0", "--note", str(key), "--velocity", str(velocity), "--seconds", str(seconds),
                    "--preset", name], check=True, capture_output=True,
                   env={"TIMBRED_HOME": str(HOME), "PATH": "/usr/bin:/bin"})
    return read_audio(wav, RATE)


def wander(audio: np.ndarray, f0: float, frames: tuple[int, int]) -> np.ndarray:
    """[partials, 2]: each partial's std around its line and its 0.5 s running mean's (NaN: too weak)."""
    spec = torch.stft(torch.tensor(audio, dtype=torch.float32), 4096, hop_length=480, window=torch.hann_window(4096),
                      return_complex=True).abs().numpy() ** 2
    total = 10 * np.log10(spec.sum(0) + 1e-20)[frames[0]:frames[1]]
    out = []
    for k in range(1, 9):
        if k * f0 > 20000:
            break
        j = int(round(k * f0 * 4096 / RATE))
        level = 10 * np.log10(spec[j - 3:j + 4].sum(0) + 1e-20)[frames[0]:frames[1]]
        if level.mean() < total.mean() - 40:
            out.append((np.nan, np.nan))
            continue
        d = level - total
        t = np.arange(len(d))
        d = d - np.polyval(np.polyfit(t, d, 1), t)
        out.append((d.std(), np.convolve(d, np.ones(50) / 50, "valid").std()))
    return np.array(out)


def main() -> None:
    models = sys.argv[1].split(",")
    names = sys.argv[2].split(",") if len(sys.argv) > 2 else [n for n, *_ in DEFAULT_INSTRUMENTS if n != "vibraphone"]
    fs = FluidSynth(DEFAULT_SOUNDFONT, RATE)
    wav = Path("/tmp/drift-note.wav")
    for name, program, lo, hi in DEFAULT_INSTRUMENTS:
        if name not in names:
            continue
        seconds, frames = (3.0, (30, 250)) if name in DECAYING else (6.0, (50, 550))
        keys = sorted({int(round(lo + (hi - lo) * q)) for q in (0.2, 0.4, 0.6, 0.8)})
        real, mine = [], {m: [] for m in models}
        for key in keys:
            f0 = 440 * 2 ** ((key - 69) / 12)
            for velocity in (80, 100):
                real.append(wander(fs.render_note(program, key, velocity, seconds + 0.5, 0.1), f0, frames))
                for m in models:
                    mine[m].append(wander(ours(m, name, key, velocity, seconds + 0.5, wav), f0, frames))
        r = np.concatenate(real)
        line = f"{name:15s} FluidR3 all {np.nanmean(r[:, 0]):.2f} slow {np.nanmean(r[:, 1]):.2f} dB |"
        for m in models:
            o = np.concatenate(mine[m])
            ok = ~np.isnan(r[:, 1]) & ~np.isnan(o[:, 1])
            line += (f" {Path(m).stem}: all {np.nanmean(o[:, 0]):.2f} slow {np.nanmean(o[:, 1]):.2f}"
                     f" err {np.mean(np.abs(o[ok, 1] - r[ok, 1])):.2f} |")
        print(line, flush=True)


if __name__ == "__main__":
    main()
