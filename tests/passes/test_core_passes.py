from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from bitwave.errors import PassError
from bitwave.ir import (Affine, Bipolar, Graph, Input, Int, Interpreter, MatVec, MultiThreshold, Output,
                        Quant, parse_graph, print_graph, verify)
from bitwave.passes import Fold, InferBitwidths, PassManager, Streamline, choose_folding, parse_pipeline

GOLDEN = Path(__file__).parent.parent / "golden"


def tiny():
    """Hand-built: 3 inputs, 2 rows (the second with a negative batch-norm gain), 2-bit ReLU, 1 output row."""
    return Graph((
        Input("x", n=3, fmt=Int(2, False), scale=1.0),
        MatVec("fc", input="x", weight=[[1, -1, 2], [1, 1, 0]], wfmt=Int(3), wscale=0.5),
        Affine("bn", input="fc", mul=[1.0, -1.0], add=[0.25, 2.0]),
        Quant("act", input="bn", fmt=Int(2, False), scale=1.0),
        MatVec("fc2", input="act", weight=[[1, -2]], wfmt=Int(3), wscale=0.125),
        Affine("bias", input="fc2", mul=[1.0], add=[0.25]),
        Output("out", input="bias"),
    ))


def test_streamline_tiny_by_hand():
    g = Streamline().run(tiny())
    verify(g)
    assert [op.opcode for op in g] == ["input", "matvec", "multithreshold", "matvec", "output"]
    fc, act, fc2 = g["fc"], g["act"], g["fc2"]
    # row 0: rint(0.5*acc + 0.25) >= k  <=>  acc >= 2k - 1.5, so T = 1, 3, 5.
    # row 1 (gain -0.5, negated so a = -acc): rint(0.5*a + 2) >= k; at a = -3 the value 0.5 rounds
    # to 0 (half to even) so T1 = -2; at a = -1 the tie 1.5 rounds to 2 so T2 = -1; level 3 needs
    # a >= 2 but a <= 0 (acc is in [0, 6]), so T3 = 1 = "never" (one past the reachable maximum).
    assert fc.weight.array.tolist() == [[1, -1, 2], [-1, -1, 0]]
    assert act.thresholds.array.tolist() == [[1, 3, 5], [-2, -1, 1]]
    # last layer: bias 0.25 / (0.125 * 1.0) = 2 accumulator units, exactly
    assert fc2.bias.array.tolist() == [2]
    x = np.array(np.meshgrid(*[np.arange(4)] * 3)).reshape(3, -1).T
    a = Interpreter(tiny()).run(x, codes=True)
    b = Interpreter(g).run(x, codes=True)
    assert np.array_equal(a["act"], b["act"])
    assert np.allclose(a["out"], Interpreter(g).real("out", b["out"]))


def test_streamline_golden_text():
    g = PassManager(parse_pipeline("streamline,infer-bitwidths")).run(tiny())
    expected = (GOLDEN / "streamline_tiny.txt").read_text()
    assert print_graph(g) == expected
    assert parse_graph(expected) == g


def random_graph(seed: int, po2: bool):
    rng = np.random.default_rng(seed)
    n, m, k = rng.integers(1, 9, size=3)
    xf = Int(int(rng.integers(1, 6)), bool(rng.integers(2)))
    wf = Int(int(rng.integers(2, 5)))
    af = Bipolar() if rng.integers(4) == 0 else Int(int(rng.integers(1, 5)), bool(rng.integers(2)))
    scale = (lambda size=None: 2.0 ** rng.integers(-4, 2, size=size)) if po2 else \
        (lambda size=None: rng.uniform(0.05, 1.0, size=size))
    mul = scale(m) * rng.choice([-1, 1], size=m)
    add = (rng.integers(-8, 9, size=m) * 0.125) if po2 else rng.normal(size=m)
    return Graph((
        Input("x", n=int(n), fmt=xf, scale=float(scale())),
        MatVec("fc", input="x", weight=rng.integers(wf.min, wf.max + 1, size=(m, n)), wfmt=wf, wscale=scale(m)),
        Affine("bn", input="fc", mul=mul, add=add),
        Quant("act", input="bn", fmt=af, scale=float(scale())),
        MatVec("fc2", input="act", weight=rng.integers(wf.min, wf.max + 1, size=(k, m)), wfmt=wf, wscale=float(scale())),
        Output("out", input="fc2"),
    )), xf


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.booleans())
def test_streamline_is_exact_on_every_input(seed, po2):
    """Power-of-two scales make rounding ties common: the thresholds must reproduce them exactly."""
    g, xf = random_graph(seed, po2)
    s = PassManager(parse_pipeline("streamline,infer-bitwidths")).run(g)
    rng = np.random.default_rng(seed)
    codes = rng.integers(xf.min, xf.max + 1, size=(400, g.input.n))
    codes[0], codes[1] = xf.min, xf.max
    a = Interpreter(g).run(codes, codes=True)
    b = Interpreter(s).run(codes, codes=True)
    assert np.array_equal(a["act"], b["act"])
    assert np.array_equal(a["out"], b["out"])


