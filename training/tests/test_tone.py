"""The tone balance (docs/model-format.md, "Tone balance"): what a note's gains measure, and how
the engine's rule applies them."""
import numpy as np
import torch

from timbred_train import tone as T


def tone(freqs_amps, sample_rate=32000, seconds=1.0, noise=0.0, seed=0):
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    x = sum(a * np.sin(2 * np.pi * f * t) for f, a in freqs_amps)
    return x + noise * np.random.default_rng(seed).standard_normal(len(t))


def band_of(hz):
    return int(round(T.band_centre_position(hz)))


def test_a_partial_weaker_in_the_model_gets_the_difference_and_equal_bands_get_nothing():
    real = tone([(440, 0.5), (8000, 0.05)])
    played = tone([(440, 0.5), (8000, 0.05 * 10 ** (-12 / 20))])
    g = T.note_gains_db(real, played, 32000, 0.8)
    assert abs(g[band_of(8000)] - 12.0) < 0.3
    assert abs(g[band_of(440)]) < 0.1
    # bands where neither holds anything stay at 0 dB
    assert g[band_of(3000)] == 0.0


def test_noise_the_recording_lacks_is_lowered_and_the_gain_is_clamped():
    real = tone([(440, 0.5)])
    played = tone([(440, 0.5), (100, 0.02)])
    g = T.note_gains_db(real, played, 32000, 0.8)
    assert g[band_of(100)] < -15
    silent_top = tone([(440, 0.5), (12000, 0.3)])
    assert T.note_gains_db(silent_top, real, 32000, 0.8)[band_of(12000)] == T.MAX_DB


def test_the_rate_of_the_recording_does_not_change_the_gain():
    # a sinusoid of amplitude A reads A²/2 at any rate, so a 48 kHz recording against the model
    # played at 48 kHz measures what it measures at 32 kHz
    p32 = T.sustain_band_power(tone([(1000, 0.5)], 32000), 32000, 0.8)
    p48 = T.sustain_band_power(tone([(1000, 0.5)], 48000), 48000, 0.8)
    assert abs(10 * np.log10(p32.sum() / p48.sum())) < 0.2
    assert abs(p48.sum() - 0.125) < 0.01


def test_gain_is_the_band_s_at_its_centre_and_linear_between():
    gains = np.zeros(T.BANDS)
    gains[20] = 6.0
    centre = 1000 * 2 ** ((20 - 14) / 3)
    assert abs(T.linear_gain_at(gains, centre) - 10 ** (6 / 20)) < 1e-9
    halfway = 1000 * 2 ** ((20.5 - 14) / 3)
    assert abs(T.linear_gain_at(gains, halfway) - (1 + 10 ** (6 / 20)) / 2) < 1e-9
    assert T.linear_gain_at(gains, 5.0) == 1.0  # below band 1: band 1's gain


def test_apply_raises_only_the_partials_and_noise_bands_in_the_band():
    gains = np.zeros(T.BANDS)
    gains[band_of(4000)] = 10.0
    c = {"harmonics": torch.ones(1, 1, 20), "noise": torch.ones(1, 1, 65)}
    out = T.apply(c, gains, torch.tensor([[1000.0]]), 16000.0)
    h = out["harmonics"][0, 0].numpy()
    assert abs(h[3] - 10 ** 0.5) < 1e-5  # the 4th harmonic, at 4 kHz
    assert h[0] == 1.0 and h[15] == 1.0
    n = out["noise"][0, 0].numpy()
    assert abs(n[16] - 10 ** 0.5) < 1e-5  # noise band 16 sits at 4 kHz
    assert n[0] == 1.0 and n[64] == 1.0


def test_the_table_averages_an_instrument_s_notes_around_each_anchor():
    gains = np.zeros((4, T.BANDS), np.float32)
    gains[:2, 10] = 6.0  # instrument 0 at pitches 58 and 62
    gains[2:, 10] = -6.0  # instrument 1
    table = T.build_table(gains, np.array([0, 0, 1, 1]), np.array([58, 62, 60, 60]), np.array([100] * 4), 2,
                          [48, 60, 72], [64, 127])
    assert table.shape == (2, 3, 2, T.BANDS)
    assert abs(table[0, 1, 0, 10] - 3.0) < 1e-6  # smoothed over bands: 1/2 of the band's own value
    assert abs(table[0, 1, 0, 9] - 1.5) < 1e-6 and abs(table[1, 1, 1, 10] + 3.0) < 1e-6


