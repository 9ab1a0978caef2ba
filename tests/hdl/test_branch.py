# amaranth: UnusedElaboratable=no
"""StreamFifo and Residual against numpy models, with random stalls on both ends; the
skip FIFO's sizing rule (deadlock and rate), errors, Verilog and estimates."""

import re

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from bitwave.errors import HdlError
from bitwave.hdl import (MatVecUnit, Residual, SlidingWindow, StreamFifo, ThresholdUnit,
                         emit_verilog, estimate_fifo, estimate_residual)
from frame_bench import run_frames
from hdl_bench import activation_model, pack, random_inputs, unpack


def sum_width(lo, hi):
    """The (width, signed) that holds lo..hi with the fewest bits."""
    if lo >= 0:
        return max(hi.bit_length(), 1), False
    return max((-lo - 1).bit_length(), hi.bit_length()) + 1, True


def extremes(width, signed):
    return (-(1 << (width - 1)), (1 << (width - 1)) - 1) if signed else (0, (1 << width) - 1)


def adder_format(a, b, mult_a, mult_b):
    """The tightest output format of a·mult_a + b·mult_b for element formats a and b."""
    (a_lo, a_hi), (b_lo, b_hi) = extremes(*a), extremes(*b)
    return sum_width(a_lo * mult_a + b_lo * mult_b, a_hi * mult_a + b_hi * mult_b)


# ---------------------------------------------------------------- StreamFifo

@pytest.mark.parametrize("depth", [1, 2, 3, 7, 40])
def test_fifo_passes_every_beat_in_order_under_random_stalls(depth):
    fifo = StreamFifo(elems=2, width=4, depth=depth)
    rng = np.random.default_rng(depth)
    beats = [int(v) for v in rng.integers(0, 256, size=60)]
    result = run_frames(fifo, beats, len(beats), p_in_stall=0.3, p_out_stall=0.5, seed=depth)
    assert result["outputs"] == beats


@pytest.mark.parametrize("depth, cycles, latency", [(1, 2, 1), (2, 2, 2), (3, 1, 2), (9, 1, 2)])
def test_fifo_rate_and_latency_without_stalls(depth, cycles, latency):
    fifo = StreamFifo(elems=1, width=3, depth=depth)
    result = run_frames(fifo, [i % 8 for i in range(12)], 12)
    assert (fifo.cycles_per_frame, fifo.latency) == (cycles, latency)
    assert set(np.diff(result["out_cycles"]).tolist()) == {cycles}
    assert result["out_cycles"][0] - result["in_cycles"][0] == latency


# ---------------------------------------------------------------- Residual, element branch

def requant_branch(elems, b, a):
    """A ThresholdUnit clipping b-format elements to the a format (every a value reachable)."""
    lo, hi = extremes(*a)
    return ThresholdUnit(n=elems, in_width=b[0], in_signed=b[1], requant=(3, 1, lo, hi),
                         out_width=a[0], out_signed=a[1])


def requant_model(x, a):
    lo, hi = extremes(*a)
    return np.array(activation_model(x, requant=(3, 1, lo, hi)))


# (a format, b format, mult_a, mult_b, skip stage): a is the branch output, b the skip output.
ADDER_CASES = {
    "unsigned + unsigned": ((3, False), (4, False), 1, 1, False),
    "signed·3 + unsigned": ((3, True), (4, False), 3, 1, False),
    "unsigned + signed·2": ((2, False), (4, True), 1, 2, False),
    "signed·2 + signed·5": ((4, True), (3, True), 2, 5, False),
    "skip stage, signed + unsigned·4": ((3, True), (2, False), 1, 4, True),
}


@pytest.mark.parametrize("case", ADDER_CASES)
def test_residual_adds_beat_by_beat_under_random_stalls(case):
    a, b, mult_a, mult_b, skip_stage = ADDER_CASES[case]
    elems = 3
    # The input has b's format unless a skip stage (clipping to b) comes first.
    x_format = (5, True) if skip_stage else b
    skip = [requant_branch(elems, x_format, b)] if skip_stage else []
    out_width, out_signed = adder_format(a, b, mult_a, mult_b)
    unit = Residual(branch=[requant_branch(elems, x_format, a)], skip=skip, fifo_depth=3,
                    elems=elems, a_width=a[0], a_signed=a[1], b_width=b[0], b_signed=b[1],
                    mult_a=mult_a, mult_b=mult_b, out_width=out_width, out_signed=out_signed)
    rng = np.random.default_rng(len(case))
    xs = [random_inputs(rng, elems, *x_format) for _ in range(80)]
    result = run_frames(unit, [pack(x, x_format[0]) for x in xs], len(xs), p_in_stall=0.3,
                        p_out_stall=0.4, seed=len(case))
    got = [unpack(o, elems, out_width, out_signed) for o in result["outputs"]]
    want = [(requant_model(x, a) * mult_a
             + (requant_model(x, b) if skip_stage else x) * mult_b).tolist() for x in xs]
    assert got == want


