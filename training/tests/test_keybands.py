"""The per-key band balance read through the engine: which bands hold a partial, and a note's
correction (damped, clamped, only where a partial sounds, the note's power kept)."""
import numpy as np
from pathlib import Path
import pytest

from timbred_train import keybands as K
from timbred_train.playing import BAND_CENTRES_HZ, BAND_NOMINAL_HZ


def test_a_band_holds_a_partial_only_where_one_of_the_notes_partials_falls():
    holds = K.band_holds_partial(440.0, BAND_CENTRES_HZ, 100, 24000.0)
    got = {hz for hz, h in zip(BAND_NOMINAL_HZ, holds) if h}
    # A4: 440 (400 Hz band), 880 (800), 1320 (1250), ...; nothing under the fundamental, nothing
    # between it and the 2nd partial
    assert {400, 800, 1250} <= got
    assert not {100, 125, 160, 200, 250, 315, 500, 630} & got
    # from the 2 kHz band up every band holds one (partials 440 Hz apart, bands wider than that)
    assert all(h for hz, h in zip(BAND_NOMINAL_HZ, holds) if hz >= 2000)
    # ten partials only: nothing above 4.4 kHz
    few = K.band_holds_partial(440.0, BAND_CENTRES_HZ, 10, 24000.0)
    assert not any(h for hz, h in zip(BAND_NOMINAL_HZ, few) if hz >= 5000)
    # a stretched string: the shipped piano's B at key 94 (A#6, 1865 Hz), 0.0058, moves its 3rd
    # partial 7.7 % up, from the 5 kHz band (5594 Hz) into the 6.3 kHz band (5738 Hz)
    f0 = 440.0 * 2 ** (25 / 12)
    plain = dict(zip(BAND_NOMINAL_HZ, K.band_holds_partial(f0, BAND_CENTRES_HZ, 100, 24000.0)))
    stiff = dict(zip(BAND_NOMINAL_HZ, K.band_holds_partial(f0, BAND_CENTRES_HZ, 100, 24000.0, stretch_b=0.0058)))
    assert plain[5000] and not plain[6300] and stiff[6300] and not stiff[5000]


def test_a_correction_moves_the_bands_with_a_partial_keeps_the_power_and_leaves_the_rest_alone():
    n = len(BAND_CENTRES_HZ)
    ours = np.full(n, -30.0)
    real = ours.copy()
    holds = np.zeros(n, bool)
    holds[[5, 10, 15]] = True
    real[5] += 6.0     # a partial 6 dB short
    real[10] -= 30.0   # one 30 dB too loud: clamped to 12 before damping
    real[3] += 20.0    # a band with only noise in it: left alone
    g, shift = K.correction_db(real, ours, holds, damping=0.5)
    assert g[5] - shift == pytest.approx(3.0) and g[10] - shift == pytest.approx(-6.0)
    assert g[15] == pytest.approx(shift) and shift != 0
    assert np.all(g[~holds] == 0.0)
    # the engine's note keeps its power
    p = 10 ** (ours / 10)
    assert (p * 10 ** (g / 10)).sum() == pytest.approx(p.sum(), rel=1e-9)
    # nothing to correct: nothing moves
    g0, s0 = K.correction_db(ours, ours, holds)
    assert np.all(g0 == 0) and s0 == 0


def test_bands_far_under_the_note_on_both_sides_are_left_alone():
    n = len(BAND_CENTRES_HZ)
    ours = np.full(n, -90.0)
    real = np.full(n, -95.0)
    ours[0] = real[0] = -3.0
    g, shift = K.correction_db(real, ours, np.ones(n, bool), damping=1.0)
    # band 0 agrees; every other band lies more than FLOOR_DB under both notes' strongest
    assert np.allclose(g, 0.0, atol=1e-9)


