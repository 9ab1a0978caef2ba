# amaranth: UnusedElaboratable=no
"""MatVecUnit against a numpy model, streamed with random stalls; rate, latency, errors."""

import re

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from bitwave.errors import HdlError
from bitwave.hdl import MatVecUnit, emit_verilog
from hdl_bench import mvu_model, pack, random_inputs, stream, unpack


def _weights(rng, rows, cols, width, signed, bipolar):
    if bipolar:
        return rng.choice([-1, 1], size=(rows, cols))
    return random_inputs(rng, rows * cols, width, signed).reshape(rows, cols)


def _run(unit, weights, xs, *, bias=None, thresholds=None, requant=None, out_bias=0, **stalls):
    result = stream(unit, [pack(x, unit.in_width, unit.in_bipolar) for x in xs], **stalls)
    got = [unpack(o, unit.rows, unit.out_width, unit.out_signed) for o in result["outputs"]]
    want = [mvu_model(weights, x, bias=bias, thresholds=thresholds, requant=requant,
                      out_bias=out_bias) for x in xs]
    assert got == want
    return result


# (rows, cols, pe, simd, in: width, signed, bipolar, w: width, signed, bipolar)
SHAPES = [
    pytest.param(4, 8, 2, 4, 4, False, False, 3, True, False, id="u4xs3-pe2-simd4"),
    pytest.param(3, 6, 1, 1, 3, True, False, 2, False, False, id="s3xu2-fully-folded"),
    pytest.param(4, 4, 4, 4, 2, True, False, 4, True, False, id="s2xs4-fully-parallel"),
    pytest.param(6, 12, 3, 4, 1, False, True, 1, False, True, id="xnor-pe3-simd4"),
    pytest.param(4, 16, 1, 16, 1, False, True, 1, False, True, id="xnor-pe1-simd16"),
    pytest.param(8, 10, 8, 1, 1, False, True, 1, False, True, id="xnor-pe8-simd1"),
    pytest.param(6, 9, 2, 3, 1, False, True, 4, True, False, id="bipolar-in-s4-weights"),
    pytest.param(4, 6, 2, 2, 5, True, False, 1, False, True, id="s5-in-bipolar-weights"),
]


@pytest.mark.parametrize("rows, cols, pe, simd, iw, isg, ib, ww, wsg, wb", SHAPES)
@pytest.mark.parametrize("activation", ["none", "thresholds", "requant"])
def test_mvu_matches_model_under_random_stalls(rows, cols, pe, simd, iw, isg, ib, ww, wsg, wb,
                                               activation):
    rng = np.random.default_rng([rows, cols, pe, simd, iw, ww, len(activation)])
    weights = _weights(rng, rows, cols, ww, wsg, wb)
    bias = rng.integers(-20, 21, size=rows)
    kwargs = {}
    if activation == "thresholds":
        # Wide enough to have some thresholds below and above every reachable sum.
        kwargs = dict(thresholds=np.sort(rng.integers(-60, 61, size=(rows, 3)), axis=1),
                      out_width=3, out_signed=True, out_bias=-1)
    elif activation == "requant":
        kwargs = dict(requant=(int(rng.integers(-5, 6)), 2, -6, 5), out_width=4, out_signed=True)
    unit = MatVecUnit(weights=weights, in_width=iw, in_signed=isg, in_bipolar=ib, w_width=ww,
                      w_signed=wsg, w_bipolar=wb, acc_width=16, bias=bias, pe=pe, simd=simd,
                      **kwargs)
    xs = [random_inputs(rng, cols, iw, isg, ib) for _ in range(10)]
    kwargs.pop("out_width", None), kwargs.pop("out_signed", None)
    _run(unit, weights, xs, bias=bias, p_in_stall=0.4, p_out_stall=0.4, seed=rows * cols, **kwargs)


def test_mvu_fully_parallel_survives_heavy_output_backpressure():
    # One vector per cycle fills the skid entry whenever the output stalls.
    rng = np.random.default_rng(7)
    weights = rng.integers(-8, 8, size=(3, 4))
    unit = MatVecUnit(weights=weights, in_width=4, in_signed=True, w_width=4, w_signed=True,
                      acc_width=12, pe=3, simd=4)
    xs = [random_inputs(rng, 4, 4, True) for _ in range(40)]
    _run(unit, weights, xs, p_in_stall=0.05, p_out_stall=0.7, seed=3)


