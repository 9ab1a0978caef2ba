import logging
from pathlib import Path

import numpy as np
import pytest

from bitwave.errors import PassError
from bitwave.ir import (Affine, Bipolar, Graph, Input, Int, Interpreter, MatVec, Output, Quant, parse_graph,
                        print_graph)
from bitwave.passes import PassManager, Quantise1Bit, SvdSplit, choose_rank, parse_pipeline

GOLDEN = Path(__file__).parent.parent / "golden"


def mlp(seed=0, n=12, h=10, k=3, wbits=6):
    rng = np.random.default_rng(seed)
    wf = Int(wbits)
    return Graph((
        Input("x", n=n, fmt=Int(8, False), scale=1 / 64),
        MatVec("fc0", input="x", weight=rng.integers(wf.min + 1, wf.max, (h, n)), wfmt=wf, wscale=0.05),
        Affine("bn0", input="fc0", mul=rng.uniform(0.5, 1.5, h), add=rng.normal(size=h)),
        Quant("a0", input="bn0", fmt=Int(3, False), scale=0.25),
        MatVec("fc1", input="a0", weight=rng.integers(wf.min + 1, wf.max, (h, h)), wfmt=wf,
               wscale=rng.uniform(0.01, 0.05, h)),
        Affine("bn1", input="fc1", mul=rng.uniform(0.5, 1.5, h), add=rng.normal(size=h)),
        Quant("a1", input="bn1", fmt=Int(3, False), scale=0.25),
        MatVec("fc2", input="a1", weight=rng.integers(wf.min + 1, wf.max, (k, h)), wfmt=wf, wscale=0.05),
        Output("out", input="fc2"),
    ))


def tiny():
    return Graph((
        Input("x", n=2, fmt=Int(2, False), scale=1.0),
        MatVec("fc0", input="x", weight=[[1, 2], [3, -1]], wfmt=Int(3), wscale=0.5),
        Quant("a0", input="fc0", fmt=Int(2, False), scale=1.0),
        MatVec("fc1", input="a0", weight=[[2, -3], [1, 1]], wfmt=Int(3), wscale=[0.5, 0.25]),
        Quant("a1", input="fc1", fmt=Int(2, False), scale=1.0),
        MatVec("fc2", input="a1", weight=[[1, 1]], wfmt=Int(3), wscale=1.0),
        Output("out", input="fc2"),
    ))


def test_quantise_1bit_tiny_by_hand():
    g = Quantise1Bit(activations=True).run(tiny())
    fc1 = g["fc1"]
    assert fc1.wfmt == Bipolar() and fc1.weight.array.tolist() == [[1, -1], [1, 1]]
    # α_r = mean |W_r| in real units: row 0 (2·0.5 + 3·0.5)/2, row 1 (0.25 + 0.25)/2
    assert fc1.wscale.array.tolist() == [1.25, 0.25]
    assert g["a1"].fmt == Bipolar()
    assert g["fc0"] == tiny()["fc0"] and g["fc2"] == tiny()["fc2"]   # first and last kept


def test_quantise_1bit_golden_and_streamlines_exactly():
    g = PassManager(parse_pipeline("quantise-1bit{activations=True},streamline,infer-bitwidths")).run(tiny())
    expected = (GOLDEN / "quantise_1bit_tiny.txt").read_text()
    assert print_graph(g) == expected
    assert parse_graph(expected) == g
    big = Quantise1Bit(activations=True).run(mlp())
    s = PassManager(parse_pipeline("streamline")).run(big)
    x = np.random.default_rng(0).integers(0, 256, size=(500, 12))
    assert np.array_equal(Interpreter(big).output(x, codes=True), Interpreter(s).output(x, codes=True))


def test_quantise_1bit_errors():
    with pytest.raises(PassError, match="no MatVec named nope; MatVec layers: fc0, fc1, fc2"):
        Quantise1Bit(layers=("nope",)).run(tiny())
    with pytest.raises(PassError, match="run quantise-1bit before streamline"):
        PassManager(parse_pipeline("streamline,quantise-1bit")).run(tiny())


def test_choose_rank():
    s = np.array([10.0, 5.0, 1.0, 0.1])           # energies 100, 25, 1, 0.01
    total = (s ** 2).sum()
    assert choose_rank(s, 0.0) == 4
    assert choose_rank(s, 0.015 / total) == 3       # may drop 0.01 only
    assert choose_rank(s, 1.5 / total) == 2         # may drop 1.01
    assert choose_rank(s, 26.5 / total) == 1        # may drop 26.01