def test_a_deeper_floor_corrects_a_quiet_band_the_default_leaves_alone():
    # the piano's key 94 at 12.5 kHz: 60 dB under the note in FluidR3, 66 in ours (session 33)
    n = len(BAND_CENTRES_HZ)
    real, ours = np.full(n, -100.0), np.full(n, -100.0)
    real[5] = ours[5] = 0.0
    top = int(np.argmin(np.abs(np.asarray(BAND_CENTRES_HZ) - 12500)))
    real[top], ours[top] = -61.0, -67.0
    holds = np.zeros(n, bool)
    holds[[5, top]] = True
    g60, _ = K.correction_db(real, ours, holds, damping=1.0)
    g72, _ = K.correction_db(real, ours, holds, damping=1.0, floor_db=72.0)
    assert g60[top] == 0.0
    assert g72[top] == pytest.approx(6.0, abs=1e-3)
    assert K.partial_band_error_db(real, ours, holds) == 0.0
    assert K.partial_band_error_db(real, ours, holds, floor_db=72.0) == pytest.approx(3.0)


def test_a_step_on_named_instruments_refuses_a_name_the_model_lacks():
    from types import SimpleNamespace

    from timbred_train.errors import UserError

    cfg = SimpleNamespace(instruments=["flute", "piano", "violin"])
    assert K._chosen("m", cfg, None) == [0, 1, 2]
    assert K._chosen("m", cfg, ["violin", "piano"]) == [2, 1]
    with pytest.raises(UserError, match="no instrument tuba"):
        K._chosen("m", cfg, ["piano", "tuba"])


def test_the_noise_under_the_fundamental_is_read_where_no_partial_sounds_and_set_on_one_band():
    n = len(BAND_CENTRES_HZ)
    f0 = 440.0 * 2 ** ((60 - 69) / 12)  # C4, 262 Hz: the 100-200 Hz bands lie under it, 250 holds it
    holds = K.band_holds_partial(f0, BAND_CENTRES_HZ, 100, 24000.0)
    ours = np.full(n, -20.0)
    real = ours.copy()
    nominal = np.array(BAND_NOMINAL_HZ)
    real[nominal <= 200] = -50.0   # the real note's hiss under its fundamental: 30 dB under ours
    ours[nominal <= 200] = -20.0
    real[nominal == 250] = -80.0   # a band that holds the fundamental does not count, however far off
    got = K.noise_floor_db(real, ours, BAND_CENTRES_HZ, holds, f0, damping=1.0, limit_db=np.inf)
    assert got == pytest.approx(-30.0, abs=1e-6)
    # clamped, then damped
    assert K.noise_floor_db(real, ours, BAND_CENTRES_HZ, holds, f0, damping=0.5) == pytest.approx(-6.0)
    # floored FLOOR_DB under the note's strongest band: a real band at -200 dB reads as -60 dB
    real[nominal <= 200] = -200.0
    got = K.noise_floor_db(real, ours, BAND_CENTRES_HZ, holds, f0, damping=1.0, limit_db=np.inf)
    assert got == pytest.approx(-K.FLOOR_DB, abs=1e-6)
    # ours too quiet: no boost (it would lift the note-on's noise with the held part's), unless asked
    assert K.noise_floor_db(ours - 10.0, ours - 20.0, BAND_CENTRES_HZ, holds, f0, damping=1.0) == 0.0
    assert K.noise_floor_db(ours - 10.0, ours - 20.0, BAND_CENTRES_HZ, holds, f0, damping=1.0,
                            cut_only=False) == pytest.approx(10.0)
    # a low note: partials under NOISE_KEY_MIN_HZ read the noise's band too, so nothing is set
    low = 440.0 * 2 ** ((30 - 69) / 12)
    assert K.noise_floor_db(real, ours, BAND_CENTRES_HZ, K.band_holds_partial(low, BAND_CENTRES_HZ, 100, 24000.0),
                            low) is None
    # every band up to NOISE_TOP_HZ holding a partial: none to read
    assert K.noise_floor_db(real, ours, BAND_CENTRES_HZ, np.ones(n, bool), f0) is None


