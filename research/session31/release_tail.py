"""The vibraphone's tail after note-off: the learned envelope's loudness prior against the engine's output
level, dB under each one's peak, every 0.2 s from 1.4 s (note-off at 1.5 s). Session 31: the prior
flattens at -70..-76 dB from 0.4 to 1.4 s after note-off (key 60) and the output follows it.
Run from training/: PYTHONPATH=. python3 ../research/session31/release_tail.py"""
import numpy as np, subprocess
from pathlib import Path
from timbred_train.export import load_exported
from timbred_train.evaluate import midi_controls
from timbred_train.playing import read_audio, RATE, level_db, DEFAULT_INSTRUMENTS, DEFAULT_SOUNDFONT
from timbred_train.dataset import FluidSynth
fs = FluidSynth(DEFAULT_SOUNDFONT, RATE); program = {n: p for n, p, _, _ in DEFAULT_INSTRUMENTS}
model, env, meta = load_exported(Path('../models/default.safetensors'))
k = model.cfg.instruments.index('vibraphone')
for key in (60, 72, 84):
    f0, ld = midi_controls(model, env, k, key, 100, 1.5, 400)
    subprocess.run(['../.build/release/timbred', 'render', '--note', str(key), '--seconds', '1.5', '--preset', 'vibraphone', '--reverb', '0', '--tail', '2.5', '-o', '/tmp/session31-rs.wav'], check=True, capture_output=True)
    x = read_audio(Path('/tmp/session31-rs.wav'), RATE)
    t, db = level_db(x, 0.02, 0.01)
    pk = db.max(); lpk = ld.max()
    print(key, 'envelope loudness re peak (dB) at 1.4..3.0 s every 0.2 s:', ' '.join(f'{ld[i]-lpk:.0f}' for i in range(140, 300, 20)))
    print(key, 'output level re peak                             :', ' '.join(f'{db[i]-pk:.0f}' for i in range(140, 300, 20)))
    t, rdb = level_db(fs.render_note(program['vibraphone'], key, 100, 1.5, 2.5), 0.02, 0.01)
    print(key, 'FluidR3 level re peak                            :', ' '.join(f'{rdb[i]-rdb.max():.0f}' for i in range(140, 300, 20)))
