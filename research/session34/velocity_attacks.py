"""Attack times (onset to within 3 dB of the peak, `playing.attack_ms`) over every third key of the
struck and plucked instruments at several velocities, FluidR3 beside timbred (dry), and the keys
outside issue 14's bound (max(5 ms, 1.5x) of FluidR3's):

    python3 velocity_attacks.py [MODEL] [VELOCITIES] [NAMES]
"""
import os
import subprocess
import sys
from pathlib import Path

from timbred_train.dataset import FluidSynth
from timbred_train.playing import DEFAULT_INSTRUMENTS, DEFAULT_SOUNDFONT, RATE, attack_ms, read_audio

root = Path(__file__).resolve().parents[2]
model = sys.argv[1] if len(sys.argv) > 1 else str(root / "models/default.safetensors")
velocities = [int(v) for v in (sys.argv[2] if len(sys.argv) > 2 else "64,100").split(",")]
names = (sys.argv[3] if len(sys.argv) > 3 else
         "piano,electric_piano,harpsichord,vibraphone,marimba,nylon_guitar,acoustic_bass").split(",")
binary = os.environ.get("TIM", str(root / ".build/release/timbred"))
fs = FluidSynth(DEFAULT_SOUNDFONT, RATE)
for name, program, lo, hi in DEFAULT_INSTRUMENTS:
    if name not in names:
        continue
    for vel in velocities:
        misses, n = [], 0
        for key in range(lo + 1, hi, 3):
            real = attack_ms(fs.render_note(program, key, vel, 1.0, 0.5), key)
            wav = Path(f"/tmp/velocity-attacks-{os.getpid()}.wav")
            subprocess.run([binary, "render", "--model", model, "--note", str(key), "--velocity", str(vel), "--seconds",
                            "1", "--preset", name, "--reverb", "0", "--tail", "0.3", "-o", str(wav)], check=True,
                           capture_output=True, env={**os.environ, "TIMBRED_HOME": str(root)})
            ours = attack_ms(read_audio(wav, RATE), key)
            n += 1
            if abs(ours - real) > max(5.0, 0.5 * real):
                misses.append(f"{key}: {real:.1f}|{ours:.1f}")
        print(f"{name:15s} velocity {vel:3d}: {n - len(misses)}/{n} keys within the bound; outside (FluidR3|timbred ms): "
              + ", ".join(misses), flush=True)
