"""Quantised sigmoid and tanh (a ``Quant`` with ``act=Activation.…``) become exact integer thresholds.

The reference is the imported graph itself: ``streamline`` must give the same
activation codes on every accumulator value the layer can produce, rounding
ties and float32 saturation included.
"""

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from bitwave.errors import VerifyError
from bitwave.ir import (Activation, Affine, Graph, Input, Int, Interpreter, MatVec, MultiThreshold,
                        Output, Quant, parse_graph, print_graph, verify)
from bitwave.passes import PassManager, parse_pipeline

GOLDEN = Path(__file__).parent.parent / "golden"

#: (function, output format, output scale) as Brevitas' QuantSigmoid / QuantTanh(bit_width=4) give them.
CASES = {Activation.SIGMOID: (Int(4, False), 1 / 15), Activation.TANH: (Int(4, True), 0.125)}


def one_input(act: Activation, bits: int = 12) -> Graph:
    """acc = w·x for one wide input: rows with weights ±1, ±2, 3 reach every accumulator value
    of their range (row 0 and 1 all of [-2^11, 2^11)), and gains of both signs."""
    fmt, scale = CASES[act]
    w = np.array([[1], [-1], [2], [-2], [3]])
    return Graph((
        Input("x", n=1, fmt=Int(bits), scale=1.0),
        MatVec("fc", input="x", weight=w, wfmt=Int(3), wscale=[0.01, 0.003, 0.02, 0.007, 0.0011]),
        Affine("bn", input="fc", mul=[1.0, -0.9, 0.5, 2.0, -3.0], add=[0.25, -1.0, 0.0, 3.0, 0.5]),
        Quant("act", input="bn", fmt=fmt, scale=scale, act=act),
        MatVec("fc2", input="act", weight=[[1, -2, 3, 1, 1]], wfmt=Int(3), wscale=0.125),
        Output("out", input="fc2"),
    ))


def same_codes(g: Graph, codes: np.ndarray):
    """Streamline ``g``; the activation and output codes on input ``codes`` must not change."""
    s = PassManager(parse_pipeline("streamline,infer-bitwidths")).run(g)
    a, b = Interpreter(g).run(codes, codes=True), Interpreter(s).run(codes, codes=True)
    assert np.array_equal(a["act"], b["act"]) and np.array_equal(a["out"], b["out"])
    return a, s


@pytest.mark.parametrize("act", list(Activation), ids=lambda a: a.name.lower())
def test_streamline_equals_the_imported_graph_on_every_accumulator_value(act):
    g = one_input(act)
    a, s = same_codes(g, np.arange(Int(12).min, Int(12).max + 1)[:, None])      # all 4096 inputs
    assert [op.opcode for op in s] == ["input", "matvec", "multithreshold", "matvec", "output"]
    # Every level is reached (tanh reaches -8 = -1/0.125 because float32 tanh saturates to -1).
    fmt = CASES[act][0]
    assert np.unique(a["act"][:, 0]).tolist() == list(range(fmt.min, fmt.max + 1))


def test_float32_decides_the_codes():
    """sigmoid is evaluated in float32, as Brevitas does: the code flips where float32 says, not float64."""
    g = one_input(Activation.SIGMOID)
    it = Interpreter(g)
    real = np.linspace(-3, 3, 20001)[:, None] * np.ones((1, 5))
    y32 = 1 / (1 + np.exp(-real.astype(np.float32)))
    want = np.clip(np.rint(y32 / np.float32(1 / 15)), 0, 15)
    assert np.array_equal(it.op_quant(g["act"], real, it.types["bn"]), want)


