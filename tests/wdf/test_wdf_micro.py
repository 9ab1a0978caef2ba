# amaranth: UnusedElaboratable=no
"""Any WDF tree in fixed point: the program golden model against float64, and WdfMicroCore
in Amaranth's simulator against the golden model, bit for bit, for every element, adaptor and
root kind."""

import dataclasses

import numpy as np
import pytest

from bitwave.errors import HdlError, PassError, VerifyError
from bitwave.hdl._wdf_micro import MicroOp, MicroStep, WdfMicroCore
from bitwave.ir import Overflow, Rounding
from bitwave.ir.wdf import (AsymmetricDiodePair, Capacitor, Diode, asymmetric_pair_reflect,
                            diode_pair_reflect, DiodePair, IdealSource, Inductor, Inverter, Open,
                            Parallel, ResistiveSource, Resistor, Series, Short, Step, StepKind,
                            WdfTree, compile_tree, run_fixed, run_program, simulate)
from bitwave.lower._wdf import lower_wdf_program, wdf_micro_params
from bitwave.passes.quantise_wdf import plucked_notes, quantise_tree, quantise_wdf
from wdf_stream import run_core

FS = 48_000.0
R, C, L, IS, VT = 2.2e3, 10e-9, 10e-3, 2.52e-9, 45.3e-3
X = plucked_notes(FS, 2400, seed=1)

#: Every adapted element (R, C, L, resistive source, inverter), both adaptors, every root.
TREES = {
    "clipper": WdfTree(DiodePair(IS, VT), Parallel(ResistiveSource(R), Capacitor(C, name="C")),
                       FS, probe="C"),
    "rc-open": WdfTree(Open(), Parallel(ResistiveSource(R), Capacitor(C, name="C")), FS,
                       probe="C"),
    "rlc-ideal": WdfTree(IdealSource(), Series(Resistor(R, name="R"),
                                               Parallel(Capacitor(C, name="C"),
                                                        Inductor(L, name="L"))), FS, probe="C"),
    "diode": WdfTree(Diode(IS, VT, name="d"), Parallel(ResistiveSource(R), Capacitor(C)), FS,
                     probe="d"),
    # A silicon diode one way, a red LED (n = 1.9, Is = 1e-18 A) the other.
    "asymmetric": WdfTree(AsymmetricDiodePair(2.52e-9, 25.85e-3, 1e-18, 25.85e-3, n=1.752, n2=1.9,
                                              name="d"),
                          Parallel(ResistiveSource(R), Capacitor(C)), FS, probe="d"),
    "inverter": WdfTree(DiodePair(IS, VT), Parallel(Inverter(ResistiveSource(R, name="s")),
                                                     Series(Capacitor(C), Resistor(100.0))),
                        FS, probe="s"),
    "resistor-root": WdfTree(Resistor(1e3), Series(ResistiveSource(R),
                                                   Parallel(Capacitor(C), Inductor(1e-3,
                                                                                   name="L"))),
                             FS, probe="L"),
    "source-root": WdfTree(ResistiveSource(R), Parallel(Resistor(1e3), Capacitor(C)), FS),
    "short": WdfTree(Short(), Series(ResistiveSource(R),
                                     Series(Capacitor(C, name="C"), Inductor(1e-3))), FS,
                     probe="C"),
    "inverted-top": WdfTree(IdealSource(), Inverter(Series(Resistor(R), Capacitor(C, name="C"))),
                            FS, probe="C"),
    "deep": WdfTree(DiodePair(IS, VT, name="d"),
                    Series(Parallel(ResistiveSource(R), Capacitor(C)),
                           Series(Parallel(Inductor(L), Resistor(4.7e3, name="r2")),
                                  Inverter(Parallel(Capacitor(47e-9), Resistor(1e4))))),
                    FS, probe="r2"),
}


def _codes(prog, volts):
    return np.clip(np.round(volts * 2.0 ** prog.input.frac_bits),
                   prog.input.min, prog.input.max).astype(np.int64)