def test_infer_bitwidths_sets_exact_accumulators():
    g = InferBitwidths().run(Streamline().run(tiny()))
    # fc: row 0 spans [-3, 9], row 1 (negated) [-6, 0], thresholds up to 6 → i5
    assert g["fc"].acc == Int(5)
    assert g["fc2"].acc is not None


def test_fold_choices():
    assert choose_folding(64, 784, 64) == (4, 196) or (64 // choose_folding(64, 784, 64)[0]) * (
        784 // choose_folding(64, 784, 64)[1]) <= 64
    pe, simd = choose_folding(64, 64, 64)
    assert (64 // pe) * (64 // simd) <= 64 and pe * simd == 64
    g = Fold(pe=(2, 1), simd=(3, 2)).run(Streamline().run(tiny()))
    assert (g["fc"].pe, g["fc"].simd, g["fc2"].pe, g["fc2"].simd) == (2, 3, 1, 2)
    with pytest.raises(PassError, match=r"fold: op fc: pe=3 must divide rows=2"):
        Fold(pe=(3, 1), simd=(1, 1)).run(Streamline().run(tiny()))
    with pytest.raises(PassError, match="pe/simd lists have 1/1 entries but the graph has 2 MatVec layers"):
        Fold(pe=(1,), simd=(1,)).run(tiny())


def test_pipeline_text():
    ps = parse_pipeline("streamline, fold{target_cycles=64,clock_mhz=50}, fold{pe=[1,2],simd=[3,4]}")
    assert ps[1] == Fold(target_cycles=64, clock_mhz=50.0)
    assert ps[2].pe == (1, 2)
    with pytest.raises(PassError, match="unknown pass 'nope'; known passes: "):
        parse_pipeline("nope")
    with pytest.raises(PassError, match="fold: unknown option 'speed'"):
        parse_pipeline("fold{speed=1}")
    with pytest.raises(PassError, match="fold: option target_cycles='x' must be of type"):
        parse_pipeline("fold{target_cycles='x'}")


def test_pass_manager_names_passes_that_ran():
    bad = Graph((Input("x", n=2, fmt=Int(2, False), scale=1.0),
                 Affine("a", input="x", mul=[1.0, 1.0], add=[0.0, 0.0]), Output("o", input="a")))
    with pytest.raises(PassError, match=r"does not follow a MatVec(.|\n)*while running pass streamline \(after fold\)"):
        PassManager(parse_pipeline("fold,streamline")).run(bad)


def test_streamline_folds_a_quant_after_an_integer_op_into_thresholds():
    """Input → Affine → Quant (no MatVec): thresholds over the input's code range, exact."""
    g = Graph((Input("x", n=2, fmt=Int(4, False), scale=0.5),
               Affine("a", input="x", mul=[1.5, -0.0 + 0.7], add=[0.1, -0.2]),
               Quant("q", input="a", fmt=Int(3, False), scale=0.4), Output("o", input="q")))
    s = PassManager(parse_pipeline("streamline")).run(g)
    assert [op.opcode for op in s.ops] == ["input", "multithreshold", "output"]
    x = np.arange(16)[:, None].repeat(2, axis=1)
    np.testing.assert_array_equal(Interpreter(s).output(x, codes=True),
                                  Interpreter(g).output(x, codes=True))


def test_lower_stand_alone_threshold_has_its_own_estimate():
    """A MultiThreshold straight after the input becomes a ThresholdUnit with a threshold-only estimate."""
    from bitwave.hdl import estimate_threshold
    from bitwave.lower import lower
    g = Graph((
        Input("x", n=3, fmt=Int(4, True), scale=1.0),
        MultiThreshold("act", input="x", thresholds=[[-2, 0, 3]] * 3, fmt=Int(2, False), out_bias=0,
                       scale=1.0),
        Output("out", input="act"),
    ))
    verify(g)
    low = lower(g)
    (info,) = low.layers
    assert info.kind == "multithreshold" and info.estimate.lut > 0 and info.estimate.bram == 0
    assert info.estimate == estimate_threshold(n=3, in_width=4, n_thresholds=3, out_width=2).resources


def test_lower_writes_an_estimate_per_build_plan():
    """A multi-bit layer's estimate differs per family and DSP plan: on ECP5 with DSPs its
    products are multipliers (one per lane), and its LUTs drop by their soft cost."""
    from bitwave.hdl import ECP5, estimate_mvu
    from bitwave.lower import plan
    g = PassManager(parse_pipeline("streamline,infer-bitwidths")).run(tiny())
    fc, fc2 = plan(g).layers
    # 2-bit inputs × 3-bit weights: both operands fit a MULT18X18D; on iCE40 a 5-bit product is
    # below SB_MAC16's 11 bits, so that plan keeps it soft (the same as the plain estimate)
    assert set(fc.estimates) == {"ecp5", "ecp5-dsp"}
    assert fc.estimate_for("ice40", True) == fc.estimate
    assert fc.estimate_for("ecp5", True).dsp == 1 == fc.pe * fc.simd
    soft = estimate_mvu(rows=2, cols=3, pe=1, simd=1, in_width=2, w_width=3, acc_width=5,
                        n_thresholds=3, out_width=2, bipolar=False, model=ECP5)
    assert fc.estimate_for("ecp5", False).lut - fc.estimate_for("ecp5", True).lut == round(
        soft.parts["products"][0])
