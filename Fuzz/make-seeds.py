#!/usr/bin/env python3
"""Writes the seed corpora of the fuzzers (Fuzz/corpus/<target>/seed-*), small valid inputs that
reach deep into each parser. Run from anywhere: python3 Fuzz/make-seeds.py (idempotent).
Crash inputs that scripts/fuzz keeps (crash-*) are not touched."""
import json
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def write(target, name, data):
    folder = os.path.join(HERE, "corpus", target)
    os.makedirs(folder, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(folder, "seed-" + name), "wb") as f:
        f.write(bytes(data))


# --- MIDI byte streams: byte 0 is the harness's control byte (SysEx limit, chunk size) ---------------
streams = {
    "notes-running-status": [0x90, 60, 100, 64, 90, 67, 80, 60, 0, 64, 0, 67, 0, 0x80, 72, 64],
    "controls": [0xB0, 64, 127, 0xB3, 101, 0, 100, 0, 6, 12, 38, 50, 0xC0, 5, 0xD1, 70, 0xA2, 60, 33,
                 0xE0, 0x00, 0x40, 0xEF, 0x7F, 0x7F, 0xB0, 121, 0, 0xB0, 123, 0],
    "sysex-realtime": [0xF0, 0x7E, 0x7F, 0xF8, 0x09, 0x01, 0xF7, 0x90, 0xFA, 60, 0xFE, 100, 0xFC, 0xFF],
    "system-common": [0xF1, 0x23, 0xF2, 0x10, 0x20, 0xF3, 5, 0xF6, 0xF4, 0xF5, 0xF9, 0xFD, 0xF7, 0x40],
    "aborted": [0x90, 60, 0xB0, 7, 0xF0, 1, 2, 3, 0x90, 61, 100, 0xF0, 0x41, 0xF0, 0xF7, 0x33, 0xC0],
    "long-sysex": [0xF0] + list(range(0x00, 0x7F)) + [0xF7, 0x91, 40, 1],
}
for i, (name, body) in enumerate(streams.items()):
    write("midi-bytes", name, [(i * 37 + 5) & 0xFF] + body)


# --- Standard MIDI Files, written by hand --------------------------------------------------------------
def vlq(value):
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.insert(0, 0x80 | (value & 0x7F))
        value >>= 7
    return out


def chunk(kind, body):
    return list(kind.encode()) + list(struct.pack(">I", len(body))) + list(body)


def header(fmt, ntracks, division):
    return chunk("MThd", struct.pack(">HHH", fmt, ntracks, division))


def track(events):
    body = []
    for delta, data in events:
        body += vlq(delta) + list(data)
    return chunk("MTrk", body)


EOT = [0xFF, 0x2F, 0x00]
tempo = lambda us: [0xFF, 0x51, 0x03] + list(us.to_bytes(3, "big"))
write("midi-file", "format0.mid", header(0, 1, 480) + track([
    (0, tempo(500000)), (0, [0xC0, 3]), (0, [0x90, 60, 100]), (240, [64, 90]), (240, [0x80, 60, 0]),
    (0, [0xE0, 0, 0x50]), (120, [0xB0, 64, 127]), (480, [0x90, 64, 0]), (0, EOT)]))
write("midi-file", "format1-tempo-map.mid", header(1, 2, 96)
      + track([(0, tempo(600000)), (0, [0xFF, 0x58, 4, 4, 2, 24, 8]), (192, tempo(400000)), (0, EOT)])
      + track([(0, [0xFF, 0x03, 4] + list(b"lead")), (0, [0x91, 69, 80]), (96, [0xFF, 0x01, 1, 65]),
               (0, [72, 80]), (384, [0x81, 69, 0]), (0, [0x81, 72, 0]), (0, EOT)]))
write("midi-file", "smpte-sysex-escape.mid", header(0, 1, 0xE728)  # -25 fps, 40 ticks per frame
      + chunk("XFIH", b"unknown chunk")
      + track([(0, [0xF0, 3, 0x7E, 0x01, 0xF7]), (10, [0xF0, 2, 0x43, 0x10]), (5, [0xF7, 3, 0x4C, 0x00, 0xF7]),
               (0, [0xF7, 3, 0x90, 48, 90]), (100, [0xF7, 2, 0xF8, 0xFA]), (20, [0x80, 48, 0]), (0, EOT),
               (0, [0x90, 1, 1])]))
write("midi-file", "no-end-of-track.mid", header(0, 1, 1) + track([(0x0FFFFFFF, [0xB5, 7, 100]), (1, [0xA5, 60, 3])]))


# --- Presets (TOML subset) -----------------------------------------------------------------------------
write("preset", "flute.toml", """# a shipped-style preset
name = "Flute"   # trailing comment
model = "default"
instrument = "flute"
program = 7
bank = 129
reverb = 0.3
gain_db = -3.0
attack_scale = 1.5
release_scale = 0.5
""")
write("preset", "latent-cc.toml", """name = 'Pad # not a comment'
latent = [0.5, -1.25,
          2e-1, 1_000.0,
          -0.0]
[cc]
74 = "latent 2"
"pressure" = "latent 0"
1 = "morph"
""")
for shipped in ("flute.toml", "church_organ.toml"):
    path = os.path.join(ROOT, "presets", shipped)
    if os.path.exists(path):
        write("preset", "shipped-" + shipped, open(path, "rb").read())
