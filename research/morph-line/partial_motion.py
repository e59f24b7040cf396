from pathlib import Path as _P
ROOT = str(_P(__file__).resolve().parents[2])
import os as _os; _os.makedirs("/tmp/morph-line", exist_ok=True)
import sys, os, subprocess, numpy as np
from pathlib import Path
from timbred_train.playing import RATE, DEFAULT_INSTRUMENTS, read_audio, DEFAULT_SOUNDFONT
from timbred_train.dataset import FluidSynth
fs = FluidSynth(DEFAULT_SOUNDFONT, RATE)
prog = {n: p for n, p, _, _ in DEFAULT_INSTRUMENTS}
def partial_stats(x, f0, K=24):
    n = 8192; hop = RATE // 100
    win = np.hanning(n)
    seg = x[int(0.5 * RATE): int(2.8 * RATE)]
    frames = [seg[i:i + n] * win for i in range(0, len(seg) - n, hop)]
    S = np.abs(np.fft.rfft(np.array(frames), axis=1)); f = np.fft.rfftfreq(n, 1 / RATE)
    out = []
    for k in range(1, K + 1):
        lo, hi = k * f0 * 2 ** (-40 / 1200), k * f0 * 2 ** (40 / 1200)
        idx = np.nonzero((f >= lo) & (f <= hi))[0]
        if k * f0 > 16000 or len(idx) == 0: break
        a = 20 * np.log10(S[:, idx].max(axis=1) + 1e-9)
        # peak width: power-weighted spread of frequency within the window, cents
        P = S[:, idx] ** 2; fm = (P * f[idx]).sum(1) / P.sum(1)
        cents = 1200 * np.log2(fm / (k * f0))
        # detrend dB with a 0.5 s moving average: fast fluctuation
        ker = np.ones(25) / 25; slow = np.convolve(a, ker, mode="same")
        out.append((k, float(np.std((a - slow)[25:-25])), float(np.std(cents)), float(a.mean())))
    return out
name = sys.argv[1]; pitch = int(sys.argv[2]) if len(sys.argv) > 2 else 69
f0 = 440 * 2 ** ((pitch - 69) / 12)
real = fs.render_note(prog[name], pitch, 100, 3.0, 1.0)
wav = "/tmp/morph-line/pm.wav"
subprocess.run([ROOT + "/.build/release/timbred", "render", "-o", wav, "--rate", str(RATE), "--tail", "0", "--reverb", "0", "--note", str(pitch), "--seconds", "3", "--preset", name], check=True, capture_output=True, env={"TIMBRED_HOME": ROOT + "", "PATH": "/usr/bin:/bin"})
ours = read_audio(Path(wav), RATE)
R, O = partial_stats(real, f0), partial_stats(ours, f0)
print(f"{name} {pitch}: k: fast dB fluctuation real|ours, IF std cents real|ours, level dB real|ours")
for (k, a, c, l), (_, a2, c2, l2) in zip(R, O):
    print(f" {k:2d}: {a:5.2f} | {a2:5.2f} dB   {c:5.1f} | {c2:5.1f} c   {l:6.1f} | {l2:6.1f}")