# Notes whose keys lie between the envelopes' anchors (12 semitones apart), velocity 100, and each
# one's mean |band error| where a partial sounds through the engine, dB: before `key-bands`
# (session 25's file before it) and with it (session 26's: the layers include every key at
# velocities 64 and 100; in session 25 the table was read at velocity 100 between the notes' 80 and
# 120 anchors on every other key, and FluidR3 changes samples with velocity, so the sax's key 66
# and the guitar's 70 hardly moved: 6.13 and 6.52 then).
SHIPPED_KEYS = {("piano", 94): (6.27, 2.05), ("piano", 76): (4.83, 2.66), ("flute", 64): (2.84, 0.71),
                ("cello", 41): (1.12, 0.57), ("choir_aahs", 60): (2.38, 0.32), ("clarinet", 57): (4.82, 2.75),
                ("vibraphone", 72): (3.26, 1.29), ("church_organ", 50): (2.53, 1.74), ("alto_sax", 66): (7.02, 1.64),
                ("nylon_guitar", 70): (6.61, 4.32)}
SHIPPED_BOUND_DB = 2.3  # their mean: 4.17 before, 3.05 in session 25, 1.81 with every key's velocity layers
SHIPPED_NOTE_BOUND_DB = 5.0


def test_the_shipped_keys_sound_their_own_balance_through_the_engine(tmp_path, shipped_engine):
    """Through the engine (the release binary), the shipped model's notes at keys between the
    envelopes' anchors sit within SHIPPED_BOUND_DB of FluidR3's on average (mean |band error| over
    the bands that hold a partial), none above SHIPPED_NOTE_BOUND_DB."""
    import json

    from safetensors import safe_open

    from timbred_train.config import DEFAULT_INSTRUMENTS, ModelConfig
    from timbred_train.dataset import DEFAULT_SOUNDFONT, FluidSynth
    from timbred_train.playing import band_levels_db

    timbred, model = shipped_engine
    with safe_open(str(model), framework="np") as f:
        cfg = ModelConfig.from_dict(json.loads(f.metadata()["config"]))
        means = f.get_tensor("latent.means")
        stretch = f.get_tensor("inharmonicity.b")
        assert "tone.gain_pitches" in f.keys(), "the shipped model has no balance per key (timbred-train key-bands)"
    program = {d[0]: d[1] for d in DEFAULT_INSTRUMENTS}
    fs = FluidSynth(DEFAULT_SOUNDFONT, 48000)
    errors = []
    for (name, key), (before, measured) in SHIPPED_KEYS.items():
        k = list(cfg.instruments).index(name)
        ours = K.engine_band_levels(timbred, model, means[k], np.array([key]), np.array([100]), np.array([3.0]),
                                    tmp_path, f"{name}-{key}")[0]
        real = np.array(band_levels_db(fs.render_note(program[name], key, 100, 3.0, 1.0)[: 3 * 48000]))
        holds = K.band_holds_partial(440.0 * 2 ** ((key - 69) / 12), BAND_CENTRES_HZ, cfg.n_harmonics, 24000.0,
                                     float(stretch[k, key]))
        errors.append(K.partial_band_error_db(real, ours, holds))
        print(f"{name} key {key}: mean |band error| where a partial sounds {errors[-1]:.2f} dB "
              f"(before key-bands {before:.2f}, measured {measured:.2f})")
    assert np.mean(errors) < SHIPPED_BOUND_DB and max(errors) < SHIPPED_NOTE_BOUND_DB


# The piano's top keys at 12.5 kHz (session 33's model through the engine, dB of the note's power,
# FluidR3 / timbred): 60-63 dB under the note in FluidR3, under `key-bands`' default floor, so the
# band was never set there until `--floor-db 72` (session 34)
PIANO_TOP_KEYS = {91: (-63, -72), 94: (-60, -66), 97: (-62, -68)}
PIANO_TOP_BOUND_DB = 3.0  # each key, either way


