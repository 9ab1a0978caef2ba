import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from bitwave.errors import VerifyError
from bitwave.ir import (Affine, Bipolar, Fixed, Graph, Input, Int, Interpreter, MatVec, MultiThreshold,
                        Output, Quant, Requant, int_format_for, parse_graph, print_graph, run_graph, verify)


def small_graph():
    return Graph((
        Input("x", n=3, fmt=Int(4, False), scale=0.5),
        MatVec("fc", input="x", weight=[[1, -2, 3], [0, 1, -1]], wfmt=Int(3), wscale=[0.1, 0.2]),
        Affine("bn", input="fc", mul=[1.0, 2.0], add=[0.5, -0.25]),
        Quant("act", input="bn", fmt=Int(2, False), scale=0.3),
        Output("out", input="act"),
    ))


def test_formats_validate_with_exact_messages():
    with pytest.raises(VerifyError, match=r"Int: bits must be a positive integer, not 0"):
        Int(0)
    with pytest.raises(VerifyError, match=r"Int: bits must be a positive integer, not 'a'"):
        Int("a")
    assert (Int(4, False).min, Int(4, False).max) == (0, 15)
    assert (Int(4).min, Int(4).max) == (-8, 7)
    assert (Bipolar().min, Bipolar().max, Bipolar().width) == (-1, 1, 1)
    f = Fixed(3, 16)
    assert f.width == 19 and f.lsb == 2.0 ** -16


@pytest.mark.parametrize("lo,hi,expected", [(0, 15, Int(4, False)), (-8, 7, Int(4)), (-9, 7, Int(5)),
                                            (-1, 0, Int(1)), (0, 0, Int(1, False)), (-30, 60, Int(7))])
def test_int_format_for(lo, hi, expected):
    assert int_format_for(lo, hi) == expected


@given(st.integers(-2**40, 2**40), st.integers(0, 2**40))
def test_int_format_for_is_tight(lo, span):
    hi = lo + span
    fmt = int_format_for(lo, hi)
    assert fmt.min <= lo and hi <= fmt.max
    if fmt.bits > 1:
        narrower = Int(fmt.bits - 1, fmt.signed)
        assert lo < narrower.min or hi > narrower.max


def test_text_round_trips_exactly():
    g = small_graph()
    text = print_graph(g)
    assert parse_graph(text) == g
    assert print_graph(parse_graph(text)) == text


def test_text_golden():
    expected = (
        "bitwave.graph v1\n"
        "x = Input(n=3, fmt=Int(4, False), scale=0.5)\n"
        "fc = MatVec(x, weight=[[1, -2, 3], [0, 1, -1]], wfmt=Int(3, True), wscale=[0.1, 0.2], "
        "bias=None, acc=None, pe=1, simd=1)\n"
        "bn = Affine(fc, mul=[1.0, 2.0], add=[0.5, -0.25])\n"
        "act = Quant(bn, fmt=Int(2, False), scale=0.3)\n"
        "out = Output(act)\n")
    assert print_graph(small_graph()) == expected


def test_parse_errors_name_the_line():
    with pytest.raises(VerifyError, match="line 1: expected header"):
        parse_graph("x = Input(n=1)\n")
    with pytest.raises(VerifyError, match="line 2: unknown op 'Convolve'"):
        parse_graph("bitwave.graph v1\nx = Convolve(n=1)\n")
    with pytest.raises(VerifyError, match="line 2: unsupported value"):
        parse_graph("bitwave.graph v1\nx = Input(n=__import__('os'))\n")


def test_verifier_names_the_op():
    g = small_graph()
    bad = Graph(g.ops[:1] + (g.ops[1].replace(weight=[[1, 2], [3, -1]]),) + g.ops[2:])
    with pytest.raises(VerifyError, match="matvec: op fc: input has 3 elements but weight has 2 columns"):
        verify(bad)
    with pytest.raises(VerifyError, match="reads 'nope'"):
        verify(Graph((g.ops[0], Output("out", input="nope"))))
    with pytest.raises(VerifyError, match=r"accumulator i4 cannot hold the exact range \[-30, 60\]; it needs at least i7"):
        verify(Graph(g.ops[:1] + (g.ops[1].replace(acc=Int(4)),) + g.ops[2:]))
    with pytest.raises(VerifyError, match="weights span \\[-2, 3\\], outside i2"):
        g.ops[1].replace(wfmt=Int(2))
    with pytest.raises(VerifyError, match="NaN or Inf"):
        g.ops[1].replace(wscale=[np.nan, 1.0])
    with pytest.raises(VerifyError, match=r"wscale has 3 entries, expected 1 or one per row \(2\)"):
        g.ops[1].replace(wscale=[1.0, 1.0, 1.0])


