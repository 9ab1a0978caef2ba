"""The weight spectrum `bitwave report` shows: exact figures on constructed matrices, the plot,
and the per-layer rank table on a compiled digits build."""

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from bitwave.cli import main
from bitwave.ir import Const, Int, MatVec
from bitwave.passes import SvdSplit
from bitwave.report import write_report
from bitwave.spectrum import ENERGIES, MIN_EIGENVALUES, analyse, plot_layer, weight_matrix

DIGITS = f"{Path(__file__).resolve().parents[2] / 'examples' / 'digits.py'}:digits"


def with_singular_values(s, rows, cols, seed=0) -> np.ndarray:
    """A rows×cols matrix whose singular values are ``s`` (then zeros)."""
    rng = np.random.default_rng(seed)
    u, _ = np.linalg.qr(rng.standard_normal((rows, len(s))))
    v, _ = np.linalg.qr(rng.standard_normal((cols, len(s))))
    return (u * np.asarray(s, dtype=np.float64)) @ v.T


def test_rank_4_matrix_gives_exact_stable_rank_and_a_rank_per_energy():
    # Energy shares 0.85, 0.07, 0.045, 0.035: cumulative 0.85, 0.92, 0.965, 1.
    layer = analyse("fc", with_singular_values(np.sqrt([85.0, 7.0, 4.5, 3.5]), 48, 32))
    assert (layer.rows, layer.cols) == (48, 32)
    assert layer.stable_rank == pytest.approx(100 / 85, rel=1e-12)
    assert ENERGIES == (0.01, 0.05, 0.1, 0.2)
    assert layer.ranks == {0.2: 1, 0.1: 2, 0.05: 3, 0.01: 4}
    assert all(layer.pays.values())           # 4·(48+32) is far below 0.8·48·32
    assert len(layer.eigenvalues) == 4        # the 28 zero singular values are not eigenvalues of the tail
    assert layer.alpha is None and layer.no_fit.startswith("4 eigenvalues: too few")
    assert layer.energy_curve()[[0, 1, 2, 3, -1]] == pytest.approx([0.85, 0.92, 0.965, 1.0, 1.0])


def test_the_ranks_are_svd_splits_own_and_a_split_that_does_not_pay_is_marked():
    w = with_singular_values([3.0, 2.0, 1.0, 0.5], 4, 4)
    layer = analyse("small", w)
    assert layer.ranks[0.01] == 4 and not layer.pays[0.01]   # 4·8 >= 0.8·16: svd-split keeps it whole
    from bitwave.ir import Graph, Input, Output, verify
    from bitwave.passes import PassManager
    codes = np.rint(w / np.abs(w).max() * 7).astype(int)
    g = Graph((Input("x", n=4, fmt=Int(8)), MatVec("fc", input="x", weight=codes, wfmt=Int(4)),
               Output("out", input="fc")))
    verify(g)
    layer = analyse("fc", codes)
    for e in ENERGIES:
        split = PassManager([SvdSplit(energy=e)]).run(g)
        parts = [op for op in split.ops if isinstance(op, MatVec)]
        assert (len(parts) == 2) == layer.pays[e]
        if layer.pays[e]:
            assert parts[0].rows == layer.ranks[e]


def test_heavy_tailed_eigenvalues_give_their_exponent():
    # Eigenvalues drawn from p(λ) ∝ λ^-3 on [1, ∞): the fit must find α ≈ 3 on them.
    rng = np.random.default_rng(1)
    lam = np.sort((1 - rng.random(200)) ** (-1 / 2))[::-1]
    layer = analyse("heavy", with_singular_values(np.sqrt(lam), 240, 200, seed=2))
    assert len(layer.eigenvalues) == 200 and layer.no_fit is None
    assert layer.alpha == pytest.approx(3.0, abs=0.4)
    assert layer.xmin >= lam.min() * 0.999 and 0 < layer.tail <= 200


def test_too_few_or_equal_eigenvalues_say_so():
    small = analyse("tiny", np.random.default_rng(0).standard_normal((MIN_EIGENVALUES - 1, 64)))
    assert small.alpha is None and "too few" in small.no_fit
    flat = analyse("flat", np.eye(32))
    assert flat.alpha is None and "equal" in flat.no_fit and flat.stable_rank == pytest.approx(32)


def test_weight_matrix_scales_rows_and_reshapes_higher_dimensional_weights():
    mv = MatVec("fc", input="x", weight=[[1, -2], [3, 4]], wfmt=Int(4), wscale=[0.5, 2.0])
    assert weight_matrix(mv) == pytest.approx(np.array([[0.5, -1.0], [6.0, 8.0]]))
    conv = SimpleNamespace(weight=Const(np.arange(2 * 3 * 2 * 2).reshape(2, 3, 2, 2), np.int64))
    assert weight_matrix(conv).shape == (2, 12)
    assert weight_matrix(SimpleNamespace(weight=None)) is None
    assert weight_matrix(SimpleNamespace()) is None


def test_plot_is_a_png(tmp_path):
    for name, w in (("fit", with_singular_values(np.linspace(3, 0.1, 40) ** 2, 50, 40)),
                    ("nofit", with_singular_values([2.0, 1.0], 8, 6))):
        path = plot_layer(analyse(name, w), tmp_path / f"{name}.png")
        assert path.read_bytes()[:4] == b"\x89PNG" and path.stat().st_size > 10_000


def test_report_on_the_digits_build_shows_the_rank_table_and_plots(tmp_path_factory, capsys):
    built = tmp_path_factory.mktemp("spectrum") / "digits"
    main(["compile", DIGITS, "-o", str(built), "--target-cycles", "64"])
    copy = built.parent / "copy"
    shutil.copytree(built, copy)
    capsys.readouterr()
    try:
        main(["report", str(copy)])
    except SystemExit as e:
        assert e.code in (0, None)
    text = capsys.readouterr().out
    assert "## Weight spectra" in text
    header = "| layer | shape | stable rank | rank at e=0.01 | rank at e=0.05 | rank at e=0.1 | rank at e=0.2 |"
    assert header in text
    spectrum = json.loads((copy / "report.json").read_text())["spectrum"]
    assert [L["name"] for L in spectrum["layers"]] == ["fc1", "fc2", "fc3"]
    for L in spectrum["layers"]:
        assert (copy / L["plot"]).read_bytes()[:4] == b"\x89PNG"
        row = next(ln for ln in text.partition("## Weight spectra")[2].splitlines()
                   if ln.startswith(f"| {L['name']} | {L['rows']}×{L['cols']} |"))
        assert f"]({L['plot']})" in row and f"![{L['name']} spectrum]({L['plot']})" in text
        assert 1 <= L["stable_rank"] <= min(L["rows"], L["cols"])
        ranks = [L["ranks"][e] for e in spectrum["energies"]]
        assert ranks == sorted(ranks, reverse=True)   # dropping more energy never keeps more rank
    fc1, _, fc3 = spectrum["layers"]
    assert fc1["alpha"] > 1 and f"{fc1['alpha']:.2f} (xmin" in text
    assert fc3["alpha"] is None and "10 eigenvalues: too few for a power-law fit" in text
    # The report file on disk says the same, and keeps the section when re-rendered.
    write_report(copy)
    assert header in (copy / "report.md").read_text()