def test_mvu_bipolar_thresholds_without_bias_or_activation_extremes():
    # All-ones and all-zeros inputs reach the popcount bounds 0 and cols.
    weights = np.array([[1, -1, 1, 1], [-1, -1, -1, -1]])
    thresholds = [[-4], [4]]
    unit = MatVecUnit(weights=weights, in_width=1, in_signed=False, in_bipolar=True, w_width=1,
                      w_signed=False, w_bipolar=True, acc_width=4, pe=1, simd=2,
                      thresholds=thresholds, out_width=1, out_signed=False)
    xs = [np.array(v) for v in ([1, 1, 1, 1], [-1, -1, -1, -1], [1, -1, 1, 1], [-1, 1, -1, -1])]
    _run(unit, weights, xs, thresholds=thresholds)


@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_mvu_xnor_threshold_folding_is_exact(data):
    """Thresholds folded into popcount form (ceil((cols + T - bias)/2)) stay exact,
    including thresholds outside the reachable range and odd cols."""
    rows = data.draw(st.sampled_from([2, 3, 4]))
    cols = data.draw(st.sampled_from([3, 5, 6, 8]))
    pe = data.draw(st.sampled_from([d for d in range(1, rows + 1) if rows % d == 0]))
    simd = data.draw(st.sampled_from([d for d in range(1, cols + 1) if cols % d == 0]))
    seed = data.draw(st.integers(0, 2**32 - 1))
    levels = data.draw(st.integers(1, 3))
    rng = np.random.default_rng(seed)
    weights = rng.choice([-1, 1], size=(rows, cols))
    bias = rng.integers(-4, 5, size=rows)
    thresholds = np.sort(rng.integers(-cols - 6, cols + 7, size=(rows, levels)), axis=1)
    unit = MatVecUnit(weights=weights, in_width=1, in_signed=False, in_bipolar=True, w_width=1,
                      w_signed=False, w_bipolar=True, acc_width=6, bias=bias, pe=pe, simd=simd,
                      thresholds=thresholds, out_width=2, out_signed=False)
    xs = [rng.choice([-1, 1], size=cols) for _ in range(6)]
    _run(unit, weights, xs, bias=bias, thresholds=thresholds, p_in_stall=0.2, p_out_stall=0.2,
         seed=seed)


RATE_CASES = [
    pytest.param(dict(rows=4, cols=4, pe=4, simd=4), id="T1"),
    pytest.param(dict(rows=4, cols=8, pe=2, simd=4), id="T4"),
    pytest.param(dict(rows=8, cols=64, pe=1, simd=8), id="T64"),
    pytest.param(dict(rows=16, cols=16, pe=2, simd=2), id="T64-square"),
    pytest.param(dict(rows=6, cols=6, pe=1, simd=1), id="T36-scalar"),
]