def test_ops_are_immutable_and_hashable():
    g = small_graph()
    with pytest.raises(Exception):
        g.ops[1].pe = 2
    with pytest.raises(ValueError):
        g.ops[1].weight.array[0, 0] = 5
    assert hash(g.ops[1]) == hash(small_graph().ops[1])


def test_interpreter_matches_numpy():
    g = small_graph()
    x = np.random.default_rng(0).uniform(-1, 9, size=(100, 3))
    codes = np.clip(np.rint(x / 0.5), 0, 15)
    acc = codes @ np.array([[1, -2, 3], [0, 1, -1]]).T
    real = acc * np.array([0.1, 0.2]) * 0.5 * np.array([1.0, 2.0]) + np.array([0.5, -0.25])
    expected = np.clip(np.rint(real / 0.3), 0, 3)
    assert np.array_equal(run_graph(g, x), expected)


def test_multithreshold_and_requant_semantics():
    x = np.arange(-10, 11)[:, None]
    g = Graph((Input("x", n=1, fmt=Int(5), scale=1.0),
               MultiThreshold("t", input="x", thresholds=[[-3, 0, 4]], fmt=Int(2), out_bias=-2),
               Output("o", input="t")))
    y = run_graph(g, x, codes=True)[:, 0]
    assert np.array_equal(y, -2 + (x[:, 0] >= -3) + (x[:, 0] >= 0) + (x[:, 0] >= 4))
    g = Graph((Input("x", n=1, fmt=Int(5), scale=1.0),
               Requant("r", input="x", mult=3, shift=2, fmt=Int(3)), Output("o", input="r")))
    y = run_graph(g, x, codes=True)[:, 0]
    assert np.array_equal(y, np.clip(np.floor((x[:, 0] * 3 + 2) / 4), -4, 3))
    gb = Graph((Input("x", n=1, fmt=Int(5), scale=1.0),
                MultiThreshold("t", input="x", thresholds=[[1]], fmt=Bipolar()), Output("o", input="t")))
    assert np.array_equal(run_graph(gb, x, codes=True)[:, 0], np.where(x[:, 0] >= 1, 1, -1))


def test_bipolar_matvec_is_a_signed_dot_product():
    rng = np.random.default_rng(1)
    w = rng.choice([-1, 1], size=(4, 9))
    g = Graph((Input("x", n=9, fmt=Bipolar(), scale=1.0),
               MatVec("fc", input="x", weight=w, wfmt=Bipolar()), Output("o", input="fc")))
    x = rng.choice([-1, 1], size=(50, 9))
    assert np.array_equal(run_graph(g, x, codes=True), x @ w.T)
    t = verify(g)["fc"]
    assert t.fmt.min <= -9 and t.fmt.max >= 9


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 8), st.booleans(), st.integers(1, 8), st.integers(1, 12), st.integers(0, 2**31))
def test_accumulator_bound_is_exact_and_safe(xbits, xsigned, wbits, cols, seed):
    rng = np.random.default_rng(seed)
    wf, xf = Int(wbits), Int(xbits, xsigned)
    w = rng.integers(wf.min, wf.max + 1, size=(3, cols))
    op = MatVec("fc", input="x", weight=w, wfmt=wf)
    lo, hi = op.bounds(xf)
    # the extreme inputs reach the bounds exactly
    x_hi = np.where(w >= 0, xf.max, xf.min)
    x_lo = np.where(w >= 0, xf.min, xf.max)
    assert np.array_equal((w * x_hi).sum(1), hi) and np.array_equal((w * x_lo).sum(1), lo)
    g = Graph((Input("x", n=cols, fmt=xf, scale=1.0), op, Output("o", input="fc")))
    acc = verify(g)["fc"].fmt
    assert acc.min <= lo.min() and hi.max() <= acc.max