write("preset", "tables-escapes.toml", """name = "Esc \\"q\\" \\t \\\\ \\n"
instrument = "cello"
flag = true
other = false
nested = [[1, 2], ["a", 'b'], []]
[reverb.sub]
mix = 0.25
[ "quoted" . key ]
x = -7
""")


# --- Models (safetensors) --------------------------------------------------------------------------------
def expected_tensors(c):
    u, g, l, z = c["mlp_units"], c["gru_units"], c["mlp_layers"], c["z_dim"]
    i, p, v = len(c["instruments"]), len(c["env_pitches"]), len(c["env_velocities"])
    raw = 1 + c["n_harmonics"] + c["n_noise_bands"]
    segs = len(c["enc_segments_s"]) - 1
    enc_features = segs * c["enc_bins_per_octave"] * (c["enc_octaves_below"] + c["enc_octaves_above"]) + segs
    hold = round(c["env_hold_s"] * c["frame_rate"])
    release = round(c["env_release_s"] * c["frame_rate"])
    specs = []

    def mlp(prefix, inputs, units, layers):
        for k in range(layers):
            specs.extend([(f"{prefix}.layers.{k}.dense.weight", [units, inputs if k == 0 else units]),
                          (f"{prefix}.layers.{k}.dense.bias", [units]),
                          (f"{prefix}.layers.{k}.norm.weight", [units]),
                          (f"{prefix}.layers.{k}.norm.bias", [units])])
    mlp("decoder.f0_mlp", 1, u, l)
    mlp("decoder.ld_mlp", 1, u, l)
    mlp("decoder.z_mlp", z, u, l)
    specs += [("decoder.gru.weight_ih", [3 * g, 3 * u]), ("decoder.gru.weight_hh", [3 * g, g]),
              ("decoder.gru.bias_ih", [3 * g]), ("decoder.gru.bias_hh", [3 * g])]
    mlp("decoder.out_mlp", g + 3 * u, u, l)
    specs += [("decoder.out.weight", [raw, u]), ("decoder.out.bias", [raw])]
    mlp("encoder.mlp", enc_features, c["enc_units"], 2)
    specs += [("encoder.out.weight", [2 * z, c["enc_units"]]), ("encoder.out.bias", [2 * z]),
              ("latent.means", [i, z]), ("latent.logvars", [i, z]),
              ("reverb.ir", [int(c["reverb_seconds"] * c["sample_rate"])]),
              ("envelope.hold_db", [i, p, v, hold]), ("envelope.hold_slope_db_per_s", [i, p, v]),
              ("envelope.release_db", [i, p, v, release]), ("envelope.release_slope_db_per_s", [i, p, v])]
    return specs


def safetensors(metadata, tensors):
    header, data = {"__metadata__": metadata}, b""
    for name, shape in tensors:
        count = 1
        for n in shape:
            count *= n
        values = [((zlib.crc32(name.encode()) + k) % 7 - 3) * 0.125 for k in range(count)]
        blob = struct.pack("<%df" % count, *values)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [len(data), len(data) + len(blob)]}
        data += blob
    text = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(text)) + text + data


tiny = {"sample_rate": 100, "frame_rate": 100, "n_harmonics": 1, "n_noise_bands": 2, "z_dim": 1,
        "mlp_units": 1, "mlp_layers": 1, "gru_units": 1, "enc_bins_per_octave": 1, "enc_octaves_below": 0,
        "enc_octaves_above": 1, "enc_n_fft": 8, "enc_segments_s": [0, 1], "enc_units": 1,
        "env_pitches": [0, 127], "env_velocities": [0, 127], "env_hold_s": 0.02, "env_release_s": 0.02,
        "reverb_seconds": 0.01, "instruments": ["a"], "leaky_relu_slope": 0.2, "layer_norm_eps": 1e-5,
        "noise_bias": -5, "db_range": 120}
meta = {"format": "timbred-ddsp", "format_version": "1", "config": json.dumps(tiny),
        "envelope_blend_scale": "1.5", "provenance": "{}"}
write("model", "tiny.safetensors", safetensors(meta, expected_tensors(tiny)))
two = dict(tiny, z_dim=2, mlp_layers=2, instruments=["a", "b"], env_pitches=[10, 60, 100])
write("model", "tiny-2d.safetensors", safetensors(dict(meta, config=json.dumps(two)), expected_tensors(two)))

small = open(os.path.join(ROOT, "Tests/Fixtures/small.safetensors"), "rb").read()
header_length = struct.unpack("<Q", small[:8])[0]
write("model", "small.safetensors", small)
write("model", "small-header-only.safetensors", small[:8 + header_length])
write("model", "small-truncated.safetensors", small[:8 + header_length + 1000])
