"""Partial motion: the measurement finds a known depth and correlation, and the engine's rule keeps
the level, starts after the attack and moves by the depth."""
import math

import numpy as np
import pytest

from timbred_train import motion as M


def ar1(rng, n, k, rho):
    x = np.zeros((n, k))
    x[0] = rng.standard_normal(k)
    for t in range(1, n):
        x[t] = rho * x[t - 1] + math.sqrt(1 - rho * rho) * rng.standard_normal(k)
    return x


def test_measure_finds_the_depth_and_correlation_of_moving_partials():
    rng = np.random.default_rng(1)
    n, k = 300, 20
    harm, inst, hold = [], [], []
    for note in range(12):
        # instrument 0: partials moving by 3 dB with correlation 0.8 around a decaying course;
        # instrument 1: still
        course = -20 - 0.05 * np.arange(n)[:, None] + np.zeros(k)[None, :]  # 20 partials of one level
        moving = note % 2 == 0
        db = course + (3.0 * ar1(rng, n, k, 0.8) if moving else 0.0)
        harm.append(10 ** (db / 20))
        inst.append(0 if moving else 1)
        hold.append(n)
    depth, corr, count = M.measure(np.stack(harm), np.array(hold), np.array(inst), 2)
    assert list(count) == [6, 6]
    # taken against the note's level (which 20 equal partials moving on their own move by about
    # 3 dB / sqrt(20)); the line fitted over 0.51 s takes some of the slowest motion with it
    assert np.all((depth[0, :6] > 2.3) & (depth[0, :6] < 3.0)), depth[0]
    assert abs(corr[0] - 0.8) < 0.08, corr[0]
    assert np.all(depth[1] < 0.1)  # the moving average bends at the ends of a straight decay


def test_gains_start_after_the_attack_move_by_the_depth_and_apply_keeps_each_frames_power():
    depth = np.array([4.0] * (len(M.HARMONIC_EDGES) - 1))
    frames = 3000
    g = M.gains(depth, 0.9, frames, 8, 100.0, seed=7)
    assert np.all(g[:10] == 1.0), "moving before 100 ms"
    held = 20 * np.log10(g[30:])
    assert abs(held.std(0).mean() - 4.0) < 0.4, held.std(0)
    assert abs(10 * np.log10((g[30:] ** 2).mean())) < 0.5
    lag1 = np.mean([np.corrcoef(held[:-1, j], held[1:, j])[0, 1] for j in range(8)])
    assert abs(lag1 - 0.9) < 0.05, lag1
    # the same seed gives the same gains; another seed others
    assert np.array_equal(g, M.gains(depth, 0.9, frames, 8, 100.0, seed=7))
    assert not np.array_equal(g, M.gains(depth, 0.9, frames, 8, 100.0, seed=8))
    # each frame keeps the decoded harmonic power exactly
    a = np.abs(np.random.default_rng(3).standard_normal((1, 400, 8))) + 0.01
    moved = M.apply(a, depth, 0.9, 100.0, seed=5)
    assert np.allclose((moved ** 2).sum(-1), (a ** 2).sum(-1), rtol=1e-9)
    assert np.array_equal(moved[:, :10], a[:, :10])
    assert (20 * np.log10(moved[0, 100:] / a[0, 100:])).std() > 2.0


def test_unit_normal_has_unit_variance():
    s = np.uint32(12345)
    v = []
    for _ in range(20000):
        x, s = M.unit_normal(s)
        v.append(x)
    assert abs(np.mean(v)) < 0.03 and abs(np.std(v) - 1) < 0.03


def vibrato_track(cents, hz, frames=400, pitch=67, drift_cents=0.0, seed=0):
    """An f0 track [T] in Hz: the key's frequency with a sine vibrato of `cents` at `hz`, a slow
    drift (the course) and a little analysis noise."""
    t = np.arange(frames) / 100.0
    rng = np.random.default_rng(seed)
    c = cents * np.sin(2 * np.pi * hz * t + 0.3) + drift_cents * t + rng.normal(0, 0.3, frames)
    return 440.0 * 2 ** ((pitch - 69) / 12) * 2 ** (c / 1200)