def test_the_onset_table_keeps_each_key_s_own_attack():
    # two neighbouring notes with different attacks (a SoundFont's sample ranges): the onset's
    # own anchors (every key, span 1) keep each note's course at its key and give a key between
    # them half of each; the envelopes' anchors (12 apart, span 12) would have averaged them away
    courses = np.zeros((2, T.ONSET_FRAMES), np.float32)
    courses[0, :10] = -12.0  # MIDI 60: a slow attack to lift less
    courses[1, :10] = 6.0  # MIDI 62
    table = T.build_table(courses, np.array([0, 0]), np.array([60, 62]), np.array([100, 100]), 1,
                          T.ONSET_PITCHES, [64, 127], smooth=False, pitch_span=T.ONSET_PITCH_SPAN)
    at = {p: T.ONSET_PITCHES.index(p) for p in (60.0, 61.0, 62.0)}
    assert abs(table[0, at[60.0], 0, 5] + 12.0) < 1e-6
    assert abs(table[0, at[62.0], 0, 5] - 6.0) < 1e-6
    assert abs(table[0, at[61.0], 0, 5] + 3.0) < 1e-6
    # with a note of its own (the key layers), a key keeps its own course, not its neighbours'
    courses3 = np.concatenate([courses, np.full((1, T.ONSET_FRAMES), 1.0, np.float32)])
    table3 = T.build_table(courses3, np.array([0, 0, 0]), np.array([60, 62, 61]), np.array([100, 100, 100]), 1,
                           T.ONSET_PITCHES, [64, 127], smooth=False, pitch_span=T.ONSET_PITCH_SPAN)
    assert abs(table3[0, at[61.0], 0, 5] - 1.0) < 1e-6 and abs(table3[0, at[60.0], 0, 5] + 12.0) < 1e-6
    coarse = T.build_table(courses, np.array([0, 0]), np.array([60, 62]), np.array([100, 100]), 1,
                           [48, 60, 72], [64, 127], smooth=False)
    assert coarse[0, 1, 0, 5] > -6.0  # the 12-semitone anchor blurs the slow key with its neighbour
    # the whole slowest real attack fits: 600 ms of frames, tapered over the last 100 ms
    assert T.ONSET_FRAMES * 10 >= 520
    assert T.onset_taper()[T.ONSET_FRAMES - T.ONSET_TAPER - 1] == 1.0


def test_the_onset_course_ends_at_the_level_it_holds_and_apply_holds_it():
    # a key 3 dB quieter in the model than in the recording all along: the course ends at +3 dB
    # (not 0: a step down at the course's end), and the engine's rule holds it for the rest
    hop = 320
    t = np.arange(hop * (T.ONSET_FRAMES + 40)) / 32000
    played = 0.1 * np.sin(2 * np.pi * 440 * t)
    g = T.note_onset_db(played * 10 ** (3 / 20), played, hop)
    assert np.all(np.abs(g[5:] - 3.0) < 0.05)
    c = {"harmonics": torch.ones(1, T.ONSET_FRAMES + 20, 4), "noise": torch.ones(1, T.ONSET_FRAMES + 20, 5)}
    out = T.apply(c, np.zeros(T.BANDS), torch.full((1, T.ONSET_FRAMES + 20), 440.0), 16000.0, g)
    h = out["harmonics"][0, :, 0].numpy()
    assert abs(20 * np.log10(h[-1]) - g[-1]) < 1e-4 and abs(20 * np.log10(h[T.ONSET_FRAMES - 1]) - g[-1]) < 1e-4


