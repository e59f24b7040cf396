import sys, numpy as np
from pathlib import Path
from timbred_train import keybands as K, tone as T
from timbred_train.cache import load_or_build
from timbred_train.export import load_exported
from timbred_train.playing import attack_ms, attack_within_bound
models = sys.argv[1:]
model, _, _ = load_exported(Path(models[0])); cfg = model.cfg; means = model.prior_mu.detach().numpy()
notes = load_or_build(Path("data/default48"), cfg)
more = T._manifest_notes(Path("data/default48k"), cfg)
test = notes.subset(notes.split == "test"); more = more.subset(more.split == "test")
allnotes = T._joined(test, more)
frames, hop = 200, cfg.hop; n = frames * hop
res = {m: {} for m in models}
for k, name in enumerate(cfg.instruments):
    mine = np.flatnonzero(np.asarray(allnotes.instrument) == k)
    real = []
    for i in mine:
        x = np.pad(np.asarray(allnotes.audio[i][:n], np.float64), (0, max(0, n - len(allnotes.audio[i][:n]))))
        p = float(allnotes.pitch[i]); real.append((T.onset_level_db(x, hop, cfg.sample_rate / (440 * 2 ** ((p - 69) / 12)), frames), attack_ms(x, int(round(p)))))
    line = f"{name:16s} {len(mine):3d}"
    for m in models:
        ours, clips = K.engine_onsets(Path("../.build/release/timbred"), Path(m), means[k], np.asarray(allnotes.pitch)[mine], np.asarray(allnotes.velocity)[mine], frames, hop, Path("/tmp/held-out"), f"ho{k}")
        le, w = [], []
        for j, i in enumerate(mine):
            rl, ra = real[j]
            le.append(K.level_error_db(rl, ours[j])); w.append(attack_within_bound(ra, attack_ms(clips[j], int(round(float(allnotes.pitch[i]))))))
        line += f" | {np.mean(le):5.2f} dB {np.mean(w):.2f}"
        res[m][name] = (np.mean(le), np.mean(w))
    print(line, flush=True)
for m in models:
    print(m, "mean level err %.2f dB, attack within %.3f" % tuple(np.mean([v for v in res[m].values()], 0)))