def test_measure_vibrato_finds_a_players_depth_and_rate_and_ignores_a_still_note():
    # instrument 0: 15 cents at 5.5 Hz over a drifting course; instrument 1: held still (noise
    # only, under the floor); instrument 2: notes too short to measure
    f0 = np.stack([vibrato_track(15, 5.5, drift_cents=8, seed=s) for s in range(3)]
                  + [vibrato_track(0, 5.0, seed=s) for s in range(3)] + [vibrato_track(15, 5.5)])
    hold = np.array([400] * 6 + [120])
    instrument = np.array([0, 0, 0, 1, 1, 1, 2])
    cents, hz = M.measure_vibrato(f0, hold, np.full(7, 67.0), instrument, 3, 100.0)
    assert abs(cents[0] - 15) < 1.5 and abs(hz[0] - 5.5) < 0.2
    assert cents[1] == 0 and hz[1] == 0
    assert cents[2] == 0


def test_measure_vibrato_per_pitch_follows_the_range_and_an_outside_anchor_takes_the_nearest_notes():
    # one instrument whose vibrato deepens and quickens up its range (6 cents at 4 Hz at MIDI 50
    # to 24 cents at 6 Hz at MIDI 86, two notes per key), one held still
    keys = np.arange(50, 87, 3)
    depth = 6 + 18 * (keys - 50) / 36
    rate = 4 + 2 * (keys - 50) / 36
    f0 = np.stack([vibrato_track(d, r, pitch=k, seed=j + 10 * n) for n, (k, d, r) in enumerate(zip(keys, depth, rate))
                   for j in range(2)] + [vibrato_track(0, 5.0, pitch=60, seed=s) for s in range(3)])
    pitch = np.concatenate([np.repeat(keys, 2), np.full(3, 60)]).astype(float)
    instrument = np.array([0] * (2 * len(keys)) + [1] * 3)
    hold = np.full(len(pitch), 400)
    anchors = (36, 48, 60, 72, 84, 96)
    cents, hz = M.measure_vibrato(f0, hold, pitch, instrument, 2, 100.0, pitches=anchors)
    assert cents.shape == (2, len(anchors)) and hz.shape == (2, len(anchors))
    # read near each anchor within the range, as the sine's own depth (each reading divided by
    # what the reading makes of a sine at its rate: `swing_gain`, 0.89-1.15 from 3 to 7 Hz)
    # (the true depths' weighted median, as the table weighs the notes around the anchor)
    for a, c, h in zip(anchors, cents[0], hz[0]):
        w = np.exp(-0.5 * ((np.repeat(keys, 2) - np.clip(a, 50, 86)) / M.VIBRATO_PITCH_SIGMA) ** 2)
        want = M.weighted_median(np.repeat(depth, 2), w)
        assert abs(c - want) < 0.08 * want + 0.5, (a, c, want)
    assert cents[0, 0] == cents[0, 1]  # 36 and 48 lie under the range: both read on its lowest notes
    assert cents[0, -1] > 2.5 * cents[0, 1] and hz[0, -1] > hz[0, 1] + 1.0
    assert np.all(cents[1] == 0) and np.all(hz[1] == 0)
    # the whole-instrument reading is their median
    whole, _ = M.measure_vibrato(f0, hold, pitch, instrument, 2, 100.0)
    assert whole.shape == (2,) and cents[0, 1] < whole[0] < cents[0, -1]


def test_the_table_holds_the_sines_own_depth_whatever_its_rate():
    # the reading leaks: a 3 Hz sine of 15 cents reads about 17, a 5 Hz one about 13.4; the table
    # divides each note's reading by `swing_gain`, so both come out at 15
    assert M.swing_gain(3.0, 400, 100.0) > 1.1 and M.swing_gain(5.0, 400, 100.0) < 0.92
    for hz in (3.0, 5.0):
        f0 = np.stack([vibrato_track(15, hz, seed=s) for s in range(3)])
        cents, rate = M.measure_vibrato(f0, np.full(3, 400), np.full(3, 67.0), np.zeros(3, int), 1, 100.0)
        assert abs(cents[0] - 15) < 0.6 and abs(rate[0] - hz) < 0.2, (hz, cents, rate)


