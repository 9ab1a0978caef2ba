# amaranth: UnusedElaboratable=no
"""The cocotb backpressure bench: a correct build passes at every stall rate; a design that
drops and overwrites frames under backpressure is caught; the checker's classification."""

import json

import numpy as np
import pytest

from bitwave.cli import main
from bitwave.build_folder import load_build
from bitwave.compile import CompileOptions, compile_graph
from bitwave.dataset import Dataset
from bitwave.ir import Graph, Input, Int, MatVec, MultiThreshold, Output
from bitwave.hdl import StreamFormat
from bitwave.sim._cocotb_tb import Checker, PhaseResult
from bitwave.sim.cocotb_bench import DEFAULT_FRAMES, DEFAULT_RATES, run_cocotb

sim = pytest.mark.sim


def small_model():
    rng = np.random.default_rng(4)
    n, h = 7, 6
    g = Graph((
        Input("x", n=n, fmt=Int(4, True), scale=0.25),
        MatVec("fc0", input="x", weight=rng.integers(-7, 8, (h, n)), wfmt=Int(4), bias=rng.integers(-9, 9, h)),
        MultiThreshold("fc0_act", input="fc0", thresholds=np.sort(rng.integers(-80, 80, (h, 3)), axis=1),
                       fmt=Int(3, True), out_bias=-2),
        MatVec("fc1", input="fc0_act", weight=rng.integers(-3, 4, (3, h)), wfmt=Int(3)),
        Output("y", input="fc1")))
    return g, Dataset(rng.integers(-8, 8, (100, n)) * 0.25)


@sim
def test_correct_build_passes_at_every_stall_rate_also_from_the_cli(tmp_path, capsys):
    g, ds = small_model()
    # Two cycles per frame: the stalls, not the arithmetic, decide when frames move.
    compile_graph(g, tmp_path / "b", CompileOptions(target_cycles=2), dataset=ds)
    summary = run_cocotb(tmp_path / "b")
    assert summary["mismatches"] == 0, json.dumps(summary["per_rate"], indent=1)
    assert summary["frames"] == len(DEFAULT_RATES) * DEFAULT_FRAMES
    assert [tuple(r) for r in summary["rates"]] == list(DEFAULT_RATES)
    assert all(p["frames"] == DEFAULT_FRAMES and p["wrong"] == p["lost"] == p["extra"] == 0
               for p in summary["per_rate"])
    # Stalls on either side cost cycles: the bench really holds valid and ready low.
    cycles = {tuple(r): p["cycles"] for r, p in zip(summary["rates"], summary["per_rate"])}
    assert min(cycles[(0.7, 0.1)], cycles[(0.1, 0.7)]) > cycles[(0.0, 0.0)] + DEFAULT_FRAMES // 2
    main(["verify", str(tmp_path / "b"), "--cocotb"])   # exits non-zero on any mismatch
    assert f"cocotb: {len(DEFAULT_RATES) * DEFAULT_FRAMES} frames" in capsys.readouterr().out


def overwriting_stage(manifest) -> str:
    """A hand-written bitwave_top with the classic bug: it ignores source.ready, so a stalled
    output is overwritten by the next frame (frames lost, payload changing while stalled)."""
    i, o = manifest.sink, manifest.source
    parts = []
    for k in range(i.elems):
        x = f"sink__payload[{k * i.width + i.width - 1}:{k * i.width}]"
        pad = o.width - i.width
        sign = f"{{{pad}{{sink__payload[{k * i.width + i.width - 1}]}}}}, " if pad else ""
        parts.append(f"{sign}{x}")
    out = ", ".join(reversed(parts))
    return f"""module bitwave_top(input clk, input rst,
  input sink__valid, output sink__ready, input [{i.bits - 1}:0] sink__payload,
  output reg source__valid, input source__ready, output reg [{o.bits - 1}:0] source__payload);
  assign sink__ready = 1'b1;
  always @(posedge clk)
    if (rst) source__valid <= 1'b0;
    else if (sink__valid) begin source__valid <= 1'b1; source__payload <= {{{out}}}; end
    else if (source__ready) source__valid <= 1'b0;
endmodule
"""


@sim
def test_design_that_overwrites_under_backpressure_is_caught(tmp_path):
    # An identity layer, so the hand-written stage computes the same function when not stalled;
    # fully parallel (one cycle a frame), so its stream carries whole vectors as the stage does.
    g = Graph((Input("x", n=3, fmt=Int(4, True)),
               MatVec("id", input="x", weight=np.eye(3, dtype=int), wfmt=Int(2), pe=3, simd=3),
               Output("y", input="id")))
    ds = Dataset(np.random.default_rng(2).integers(-8, 8, (40, 3)).astype(float))
    compile_graph(g, tmp_path / "b", CompileOptions(target_cycles=1), dataset=ds)
    manifest = load_build(tmp_path / "b").manifest
    (tmp_path / "b" / manifest.verilog).write_text(overwriting_stage(manifest))
    summary = run_cocotb(tmp_path / "b", rates=((0.0, 0.0), (0.0, 0.6)), frames=40)
    calm, stalled = summary["per_rate"]
    assert calm["mismatches"] == 0, "without stalls the stage is correct"
    assert stalled["lost"] > 0 and stalled["protocol_errors"] > 0
    assert summary["mismatches"] == stalled["mismatches"] > 0
    assert any("changed while valid and not ready" in e for e in summary["protocol_errors"])


def test_checker_classifies_lost_duplicated_and_reordered_frames():
    expected = np.array([[1, 1], [2, 2], [3, 3], [4, 4]])

    def check(received):
        r = PhaseResult(0.0, 0.0, len(expected))
        Checker.check(expected, received, r)
        return r

    assert check([[1, 1], [2, 2], [3, 3], [4, 4]]).mismatches == 0
    lost = check([[1, 1], [3, 3], [4, 4]])                 # frame 2 dropped
    assert (lost.lost, lost.wrong, lost.reordered) == (1, 2, 2)
    dup = check([[1, 1], [2, 2], [2, 2], [3, 3], [4, 4]])   # frame 2 twice
    assert (dup.extra, dup.wrong, dup.reordered) == (1, 2, 2)
    swapped = check([[2, 2], [1, 1], [3, 3], [4, 4]])
    assert (swapped.wrong, swapped.reordered, swapped.lost) == (2, 2, 0)
    wrong = check([[1, 1], [2, 9], [3, 3], [4, 4]])
    assert (wrong.wrong, wrong.reordered) == (1, 0)
    assert wrong.first_mismatch == {"frame": 1, "expected": [2, 2], "got": [2, 9]}


def test_payload_packing_round_trips_signed_elements():
    port = StreamFormat(elems=3, width=5, signed=True)
    vec = [-16, 15, -1]
    assert port.unpack_int(port.pack_int(vec)) == vec
    assert port.pack_int([1, 0, 0]) == 1 and port.pack_int([0, 1, 0]) == 1 << 5