# (a format, b format, b_first, skip stage): the branch gives 3 elements of a; the skip path 3
# of b (the input itself, or a clipped copy); the output holds both, widened to one format.
CONCAT_CASES = {
    "unsigned ++ unsigned": ((3, False), (4, False), False, False),
    "signed ++ unsigned, skip first": ((3, True), (4, False), True, False),
    "skip stage, unsigned ++ signed": ((2, False), (3, True), False, True),
}


@pytest.mark.parametrize("case", CONCAT_CASES)
def test_concatenation_joins_the_channels_beat_by_beat_under_random_stalls(case):
    a, b, b_first, skip_stage = CONCAT_CASES[case]
    elems = 3
    x_format = (5, True) if skip_stage else b
    skip = [requant_branch(elems, x_format, b)] if skip_stage else []
    lo, hi = min(extremes(*a)[0], extremes(*b)[0]), max(extremes(*a)[1], extremes(*b)[1])
    out_width, out_signed = sum_width(lo, hi)
    unit = Residual(branch=[requant_branch(elems, x_format, a)], skip=skip, fifo_depth=3,
                    elems=elems, b_elems=elems, a_width=a[0], a_signed=a[1], b_width=b[0],
                    b_signed=b[1], out_width=out_width, out_signed=out_signed, join="concat",
                    b_first=b_first)
    rng = np.random.default_rng(len(case))
    xs = [random_inputs(rng, elems, *x_format) for _ in range(60)]
    result = run_frames(unit, [pack(x, x_format[0]) for x in xs], len(xs), p_in_stall=0.3,
                        p_out_stall=0.4, seed=len(case))
    got = [unpack(o, 2 * elems, out_width, out_signed) for o in result["outputs"]]
    want = []
    for x in xs:
        wet, dry = requant_model(x, a).tolist(), (requant_model(x, b) if skip_stage else np.array(x)).tolist()
        want.append(dry + wet if b_first else wet + dry)
    assert got == want


@pytest.mark.parametrize("changes, message", [
    (dict(mult_a=2), "a concatenation has no multipliers"),
    (dict(out_width=3), r"b elements \(unsigned\(4\)\) do not fit the output unsigned\(3\)"),
    (dict(join="mul"), "join must be 'add' or 'concat'"),
])
def test_concatenation_rejects_bad_parameters(changes, message):
    params = dict(branch=[requant_branch(2, (4, False), (3, False))], fifo_depth=3, elems=2,
                  a_width=3, a_signed=False, b_width=4, b_signed=False, out_width=4,
                  out_signed=False, join="concat")
    with pytest.raises(HdlError, match=message):
        Residual(**{**params, **changes})


# ---------------------------------------------------------------- Residual, convolution branch

def conv_branch(rng, height, width, channels, *, simd):
    """A 3×3 "same" convolution (window + MVU with 2-bit thresholded outputs) over 4-bit
    pixels, and its numpy model from one H×W×C frame to the H×W×C result."""
    window = SlidingWindow(height=height, width=width, channels=channels, elem_width=4,
                           signed=False, kernel=(3, 3), padding=(1, 1, 1, 1))
    weights = rng.integers(-2, 2, size=(channels, 9 * channels))
    thresholds = np.sort(rng.integers(-30, 30, size=(channels, 3)), axis=1)
    mvu = MatVecUnit(weights=weights, in_width=4, in_signed=False, w_width=2, w_signed=True,
                     acc_width=12, pe=channels, simd=simd, thresholds=thresholds, out_width=2,
                     out_signed=False)

    def model(frame):
        padded = np.pad(frame, ((1, 1), (1, 1), (0, 0)))
        # (H, W, C, ky, kx) -> windows in the unit's (ky, kx, c) order.
        views = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(0, 1))
        windows = views.transpose(0, 1, 3, 4, 2).reshape(-1, 9 * channels)
        return np.array([activation_model(weights @ w, thresholds=thresholds) for w in windows])

    return [window, mvu], model


def conv_residual(height, width, channels, fifo_depth, *, simd=None, seed=0):
    """The residual block over :func:`conv_branch`; ``fifo_depth`` may be a function of
    the branch's latency."""
    stages, model = conv_branch(np.random.default_rng(seed), height, width, channels,
                                simd=simd or 9 * channels)
    if callable(fifo_depth):
        fifo_depth = fifo_depth(sum(stage.latency for stage in stages))
    unit = Residual(branch=stages, fifo_depth=fifo_depth, elems=channels, a_width=2,
                    a_signed=False, b_width=4, b_signed=False, mult_a=3, mult_b=1,
                    out_width=5, out_signed=False)
    return unit, model