def test_blended_vibrato_is_linear_between_pitch_anchors_and_clamped_outside():
    tables = {"motion.vibrato_cents": np.array([[4.0, 8.0, 20.0], [0.0, 0.0, 0.0]], np.float32),
              "motion.vibrato_hz": np.array([[4.0, 5.0, 6.0], [0.0, 0.0, 0.0]], np.float32)}
    anchors = (48, 60, 72)
    w = np.array([0.75, 0.25])
    assert M.blended_vibrato(tables, w, 54.0, anchors) == pytest.approx((0.75 * 6.0, 0.75 * 4.5))
    assert M.blended_vibrato(tables, w, 30.0, anchors) == pytest.approx((3.0, 3.0))
    assert M.blended_vibrato(tables, w, 100.0, anchors) == pytest.approx((15.0, 4.5))
    # one value per instrument: the same at every key
    flat = {"motion.vibrato_cents": np.array([10.0, 0.0]), "motion.vibrato_hz": np.array([5.0, 0.0])}
    assert M.blended_vibrato(flat, w, 30.0, anchors) == M.blended_vibrato(flat, w, 90.0, anchors) == (7.5, 3.75)
    assert M.blended_vibrato({}, w, 60.0, anchors) is None


def test_vibrato_semitones_fades_in_after_the_attack_and_swings_by_the_depth():
    v = M.vibrato_semitones(20.0, 5.0, 300, 100.0, 0.0)
    assert np.all(v[: int(M.FADE_IN_S[0] * 100) + 1] == 0)
    held = v[int(M.FADE_IN_S[1] * 100):]
    assert abs(held.max() - 0.2) < 0.005 and abs(held.min() + 0.2) < 0.005
    # the engine's phase: the top 24 bits of the motion seed's hash, different from key to key
    p = [M.vibrato_phase(k, 100) for k in range(60, 72)]
    assert all(0 <= x < 2 * math.pi for x in p) and len(set(np.round(p, 6))) == 12


def test_the_analysis_floor_is_read_on_a_steady_twin_and_taken_out_in_quadrature():
    """A steady note's twin: its strong partials read no motion; a partial 45 dB under its
    neighbours is read through their leakage and wobbles (the clarinet's even partials); the floor
    comes out of the depth in quadrature, never below 0."""
    sr, fr, k = 48000, 100, 8
    frames = 300
    amps = np.array([1.0, 10 ** (-45 / 20), 0.5, 0.3, 0.2, 0.1, 0.05, 0.02])
    harmonics = np.tile(amps, (frames, 1)).astype(np.float32)
    f0 = np.full(frames, 261.63, np.float32)
    twin = M.steady_twin_harmonics(harmonics, f0, frames, 60.0, sr, fr, 20000.0)
    assert twin is not None and twin.shape[1] == k
    depth, _, count = M.measure(twin[None], np.array([int(M.FLOOR_NOTE_S * fr)]), np.array([0]), 1)
    assert count[0] == 1
    assert depth[0, 0] < 0.05 and depth[0, 2] < 0.05  # partials 1 and 3
    assert depth[0, 1] > 5 * max(depth[0, 0], 0.01)  # partial 2, 45 dB under: the floor
    out = M.without_floor(np.array([[0.5, 0.3, 2.0]]), np.array([[0.4, 0.5, 0.0]]))
    assert np.allclose(out, [[0.3, 0.0, 2.0]])


def test_the_smoother_keeps_the_depth_and_takes_the_fast_motion_out():
    """With smoothing β the gains still move by the depth (the smoothed process is brought back to
    unit variance) but their spectrum falls twice as fast: above 25 Hz (the skirt a partial spreads
    into its neighbours' bands) at least 8 dB less than the first-order process's, under 5 Hz not
    less; β = 0 is the first-order process bit for bit."""
    depth = np.array([4.0] * (len(M.HARMONIC_EDGES) - 1))
    frames = 6000
    plain = 20 * np.log10(M.gains(depth, 0.8, frames, 8, 100.0, seed=11)[40:])
    smooth = 20 * np.log10(M.gains(depth, 0.8, frames, 8, 100.0, seed=11, smoothing=0.8)[40:])
    assert np.array_equal(M.gains(depth, 0.8, 200, 8, 100.0, seed=3), M.gains(depth, 0.8, 200, 8, 100.0, seed=3,
                                                                                smoothing=0.0))
    assert abs(smooth.std(0).mean() - 4.0) < 0.6, smooth.std(0)

    def band_power(x, lo, hi):
        p = np.abs(np.fft.rfft(x - x.mean(0), axis=0)) ** 2
        f = np.fft.rfftfreq(len(x), 0.01)
        return p[(f >= lo) & (f < hi)].sum()

    fast = 10 * np.log10(band_power(smooth, 25, 50) / band_power(plain, 25, 50))
    slow = 10 * np.log10(band_power(smooth, 0, 5) / band_power(plain, 0, 5))
    assert fast < -8, fast
    assert slow > 0, slow
    assert abs(M.smoothed_variance(0.8, 0.8) - 0.2 * 1.64 / (1.8 * 0.36)) < 1e-12


