"""How much a morph's brightness swings around its own trend (the largest 100 ms step of
`playing`'s morph figure): the magnitude centroid every 10 ms over 2-4 s of the turn, less its
250 ms running mean; its rms and the frequency where it swings most.

    python3 morph_jitter.py BINARY [PITCH] [A:B]

Session 32, flute -> trumpet at A4: session 31's engine (5829370) 21.0 Hz rms, peak 4.1 Hz; with
the tilt 28.5 Hz, peak 5.3 Hz (the held sound's vibrato, 4-5 Hz)."""
import sys
from pathlib import Path

import numpy as np

from timbred_train import playing
from timbred_train.evaluate import spectral_centroid_hz

binary = Path(sys.argv[1])
pitch = int(sys.argv[2]) if len(sys.argv) > 2 else 69
a, b = (sys.argv[3] if len(sys.argv) > 3 else "flute:trumpet").split(":")
root = Path(__file__).resolve().parents[2]
work = Path("/tmp/morph-jitter"); work.mkdir(exist_ok=True)
r = playing.morph_figures(binary, root / "models/default.safetensors", root / "presets", a, b, work, pitch=pitch)
x = playing.read_audio(work / f"morph-{a}-{b}.wav", playing.RATE)
c = spectral_centroid_hz(x[: 7 * playing.RATE], playing.RATE, n_fft=4096, hop=playing.RATE // 100)
seg = c[200:400]
res = (seg - np.convolve(seg, np.ones(25) / 25, mode="same"))[15:-15]
f = np.abs(np.fft.rfft(res * np.hanning(len(res))))
hz = np.fft.rfftfreq(len(res), 0.01)
print(f"{a} -> {b} at {pitch}: rho {r['rho']:.3f}, largest step {r['max_step_over_mean']:.2f} x the mean; "
      f"brightness around its trend {res.std():.1f} Hz rms, most at {hz[np.argmax(f[1:]) + 1]:.1f} Hz")