def test_the_onset_course_of_a_low_note_does_not_ripple_at_the_frame_rate():
    # a held C#2 (69.3 Hz, five partials) in the recording and the model at different phases, the
    # model 2 dB quieter: over whole periods the course is 2 dB in every frame; over one hop
    # (10 ms, 0.69 of a period) each frame's level depends on where the frame falls in the period,
    # and their difference swings by several dB from frame to frame
    rate, hop, f0 = 48000, 480, 440 * 2 ** ((37 - 69) / 12)
    t = np.arange(hop * (T.ONSET_FRAMES + 40)) / rate
    rec = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 6))
    played = 10 ** (-2 / 20) * sum(np.sin(2 * np.pi * k * f0 * t + 1.3 * k) / k for k in range(1, 6))
    g = T.note_onset_db(rec, played, hop, period=rate / f0)
    assert np.all(np.abs(g[3:] - 2.0) < 0.05)
    per_hop = T.note_onset_db(rec, played, hop)
    assert np.ptp(per_hop[3:T.ONSET_FRAMES - T.ONSET_TAPER]) > 2.0  # what the period window removes
    # a whole number of periods, nearest to one hop: a high note's window is the hop
    assert T.onset_window(hop, rate / 1000.0) == hop
    assert abs(T.onset_window(hop, rate / f0) - rate / f0) < 1