def test_measure_lock_finds_partials_that_follow_the_vibrato_and_not_those_that_walk():
    rng = np.random.default_rng(7)
    rate, frames, k = 48000, 300, 8
    t = np.arange(frames * 480) / rate
    tf = np.arange(frames) / 100.0
    audio, inst = [], []
    for note in range(13):
        # both instruments swing 15 cents at 5.5 Hz; instrument 0's partials rise and fall with
        # it (each by its own signed slope), instrument 1's walk at random; a still note (no
        # vibrato) is not read
        depth = 0.0 if note == 12 else 15.0
        cents_f = depth * np.sin(2 * np.pi * 5.5 * tf + rng.uniform(0, 6.28))
        follows = note % 2 == 0
        slope = rng.choice([-1, 1], k) * (0.1 + 0.1 * rng.random(k))  # dB per cent
        db_f = (cents_f[:, None] * slope[None, :]) if follows else 1.5 * ar1(rng, frames, k, 0.9)
        cents = np.interp(t, tf, cents_f)
        phase = 2 * np.pi * np.cumsum(440.0 * 2 ** (cents / 1200)) / rate
        y = sum(10 ** (np.interp(t, tf, db_f[:, j] - 6 * j) / 20) * np.sin((j + 1) * phase) for j in range(k))
        audio.append(0.1 * y)
        inst.append(0 if follows else 1)
    rho, beta = np.array([0.8, 0.8]), np.array([0.5, 0.5])
    lock, tilt, share, count = M.measure_lock(np.stack(audio), np.full(13, 69.0), np.full(13, frames), np.array(inst), rho,
                                        beta, rate, 100.0, edges=(1, 2, 3, 5, 9, 257))
    assert list(count) == [6, 6]
    assert np.all(share[0, :4] > 0.8), share[0]
    assert np.all(share[1, :4] < 0.2) and share[1, :4].mean() < 0.12, share[1]  # chance alone
    # the engine's walk puts a share f of its variance in the band: with the lock the band
    # follows the vibrato by the recordings' share
    f = M.walk_in_band(0.8, 0.5, 100.0)
    assert 0.2 < f < 0.7, f
    np.testing.assert_allclose((lock / (lock + (1 - lock) * f))[0], share[0], atol=1e-9)
    assert np.all(lock[0, :4] < share[0, :4])
    # each partial's slope was drawn ± at random: as many fall as rise
    assert np.all(np.abs(tilt[0, :4]) < 0.6), tilt[0]


def test_a_locked_motion_follows_the_swing_and_a_lock_of_zero_changes_nothing():
    n, k, rate = 400, 16, 100.0
    swing = M.vibrato_swing(5.0, n, rate, 1.0)
    plain = M.gains(np.full(3, 3.0), 0.8, n, k, rate, seed=11, edges=(1, 3, 8, 17))
    zero = M.gains(np.full(3, 3.0), 0.8, n, k, rate, seed=11, edges=(1, 3, 8, 17), vibrato_lock=np.zeros(3), swing=swing)
    np.testing.assert_array_equal(plain, zero)
    locked = M.gains(np.full(3, 3.0), 0.8, n, k, rate, seed=11, edges=(1, 3, 8, 17), vibrato_lock=np.ones(3), swing=swing)
    db = 20 * np.log10(locked[50:])
    for j in range(k):  # each partial's level is a line in the swing, its own slope
        r = np.corrcoef(db[:, j], swing[50:])[0, 1]
        assert abs(r) > 0.99, (j, r)
    # over the partials the locked levels move by about the depth (a sine's variance is ½: √2)
    assert 1.5 < np.sqrt(np.mean(db.std(0) ** 2)) < 4.5
    assert M.lock_seed(0) != 0 and M.lock_seed(11) != 11
    # each partial keeps its coefficient for the note, and its power over whole cycles stays 1
    cycle = locked[50:50 + 360]  # 18 cycles of 5 Hz at 100 frames/s
    np.testing.assert_allclose((cycle ** 2).mean(0), 1.0, rtol=0.02)
    # a tilt of +1: every partial of the group follows the swing the same way, by the same
    tilted = M.gains(np.full(3, 3.0), 0.8, n, k, rate, seed=11, edges=(1, 3, 8, 17), vibrato_lock=np.ones(3),
                     swing=swing, vibrato_tilt=np.ones(3))
    db = 20 * np.log10(tilted[50:])
    for j in range(1, k):
        np.testing.assert_allclose(db[:, j], db[:, 0], atol=1e-9)
    assert np.corrcoef(db[:, 0], swing[50:])[0, 1] > 0.99