def run_conv(unit, model, frames, **bench):
    height, width, channels = frames[0].shape
    pixels = [pack(p, 4) for frame in frames for p in frame.reshape(-1, channels)]
    result = run_frames(unit, pixels, len(pixels), **bench)
    got = [unpack(o, channels, 5, False) for o in result["outputs"]]
    want = [row.tolist() for frame in frames
            for row in model(frame) * 3 + frame.reshape(-1, channels)]
    assert got == want
    return result


def random_frames(rng, count, height, width, channels):
    return [random_inputs(rng, height * width * channels, 4, False)
            .reshape(height, width, channels) for _ in range(count)]


@pytest.mark.parametrize("simd", [None, 6])
def test_residual_convolution_with_the_smallest_fifo_under_random_stalls(simd):
    """fifo_depth = W + 1 (the deadlock bound for a 3×3 same convolution) suffices with
    stalls on both ends, for a one-cycle and a folded (3 cycles per pixel) MVU."""
    height, width, channels = 4, 5, 2
    unit, model = conv_residual(height, width, channels, width + 1, simd=simd, seed=1)
    frames = random_frames(np.random.default_rng(2), 3, height, width, channels)
    run_conv(unit, model, frames, p_in_stall=0.3, p_out_stall=0.3, seed=simd or 1)


def test_residual_fifo_below_the_bound_deadlocks_and_the_bound_runs():
    height, width, channels = 3, 6, 2
    frames = random_frames(np.random.default_rng(3), 2, height, width, channels)
    small, model = conv_residual(height, width, channels, width)
    with pytest.raises(AssertionError, match=f"only 0 of 36 outputs and {width} of 36 inputs"):
        run_conv(small, model, frames, max_cycles=400)
    enough, model = conv_residual(height, width, channels, width + 1)
    run_conv(enough, model, frames)


def test_residual_keeps_the_branch_rate_with_a_fifo_of_its_latency():
    """Three frames back to back, no stalls: one pixel per cycle when fifo_depth covers
    the branch latency, slower with one beat less; latency as stated."""
    height, width, channels = 3, 5, 2
    frames = random_frames(np.random.default_rng(4), 3, height, width, channels)
    short, model = conv_residual(height, width, channels, lambda latency: latency)
    slow = run_conv(short, model, frames)
    assert slow["out_cycles"][-1] - slow["out_cycles"][0] > 3 * height * width - 1

    unit, model = conv_residual(height, width, channels, lambda latency: latency + 1)
    assert unit.latency == sum(stage.latency for stage in unit.branch) + 1 == unit.fifo_depth
    assert unit.cycles_per_frame == height * width
    result = run_conv(unit, model, frames)
    assert np.diff(result["out_cycles"]).tolist() == [1] * (3 * height * width - 1)
    assert np.diff(result["in_cycles"]).tolist() == [1] * (3 * height * width - 1)
    assert result["out_cycles"][0] - result["in_cycles"][0] == unit.latency


def test_residual_emits_verilog_with_the_fifo_ring():
    unit, _ = conv_residual(4, 32, 2, 40)
    text = emit_verilog(unit)
    assert "module bitwave_top" in text and "storage" in text


# ---------------------------------------------------------------- errors

ADDER = dict(fifo_depth=3, elems=2, a_width=3, a_signed=False, b_width=4, b_signed=False,
             out_width=5, out_signed=False)


@pytest.mark.parametrize("changes, message", [
    (dict(out_width=4), "Residual: sums a·1 + b·1 of a unsigned(3) and b unsigned(4) reach "
                        "0..22, which does not fit unsigned(4); use out_width >= 5"),
    (dict(a_signed=True, out_width=8),
     "Residual: sums a·1 + b·1 of a signed(3) and b unsigned(4) reach -4..18, which does not "
     "fit unsigned(8); use out_signed=True and out_width >= 6"),
    (dict(mult_b=3, out_signed=True, out_width=6),
     "Residual: sums a·1 + b·3 of a unsigned(3) and b unsigned(4) reach 0..52, which does not "
     "fit signed(6); use out_signed=True and out_width >= 7"),
    (dict(mult_a=0), "Residual: mult_a must be a positive integer, not 0"),
    (dict(b_signed=1), "Residual: b_signed must be a bool, not 1"),
    (dict(fifo_depth=2), "Residual: fifo_depth must be at least 3, not 2: a smaller FIFO passes "
                         "a beat only every other cycle"),
    (dict(branch=[]), "Residual: branch: stages must contain at least one component"),
    (dict(skip=[3]), "Residual: skip: stage 0 (int) must be a component with an In stream "
                     "member 'sink' and an Out stream member 'source'"),
    (dict(a_width=2, out_width=5), "Residual: the branch emits 6-bit beats but elems·a_width = "
     "2·2 = 4; pass the element format of its output as a_width"),
    (dict(b_width=3), "Residual: the branch takes 8-bit beats but the skip path (identity, "
                      "elems·b_width = 2·3) takes 6-bit beats; both paths see the same input"),
    (dict(skip=[requant_branch(2, (4, False), (2, False))]),
     "Residual: the skip path emits 4-bit beats but elems·b_width = 2·4 = 8; pass the element "
     "format of its output as b_width"),
    (dict(branch=[SlidingWindow(height=4, width=4, channels=2, elem_width=3, signed=False,
                                kernel=(1, 1), stride=(2, 2))], b_width=3),
     "Residual: the branch emits 1/4 beats per input beat but the skip path 1; the adder pairs "
     "beats one to one, so a window with stride on one path needs the same on the other"),
])
def test_residual_rejects_bad_parameters(changes, message):
    with pytest.raises(HdlError) as info:
        Residual(**(dict(branch=[requant_branch(2, (4, False), (3, False))], skip=[], **ADDER)
                    | changes))
    assert str(info.value) == message