def fading(freqs_amps_rates, sample_rate=48000, seconds=3.0):
    """Partials (f, A, dB per second) decaying exponentially from t = 0."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return sum(a * 10 ** (-r * t / 20) * np.sin(2 * np.pi * f * t) for f, a, r in freqs_amps_rates)


def test_the_band_course_follows_a_top_that_dies_faster_than_in_the_model():
    # the recording's 6 kHz partial dies at 20 dB/s, the model's at 5 dB/s; both fundamentals at
    # 6 dB/s: the course lowers 6 kHz more and more over the note (15 dB/s against the sustain's
    # 0.12-0.8 s) and leaves the fundamental's band alone
    real = fading([(300, 0.5, 6), (6000, 0.05, 20)])
    played = fading([(300, 0.5, 6), (6000, 0.05, 5)])
    sustain = T.note_gains_db(real, played, 48000, 0.8)
    c = T.note_course_db(real, played, 48000, 3.0, sustain)
    secs = T.course_seconds()
    assert c.shape == (len(T.COURSE_EDGES_S) - 1, T.BANDS)
    top, low = c[:, band_of(6000)], c[:, band_of(300)]
    assert np.all(np.abs(low) < 0.3)
    assert np.all(np.diff(top) < 0)
    # each segment's figure is the ratio of the partials' mean power over it (a fast decay's
    # power sits early in a segment), less the sustain's
    def mean_power_db(rate, a, b):
        t = np.linspace(a, b, 2001)
        return 10 * np.log10(np.mean(10 ** (-rate * t / 10)))
    e = T.COURSE_EDGES_S
    want = np.array([mean_power_db(20, a, b) - mean_power_db(5, a, b) for a, b in zip(e[:-1], e[1:])])
    want -= mean_power_db(20, 0.12, 0.8) - mean_power_db(5, 0.12, 0.8)
    assert np.allclose(top, want, atol=1.0), (top, want)
    assert top[-1] < -20  # beyond the sustain's clamp (-24 dB in all): the late segments measure it


def test_a_note_released_early_repeats_its_last_measured_segment():
    real = fading([(300, 0.5, 6), (6000, 0.05, 20)], seconds=1.0)
    played = fading([(300, 0.5, 6), (6000, 0.05, 5)], seconds=1.0)
    c = T.note_course_db(real, played, 48000, 1.0, T.note_gains_db(real, played, 48000, 0.8))
    last = int(np.searchsorted(T.COURSE_EDGES_S, 1.0 - 0.05)) - 1
    assert np.all(c[last + 1:] == c[last])


def test_apply_with_a_course_gives_each_frame_the_course_at_its_time():
    gains = np.zeros(T.BANDS)
    course = np.zeros((2, T.BANDS))
    course[1, band_of(4000)] = 12.0
    secs = np.array([0.1, 0.3])
    frames = 40
    c = {"harmonics": torch.ones(1, frames, 20), "noise": torch.ones(1, frames, 65)}
    out = T.apply(c, gains, torch.full((1, frames), 400.0), 16000.0, course=(course, secs), frame_rate=100.0)
    h = out["harmonics"][0, :, 9].numpy()  # harmonic 10: 4 kHz
    want_db = np.interp(np.arange(frames) / 100.0, secs, course[:, band_of(4000)])
    assert np.allclose(20 * np.log10(h), want_db, atol=1e-4)
    assert np.allclose(out["harmonics"][0, :, 0].numpy(), 1.0)  # 400 Hz: no course there
    # the course's lookup at a preset point of the table's own instrument is that instrument's
    table = np.zeros((2, 3, 3, 2, T.BANDS), np.float32)
    table[1, :, :, 1, 5] = 7.0
    means = np.array([[0.0, 0.0], [3.0, 0.0]], np.float32)
    got = T.lookup_course(table, [36, 60, 84], [20, 64, 120], means, 0.1, "gaussian", means[1], 61.0, 90.0)
    assert got.shape == (2, T.BANDS) and abs(got[1, 5] - 7.0) < 1e-4 and abs(got[0, 5]) < 1e-6


def test_velocity_layers_merge_into_one_increasing_axis():
    table = np.zeros((2, 3, 5, T.BANDS), np.float32)
    have = [16.0, 40.0, 80.0, 120.0, 127.0]
    for v, vel in enumerate(have):
        table[:, :, v] = vel
    layer = np.zeros((2, 3, 2, T.BANDS), np.float32)
    layer[:, :, 0], layer[:, :, 1] = 64.0, 100.0
    merged, anchors = T.merge_velocity_layers(table, have, layer, [64.0, 100.0])
    assert anchors == [16.0, 40.0, 64.0, 80.0, 100.0, 120.0, 127.0]
    assert merged.shape == (2, 3, 7, T.BANDS)
    assert np.all(merged[0, 1, :, 5] == np.array(anchors))


def test_a_band_course_measured_at_the_velocity_layers_is_read_at_them():
    """A course with as many velocities as the band gains' own anchors is on them (session 22: the
    decoder's own course at velocity 100), one on the envelopes' anchors stays on those; the lookup
    at a layer's velocity gives that layer's course, not a line between its neighbours."""
    from types import SimpleNamespace
    cfg = SimpleNamespace(env_velocities=[16.0, 40.0, 80.0, 120.0, 127.0])
    gains = [16.0, 40.0, 64.0, 80.0, 100.0, 120.0, 127.0]
    course = np.zeros((1, 2, 7, 5, T.BANDS), np.float32)
    for m, vel in enumerate(gains):
        course[:, :, m] = 0.0 if vel != 100 else -1.5  # the layer's own course at 100
    assert T.course_velocities(course, gains, cfg) == gains
    assert T.course_velocities(course[:, :, [0, 1, 3, 5, 6]], gains, cfg) == cfg.env_velocities
    means = np.zeros((1, 2))
    at100 = T.lookup_course(course, [48.0, 72.0], gains, means, 1.0, "inverse_distance", means[0], 60.0, 100.0)
    at90 = T.lookup_course(course, [48.0, 72.0], gains, means, 1.0, "inverse_distance", means[0], 60.0, 90.0)
    assert at100.shape == (5, T.BANDS) and np.allclose(at100, -1.5) and np.allclose(at90, -0.75)


def test_an_onset_course_moved_onto_the_gains_velocities_plays_as_before():
    """`widened_velocities`: the course on the envelopes' anchors, moved onto the band gains' (64 and
    100 added), gives the same lookup at every velocity; a change at the new 64 anchor then moves
    velocities between 40 and 80 only."""
    g = np.random.default_rng(3)
    env = [16.0, 40.0, 80.0, 120.0, 127.0]
    gains = [16.0, 40.0, 64.0, 80.0, 100.0, 120.0, 127.0]
    course = g.normal(0, 6, (2, 3, 5, 50))
    wide = T.widened_velocities(course, env, gains)
    assert wide.shape == (2, 3, 7, 50)
    means = np.array([[0.0, 0.0], [1.0, 0.5]])
    z = np.array([0.3, 0.2])
    for vel in [1.0, 16.0, 30.0, 52.5, 64.0, 79.0, 100.0, 121.0, 127.0]:
        a = T.lookup(course, [40.0, 60.0, 80.0], env, means, 0.7, "inverse_distance", z, 61.5, vel)
        b = T.lookup(wide, [40.0, 60.0, 80.0], gains, means, 0.7, "inverse_distance", z, 61.5, vel)
        assert np.allclose(a, b, atol=1e-9), vel
    wide[:, :, 2] += 10.0
    for vel, moved in [(40.0, False), (52.0, True), (64.0, True), (80.0, False), (100.0, False)]:
        a = T.lookup(course, [40.0, 60.0, 80.0], env, means, 0.7, "inverse_distance", z, 61.5, vel)
        b = T.lookup(wide, [40.0, 60.0, 80.0], gains, means, 0.7, "inverse_distance", z, 61.5, vel)
        assert (not np.allclose(a, b)) == moved, vel
    import pytest
    with pytest.raises(ValueError):
        T.widened_velocities(course, env, [16.0, 64.0, 127.0])


def test_a_layer_s_own_course_starts_where_the_onset_course_ends():
    """Inside the onset course's 600 ms a velocity layer's course is read between its neighbouring
    anchors' (the onset course at the layer's velocity is theirs, measured with their courses); from
    there on it is the layer's own."""
    anchors = [16.0, 40.0, 80.0, 120.0, 127.0]
    table = np.zeros((1, 2, 5, 5, T.BANDS), np.float32)
    table[:, :, 2], table[:, :, 3] = 1.0, 3.0  # velocities 80 and 120
    own = np.full((1, 2, 1, 5, T.BANDS), -4.0, np.float32)
    out = T.within_onset_as_before(own, table, anchors, [100.0], 100.0)
    early = T.course_seconds() < T.ONSET_FRAMES / 100.0
    assert early.sum() == 2
    assert np.allclose(out[:, :, 0][:, :, early], 2.0)  # halfway between 80's and 120's
    assert np.allclose(out[:, :, 0][:, :, ~early], -4.0)


