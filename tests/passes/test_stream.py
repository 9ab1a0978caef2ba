"""``to-stream``: a causal Conv1d network on frames equals its stream, time step by time step."""

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from bitwave.errors import PassError
from bitwave.ir import (Add, Affine, CausalConv, Conv, Flatten, Graph, Input, Int, Interpreter,
                        MatVec, Output, Pool, Quant, parse_graph, print_graph, verify)
from bitwave.passes import (Fold, InferBitwidths, PassManager, Streamline, ToStream, parse_pipeline,
                            signal_rows)

GOLDEN = Path(__file__).parent.parent / "golden"


def tiny():
    """1 channel, frames of 8: conv k=3 d=2 (2 ch) → batch-norm → 4-bit ReLU → conv k=2 → bias."""
    return Graph((
        Input("x", n=8, fmt=Int(8, True), scale=1 / 128, shape=(1, 8)),
        Conv("c1", input="x", weight=[[1, -2, 3], [0, 1, -1]], wfmt=Int(3), wscale=0.25,
             kernel=(3,), pads=(4, 0), dilation=(2,)),
        Affine("bn", input="c1", mul=[1.5, -0.5], add=[0.01, 0.02]),
        Quant("act", input="bn", fmt=Int(4, False), scale=1 / 16),
        Conv("c2", input="act", weight=[[2, -1, 1, 3]], wfmt=Int(3), wscale=0.125,
             kernel=(2,), pads=(1, 0)),
        Affine("bias", input="c2", mul=[1.0], add=[0.0625]),
        Output("y", input="bias"),
    ))


def frames_and_stream(frame: Graph, stream: Graph, signal: np.ndarray):
    """Outputs of ``frame`` on ``signal`` (C, T) as (T, O) rows, and of ``stream`` on its rows."""
    whole = Interpreter(frame).output(signal[None]).reshape(signal.shape[1], -1)
    steps = Interpreter(stream).output(signal.T)
    return whole, steps


def test_tiny_by_hand():
    g = ToStream().run(tiny())
    verify(g)
    assert [op.opcode for op in g] == ["input", "causalconv", "affine", "quant", "causalconv",
                                       "affine", "output"]
    assert g.input.n == 1 and g.input.shape == () and g.input.scale == 1 / 128
    c1, c2 = g["c1"], g["c2"]
    assert (c1.taps, c1.dilation, c1.history) == (3, 2, 4) and (c2.taps, c2.dilation) == (2, 1)
    assert c1.weight == tiny()["c1"].weight and c1.wscale == tiny()["c1"].wscale
    signal = np.random.default_rng(0).uniform(-1, 1, size=(1, 8))
    whole, steps = frames_and_stream(tiny(), g, signal)
    np.testing.assert_array_equal(whole, steps)


def test_golden_text():
    g = PassManager(parse_pipeline("to-stream")).run(tiny())
    expected = (GOLDEN / "to_stream_tiny.txt").read_text()
    assert print_graph(g) == expected
    assert parse_graph(expected) == g


