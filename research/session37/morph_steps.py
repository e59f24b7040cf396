"""The morph's 100 ms centroid steps in Hz, timbred beside FluidR3's notes crossfaded: the largest
and the mean step over the knob's turn at A4, from a `playing.json` (timbred's centroids) and
FluidR3's notes rendered here:

    python3 morph_steps.py reports/default/playing.json

Session 37: flute → trumpet timbred 93 / 39 Hz, FluidR3 crossfaded 258 / 103 Hz; piano → violin
208 / 66 Hz against 394 / 203 Hz (the ratio bound fails on our smaller mean step)."""
import json
import sys

import numpy as np

from timbred_train import playing
from timbred_train.config import DEFAULT_INSTRUMENTS
from timbred_train.dataset import DEFAULT_SOUNDFONT, FluidSynth
from timbred_train.evaluate import spectral_centroid_hz


def steps(centroid: np.ndarray) -> np.ndarray:
    turn = centroid[int(playing.MORPH_START_S * 10): int((playing.MORPH_START_S + playing.MORPH_TURN_S) * 10) + 1]
    return np.abs(np.diff(turn))


def main() -> None:
    rate = playing.RATE
    fs = FluidSynth(DEFAULT_SOUNDFONT, rate)
    program = {n: p for n, p, _, _ in DEFAULT_INSTRUMENTS}
    morphs = json.load(open(sys.argv[1]))["morphs"]
    for a, b in playing.MORPHS:
        real_a, real_b = (fs.render_note(program[n], 69, 100, playing.MORPH_HOLD_S, playing.RELEASE_S) for n in (a, b))
        x = playing.crossfade(real_a, real_b)[: int(playing.MORPH_HOLD_S * rate)]
        real = steps(spectral_centroid_hz(x, rate, n_fft=4096, hop=rate // 10))
        ours = steps(np.array(morphs[f"{a}:{b}"]["centroid_hz"]))
        print(f"{a} -> {b}: timbred largest {ours.max():.0f} Hz, mean {ours.mean():.0f} Hz | "
              f"FluidR3 crossfaded largest {real.max():.0f} Hz, mean {real.mean():.0f} Hz")


if __name__ == "__main__":
    main()