def test_hold_still_zeroes_only_the_named_instruments_motion_and_keeps_the_rest_bit_for_bit(tmp_path):
    """`motion --still NAME --keep-measured`: the named instrument's depth, lock and tilt become 0,
    its vibrato and every other instrument's tables stay as the file had them; an unknown name is
    refused with the names the model has."""
    import json

    import pytest
    from safetensors import safe_open
    from safetensors.numpy import save_file

    from timbred_train.errors import UserError
    from timbred_train.motion import hold_still

    rng = np.random.default_rng(3)
    tensors = {"motion.depth_db": rng.uniform(0.5, 3, (3, 4)).astype(np.float32),
               "motion.vibrato_lock": rng.uniform(0, 1, (3, 4)).astype(np.float32),
               "motion.vibrato_tilt": rng.uniform(-1, 1, (3, 4)).astype(np.float32),
               "motion.vibrato_cents": np.array([0, 8, 12], np.float32),
               "other.weight": rng.normal(size=(5,)).astype(np.float32)}
    src, out = tmp_path / "m.safetensors", tmp_path / "still.safetensors"
    save_file(tensors, str(src), metadata={"config": json.dumps({"instruments": ["bell", "flute", "violin"]}),
                                           "motion": json.dumps({"notes": 9})})
    hold_still(src, ["flute"], out)
    with safe_open(str(out), framework="np") as f:
        got = {k: f.get_tensor(k) for k in f.keys()}
        info = json.loads(f.metadata()["motion"])
    for k in ("motion.depth_db", "motion.vibrato_lock", "motion.vibrato_tilt"):
        assert np.all(got[k][1] == 0)
        assert np.array_equal(got[k][[0, 2]], tensors[k][[0, 2]])
    assert np.array_equal(got["motion.vibrato_cents"], tensors["motion.vibrato_cents"])
    assert np.array_equal(got["other.weight"], tensors["other.weight"])
    assert info == {"notes": 9, "still": ["flute"]}
    with pytest.raises(UserError, match="no instrument oboe"):
        hold_still(src, ["oboe"], out)


def test_the_drift_cut_variance_is_the_chains_own_where_poles_coincide_too():
    """`drift_cut_variance` (the closed form the engine uses) against the sum of the squared
    impulse response of the whole chain (first-order walk, smoother, high-pass), at random
    settings and where two or three poles coincide (a partial-fraction form divides by zero there)."""
    from scipy.signal import lfilter

    def summed(rho, beta, pole):
        imp = np.zeros(60000)
        imp[0] = 1
        g = lfilter([np.sqrt(1 - rho * rho)], [1, -rho], imp)
        if beta > 0:
            g = lfilter([1 - beta], [1, -beta], g) / np.sqrt(M.smoothed_variance(rho, beta))
        return float((lfilter([pole, -pole], [1, -pole], g) ** 2).sum())

    rng = np.random.default_rng(5)
    cases = [(0.8, 0.8, 0.8), (0.9, 0.0, 0.9), (0.5, 0.5, M.drift_pole(2.0, 100.0)), (0.0, 0.0, 0.5),
             (0.999, 0.99, M.drift_pole(0.05, 100.0))]
    cases += [(rng.uniform(0, 0.99), rng.choice([0.0, rng.uniform(0, 0.99)]), M.drift_pole(rng.uniform(0.1, 10), 100.0))
              for _ in range(20)]
    for rho, beta, pole in cases:
        assert abs(M.drift_cut_variance(rho, beta, pole) / summed(rho, beta, pole) - 1) < 1e-9, (rho, beta, pole)
    # a cut far under the walk's corner takes almost nothing; one at it takes a good share
    assert M.drift_cut_variance(0.5, 0.0, M.drift_pole(0.01, 100.0)) > 0.99
    assert M.drift_cut_variance(0.86, 0.0, M.drift_pole(2.0, 100.0)) < 0.6