def random_tcn(seed: int, *, residual: bool = False) -> tuple[Graph, np.ndarray]:
    """A random causal dilated Conv1d stack on frames and a random signal for it."""
    rng = np.random.default_rng(seed)
    c_in, frame = int(rng.integers(1, 4)), int(rng.integers(1, 40))
    scale = float(rng.choice([1 / 64, 0.03, 0.5]))
    ops = [Input("x", n=c_in * frame, fmt=Int(int(rng.integers(3, 9)), True), scale=scale,
                 shape=(c_in, frame))]
    prev, c = "x", c_in
    layers = int(rng.integers(1, 5))
    for i in range(layers):
        taps, dil = int(rng.integers(1, 4)), int(rng.choice([1, 2, 4, 8]))
        groups = int(rng.choice([g for g in (1, 2) if c % g == 0]))
        out = groups * int(rng.integers(1, 4)) if i < layers - 1 else int(rng.integers(1, 3))
        if out % groups:
            groups = 1
        bias = rng.integers(-4, 5, size=out) if rng.integers(2) else None
        ops.append(Conv(f"c{i}", input=prev, weight=rng.integers(-3, 4, size=(out, taps * c // groups)),
                        wfmt=Int(3), wscale=float(rng.uniform(0.05, 0.3)), bias=bias,
                        kernel=(taps,), pads=((taps - 1) * dil, 0), dilation=(dil,), groups=groups))
        prev, c = f"c{i}", out
        if i < layers - 1 or rng.integers(2):
            ops.append(Affine(f"bn{i}", input=prev, mul=rng.uniform(-2, 2, size=c),
                              add=rng.uniform(-0.5, 0.5, size=c)))
            prev = f"bn{i}"
        if i < layers - 1:
            ops.append(Quant(f"a{i}", input=prev, fmt=Int(int(rng.integers(1, 5)), bool(rng.integers(2))),
                             scale=float(rng.uniform(0.05, 0.5))))
            prev = f"a{i}"
    ops.append(Output("y", input=prev))
    graph = Graph(tuple(ops))
    signal = rng.uniform(-1.2, 1.2, size=(c_in, frame)) * scale * (1 << 7)
    return graph, signal


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_stream_equals_frames_step_by_step(seed):
    frame, signal = random_tcn(seed)
    stream = ToStream().run(frame)
    verify(stream)
    whole, steps = frames_and_stream(frame, stream, signal)
    np.testing.assert_array_equal(whole, steps)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_to_stream_runs_before_or_after_streamline(seed):
    """Both orders give one graph, and it streams the streamlined frame graph's codes exactly."""
    frame, signal = random_tcn(seed)
    streamlined = PassManager(parse_pipeline("streamline,infer-bitwidths")).run(frame)
    late = ToStream().run(streamlined)
    early = PassManager(parse_pipeline("to-stream,streamline,infer-bitwidths")).run(frame)
    assert early == late
    whole, steps = frames_and_stream(streamlined, late, signal)
    np.testing.assert_array_equal(whole, steps)


def test_fold_before_keeps_the_folding_and_after_counts_per_sample():
    frame, _ = random_tcn(3)
    g = PassManager([Streamline(), InferBitwidths(), Fold(target_cycles=64)]).run(frame)
    streamed = ToStream().run(g)
    for a, b in zip(g, streamed):
        if isinstance(a, Conv):
            assert (b.pe, b.simd, b.acc) == (a.pe, a.simd, a.acc)
    refolded = Fold(target_cycles=4).run(ToStream().run(frame))
    assert all(op.cycles <= 4 for op in refolded if isinstance(op, CausalConv))


def test_residual_add_streams():
    rng = np.random.default_rng(5)
    g = Graph((Input("x", n=2 * 30, fmt=Int(4, False), scale=0.25, shape=(2, 30)),
               Conv("c", input="x", weight=rng.integers(-2, 3, size=(2, 6)), wfmt=Int(3), wscale=0.1,
                    kernel=(3,), pads=(8, 0), dilation=(4,)),
               Quant("q", input="c", fmt=Int(4, False), scale=0.25),
               Add("s", input="q", other="x"),
               Output("y", input="s")))
    signal = rng.uniform(0, 4, size=(2, 30))
    whole, steps = frames_and_stream(g, ToStream().run(g), signal)
    np.testing.assert_array_equal(whole, steps)


def test_signal_rows_plays_the_frames_one_after_another():
    frames = np.arange(2 * 3 * 4).reshape(2, 3, 4)          # N=2 frames, C=3, T=4
    rows = signal_rows(frames, 3)
    assert rows.shape == (8, 3)
    np.testing.assert_array_equal(rows[5], frames[1, :, 1])
    np.testing.assert_array_equal(signal_rows(frames.reshape(2, -1), 3), rows)
    with pytest.raises(PassError, match=r"shape \(2, 3, 4\), not frames of a signal of 2 channel"):
        signal_rows(frames, 2)


def _frame_with(op, shape=(1, 12)):
    return Graph((Input("x", n=int(np.prod(shape)), fmt=Int(4), shape=shape), op,
                  Output("y", input=op.name)))


@pytest.mark.parametrize("graph,message", [
    (_frame_with(Pool("p", input="x", kind="max", kernel=(2,), stride=(2,))),
     r"to-stream: pool op p mixes time steps"),
    (Graph((Input("x", n=12, fmt=Int(4), shape=(1, 12)), Flatten("f", input="x"),
            MatVec("d", input="f", weight=np.ones((2, 12))), Output("y", input="d"))),
     r"to-stream: flatten op f mixes time steps"),
    (_frame_with(Conv("c", input="x", weight=np.ones((1, 3)), kernel=(3,), pads=(2, 0), stride=(2,))),
     r"to-stream: op c: stride 2 drops time steps"),
    (_frame_with(Conv("c", input="x", weight=np.ones((1, 3)), kernel=(3,), pads=(1, 1))),
     r"to-stream: op c: padding \(1, 1\) \(left, right\) is not causal; .* needs \(2, 0\)"),
    (_frame_with(Conv("c", input="x", weight=np.ones((1, 3)), kernel=(3,), pads=(0, 0), dilation=(2,))),
     r"needs \(4, 0\): pad the input with F.pad\(x, \(4, 0\)\)"),
    (_frame_with(Conv("c", input="x", weight=np.ones((1, 4)), kernel=(2, 2)), shape=(1, 3, 3)),
     r"to-stream: op x: the input has shape \(1, 3, 3\)"),
    (Graph((Input("x", n=3, fmt=Int(4)), MatVec("d", input="x", weight=np.ones((2, 3))),
            Output("y", input="d"))),
     r"to-stream: op x: the input has shape \(3,\); to-stream reads a model of a signal"),
])
def test_refuses_what_mixes_time_steps(graph, message):
    with pytest.raises(PassError, match=message):
        ToStream().run(graph)
