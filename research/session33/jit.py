"""How much a morph's brightness swings around its own 250 ms trend, second by second over the
turn, beside A and B held alone (the magnitude centroid every 10 ms):

    python3 jit.py BINARY A:B [PITCH] [TENSOR,...]

TENSORs (e.g. motion.vibrato_lock, motion.vibrato_cents, motion.depth_db) are set to 0 in a copy
of the shipped model first, to see what each part of the held motion adds.

Session 33, flute -> trumpet at A4: 34-36 Hz rms at 3-4 s of the turn against 18-20 Hz for
either instrument alone; without motion.vibrato_lock 28, without motion.vibrato_cents 23,
without motion.depth_db 21 (largest step over the mean 2.64, 2.56, 2.75: every part of the held
motion adds to the swing, none alone brings the step to 2x)."""
import subprocess
import sys
from pathlib import Path

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file

from timbred_train import playing
from timbred_train.evaluate import spectral_centroid_hz

ROOT = Path(__file__).resolve().parents[2]
WORK = Path("/tmp/session33")
WORK.mkdir(exist_ok=True)
binary = sys.argv[1]
a, b = sys.argv[2].split(":")
pitch = int(sys.argv[3]) if len(sys.argv) > 3 else 69
model = ROOT / "models/default.safetensors"
if len(sys.argv) > 4:
    with safe_open(str(model), "np") as f:
        meta, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    for name in sys.argv[4].split(","):
        tensors[name] = np.zeros_like(tensors[name])
    model = WORK / "jit-model.safetensors"
    save_file(tensors, str(model), metadata=meta)

r = playing.morph_figures(Path(binary), model, ROOT / "presets", a, b, WORK, pitch=pitch)


def swing(x, lo, hi):
    c = spectral_centroid_hz(x, playing.RATE, n_fft=4096, hop=playing.RATE // 100)[int(lo * 100):int(hi * 100)]
    return (c - np.convolve(c, np.ones(25) / 25, mode="same"))[15:-15].std(), c.mean()


def alone(preset):
    wav = WORK / f"jit-{preset}.wav"
    subprocess.run([binary, "render", "-o", str(wav), "--model", str(model), "--rate", str(playing.RATE), "--tail", "0",
                    "--reverb", "0", "--note", str(pitch), "--seconds", "7", "--preset", preset],
                   check=True, capture_output=True, env={"TIMBRED_HOME": str(ROOT), "PATH": "/usr/bin:/bin"})
    return playing.read_audio(wav, playing.RATE)


xa, xb = alone(a), alone(b)
m = playing.read_audio(WORK / f"morph-{a}-{b}.wav", playing.RATE)
print(f"{a} -> {b} at {pitch}: rho {r['rho']:.3f}, largest step {r['max_step_over_mean']:.2f} x the mean")
for lo in range(1, 6):
    (sm, mean), (sa, _), (sb, _) = swing(m, lo, lo + 1), swing(xa, lo, lo + 1), swing(xb, lo, lo + 1)
    print(f"  {lo}-{lo + 1} s: morph {sm:5.1f} Hz rms (brightness {mean:.0f} Hz), {a} alone {sa:5.1f}, {b} alone {sb:5.1f}")