def test_asymmetric_pair_clips_each_way_at_its_own_voltage():
    tree = TREES["asymmetric"]
    t = np.arange(4800) / FS
    y = simulate(tree, 4.0 * np.sin(2 * np.pi * 200.0 * t))
    # The silicon diode conducts near 0.5-0.7 V, the LED near 1.5-2 V.
    assert 0.5 < y.max() < 0.8 and -2.2 < y.min() < -1.4
    # With two equal diodes it is the symmetric pair.
    a = np.linspace(-8, 8, 101)
    np.testing.assert_allclose(asymmetric_pair_reflect(a, 700.0, IS, VT, IS, VT),
                               diode_pair_reflect(a, 700.0, IS, VT), rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", sorted(TREES))
def test_program_tracks_float64_within_one_lsb(name):
    tree = TREES[name]
    prog = quantise_tree(tree)
    x = _codes(prog, X)
    err = (run_program(prog, x) * 2.0 ** -prog.output.frac_bits
           - simulate(tree, x * 2.0 ** -prog.input.frac_bits))
    # Output rounding alone is 0.5 LSB; measured 0.54-0.84 LSB over these trees.
    assert np.max(np.abs(err)) * 2.0 ** prog.output.frac_bits < 1.0


def test_program_of_the_clipper_equals_run_fixed():
    tree = TREES["clipper"]
    prog, spec = quantise_tree(tree), quantise_wdf(tree)
    x = _codes(prog, X * 2)
    np.testing.assert_array_equal(run_program(prog, x), run_fixed(spec, x))
    # One step per adaptor up, the root, one down into the capacitor, the output, the state.
    assert [s.kind for s in prog.steps] == [StepKind.ALU, StepKind.ROOT, StepKind.ALU,
                                            StepKind.OUT, StepKind.ALU]


@pytest.mark.parametrize("name", sorted(TREES))
def test_micro_core_bit_exact(name):
    prog = quantise_tree(TREES[name], word_length=16)
    x = _codes(prog, X[:120] * 2)
    dut = lower_wdf_program(prog)
    y, accepted, _ = run_core(dut, x, p_in_stall=0.2, p_out_stall=0.2, seed=3)
    np.testing.assert_array_equal(y, run_program(prog, x))


def test_micro_core_rate_and_latency():
    prog = quantise_tree(TREES["deep"], word_length=16)
    dut = lower_wdf_program(prog)
    x = _codes(prog, X[:30])
    y, accepted, emitted = run_core(dut, x)
    np.testing.assert_array_equal(y, run_program(prog, x))
    cycles = sum(3 if s.kind is StepKind.ROOT else 1 for s in prog.steps) + 1
    assert set(np.diff(accepted)) == {dut.cycles_per_sample} == {cycles}
    assert {e - a for a, e in zip(accepted, emitted)} == {dut.latency} == {cycles}


@pytest.mark.parametrize("rounding,overflow", [(Rounding.MAGNITUDE, Overflow.SATURATE),
                                               (Rounding.TRUNCATE, Overflow.WRAP),
                                               (Rounding.MAGNITUDE, Overflow.WRAP)])
def test_micro_core_modes_at_full_scale(rounding, overflow):
    # Series adaptors at ±full scale overflow their waves: saturation and wrap both act.
    prog = quantise_tree(TREES["deep"], word_length=12, rounding=rounding, overflow=overflow)
    rng = np.random.default_rng(5)
    x = np.concatenate([[prog.input.max] * 15 + [prog.input.min] * 15,
                        rng.integers(prog.input.min, prog.input.max + 1, 60)]).astype(np.int64)
    y, _, _ = run_core(lower_wdf_program(prog), x)
    np.testing.assert_array_equal(y, run_program(prog, x))


def test_program_validation():
    prog = quantise_tree(TREES["clipper"], word_length=12)
    with pytest.raises(VerifyError, match=r"^WdfProgram: step 0 reads register\(s\) \[9\]"):
        dataclasses.replace(prog, registers=10,
                            steps=(Step(StepKind.ALU, 5, ((9, 1),)),) + prog.steps)
    with pytest.raises(VerifyError, match=r"^WdfProgram: needs exactly one OUT step"):
        dataclasses.replace(prog, steps=prog.steps[:3])
    with pytest.raises(VerifyError, match=r"^WdfProgram: step 0: add term \(2, 2\) must be"):
        dataclasses.replace(prog, steps=(Step(StepKind.ALU, 3, ((2, 2),)),) + prog.steps[1:])
    with pytest.raises(VerifyError, match=r"^run_program: input codes must lie in"):
        run_program(prog, np.array([1 << 12]))
    with pytest.raises(VerifyError, match=r"^compile_tree: expected a WdfTree"):
        compile_tree(prog, input=prog.input, wave=prog.wave, output=prog.output, coeff_frac=4)
    with pytest.raises(PassError, match=r"^quantise_tree: word_length must be an integer"):
        quantise_tree(TREES["clipper"], word_length=2)
    params = wdf_micro_params(prog)
    with pytest.raises(HdlError, match=r"^WdfMicroCore: step 0: dst must be a register"):
        dataclasses.replace(params, steps=(MicroStep(MicroOp.ALU, 1),) + params.steps[1:])
    with pytest.raises(HdlError, match=r"^WdfMicroCore: params must be a WdfMicroParams"):
        WdfMicroCore(prog)
    with pytest.raises(PassError, match=r"^lower-wdf: expected a WdfProgram"):
        wdf_micro_params(TREES["clipper"])


def test_a_larger_tree_costs_cycles_and_luts_not_multipliers():
    from bitwave.hdl._wdf_estimate import _root_cost, _dsp_slices, estimate_wdf_micro
    from bitwave.hdl._estimate import ICE40
    small, big = (wdf_micro_params(quantise_tree(TREES[n])) for n in ("clipper", "deep"))
    assert big.cycles_per_sample > small.cycles_per_sample
    assert estimate_wdf_micro(big).resources.lut > estimate_wdf_micro(small).resources.lut
    # The same multipliers whatever the tree: one for the steps and the root's interpolation,
    # two small ones for its curvature term: 6 SB_MAC16 slices, within the iCE40UP5K's 8.
    slices = [sum(_dsp_slices(a) * _dsp_slices(b) for a, b in
                  ((p.wave_width + 2, p.coeff_frac + 2),)
                  + _root_cost(p.root, ICE40, shared_main=True)[0])
              for p in (small, big)]
    assert slices == [6, 6]
    assert estimate_wdf_micro(small).resources.dsp == 6
