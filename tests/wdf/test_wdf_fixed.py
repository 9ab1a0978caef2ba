"""Fixed-point semantics of clipper-class WDFs: the golden model and word-length choice."""

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from bitwave.errors import PassError, VerifyError
from bitwave.ir import Fixed, Overflow, Rounding
from bitwave.ir.wdf import (
    DEFAULT_WORD_LENGTH, Capacitor, DiodePair, Inductor, Open, Parallel, Probe, ResistiveSource,
    Series, WdfTree, port_resistance, pwl_breakpoints, run_fixed, simulate)
from bitwave.ir.wdf._fixed_root import root_eval, root_locate
from bitwave.passes.quantise_wdf import (fixed_snr_db, multitone, plucked_notes, quantise_wdf,
                                         root_table_error)

FS = 48_000.0
R, C, IS, VT = 2.2e3, 10e-9, 2.52e-9, 45.3e-3
X = multitone(FS, 4800)
#: The held-out clipper signal: plucked notes of another seed than the word-length search's.
HELD_OUT = plucked_notes(FS, 9600, seed=1)


def clipper():
    return WdfTree(DiodePair(IS, VT), Parallel(ResistiveSource(R), Capacitor(C, name="C")), FS,
                   probe="C")


@pytest.fixture(scope="module")
def default_spec():
    return quantise_wdf(clipper())


def test_root_table_error_matches_reference_figure():
    # The published figure: 256 uniform chords on [−4, 4] ≈ 8e-4 V (128 per side, odd symmetry).
    Rp = port_resistance(clipper().tree, FS)
    root = clipper().root
    assert root_table_error(root, Rp, 2, 1, 7, quadratic=False) == pytest.approx(8e-4, rel=0.01)
    # Octave zones reach the same error as a uniform table with a third of the entries.
    uniform = root_table_error(root, Rp, 3, 1, 12, quadratic=False)
    assert root_table_error(root, Rp, 3, 5, 8, quadratic=False) <= uniform * 1.001
    assert len(pwl_breakpoints(3, 5, 8)) == 1281 < len(pwl_breakpoints(3, 1, 12)) == 4097
    # The curvature term: the error falls ~8x per halving of the segments (a chord's ~4x),
    # so 2**7 quadratic segments per zone beat 2**10 chords.
    quad = [root_table_error(root, Rp, 3, 5, m) for m in (6, 7)]
    assert 7.0 < quad[0] / quad[1] < 9.0
    assert quad[1] < root_table_error(root, Rp, 3, 5, 10, quadratic=False)


@given(st.integers(0, (1 << 23) - 1))
@settings(max_examples=300, deadline=None)
def test_pwl_locate_finds_the_segment(mag):
    span, K, m = 23, 5, 8          # [0, 8) V in codes of 20 fraction bits
    bp = np.round(pwl_breakpoints(3, K, m) * 2 ** 20).astype(np.int64)
    k, f, sh = root_locate(mag, span, K, m)
    assert bp[k] <= mag < bp[k + 1]
    assert f == mag - bp[k] and bp[k + 1] - bp[k] == 1 << sh


def test_root_hits_table_at_breakpoints_and_is_odd(default_spec):
    s = default_spec
    grid = (s.table_range_log2, s.table_octaves, s.segments_log2, s.wave)
    bp = np.round(pwl_breakpoints(*grid[:3]) * 2 ** s.wave.frac_bits).astype(int)
    n = len(bp) - 1
    for k in (0, 1, 100, 300, n - 1):
        assert root_eval(s.table, int(bp[k]), *grid) == s.table[k]
        assert root_eval(s.table, -int(bp[k]), *grid) == -s.table[k]
    # Beyond the table (only the most negative code): slope −1 keeps v at its end value.
    assert root_eval(s.table, s.wave.min, *grid) == -s.table[n]


def test_default_format_reaches_100_db_on_held_out_notes(default_spec):
    assert DEFAULT_WORD_LENGTH == 20
    assert default_spec.input == Fixed(4, 16)         # Q3.16 in
    assert default_spec.output == Fixed(1, 19)        # the diodes hold the output under 1 V
    assert default_spec.wave == Fixed(4, 23)          # 4 guard bits below the output's LSB
    assert fixed_snr_db(default_spec, clipper(), HELD_OUT) >= 100.0


