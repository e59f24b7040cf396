"""Attack times (onset to within 3 dB of the peak, `playing.attack_ms`) of keys at several
velocities, FluidR3 beside two models played through `timbred render` (dry):

    python3 key_attacks.py OLD_MODEL NEW_MODEL marimba 50,51,52,53 64,100,127

Session 32 (session 31's model -> session 32's), marimba 51: velocity 64 28.0 -> 21.5 ms, 100
30.5 -> 15.5, 127 17.5 -> 15.5 (FluidR3 17.5 at each); 52 at 100 stays 26.5 (FluidR3 15.0)."""
import os
import subprocess
import sys
from pathlib import Path

from timbred_train.dataset import FluidSynth
from timbred_train.playing import DEFAULT_INSTRUMENTS, DEFAULT_SOUNDFONT, RATE, attack_ms, read_audio

old, new, name = sys.argv[1], sys.argv[2], sys.argv[3]
keys, velocities = [int(k) for k in sys.argv[4].split(",")], [int(v) for v in sys.argv[5].split(",")]
root = Path(__file__).resolve().parents[2]
binary = os.environ.get("TIM", str(root / ".build/release/timbred"))
fs = FluidSynth(DEFAULT_SOUNDFONT, RATE)
program = {n: p for n, p, _, _ in DEFAULT_INSTRUMENTS}
for key in keys:
    for vel in velocities:
        real = attack_ms(fs.render_note(program[name], key, vel, 1.0, 0.5), key)
        ours = []
        for model in (old, new):
            wav = Path(f"/tmp/key-attacks-{key}.wav")
            subprocess.run([binary, "render", "--model", model, "--note", str(key), "--velocity", str(vel), "--seconds",
                            "1", "--preset", name, "--reverb", "0", "--tail", "0.3", "-o", str(wav)], check=True,
                           capture_output=True, env={**os.environ, "TIMBRED_HOME": str(root)})
            ours.append(attack_ms(read_audio(wav, RATE), key))
        print(f"{name} {key} v{vel}: FluidR3 {real:5.1f} ms, timbred {ours[0]:5.1f} -> {ours[1]:5.1f} ms")