@pytest.mark.parametrize("shape", RATE_CASES)
@pytest.mark.parametrize("bipolar", [False, True], ids=["multibit", "xnor"])
def test_mvu_sustains_one_vector_per_folded_cycles(shape, bipolar):
    rng = np.random.default_rng(1)
    rows, cols = shape["rows"], shape["cols"]
    width = 1 if bipolar else 3
    weights = _weights(rng, rows, cols, width, not bipolar, bipolar)
    unit = MatVecUnit(weights=weights, in_width=width, in_signed=not bipolar,
                      in_bipolar=bipolar, w_width=width, w_signed=not bipolar, w_bipolar=bipolar,
                      acc_width=12, thresholds=[[0]] * rows, out_width=1, out_signed=False,
                      pe=shape["pe"], simd=shape["simd"])
    period = (rows // shape["pe"]) * (cols // shape["simd"])
    assert unit.cycles_per_frame == period
    xs = [random_inputs(rng, cols, width, not bipolar, bipolar) for _ in range(8)]
    result = _run(unit, weights, xs, thresholds=[[0]] * rows)
    assert np.diff(result["accept_cycles"]).tolist() == [period] * 7
    assert np.diff(result["output_cycles"]).tolist() == [period] * 7
    assert result["output_cycles"][0] - result["offer_cycles"][0] == unit.latency
    # The vector is accepted with its last slice, so after the first one every
    # vector is offered as the previous one is accepted and takes `latency`
    # cycles from its acceptance minus the cycles it waited.
    assert (np.array(result["output_cycles"]) - result["accept_cycles"]).tolist() \
        == [unit.latency - period + 1] * 8


@pytest.mark.parametrize("activation, extra", [
    ("none", 0), ("thresholds", 1), ("thresholds3", 2), ("requant", 2)])
def test_mvu_latency_counts_activation_stages(activation, extra):
    weights = [[1, 2], [3, 4]]
    kwargs = {"none": {},
              "thresholds": dict(thresholds=[[0], [1]], out_width=1, out_signed=False),
              "thresholds3": dict(thresholds=[[0, 1, 2]] * 2, out_width=2, out_signed=False),
              "requant": dict(requant=(1, 1, 0, 3), out_width=2, out_signed=False)}[activation]
    unit = MatVecUnit(weights=weights, in_width=2, in_signed=False, w_width=4, w_signed=False,
                      acc_width=8, simd=2, **kwargs)
    # 2 folds (the first issued as offered) + slice, products, one tree level,
    # accumulator, output register
    assert unit.latency == 2 + 4 + extra
    result = stream(unit, [pack([1, 2], 2)])
    assert result["output_cycles"][0] - result["offer_cycles"][0] == unit.latency


def test_mvu_weights_live_in_a_memory_of_folded_depth():
    weights = np.arange(8 * 6).reshape(8, 6) % 7 - 3
    unit = MatVecUnit(weights=weights, in_width=2, in_signed=False, w_width=3, w_signed=True,
                      acc_width=12, pe=2, simd=3)
    assert len(unit.weight_words) == 8
    text = emit_verilog(unit)
    assert re.search(r"reg \[17:0\] weights \[7:0\];", text)
    # word nf*(cols/simd)+sf holds w[nf*pe+p][sf*simd+s] at element p*simd+s
    word = unit.weight_words[1 * 2 + 1]
    assert unpack(word, 6, 3, True) == [weights[2][3], weights[2][4], weights[2][5],
                                        weights[3][3], weights[3][4], weights[3][5]]


def test_mvu_depth_one_uses_constants():
    unit = MatVecUnit(weights=[[1, -1]], in_width=1, in_signed=False, in_bipolar=True,
                      w_width=1, w_signed=False, w_bipolar=True, acc_width=3, simd=2)
    assert "weights" not in emit_verilog(unit)


def test_mvu_signature():
    unit = MatVecUnit(weights=[[1, 2, 3]] * 2, in_width=4, in_signed=False, w_width=3,
                      w_signed=False, acc_width=9, simd=3)
    assert unit.sink.payload.shape().width == 12
    assert unit.source.payload.shape().width == 18
    assert (unit.out_width, unit.out_signed) == (9, True)


def _make(**overrides):
    kwargs = dict(weights=np.ones((16, 64), dtype=int), in_width=2, in_signed=False,
                  w_width=2, w_signed=True, acc_width=10)
    kwargs.update(overrides)
    return MatVecUnit(**kwargs)


@pytest.mark.parametrize("overrides, message", [
    (dict(simd=7), "MatVecUnit: simd=7 does not divide cols=64; choose a divisor of 64 "
                   "(1, 2, 4, 8, 16, 32, 64)"),
    (dict(pe=3), "MatVecUnit: pe=3 does not divide rows=16; choose a divisor of 16 "
                 "(1, 2, 4, 8, 16)"),
    (dict(pe=0), "MatVecUnit: pe must be a positive integer, not 0"),
    (dict(simd="4"), "MatVecUnit: simd must be an integer, not '4'"),
    (dict(acc_width=8), "MatVecUnit: acc_width=8 is too small: row 0 reaches 0..192; "
                        "use acc_width >= 9"),
    (dict(bias=[-600] + [0] * 15), "MatVecUnit: acc_width=10 is too small: row 0 reaches "
                                   "-600..-408; use acc_width >= 11"),
    (dict(in_width=True), "MatVecUnit: in_width must be an integer, not True"),
    (dict(in_signed=1), "MatVecUnit: in_signed must be a bool, not 1"),
    (dict(in_bipolar=True), "MatVecUnit: in_width must be 1 when in_bipolar=True, not 2"),
    (dict(weights=[[1, 2], [3]]), "MatVecUnit: weights row 1 has 1 entries but row 0 has 2; "
                                  "every row needs the same number of entries"),
    (dict(weights=[[1, 2.5]]), "MatVecUnit: weights[0][1] must be an integer, not 2.5"),
    (dict(weights=[[1, 2]]), "MatVecUnit: weights[0][1] = 2 does not fit signed(2)"),
    (dict(bias=[0] * 15), "MatVecUnit: bias must have 16 entries (one per output), not 15"),
    (dict(thresholds=[[0]] * 15, out_width=1, out_signed=False),
     "MatVecUnit: thresholds must have 16 rows (one per output), not 15"),
    (dict(thresholds=[[0, 1]] * 15 + [[0]], out_width=2, out_signed=False),
     "MatVecUnit: thresholds row 15 has 1 entries but row 0 has 2; every row needs the same "
     "number of entries"),
    (dict(thresholds=[[0, 1]] * 15 + [[3, 2]], out_width=2, out_signed=False),
     "MatVecUnit: thresholds row 15 must be ascending, not [3, 2]"),
    (dict(thresholds=[[0, 1, 2]] * 16, out_width=2, out_signed=False, out_bias=1),
     "MatVecUnit: outputs out_bias..out_bias+3 = 1..4 do not fit unsigned(2); widen "
     "out_width or change out_bias"),
    (dict(thresholds=[[0]] * 16, out_signed=False),
     "MatVecUnit: out_width is required with thresholds or requant"),
    (dict(thresholds=[[0]] * 16, requant=(1, 0, 0, 1), out_width=1, out_signed=False),
     "MatVecUnit: thresholds and requant are mutually exclusive; pass one of them, not both"),
    (dict(requant=(1, 0, 0), out_width=1, out_signed=False),
     "MatVecUnit: requant must be a tuple (mult, shift, lo, hi), not (1, 0, 0)"),
    (dict(requant=(1, -1, 0, 1), out_width=1, out_signed=False),
     "MatVecUnit: requant shift must be a non-negative integer, not -1"),
    (dict(requant=(1, 0, -1, 1), out_width=1, out_signed=False),
     "MatVecUnit: requant clip range -1..1 does not fit unsigned(1); widen out_width or "
     "narrow the clip range"),
    (dict(requant=(1, 0, 1, 0), out_width=1, out_signed=False),
     "MatVecUnit: requant lo=1 is greater than hi=0"),
    (dict(out_width=8), "MatVecUnit: without thresholds or requant the output is the "
                        "accumulator, so out_width must be None or acc_width=10, not 8"),
])
def test_mvu_rejects_bad_parameters_with_exact_messages(overrides, message):
    with pytest.raises(HdlError) as info:
        _make(**overrides)
    assert str(info.value) == message


def test_mvu_rejects_non_bipolar_weights():
    with pytest.raises(HdlError) as info:
        MatVecUnit(weights=[[1, 0]], in_width=1, in_signed=False, w_width=1, w_signed=False,
                   w_bipolar=True, acc_width=4)
    assert str(info.value) == ("MatVecUnit: weights[0][1] = 0 is not -1 or +1, as "
                               "w_bipolar=True requires")


def test_mvu_acc_width_check_is_exact():
    # 3*3 + 3*3 = 18 with bias -2: range -2..16 fits signed(6) but not signed(5).
    kwargs = dict(weights=[[3, 3]], in_width=2, in_signed=False, w_width=2, w_signed=False,
                  bias=[-2])
    assert MatVecUnit(acc_width=6, **kwargs).acc_width == 6
    with pytest.raises(HdlError, match=r"row 0 reaches -2\.\.16; use acc_width >= 6"):
        MatVecUnit(acc_width=5, **kwargs)


@pytest.mark.parametrize("cols, pe, sequential", [(16, 1, True), (16, 2, True), (15, 1, False)],
                         ids=["row-takes-L+1-cycles", "two-pe", "row-takes-L-cycles"])
def test_mvu_walks_thresholds_one_per_cycle_when_a_row_is_long_enough(cols, pe, sequential):
    """15 thresholds (4-bit output): compared one per cycle from a table only when a row
    takes more than 15 cycles; exact and at full rate either way."""
    rng = np.random.default_rng(cols + pe)
    rows = 4
    weights = rng.integers(-8, 8, size=(rows, cols))
    bias = rng.integers(-30, 31, size=rows)
    thresholds = np.sort(rng.integers(-300, 301, size=(rows, 15)), axis=1)
    unit = MatVecUnit(weights=weights, in_width=4, in_signed=True, w_width=4, w_signed=True,
                      acc_width=16, bias=bias, pe=pe, thresholds=thresholds, out_width=5,
                      out_signed=True, out_bias=-7)
    assert unit.sequential_thresholds is sequential
    xs = [random_inputs(rng, cols, 4, True) for _ in range(12)]
    _run(unit, weights, xs, bias=bias, thresholds=thresholds, out_bias=-7,
         p_in_stall=0.3, p_out_stall=0.3, seed=cols)
    result = _run(unit, weights, xs[:4], bias=bias, thresholds=thresholds, out_bias=-7)
    period = unit.cycles_per_frame
    assert np.diff(result["output_cycles"]).tolist() == [period] * 3
    assert result["output_cycles"][0] - result["offer_cycles"][0] == unit.latency
