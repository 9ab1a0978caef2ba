"""Bad input through the command line: exit status, one clear ``error: …`` line, no
traceback, and never a half-written output folder (the table is docs/errors.md)."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from bitwave.cli import main

QDOMAIN = "qonnx.custom_op.general"
BITWAVE = str(Path(sys.executable).parent / "bitwave")


def qonnx_model(*, w_patch=None, w_bits=4, in_bits=8, extra_op=None) -> onnx.ModelProto:
    """A two-layer QONNX MLP (6 → 5 → 3); the arguments break it in one place."""
    rng = np.random.default_rng(3)
    nodes, inits = [], []

    def const(name, v):
        inits.append(numpy_helper.from_array(np.asarray(v, dtype=np.float32), name))
        return name

    def quant(src, out, scale, bits, narrow=0):
        nodes.append(helper.make_node("Quant", [src, const(out + "_s", scale), const(out + "_z", 0.0),
                                                const(out + "_b", bits)], [out], domain=QDOMAIN,
                                      name=out, signed=1, narrow=narrow, rounding_mode="ROUND"))

    quant("x", "xq", 1 / 16, in_bits)
    w1 = rng.normal(size=(5, 6)) * 0.3
    if w_patch:
        w_patch(w1)
    quant(const("w1", w1), "w1q", 0.1, w_bits, narrow=1)
    nodes.append(helper.make_node("Gemm", ["xq", "w1q"], ["h"], name="fc1", transB=1))
    src = "h"
    if extra_op:
        nodes.append(helper.make_node(extra_op, ["h"], ["h2"], name="squash"))
        src = "h2"
    quant(src, "hq", 0.25, 4)
    quant(const("w2", rng.normal(size=(3, 5)) * 0.3), "w2q", 0.1, 4, narrow=1)
    nodes.append(helper.make_node("Gemm", ["hq", "w2q"], ["y"], name="fc2", transB=1))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 6])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                  helper.make_opsetid(QDOMAIN, 1)])


@pytest.fixture
def work(tmp_path):
    onnx.save(qonnx_model(), tmp_path / "tiny.onnx")
    np.savez(tmp_path / "data.npz", inputs=np.random.default_rng(1).uniform(-4, 4, (40, 6)))
    return tmp_path


def fails(argv, capsys, *, code=1) -> list[str]:
    """Run the CLI in-process; check the exit status and the error's form; return stderr lines."""
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in argv])
    assert e.value.code == code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("·")]
    errors = [ln for ln in lines if ln.lower().startswith("error: ")]
    assert len(errors) == 1, err
    return lines


def no_output_left(folder: Path, name: str) -> None:
    assert not (folder / name).exists()
    assert not list(folder.glob(f".{name}.tmp-*")), "a half-written build was left behind"


# --- model files -----------------------------------------------------------------------

def _noise(p):
    p.write_bytes(bytes(np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8)))


def _truncated(p):
    p.write_bytes(qonnx_model().SerializeToString()[:300])


def _nan(p):
    onnx.save(qonnx_model(w_patch=lambda w: w.__setitem__((1, 2), np.nan)), p)


def _inf(p):
    onnx.save(qonnx_model(w_patch=lambda w: w.__setitem__((0, 0), -np.inf)), p)


def _bits17(p):
    onnx.save(qonnx_model(w_bits=17), p)


def _bits0(p):
    onnx.save(qonnx_model(in_bits=0), p)


def _sine(p):
    onnx.save(qonnx_model(extra_op="Sin"), p)


@pytest.mark.parametrize("make, words", [
    (_noise, ["m.onnx: not a valid ONNX model ("]),
    (_truncated, ["m.onnx: not a valid ONNX model ("]),
    (_nan, ["node 'w1q' (Quant): the constant 'w1' contains NaN or Inf"]),
    (_inf, ["the constant 'w1' contains NaN or Inf"]),
    (_bits17, ["node 'fc1' (Gemm): weight bit width 17 is not supported; use 1 to 16 bits"]),
    (_bits0, ["node 'xq' (Quant): bit width 0 is not supported; use 1 to 16 bits"]),
    (_sine, ["node 'squash'", "Sin", "not supported"]),
], ids=["corrupt", "truncated", "nan-weight", "inf-weight", "17-bit", "0-bit", "unsupported-op"])
def test_bad_model_file(work, capsys, make, words):
    make(work / "m.onnx")
    lines = fails(["compile", work / "m.onnx", "-o", work / "out", "--data", work / "data.npz"], capsys)
    assert lines[0].startswith("error: ") and all(w in lines[0] for w in words), lines
    no_output_left(work, "out")


def test_missing_model_file(work, capsys):
    lines = fails(["compile", work / "nope.onnx", "-o", work / "out"], capsys)
    assert "nope.onnx: no such file" in lines[0]
    no_output_left(work, "out")


def test_example_inputs_of_the_wrong_shape(work, capsys):
    np.savez(work / "bad.npz", inputs=np.zeros((10, 5)))
    lines = fails(["compile", work / "tiny.onnx", "-o", work / "out", "--data", work / "bad.npz"], capsys)
    assert lines[0] == "error: data: inputs have shape (10, 5), the model expects (N, 6)"
    no_output_left(work, "out")


def test_example_inputs_missing_from_the_data_file(work, capsys):
    np.savez(work / "bad.npz", x=np.zeros((10, 6)))
    lines = fails(["compile", work / "tiny.onnx", "-o", work / "out", "--data", work / "bad.npz"], capsys)
    assert "cannot read an .npz with an 'inputs' array" in lines[0]
    no_output_left(work, "out")


# --- pipeline text and folding ----------------------------------------------------------

