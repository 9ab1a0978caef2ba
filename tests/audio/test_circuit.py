"""The clipping-stage simulation against independent checks: its linear small-signal case against
scipy's bilinear transform and the analytic transfer function, and 8× against 16× oversampling."""

import numpy as np
import pytest
from scipy.signal import bilinear, freqs, lfilter, resample_poly

from bitwave.errors import FrontendError
from bitwave.frontend.audio import (HELD_OUT_SEED, ClippingStage, esr, linear_response, pluck,
                                    simulate_stage)

FS = 48_000


def _short_pluck(level, seconds=0.12):
    return level * pluck(196.0, seconds, np.random.default_rng(HELD_OUT_SEED))


def test_small_signal_equals_bilinear_transform_of_the_linearised_circuit():
    # At 1 µV the diodes are their 0 V conductance (the cubic term is ~1e-7 of the linear one),
    # and the trapezoidal rule on the ODE is the bilinear transform of the whole transfer function.
    x = _short_pluck(1e-6)
    os = 4
    b, a = bilinear(*linear_response(), fs=os * FS)
    w = ("kaiser", 10.0)
    expected = resample_poly(lfilter(b, a, resample_poly(x, os, 1, window=w)), 1, os, window=w)
    got = simulate_stage(x, oversample=os)
    assert np.max(np.abs(got - expected)) < 1e-6 * np.max(np.abs(expected))


def test_small_signal_gain_at_1khz_matches_the_analytic_response():
    t = np.arange(int(0.1 * FS)) / FS
    x = 1e-6 * np.sin(2 * np.pi * 1000 * t)
    y = simulate_stage(x)[-FS // 20:]             # the last 50 ms: 50 whole periods, steady state
    tt = t[-FS // 20:]
    measured = 2 * np.mean(y * np.exp(-2j * np.pi * 1000 * tt)) / 1e-6
    _, h = freqs(*linear_response(), worN=[2 * np.pi * 1000])
    # sin's phasor is −j; both sides carry it, so compare against h·(−j)
    assert abs(measured - h[0] * -1j) < 1e-3 * abs(h[0])
    assert 10 < abs(h[0]) < 40                     # the drive at full: a gain of tens at 1 kHz


def test_linear_response_has_unity_dc_gain_and_the_expected_high_frequency_shelf():
    num, den = linear_response()
    assert np.polyval(num, 0) / np.polyval(den, 0) == pytest.approx(1.0)
    # far above every corner: (1 + Y·Zf) → 1 + C3/(R4·C3·Cf·s)… → 1, the tone shelf → 723/3200
    _, h = freqs(num, den, worN=[2 * np.pi * 1e8])
    assert abs(h[0]) == pytest.approx(723 / 3200, rel=1e-3)


def test_8x_and_16x_oversampling_agree_to_esr_1e_5():
    x = _short_pluck(0.4)
    y8, y16 = simulate_stage(x, oversample=8), simulate_stage(x, oversample=16)
    assert np.max(np.abs(y16)) > 0.3            # clipped hard: the nonlinear case
    assert esr(y16, y8) < 1e-5
    # The pluck's onset is a 0.4 V white-noise burst clipped hard: its harmonics above 8×'s
    # Nyquist fold back, which pre-emphasis weights up (over 10 s of mixed plucks it is ~1e-6).
    assert esr(y16, y8, 0.85) < 1e-4


def test_loud_input_clips_near_the_diode_voltage():
    x = _short_pluck(0.4)
    vf = simulate_stage(x, stage=ClippingStage(tone_pole_hz=1e7, tone_zero_hz=1e7)) - x
    assert 0.3 < np.max(np.abs(vf)) < 0.8


def test_asymmetric_code_path_equals_symmetric_pair_for_equal_diodes_and_is_asymmetric_otherwise():
    x = _short_pluck(0.4, seconds=0.05)
    sym = simulate_stage(x, oversample=2)
    same = simulate_stage(x, oversample=2, stage=ClippingStage(Is_neg=2.52e-9, n_neg=1.752))
    assert np.max(np.abs(sym - same)) < 1e-9
    # a 1N914 one way, about two in series the other (twice the ideality factor)
    flat = dict(tone_pole_hz=1e7, tone_zero_hz=1e7)
    vf = simulate_stage(x, oversample=2, stage=ClippingStage(n_neg=3.5, **flat)) - x
    assert -vf.min() > vf.max() + 0.1


def test_bad_values_raise_one_line_errors():
    with pytest.raises(FrontendError, match=r"drive is a 0\.\.250 kΩ pot"):
        ClippingStage(drive=300e3)
    with pytest.raises(FrontendError, match="C3 must be a positive finite number"):
        ClippingStage(C3=0.0)
    with pytest.raises(FrontendError, match="NaN or infinite"):
        simulate_stage(np.array([0.0, np.nan]))
    with pytest.raises(FrontendError, match="oversample must be a positive integer"):
        simulate_stage(np.zeros(4), oversample=0)
