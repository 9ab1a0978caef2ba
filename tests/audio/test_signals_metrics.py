"""Signals made in code are deterministic and at the stated levels; ESR on known cases."""

import numpy as np
import pytest

from bitwave.errors import FrontendError
from bitwave.frontend.audio import (HELD_OUT_SEED, LEVELS, SWEEP_LEVELS, TRAIN_SEED, aligned_esr,
                                    chord, esr, pluck, plucks, sweep, sweeps)


def test_plucks_are_deterministic_per_seed_and_the_split_differs():
    a, b = plucks(2.0, TRAIN_SEED), plucks(2.0, TRAIN_SEED)
    assert a.shape == (96_000,) and np.array_equal(a, b)
    assert not np.array_equal(a, plucks(2.0, HELD_OUT_SEED))


def test_plucks_stay_within_the_input_levels():
    x = plucks(4.0, HELD_OUT_SEED)
    assert LEVELS[0] <= np.max(np.abs(x)) <= LEVELS[1]


def test_sweeps_play_three_levels():
    x = sweeps(0.2)
    third = len(x) // 3
    peaks = [np.max(np.abs(x[i * third:(i + 1) * third])) for i in range(3)]
    assert peaks == pytest.approx(list(SWEEP_LEVELS), rel=1e-3)


def test_pluck_is_periodic_at_its_pitch_and_chords_are_normalised():
    x = pluck(480.0, 0.2, np.random.default_rng(0))     # a period of exactly 100 samples
    assert np.max(np.abs(x)) == pytest.approx(1.0)
    corr = [np.dot(x[1000:5000], x[1000 + lag:5000 + lag]) for lag in range(80, 121)]
    assert 80 + int(np.argmax(corr)) in (100, 101)
    assert np.max(np.abs(chord(110.0, (0, 4, 7), 0.3, np.random.default_rng(0)))) == pytest.approx(1.0)


def test_sweep_starts_and_ends_faded():
    x = sweep(100.0, 1000.0, 0.5)
    assert x[0] == 0.0 and abs(x[-1]) < 0.01 and np.max(np.abs(x)) > 0.99


def test_esr_on_known_cases():
    y = np.sin(np.linspace(0, 50, 1000))
    assert esr(y, y) == 0.0
    assert esr(y, np.zeros_like(y)) == pytest.approx(1.0)
    assert esr(y, 0.9 * y) == pytest.approx(0.01)
    assert esr(y, 0.9 * y, 0.85) == pytest.approx(0.01)   # a gain error is the same pre-emphasised
    noise = np.random.default_rng(0).normal(size=1000)
    assert esr(noise, np.zeros_like(noise), 0.85) == pytest.approx(1.0)


def test_aligned_esr_removes_a_declared_latency():
    y = np.random.default_rng(1).normal(size=500)
    late = np.concatenate([np.zeros(7), y[:-7]])
    assert aligned_esr(y, late, 7) == 0.0
    assert aligned_esr(y, late, 0) > 1.0


def test_metric_errors_say_what_to_do():
    with pytest.raises(FrontendError, match="same length"):
        esr(np.ones(3), np.ones(4))
    with pytest.raises(FrontendError, match="silent"):
        esr(np.zeros(3), np.ones(3))
    with pytest.raises(FrontendError, match="latency must be a non-negative integer"):
        aligned_esr(np.ones(3), np.ones(3), -1)
