# amaranth: UnusedElaboratable=no
"""SlidingWindow and TemporalWindow against numpy models, with random stalls on both sides."""

import numpy as np
import pytest
from amaranth.hdl import ResetInserter, Signal
from amaranth.sim import Simulator

from bitwave.errors import HdlError
from bitwave.hdl import (SlidingWindow, TemporalWindow, emit_verilog, estimate_sliding_window,
                         estimate_temporal_window)
from frame_bench import run_frames
from hdl_bench import pack, random_inputs, unpack


def window_model(frame, *, kernel, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1),
                 pad_code=0):
    """The windows of one H×W×C frame, row-major, each flattened in (ky, kx, c) order."""
    height, width, channels = frame.shape
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    top, bottom, left, right = padding
    padded = np.full((height + top + bottom, width + left + right, channels), pad_code)
    padded[top:top + height, left:left + width] = frame
    rows = np.arange(0, padded.shape[0] - dh * (kh - 1), sh)
    cols = np.arange(0, padded.shape[1] - dw * (kw - 1), sw)
    return [padded[oy + dh * np.arange(kh)[:, None], ox + dw * np.arange(kw)[None, :]].reshape(-1)
            for oy in rows for ox in cols]


def run_sliding(frames, p_stall, seed, **params):
    unit = SlidingWindow(**params)
    w, signed = params["elem_width"], params["signed"]
    pixels = [pack(pixel, w) for frame in frames for pixel in frame.reshape(-1, frame.shape[2])]
    result = run_frames(unit, pixels, len(frames) * unit.beats_out, p_in_stall=p_stall,
                        p_out_stall=p_stall, seed=seed)
    kh, kw = params["kernel"]
    got = [unpack(o, kh * kw * params["channels"], w, signed) for o in result["outputs"]]
    return unit, result, got


def random_frames(rng, count, height, width, channels, elem_width, signed):
    return [random_inputs(rng, height * width * channels, elem_width, signed)
            .reshape(height, width, channels) for _ in range(count)]


SLIDING_CASES = {
    "3x3 same, signed, 3 channels": dict(height=5, width=6, channels=3, elem_width=4,
                                         signed=True, kernel=(3, 3), padding=(1, 1, 1, 1)),
    "stride 2, odd size, pad code": dict(height=7, width=7, channels=1, elem_width=3,
                                         signed=False, kernel=(3, 3), stride=(2, 2),
                                         padding=(1, 1, 1, 1), pad_code=5),
    "dilation 2": dict(height=6, width=7, channels=2, elem_width=4, signed=True,
                       kernel=(3, 3), dilation=(2, 2), padding=(2, 1, 2, 0), pad_code=-3),
    "1-D same": dict(height=1, width=9, channels=3, elem_width=4, signed=False,
                     kernel=(1, 3), padding=(0, 0, 1, 1)),
    "1-D stride 2 dilation 2": dict(height=1, width=11, channels=1, elem_width=4, signed=True,
                                    kernel=(1, 3), stride=(1, 2), dilation=(1, 2),
                                    padding=(0, 0, 2, 1), pad_code=-8),
    "pool 2x2/2": dict(height=6, width=5, channels=3, elem_width=2, signed=False,
                       kernel=(2, 2), stride=(2, 2)),
    "pool 2x2/2 padded": dict(height=4, width=4, channels=1, elem_width=4, signed=True,
                              kernel=(2, 2), stride=(2, 2), padding=(1, 1, 1, 1), pad_code=-8),
    "2x2 stride 1 padded both sides": dict(height=3, width=4, channels=1, elem_width=3,
                                           signed=False, kernel=(2, 2), padding=(1, 1, 1, 1)),
    "kernel wider than the image": dict(height=2, width=2, channels=2, elem_width=3,
                                        signed=True, kernel=(3, 3), padding=(1, 1, 1, 1)),
    "one pixel": dict(height=1, width=1, channels=1, elem_width=2, signed=False,
                      kernel=(3, 3), padding=(1, 1, 1, 1), pad_code=3),
    "rows in block RAM, 2x3 kernel": dict(height=3, width=40, channels=1, elem_width=8,
                                          signed=True, kernel=(2, 3), padding=(1, 0, 1, 1)),
}


@pytest.mark.parametrize("case", SLIDING_CASES)
def test_sliding_window_matches_model_under_random_stalls(case):
    params = SLIDING_CASES[case]
    rng = np.random.default_rng(len(case))
    frames = random_frames(rng, 3, params["height"], params["width"], params["channels"],
                           params["elem_width"], params["signed"])
    unit, _, got = run_sliding(frames, 0.3, len(case), **params)
    model = {k: v for k, v in params.items()
             if k in ("kernel", "stride", "padding", "dilation", "pad_code")}
    want = [list(wnd) for frame in frames for wnd in window_model(frame, **model)]
    assert len(want) == 3 * unit.beats_out == 3 * unit.out_height * unit.out_width
    assert got == want


