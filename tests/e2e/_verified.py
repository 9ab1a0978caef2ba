"""``bitwave verify`` of a build folder, run in-process, that must report no mismatch; a graph
simulated in Verilator with and without stalls, equal to the interpreter."""

import json

import numpy as np

from bitwave.cli import main


def assert_verifies(build, frames: int, capsys) -> dict:
    """Run ``bitwave verify build``; it must succeed with ``mismatches: 0`` on ``frames`` frames."""
    capsys.readouterr()
    try:
        main(["verify", str(build)])
    except SystemExit as e:
        assert e.code in (0, None)
    assert "mismatches: 0" in capsys.readouterr().out
    rtl = json.loads((build / "report.json").read_text())["rtl"]
    assert rtl["mismatches"] == 0 and rtl["frames"] == frames
    return rtl


def load_sibling(name: str):
    """A helper module next to this file (the tests run with --import-mode=importlib)."""
    import importlib.util
    from pathlib import Path
    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parent / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def assert_rtl_equals_reference(g, rng, kind: str, frames: int = 24, count: int = 1):
    """``g`` (folded) in Verilator on random input codes, with stalls and without: equal to the
    interpreter, with ``count`` layers of ``kind``, and without stalls within 5 % of the planned
    rate."""
    from bitwave.ir import Interpreter
    from bitwave.lower import plan
    from bitwave.verify import simulate_graph
    inp = g.input
    codes = rng.integers(inp.fmt.min, inp.fmt.max + 1, size=(frames, inp.n))
    want = Interpreter(g).output(codes, codes=True)
    low = plan(g)
    assert [layer.kind for layer in low.layers].count(kind) == count
    for stall in (0.3, 0.0):
        got, res, _ = simulate_graph(g, codes, stall_in=stall, stall_out=stall, seed=2)
        np.testing.assert_array_equal(got, want)
    assert res.cycles_per_frame <= 1.05 * low.cycles_per_frame      # the run without stalls
