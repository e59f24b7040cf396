"""A note's first frames as the trainer's twin of the engine plays them from MIDI: the loudness
input, the decoder's harmonic and noise power, the same after the tone balance and onset course,
and the onset course itself (dB):

    python3 frames.py nylon_guitar 77 100 [MODEL]

Session 35, session 34's model: the guitar's 77 at 100 decoded its first frame 15 dB under the
next, and the onset course put it 39 dB under (-16.8 dB there, +5.3 on the next), so the note rose
over the first 10 ms."""
import sys, numpy as np, torch, json
from pathlib import Path
from timbred_train.export import load_exported
from timbred_train.evaluate import midi_controls, _tone_lookup
from timbred_train.model import note_inputs
name, key, vel = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
mp = Path(sys.argv[4] if len(sys.argv) > 4 else "../models/default.safetensors")
model, env, meta = load_exported(mp); cfg = model.cfg
names = cfg.instruments; k = names.index(name)
f0, ld = midi_controls(model, env, k, key, vel, 1.0, 30)
tone = _tone_lookup(mp, model, meta)(k, float(key), float(vel))
means = model.prior_mu.detach().numpy()
with torch.no_grad():
    f0t = torch.as_tensor(f0)[None]; ldt = torch.as_tensor(ld)[None]
    t_on = torch.arange(30, dtype=torch.float32)[None] / cfg.frame_rate
    note = note_inputs(cfg, torch.tensor([float(vel)]), t_on, t_on - 1.0)
    raw = model.decoder(f0t, ldt, note, torch.as_tensor(means[k])[None])
    c = model.decoder.controls(raw, f0t)
    from timbred_train.tone import apply
    c2 = apply(c, tone["tone_db"], f0t, cfg.band_limit_hz, tone.get("onset_db"), course=tone.get("course_db"), frame_rate=cfg.frame_rate, strike=tone.get("strike"), strike_noise_db=tone.get("strike_noise_db", 0.0))
h = c["harmonics"][0].numpy(); h2 = c2["harmonics"][0].numpy()
print("loudness in", np.round(ld[:8], 1))
print("harm power dB (decoder)", np.round(10*np.log10((h**2).sum(-1)[:8]+1e-12), 1))
print("harm power dB (toned)  ", np.round(10*np.log10((h2**2).sum(-1)[:8]+1e-12), 1))
print("onset_db", np.round(np.asarray(tone.get("onset_db"))[:8], 1) if tone.get("onset_db") is not None else None)
n1 = c["noise"][0].numpy(); n2 = c2["noise"][0].numpy()
print("noise power dB (decoder)", np.round(10*np.log10((n1**2).sum(-1)[:8]+1e-12), 1))
print("noise power dB (toned)  ", np.round(10*np.log10((n2**2).sum(-1)[:8]+1e-12), 1))
