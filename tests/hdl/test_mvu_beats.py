# amaranth: UnusedElaboratable=no
"""MatVecUnit taking its input vector one slice per beat (``in_beats = cols/simd``):
the two-bank slice buffer against numpy with random stalls, its rate and latency,
the memory it asks for, and the parameter check."""

import numpy as np
import pytest

from bitwave.errors import HdlError
from bitwave.hdl import MatVecUnit, emit_verilog
from bitwave.hdl._mvu_input import slice_buffer_attrs
from frame_bench import run_frames
from hdl_bench import mvu_model, pack, random_inputs, unpack


def _unit(rng, rows, cols, pe, simd, iw, signed, bipolar, wbipolar, thresholds=None, **extra):
    if wbipolar:
        weights = rng.choice([-1, 1], size=(rows, cols))
        wfmt = dict(w_width=1, w_signed=False, w_bipolar=True)
    else:
        weights = rng.integers(-4, 4, size=(rows, cols))
        wfmt = dict(w_width=3, w_signed=True)
    bias = None if bipolar else rng.integers(-9, 10, size=rows)
    act = {}
    if thresholds:
        act = dict(thresholds=np.sort(rng.integers(-30, 31, size=(rows, thresholds)), axis=1),
                   out_width=3, out_signed=False)
    unit = MatVecUnit(weights=weights, in_width=iw, in_signed=signed, in_bipolar=bipolar,
                      acc_width=16, bias=bias, pe=pe, simd=simd, in_beats=cols // simd,
                      **wfmt, **act, **extra)
    return unit, weights, bias, act.get("thresholds")


def _beats(unit, xs):
    """Each vector as ``in_beats`` payloads of ``simd`` elements."""
    return [pack(x[b * unit.simd:(b + 1) * unit.simd], unit.in_width, unit.in_bipolar)
            for x in xs for b in range(unit.in_beats)]


# (rows, cols, pe, simd, in width, signed, bipolar, ±1 weights): the three lane shapes
SHAPES = [
    pytest.param(8, 12, 4, 3, 1, False, True, True, id="xnor"),
    pytest.param(8, 12, 4, 4, 6, True, False, True, id="pairs"),
    pytest.param(4, 10, 2, 2, 4, False, False, False, id="products"),
    pytest.param(6, 8, 6, 2, 5, True, False, True, id="pairs-one-row-group"),
    # 32 words × 64 bits: weights in block RAM, registered before the lanes
    pytest.param(32, 64, 4, 16, 1, False, True, True, id="xnor-weights-in-block-ram"),
    pytest.param(32, 64, 4, 16, 4, False, False, True, id="pairs-weights-in-block-ram"),
]


@pytest.mark.parametrize("rows, cols, pe, simd, iw, signed, bipolar, wb", SHAPES)
@pytest.mark.parametrize("thresholds", [0, 1, 3])
def test_slice_beats_match_numpy_under_random_stalls(rows, cols, pe, simd, iw, signed, bipolar,
                                                      wb, thresholds):
    rng = np.random.default_rng([rows, cols, pe, simd, iw, thresholds])
    unit, weights, bias, thr = _unit(rng, rows, cols, pe, simd, iw, signed, bipolar, wb,
                                     thresholds)
    assert unit.sink.payload.shape().width == simd * iw
    assert unit.weights_in_block_ram == (cols == 64)
    xs = [random_inputs(rng, cols, iw, signed, bipolar) for _ in range(9)]
    result = run_frames(unit, _beats(unit, xs), len(xs), p_in_stall=0.4, p_out_stall=0.4,
                        seed=rows + cols + thresholds)
    width = unit.out_width
    got = [unpack(o, rows, width, unit.out_signed) for o in result["outputs"]]
    assert got == [mvu_model(weights, x, bias=bias, thresholds=thr) for x in xs]


@pytest.mark.parametrize("rows, cols, pe, simd, iw, signed, bipolar, wb", SHAPES)
def test_slice_beats_keep_the_folded_rate_and_the_stated_latency(rows, cols, pe, simd, iw, signed,
                                                                 bipolar, wb):
    rng = np.random.default_rng(5)
    unit, weights, bias, _ = _unit(rng, rows, cols, pe, simd, iw, signed, bipolar, wb)
    xs = [random_inputs(rng, cols, iw, signed, bipolar) for _ in range(6)]
    result = run_frames(unit, _beats(unit, xs), len(xs))
    period = unit.cycles_per_frame
    assert period == (rows // pe) * (cols // simd)
    # fed and drained at full rate: one vector per folded cycles, the first
    # output `latency` cycles after its first beat
    assert np.diff(result["out_cycles"]).tolist() == [period] * (len(xs) - 1)
    assert result["out_cycles"][0] - result["in_cycles"][0] == unit.latency
    # the next vector's beats arrive while the current one is processed
    firsts = result["in_cycles"][::unit.in_beats]
    assert firsts[1] - firsts[0] == unit.in_beats
    got = [unpack(o, rows, unit.out_width, unit.out_signed) for o in result["outputs"]]
    assert got == [mvu_model(weights, x, bias=bias) for x in xs]


def test_slice_buffer_large_enough_for_block_ram_asks_for_it():
    # TFC's first layer with an 8-bit input: 2 banks × 16 slices × 392 bits
    assert slice_buffer_attrs(16, 49 * 8) == {"ram_style": "block"}
    assert slice_buffer_attrs(16, 49) == {}
    rng = np.random.default_rng(0)
    unit, *_ = _unit(rng, 2, 128, 2, 8, 8, True, False, True)   # 32 words × 64 bits
    verilog = emit_verilog(unit)
    assert 'ram_style = "block"' in verilog


@pytest.mark.parametrize("in_beats", [0, 2, 8])
def test_in_beats_other_than_one_or_the_slice_count_is_refused(in_beats):
    message = (f"MatVecUnit: in_beats={in_beats} is neither 1 (the whole vector in one beat) "
               f"nor cols/simd=4 (one slice per beat); use one of them")
    if in_beats == 0:
        message = "MatVecUnit: in_beats must be a positive integer, not 0"
    with pytest.raises(HdlError) as err:
        MatVecUnit(weights=[[1] * 8], in_width=2, in_signed=False, w_width=2, w_signed=True,
                   acc_width=8, simd=2, in_beats=in_beats)
    assert str(err.value) == message


@pytest.mark.parametrize("thresholds", [0, 1])
def test_multiplier_pairs_with_weights_in_block_ram_match_numpy(thresholds):
    # weights in block RAM (registered, read a stage early) and the slice buffer,
    # as TFC's 8-bit first layer with pair terms on the multipliers
    rng = np.random.default_rng([5, thresholds])
    unit, weights, bias, thr = _unit(rng, 32, 64, 4, 16, 8, True, False, True, thresholds,
                                     mult_pairs=4)
    assert unit.weights_in_block_ram and unit.mult_pairs == 4
    xs = [random_inputs(rng, 64, 8, True) for _ in range(9)]
    xs += [np.where(weights[0] > 0, -128, 127), np.where(weights[0] > 0, 127, -128)]
    result = run_frames(unit, _beats(unit, xs), len(xs), p_in_stall=0.4, p_out_stall=0.4, seed=3)
    got = [unpack(o, 32, unit.out_width, unit.out_signed) for o in result["outputs"]]
    assert got == [mvu_model(weights, x, bias=bias, thresholds=thr) for x in xs]
