"""import_model on Brevitas models: the digits MLP against Brevitas itself, and every rejection."""

import copy
import importlib.util
import inspect
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import brevitas.nn as qnn
from brevitas.export import export_qonnx
from brevitas.quant import SignedBinaryActPerTensorConst, SignedBinaryWeightPerTensorConst

from bitwave.errors import FrontendError
from bitwave.frontend import import_model, import_qonnx, train_classifier
from bitwave.ir import Affine, Bipolar, Input, Int, Interpreter, MatVec, Output, Quant, verify

ROOT = Path(__file__).resolve().parents[2]


def load_example(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", ROOT / "examples" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def digits():
    return load_example("digits")


@pytest.fixture(scope="module")
def data(digits):
    return digits.load_data(0)


def short_trained(digits, data, bits, hidden):
    """The digits MLP after two quick epochs: real batch-norm statistics and learnt scales."""
    X, y, test = data
    torch.manual_seed(0)
    model = digits.quant_mlp(bits, hidden)
    train_classifier(model, X[~test][:400], y[~test][:400], epochs=2, lr=3e-3, seed=0)
    return model


@pytest.fixture(scope="module")
def mlp4(digits, data, tmp_path_factory):
    model = short_trained(digits, data, 4, 64)
    path = tmp_path_factory.mktemp("qonnx") / "digits4.onnx"
    model.train()  # import_model must leave the mode (and everything else) as it was
    before = copy.deepcopy(model.state_dict())
    graph = import_model(model, data[0][:8], qonnx_path=path)
    untouched = model.training and before.keys() == model.state_dict().keys() and all(
        torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    model.eval()
    return model, graph, path, untouched


def compare(model, graph, X):
    """IR interpreter against the Brevitas model on ``X``: (max |error| / max |logit|, argmax mismatches)."""
    it = Interpreter(graph)
    out = it.real(graph.output.name, it.run(X)[graph.output.name])
    with torch.no_grad():
        ref = model(torch.from_numpy(X)).numpy().astype(np.float64)
    rel = np.abs(out - ref).max() / np.abs(ref).max()
    diff = np.flatnonzero(out.argmax(1) != ref.argmax(1))
    return rel, diff, out, ref


def assert_matches(model, graph, X):
    rel, diff, out, ref = compare(model, graph, X)
    assert rel < 1e-5, rel
    # An argmax may differ only where the model's two best logits tie to float precision.
    top2 = np.sort(ref[diff], axis=1)[:, -2:]
    assert np.all(top2[:, 1] - top2[:, 0] <= 1e-5 * np.abs(ref).max()), diff


def test_digits_graph_structure(mlp4):
    model, graph, *_ = mlp4
    verify(graph)
    assert [(type(op), op.name) for op in graph.ops] == [
        (Input, "quant_in"), (MatVec, "fc1"), (Affine, "bn1"), (Quant, "act1"),
        (MatVec, "fc2"), (Affine, "bn2"), (Quant, "act2"), (MatVec, "fc3"), (Output, "output")]
    assert graph["quant_in"].fmt == Int(8, True) and graph["quant_in"].n == 64
    assert all(graph[f"fc{i}"].wfmt == Int(4, True) for i in (1, 2, 3))
    assert graph["act1"].fmt == graph["act2"].fmt == Int(4, False)
    assert graph["fc1"].src == "fc1" and graph["bn2"].src == "bn2"
    assert graph["fc1"].bias is None and graph["fc3"].bias is not None  # Int32Bias: integer bias


def test_digits_integer_weights_and_scales_are_brevitas_own(mlp4):
    model, graph, *_ = mlp4
    for name in ("fc1", "fc2", "fc3"):
        qw = getattr(model, name).quant_weight()
        assert np.array_equal(graph[name].weight.array, qw.int().numpy())
        assert np.allclose(graph[name].wscale.array, float(qw.scale.detach()), rtol=0, atol=0)
    assert graph["quant_in"].scale == float(model.quant_in.act_quant.scale().detach())


def test_digits_batchnorm_folds_exactly(mlp4):
    model, graph, *_ = mlp4
    bn = model.bn1
    var, mean = bn.running_var.double().numpy(), bn.running_mean.double().numpy()
    gamma, beta = bn.weight.detach().double().numpy(), bn.bias.detach().double().numpy()
    mul = gamma / np.sqrt(var + bn.eps)
    assert np.allclose(graph["bn1"].mul.array, mul, rtol=1e-7, atol=0)
    assert np.allclose(graph["bn1"].add.array, beta - mean * mul, rtol=1e-7, atol=1e-12)


def test_digits_interpreter_matches_brevitas_on_every_sample(mlp4, data):
    model, graph, *_ = mlp4
    assert_matches(model, graph, data[0])


def test_exported_qonnx_files_give_the_identical_graph(mlp4, data, tmp_path):
    model, graph, saved, _ = mlp4
    assert import_qonnx(saved) == graph
    # What a user (or FINN/hls4ml) hands us: Brevitas' own export, with its default exporter ...
    user = tmp_path / "user.onnx"
    with torch.no_grad():
        export_qonnx(model, input_t=torch.from_numpy(data[0][:8]), export_path=str(user))
    assert import_qonnx(user) == graph
    # ... and the older TorchScript exporter that existing QONNX files come from.
    legacy = tmp_path / "legacy.onnx"
    with torch.no_grad():
        export_qonnx(model, input_t=torch.from_numpy(data[0][:8]), export_path=str(legacy), dynamo=False)
    assert import_qonnx(legacy) == graph


def test_digits_2bit(digits, data):
    model = short_trained(digits, data, 2, 32)
    graph = import_model(model, data[0][:8])
    assert all(graph[f"fc{i}"].wfmt == Int(2, True) for i in (1, 2, 3))
    assert set(np.unique(graph["fc1"].weight.array)) <= {-1, 0, 1}  # narrow 2-bit: ternary
    assert graph["act1"].fmt == Int(2, False)
    assert_matches(model, graph, data[0])


def test_binary_weights_and_sign_activations():
    torch.manual_seed(3)
    model = nn.Sequential(OrderedDict(net=nn.Sequential(
        qnn.QuantIdentity(bit_width=8, return_quant_tensor=False),
        qnn.QuantLinear(16, 32, bias=False, weight_quant=SignedBinaryWeightPerTensorConst),
        nn.BatchNorm1d(32),
        qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst),
        qnn.QuantLinear(32, 4, bias=False, weight_quant=SignedBinaryWeightPerTensorConst))))
    bn = model.net[2]
    bn.running_mean.uniform_(-3, 3)
    bn.running_var.uniform_(0.5, 4)
    bn.weight.data.uniform_(-1, 1)
    model.eval()
    x = np.random.default_rng(0).normal(size=(256, 16)).astype(np.float32)
    graph = import_model(model, x[:4])
    # Module paths become identifiers: net.1 -> net_1; src keeps the path.
    assert [op.name for op in graph.ops] == ["net_0", "net_1", "net_2", "net_3", "net_4", "output"]
    assert graph["net_1"].src == "net.1"
    assert graph["net_1"].wfmt == Bipolar() and graph["net_4"].wfmt == Bipolar()
    assert graph["net_3"].fmt == Bipolar()
    assert_matches(model, graph, x)


# -- rejections -------------------------------------------------------------------------------

def rejects(model, x, *words):
    with pytest.raises(FrontendError) as e:
        import_model(model, x)
    for w in words:
        assert w in str(e.value), str(e.value)
    return str(e.value)


class WithLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.quant = qnn.QuantIdentity(bit_width=8)
        self.rnn = nn.LSTM(8, 8)

    def forward(self, x):
        return self.rnn(self.quant(x))[0]


def test_unsupported_layer_is_rejected_up_front():
    msg = rejects(WithLSTM(), torch.zeros(2, 8))
    assert msg == ("frontend: module rnn (torch.nn.LSTM) is not supported; supported: QuantLinear, "
                   "QuantConv1d/2d, QuantReLU (max_val for ReLU6), QuantIdentity, QuantHardTanh, QuantSigmoid, "
                   "QuantTanh, QuantEltwiseAdd, BatchNorm1d/2d, MaxPool1d/2d, AvgPool1d/2d, AdaptiveAvgPool1d/2d "
                   "and AdaptiveMaxPool1d/2d (to size 1 or whole windows), Flatten, Unflatten (before the input "
                   "quantiser), Dropout, Identity, Sequential, ModuleList, ModuleDict (and your own nn.Module "
                   "classes combining them, residual adds x + f(x) of two tensors of one scale included)")


def test_wrong_input_shape_names_expected_and_given(digits, data):
    rejects(digits.quant_mlp(4, 16), data[0][:8, :32], "shape (8, 32)", "expects (N, 64)", "fc1")


def test_inconsistent_layers_are_named():
    model = nn.Sequential(qnn.QuantIdentity(bit_width=8), qnn.QuantLinear(8, 6, bias=False),
                          qnn.QuantReLU(), qnn.QuantLinear(5, 2, bias=False))
    rejects(model, torch.zeros(2, 8), "layer 3 (QuantLinear) has in_features=5", "receives 6 features from 1")


def test_example_input_must_be_a_batch(digits):
    rejects(digits.quant_mlp(4, 16), np.zeros(64, np.float32), "must be a batch", "(64,)")


def test_nan_weights_name_the_module(digits, data):
    model = digits.quant_mlp(4, 16)
    with torch.no_grad():
        model.fc2.weight[3, 1] = float("nan")
    rejects(model, data[0][:8], "module fc2: parameter weight contains NaN or Inf (1 of 256 values)")


def test_nan_quantiser_scale_names_the_layer(digits, data):
    model = digits.quant_mlp(4, 16)
    train_classifier(model, data[0][:64], data[1][:64], epochs=1, seed=0)  # creates the learnt scales
    scale = next(p for n, p in model.act1.named_parameters() if "scaling_impl" in n)
    with torch.no_grad():
        scale.fill_(float("inf"))
    rejects(model, data[0][:8], "module act1: parameter act_quant.", "NaN or Inf")


@pytest.mark.parametrize("make, words", [
    (lambda: qnn.QuantLinear(8, 4, bias=False, weight_bit_width=0), ["weight bit width 0", "1 to 16"]),
    (lambda: qnn.QuantReLU(bit_width=17), ["activation bit width 17", "1 to 16"]),
    (lambda: qnn.QuantLinear(8, 4, bias=False, weight_bit_width=17), ["weight bit width 17"]),
])
def test_bit_widths_outside_1_to_16_are_rejected(make, words):
    model = nn.Sequential(qnn.QuantIdentity(bit_width=8), nn.Sequential(make()))
    rejects(model, torch.zeros(2, 8), "module 1.0", *words)


def test_batchnorm_without_statistics_is_rejected():
    model = nn.Sequential(qnn.QuantIdentity(bit_width=8), qnn.QuantLinear(8, 4, bias=False),
                          nn.BatchNorm1d(4, track_running_stats=False))
    rejects(model, torch.zeros(2, 8), "module 2 (BatchNorm1d)", "running statistics")


class DataDependent(nn.Module):
    def __init__(self):
        super().__init__()
        self.quant = qnn.QuantIdentity(bit_width=8, return_quant_tensor=False)
        self.a = qnn.QuantLinear(8, 4, bias=False)
        self.b = qnn.QuantLinear(8, 4, bias=False)

    def forward(self, x):
        x = self.quant(x)
        if x.sum() > 0:
            return self.a(x)
        return self.b(x)


def test_data_dependent_control_flow_is_not_traceable():
    line = next(i for i, ln in enumerate(inspect.getsourcelines(DataDependent)[0])
                if "if x.sum() > 0" in ln) + inspect.getsourcelines(DataDependent)[1]
    rejects(DataDependent(), torch.rand(3, 8), "model is not traceable",
            f"test_frontend_brevitas.py:{line}", "`if x.sum() > 0:`")


def test_missing_input_quantiser_says_what_to_add():
    model = nn.Sequential(qnn.QuantLinear(8, 4, bias=False), qnn.QuantReLU(), qnn.QuantLinear(4, 2, bias=False))
    rejects(model, torch.rand(3, 8), "module 0", "unquantised model input",
            "QuantIdentity(bit_width=8, return_quant_tensor=False)")


def test_import_leaves_the_model_as_it_was(mlp4):
    assert mlp4[3]
