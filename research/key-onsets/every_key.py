import os, sys, json, numpy as np
from pathlib import Path
from timbred_train import keybands as K, tone as T
from timbred_train.export import load_exported
from timbred_train.playing import attack_ms, attack_within_bound, DEFAULT_INSTRUMENTS, DEFAULT_SOUNDFONT
from timbred_train.dataset import FluidSynth
models = sys.argv[1:]
model, _, _ = load_exported(Path(models[0])); cfg = model.cfg; means = model.prior_mu.detach().numpy()
fs = FluidSynth(DEFAULT_SOUNDFONT, 48000)
rng = {d[0]: (d[1], d[2], d[3]) for d in DEFAULT_INSTRUMENTS}
frames, hop = 200, cfg.hop; n = frames * hop
out = {}
for k, name in enumerate(cfg.instruments):
    prog, lo, hi = rng[name]
    keys = np.arange(lo, hi + 1)
    real = []
    for p in keys:
        x = fs.render_note(prog, int(p), 100, 2.2, 0.5)[:n]; x = np.pad(x, (0, n - len(x)))
        real.append((T.onset_level_db(x, hop, 48000 / (440 * 2 ** ((p - 69) / 12)), frames), attack_ms(x, int(p))))
    res = []
    for m in models:
        ours, clips = K.engine_onsets(Path("../.build/release/timbred"), Path(m), means[k], keys, np.full(len(keys), 100), frames, hop, Path("/tmp/every-key"), f"k{k}")
        res.append([(attack_ms(clips[j], int(p)), K.level_error_db(real[j][0], ours[j])) for j, p in enumerate(keys)])
    for j, p in enumerate(keys):
        out[f"{name} {p}"] = [real[j][1]] + [r[j] for r in res]
    ok = [np.mean([attack_within_bound(real[j][1], r[j][0]) for j in range(len(keys))]) for r in res]
    le = [np.mean([r[j][1] for j in range(len(keys))]) for r in res]
    print(f"{name:16s} {len(keys)} keys: attack ok " + " → ".join(f"{o:.2f}" for o in ok) + "; level err " + " → ".join(f"{e:.2f}" for e in le), flush=True)
json.dump(out, open(os.environ.get("OUT", "/tmp/every-key.json"), "w"))
