# amaranth: UnusedElaboratable=no
"""WdfCore in Amaranth's simulator against the golden model run_fixed, bit for bit."""

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from bitwave.errors import HdlError, PassError
from bitwave.hdl._emit import emit_verilog
from bitwave.hdl._wdf import WdfCore, WdfProbe
from bitwave.ir import Fixed, Overflow, Rounding
from bitwave.ir.wdf import (Capacitor, DiodePair, Inductor, Parallel, ResistiveSource, Series,
                            WdfTree, pwl_breakpoints, run_fixed, diode_pair_reflect,
                            port_resistance)
from bitwave.passes.quantise_wdf import multitone, quantise_wdf
from bitwave.lower import lower_wdf, wdf_core_params
from wdf_stream import run_core

FS = 48_000.0
R, C, IS, VT = 2.2e3, 10e-9, 2.52e-9, 45.3e-3


def tree(adaptor=Parallel, reactive=Capacitor, probe="x"):
    value = C if reactive is Capacitor else 1e-3
    return WdfTree(DiodePair(IS, VT, name="d"),
                   adaptor(ResistiveSource(R, name="src"), reactive(value, name="x")), FS,
                   probe=probe)


def codes(spec, volts):
    return np.clip(np.round(volts * 2.0 ** spec.input.frac_bits),
                   spec.input.min, spec.input.max).astype(np.int64)


@pytest.mark.parametrize("narrow", [False, True])
def test_default_clipper_bit_exact_with_stalls(narrow):
    spec = quantise_wdf(tree())
    x = codes(spec, multitone(FS, 300, peak=2.0))
    y, _, _ = run_core(lower_wdf(spec, narrow=narrow), x, p_in_stall=0.3, p_out_stall=0.3,
                       seed=1)
    np.testing.assert_array_equal(y, run_fixed(spec, x))


def test_cycles_per_sample_and_latency():
    spec = quantise_wdf(tree(), word_length=16)
    dut = lower_wdf(spec)
    x = codes(spec, multitone(FS, 20))
    y, accepted, emitted = run_core(dut, x)
    np.testing.assert_array_equal(y, run_fixed(spec, x))
    assert set(np.diff(accepted)) == {dut.cycles_per_sample} == {6}
    assert {e - a for a, e in zip(accepted, emitted)} == {dut.latency} == {6}


def test_narrow_core_costs_one_cycle_per_digit_product():
    # 16-bit samples, 23-bit waves: a1 − a2 (24 bits) times the coefficient (22 bits) is 2 × 2
    # digit products, the curve's square 1, curvature (10 bits) × weight (15) 1, and the
    # table difference (24 bits) × the 16-bit offset 2 × 2: 6 + 10 cycles.
    spec = quantise_wdf(tree(), word_length=16)
    dut = lower_wdf(spec, narrow=True)
    x = codes(spec, multitone(FS, 20))
    y, accepted, emitted = run_core(dut, x)
    np.testing.assert_array_equal(y, run_fixed(spec, x))
    assert set(np.diff(accepted)) == {dut.cycles_per_sample}
    assert {e - a for a, e in zip(accepted, emitted)} == {dut.latency}
    p = dut.params
    assert (p.wave_width, p.coeff.bit_length(), p.root.curvature_width,
            p.root.segment_shift) == (23, 22, 10, 16)
    assert dut.cycles_per_sample == WdfCore.cycles(p) == 16


@pytest.mark.parametrize("adaptor,reactive,probe", [
    (Series, Capacitor, "x"), (Series, Inductor, "src"), (Parallel, Inductor, "d"),
    (Parallel, Capacitor, "src")])
@pytest.mark.parametrize("narrow", [False, True])
def test_variants_bit_exact(adaptor, reactive, probe, narrow):
    spec = quantise_wdf(tree(adaptor, reactive, probe), word_length=16)
    x = codes(spec, multitone(FS, 150, peak=1.5))
    y, _, _ = run_core(lower_wdf(spec, narrow=narrow), x, p_in_stall=0.2, seed=2)
    np.testing.assert_array_equal(y, run_fixed(spec, x))


@pytest.mark.parametrize("rounding,overflow", [(Rounding.TRUNCATE, Overflow.SATURATE),
                                               (Rounding.NEAREST, Overflow.WRAP),
                                               (Rounding.TRUNCATE, Overflow.WRAP),
                                               (Rounding.MAGNITUDE, Overflow.SATURATE),
                                               (Rounding.MAGNITUDE, Overflow.WRAP)])
@pytest.mark.parametrize("narrow", [False, True])
def test_rounding_and_overflow_modes_at_full_scale(rounding, overflow, narrow):
    # A series adaptor at ±full scale overflows its waves, so saturation and wrap both act.
    spec = quantise_wdf(tree(Series), word_length=14, rounding=rounding, overflow=overflow)
    rng = np.random.default_rng(3)
    x = np.concatenate([np.array([spec.input.max] * 20 + [spec.input.min] * 20),
                        rng.integers(spec.input.min, spec.input.max + 1, 100)])
    y, _, _ = run_core(lower_wdf(spec, narrow=narrow), x)
    np.testing.assert_array_equal(y, run_fixed(spec, x))


