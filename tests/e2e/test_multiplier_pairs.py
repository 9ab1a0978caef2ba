"""Pair terms on hardware multipliers (``bitwave compile --multipliers N``): the lowering
shares the multipliers out among the layers with ±1 weights and an input that fits an
18 × 18 product, the estimates price them per build plan, and the RTL stays bit-exact
against the interpreter in Verilator, with stalls and without."""

import numpy as np
import pytest

from bitwave.ir import Bipolar, Graph, Input, Int, Interpreter, MatVec, MultiThreshold, Output
from bitwave.lower import plan
from bitwave.passes import InferBitwidths
from bitwave.verify import simulate_graph


def net(rng, *, in_fmt=Int(8, True), pe=4, simd=12, n=24):
    """±1-weight layer on a multi-bit input, a sign, then a 1-bit layer with integer output."""
    return InferBitwidths().run(Graph((
        Input("x", n=n, fmt=in_fmt),
        MatVec("m0", input="x", weight=rng.choice([-1, 1], (8, n)), wfmt=Bipolar(), pe=pe, simd=simd),
        MultiThreshold("a0", input="m0", thresholds=rng.integers(-60, 60, (8, 1)), fmt=Bipolar()),
        MatVec("m1", input="a0", weight=rng.choice([-1, 1], (4, 8)), wfmt=Bipolar(), pe=2, simd=4),
        Output("y", input="m1"))))


def _mult_pairs(lowered):
    return [stage.keywords.get("mult_pairs", 0) for stage in lowered.stages]


def test_multipliers_go_to_the_multi_bit_pair_layers_in_graph_order():
    g = net(np.random.default_rng(0))
    assert _mult_pairs(plan(g)) == [0, 0]
    # 6 pair terms of simd 12: at most half (3) per PE; 4 PEs take 4 multipliers per pair
    assert _mult_pairs(plan(g, multipliers=100)) == [3, 0]
    assert _mult_pairs(plan(g, multipliers=11)) == [2, 0]
    assert _mult_pairs(plan(g, multipliers=3)) == [0, 0]
    low = plan(g, multipliers=100)
    first = low.layers[0]
    assert first.estimate_for("ecp5", True).dsp == 12            # MULT18X18Ds on ECP5
    assert first.estimate_for("ecp5", True).lut < plan(g).layers[0].estimate_for("ecp5", True).lut
    assert first.estimate_for("ice40", False).dsp == 0            # elsewhere soft multipliers
    assert first.estimate_for("ice40", False).lut > plan(g).layers[0].estimate.lut


def test_inputs_too_wide_for_a_multiplier_keep_their_pairs_in_luts():
    assert _mult_pairs(plan(net(np.random.default_rng(1), in_fmt=Int(9, True)), 100)) == [0, 0]
    assert _mult_pairs(plan(net(np.random.default_rng(1), in_fmt=Int(8, False)), 100)) == [0, 0]
    assert _mult_pairs(plan(net(np.random.default_rng(1), in_fmt=Int(7, False)), 100)) == [3, 0]


@pytest.mark.parametrize("in_fmt", [Int(8, True), Int(7, False), Int(3, True)], ids=str)
def test_multiplier_pairs_are_bit_exact_in_rtl(in_fmt):
    rng = np.random.default_rng(in_fmt.width)
    g = net(rng, in_fmt=in_fmt)
    inp = g.input
    codes = rng.integers(inp.fmt.min, inp.fmt.max + 1, size=(40, inp.n))
    # and the extremes: every input at its minimum, then its maximum
    codes = np.vstack([codes, np.full((1, inp.n), inp.fmt.min), np.full((1, inp.n), inp.fmt.max)])
    want = Interpreter(g).output(codes, codes=True)
    for stall in (0.3, 0.0):
        got, res, _ = simulate_graph(g, codes, stall_in=stall, stall_out=stall, seed=2,
                                     multipliers=100)
        np.testing.assert_array_equal(got, want)
    assert res.cycles_per_frame <= 1.05 * plan(g).cycles_per_frame
