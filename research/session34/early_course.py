"""A note's level over its first 60 ms in 2 ms steps (dB of its peak, RMS over 2 ms), FluidR3 beside
timbred, and each one's attack (onset to within 3 dB of the peak):

    python3 early_course.py NAME KEY VELOCITY [MODEL]
"""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from timbred_train.dataset import FluidSynth
from timbred_train.playing import DEFAULT_INSTRUMENTS, DEFAULT_SOUNDFONT, RATE, attack_ms, read_audio

root = Path(__file__).resolve().parents[2]
name, key, vel = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
model = sys.argv[4] if len(sys.argv) > 4 else str(root / "models/default.safetensors")
program = {n: p for n, p, _, _ in DEFAULT_INSTRUMENTS}[name]
real = FluidSynth(DEFAULT_SOUNDFONT, RATE).render_note(program, key, vel, 1.0, 0.5)
wav = Path(f"/tmp/early-course-{os.getpid()}.wav")
subprocess.run([os.environ.get("TIM", str(root / ".build/release/timbred")), "render", "--model", model, "--note",
                str(key), "--velocity", str(vel), "--seconds", "1", "--preset", name, "--reverb", "0", "--tail", "0.3",
                "-o", str(wav)], check=True, capture_output=True, env={**os.environ, "TIMBRED_HOME": str(root)})
ours = read_audio(wav, RATE)


def course(x):
    x = np.asarray(x, float)
    start = int(np.argmax(np.abs(x) > 1e-4 * np.abs(x).max()))
    step = RATE // 500
    r = [np.sqrt(np.mean(x[start + i * step: start + (i + 1) * step] ** 2)) for i in range(150)]
    peak = max(r)
    return [20 * np.log10(v / peak + 1e-12) for v in r[:30]]


print(f"{name} {key} at {vel}: attack FluidR3 {attack_ms(real, key):.1f} ms, timbred {attack_ms(ours, key):.1f} ms")
for label, c in (("FluidR3", course(real)), ("timbred", course(ours))):
    print(f"  {label}: " + " ".join(f"{v:.0f}" for v in c))
