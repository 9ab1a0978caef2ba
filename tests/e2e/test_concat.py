"""Concatenation of two paths' channels (``Concat``): types, interpreter, text form, folding of a
quantiser after it, and the RTL bit for bit with stalls — dense and convolutional blocks, with
the longer path on either side."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from bitwave.errors import VerifyError
from bitwave.ir import (Bipolar, Concat, Conv, Flatten, Graph, Input, Int, Interpreter, MatVec,
                        MultiThreshold, Output, Quant, parse_graph, print_graph)
from bitwave.passes import Fold, InferBitwidths, PassManager, default_passes

_SPEC = importlib.util.spec_from_file_location("_verified", Path(__file__).resolve().parent / "_verified.py")
_verified = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_verified)


def _thresholds(rng, lo, hi, channels, levels):
    return np.sort(rng.integers(lo, hi, size=(channels, levels)), axis=1)


def dense_block(rng, n=6, *, other_first=False):
    """x ─► dense → act ─┐
       └──────────────(++)→ dense   (``other_first``: the identity path is the Concat's input)."""
    act = (MatVec("m0", input="x", weight=rng.integers(-2, 3, size=(5, n)), wfmt=Int(3, True)),
           MultiThreshold("a0", input="m0", thresholds=_thresholds(rng, -12, 12, 5, 3),
                          fmt=Int(2, False), scale=0.5))
    join = Concat("c", input="x", other="a0") if other_first else Concat("c", input="a0", other="x")
    return InferBitwidths().run(Graph((
        Input("x", n=n, fmt=Int(4, True), scale=0.5), *act, join,
        MatVec("out", input="c", weight=rng.integers(-2, 3, size=(3, n + 5)), wfmt=Int(3, True)),
        Output("y", input="out"))))


def conv_block(rng, C=2, size=5):
    """A DenseNet-style block: the image's channels and a 3×3 convolution's, then a dense layer."""
    n = C * size * size
    return InferBitwidths().run(Graph((
        Input("x", n=n, fmt=Int(3, False), shape=(C, size, size)),
        Conv("k", input="x", weight=rng.integers(-2, 3, size=(3, 9 * C)), wfmt=Int(3, True),
             kernel=(3, 3), pads=(1, 1, 1, 1)),
        MultiThreshold("a", input="k", thresholds=_thresholds(rng, -15, 15, 3, 7), fmt=Int(3, True),
                       out_bias=-4),
        Concat("c", input="a", other="x"),
        Flatten("f", input="c"),
        MatVec("d", input="f", weight=rng.integers(-2, 3, size=(4, (C + 3) * size * size)),
               wfmt=Int(3, True)),
        Output("y", input="d"))))


def test_types_keep_each_channels_scale():
    g = dense_block(np.random.default_rng(0))
    a0 = g["a0"].replace(scale=0.25)
    t = Graph((g.input, g["m0"], a0, g["c"], Output("y", input="c"))).types()["c"]
    assert t.shape == (11,) and t.fmt == Int(4, True)
    np.testing.assert_array_equal(t.scales, [0.25] * 5 + [0.5] * 6)
    img = conv_block(np.random.default_rng(0)).types()["c"]
    assert img.shape == (5, 5, 5) and img.fmt == Int(4, True)      # i3 ++ u3 needs i4
    assert parse_graph(print_graph(g)) == g


def test_the_interpreter_stacks_the_channels():
    rng = np.random.default_rng(1)
    g = conv_block(rng)
    codes = rng.integers(0, 8, size=(4, g.input.n))
    v = Interpreter(g).run(codes, codes=True)
    a, x, c = (v[k].reshape(4, 5, 5, -1) for k in ("a", "x", "c"))
    np.testing.assert_array_equal(c, np.concatenate([a, x], axis=-1))


def test_bad_operands_are_refused():
    mixed = Graph((Input("x", n=6, fmt=Bipolar()),
                   MatVec("m", input="x", weight=np.ones((4, 6), int), wfmt=Int(2, True)),
                   MultiThreshold("q", input="m", thresholds=np.zeros((4, 1)), fmt=Int(1, False)),
                   Concat("c", input="q", other="x"), Output("y", input="c")))
    with pytest.raises(VerifyError, match="concatenate two bipolar tensors or two multi-bit ones"):
        mixed.types()
    shapes = Graph((Input("x", n=6, fmt=Int(4, True), shape=(3, 2)), Flatten("f", input="x"),
                    Concat("c", input="f", other="x"), Output("y", input="c")))
    with pytest.raises(VerifyError, match=r"shapes \(6,\) and \(2, 3\); all but the channels"):
        shapes.types()


def test_a_quantiser_after_the_concatenation_folds_into_thresholds():
    rng = np.random.default_rng(2)
    base = dense_block(rng)
    ops = list(base.ops)
    k = next(i for i, op in enumerate(ops) if op.name == "c")
    ops.insert(k + 1, Quant("cq", input="c", fmt=Int(3, True), scale=0.5))
    ops[k + 2] = ops[k + 2].replace(input="cq")
    g = Graph(tuple(ops))
    final = PassManager(default_passes(g)).run(g)
    assert not any(isinstance(op, Quant) for op in final.ops[1:])
    x = rng.uniform(-4, 4, size=(64, g.input.n))
    np.testing.assert_allclose(Interpreter(final).output(x), Interpreter(g).output(x))


@pytest.mark.parametrize("make, target", [
    (lambda rng: dense_block(rng), 4),
    (lambda rng: dense_block(rng, other_first=True), 4),
    pytest.param(lambda rng: conv_block(rng), 25, marks=pytest.mark.slow),   # the fuzzer draws these too
])
def test_concatenation_blocks_are_bit_exact_in_rtl(make, target):
    rng = np.random.default_rng(7)
    _verified.assert_rtl_equals_reference(Fold(target_cycles=target).run(make(rng)), rng, "concat")
