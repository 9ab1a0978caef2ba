# amaranth: UnusedElaboratable=no
"""The fully unrolled matrix-vector unit in Amaranth's simulator against the numpy model
(1-bit, bipolar weights on multi-bit inputs, 2- and 4-bit weights; thresholds, requant and the
raw accumulator) with random stalls on both sides; its rate, latency and adder sharing, the
adder graph's exactness, and its clear refusals."""

import numpy as np
import pytest

from bitwave.errors import HdlError
from bitwave.hdl import ECP5, UnrolledMatVec, estimate_unrolled
from bitwave.hdl._adder_graph import build_adder_graph, centre_columns, naf_digits, schedule
from bitwave.hdl._unrolled import at_least
from hdl_bench import mvu_model, pack, random_inputs, stream, unpack


def evaluate(graph, x):
    """The adder graph's rows, evaluated in Python integers."""
    values = [int(x[c]) << k for c, k in graph.base]
    for a, b, sign, shift in graph.nodes:
        values.append(values[a] + sign * (values[b] << shift))
    return [sign * values[v] if sign else 0 for sign, v in graph.outputs]


@pytest.mark.parametrize("value", [0, 1, -1, 2, -2, 3, 7, -7, 11, -128, 127])
def test_naf_digits_add_up_and_are_never_adjacent(value):
    digits = naf_digits(value)
    assert sum(sign << shift for shift, sign in digits) == value
    shifts = [s for s, _ in digits]
    assert all(b - a >= 2 for a, b in zip(shifts, shifts[1:]))


@pytest.mark.parametrize("rows, cols, lo, hi", [(16, 24, -1, 1), (8, 12, -2, 1), (6, 9, -8, 7),
                                                (5, 1, -1, 1)])
def test_adder_graph_is_exact_and_shares_sums(rows, cols, lo, hi):
    rng = np.random.default_rng([rows, cols, lo + 8])
    weights = rng.integers(lo, hi + 1, size=(rows, cols))
    weights[0] = 0                                  # a row of zeros
    graph = build_adder_graph(weights, (-8, 7))
    for _ in range(20):
        x = rng.integers(-8, 8, size=cols)
        assert evaluate(graph, x) == (weights @ x).tolist()
    # one adder tree per row would take (terms of the row - 1) adders each
    trees = sum(max(sum(len(naf_digits(int(w))) for w in row) - 1, 0) for row in weights)
    assert graph.adders < trees if cols > 1 else graph.adders == trees == 0
    for v, (lo_v, hi_v) in enumerate(graph.ranges):
        assert lo_v <= hi_v, v


def test_centring_takes_each_binary_column_majority_out_and_saves_adders():
    rng = np.random.default_rng(9)
    weights = rng.choice([-1, 1], size=(24, 40))
    centre = centre_columns(weights)
    for c, column in enumerate(weights.T):
        assert centre[c] == (1 if (column == 1).sum() > (column == -1).sum() else -1) or (
            (column == 1).sum() == (column == -1).sum())
    assert not centre_columns(np.array([[0, 3], [0, 5], [1, 3]]))[0]   # zero is the common value
    plain, centred = (build_adder_graph(weights, (0, 1), centre=c) for c in (False, True))
    for _ in range(10):
        x = rng.integers(0, 2, size=40)
        assert evaluate(centred, x) == evaluate(plain, x) == (weights @ x).tolist()
    assert centred.adders < plain.adders


def test_centred_binary_rows_are_halved_and_shifted_back_on_the_shared_adder():
    rng = np.random.default_rng(4)
    weights = rng.choice([-1, 1], size=(12, 30))
    graph = build_adder_graph(weights, (0, 1))
    nb = len(graph.base)
    assert {k for _, k in graph.base} == {0}          # every term a bare input bit
    final = {v for _, v in graph.outputs}
    assert all(graph.nodes[v - nb][3] == 1 for v in final)      # 2·row + shared sum
    assert all(shift == 0 for v, (*_, shift) in enumerate(graph.nodes, start=nb)
               if v not in final)


@pytest.mark.parametrize("signed_", [False, True])
def test_at_least_matches_the_comparison_for_every_value_and_constant(signed_):
    from amaranth.hdl import Module, Signal, signed, unsigned
    from amaranth.sim import Simulator
    width = 5
    x = Signal(signed(width) if signed_ else unsigned(width))
    lo, hi = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if signed_ else (0, (1 << width) - 1)
    constants = range(lo - 2, hi + 3)
    outs = [Signal(name=f"ge{k}") for k in range(len(constants))]
    m = Module()
    m.d.comb += [o.eq(at_least(x, c)) for o, c in zip(outs, constants)]
    seen = []

    async def bench(ctx):
        for value in range(lo, hi + 1):
            ctx.set(x, value)
            seen.append([ctx.get(o) for o in outs])

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    want = [[int(value >= c) for c in constants] for value in range(lo, hi + 1)]
    assert seen == want


def test_schedule_bounds_the_adders_between_registers():
    rng = np.random.default_rng(5)
    graph = build_adder_graph(rng.choice([-1, 1], size=(32, 48)), (0, 1))
    nb = len(graph.base)
    for levels in (1, 2, 4):
        plan = schedule(graph, levels)
        depth = {}
        for n, (a, b, *_) in enumerate(graph.nodes):
            v, t = nb + n, plan.stage[nb + n] - plan.registered[nb + n]
            d = 1 + max(depth.get(x, 0) if plan.stage[x] == t and not plan.registered[x] else 0
                        for x in (a, b))
            assert d <= levels
            depth[v] = 0 if plan.registered[v] else d
        assert all(plan.stage[v] <= plan.stages for _, v in graph.outputs)


