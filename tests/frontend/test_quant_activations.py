"""Brevitas' monotone quantised activations (QuantSigmoid, QuantTanh, QuantReLU with a max,
QuantHardTanh) import, streamline, and give Brevitas' own quantised outputs; non-monotone
activations are refused with what to use instead."""

from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

import brevitas.nn as qnn
from brevitas.export import export_qonnx

from bitwave.errors import FrontendError
from bitwave.frontend import import_model, import_qonnx
from bitwave.ir import Activation, Int, Interpreter, MultiThreshold, Quant
from bitwave.passes import PassManager, parse_pipeline

ACTS = {
    "sigmoid": lambda: qnn.QuantSigmoid(bit_width=4, return_quant_tensor=False),
    "tanh": lambda: qnn.QuantTanh(bit_width=4, return_quant_tensor=False),
    "relu6": lambda: qnn.QuantReLU(bit_width=4, max_val=6.0, return_quant_tensor=False),
    "hardtanh": lambda: qnn.QuantHardTanh(bit_width=4, min_val=-1.0, max_val=1.0, return_quant_tensor=False),
}
#: What the activation quantiser becomes in the IR: (act, fmt).
EXPECTED = {"sigmoid": (Activation.SIGMOID, Int(4, False)), "tanh": (Activation.TANH, Int(4, True)),
            "relu6": (None, Int(4, False)), "hardtanh": (None, Int(4, True))}


def mlp(kind: str, seed: int = 0) -> nn.Module:
    """16 → 12 → 6 with batch-norm, ending in the activation: the output is quantised codes."""
    torch.manual_seed(seed)
    model = nn.Sequential(OrderedDict(
        quant_in=qnn.QuantIdentity(bit_width=8, return_quant_tensor=False),
        fc1=qnn.QuantLinear(16, 12, bias=True, weight_bit_width=4),
        bn1=nn.BatchNorm1d(12), act1=ACTS[kind](),
        fc2=qnn.QuantLinear(12, 6, bias=True, weight_bit_width=4),
        bn2=nn.BatchNorm1d(6), act2=ACTS[kind]()))
    for bn in (model.bn1, model.bn2):       # statistics that spread the pre-activations over the codes
        bn.running_mean.uniform_(-0.3, 0.3)
        bn.running_var.uniform_(0.01, 0.2)
        bn.weight.data.uniform_(0.5, 2.0)
        bn.bias.data.uniform_(-0.5, 0.5)
    return model.eval()


def inputs(n=400, seed=1):
    return np.random.default_rng(seed).normal(size=(n, 16)).astype(np.float32)


def brevitas_codes(model, x, scale):
    with torch.no_grad():
        y = model(torch.from_numpy(x)).numpy().astype(np.float64)
    return np.rint(y / scale).astype(np.int64)


@pytest.mark.parametrize("kind", list(ACTS))
def test_reference_equals_brevitas_quantised_outputs(kind):
    model, x = mlp(kind), inputs()
    graph = import_model(model, x[:8])
    act, fmt = EXPECTED[kind]
    assert isinstance(graph["act1"], Quant) and (graph["act1"].act, graph["act1"].fmt) == (act, fmt)
    want = brevitas_codes(model, x, graph["act2"].scale.array)
    got = Interpreter(graph).output(x)
    assert len(np.unique(want)) >= 8                      # the outputs use most of the 16 codes
    assert np.array_equal(got, want), np.argwhere(got != want)[:5]
    final = PassManager(parse_pipeline("streamline,infer-bitwidths,fold")).run(graph)
    assert isinstance(final["act1"], MultiThreshold) and isinstance(final["act2"], MultiThreshold)
    assert np.array_equal(Interpreter(final).output(x), want)


@pytest.mark.parametrize("kind", ["sigmoid", "tanh"])
def test_qonnx_exports_read_the_same(kind, tmp_path):
    model, x = mlp(kind), inputs(8)
    graph = import_model(model, x)
    for dynamo in (True, False):         # torch.export and the older TorchScript exporter
        path = tmp_path / f"{kind}-{dynamo}.onnx"
        with torch.no_grad():
            export_qonnx(model, input_t=torch.from_numpy(x), export_path=str(path), dynamo=dynamo)
        assert import_qonnx(path) == graph