def test_the_shipped_pianos_top_keys_reach_their_top_band(tmp_path, shipped_engine):
    """Through the engine (the release binary), the shipped piano's top keys at velocity 100 sound
    their 12.5 kHz band within PIANO_TOP_BOUND_DB of FluidR3's (session 33's model: 6-9 dB dark)."""
    import json

    from safetensors import safe_open

    from timbred_train.config import DEFAULT_INSTRUMENTS, ModelConfig
    from timbred_train.dataset import DEFAULT_SOUNDFONT, FluidSynth
    from timbred_train.playing import band_levels_db

    timbred, model = shipped_engine
    with safe_open(str(model), framework="np") as f:
        cfg = ModelConfig.from_dict(json.loads(f.metadata()["config"]))
        means = f.get_tensor("latent.means")
    k = list(cfg.instruments).index("piano")
    program = {d[0]: d[1] for d in DEFAULT_INSTRUMENTS}["piano"]
    fs = FluidSynth(DEFAULT_SOUNDFONT, 48000)
    band = int(np.argmin(np.abs(np.asarray(BAND_CENTRES_HZ) - 12500)))
    keys = list(PIANO_TOP_KEYS)
    ours = K.engine_band_levels(timbred, model, means[k], np.array(keys), np.array([100] * len(keys)),
                                np.array([3.0] * len(keys)), tmp_path, "piano-top")
    errors = []
    for key, o in zip(keys, ours):
        real = np.array(band_levels_db(fs.render_note(program, key, 100, 3.0, 1.0)[: 3 * 48000]))
        errors.append(o[band] - real[band])
        before = PIANO_TOP_KEYS[key]
        print(f"piano key {key} at 12.5 kHz: {o[band]:.1f} dB against FluidR3's {real[band]:.1f} "
              f"({errors[-1]:+.1f}; session 33: {before[1] - before[0]:+d})")
    assert max(abs(e) for e in errors) < PIANO_TOP_BOUND_DB


# Keys whose strike (power above 6 kHz in the first 20 ms) was furthest from FluidR3's through the
# engine at velocity 100 before `key-strikes` (session 26's model, dB, timbred minus FluidR3): one
# share and one noise gain per instrument could not follow the SoundFont's sample ranges. The
# piano's 35 stayed at +14 through every round until session 34: its stretched partials sound up
# to 22 % above k · f0, where the balance read their gain, so those between 6 and 7.5 kHz lay where
# the top's gain ramps in; the balance now reads each partial's gain where it sounds.
STRIKE_KEYS = {("marimba", 73): +16, ("marimba", 76): -15, ("church_organ", 47): -11, ("church_organ", 91): -13,
               ("vibraphone", 88): +11, ("piano", 101): +10, ("piano", 44): -12, ("acoustic_bass", 30): +17,
               ("flute", 75): +14, ("clarinet", 81): +12, ("piano", 35): +18}
# each key, either way (the marimba's 75-76, held out of the train notes, read their neighbours': -4)
STRIKE_KEY_BOUND_DB = 5.0
STRIKE_KEYS_MEAN_BOUND_DB = 2.0  # their mean |error|


def test_the_shipped_keys_strike_as_bright_as_the_real_notes(tmp_path, shipped_engine):
    """Through the engine (the release binary), the shipped model's strikes on the keys furthest
    from FluidR3's before `key-strikes` sit within STRIKE_KEY_BOUND_DB of the real notes' (each)
    and STRIKE_KEYS_MEAN_BOUND_DB on average."""
    import json

    from safetensors import safe_open

    from timbred_train.config import DEFAULT_INSTRUMENTS, ModelConfig
    from timbred_train.dataset import DEFAULT_SOUNDFONT, FluidSynth
    from timbred_train.playing import strike_db

    timbred, model = shipped_engine
    with safe_open(str(model), framework="np") as f:
        cfg = ModelConfig.from_dict(json.loads(f.metadata()["config"]))
        means = f.get_tensor("latent.means")
        assert "tone.strike_top_db" in f.keys(), "the shipped model has no strike per key (timbred-train key-strikes)"
    program = {d[0]: d[1] for d in DEFAULT_INSTRUMENTS}
    fs = FluidSynth(DEFAULT_SOUNDFONT, 48000)
    errors = []
    for (name, key), before in STRIKE_KEYS.items():
        k = list(cfg.instruments).index(name)
        ours = K.engine_strikes(timbred, model, means[k], np.array([key]), np.array([100]), tmp_path, f"{name}-{key}")[0]
        real = strike_db(fs.render_note(program[name], key, 100, 3.0, 0.5)[:48000])
        errors.append(ours - real)
        print(f"{name} key {key}: strike {ours:.1f} dB against FluidR3's {real:.1f} ({errors[-1]:+.1f}; before {before:+d})")
    assert max(abs(e) for e in errors) < STRIKE_KEY_BOUND_DB
    assert np.mean(np.abs(errors)) < STRIKE_KEYS_MEAN_BOUND_DB