def test_24_bits_reach_120_db_on_held_out_notes():
    spec = quantise_wdf(clipper(), word_length=24)
    assert fixed_snr_db(spec, clipper(), HELD_OUT) >= 120.0


def test_snr_grows_about_6_db_per_bit():
    snr = {wl: fixed_snr_db(quantise_wdf(clipper(), word_length=wl), clipper(), HELD_OUT)
           for wl in (12, 16, 20)}
    # Measured (0.2 s of held-out plucked notes): 58.6, 82.7, 106.8 dB.
    assert snr[12] == pytest.approx(58.6, abs=1.0)
    assert snr[16] == pytest.approx(82.7, abs=1.0)
    assert snr[20] == pytest.approx(106.8, abs=1.0)
    per_bit = (snr[20] - snr[12]) / 8
    assert 5.5 < per_bit < 6.5


@pytest.mark.parametrize("rounding", [Rounding.TRUNCATE, Rounding.MAGNITUDE])
def test_truncation_costs_snr(rounding):
    near = fixed_snr_db(quantise_wdf(clipper(), word_length=16), clipper(), HELD_OUT)
    trunc = fixed_snr_db(quantise_wdf(clipper(), word_length=16, rounding=rounding),
                         clipper(), HELD_OUT)
    assert near - trunc > 5.0


def test_magnitude_truncation_rounds_toward_zero():
    from bitwave.ir.wdf._fixed_arith import shift_round
    got = [shift_round(v, 2, Rounding.MAGNITUDE) for v in (-7, -4, -1, 0, 1, 5, 7)]
    assert got == [-1, -1, 0, 0, 0, 1, 1]
    assert [shift_round(v, 2, Rounding.TRUNCATE) for v in (-7, -1)] == [-2, -1]


def test_magnitude_truncation_decays_to_silence():
    # Toward zero never adds energy: after the input stops, every wave shrinks to 0
    # (no limit cycle), the output with it.
    spec = quantise_wdf(WdfTree(DiodePair(IS, VT), Series(ResistiveSource(R),
                                                          Inductor(1e-3, name="L")), FS,
                                probe="L"), word_length=12, rounding=Rounding.MAGNITUDE)
    burst = np.concatenate([np.round(X[:200] * 2 ** 8), np.zeros(2000)]).astype(np.int64)
    y = run_fixed(spec, burst)
    assert np.any(y[:200] != 0) and np.all(y[-500:] == 0)


def test_target_snr_picks_shortest_word_length():
    spec = quantise_wdf(clipper(), target_snr_db=80.0, test_signal=HELD_OUT)
    assert spec.output.width == 16
    assert fixed_snr_db(spec, clipper(), HELD_OUT) >= 80.0
    shorter = quantise_wdf(clipper(), word_length=15)
    assert fixed_snr_db(shorter, clipper(), HELD_OUT) < 80.0


def _error_lsb(spec, tree, x):
    """Largest |fixed − float| in output LSBs, both fed the same quantised input."""
    codes = np.round(x * 2.0 ** spec.input.frac_bits).astype(np.int64)
    err = (run_fixed(spec, codes) * 2.0 ** -spec.output.frac_bits
           - simulate(tree, codes * 2.0 ** -spec.input.frac_bits))
    return np.max(np.abs(err)) * 2.0 ** spec.output.frac_bits


@pytest.mark.parametrize("adaptor,reactive", [(Series, Capacitor), (Parallel, Inductor),
                                              (Series, Inductor)])
def test_series_and_inductor_variants_track_float(adaptor, reactive):
    # SNR means little where a probe sees millivolts (an inductor across the diodes), so
    # the bound is absolute: every probe stays within one output LSB of float64
    # (measured 0.59–0.83 LSB; the output rounding alone is 0.5).
    value = C if reactive is Capacitor else 1e-3
    for probe in (None, "src", "x"):
        tree = WdfTree(DiodePair(IS, VT, name="d"),
                       adaptor(reactive(value, name="x"), ResistiveSource(R, name="src")), FS,
                       probe=probe)
        spec = quantise_wdf(tree, word_length=20)
        assert spec.series is (adaptor is Series) and spec.inductor is (reactive is Inductor)
        assert _error_lsb(spec, tree, X[:2400]) < 1.0, (adaptor, reactive, probe)


