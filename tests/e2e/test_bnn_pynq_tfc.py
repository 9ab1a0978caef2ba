"""Brevitas' own bnn_pynq TFC-w1a1 and TFC-w2a2 (``tests/e2e/tfc_models.py``): their forward
computes ``2·x − 1`` on the raw input before the first quantiser, which becomes the host-side
input conversion (``Input.pre``).  The reference interpreter must give qonnx's
``execute_onnx`` outputs; both the Python model and its QONNX export compile; the Verilog
verifies bit for bit (slow: a fully folded TFC takes Verilator about 3 minutes to build)."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.transformation.infer_shapes import InferShapes

from bitwave.cli import main
from bitwave.frontend import import_model, import_qonnx
from bitwave.ir import Arith, Bipolar, InputStep, Int, Interpreter, parse_graph
from bitwave.passes import PassManager, parse_pipeline

HERE = Path(__file__).resolve().parent
_SPEC = importlib.util.spec_from_file_location("_verified", HERE / "_verified.py")
_verified = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_verified)
tfc_models = _verified.load_sibling("tfc_models")

MODELS = {"tfc_w1a1": Bipolar(), "tfc_w2a2": Int(2, True)}


def real_output(graph, x):
    it = Interpreter(graph)
    return it.real(graph.output.name, it.output(x))


@pytest.mark.parametrize("fn", list(MODELS))
def test_reference_equals_qonnx_execution(fn, tmp_path):
    bundle = getattr(tfc_models, fn)()
    path = tmp_path / "model.onnx"
    graph = import_model(bundle.model, bundle.inputs, qonnx_path=path)
    assert graph.input.pre == (InputStep(Arith.MUL, 2.0), InputStep(Arith.ADD, -1.0))
    assert graph.input.fmt == MODELS[fn]
    assert import_qonnx(path) == graph
    model = ModelWrapper(str(path)).transform(InferShapes())
    name = model.graph.input[0].name
    want = execute_onnx(model, {name: bundle.inputs})[model.graph.output[0].name]
    final = PassManager(parse_pipeline("streamline,infer-bitwidths,fold")).run(graph)
    for g in (graph, final):
        got = real_output(g, bundle.inputs)
        assert np.allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max()), np.abs(got - want).max()
    assert len(np.unique(want.argmax(1))) > 1        # not a constant network


def compile_both(fn, tmp_path, capsys):
    """Compile from the Python model and from the QONNX export it wrote; both give the same graph
    (but for ``src``: the Python model's ops also name the FC.py line that built each layer)."""
    py, onnx_build = tmp_path / "py", tmp_path / "onnx"
    main(["compile", f"{HERE / 'tfc_models.py'}:{fn}", "-o", str(py)])
    main(["compile", str(py / "model.onnx"), "--data", str(py / "dataset.npz"), "-o", str(onnx_build)])
    capsys.readouterr()
    a, b = (parse_graph((d / "graph.txt").read_text()) for d in (py, onnx_build))
    assert [op.replace(src="") for op in a] == [op.replace(src="") for op in b]
    return py, onnx_build


@pytest.mark.parametrize("fn", list(MODELS))
def test_compiles_from_the_python_model_and_its_qonnx_export(fn, tmp_path, capsys):
    py, onnx_build = compile_both(fn, tmp_path, capsys)
    for build in (py, onnx_build):
        line = [ln for ln in (build / "report.md").read_text().splitlines() if ln.startswith("Input conversion")]
        assert line and "y = x · 2 − 1" in line[0], line


@pytest.mark.sim
@pytest.mark.slow
@pytest.mark.parametrize("fn", list(MODELS))
def test_verilog_verifies_bit_exact(fn, tmp_path, capsys):
    py, onnx_build = compile_both(fn, tmp_path, capsys)
    _verified.assert_verifies(onnx_build, 16, capsys)
