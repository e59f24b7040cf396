"""Low notes' bands between partials (the held part, dB relative to the note's power), FluidR3 and
timbred minus FluidR3, with the shipped model and with its partial motion's depth set to zero.
Session 31: piano 32 at 125 Hz +22 -> +3 dB, horn 39 at 100 Hz +29 -> +16.
Run from training/: PYTHONPATH=. python3 ../research/session31/low_note_gaps.py"""
import sys, subprocess, numpy as np
from pathlib import Path
from safetensors.numpy import load_file, save_file
from safetensors import safe_open
from timbred_train import playing
from timbred_train.playing import RATE, read_audio, BAND_CENTRES_HZ, DEFAULT_INSTRUMENTS, DEFAULT_SOUNDFONT
from timbred_train.dataset import FluidSynth
root = Path(__file__).resolve().parents[2]; tim = root / '.build/release/timbred'
src = root / 'models/default.safetensors'
with safe_open(str(src), 'np') as f: meta = f.metadata()
t = load_file(str(src))
print([k for k in t if k.startswith('motion') or k.startswith('tone')])
variants = {'shipped': src}
m = dict(t); m['motion.depth_db'] = np.zeros_like(t['motion.depth_db']) if 'motion.depth_db' in t else None
save_file({k: v for k, v in m.items() if v is not None}, '/tmp/session31-nomotion.safetensors', metadata=meta); variants['nomotion'] = Path('/tmp/session31-nomotion.safetensors')
fs = FluidSynth(DEFAULT_SOUNDFONT, RATE); prog = {n: p for n, p, _, _ in DEFAULT_INSTRUMENTS}
cases = [('french_horn', 39), ('piano', 32), ('choir_aahs', 52), ('cello', 41), ('piano', 97)]
for name, key in cases:
    real = fs.render_note(prog[name], key, 100, playing.HOLD_S, playing.RELEASE_S)
    rb = np.array(playing.band_levels_db(real))
    line = f'{name} {key}: real ' + ' '.join(f'{BAND_CENTRES_HZ[i]:.0f}:{rb[i]:.0f}' for i in range(8))
    print(line)
    for v, path in variants.items():
        wav = Path(f'/tmp/session31-{name}{key}{v}.wav')
        subprocess.run([str(tim), 'render', '--note', str(key), '--seconds', str(playing.HOLD_S), '--preset', name, '--model', str(path), '--reverb', '0', '--tail', '0.5', '-o', str(wav)], check=True, capture_output=True)
        ob = np.array(playing.band_levels_db(read_audio(wav, RATE)))
        print(f'   {v:9s} diff ' + ' '.join(f'{BAND_CENTRES_HZ[i]:.0f}:{ob[i]-rb[i]:+.0f}' for i in range(8)))
