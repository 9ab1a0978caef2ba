"""Convolutional models through the QONNX reader: Brevitas CNNs (2-D and 1-D) against Brevitas
itself before and after the default passes, hand-built QONNX pooling against qonnx's executor,
shaped data, and every refusal naming the node and what is supported."""

import importlib.util
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from torch import nn

import brevitas.nn as qnn
from brevitas.quant import Int32Bias

from bitwave.errors import FrontendError
from bitwave.frontend import ModelBundle, import_model, import_qonnx, load_model
from bitwave.ir import Affine, Conv, Flatten, Input, Int, Interpreter, MatVec, Output, Pool, Quant, verify
from bitwave.passes import PassManager, default_passes

HERE = Path(__file__).resolve().parent


def _sibling(name):
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


brevitas_tests = _sibling("test_frontend_brevitas")
qonnx_tests = _sibling("test_frontend_qonnx")
Builder, QDOMAIN, _f32 = qonnx_tests.Builder, qonnx_tests.QDOMAIN, qonnx_tests._f32


def bn(cls, c):
    """A batch-norm with drawn statistics, so that the thresholds differ per channel."""
    m = cls(c)
    m.running_mean.uniform_(-1, 1)
    m.running_var.uniform_(0.5, 2)
    m.weight.data.uniform_(0.5, 1.5)
    m.bias.data.uniform_(-0.5, 0.5)
    return m


def cnn2d(in_bits):
    torch.manual_seed(in_bits)
    return nn.Sequential(
        qnn.QuantIdentity(bit_width=in_bits, return_quant_tensor=False),
        qnn.QuantConv2d(1, 4, 3, padding=1), bn(nn.BatchNorm2d, 4), qnn.QuantReLU(bit_width=4),
        nn.MaxPool2d(2),
        qnn.QuantConv2d(4, 8, 3, padding=1, weight_bit_width=4), bn(nn.BatchNorm2d, 8),
        qnn.QuantReLU(bit_width=4),
        nn.AvgPool2d(2), qnn.QuantIdentity(bit_width=6, return_quant_tensor=True), nn.Flatten(),
        qnn.QuantLinear(32, 5, bias=True, bias_quant=Int32Bias)).eval()


def cnn1d():
    """Stride, dilation, padding and a depthwise convolution over (N, C, L) signals."""
    torch.manual_seed(5)
    return nn.Sequential(
        qnn.QuantIdentity(bit_width=6, return_quant_tensor=False),
        qnn.QuantConv1d(2, 6, 5, stride=2, padding=2, bias=False, weight_scaling_per_output_channel=True),
        bn(nn.BatchNorm1d, 6),
        qnn.QuantReLU(bit_width=3),
        qnn.QuantConv1d(6, 6, 3, dilation=2, padding=2, groups=6, weight_bit_width=3),
        bn(nn.BatchNorm1d, 6), qnn.QuantIdentity(bit_width=4, return_quant_tensor=True),
        nn.MaxPool1d(3, stride=2, padding=1), nn.Flatten(),
        qnn.QuantLinear(24, 4, bias=True, bias_quant=Int32Bias)).eval()


def samples(shape, n=256, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, size=(n, *shape)).astype(np.float32)


@pytest.fixture(scope="module", params=[8, 4], ids=["in8", "in4"])
def imported2d(request, tmp_path_factory):
    model = cnn2d(request.param)
    x = samples((1, 8, 8))
    path = tmp_path_factory.mktemp("cnn") / "cnn.onnx"
    graph = import_model(model, x[:2], qonnx_path=path)
    final = PassManager(default_passes(graph)).run(graph)
    return model, graph, final, path, x


def test_cnn_graph_structure(imported2d):
    model, graph, _, _, _ = imported2d
    verify(graph)
    assert [type(op) for op in graph.ops] == [Input, Conv, Affine, Quant, Pool, Conv, Affine, Quant,
                                              Pool, Quant, Flatten, MatVec, Output]
    assert graph.input.shape == (1, 8, 8) and graph.input.n == 64
    assert graph["layer_1"].pads == (1, 1, 1, 1) and graph["layer_1"].kernel == (3, 3)
    assert graph["layer_4"].kind == "max" and graph["layer_8"].kind == "avg"
    assert graph["layer_5"].wfmt == Int(4, True)
    assert graph["layer_11"].bias is not None          # Int32Bias: straight into the accumulator