def test_sliding_window_keeps_long_rows_in_memory():
    def memories(case):
        return SlidingWindow.check(**SLIDING_CASES[case])["delay"].memories
    assert memories("rows in block RAM, 2x3 kernel") == (37,)
    assert memories("3x3 same, signed, 3 channels") == ()


@pytest.mark.parametrize("case, cycles", [
    ("3x3 same, signed, 3 channels", 5 * 6),
    ("stride 2, odd size, pad code", 7 * 7),
    ("1-D same", 9),
    ("pool 2x2/2", 6 * 5),
    # Bottom-right windows that reach into the padding delay the next frame by one row.
    ("pool 2x2/2 padded", 4 * 4 + 5),
    # As many windows as padded positions less one row and column: one window per cycle.
    ("2x2 stride 1 padded both sides", 4 * 5),
])
def test_sliding_window_throughput_and_latency_without_stalls(case, cycles):
    params = SLIDING_CASES[case]
    rng = np.random.default_rng(1)
    frames = random_frames(rng, 4, params["height"], params["width"], params["channels"],
                           params["elem_width"], params["signed"])
    unit, result, _ = run_sliding(frames, 0.0, 0, **params)
    assert unit.cycles_per_frame == cycles
    assert max(unit.beats_in, unit.beats_out) <= cycles <= max(unit.beats_in,
                                                                unit.beats_out) + 5
    firsts = result["out_cycles"][::unit.beats_out]
    assert np.diff(firsts).tolist() == [cycles] * 3
    assert firsts[0] - result["in_cycles"][0] == unit.latency


def temporal_model(samples, taps, dilation):
    """Each sample's window: taps oldest first, zeros before the first sample."""
    history = np.concatenate([np.zeros(((taps - 1) * dilation, samples.shape[1]), int), samples])
    return [history[t + dilation * np.arange(taps)].reshape(-1) for t in range(len(samples))]


@pytest.mark.parametrize("channels, elem_width, signed, taps, dilation", [
    (1, 4, True, 3, 1),
    (3, 3, False, 4, 2),
    (1, 8, True, 3, 40),      # history in block RAM
    (2, 2, False, 1, 1),
])
def test_temporal_window_matches_model_under_random_stalls(channels, elem_width, signed, taps,
                                                           dilation):
    unit = TemporalWindow(channels=channels, elem_width=elem_width, signed=signed, taps=taps,
                          dilation=dilation)
    rng = np.random.default_rng(taps + dilation)
    samples = random_inputs(rng, 120 * channels, elem_width, signed).reshape(120, channels)
    result = run_frames(unit, [pack(s, elem_width) for s in samples], len(samples),
                        p_in_stall=0.3, p_out_stall=0.3, seed=dilation)
    got = [unpack(o, taps * channels, elem_width, signed) for o in result["outputs"]]
    assert got == [list(w) for w in temporal_model(samples, taps, dilation)]
    assert bool(unit.delay.memories) == (dilation == 40)


def test_temporal_window_takes_one_sample_per_cycle():
    unit = TemporalWindow(channels=2, elem_width=4, signed=False, taps=3, dilation=3)
    result = run_frames(unit, [pack([i % 16, 3], 4) for i in range(20)], 20)
    assert np.diff(result["out_cycles"]).tolist() == [1] * 19
    assert result["out_cycles"][0] - result["in_cycles"][0] == unit.latency == 2


def test_temporal_window_forgets_its_history_on_reset():
    """After a reset the window holds zeros again, also where the history is in a Memory."""
    unit = TemporalWindow(channels=1, elem_width=8, signed=False, taps=2, dilation=60)
    assert unit.delay.memories
    clear = Signal()
    seen = []

    async def bench(ctx):
        ctx.set(unit.source.ready, 1)
        for phase, first in ((0, 1), (1, 101)):
            for i in range(70):
                ctx.set(unit.sink.valid, 1)
                ctx.set(unit.sink.payload, first + i)
                await ctx.tick()
                if ctx.get(unit.source.valid):
                    seen.append(ctx.get(unit.source.payload))
            ctx.set(unit.sink.valid, 0)
            for _ in range(3):
                await ctx.tick()
                if ctx.get(unit.source.valid):
                    seen.append(ctx.get(unit.source.payload))
            ctx.set(clear, 1)
            await ctx.tick()
            ctx.set(clear, 0)

    sim = Simulator(ResetInserter(clear)(unit))
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    windows = [unpack(word, 2, 8, False) for word in seen]
    want = [[x - 60 if x - 60 >= first else 0, x] for first in (1, 101)
            for x in range(first, first + 70)]
    assert windows == want