def test_the_drift_cut_keeps_the_depth_and_takes_the_slow_wander_out():
    """With a drift cut of 2 Hz the gains still move by the depth, but a partial's level averaged
    over 0.5 s wanders by under 55 % of what the uncut walk's does (the walk's share under 2 Hz
    gone), for the first-order walk and the smoothed one; a cut of 0 is the walk bit for bit."""
    depth = np.array([4.0] * (len(M.HARMONIC_EDGES) - 1))
    frames = 8000
    np.testing.assert_array_equal(M.gains(depth, 0.86, 300, 8, 100.0, seed=4),
                                  M.gains(depth, 0.86, 300, 8, 100.0, seed=4, drift_cut_hz=0.0))
    for rho, beta in ((0.86, 0.0), (0.6, 0.8)):
        plain = 20 * np.log10(M.gains(depth, rho, frames, 16, 100.0, seed=11, smoothing=beta)[40:])
        cut = 20 * np.log10(M.gains(depth, rho, frames, 16, 100.0, seed=11, smoothing=beta, drift_cut_hz=2.0)[40:])

        def slow(x):
            x = x - x.mean(0)
            return np.mean([np.convolve(c, np.ones(50) / 50, "valid").std() for c in x.T])

        assert abs(cut.std(0).mean() - 4.0) < 0.4, cut.std(0)
        assert abs(plain.std(0).mean() - 4.0) < 0.6, plain.std(0)
        assert slow(cut) < 0.55 * slow(plain), (rho, beta, slow(cut), slow(plain))


def test_set_drift_cut_adds_only_its_tensor_and_refuses_unknown_names_and_values(tmp_path):
    """`motion --drift-cut 2 --drift-cut-for piano=0 --keep-measured`: the file gains
    `motion.drift_cut_hz` (2 Hz but for the piano), every other tensor stays bit for bit; all 0
    leaves the tensor out; an unknown name or a cut over 10 Hz is refused."""
    import json

    import pytest
    from safetensors import safe_open
    from safetensors.numpy import save_file

    from timbred_train.errors import UserError

    rng = np.random.default_rng(3)
    tensors = {"motion.depth_db": rng.uniform(0.5, 3, (3, 4)).astype(np.float32),
               "motion.correlation": np.array([0.8, 0.9, 0.6], np.float32),
               "other.weight": rng.normal(size=(5,)).astype(np.float32)}
    src, out = tmp_path / "m.safetensors", tmp_path / "cut.safetensors"
    save_file(tensors, str(src), metadata={"config": json.dumps({"instruments": ["piano", "flute", "violin"]}),
                                           "motion": json.dumps({"notes": 9})})
    M.set_drift_cut(src, 2.0, {"piano": 0.0}, out)
    with safe_open(str(out), framework="np") as f:
        got = {k: f.get_tensor(k) for k in f.keys()}
        info = json.loads(f.metadata()["motion"])
    np.testing.assert_array_equal(got["motion.drift_cut_hz"], [0.0, 2.0, 2.0])
    for k, v in tensors.items():
        assert np.array_equal(got[k], v), k
    assert info == {"notes": 9, "drift_cut_hz": {"flute": 2.0, "violin": 2.0}}
    M.set_drift_cut(out, 0.0, {}, out)
    with safe_open(str(out), framework="np") as f:
        assert "motion.drift_cut_hz" not in f.keys()
    with pytest.raises(UserError, match="no instrument oboe"):
        M.set_drift_cut(src, 2.0, {"oboe": 1.0}, out)
    with pytest.raises(UserError, match="0…10"):
        M.set_drift_cut(src, 12.0, {}, out)
