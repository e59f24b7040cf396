"""Issue 15's bands averaged in power over every third key (as `playing --ladder 3` now reports),
and with a 4th argument each key's bands, FluidR3 / timbred, dB of the note's power:

    python3 key_bands.py BINARY [MODEL] [NAMES] [x]

Session 33, piano: keys 91, 94 and 97 read -63 / -72, -60 / -66 and -62 / -68 dB at 12.5 kHz, the
band 60-63 dB under those notes, where `key-bands` (FLOOR_DB 60) leaves a band alone; key 37 reads
-55 / -35 at 8 kHz (see partials.py)."""
import sys
import numpy as np
from pathlib import Path
from timbred_train import playing
from timbred_train.playing import *
from timbred_train.dataset import FluidSynth
from timbred_train.config import DEFAULT_INSTRUMENTS
ROOT = Path(__file__).resolve().parents[2]
Path("/tmp/session33").mkdir(exist_ok=True)
binary=Path(sys.argv[1]); model=Path(sys.argv[2]) if len(sys.argv)>2 else ROOT / "models/default.safetensors"
names=(sys.argv[3] if len(sys.argv)>3 else "piano,trumpet,flute,violin").split(",")
sf=Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"); work=Path("/tmp/session33/lad"); work.mkdir(parents=True, exist_ok=True)
fs,probe=FluidSynth(sf,RATE),FluidSynth(sf,RATE)
for name,program,lo,hi in DEFAULT_INSTRUMENTS:
    if name not in names: continue
    main_db=held_level_db(probe,program,min(max(60,lo),hi))
    keys=[k for k in range(lo+1,hi,3) if held_level_db(probe,program,k)>main_db-UNPLAYABLE_DB]
    ours=render_timbred(binary,model,ROOT / "presets",name,[(k,100) for k in keys],work,dry=True)
    R=np.array([band_levels_db(fs.render_note(program,k,100,HOLD_S,RELEASE_S)) for k in keys]); O=np.array([band_levels_db(o) for o in ours])
    pr=10*np.log10(np.mean(10**(R/10),0)); po=10*np.log10(np.mean(10**(O/10),0)); d=po-pr
    upto=[i for i,c in enumerate(BAND_NOMINAL_HZ) if c<=12500]; w=max(upto,key=lambda i:abs(d[i]))
    print(f"{name:8s} {len(keys)} keys: worst {d[w]:+.1f} at {BAND_NOMINAL_HZ[w]}; 16k {d[-1]:+.1f}; all: "+" ".join(f"{c}:{x:+.1f}" for c,x in zip(BAND_NOMINAL_HZ,d)),flush=True)
    if len(sys.argv)>4:
        for k,r,o in zip(keys,R,O):
            print(f"   {k}: "+" ".join(f"{c}:{x:+.0f}/{y:+.0f}" for c,x,y in zip(BAND_NOMINAL_HZ,r,o) if c in (100,125,160,200,250,4000,5000,6300,8000,10000,12500,16000)))