def test_the_strike_shares_the_band_balance_over_its_ramp():
    """`apply` with a strike share s: frame 0's band gains (course included) are s of the whole
    balance's in dB, frame 1 (10 ms) s + (1 - s) / 12, from 120 ms on all of it, each frame at the
    power the whole balance gives it; s = 1 or None changes nothing; the onset gain is not shared."""
    import torch

    from timbred_train import tone as T

    g = np.random.default_rng(9)
    gains = g.random(T.BANDS) * 12 - 6
    course = (g.random((2, T.BANDS)) * 6 - 3, np.array([0.05, 0.5]))
    harm = torch.ones(1, 16, 10)
    noise = torch.ones(1, 16, 17)
    f0 = torch.full((1, 16), 220.0)
    whole = T.apply({"harmonics": harm, "noise": noise}, gains, f0, 16000.0, course=course)
    for s in (1.0, None):
        same = T.apply({"harmonics": harm, "noise": noise}, gains, f0, 16000.0, course=course, strike=s)
        assert torch.equal(same["harmonics"], whole["harmonics"]) and torch.equal(same["noise"], whole["noise"])
    shared = T.apply({"harmonics": harm, "noise": noise}, gains, f0, 16000.0, course=course, strike=0.25)
    db = lambda x: 20 * np.log10(x.numpy()[0])  # noqa: E731
    for frame, share in ((0, 0.25), (1, 0.25 + 0.75 / 12), (6, 0.25 + 0.75 / 2), (12, 1.0), (15, 1.0)):
        # the frame played with its band gains (course included) times the share, in dB
        # the frame played with its band gains (course included) times the share, in dB, then
        # scaled to the power the whole gains give it
        g_frame = share * (gains + T.course_at(course[0], course[1], np.array([frame / 100.0]))[0])
        one = T.apply({"harmonics": harm[:, frame:frame + 1], "noise": noise[:, frame:frame + 1]}, g_frame,
                      f0[:, frame:frame + 1], 16000.0)
        p_one = float((one["harmonics"] ** 2).sum() + (one["noise"] ** 2).sum())
        p_whole = float((whole["harmonics"][0, frame] ** 2).sum() + (whole["noise"][0, frame] ** 2).sum())
        level = np.sqrt(p_whole / p_one)
        assert np.allclose(shared["harmonics"][0, frame].numpy(), level * one["harmonics"][0, 0].numpy(), rtol=1e-4), frame
        assert np.allclose(shared["noise"][0, frame].numpy(), level * one["noise"][0, 0].numpy(), rtol=1e-4), frame
        p_shared = float((shared["harmonics"][0, frame] ** 2).sum() + (shared["noise"][0, frame] ** 2).sum())
        assert abs(p_shared / p_whole - 1) < 1e-4, frame
        assert (share == 1.0) == np.allclose(shared["harmonics"][0, frame].numpy(), whole["harmonics"][0, frame].numpy())
    assert np.allclose(T.strike_ramp(0.4, np.array([-0.01, 0.0, 0.06, 0.12, 1.0])), [0.4, 0.4, 0.7, 1.0, 1.0])
    onset = np.full(T.ONSET_FRAMES, -6.0)
    with_onset = T.apply({"harmonics": harm, "noise": noise}, np.zeros(T.BANDS), f0, 16000.0, onset, strike=0.0)
    assert np.allclose(db(with_onset["harmonics"]), -6.0, atol=1e-4)  # the onset gain is whole at the note-on


