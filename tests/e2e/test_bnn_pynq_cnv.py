"""Brevitas' own bnn_pynq CNV-w1a1 and CNV-w2a2 (``tests/e2e/cnv_models.py``, batch-norm statistics
randomised) and SFC-w1a1 from their QONNX export: the reference interpreter, before and after the
default passes, gives qonnx's ``execute_onnx`` outputs on 16 CIFAR-sized (N, 3, 32, 32) inputs.
One export per model and module (a CNV export takes Brevitas about 20 s)."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.transformation.infer_shapes import InferShapes

from bitwave.frontend import import_model, import_qonnx
from bitwave.ir import Arith, Bipolar, Conv, Flatten, InputStep, Int, Interpreter, Pool
from bitwave.passes import PassManager, default_passes

HERE = Path(__file__).resolve().parent
_SPEC = importlib.util.spec_from_file_location("_verified", HERE / "_verified.py")
_verified = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_verified)
cnv_models = _verified.load_sibling("cnv_models")
tfc_models = _verified.load_sibling("tfc_models")

#: model -> (its bundle, the formats of its input and of its hidden activations)
MODELS = {"cnv_w1a1": (cnv_models.cnv_w1a1, Int(8, True), Bipolar()),
          "cnv_w2a2": (cnv_models.cnv_w2a2, Int(8, True), Int(2, True)),
          "sfc_w1a1": (lambda: tfc_models.tfc("sfc_1w1a"), Bipolar(), Bipolar())}


@pytest.fixture(scope="module", params=list(MODELS))
def exported(request, tmp_path_factory):
    make, *formats = MODELS[request.param]
    bundle = make()
    path = tmp_path_factory.mktemp(request.param) / "model.onnx"
    graph = import_model(bundle.model, bundle.inputs, qonnx_path=path)
    return request.param, bundle, graph, path, formats


def test_reference_equals_qonnx_execution(exported):
    name, bundle, graph, path, (inp, act) = exported
    assert graph.input.pre == (InputStep(Arith.MUL, 2.0), InputStep(Arith.ADD, -1.0))
    assert graph.input.fmt == inp
    assert import_qonnx(path) == graph
    model = ModelWrapper(str(path)).transform(InferShapes())
    want = execute_onnx(model, {model.graph.input[0].name: bundle.inputs})[model.graph.output[0].name]
    final = PassManager(default_passes(graph)).run(graph)
    for g in (graph, final):
        it = Interpreter(g)
        got = it.real(g.output.name, it.output(bundle.inputs))
        assert np.allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max()), np.abs(got - want).max()
    assert len(np.unique(want.argmax(1))) > 1        # not a constant network
    assert {op.fmt for op in final.ops if type(op).__name__ == "MultiThreshold"} == {act}


def test_cnv_structure(exported):
    name, bundle, graph, *_ = exported
    if not name.startswith("cnv"):
        pytest.skip("a CNV only")
    assert graph.input.shape == (3, 32, 32)
    convs = [op for op in graph.ops if isinstance(op, Conv)]
    assert [c.rows for c in convs] == [64, 64, 128, 128, 256, 256]
    assert all(c.kernel == (3, 3) and not any(c.pads) for c in convs)
    assert [op.kind for op in graph.ops if isinstance(op, Pool)] == ["max", "max"]
    assert sum(isinstance(op, Flatten) for op in graph.ops) == 1
