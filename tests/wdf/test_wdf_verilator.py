"""The emitted Verilog of WdfCore under Verilator: 48 000 samples each of a multitone and a
sweep, bit for bit against run_fixed, with and without random stalls."""

import numpy as np
import pytest

from bitwave.hdl import StreamFormat
from bitwave.hdl._emit import emit_verilog
from bitwave.ir.wdf import Capacitor, DiodePair, Parallel, ResistiveSource, WdfTree, run_fixed
from bitwave.lower import lower_wdf
from bitwave.passes.quantise_wdf import multitone, quantise_wdf
from bitwave.sim import StreamSim

pytestmark = pytest.mark.sim

FS = 48_000.0


@pytest.fixture(scope="module")
def built():
    tree = WdfTree(DiodePair(2.52e-9, 45.3e-3),
                   Parallel(ResistiveSource(2.2e3), Capacitor(10e-9, name="C")), FS, probe="C")
    spec = quantise_wdf(tree)
    core = lower_wdf(spec)
    sim = StreamSim.build(emit_verilog(core, name="wdf_top"), top="wdf_top",
                          sink=StreamFormat(1, spec.input.width, True),
                          source=StreamFormat(1, spec.output.width, True))
    return spec, core, sim


def _codes(spec, volts):
    return np.clip(np.round(volts * 2.0 ** spec.input.frac_bits),
                   spec.input.min, spec.input.max).astype(np.int64)


def _sweep(n, peak):
    # Exponential sine sweep 20 Hz → 20 kHz over one second.
    t = np.arange(n) / FS
    f0, f1, dur = 20.0, 20_000.0, n / FS
    k = np.log(f1 / f0)
    return peak * np.sin(2 * np.pi * f0 * dur / k * (np.exp(t / dur * k) - 1))


@pytest.mark.parametrize("name", ["multitone", "sweep"])
def test_48k_samples_bit_exact(built, name):
    spec, core, sim = built
    volts = multitone(FS, 48_000, peak=2.0) if name == "multitone" else _sweep(48_000, 3.0)
    x = _codes(spec, volts)
    result = sim.run(x[:, None])
    np.testing.assert_array_equal(result.outputs[:, 0], run_fixed(spec, x))
    assert result.cycles_per_frame == core.cycles_per_sample


def test_random_stalls_lose_nothing(built):
    spec, _, sim = built
    x = _codes(spec, multitone(FS, 5000, peak=2.5))
    result = sim.run(x[:, None], stall_in=0.3, stall_out=0.3, seed=7)
    np.testing.assert_array_equal(result.outputs[:, 0], run_fixed(spec, x))


def test_micro_core_bit_exact_in_verilator():
    # A tree with every adapted element kind (resistive source, R, C, L, inverter), both
    # adaptors nested three deep and a diode-pair root, 9 600 plucked-note samples.
    from bitwave.ir.wdf import Inductor, Inverter, Resistor, Series, run_program
    from bitwave.lower._wdf import lower_wdf_program
    from bitwave.passes.quantise_wdf import plucked_notes, quantise_tree
    tree = WdfTree(DiodePair(2.52e-9, 45.3e-3),
                   Series(Parallel(ResistiveSource(2.2e3), Capacitor(10e-9)),
                          Series(Parallel(Inductor(10e-3), Resistor(4.7e3, name="r2")),
                                 Inverter(Parallel(Capacitor(47e-9), Resistor(1e4))))),
                   FS, probe="r2")
    prog = quantise_tree(tree)
    core = lower_wdf_program(prog)
    sim = StreamSim.build(emit_verilog(core, name="wdf_micro"), top="wdf_micro",
                          sink=StreamFormat(1, prog.input.width, True),
                          source=StreamFormat(1, prog.output.width, True))
    x = _codes(prog, plucked_notes(FS, 9600, seed=2))
    result = sim.run(x[:, None], stall_in=0.1, stall_out=0.1, seed=4)
    np.testing.assert_array_equal(result.outputs[:, 0], run_program(prog, x))
    fast = sim.run(x[:2000, None])
    assert fast.cycles_per_frame == core.cycles_per_sample


@pytest.mark.slow
@pytest.mark.parametrize("name", ["rc-open", "rlc-ideal", "diode", "asymmetric", "inverter",
                                  "resistor-root", "source-root", "short", "inverted-top"])
def test_every_root_and_element_kind_bit_exact_in_verilator(name):
    # The other trees of test_wdf_micro (every root kind, lone inverters), 4 800 plucked-note
    # samples each through the emitted Verilog (a Verilator build each: --runslow).
    from bitwave.ir.wdf import run_program
    from bitwave.lower._wdf import lower_wdf_program
    from bitwave.passes.quantise_wdf import plucked_notes, quantise_tree
    from test_wdf_micro import TREES
    prog = quantise_tree(TREES[name])
    core = lower_wdf_program(prog)
    sim = StreamSim.build(emit_verilog(core, name="wdf_micro"), top="wdf_micro",
                          sink=StreamFormat(1, prog.input.width, True),
                          source=StreamFormat(1, prog.output.width, True))
    x = _codes(prog, plucked_notes(FS, 4800, seed=3))
    result = sim.run(x[:, None], stall_in=0.1, stall_out=0.1, seed=5)
    np.testing.assert_array_equal(result.outputs[:, 0], run_program(prog, x))