CASES = {
    # name: (rows, cols, in (width, signed, bipolar), w (width, signed, bipolar), activation)
    "1-bit sign": (12, 40, (1, False, True), (1, False, True), "sign"),
    "1-bit raw": (6, 17, (1, False, True), (1, False, True), None),
    "bipolar w, 4-bit x, 3 thresholds": (8, 20, (4, False, False), (1, False, True), 3),
    "2-bit w, 4-bit signed x, requant": (7, 16, (4, True, False), (2, True, False), "requant"),
    "4-bit w, 2-bit x, raw": (5, 11, (2, False, False), (4, True, False), None),
    "2-bit w, bipolar x, 2 thresholds": (6, 10, (1, False, True), (2, True, False), 2),
}


def make_unit(rows, cols, inp, wt, act, rng):
    iw, isg, ibp = inp
    ww, wsg, wbp = wt
    if wbp:
        weights = rng.choice([-1, 1], size=(rows, cols))
    else:
        lo, hi = (-(1 << (ww - 1)), (1 << (ww - 1)) - 1) if wsg else (0, (1 << ww) - 1)
        weights = rng.integers(lo, hi + 1, size=(rows, cols))
    bias = rng.integers(-5, 6, size=rows)
    xlo, xhi = (-1, 1) if ibp else ((-(1 << (iw - 1)), (1 << (iw - 1)) - 1) if isg else (0, (1 << iw) - 1))
    bound = int(np.abs(weights).sum(axis=1).max()) * max(abs(xlo), abs(xhi)) + 5
    acc_width = (2 * bound + 1).bit_length() + 1
    kwargs = dict(weights=weights, in_width=iw, in_signed=isg, in_bipolar=ibp, w_width=ww,
                  w_signed=wsg, w_bipolar=wbp, acc_width=acc_width, bias=bias)
    activation = {}
    if act == "sign":
        activation = dict(thresholds=rng.integers(-cols // 2, cols // 2, size=(rows, 1)))
        kwargs.update(out_width=1, out_signed=False)
    elif isinstance(act, int):
        activation = dict(thresholds=np.sort(rng.integers(-bound, bound, size=(rows, act)), axis=1),
                          out_bias=-1)
        kwargs.update(out_width=3, out_signed=True)
    elif act == "requant":
        activation = dict(requant=(3, 2, -8, 7))
        kwargs.update(out_width=4, out_signed=True)
    kwargs.update(activation)
    return UnrolledMatVec(**kwargs), weights, bias, activation, (xlo, xhi)


@pytest.mark.parametrize("case", list(CASES))
def test_unrolled_unit_matches_the_model_under_backpressure(case):
    rows, cols, inp, wt, act = CASES[case]
    rng = np.random.default_rng(list(CASES).index(case))
    unit, weights, bias, activation, _ = make_unit(rows, cols, inp, wt, act, rng)
    assert unit.cycles_per_frame == 1
    xs = [random_inputs(rng, cols, inp[0], inp[1], inp[2]) for _ in range(24)]
    result = stream(unit, [pack(x, inp[0], inp[2]) for x in xs], p_in_stall=0.3, p_out_stall=0.3,
                    seed=7)
    got = [unpack(o, rows, unit.out_width, unit.out_signed) for o in result["outputs"]]
    want = [mvu_model(weights, x, bias=bias, **activation) for x in xs]
    assert got == want


def test_unrolled_unit_takes_a_vector_every_cycle_with_its_stated_latency():
    rng = np.random.default_rng(3)
    unit, *_ = make_unit(16, 64, (1, False, True), (1, False, True), "sign", rng)
    xs = [random_inputs(rng, 64, 1, False, True) for _ in range(12)]
    result = stream(unit, [pack(x, 1, True) for x in xs])
    assert result["accept_cycles"] == list(range(12))
    assert [o - a for o, a in zip(result["output_cycles"], result["offer_cycles"])] == [unit.latency] * 12


def test_estimate_counts_the_planned_adders_and_registers():
    rng = np.random.default_rng(4)
    weights = rng.choice([-1, 1], size=(32, 64))
    params = dict(weights=weights, in_width=1, in_signed=False, in_bipolar=True, w_width=1,
                  w_signed=False, w_bipolar=True, acc_width=8, thresholds=np.zeros((32, 1), int),
                  out_width=1, out_signed=False)
    est = estimate_unrolled(model=ECP5, **params)
    unit = UnrolledMatVec(**params)
    assert est.parts["adders"][0] >= unit.graph.adders       # at least a LUT per adder
    assert est.parts["pipeline"][1] >= unit.schedule.stages
    assert est.resources.lut == round(sum(lut for lut, _ in est.parts.values()))
    assert est.resources.bram == 0


def test_unrolled_unit_refusals_name_itself():
    with pytest.raises(HdlError, match=r"^UnrolledMatVec: weights\[0\]\[1\] = 0 is not -1 or \+1"):
        UnrolledMatVec(weights=[[1, 0]], in_width=1, in_signed=False, in_bipolar=True, w_width=1,
                       w_signed=False, w_bipolar=True, acc_width=4)
    with pytest.raises(HdlError, match=r"^UnrolledMatVec: levels must be"):
        UnrolledMatVec(weights=[[1, -1]], in_width=1, in_signed=False, in_bipolar=True, w_width=1,
                       w_signed=False, w_bipolar=True, acc_width=4, levels=0)