def test_full_scale_input_saturates_cleanly(default_spec):
    # ±8 V square wave: the waves hit the format's edges; the output still follows float64
    # to within one LSB, held by the diodes near ±0.64 V.
    full = np.array(([default_spec.input.max] * 50 + [default_spec.input.min] * 50) * 2,
                    dtype=np.int64)
    assert _error_lsb(default_spec, clipper(), full * 2.0 ** -16) < 1.0
    y = run_fixed(default_spec, full) * 2.0 ** -default_spec.output.frac_bits
    assert 0.6 < y[40:50].min() and y[40:50].max() < 0.66


def test_wrap_equals_saturate_without_overflow(default_spec):
    small = np.round(X[:300] * 2 ** 16).astype(np.int64)
    wrap = dataclasses.replace(default_spec,
                               wave=dataclasses.replace(default_spec.wave, overflow=Overflow.WRAP))
    np.testing.assert_array_equal(run_fixed(wrap, small), run_fixed(default_spec, small))


def test_series_overflow_saturates_or_wraps():
    # A series adaptor reflects −(a1 + a2): ±8 V in overflows the Q3 waves.  Saturation
    # stays far closer to float64 than wrapping (measured 1.77 V against 6.26 V).
    tree = WdfTree(DiodePair(IS, VT), Series(ResistiveSource(R), Capacitor(C, name="C")), FS,
                   probe="C")
    sat = quantise_wdf(tree)
    wrap = quantise_wdf(tree, overflow=Overflow.WRAP)
    assert wrap.wave.overflow is Overflow.WRAP and wrap.output.overflow is Overflow.WRAP
    full = np.array(([sat.input.max] * 50 + [sat.input.min] * 50) * 2, dtype=np.int64)
    ys, yw = run_fixed(sat, full), run_fixed(wrap, full)
    assert np.count_nonzero(ys != yw) > 50
    ref = simulate(tree, full * 2.0 ** -16)
    assert np.max(np.abs(ys * 2.0 ** -16 - ref)) < 2.0 < np.max(np.abs(yw * 2.0 ** -16 - ref))


def test_run_fixed_is_deterministic_int64(default_spec):
    x = np.round(X[:200] * 2 ** 16).astype(np.int64)
    y = run_fixed(default_spec, x)
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y, run_fixed(default_spec, x.astype(np.int32)))


def test_validation_messages(default_spec):
    with pytest.raises(PassError, match=r"^quantise_wdf: only clipper-class trees"):
        quantise_wdf(WdfTree(Open(), Parallel(ResistiveSource(R), Capacitor(C)), FS))
    with pytest.raises(PassError, match=r"^quantise_wdf: give target_snr_db or word_length, not both$"):
        quantise_wdf(clipper(), target_snr_db=80, word_length=16)
    with pytest.raises(PassError, match=r"^quantise_wdf: word_length must be an integer in \[4, 40\]"):
        quantise_wdf(clipper(), word_length=2)
    with pytest.raises(VerifyError, match=r"^WdfFixed: coeff must be an integer in"):
        dataclasses.replace(default_spec, coeff=-1)
    with pytest.raises(VerifyError, match=r"^WdfFixed: table must be a tuple of"):
        dataclasses.replace(default_spec, table=default_spec.table[:-1])
    with pytest.raises(VerifyError, match=r"^WdfFixed: probe must be a Probe"):
        dataclasses.replace(default_spec, probe=0)
    with pytest.raises(VerifyError, match=r"^run_fixed: input codes must lie in"):
        run_fixed(default_spec, np.array([1 << 20]))
    with pytest.raises(VerifyError, match=r"^run_fixed: input must be a 1-D integer array"):
        run_fixed(default_spec, np.zeros(3))
    assert default_spec.probe is Probe.REACTIVE
