# amaranth: UnusedElaboratable=no
"""The matrix-vector unit's lane datapaths (bitwave/hdl/_popcount.py): XNOR popcount
compressor trees and shared pair sums for ±1 weights on multi-bit inputs, bit-exact
against numpy with random weights, inputs and stalls, at the latency the unit states."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from bitwave.hdl import MatVecUnit
from bitwave.hdl._popcount import LaneShape, lane_stages, pair_corrections
from hdl_bench import mvu_model, pack, random_inputs, stream, unpack


def _check(unit, weights, xs, *, bipolar_in, bias=None, **activation):
    result = stream(unit, [pack(x, unit.in_width, bipolar_in) for x in xs],
                    p_in_stall=0.3, p_out_stall=0.3, seed=len(xs))
    got = [unpack(o, unit.rows, unit.out_width, unit.out_signed) for o in result["outputs"]]
    assert got == [mvu_model(weights, x, bias=bias, **activation) for x in xs]


def _latency_matches(unit, payload):
    result = stream(unit, [payload])
    assert result["output_cycles"][0] - result["offer_cycles"][0] == unit.latency


@pytest.mark.parametrize("simd", [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 49])
def test_xnor_popcount_lanes_are_exact_for_every_simd(simd):
    rng = np.random.default_rng(simd)
    rows, cols, pe = 4, simd * 2, 2
    weights = rng.choice([-1, 1], size=(rows, cols))
    thresholds = np.sort(rng.integers(-cols, cols + 1, size=(rows, 1)), axis=1)
    unit = MatVecUnit(weights=weights, in_width=1, in_signed=False, in_bipolar=True, w_width=1,
                      w_signed=False, w_bipolar=True, acc_width=cols.bit_length() + 2, pe=pe,
                      simd=simd, thresholds=thresholds, out_width=1, out_signed=False)
    assert unit.lane_shape == LaneShape.XNOR
    xs = [random_inputs(rng, cols, 1, False, True) for _ in range(6)]
    xs.append(weights[0])                       # every product +1: the popcount's maximum
    _check(unit, weights, xs, bipolar_in=True, thresholds=thresholds)
    _latency_matches(unit, pack(xs[0], 1, True))


# (simd, in_width, in_signed, activation, pair terms per PE on multipliers)
PAIR_CASES = [
    pytest.param(2, 8, True, "thresholds", 0, id="s8-simd2-thr"),
    pytest.param(3, 8, True, "none", 0, id="s8-simd3-odd-none"),
    pytest.param(5, 4, False, "thresholds", 0, id="u4-simd5-odd-thr"),
    pytest.param(7, 8, True, "requant", 0, id="s8-simd7-requant"),
    pytest.param(8, 3, True, "thresholds3", 0, id="s3-simd8-3thr"),
    pytest.param(49, 8, True, "thresholds", 0, id="s8-simd49-tfc-layer1"),
    pytest.param(49, 8, True, "thresholds", 12, id="s8-simd49-tfc-layer1-mult12"),
    pytest.param(49, 8, True, "none", 9, id="s8-simd49-none-mult9"),
    pytest.param(3, 8, True, "none", 1, id="s8-simd3-odd-none-mult1"),
    pytest.param(5, 7, False, "thresholds", 1, id="u7-simd5-odd-thr-mult1"),
    pytest.param(7, 8, True, "requant", 1, id="s8-simd7-requant-mult1"),
    pytest.param(8, 3, True, "thresholds3", 2, id="s3-simd8-3thr-mult2"),
]


@pytest.mark.parametrize("simd, iw, isg, activation, mult_pairs", PAIR_CASES)
def test_pair_lanes_are_exact_under_stalls(simd, iw, isg, activation, mult_pairs):
    rng = np.random.default_rng([simd, iw])
    rows, cols, pe = 6, simd * 2, 3
    weights = rng.choice([-1, 1], size=(rows, cols))
    bias = rng.integers(-20, 21, size=rows)
    span = cols << iw
    kwargs = {}
    if activation == "thresholds":
        kwargs = dict(thresholds=np.sort(rng.integers(-span // 4, span // 4, (rows, 1)), 1),
                      out_width=1, out_signed=False)
    elif activation == "thresholds3":
        kwargs = dict(thresholds=np.sort(rng.integers(-span // 4, span // 4, (rows, 3)), 1),
                      out_width=3, out_signed=True, out_bias=-1)
    elif activation == "requant":
        kwargs = dict(requant=(3, 4, -8, 7), out_width=4, out_signed=True)
    unit = MatVecUnit(weights=weights, in_width=iw, in_signed=isg, w_width=1, w_signed=False,
                      w_bipolar=True, acc_width=iw + cols.bit_length() + 2, bias=bias, pe=pe,
                      simd=simd, mult_pairs=mult_pairs, **kwargs)
    assert unit.lane_shape == LaneShape.PAIRS
    lo, hi = (-(1 << (iw - 1)), (1 << (iw - 1)) - 1) if isg else (0, (1 << iw) - 1)
    xs = [random_inputs(rng, cols, iw, isg) for _ in range(6)]
    # the extremes: every term at its most negative and most positive
    xs += [np.where(weights[0] > 0, lo, hi), np.where(weights[0] > 0, hi, lo)]
    kwargs.pop("out_width", None), kwargs.pop("out_signed", None)
    _check(unit, weights, xs, bipolar_in=False, bias=bias, **kwargs)
    _latency_matches(unit, pack(xs[0], iw))


def test_pair_lanes_are_used_only_when_pes_share_them():
    kwargs = dict(weights=[[1, -1, 1, 1]] * 2, in_width=4, in_signed=True, w_width=1,
                  w_signed=False, w_bipolar=True, acc_width=10)
    assert MatVecUnit(pe=2, simd=2, **kwargs).lane_shape == LaneShape.PAIRS
    assert MatVecUnit(pe=1, simd=2, **kwargs).lane_shape == LaneShape.PRODUCTS
    assert MatVecUnit(pe=2, simd=1, **kwargs).lane_shape == LaneShape.PRODUCTS


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_pair_corrections_count_the_negated_first_elements(data):
    simd = data.draw(st.integers(1, 9))
    folds = data.draw(st.integers(1, 4))
    row = data.draw(st.lists(st.sampled_from([-1, 1]), min_size=simd * folds,
                             max_size=simd * folds))
    xs = data.draw(st.lists(st.integers(-128, 127), min_size=len(row), max_size=len(row)))
    # The hardware's terms: ones' complement of the pair (or single) value when
    # the first weight is -1; adding the corrections gives the exact dot product.
    total = 0
    for base in range(0, len(row), simd):
        for s in range(0, simd, 2):
            c = base + s
            value = xs[c] + (row[c] * row[c + 1] * xs[c + 1] if s + 1 < simd else 0)
            total += value if row[c] > 0 else ~value
    assert total + sum(pair_corrections([row], simd)[0]) == sum(w * x for w, x in zip(row, xs))


def test_lane_stages_grow_with_tree_depth():
    assert lane_stages(LaneShape.XNOR, 1) == 1
    assert lane_stages(LaneShape.XNOR, 49) > lane_stages(LaneShape.XNOR, 8)
    assert lane_stages(LaneShape.PRODUCTS, 1) == 1
    assert lane_stages(LaneShape.PAIRS, 2) == 2


@pytest.mark.parametrize("iw, ib, ww, wb, shape", [
    (1, True, 1, True, LaneShape.XNOR),
    (8, False, 1, True, LaneShape.PAIRS),
    (1, True, 4, False, LaneShape.PRODUCTS),
], ids=["xnor", "pairs", "products"])
def test_weights_in_block_ram_are_registered_before_the_lanes(iw, ib, ww, wb, shape):
    """64 words × 64 bits: block RAM, whose late data is registered first."""
    rng = np.random.default_rng(iw + ww)
    rows, cols = 64, 64
    pe, simd = (2, 32) if ww == 1 else (1, 16)
    weights = (rng.choice([-1, 1], size=(rows, cols)) if wb
               else rng.integers(-8, 8, size=(rows, cols)))
    unit = MatVecUnit(weights=weights, in_width=iw, in_signed=not ib, in_bipolar=ib,
                      w_width=ww, w_signed=not wb, w_bipolar=wb, acc_width=18, pe=pe,
                      simd=simd)
    assert unit.lane_shape == shape and unit.weights_in_block_ram
    assert unit.weight_register_stage == (shape != LaneShape.PAIRS)
    xs = [random_inputs(rng, cols, iw, not ib, ib) for _ in range(3)]
    _check(unit, weights, xs, bipolar_in=ib)
    _latency_matches(unit, pack(xs[0], iw, ib))