def test_svd_split_tiny_by_hand(caplog):
    # W = 0.5·[[2, 4], [1, 2]] has rank 1: W = a·b, one factor each
    g = Graph((Input("x", n=2, fmt=Int(2, False), scale=1.0),
               MatVec("fc", input="x", weight=[[2, 4], [1, 2]] * 2, wfmt=Int(4), wscale=0.5),
               Output("o", input="fc")))
    with caplog.at_level(logging.INFO, logger="bitwave.passes"):
        s = SvdSplit(rank=1, bits=4, kappa=1.0).run(g)
    assert [op.name for op in s] == ["x", "fc_v", "fc", "o"]
    assert s["fc_v"].weight.shape == (1, 2) and s["fc"].weight.shape == (4, 1)
    assert "rank 1" in caplog.text and "MACs 8 → 6" in caplog.text
    x = np.array(np.meshgrid(np.arange(4), np.arange(4))).reshape(2, -1).T
    ref = Interpreter(g)
    got = Interpreter(s)
    a = ref.real("o", ref.output(x, codes=True))
    b = got.real("o", got.output(x, codes=True))
    assert np.abs(a - b).max() <= 0.1 * np.abs(a).max()   # 4-bit factors of an exactly rank-1 W


def test_svd_split_error_is_bounded_by_energy():
    g = mlp(seed=3, n=32, h=32, wbits=8)
    for energy in (0.3, 0.1, 0.02):
        s = SvdSplit(energy=energy, bits=12, kappa=10.0, layers=("fc1",)).run(g)
        w = g["fc1"].weight.array * g["fc1"].wscale.array[:, None]
        a, b = s["fc1"], s["fc1_v"]
        approx = (a.weight.array * a.wscale.array[:, None]) @ (b.weight.array * b.wscale.array[:, None])
        rel = np.linalg.norm(approx - w) / np.linalg.norm(w)
        # truncation error is at most sqrt(energy) of the Frobenius norm; 12-bit factors add little
        assert rel <= np.sqrt(energy) * 1.05 + 0.01, (energy, rel)


def test_svd_split_skips_when_it_does_not_pay(caplog):
    g = tiny()
    with caplog.at_level(logging.INFO, logger="bitwave.passes"):
        s = SvdSplit(rank=2).run(g)
    assert s == g
    assert "kept, rank 2 would need" in caplog.text


def test_svd_split_options_are_checked():
    with pytest.raises(PassError, match="give exactly one of energy"):
        SvdSplit()
    with pytest.raises(PassError, match="energy must be in"):
        parse_pipeline("svd-split{energy=1.5}")
    assert parse_pipeline("svd-split{energy=0.01},quantise-1bit")[0] == SvdSplit(energy=0.01)


def test_svd_split_then_quantise_1bit_gives_the_first_factor_one_scale():
    """The B factor feeds the A factor directly, so its α must be per-tensor (a MatVec
    rejects an input whose scale differs between elements)."""
    g = mlp(seed=4, n=32, h=32, wbits=8)
    passes = parse_pipeline("svd-split{rank=4,kappa=10.0},quantise-1bit{keep_first=False,keep_last=False}")
    s = PassManager(passes).run(g)
    b = s["fc1_v"]
    assert b.wfmt == Bipolar() and len(set(b.wscale.array.tolist())) == 1
    a = s["fc1"]       # the A factor feeds an activation: per-row α as before
    assert a.wfmt == Bipolar() and len(set(a.wscale.array.tolist())) > 1
    streamlined = PassManager(parse_pipeline("streamline,infer-bitwidths")).run(s)
    x = np.random.default_rng(1).integers(0, 256, size=(300, 32))
    assert np.array_equal(Interpreter(s).output(x, codes=True), Interpreter(streamlined).output(x, codes=True))


def test_svd_split_golden():
    """The split of the rank-1 layer, after streamlining and bit-width inference, as IR text."""
    g = Graph((Input("x", n=2, fmt=Int(2, False), scale=1.0),
               MatVec("fc", input="x", weight=[[2, 4], [1, 2]] * 2, wfmt=Int(4), wscale=0.5),
               Output("o", input="fc")))
    s = PassManager(parse_pipeline("svd-split{rank=1,bits=4,kappa=1.0},streamline,infer-bitwidths")).run(g)
    # B: one 4-bit row along (1, 2); A: four 4-bit rows, one scale per row.
    expected = (GOLDEN / "svd_split_tiny.txt").read_text()
    assert print_graph(s) == expected
    assert parse_graph(expected) == s