def test_a_recordings_sound_is_under_way_at_its_first_sample_20_db_under_its_peak():
    """`sound_onset`: a pluck after 3 ms of pick noise 48 dB under it is under way where the pluck
    starts (not at the noise, nor at the file's first sample); nothing within the limit: 0."""
    rate = 48000
    x = np.zeros(rate // 2)
    x[48:192] = 10 ** (-48 / 20) * np.sin(np.arange(144))  # a lead-in at -48 dB, 1-4 ms
    t = np.arange(rate // 2 - 192) / rate
    x[192:] = np.sin(2 * np.pi * 440 * t) * np.exp(-3 * t)
    assert K.sound_onset(x) in range(192, 196)
    assert K.sound_onset(x, floor_db=-60.0) in range(48, 52)
    late = np.concatenate([np.zeros(2 * int(K.SOUND_ONSET_LIMIT_S * rate)), x[192:]])
    assert K.sound_onset(late) == 0
    assert K.sound_onset(np.zeros(100)) == 0


def test_a_notes_first_moment_is_read_over_its_first_period_within_2_to_5_ms():
    rate = 48000
    x = np.concatenate([np.full(int(0.002 * rate), 0.5), np.full(rate // 10, 0.05)])
    # 440 Hz: a period of 2.3 ms takes in the loud start and a little of what follows
    assert K.start_level_db(x, rate / 440.0) == pytest.approx(10 * np.log10((96 * 0.25 + 13 * 0.0025) / 109), abs=0.01)
    # a 40 Hz period (25 ms) is cut to 5 ms, a 4 kHz one raised to 2 ms
    assert K.start_level_db(x, rate / 40.0) == pytest.approx(10 * np.log10((96 * 0.25 + 144 * 0.0025) / 240), abs=0.01)
    assert K.start_level_db(x, rate / 4000.0) == pytest.approx(20 * np.log10(0.5), abs=0.01)


def test_the_first_frames_correction_may_come_from_the_notes_first_moment():
    """With `start_db` the first frame's correction is the first moments' difference (clamped, only
    raising unless the recording swells), whatever the frame levels say; the other frames keep theirs."""
    real, ours = np.full(200, -20.0), np.full(200, -21.0)
    g = K.onset_correction_db(real, ours, 0.5, start_db=(-22.0, -40.0))
    assert g[0] == pytest.approx(0.5 * 18.0) and g[1] == pytest.approx(0.5)
    assert K.onset_correction_db(real, ours, 0.5, start_db=(-12.0, -50.0))[0] == pytest.approx(
        0.5 * K.ONSET_KEY_START_LIMIT_DB)
    assert K.onset_correction_db(real, ours, 0.5)[0] == pytest.approx(0.5)
    # a first moment louder than the recording's is left alone (the transient sounds there)
    assert K.onset_correction_db(real, ours, 0.5, start_db=(-30.0, -25.0))[0] == 0.0
    # a recording that swells keeps the frame's own correction (its first moment is not its level)
    assert K.onset_correction_db(real, ours, 0.5, start_db=(-22.0, -40.0),
                                 real_attack_ms=K.ONSET_KEY_SWELL_MS + 5)[0] == pytest.approx(0.5)
    # both far under the loudest frame: left alone
    assert K.onset_correction_db(real, ours, 0.5, start_db=(-90.0, -95.0))[0] == 0.0


def test_an_onset_correction_is_damped_clamped_floored_and_held_past_the_course():
    """A note's onset correction: damping × (real − ours) per frame, clamped, 0 where both lie far
    under the recording's loudest frame, only raising the first frames (unless the recording itself swells); past ONSET_KEY_SMOOTH_FROM it is smoothed (a tremolo is the
    note's own), and its last frames taper to the level the engine holds after the course."""
    from timbred_train import tone as T

    frames = 200
    real = np.full(frames, -20.0)
    ours = np.full(frames, -23.0)
    ours[1] = -15.0  # louder than the real note in the first 30 ms, where the transient sounds: left alone
    ours[5] = -40.0  # 17 dB under: clamped to ONSET_KEY_LIMIT_DB
    real[7], ours[7] = -90.0, -95.0  # both far under the loudest: left alone
    ours[100:] += 2.0 * np.sign(np.sin(np.arange(frames - 100) * 2 * np.pi / 6))  # a fast tremolo of ±2 dB
    g = K.onset_correction_db(real, ours, 0.5)
    assert g[1] == 0.0 and np.allclose(g[[0, 2, 3, 4]], 1.5)
    # a recording that swells (a soft mallet on a low bar: 15-25 ms to come within 3 dB of its
    # peak) lowers them too
    swell = K.onset_correction_db(real, ours, 0.5, real_attack_ms=K.ONSET_KEY_SWELL_MS + 8)
    assert swell[1] == pytest.approx(0.5 * -5.0) and np.allclose(swell[[0, 2, 3, 4]], 1.5)
    assert K.onset_correction_db(real, ours, 0.5, real_attack_ms=K.ONSET_KEY_SWELL_MS - 1)[1] == 0.0
    assert g[5] == pytest.approx(0.5 * K.ONSET_KEY_LIMIT_DB) and g[7] == 0.0
    assert np.ptp(g[110:190]) < 0.5  # the tremolo evened out (unsmoothed it swings by 2 dB)
    assert np.ptp(K.onset_correction_db(real, ours, 0.5, smooth=False)[110:190]) == pytest.approx(2.0)
    assert abs(g[-1] - 1.5) < 0.2  # the held level: the mean of the last frames (the tremolo's is 0)
    assert K.level_error_db(real, ours) == pytest.approx(np.mean(np.abs(np.delete(real - ours, 7))))
    assert K.level_error_db(real[100:], ours[100:], signed=True) == pytest.approx(3.0, abs=0.1)
    assert K.level_error_db(np.full(4, -90.0), np.full(4, -95.0), loudest_db=-20.0) is None
    assert T.ONSET_TAPER < K.ONSET_KEY_HOLD_FRAMES < frames - K.ONSET_KEY_SMOOTH_FROM


def test_a_lengthened_onset_course_plays_as_before():
    """The engine holds an onset course's last frame for the rest of the note, so a course
    lengthened by repeating it gains the same at every time; a longer one is cut."""
    rng = np.random.default_rng(1)
    course = rng.normal(size=(2, 3, 5, 60)).astype(np.float32)
    longer = K.extended_course(course, 200)
    assert longer.shape == (2, 3, 5, 200)
    assert np.array_equal(longer[..., :60], course) and np.all(longer[..., 60:] == course[..., -1:])
    assert K.extended_course(longer, 60).shape[-1] == 60


def test_a_key_between_two_train_notes_reads_their_recordings():
    """A key with no note of its own at a velocity, between two notes of that velocity and
    instrument at most ONSET_KEY_BETWEEN_GAP semitones apart, is listed with the share of the upper
    note; neighbours, wider gaps, other velocities and other instruments are not mixed."""
    instrument = np.array([0, 0, 0, 0, 0, 1, 1, 0])
    pitch = np.array([47, 49, 50, 53, 60, 50, 53, 51], float)
    velocity = np.array([100, 100, 100, 100, 100, 100, 100, 64], float)
    out = K.between_keys(instrument, pitch, velocity)
    assert (0, 48, 100.0, 0, 1, 0.5) in out
    assert (0, 51, 100.0, 2, 3, pytest.approx(1 / 3)) in out and (0, 52, 100.0, 2, 3, pytest.approx(2 / 3)) in out
    assert not any(k == 55 for _, k, *_ in out), "53 to 60 is too wide a gap"
    assert sum(1 for i, *_ in out if i == 1) == 2 and all(v == 100.0 for _, _, v, *_ in out)
    assert len(out) == 5


# Keys whose level over the first 2 s was furthest from FluidR3's through the engine at velocity 100
# before `key-onsets` (session 29's model, 600 ms course): attack ms (FluidR3 | before) and mean
# |level error| over the 2 s, dB. The organ's samples at 86-87 swell for 280 ms, its 85 and 88 in
# 80-95: the envelopes' anchors, 12 semitones apart, and a 600 ms course could not follow a swell
# that peaks past a second.
ONSET_KEYS = {("church_organ", 86): (290.5, 88.5, 1.45), ("church_organ", 87): (277.5, 87.5, 1.56),
              ("choir_aahs", 52): (178.0, 249.0, 1.34), ("french_horn", 60): (266.0, 271.0, 2.02),
              ("nylon_guitar", 45): (22.5, 20.5, 1.76),
              # a soft mallet on a low bar swells (session 31: the first 30 ms lowered where the recording swells)
              ("marimba", 48): (19.5, 0.0, 0.20), ("marimba", 55): (24.5, 4.0, 0.35)}
ONSET_KEYS_LEVEL_BOUND_DB = 1.35  # their mean |level error| (session 30's five keys: 1.63 before, 1.14 after; all seven
# with session 31's course 0.95)
ONSET_KEYS_AFTER_BOUND_DB = 1.0  # each one's mean level error over the second after (2-3 s), either way (before:
# the guitar's 45 1.47 dB, the choir's 52 1.27; measured at most 0.79)


def test_the_shipped_keys_follow_the_real_notes_level_over_two_seconds(tmp_path, shipped_engine):
    """Through the engine (the release binary), the shipped model's notes on the keys above reach
    their level within the issue's attack bound of FluidR3's, their level over the first 2 s lies
    within ONSET_KEYS_LEVEL_BOUND_DB of the real notes' on average, and over the second after it
    (where the engine holds the course's last gain) within ONSET_KEYS_AFTER_BOUND_DB of theirs."""
    import json

    from safetensors import safe_open

    from timbred_train import tone as T
    from timbred_train.config import DEFAULT_INSTRUMENTS, ModelConfig
    from timbred_train.dataset import DEFAULT_SOUNDFONT, FluidSynth
    from timbred_train.playing import attack_within_bound, attack_ms

    timbred, model = shipped_engine
    with safe_open(str(model), framework="np") as f:
        cfg = ModelConfig.from_dict(json.loads(f.metadata()["config"]))
        means = f.get_tensor("latent.means")
        frames = f.get_tensor("tone.onset_db").shape[-1]
    assert frames == K.ONSET_KEY_FRAMES, "the shipped onset course is not 2 s long (timbred-train key-onsets)"
    program = {d[0]: d[1] for d in DEFAULT_INSTRUMENTS}
    fs = FluidSynth(DEFAULT_SOUNDFONT, 48000)
    errors, after, attacks = [], [], []
    past = K.ONSET_KEY_PAST_FRAMES
    for (name, key), (real_ms, before_ms, before_db) in ONSET_KEYS.items():
        k = list(cfg.instruments).index(name)
        ours, clips = K.engine_onsets(timbred, model, means[k], np.array([key]), np.array([100]), frames + past,
                                      cfg.hop, tmp_path, f"{name}-{key}")
        real = fs.render_note(program[name], key, 100, 3.2, 0.5)[: (frames + past) * cfg.hop]
        real_db = T.onset_level_db(real, cfg.hop, 48000 / (440.0 * 2 ** ((key - 69) / 12)), frames + past)
        errors.append(K.level_error_db(real_db[:frames], ours[0][:frames], loudest_db=real_db.max()))
        after.append(K.level_error_db(real_db[frames:], ours[0][frames:], signed=True, loudest_db=real_db.max()))
        if after[-1] is None:  # died away before 2 s (the marimba's)
            after[-1] = 0.0
        attacks.append((attack_ms(real, key), attack_ms(clips[0], key)))
        print(f"{name} key {key}: attack {attacks[-1][1]:.1f} ms against FluidR3's {attacks[-1][0]:.1f} (before "
              f"{before_ms:.1f}); level error {errors[-1]:.2f} dB (before {before_db:.2f}); over 2-3 s "
              f"{after[-1]:.2f} dB")
    assert all(attack_within_bound(r, o) for r, o in attacks)
    assert np.mean(errors) < ONSET_KEYS_LEVEL_BOUND_DB
    assert max(after) < ONSET_KEYS_AFTER_BOUND_DB


# Struck notes whose attack (onset to within 3 dB of the peak) was furthest from FluidR3's between
# the envelopes' velocity anchors (session 33's model through the engine, ms, FluidR3 / timbred):
# FluidR3's vibraphone switches from the soft mallet's bloom to the hard one's click between 40
# and 80, and the onset course read at 64 lay between them; `key-onsets --gain-velocities` sets
# anchors at 64 and 100 (session 34)
VELOCITY_ATTACKS = {("vibraphone", 75, 64): (7.0, 20.0), ("vibraphone", 78, 64): (5.5, 17.5),
                    ("vibraphone", 81, 64): (1.5, 17.5), ("marimba", 52, 100): (15.0, 26.5),
                    ("marimba", 52, 64): (15.0, 23.0)}
# Plucked and struck notes that sound at once but came up over the engine's first frame (session
# 34's model through the engine, ms, FluidR3 / timbred): the recordings start up to 5 ms before their
# onsets, and the course's first frame, read over 10 ms centred on the note-on, lay 15-40 dB under
# the next; `key-onsets --from-onset` reads each recording from its onset and the first frame from
# the notes' first moment (session 35)
FIRST_MOMENT_ATTACKS = {("nylon_guitar", 71, 100): (4.0, 10.0), ("nylon_guitar", 77, 100): (2.0, 7.5),
                        ("nylon_guitar", 80, 100): (1.5, 7.5), ("nylon_guitar", 71, 64): (4.0, 10.0),
                        ("electric_piano", 35, 100): (0.0, 6.0)}


def test_the_shipped_struck_and_plucked_notes_attack_like_the_real_ones(tmp_path, shipped_engine):
    """Through the engine (the release binary), the notes of VELOCITY_ATTACKS and
    FIRST_MOMENT_ATTACKS reach their peak within issue 14's bound of FluidR3's (max(5 ms, 1.5×))."""
    from timbred_train.config import DEFAULT_INSTRUMENTS
    from timbred_train.dataset import DEFAULT_SOUNDFONT, FluidSynth
    from timbred_train.playing import RATE, attack_ms, attack_within_bound, render_timbred

    timbred, model = shipped_engine
    program = {d[0]: d[1] for d in DEFAULT_INSTRUMENTS}
    fs = FluidSynth(DEFAULT_SOUNDFONT, RATE)
    presets = Path(__file__).resolve().parents[2] / "presets"
    outside = []
    for (name, key, velocity), (real_before, ours_before) in (VELOCITY_ATTACKS | FIRST_MOMENT_ATTACKS).items():
        ours = attack_ms(render_timbred(timbred, model, presets, name, [(key, velocity)], tmp_path, dry=True)[0], key)
        real = attack_ms(fs.render_note(program[name], key, velocity, 1.0, 0.5), key)
        print(f"{name} {key} at velocity {velocity}: {ours:.1f} ms against FluidR3's {real:.1f} "
              f"(before: {ours_before:.1f} against {real_before:.1f})")
        if not attack_within_bound(real, ours):
            outside.append((name, key, velocity, ours, real))
    assert not outside


def test_the_level_held_past_the_course_is_set_on_the_second_after_it():
    """With `past` frames after the course, the course's last frame (the gain the engine holds for
    the rest of the note) takes their mean correction, not the course's own last frames': where
    the envelopes fall too fast after 2 s, the held gain lifts the note there."""
    frames, past = 200, 100
    real = np.full(frames + past, -20.0)
    ours = np.full(frames + past, -23.0)
    ours[frames:] = -24.0 - np.linspace(0.0, 2.0, past)  # the envelope falls 2 dB over the second after
    g = K.onset_correction_db(real, ours, 0.5, past=past)
    assert len(g) == frames
    assert np.allclose(g[3:150], 1.5)
    assert g[-1] == pytest.approx(0.5 * 5.0, abs=0.01)  # the mean of 4 … 6 dB, damped
    assert K.onset_correction_db(real[:frames], ours[:frames], 0.5)[-1] == pytest.approx(1.5)  # without: the course's own
