# amaranth: UnusedElaboratable=no
"""Deliberate bugs must be caught: by the fuzzer, by the cocotb bench and by verify_build.

Two faults, each the kind of slip a generator or lowering change could make:

* a dropped carry in the MVU's adder tree (every pairwise sum truncated to its
  operands' width), injected into the HDL generator;
* an off-by-one threshold in one layer, injected into lowering (the hardware is
  built from a mutated graph while the golden model stays the original).
"""

import numpy as np
import pytest

import bitwave.hdl._popcount as popcount_module
import bitwave.verify as verify_module
from bitwave.build_folder import TOP, load_build
from bitwave.compile import CompileOptions, compile_graph
from bitwave.dataset import Dataset
from bitwave.fuzz import FuzzConfig, RtlJob, fuzz, rtl_failures
from bitwave.hdl import emit_verilog
from bitwave.ir import Graph, Input, Int, Interpreter, MatVec, MultiThreshold, Output, parse_graph, quantise_input
from bitwave.lower import lower
from bitwave.sim.cocotb_bench import run_cocotb
from bitwave.errors import ToolchainError
from bitwave.verify import localise_mismatch, verify_build

pytestmark = pytest.mark.sim


def dropped_carry(values):
    """add_pairs with the bug: each sum keeps only its operands' width (the carry is lost)."""
    out = []
    for i in range(0, len(values) - 1, 2):
        a, b = values[i], values[i + 1]
        s = (a + b)[:max(len(a), len(b))]
        out.append(s.as_signed() if a.shape().signed or b.shape().signed else s)
    if len(values) % 2:
        out.append(values[-1])
    return out


def test_fuzzer_catches_dropped_carry_and_minimises_it(monkeypatch):
    monkeypatch.setattr(popcount_module, "add_pairs", dropped_carry)   # the lanes' adder trees
    lines = []
    report = fuzz(12, seed=5, cfg=FuzzConfig(minimise_limit=1, minimise_rounds=10), log=lines.append)
    wrong = [f for f in report.failures if f.kind == "rtl" and "frames differ" in f.detail]
    assert wrong, f"the fuzzer missed the dropped carry:\n{report.summary()}"
    shrunk = [f for f in wrong if f.minimised is not None]
    assert len(shrunk) == 1
    f = shrunk[0]
    text = f.describe()
    assert f"seed 5 model {f.index}" in text and f"--seed 5 --first {f.index} --models 1" in text
    assert "failing input (codes)" in f.minimised
    # The minimised IR text is complete: it parses back to the graph that was shrunk.
    g = parse_graph(f.minimised)
    assert g == f.minimised_graph
    original = parse_graph(f.model)
    size = sum(op.weight.array.size for op in g.ops if isinstance(op, MatVec))
    assert size < sum(op.weight.array.size for op in original.ops if isinstance(op, MatVec))
    assert len(g.ops) <= len(original.ops)
    assert any(isinstance(op, MatVec) and op.simd > 1 for op in g.ops), "an adder tree needs simd > 1"
    # Without the fault the minimised model passes: what is left is the bug, not noise.
    monkeypatch.undo()
    verdict, = rtl_failures([RtlJob(g, f.minimised_inputs, (0.0, 0.0), seed=1)], FuzzConfig())
    assert verdict.message is None, verdict.message


def two_layer_model():
    """fc0 → fc0_act → fc1 → fc1_act → fc2, with a dataset; the fault goes into fc1_act."""
    rng = np.random.default_rng(11)
    n, h = 6, 5
    g = Graph((
        Input("x", n=n, fmt=Int(3, False), scale=0.5),
        MatVec("fc0", input="x", weight=rng.integers(-3, 4, (h, n)), wfmt=Int(3)),
        MultiThreshold("fc0_act", input="fc0", thresholds=np.sort(rng.integers(-12, 12, (h, 3)), axis=1),
                       fmt=Int(2, False)),
        MatVec("fc1", input="fc0_act", weight=rng.integers(-3, 4, (4, h)), wfmt=Int(3)),
        MultiThreshold("fc1_act", input="fc1", thresholds=np.sort(rng.integers(-6, 6, (4, 3)), axis=1),
                       fmt=Int(2, False)),
        MatVec("fc2", input="fc1_act", weight=rng.integers(-3, 4, (3, 4)), wfmt=Int(3)),
        Output("y", input="fc2")))
    return g, Dataset(rng.integers(0, 8, (64, n)) * 0.5)


def off_by_one(final: Graph, codes: np.ndarray):
    """A mutation of fc1_act (one threshold + 1) that changes the network's output on ``codes``."""
    values = Interpreter(final).run(codes, codes=True)
    want = values[final.output.name]
    op = final["fc1_act"]
    for r, k in np.ndindex(*op.thresholds.shape):
        t = op.thresholds.array.copy()
        t[r, k] += 1
        if np.any(np.diff(t[r]) < 0):
            continue
        bad = final.replace_ops({"fc1_act": [op.replace(thresholds=t)]})
        if np.any(Interpreter(bad).output(codes, codes=True) != want):
            return (r, k), lambda g: g.replace_ops({"fc1_act": [g["fc1_act"].replace(thresholds=t)]})
    raise AssertionError("no observable off-by-one threshold in fc1_act")


@pytest.fixture(scope="module")
def faulty_build(tmp_path_factory):
    """A build folder whose Verilog has the off-by-one threshold; graph.txt is the golden model."""
    g, ds = two_layer_model()
    out = tmp_path_factory.mktemp("faulty") / "build"
    compile_graph(g, out, CompileOptions(target_cycles=4), dataset=ds)
    build = load_build(out)
    manifest, final, ds = build.manifest, build.graph, build.dataset
    where, mutate = off_by_one(final, quantise_input(final.input, ds.inputs[:32]))
    (out / manifest.verilog).write_text(emit_verilog(lower(mutate(final)).top, name=TOP))
    return out, mutate, where


def _same_lowering_bug(monkeypatch, mutate):
    """verify re-lowers each layer on its own to localise a fault: the bug must be there too."""
    monkeypatch.setattr(verify_module, "lower", lambda g, *rest: lower(
        mutate(g) if "fc1_act" in {op.name for op in g.ops} else g, *rest))


def test_verify_build_counts_and_localises_the_faulty_layer(faulty_build, monkeypatch):
    out, mutate, _ = faulty_build
    _same_lowering_bug(monkeypatch, mutate)
    res = verify_build(out, waveform_on_mismatch=False)
    assert res.mismatches > 0
    build = load_build(out)
    graph, ds = build.graph, build.dataset
    codes = quantise_input(graph.input, ds.inputs)
    assert localise_mismatch(graph, codes, res.first_mismatch) == "fc1"


def test_verify_build_writes_a_waveform_of_the_mismatch(faulty_build, monkeypatch):
    out, mutate, _ = faulty_build
    _same_lowering_bug(monkeypatch, mutate)
    res = verify_build(out)
    assert res.first_bad_layer == "fc1"
    assert res.waveform and (out / "waves" / "mismatch.vcd").stat().st_size > 0


def test_cocotb_bench_catches_the_faulty_threshold(faulty_build):
    out, _, _ = faulty_build
    summary = run_cocotb(out, frames=32)
    assert summary["frames"] == 4 * 32
    assert summary["mismatches"] > 0
    for phase in summary["per_rate"]:   # wrong values, at every stall rate; nothing lost
        assert phase["wrong"] > 0 and phase["lost"] == 0 and phase["extra"] == 0
        assert phase["first_mismatch"]["expected"] != phase["first_mismatch"]["got"]
