"""A note's level over its first 50 ms, dB under its peak every 2 ms, FluidR3 beside timbred, and
the report's attack time. Session 31: the marimba's keys 48-55 before and after the swell rule.
Run from training/: [MODEL=file] PYTHONPATH=. python3 ../research/session31/onset_steps.py marimba 48 51 53"""
import sys, os, subprocess, numpy as np
from pathlib import Path
from timbred_train import playing
from timbred_train.playing import RATE, read_audio, DEFAULT_INSTRUMENTS, DEFAULT_SOUNDFONT, level_db, attack_ms
from timbred_train.dataset import FluidSynth
root = Path(__file__).resolve().parents[2]; tim = Path(os.environ.get('TIM', root / '.build/release/timbred'))
model = os.environ.get('MODEL', str(root / 'models/default.safetensors'))
fs = FluidSynth(DEFAULT_SOUNDFONT, RATE); prog = {n: p for n, p, _, _ in DEFAULT_INSTRUMENTS}
name = sys.argv[1]
for key in [int(k) for k in sys.argv[2:]]:
  for vel in (100,):
    real = fs.render_note(prog[name], key, vel, 1.0, 0.5)
    wav = Path(f'/tmp/session31-{name}{key}.wav')
    subprocess.run([str(tim), 'render', '--note', str(key), '--velocity', str(vel), '--seconds', '1', '--preset', name, '--model', model, '--reverb', '0', '--tail', '0.3', '-o', str(wav)], check=True, capture_output=True)
    ours = read_audio(wav, RATE)
    period = 1/(440*2**((key-69)/12))
    for lab, x in (('real', real), ('ours', ours)):
        t, db = level_db(x[:int(0.6*RATE)], min(max(period, 0.001), 0.01), 0.0005)
        on = np.argmax(db > db.max() - 40)
        rel = db[on:on+100:4] - db.max()
        print(f'{name} {key} v{vel} {lab}: attack {attack_ms(x, key):5.1f} ms; dB re peak every 2 ms:', ' '.join(f'{v:.0f}' for v in rel))