def test_choose_strike_keeps_the_whole_balance_unless_less_is_clearly_better():
    from timbred_train import tone as T

    assert T.choose_strike(np.array([4.9, 5.3, 5.5, 5.8, 6.1])) == 0.0
    assert T.choose_strike(np.array([4.5, 4.5, 4.6, 4.7, 4.9])) == 0.75
    assert T.choose_strike(np.array([5.7, 5.1, 4.8, 4.8, 5.0])) == 1.0
    assert T.choose_strike(np.array([2.6, 2.5, 2.6, 2.9, 3.3])) == 0.5


def test_the_strikes_noise_gain_moves_the_noise_and_nothing_else():
    """`apply` with `strike_noise_db` N: frame 0's noise N dB down from the whole balance's, N / 2
    at 60 ms, none from 120 ms on, the harmonics as they were; N = 0 changes nothing; with a share
    the frame is first scaled as the share alone scales it."""
    import torch

    from timbred_train import tone as T

    gains = np.random.default_rng(10).random(T.BANDS) * 12 - 6
    harm, noise = torch.ones(1, 16, 10), torch.full((1, 16, 17), 0.3)
    f0 = torch.full((1, 16), 220.0)
    whole = T.apply({"harmonics": harm, "noise": noise}, gains, f0, 16000.0)
    same = T.apply({"harmonics": harm, "noise": noise}, gains, f0, 16000.0, strike_noise_db=0.0)
    assert torch.equal(same["harmonics"], whole["harmonics"]) and torch.equal(same["noise"], whole["noise"])
    quiet = T.apply({"harmonics": harm, "noise": noise}, gains, f0, 16000.0, strike_noise_db=-12.0)
    for frame, n_db in ((0, -12.0), (6, -6.0), (12, 0.0), (15, 0.0)):
        moved = quiet["noise"][0, frame] / whole["noise"][0, frame]
        assert np.allclose(20 * np.log10(moved.numpy()), n_db, atol=1e-3), frame
        assert torch.equal(quiet["harmonics"][0, frame], whole["harmonics"][0, frame]), frame
    shared = T.apply({"harmonics": harm, "noise": noise}, gains, f0, 16000.0, strike=0.25)
    both = T.apply({"harmonics": harm, "noise": noise}, gains, f0, 16000.0, strike=0.25, strike_noise_db=-12.0)
    assert torch.allclose(both["harmonics"], shared["harmonics"])
    assert np.allclose(20 * np.log10((both["noise"][0, 0] / shared["noise"][0, 0]).numpy()), -12.0, atol=1e-3)
    assert np.allclose(T.strike_noise_ramp(-8.0, np.array([-0.01, 0.0, 0.06, 0.12, 1.0])), [-8.0, -8.0, -4.0, 0.0, 0.0])


def test_choose_strike_noise_keeps_the_decoders_noise_unless_another_level_is_clearly_better():
    from timbred_train import tone as T

    assert T.STRIKE_NOISE_DB.index(0.0) == 5
    assert T.choose_strike_noise(np.array([3.0, 3.5, 4.0, 4.5, 5.0, 5.5, 6.0, 6.5])) == -18.0
    assert T.choose_strike_noise(np.array([5.0, 5.0, 5.1, 5.2, 5.25, 5.4, 6.0, 7.0])) == -3.0  # 0 dB lies 0.4 above
    assert T.choose_strike_noise(np.array([5.0, 5.0, 5.1, 5.2, 5.2, 5.25, 6.0, 7.0])) == 0.0
    assert T.choose_strike_noise(np.array([7.0, 6.5, 6.0, 5.5, 5.0, 4.5, 4.0, 3.0])) == 6.0