def test_cnn_weights_are_brevitas_codes_in_window_order(imported2d):
    model, graph, *_ = imported2d
    for i in (1, 5):
        qw = model[i].quant_weight()
        codes = qw.int().permute(0, 2, 3, 1).reshape(qw.value.shape[0], -1).numpy()
        assert np.array_equal(graph[f"layer_{i}"].weight.array, codes)
        assert np.all(graph[f"layer_{i}"].wscale.array == float(qw.scale.detach()))


def test_cnn_reference_equals_brevitas_before_and_after_the_passes(imported2d):
    model, graph, final, _, x = imported2d
    brevitas_tests.assert_matches(model, graph, x)
    brevitas_tests.assert_matches(model, final, x)
    assert not any(isinstance(op, (Affine, Quant)) for op in final.ops)     # all in thresholds
    it = Interpreter(final)
    assert np.array_equal(it.output(x), it.output(x.reshape(len(x), -1)))   # either layout
    assert len(np.unique(it.output(x), axis=0)) > len(x) // 2     # not a constant network


def test_cnn_qonnx_file_gives_the_identical_graph(imported2d):
    _, graph, _, path, _ = imported2d
    assert import_qonnx(path) == graph


def test_conv1d_reference_equals_brevitas_before_and_after_the_passes():
    model = cnn1d()
    x = samples((2, 16), seed=1)
    graph = import_model(model, x[:2])
    conv = [op for op in graph.ops if isinstance(op, Conv)]
    assert [(c.kernel, c.stride, c.pads, c.dilation, c.groups) for c in conv] == [
        ((5,), (2,), (2, 2), (1,), 1), ((3,), (1,), (2, 2), (2,), 6)]
    assert graph.input.shape == (2, 16)
    pool = next(op for op in graph.ops if isinstance(op, Pool))
    assert (pool.kernel, pool.stride, pool.pads) == ((3,), (2,), (1, 1))
    brevitas_tests.assert_matches(model, graph, x)
    brevitas_tests.assert_matches(model, PassManager(default_passes(graph)).run(graph), x)


def test_unflatten_before_the_input_quantiser_gives_an_image_input():
    torch.manual_seed(6)
    model = nn.Sequential(nn.Unflatten(1, (1, 6, 6)), qnn.QuantIdentity(bit_width=8, return_quant_tensor=False),
                          qnn.QuantConv2d(1, 3, 3, stride=2, bias=False), bn(nn.BatchNorm2d, 3),
                          qnn.QuantReLU(bit_width=2), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          qnn.QuantLinear(3, 3, bias=False)).eval()
    x = samples((36,), seed=2)
    graph = import_model(model, x[:2])
    assert graph.input.shape == (1, 6, 6) and graph["layer_2"].stride == (2, 2)
    assert graph["layer_5"].kind == "avg" and graph["layer_5"].kernel == (2, 2)
    brevitas_tests.assert_matches(model, PassManager(default_passes(graph)).run(graph), x)


# -- hand-built QONNX: global average pooling, and refusals ---------------------------------------

def conv_front(b, c_out=3, *, pads=(1, 1, 1, 1)):
    """Input quantiser, a 3×3 quantised convolution, ReLU and a 4-bit quantiser."""
    b.act(0.05, 8, name="inq")
    w = np.random.default_rng(3).normal(size=(c_out, b.in_shape[1], 3, 3)).astype(np.float32)
    wq = b.quant(b.const(w), 0.1, 4, narrow=1)
    b.cur = b.node("Conv", [b.cur, wq], name="conv", kernel_shape=[3, 3], pads=list(pads))
    b.cur = b.node("Relu", [b.cur])
    b.act(0.2371, 4, signed=0, name="act")   # no exact rounding ties with the 0.005 accumulator step


@pytest.mark.parametrize("op, kind, attrs", [
    ("GlobalAveragePool", "avg", {}),
    ("ReduceMean", "avg", {"axes": [2, 3]}),                   # AdaptiveAvgPool2d(1)
    ("ReduceMax", "max", {"axes": [-1, -2], "keepdims": 0}),   # AdaptiveMaxPool2d(1) and a squeeze
])
def test_global_pooling_matches_qonnx_execution(op, kind, attrs):
    b = Builder(0, shape=(2, 5, 5))
    conv_front(b)
    b.cur = b.node(op, [b.cur], name="gap", **attrs)
    b.op("Flatten", axis=1)
    b.n = 3
    qonnx_tests.small_layer(b, 4)
    g = import_qonnx(b.model(4))
    assert g["gap"].kernel == (5, 5) and g["gap"].kind == kind
    x = np.random.default_rng(4).normal(size=(32, 2, 5, 5))
    assert np.allclose(qonnx_tests.bitwave_run(g, x), qonnx_tests.qonnx_run(b.model(4), x), atol=1e-5)


