# amaranth: UnusedElaboratable=no
"""WindowReduce against numpy, alone and after a SlidingWindow (max pooling)."""

import numpy as np
import pytest

from bitwave.errors import HdlError
from bitwave.hdl import (Chain, ReduceOp, SlidingWindow, WindowReduce, emit_verilog,
                         estimate_window_reduce)
from frame_bench import run_frames
from hdl_bench import pack, random_inputs, unpack

REDUCE = {"max": lambda v: v.max(axis=0), "sum": lambda v: v.sum(axis=0),
          "or": lambda v: v.max(axis=0)}


@pytest.mark.parametrize("positions, channels, elem_width, signed, op, out_width", [
    (9, 3, 4, True, "max", 4),
    (4, 1, 3, False, "max", 3),
    (9, 2, 4, True, "sum", 8),
    (5, 3, 3, False, "sum", 6),
    (4, 3, 1, False, "or", 1),
    (17, 2, 1, False, "or", 1),
    (1, 2, 4, True, "sum", 6),
    (2, 1, 4, True, ReduceOp.MAX, 4),
])
def test_window_reduce_matches_model_under_random_stalls(positions, channels, elem_width,
                                                         signed, op, out_width):
    unit = WindowReduce(positions=positions, channels=channels, elem_width=elem_width,
                        signed=signed, op=op, out_width=out_width)
    rng = np.random.default_rng(positions)
    windows = [random_inputs(rng, positions * channels, elem_width, signed) for _ in range(30)]
    result = run_frames(unit, [pack(w, elem_width) for w in windows], len(windows),
                        p_in_stall=0.3, p_out_stall=0.3, seed=positions)
    got = [unpack(o, channels, out_width, signed) for o in result["outputs"]]
    model = REDUCE[ReduceOp(op).value]
    assert got == [list(model(w.reshape(positions, channels))) for w in windows]


@pytest.mark.parametrize("positions, op, latency", [
    (1, "sum", 1), (2, "sum", 1), (9, "sum", 4), (9, "or", 2), (16, "or", 2), (17, "or", 3),
])
def test_window_reduce_takes_one_window_per_cycle(positions, op, latency):
    width = 1 if op == "or" else 3
    unit = WindowReduce(positions=positions, channels=2, elem_width=width, signed=False, op=op,
                        out_width=width if op == "or" else 7)
    windows = [[(i + p) % (1 << width) for p in range(2 * positions)] for i in range(10)]
    result = run_frames(unit, [pack(w, width) for w in windows], 10)
    assert np.diff(result["out_cycles"]).tolist() == [1] * 9
    assert result["out_cycles"][0] - result["in_cycles"][0] == unit.latency == latency


def test_sliding_window_and_window_reduce_chain_into_max_pooling():
    height, width, channels = 6, 4, 2
    pool = Chain([SlidingWindow(height=height, width=width, channels=channels, elem_width=4,
                                signed=True, kernel=(2, 2), stride=(2, 2)),
                  WindowReduce(positions=4, channels=channels, elem_width=4, signed=True,
                               op="max", out_width=4)])
    rng = np.random.default_rng(7)
    frames = random_inputs(rng, 2 * height * width * channels, 4, True).reshape(
        2, height, width, channels)
    pixels = [pack(p, 4) for p in frames.reshape(-1, channels)]
    result = run_frames(pool, pixels, 2 * 3 * 2, p_in_stall=0.2, p_out_stall=0.2)
    got = [unpack(o, channels, 4, True) for o in result["outputs"]]
    want = frames.reshape(2, 3, 2, 2, 2, channels).max(axis=(2, 4)).reshape(-1, channels)
    assert got == want.tolist()


@pytest.mark.parametrize("kwargs, message", [
    (dict(op="min"), "WindowReduce: op must be one of 'max', 'sum', 'or', not 'min'"),
    (dict(op="or"), "WindowReduce: op 'or' takes 1-bit unsigned elements (bipolar codes as "
                    "bits), not signed(4); use op 'max' for integers"),
    (dict(op="sum", out_width=7), "WindowReduce: out_width=7 cannot hold a sum of 9 signed(4) "
                                  "values (-72..63 needs 8 bits); pass out_width >= 8"),
    (dict(out_width=5), "WindowReduce: op 'max' keeps the element format, so out_width must "
                        "be elem_width=4, not 5"),
    (dict(positions=0), "WindowReduce: positions must be a positive integer, not 0"),
])
def test_window_reduce_rejects_bad_parameters(kwargs, message):
    params = dict(positions=9, channels=2, elem_width=4, signed=True, op="max", out_width=4)
    params.update(kwargs)
    with pytest.raises(HdlError) as info:
        WindowReduce(**params)
    assert str(info.value) == message


def test_window_reduce_emits_verilog_and_estimates_its_tree():
    params = dict(positions=9, channels=3, elem_width=4, signed=True)
    assert "module bitwave_top" in emit_verilog(WindowReduce(op="max", out_width=4, **params))
    estimates = {op: estimate_window_reduce(op=op, out_width=out, **params)
                 for op, out in (("max", 4), ("sum", 8))}
    bits = estimate_window_reduce(positions=9, channels=3, elem_width=1, signed=False,
                                  op="or", out_width=1)
    assert estimates["max"].parts["tree"][0] > estimates["sum"].parts["tree"][0] > \
        bits.parts["tree"][0] > 0
    # Registers after levels 1..3 of 4 (the root writes into the output buffer): 5 + 3 + 2.
    assert estimates["max"].parts["tree"][1] == 3 * (5 + 3 + 2) * 4
    assert all(e.resources.bram == 0 for e in (*estimates.values(), bits))