@pytest.mark.parametrize("pipeline, message", [
    ("nosuch-pass", "error: pipeline: unknown pass 'nosuch-pass'; known passes: fold, infer-bitwidths, "
                    "quantise-1bit, quantise-wdf, streamline, svd-split, to-stream"),
    ("svd-split{energy=2}", "error: svd-split: energy must be in [0, 1), not 2.0"),
    ("svd-split{rnk=2}", "error: svd-split: unknown option 'rnk'; options: energy, rank, bits, kappa, layers"),
    ("svd-split{rank=2", "error: pipeline: 'svd-split{rank=2': options must end with '}'"),
    ("svd-split{rank='two'}", "error: svd-split: option rank='two' must be of type int | None"),
])
def test_bad_pipeline_text(work, capsys, pipeline, message):
    lines = fails(["compile", work / "tiny.onnx", "-o", work / "out", "--data", work / "data.npz",
                   "-p", pipeline], capsys)
    assert lines[0] == message
    no_output_left(work, "out")


def test_pe_list_that_is_not_integers_is_a_usage_error(work, capsys):
    lines = fails(["compile", work / "tiny.onnx", "-o", work / "out", "--pe", "1,x", "--simd", "1,1"],
                  capsys, code=2)
    assert lines[-1] == "Error: Invalid value: --pe must be comma-separated integers, e.g. 16,8,8,10"
    no_output_left(work, "out")


@pytest.mark.parametrize("pe, simd, words", [
    ("2,1", "1,1", ["error: fold: op fc1 (fc1): pe=2 must divide rows=5 and simd=1 must divide cols=6; "
                    "divisors of 5: [1, 5], of 6: [1, 2, 3, 6]"]),
    ("1", "1", ["error: fold: pe/simd lists have 1/1 entries but the graph has 2 MatVec layers (fc1, fc2)"]),
    ("1,1", "4,1", ["simd=4 must divide cols=6"]),
])
def test_pe_simd_lists_that_do_not_fit_the_layers(work, capsys, pe, simd, words):
    lines = fails(["compile", work / "tiny.onnx", "-o", work / "out", "--data", work / "data.npz",
                   "--pe", pe, "--simd", simd], capsys)
    assert all(w in lines[0] for w in words), lines
    assert lines[1].startswith("  while running pass fold{")   # the pass manager's context
    no_output_left(work, "out")


# --- the output folder ------------------------------------------------------------------

def test_output_folder_with_other_content_is_never_touched(work):
    out = work / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my notes")
    (out / "sub").mkdir()
    run = subprocess.run([BITWAVE, "compile", "tiny.onnx", "-o", "mine", "--data", "data.npz"], cwd=work,
                         capture_output=True, text=True, env=dict(os.environ, COLUMNS="80"))
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    errors = [ln for ln in run.stderr.splitlines() if ln.startswith("error: ")]
    assert errors == ["error: output: mine already holds files bitwave did not write (notes.txt, sub); "
                      "choose an empty or new folder"]
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "sub"]
    assert (out / "notes.txt").read_text() == "my notes"
    assert not list(work.glob(".mine.tmp-*"))


def test_output_path_that_is_a_file(work, capsys):
    (work / "afile").write_text("x")
    lines = fails(["compile", work / "tiny.onnx", "-o", work / "afile", "--data", work / "data.npz"], capsys,
                  code=2)
    assert lines[-1].startswith("Error: Invalid value for '-o' / '--output': Directory ")
    assert lines[-1].endswith("afile' is a file.")
    assert (work / "afile").read_text() == "x"


def test_previous_build_is_replaced_only_when_it_is_bitwaves(work, capsys):
    main(["compile", str(work / "tiny.onnx"), "-o", str(work / "out"), "--data", str(work / "data.npz")])
    capsys.readouterr()
    (work / "out" / "manifest.json").write_text("{}")   # no longer marked as written by bitwave
    lines = fails(["compile", work / "tiny.onnx", "-o", work / "out", "--data", work / "data.npz"], capsys)
    assert "already holds files bitwave did not write" in lines[0]
    assert (work / "out" / "manifest.json").read_text() == "{}"


def test_verify_a_folder_that_is_not_a_build(work, capsys):
    (work / "empty").mkdir()
    lines = fails(["verify", work / "empty"], capsys)
    assert lines[0].endswith("empty: not a bitwave build folder (no manifest.json); run `bitwave compile` first")


# --- tools ------------------------------------------------------------------------------

@pytest.fixture
def built(work, capsys):
    main(["compile", str(work / "tiny.onnx"), "-o", str(work / "out"), "--data", str(work / "data.npz")])
    capsys.readouterr()
    return work / "out"


def test_missing_verilator_is_a_toolchain_error(built, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("BITWAVE_VERILATOR_ROOT", str(tmp_path / "no-verilator"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))   # no cached build to fall back on
    lines = fails(["verify", built], capsys)
    assert lines[0].startswith("error: verilator")
    assert "no-verilator" in " ".join(lines)


def test_missing_verilator_says_how_to_fix_it(built, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("BITWAVE_VERILATOR_ROOT", str(tmp_path / "no-verilator"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    lines = fails(["verify", built], capsys)
    assert len(lines) == 1 and "BITWAVE_VERILATOR_ROOT" in lines[0] and "unset it" in lines[0]


def test_missing_yosys_is_a_toolchain_error_that_says_how_to_fix_it(built, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("YOSYS", str(tmp_path / "no-yosys"))
    lines = fails(["build", built, "--board", "icebreaker"], capsys)
    assert lines[0].startswith("error: ")
    assert "$YOSYS is set to" in lines[0] and "unset it or point it at a working" in lines[0]


def test_unknown_board(built, capsys):
    lines = fails(["build", built, "--board", "no-such-board"], capsys)
    assert lines[0].startswith("error: ") and "no-such-board" in lines[0]
