"""Partial motion: the measurement finds a known depth and correlation, and the engine's rule keeps
the level, starts after the attack and moves by the depth."""
import math

import numpy as np

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