def rejects(b, out_n, *words):
    return qonnx_tests.reject(b.model(out_n), *words)


def test_pooling_a_real_value_asks_for_a_quantiser_first():
    b = Builder(0, shape=(1, 4, 4))
    b.act(0.05, 8, name="inq")
    wq = b.quant(b.const(np.ones((2, 1, 3, 3), np.float32)), 0.1, 4, narrow=1)
    b.cur = b.node("Conv", [b.cur, wq], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    b.op("Mul", np.full((1, 2, 1, 1), -0.5), name="scale")
    b.cur = b.node("MaxPool", [b.cur], name="pool", kernel_shape=[2, 2], strides=[2, 2])
    rejects(b, 8, "'pool' (MaxPool)", "max pooling reads the real-valued output of node 'scale'",
            "put a QuantIdentity or QuantReLU before it")


def test_partial_windows_partial_reductions_and_trunc_are_refused():
    b = Builder(0, shape=(1, 5, 5))
    conv_front(b)
    b.cur = b.node("MaxPool", [b.cur], name="pool", kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)
    rejects(b, 12, "'pool' (MaxPool)", "ceil_mode=1 adds a partial window")
    b = Builder(0, shape=(1, 4, 4))
    conv_front(b)
    b.cur = b.node("AveragePool", [b.cur], name="avg", kernel_shape=[2, 2], pads=[1, 1, 1, 1])
    rejects(b, 12, "'avg' (AveragePool)", "count_include_pad=False) is not supported")
    b = Builder(0, shape=(1, 4, 4))
    conv_front(b)
    b.cur = b.node("ReduceMean", [b.cur], name="rows", axes=[3])
    rejects(b, 12, "'rows' (ReduceMean)", "over axes [3] is not supported", "spatial axes [2, 3]")
    b = Builder(0, shape=(1, 4, 4))
    conv_front(b)
    b.cur = b.node("Trunc", [b.cur, *(b.const(_f32(v)) for v in (0.25, 0, 6, 0.25, 4))], QDOMAIN,
                   name="trunc")
    rejects(b, 48, "'trunc' (Trunc)", "TruncAvgPool2d", "followed by a QuantIdentity")


def test_transposes_and_unflattening_reshapes_are_refused():
    b = Builder(0, shape=(1, 4, 4))
    conv_front(b)
    b.op("Transpose", name="swap", perm=[0, 2, 3, 1])
    rejects(b, 48, "'swap' (Transpose)", "perm=[0, 2, 3, 1]", "changes the order of the elements")
    b = Builder(0, shape=(1, 4, 4))
    conv_front(b)
    b.cur = b.node("Reshape", [b.cur, b.const(np.array([-1, 3, 16], np.int64))], name="fold")
    rejects(b, 48, "'fold' (Reshape)", "reshape to [-1, 3, 16] of (32, 3, 4, 4) is not supported",
            "only to flatten")


def test_a_residual_add_of_images_imports_and_odd_concatenations_are_refused():
    b = Builder(0, shape=(1, 4, 4))
    conv_front(b)
    skip = b.cur
    b.cur = b.node("MaxPool", [b.cur], name="pool", kernel_shape=[1, 1])
    b.cur = b.node("Add", [b.cur, skip], name="residual")
    g = import_qonnx(b.model(48))
    assert (g["residual"].input, g["residual"].other) == ("pool", "act")
    b = Builder(0, shape=(1, 4, 4))
    conv_front(b)
    b.cur = b.node("Concat", [b.cur, b.cur], name="cat", axis=1)
    rejects(b, 96, "'cat' (Concat)", "concatenates a tensor with itself")
    b = Builder(0, shape=(1, 4, 4))
    conv_front(b)
    skip = b.cur
    b.cur = b.node("MaxPool", [b.cur], name="pool", kernel_shape=[1, 1])
    b.cur = b.node("Concat", [b.cur, skip], name="cat", axis=2)
    rejects(b, 96, "'cat' (Concat)", "concatenates along axis 2", "channels only (axis 1)")


def test_wrong_image_shapes_name_the_layer_and_what_it_expects():
    brevitas_tests.rejects(cnn2d(8), torch.rand(2, 64), "example input has shape (2, 64)",
                           "expects (N, 1, H, W): its first layer 1 (QuantConv2d) has in_channels=1")
    brevitas_tests.rejects(cnn2d(8), torch.rand(2, 1, 6, 6), "layer 11 (QuantLinear) has in_features=32",
                           "receives 8 features from 5")
    model = nn.Sequential(qnn.QuantIdentity(bit_width=8), qnn.QuantConv1d(2, 4, 3), qnn.QuantReLU(),
                          qnn.QuantConv1d(3, 4, 3))
    brevitas_tests.rejects(model, torch.rand(2, 2, 10), "layer 3 (QuantConv1d) has in_channels=3",
                           "receives shape (2, 4, 8) from 1")


def test_trunc_avg_pool_module_is_refused_up_front():
    model = nn.Sequential(qnn.QuantIdentity(bit_width=8), qnn.QuantConv2d(1, 2, 3),
                          qnn.QuantReLU(return_quant_tensor=True), qnn.TruncAvgPool2d(2, 2))
    brevitas_tests.rejects(model, torch.rand(2, 1, 6, 6), "module 3 (brevitas.nn.TruncAvgPool2d)",
                           "use nn.AvgPool2d (or MaxPool2d) followed by a QuantIdentity")


# -- shaped data --------------------------------------------------------------------------------

def test_bundle_and_data_file_keep_image_inputs_in_the_model_layout(imported2d, tmp_path):
    model, graph, _, path, x = imported2d
    assert ModelBundle(model, x).inputs.shape == x.shape
    np.savez(tmp_path / "images.npz", inputs=x[:10])
    loaded = load_model(str(path), str(tmp_path / "images.npz"))
    assert loaded.graph == graph and loaded.dataset.inputs.shape == (10, 1, 8, 8)
    np.savez(tmp_path / "flat.npz", inputs=x[:10].reshape(10, -1))
    assert load_model(str(path), str(tmp_path / "flat.npz")).dataset.inputs.shape == (10, 64)
    np.savez(tmp_path / "bad.npz", inputs=x[:10, :, :7])
    with pytest.raises(FrontendError, match=r"^data: inputs have shape \(10, 1, 7, 8\), the model "
                                            r"expects \(N, 1, 8, 8\) or \(N, 64\)$"):
        load_model(str(path), str(tmp_path / "bad.npz"))


def test_a_model_that_flattens_its_input_first_reads_any_shape_of_its_size(tmp_path):
    b = Builder(6, shape=(1, 2, 3))
    b.op("Flatten", axis=1)
    b.act(0.05, 8, name="inq")
    qonnx_tests.small_layer(b, 4)
    onnx.save(b.model(4), tmp_path / "flat.onnx")
    np.savez(tmp_path / "images.npz", inputs=np.zeros((5, 1, 2, 3)))
    assert load_model(str(tmp_path / "flat.onnx"), str(tmp_path / "images.npz")).graph.input.shape == ()
    np.savez(tmp_path / "bad.npz", inputs=np.zeros((5, 7)))
    with pytest.raises(FrontendError, match=r"inputs have shape \(5, 7\), the model expects \(N, 6\)$"):
        load_model(str(tmp_path / "flat.onnx"), str(tmp_path / "bad.npz"))


SPEC = """
import numpy as np, torch
from torch import nn
import brevitas.nn as qnn
from bitwave.frontend import ModelBundle

def fully_convolutional():
    torch.manual_seed(0)
    model = nn.Sequential(qnn.QuantIdentity(bit_width=8), qnn.QuantConv2d(1, 2, 3, bias=False),
                          qnn.QuantReLU(bit_width=4))
    x = np.random.default_rng(0).uniform(-1, 1, size=(6, 1, 6, 6)).astype(np.float32)
    return ModelBundle(model.eval(), x)
"""


def test_bundle_of_images_with_an_image_output(tmp_path):
    (tmp_path / "fcn.py").write_text(SPEC)
    m = load_model(f"{tmp_path / 'fcn.py'}:fully_convolutional")
    assert m.graph.input.shape == (1, 6, 6) and m.dataset.inputs.shape == (6, 1, 6, 6)
    it = Interpreter(m.graph)
    got = it.real(m.graph.output.name, it.output(m.dataset.inputs))
    # The model's (N, 2, 4, 4) output, kept as the reference gives it: channels last, flattened.
    assert m.dataset.model_outputs.shape == (6, 32)
    assert np.allclose(got, m.dataset.model_outputs, rtol=1e-6, atol=1e-6)