@pytest.mark.parametrize("narrow", [False, True])
def test_uniform_short_table_and_different_io_formats(narrow):
    # One zone (a uniform table) covering only |a| < 2 V, so full-scale input runs past its
    # end (slope −1 there); input with fewer and output with more fraction bits than the
    # waves: exercises every conversion path.
    base = quantise_wdf(tree(), word_length=16)
    wave = base.wave
    a = pwl_breakpoints(1, 1, 7)
    b = diode_pair_reflect(a, port_resistance(tree().tree, FS), IS, VT)
    # Curvatures of alternating sign, up to 2**12 codes: every bit of the curve term acts.
    curv = (np.arange(len(a) - 1) * 37 % 8191) - 4095
    table = tuple(int(v) for v in np.floor(b * 2.0 ** wave.frac_bits + 0.5)) \
        + tuple(int(c) for c in curv)
    spec = dataclasses.replace(base, input=Fixed(4, 8), output=Fixed(6, 22), table_range_log2=1,
                               table_octaves=1, segments_log2=7, table=table)
    x = np.random.default_rng(4).integers(spec.input.min, spec.input.max + 1, 150)
    y, _, _ = run_core(lower_wdf(spec, narrow=narrow), x, p_out_stall=0.4, seed=5)
    np.testing.assert_array_equal(y, run_fixed(spec, x))


def test_verilog_emission():
    text = emit_verilog(lower_wdf(quantise_wdf(tree(), word_length=16)), name="wdf_clipper")
    assert "module wdf_clipper" in text and "sink__payload" in text


def test_parameter_validation():
    params = wdf_core_params(quantise_wdf(tree(), word_length=16))
    assert WdfCore(params).params == params and params.probe is WdfProbe.REACTANCE
    with pytest.raises(HdlError, match=r"^WdfCore: probe must be 0 \(root\), 1 \(source\) or 2"):
        dataclasses.replace(params, probe=3)
    with pytest.raises(HdlError, match=r"^WdfCore: coeff .* exceeds 2\*\*coeff_frac"):
        dataclasses.replace(params, coeff=(1 << params.coeff_frac) + 1)
    with pytest.raises(HdlError, match=r"^WdfCore: table must be a sequence of"):
        dataclasses.replace(params, table=params.table[:-1])
    with pytest.raises(HdlError, match=r"^WdfCore: table\[0\] = .* does not fit signed"):
        dataclasses.replace(params, table=(1 << 40,) + params.table[1:])
    with pytest.raises(HdlError, match=r"^WdfCore: series must be a bool"):
        dataclasses.replace(params, series="no")
    with pytest.raises(HdlError, match=r"^WdfCore: wave_rounding must be a WdfRounding"):
        dataclasses.replace(params, wave_rounding=True)
    with pytest.raises(HdlError, match=r"^WdfCore: params must be a WdfCoreParams, not dict"):
        WdfCore(dataclasses.asdict(params))
    with pytest.raises(PassError, match=r"^lower-wdf: expected a WdfFixed"):
        wdf_core_params(tree())


@given(adaptor=st.sampled_from([Series, Parallel]), reactive=st.sampled_from([Capacitor, Inductor]),
       probe=st.sampled_from(["d", "src", "x"]), word_length=st.integers(8, 20),
       int_bits=st.integers(2, 5), guard_bits=st.integers(0, 4),
       rounding=st.sampled_from(list(Rounding)), overflow=st.sampled_from(list(Overflow)),
       r_scale=st.floats(0.1, 10.0), seed=st.integers(0, 2 ** 16), narrow=st.booleans())
@settings(max_examples=16, deadline=None)
def test_random_configurations_bit_exact(adaptor, reactive, probe, word_length, int_bits,
                                         guard_bits, rounding, overflow, r_scale, seed, narrow):
    value = C if reactive is Capacitor else 1e-3
    t = WdfTree(DiodePair(IS, VT, name="d"),
                adaptor(ResistiveSource(R * r_scale, name="src"), reactive(value, name="x")),
                FS, probe=probe)
    spec = quantise_wdf(t, word_length=word_length, int_bits=int_bits, guard_bits=guard_bits,
                        rounding=rounding, overflow=overflow)
    x = np.random.default_rng(seed).integers(spec.input.min, spec.input.max + 1, 40)
    y, _, _ = run_core(lower_wdf(spec, narrow=narrow), x, p_in_stall=0.2, p_out_stall=0.2,
                       seed=seed)
    np.testing.assert_array_equal(y, run_fixed(spec, x))


def _estimate(word_length=None, channels=1):
    from bitwave.hdl import estimate_wdf
    params = wdf_core_params(quantise_wdf(tree(), word_length=word_length))
    return estimate_wdf([params] * channels).resources


def test_bank_estimate_plans_dsps_within_the_up5k_budget():
    # One shared multiplier (30 × 29 bits: 2×2 slices) and the curve's two (1 + 1): the
    # default core fits the iCE40UP5K's 8 SB_MAC16, its root table in block RAM.
    one = _estimate()
    assert (one.dsp, one.bram > 0) == (6, True)
    # Two channels need 12 > 8 DSPs: soft multipliers.
    two = _estimate(channels=2)
    assert two.dsp == 0 and two.lut > 2 * one.lut
    small = _estimate(word_length=12)
    assert (small.dsp, small.bram) == (6, 0)          # a 641-entry table is cheaper in LUTs


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")   # the refused cores
def test_bank_rejects_bad_cores():
    from bitwave.hdl import WdfBank
    with pytest.raises(HdlError, match="WdfBank: cores must be a non-empty list of WdfCore"):
        WdfBank([])
    a = lower_wdf(quantise_wdf(tree()))
    b = lower_wdf(quantise_wdf(tree(), word_length=12))
    with pytest.raises(HdlError, match="all cores need the same input and output widths"):
        WdfBank([a, b])
    spec = quantise_wdf(tree())
    with pytest.raises(HdlError, match="all cores need the same cycles per sample"):
        WdfBank([lower_wdf(spec), lower_wdf(spec, narrow=True)])
    with pytest.raises(HdlError, match=r"^WdfCore: narrow must be a bool"):
        dataclasses.replace(wdf_core_params(spec), narrow="yes")