def random_graph(seed: int, act: Activation):
    rng = np.random.default_rng(seed)
    n, m = (int(v) for v in rng.integers(1, 7, size=2))
    xf = Int(int(rng.integers(2, 7)), bool(rng.integers(2)))
    wf = Int(int(rng.integers(2, 5)))
    signed = act is Activation.TANH
    fmt = Int(int(rng.integers(1 + signed, 5)), signed)
    scale = (fmt.max + 0.5 * rng.integers(0, 2)) ** -1
    return Graph((
        Input("x", n=n, fmt=xf, scale=float(rng.uniform(0.01, 0.5))),
        MatVec("fc", input="x", weight=rng.integers(wf.min, wf.max + 1, size=(m, n)), wfmt=wf,
               wscale=rng.uniform(0.01, 1.0, size=m)),
        Affine("bn", input="fc", mul=rng.uniform(0.2, 3, size=m) * rng.choice([-1, 1], size=m),
               add=rng.normal(size=m)),
        Quant("act", input="bn", fmt=fmt, scale=float(scale), act=act),
        MatVec("fc2", input="act", weight=rng.integers(wf.min, wf.max + 1, size=(2, m)), wfmt=wf,
               wscale=0.5),
        Output("out", input="fc2"),
    )), xf


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from(list(Activation)))
def test_streamline_is_exact_on_random_layers(seed, act):
    g, xf = random_graph(seed, act)
    codes = np.random.default_rng(seed).integers(xf.min, xf.max + 1, size=(500, g.input.n))
    same_codes(g, np.vstack([codes, np.full((1, g.input.n), xf.min), np.full((1, g.input.n), xf.max)]))


def tiny_tanh() -> Graph:
    return Graph((
        Input("x", n=2, fmt=Int(3, False), scale=0.5),
        MatVec("fc", input="x", weight=[[1, -1], [2, 1]], wfmt=Int(3), wscale=[0.5, -0.25]),
        Affine("bn", input="fc", mul=[1.0, 1.0], add=[0.0, 0.5]),
        Quant("act", input="bn", fmt=Int(2, True), scale=0.5, act=Activation.TANH),
        MatVec("fc2", input="act", weight=[[1, 1]], wfmt=Int(2), wscale=0.5),
        Output("out", input="fc2"),
    ))


def test_golden_text_of_a_streamlined_tanh():
    g = tiny_tanh()
    text = print_graph(g)
    assert "act = Quant(bn, fmt=Int(2, True), scale=0.5, act=Activation.TANH)" in text
    assert parse_graph(text) == g
    s = PassManager(parse_pipeline("streamline,infer-bitwidths")).run(g)
    expected = (GOLDEN / "streamline_tanh_tiny.txt").read_text()
    assert print_graph(s) == expected
    assert parse_graph(expected) == s
    # row 0: tanh(0.25·acc) / 0.5 rounds to -2..1; acc = x0 - x1 in [-7, 7].
    # code >= -1 iff tanh(0.25 acc) > -0.75 (ties to even at -0.75 give -2): acc >= -3;
    # >= 0 iff tanh > -0.25: acc >= -1; >= 1 iff tanh >= 0.25 (0.5 ties to 0): acc >= 2 (tanh(0.5) = 0.46)
    # row 1 (gain -0.125, negated: a = -acc in [-21, 0]): 2·tanh(0.125a + 0.5) > -1.5 from a = -11,
    # >= -0.5 from a = -6, > 0.5 from a = -1.
    mt = s["act"]
    assert isinstance(mt, MultiThreshold) and mt.out_bias == -2
    assert mt.thresholds.array.tolist() == [[-3, -1, 2], [-11, -6, -1]]
    same_codes(g, np.array(np.meshgrid(np.arange(8), np.arange(8))).reshape(2, -1).T)


def test_verifier_and_parser_reject_a_string_activation():
    with pytest.raises(VerifyError, match="act must be an Activation"):
        Quant("q", input="x", fmt=Int(4, False), scale=0.1, act="sigmoid")
    text = print_graph(tiny_tanh()).replace("Activation.TANH", "Activation.GELU")
    with pytest.raises(VerifyError, match="Activation has no member 'GELU'; known: SIGMOID, TANH"):
        parse_graph(text)
    verify(tiny_tanh())