@pytest.mark.parametrize("kwargs, message", [
    (dict(depth=0), "StreamFifo: depth must be a positive integer, not 0"),
    (dict(width=2.0), "StreamFifo: width must be an integer, not 2.0"),
])
def test_fifo_rejects_bad_parameters(kwargs, message):
    params = dict(elems=1, width=4, depth=4) | kwargs
    with pytest.raises(HdlError) as info:
        StreamFifo(**params)
    assert str(info.value) == message


# ---------------------------------------------------------------- estimates

def test_fifo_estimate_puts_deep_rings_in_block_ram():
    deep = estimate_fifo(elems=2, width=4, depth=40)
    shallow = estimate_fifo(elems=2, width=4, depth=5)
    assert (deep.resources.bram, shallow.resources.bram) == (1, 0)
    # In block RAM only the old-word bypass is logic: a mux and two registers per bit,
    # the 6-bit address compared and kept.
    assert deep.parts["ring"] == (8 + 6, 2 * 8 + 6)
    # Four words of 8 bits in flip-flops, a 4:1 read mux per bit, a write decoder, and
    # the read register.
    assert shallow.parts["ring"] == (8 * 3 + 4, 4 * 8 + 8)
    for est in (deep, shallow):
        assert est.resources.lut == round(sum(lut for lut, _ in est.parts.values()))
        assert est.resources.ff == round(sum(ff for _, ff in est.parts.values()))


def test_residual_estimate_prices_fork_fifo_and_adder():
    est = estimate_residual(**ADDER)
    fifo = estimate_fifo(elems=2, width=4, depth=3)
    assert est.parts["skip fifo"] == (fifo.resources.lut, fifo.resources.ff)
    # Two 5-bit adders; multipliers of 1 are wiring.
    assert est.parts["adder"] == (10, 0)
    tripled = estimate_residual(**ADDER | dict(mult_a=3, out_width=6))
    assert tripled.parts["adder"][0] > 2 * 6
    assert estimate_residual(**ADDER | dict(fifo_depth=200)).resources.bram == 1
    with pytest.raises(HdlError, match="estimate_residual: sums a·1 \\+ b·1"):
        estimate_residual(**ADDER | dict(out_width=4))


@settings(max_examples=150, deadline=None)
@given(a=st.tuples(st.integers(1, 9), st.booleans()), b=st.tuples(st.integers(1, 9), st.booleans()),
       mult_a=st.integers(1, 9), mult_b=st.integers(1, 9),
       out=st.tuples(st.integers(1, 14), st.booleans()))
def test_adder_format_check_accepts_exactly_the_formats_that_hold_every_sum(a, b, mult_a, mult_b,
                                                                           out):
    params = dict(elems=1, fifo_depth=3, a_width=a[0], a_signed=a[1], b_width=b[0],
                  b_signed=b[1], mult_a=mult_a, mult_b=mult_b)
    (a_lo, a_hi), (b_lo, b_hi) = extremes(*a), extremes(*b)
    lo, hi = a_lo * mult_a + b_lo * mult_b, a_hi * mult_a + b_hi * mult_b

    def holds(width, signed):
        return width >= 1 and extremes(width, signed)[0] <= lo and hi <= extremes(width, signed)[1]

    try:
        estimate_residual(**params, out_width=out[0], out_signed=out[1])
        assert holds(*out)
    except HdlError as error:
        assert not holds(*out)
        # The suggestion keeps the asked signedness unless a sum is negative, and is tight.
        width = int(re.search(r"out_width >= (\d+)", str(error)).group(1))
        signed = "out_signed=True" in str(error)
        assert signed == (out[1] or lo < 0)
        assert holds(width, signed) and not holds(width - 1, signed)
