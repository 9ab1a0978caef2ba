"""import_qonnx on hand-built QONNX graphs: numerics against qonnx's own executor, and every rejection."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.transformation.infer_shapes import InferShapes

from bitwave.errors import FrontendError
from bitwave.frontend import import_qonnx
from bitwave.ir import Affine, Bipolar, Flatten, Input, Int, Interpreter, MatVec, Quant, verify
from bitwave.passes import PassManager, parse_pipeline

QDOMAIN = "qonnx.custom_op.general"
RNG = np.random.default_rng(7)


def _f32(a):
    return np.asarray(a, dtype=np.float32)


class Builder:
    """A tiny QONNX graph builder: a chain from input ``x`` of ``n`` features."""

    def __init__(self, n, batch=32, shape=None):
        self.nodes, self.inits = [], []
        self.cur, self.n, self.batch, self.k = "x", n, batch, 0
        self.in_shape = [batch, *(shape or (n,))]

    def const(self, value, name=None):
        self.k += 1
        name = name or f"c{self.k}"
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(self, op, inputs, domain="", name=None, **attrs):
        self.k += 1
        out = f"t{self.k}"
        self.nodes.append(helper.make_node(op, inputs, [out], name=name or f"{op.lower()}{self.k}",
                                           domain=domain, **attrs))
        return out

    def quant(self, src, scale, bits, *, signed=1, narrow=0, zeropt=0.0, mode="ROUND", name=None):
        return self.node("Quant", [src, self.const(_f32(scale)), self.const(_f32(zeropt)),
                                   self.const(_f32(bits))], QDOMAIN, name=name,
                         signed=signed, narrow=narrow, rounding_mode=mode)

    def act(self, *args, **kw):
        self.cur = self.quant(self.cur, *args, **kw)

    def op(self, op, *consts, name=None, **attrs):
        self.cur = self.node(op, [self.cur, *[self.const(_f32(c)) for c in consts]], name=name, **attrs)

    def model(self, out_n):
        graph = helper.make_graph(
            self.nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, self.in_shape)],
            [helper.make_tensor_value_info(self.cur, TensorProto.FLOAT, [self.batch, out_n])], self.inits)
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                      helper.make_opsetid(QDOMAIN, 1)])


def qonnx_run(model, x):
    w = ModelWrapper(model).transform(InferShapes())
    return execute_onnx(w, {"x": _f32(x)})[model.graph.output[0].name]


def bitwave_run(graph, x):
    it = Interpreter(graph)
    return it.real(graph.output.name, it.run(x)[graph.output.name])


def small_layer(b, n_out, *, wbits=4, per_channel=True, legacy=False):
    """A quantised weight matrix; ``legacy``: stored (in, out) behind a Transpose, read by MatMul."""
    w = RNG.normal(size=(n_out, b.n)).astype(np.float32) * 0.3
    scale = (np.abs(w).max(axis=1, keepdims=True) / (2 ** (wbits - 1) - 1)) if per_channel else \
        np.abs(w).max() / (2 ** (wbits - 1) - 1)
    if legacy:
        wq = b.quant(b.const(w.T.copy()), np.asarray(scale).T, wbits, narrow=1)
        b.cur = b.node("MatMul", [b.cur, wq], name="mm")
    else:
        wq = b.quant(b.const(w), scale, wbits, narrow=1)
        b.cur = b.node("Gemm", [b.cur, wq], name="fc", transB=1)
    b.n = n_out
    return w, scale


def test_mlp_matches_qonnx_execution_and_folds_affines():
    b = Builder(6)
    b.act(1 / 64, 8, signed=0, zeropt=128.0, name="inq")        # uint8, zero-point 128 == Int(8)
    w, scale = small_layer(b, 5, legacy=True)
    b.op("Add", RNG.normal(size=5))                              # float bias
    b.op("Mul", RNG.uniform(0.5, 2, size=(1, 5)))                # per-channel scale
    b.op("Sub", 0.25)
    b.cur = b.node("Relu", [b.cur])
    b.act(0.125, 4, signed=1, narrow=1, name="act")               # narrow signed after ReLU == u3
    small_layer(b, 3, per_channel=False)
    g = import_qonnx(b.model(3))
    verify(g)
    kinds = [type(op) for op in g.ops]
    assert kinds[:5] == [Input, MatVec, Affine, Quant, MatVec]
    assert g.input.fmt == Int(8, True) and g.input.scale == 1 / 64
    assert g["act"].fmt == Int(3, False)
    mv = g.ops[1]
    assert np.array_equal(mv.weight.array, np.clip(np.round(w / scale), -7, 7))
    assert np.allclose(mv.wscale.array, scale.ravel())
    x = RNG.uniform(-2, 3, size=(32, 6))
    assert np.allclose(bitwave_run(g, x), qonnx_run(b.model(3), x), rtol=0, atol=1e-5)


def test_bipolar_weights_and_activations():
    b = Builder(8)
    b.act(0.05, 8, name="inq")
    w = RNG.normal(size=(6, 8)).astype(np.float32)
    wq = b.node("BipolarQuant", [b.const(w), b.const(_f32(0.5))], QDOMAIN)
    b.cur = b.node("Gemm", [b.cur, wq], transB=1)
    b.n = 6
    b.cur = b.node("BipolarQuant", [b.cur, b.const(_f32(1.0))], QDOMAIN, name="sign")
    wq2 = b.quant(b.const(RNG.normal(size=(2, 6)).astype(np.float32)), 1.0, 1)  # signed 1-bit == bipolar
    b.cur = b.node("Gemm", [b.cur, wq2], transB=1)
    g = import_qonnx(b.model(2))
    assert g.ops[1].wfmt == Bipolar() and np.array_equal(g.ops[1].weight.array, np.where(w >= 0, 1, -1))
    assert g["sign"].fmt == Bipolar() and g.ops[3].wfmt == Bipolar()
    x = RNG.normal(size=(32, 8))
    assert np.allclose(bitwave_run(g, x), qonnx_run(b.model(2), x), atol=1e-5)


def test_weight_zero_point_gives_exact_shifted_codes():
    b = Builder(4)
    b.act(0.1, 8, name="inq")
    w = RNG.uniform(0, 1.5, size=(3, 4)).astype(np.float32)
    wq = b.quant(b.const(w), 0.1, 4, signed=0, zeropt=3.0)   # codes 0..15, real (q - 3) * 0.1
    b.cur = b.node("Gemm", [b.cur, wq], transB=1)
    g = import_qonnx(b.model(3))
    codes = g.ops[1].weight.array
    assert np.array_equal(codes, np.clip(np.round(w / np.float32(0.1) + 3), 0, 15) - 3)
    assert g.ops[1].wfmt.min <= -3 and g.ops[1].wfmt.max >= 12
    x = RNG.normal(size=(32, 4))
    assert np.allclose(bitwave_run(g, x), qonnx_run(b.model(3), x), atol=1e-5)


def legacy_flatten(b):
    """``x.view(x.size(0), -1)`` as the TorchScript exporter writes it."""
    shape = b.node("Shape", [b.cur])
    batch = b.node("Gather", [shape, b.const(np.array(0, np.int64))], axis=0)
    dims = b.node("Concat", [b.node("Unsqueeze", [batch, b.const(np.array([0], np.int64))]),
                             b.const(np.array([-1], np.int64))], axis=0)
    b.cur = b.node("Reshape", [b.cur, dims], name="flat")


@pytest.mark.filterwarnings("ignore:Output shapes disagree")  # qonnx's shape inference on Shape/Concat
@pytest.mark.parametrize("batch", [32, "N"])
def test_image_input_flattened_through_shape_arithmetic(batch):
    b = Builder(6, batch=batch, shape=(1, 2, 3))
    b.act(0.05, 8, name="inq")
    legacy_flatten(b)
    small_layer(b, 4)
    g = import_qonnx(b.model(4))
    # The input keeps the model's shape; the reshape after its quantiser is the IR Flatten.
    assert g.input.n == 6 and g.input.shape == (1, 2, 3)
    assert isinstance(g.ops[1], Flatten) and g.ops[2].cols == 6
    if batch == 32:
        x = RNG.normal(size=(32, 1, 2, 3))
        want = qonnx_run(b.model(4), x)
        for layout in (x, x.reshape(32, 6)):   # the interpreter takes either
            assert np.allclose(bitwave_run(g, layout), want, atol=1e-5)


def test_reshape_across_samples_is_rejected():
    b = Builder(6)
    b.act(0.05, 8, name="inq")
    b.cur = b.node("Reshape", [b.cur, b.const(np.array([64, 3], np.int64))], name="fold")
    reject(b.model(3), "'fold' (Reshape)", "changes the batch dimension of (32, 6)")


def test_int_bias_with_accumulator_scale_goes_into_matvec():
    b = Builder(4)
    b.act(0.5, 8, name="inq")
    wq = b.quant(b.const(RNG.normal(size=(3, 4)).astype(np.float32)), 0.25, 4, narrow=1)
    bq = b.quant(b.const(_f32([1.0, -2.0, 0.3])), 0.125, 32)
    b.cur = b.node("Gemm", [b.cur, wq, bq], transB=1)
    g = import_qonnx(b.model(3))
    assert [type(op) for op in g.ops] == [Input, MatVec, type(g.output)]
    assert g.ops[1].bias.array.tolist() == [8, -16, 2]


def reject(model, *words):
    with pytest.raises(FrontendError) as e:
        import_qonnx(model)
    for w in words:
        assert w in str(e.value), str(e.value)
    return str(e.value)


def test_narrow_signed_activation_keeps_its_codes_and_narrow_unsigned_is_rejected():
    b = Builder(4)
    b.act(0.1, 4, narrow=1, name="inq")                          # [-7, 7]
    small_layer(b, 3)
    b.act(0.25, 2, narrow=1, name="act")                         # ternary [-1, 1], as bnn_pynq's 2-bit
    g = import_qonnx(b.model(3))
    assert (g.input.fmt, g.input.narrow, g["act"].fmt, g["act"].narrow) == (Int(4), True, Int(2), True)
    x = RNG.uniform(-2, 2, size=(32, 4))
    assert np.allclose(bitwave_run(g, x), qonnx_run(b.model(3), x), rtol=0, atol=1e-6)
    s = PassManager(parse_pipeline("streamline,infer-bitwidths")).run(g)
    assert s["act"].out_bias == -1 and s["act"].levels == 2
    assert np.array_equal(Interpreter(s).output(x), Interpreter(g).output(x))
    b = Builder(4)
    b.act(0.1, 4, signed=0, narrow=1, name="inq")
    reject(b.model(4), "inq", "narrow range", "[0, 14]", "narrow_range=False")


def test_activation_zero_point_that_no_int_spans_is_rejected():
    b = Builder(4)
    b.act(0.1, 8, signed=0, zeropt=3.0, name="inq")
    reject(b.model(4), "inq", "zero-point 3", "[-3, 252]")


def test_floor_rounding_activation_is_rejected():
    b = Builder(4)
    b.act(0.1, 8, mode="FLOOR", name="inq")
    reject(b.model(4), "inq", "rounding mode FLOOR")


@pytest.mark.parametrize("bits", [0, 17])
def test_bad_bit_width_is_rejected(bits):
    b = Builder(4)
    b.act(0.1, bits, name="inq")
    reject(b.model(4), "inq", f"bit width {bits}", "1 to 16")


def test_unsupported_op_names_node_type_and_alternatives():
    b = Builder(4)
    b.act(0.1, 8, name="inq")
    b.cur = b.node("Sin", [b.cur], name="squash")
    msg = reject(b.model(4), "squash", "Sin", "not supported", "supported: Quant, BipolarQuant, Gemm")
    assert msg.startswith("qonnx: node 'squash'")


def test_missing_input_quantiser_is_rejected():
    b = Builder(4)
    small_layer(b, 3)
    reject(b.model(3), "'fc' (Gemm)", "unquantised model input", "QuantIdentity(bit_width=8")


def test_float_weights_are_rejected():
    b = Builder(4)
    b.act(0.1, 8, name="inq")
    b.cur = b.node("Gemm", [b.cur, b.const(_f32(np.ones((3, 4))), "w_float")], name="fc", transB=1)
    reject(b.model(3), "'fc' (Gemm)", "'w_float'", "not quantised")


def test_real_valued_layer_input_is_rejected():
    b = Builder(4)
    b.act(0.1, 8, name="inq")
    small_layer(b, 4)
    b.op("Add", np.ones(4), name="bias")
    small_layer(b, 2)
    reject(b.model(2), "'fc' (Gemm)", "real-valued output", "'bias' (Add)", "QuantIdentity or QuantReLU")


def test_relu_without_quantiser_is_rejected():
    b = Builder(4)
    b.act(0.1, 8, name="inq")
    small_layer(b, 3)
    b.cur = b.node("Relu", [b.cur], name="r")
    reject(b.model(3), "'r' (Relu)", "ReLU without a quantiser", "QuantReLU")


def test_corrupt_file(tmp_path):
    p = tmp_path / "noise.onnx"
    p.write_bytes(bytes(RNG.integers(0, 256, size=3000, dtype=np.uint8)))
    with pytest.raises(FrontendError, match=r"noise\.onnx: not a valid ONNX model \("):
        import_qonnx(p)


def test_truncated_file(tmp_path):
    b = Builder(6)
    b.act(0.1, 8, name="inq")
    small_layer(b, 5)
    full = b.model(5).SerializeToString()
    for cut in (len(full) // 2, len(full) - 7, 40):
        p = tmp_path / f"cut{cut}.onnx"
        p.write_bytes(full[:cut])
        with pytest.raises(FrontendError, match=rf"cut{cut}\.onnx: not a valid ONNX model \("):
            import_qonnx(p)


def test_missing_file(tmp_path):
    with pytest.raises(FrontendError, match="nope.onnx: no such file"):
        import_qonnx(tmp_path / "nope.onnx")


def test_model_proto_and_file_give_equal_graphs(tmp_path):
    b = Builder(6)
    b.act(0.1, 8, name="inq")
    small_layer(b, 5)
    onnx.save(b.model(5), tmp_path / "m.onnx")
    assert import_qonnx(tmp_path / "m.onnx") == import_qonnx(b.model(5))