@pytest.mark.parametrize("kwargs, message", [
    (dict(kernel=3), "SlidingWindow: kernel must be a tuple (kh, kw) of positive integers, "
                     "not 3"),
    (dict(kernel=(3, 0)), "SlidingWindow: kernel kw must be a positive integer, not 0"),
    (dict(stride=(1, 1, 1)), "SlidingWindow: stride must be a tuple (sh, sw) of positive "
                             "integers, not (1, 1, 1)"),
    (dict(padding=(1, 1, -1, 1)), "SlidingWindow: padding left must be a non-negative "
                                  "integer, not -1"),
    (dict(padding=(0, 3, 0, 0)), "SlidingWindow: padding bottom=3 exceeds the kernel's reach "
     "(kh - 1)·dh = 2, so some windows would hold padding only; pad at most 2 on that side"),
    (dict(kernel=(1, 3), padding=(1, 0, 0, 0)), "SlidingWindow: padding top=1 exceeds the "
     "kernel's reach (kh - 1)·dh = 0, so some windows would hold padding only; pad at most 0 "
     "on that side"),
    (dict(width=2, dilation=(1, 2)), "SlidingWindow: the kernel spans 5 but the padded width "
     "is only 2; use a smaller kernel or dilation, or more padding"),
    (dict(pad_code=8), "SlidingWindow: pad_code=8 does not fit the elements' signed(4); pass "
                       "a code in -8..7"),
    (dict(channels=0), "SlidingWindow: channels must be a positive integer, not 0"),
    (dict(signed=1), "SlidingWindow: signed must be a bool, not 1"),
])
def test_sliding_window_rejects_bad_parameters(kwargs, message):
    params = dict(height=4, width=4, channels=1, elem_width=4, signed=True, kernel=(3, 3))
    params.update(kwargs)
    with pytest.raises(HdlError) as info:
        SlidingWindow(**params)
    assert str(info.value) == message
    with pytest.raises(HdlError):
        estimate_sliding_window(**params)


@pytest.mark.parametrize("kwargs, message", [
    (dict(taps=0), "TemporalWindow: taps must be a positive integer, not 0"),
    (dict(dilation=1.5), "TemporalWindow: dilation must be an integer, not 1.5"),
    (dict(elem_width=-2), "TemporalWindow: elem_width must be a positive integer, not -2"),
])
def test_temporal_window_rejects_bad_parameters(kwargs, message):
    params = dict(channels=2, elem_width=4, signed=False, taps=3)
    params.update(kwargs)
    with pytest.raises(HdlError) as info:
        TemporalWindow(**params)
    assert str(info.value) == message


def test_window_units_emit_verilog_with_their_line_buffers():
    sliding = SlidingWindow(**SLIDING_CASES["rows in block RAM, 2x3 kernel"])
    temporal = TemporalWindow(channels=1, elem_width=8, signed=True, taps=3, dilation=40)
    for unit, ring in ((sliding, "line_ring37"), (temporal, "history_ring39")):
        text = emit_verilog(unit)
        assert "module bitwave_top" in text and ring in text


def test_window_estimates_count_block_ram_padding_and_parts():
    big = estimate_sliding_window(**SLIDING_CASES["rows in block RAM, 2x3 kernel"])
    small = estimate_sliding_window(**SLIDING_CASES["3x3 same, signed, 3 channels"])
    unpadded = estimate_sliding_window(**SLIDING_CASES["pool 2x2/2"])
    assert (big.resources.bram, small.resources.bram) == (1, 0)
    assert unpadded.parts["padding"] == (0, 0) != small.parts["padding"]
    for est in (big, small, unpadded):
        assert est.resources.lut == round(sum(lut for lut, _ in est.parts.values()))
        assert est.resources.ff == round(sum(ff for _, ff in est.parts.values()))
    # 3x3 taps, 3 channels of 4 bits, rows 0..1 gaps of 3 pixels in flip-flops.
    assert small.parts["delay line"] == (0, (9 + 2 * 3) * 12)
    temporal = estimate_temporal_window(channels=1, elem_width=8, signed=True, taps=3,
                                        dilation=40)
    # Taps in the RAM; two 6-bit pointers and the 16-bit bypass Yosys adds around it.
    assert temporal.resources.bram == 1
    assert temporal.parts["delay line"] == (2 * 6 + 16 + 6, 2 * 6 + 16 + 1)