def clipped(hardtanh: nn.Hardtanh) -> nn.Module:
    torch.manual_seed(2)
    return nn.Sequential(qnn.QuantIdentity(bit_width=8, return_quant_tensor=False),
                         qnn.QuantLinear(16, 12, bias=True), nn.ReLU6(),
                         qnn.QuantIdentity(bit_width=4, return_quant_tensor=False),
                         qnn.QuantLinear(12, 6, bias=True), hardtanh,
                         qnn.QuantIdentity(bit_width=4, return_quant_tensor=False)).eval()


def export(model, x, path):
    with torch.no_grad():
        export_qonnx(model, input_t=torch.from_numpy(x[:8]), export_path=str(path))
    return path


def test_float_relu6_and_hardtanh_narrow_the_quantisers_codes(tmp_path):
    """A float nn.ReLU6 / nn.Hardtanh exports as Clip: it narrows the next quantiser's code range."""
    model = clipped(nn.Hardtanh(0.0, 1.0))
    s2 = float(model[6].act_quant.scale())
    model[5].max_val = 3 * s2                      # hard-tanh to [0, 3 codes]: Int(2, False)
    x = inputs() * 4
    graph = import_qonnx(export(model, x, tmp_path / "clip.onnx"))
    q1, q2 = (op for op in graph.ops if isinstance(op, Quant))
    s1 = float(q1.scale.array.ravel()[0])
    assert round(6 / s1) >= 7 and q1.fmt == Int(3, False)   # ReLU6 = Clip(0, 6) on a 4-bit signed
    assert q2.fmt == Int(2, False)
    want = brevitas_codes(model, x, float(q2.scale.array.ravel()[0]))
    assert len(np.unique(want)) == 4 and np.array_equal(Interpreter(graph).output(x), want)


def test_clip_that_leaves_no_whole_int_range_says_what_to_do(tmp_path):
    model = clipped(nn.Hardtanh(-1.0, 1.0))
    model[5].min_val, model[5].max_val = (v * float(model[6].act_quant.scale()) for v in (-4, 4))
    with pytest.raises(FrontendError, match=r"codes in \[-4, 4\], which no Int\(bits, signed\) spans "
                                            r"exactly; a clip before a quantiser must keep a whole Int range"):
        import_qonnx(export(model, inputs(8), tmp_path / "clip.onnx"))


# -- refusals ---------------------------------------------------------------------------------

def with_float(act: nn.Module) -> nn.Module:
    return nn.Sequential(OrderedDict(quant_in=qnn.QuantIdentity(bit_width=8), fc=qnn.QuantLinear(8, 4),
                                     act=act, out=qnn.QuantIdentity(bit_width=4))).eval()


@pytest.mark.parametrize("act, name", [(nn.GELU(), "GELU"), (nn.SiLU(), "SiLU")])
def test_non_monotone_float_activation_is_refused_naming_the_layer(act, name):
    with pytest.raises(FrontendError) as e:
        import_model(with_float(act), torch.zeros(2, 8))
    assert str(e.value) == (
        f"frontend: module act (torch.nn.{name}) is not monotone, so no thresholds can represent it; "
        "bitwave compiles monotone quantised activations: use QuantReLU (max_val for ReLU6), "
        "QuantSigmoid, QuantTanh or QuantHardTanh instead")


def test_float_sigmoid_module_says_which_quantised_layer_to_use():
    with pytest.raises(FrontendError, match=r"module act \(torch.nn.Sigmoid\) is a float activation; "
                                            r"bitwave compiles quantised activations into thresholds: "
                                            r"use QuantSigmoid$"):
        import_model(with_float(nn.Sigmoid()), torch.zeros(2, 8))


@pytest.mark.parametrize("act, words", [
    (nn.GELU(), ["(Gelu", "GELU is not monotone", "use QuantReLU, QuantSigmoid, QuantTanh or QuantHardTanh"]),
    (nn.SiLU(), ["(Mul", "x * sigmoid(x) (SiLU, swish) is not monotone"]),
])
def test_non_monotone_activation_in_a_qonnx_file_is_refused(act, words, tmp_path):
    path = tmp_path / "m.onnx"
    with torch.no_grad():
        export_qonnx(with_float(act), input_t=torch.zeros(2, 8), export_path=str(path))
    with pytest.raises(FrontendError) as e:
        import_qonnx(path)
    msg = str(e.value)
    assert "\n" not in msg and all(w in msg for w in words), msg
