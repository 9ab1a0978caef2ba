"""Residual blocks through the QONNX reader: each node reads the op that computes its own input, and
an ``Add`` of two quantised tensors becomes the IR ``Add`` (integer multipliers when the scales are
in an integer ratio).  Brevitas models (a shared QuantReLU, QuantEltwiseAdd, a 3×3 convolutional
block) equal Brevitas; hand-built QONNX equals qonnx's executor; every refusal names the node."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import brevitas.nn as qnn

from bitwave.frontend import import_model, import_qonnx
from bitwave.ir import Add, Affine, MatVec, verify
from bitwave.passes import PassManager, default_passes

HERE = Path(__file__).resolve().parent


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


brevitas_tests = _load(HERE / "test_frontend_brevitas.py")
qonnx_tests = _load(HERE / "test_frontend_qonnx.py")
residual_models = _load(HERE.parent / "e2e" / "residual_models.py")
Builder = qonnx_tests.Builder

# Per model: the ops the Add reads, and the block's input (the fork, read by both paths).
MODELS = {"residual_mlp": ({"act", "act_2"}, "act"), "residual_mlp_eltwise": ({"add", "add_2"}, "act"),
          "residual_cnn": ({"act", "act_2"}, "act")}


@pytest.fixture(scope="module", params=list(MODELS))
def imported(request, tmp_path_factory):
    bundle = getattr(residual_models, request.param)(256)
    path = tmp_path_factory.mktemp("residual") / "model.onnx"
    graph = import_model(bundle.model, bundle.inputs[:2], qonnx_path=path)
    return request.param, bundle, graph, path


def test_the_add_reads_the_block_input_and_the_branch(imported):
    name, _, graph, path = imported
    verify(graph)
    add = next(op for op in graph.ops if isinstance(op, Add))
    operands, fork = MODELS[name]
    assert {add.input, add.other} == operands and len(graph.consumers(fork)) == 2
    assert (add.mult_a, add.mult_b) == (1, 1)           # one scale on both operands
    assert import_qonnx(path) == graph


def test_reference_equals_brevitas_before_and_after_the_passes(imported):
    _, bundle, graph, _ = imported
    final = PassManager(default_passes(graph)).run(graph)
    assert [op.opcode for op in final.ops].count("add") == 1
    assert not any(isinstance(op, Affine) for op in final.ops)     # batch-norms in thresholds
    for g in (graph, final):
        brevitas_tests.assert_matches(bundle.model, g, bundle.inputs)


# -- hand-built QONNX ---------------------------------------------------------------------------

def block(scale_skip, scale_branch, *, n=6, branch=None):
    """in → fc → relu → q(scale_skip) ─► fc → relu → q(scale_branch) ─┐
                                  └──────────────────────────────(+)   (b.cur is the Add)."""
    b = Builder(n)
    b.act(0.05, 8, name="inq")
    qonnx_tests.small_layer(b, n)
    b.cur = b.node("Relu", [b.cur])
    b.act(scale_skip, 4, signed=0, name="skip")
    skip = b.cur
    qonnx_tests.small_layer(b, n)
    if branch is not None:
        branch(b)
    else:
        b.cur = b.node("Relu", [b.cur])
        b.act(scale_branch, 3, signed=0, name="branch")
    b.cur = b.node("Add", [b.cur, skip], name="residual")
    return b


def test_scales_in_an_integer_ratio_add_with_multipliers_as_qonnx_computes():
    b = block(0.1, 0.2)
    b.act(0.2371, 4, signed=0, name="out_q")
    qonnx_tests.small_layer(b, 3)
    g = import_qonnx(b.model(3))
    assert (g["residual"].input, g["residual"].other) == ("branch", "skip")
    assert (g["residual"].mult_a, g["residual"].mult_b) == (2, 1)
    x = np.random.default_rng(5).uniform(-2, 2, size=(32, 6))
    want = qonnx_tests.qonnx_run(b.model(3), x)
    for graph in (g, PassManager(default_passes(g)).run(g)):
        assert np.allclose(qonnx_tests.bitwave_run(graph, x), want, atol=1e-5)


def test_a_branch_whose_result_nothing_reads_is_left_out():
    b = Builder(6)
    b.act(0.05, 8, name="inq")
    q = b.cur
    qonnx_tests.small_layer(b, 4)
    b.cur, b.n = q, 6
    qonnx_tests.small_layer(b, 3)
    g = import_qonnx(b.model(3))
    assert [type(op) for op in g.ops][1:-1] == [MatVec] and g.ops[1].weight.array.shape == (3, 6)


def test_x_plus_x_is_twice_x():
    b = Builder(6)
    b.act(0.05, 8, name="inq")
    b.cur = b.node("Add", [b.cur, b.cur], name="double")
    b.act(0.1, 8, name="q")
    g = import_qonnx(b.model(6))
    assert isinstance(g["double"], Affine) and np.all(g["double"].mul.array == 2)
    x = np.random.default_rng(6).uniform(-3, 3, size=(32, 6))
    assert np.allclose(qonnx_tests.bitwave_run(g, x), qonnx_tests.qonnx_run(b.model(6), x), atol=1e-6)


def rejects(b, out_n, *words):
    return qonnx_tests.reject(b.model(out_n), *words)


def rejoin(b, op, *, swap=False, **attrs):
    """``b`` with its last node (the join) replaced by ``op`` of the same two tensors."""
    inputs = list(b.nodes.pop().input)
    b.cur = b.node(op, inputs[::-1] if swap else inputs, name="residual" if op == "Add" else "join", **attrs)
    return b


def test_scales_in_no_integer_ratio_ask_for_one_shared_quantiser():
    rejects(block(0.1, 0.1 * np.pi), 6, "'residual' (Add)", "scales (0.314159 and 0.1) are not in an "
            "exact integer ratio of at most 256", "one shared quantiser", "QuantEltwiseAdd")
    rejects(block(0.1, 0.1 * 257), 6, "'residual' (Add)", "not in an exact integer ratio of at most 256")


def test_a_real_valued_operand_asks_to_quantise_both():
    def bias(b):
        b.op("Add", np.ones(6), name="bias")
    rejects(block(0.1, 0.1, branch=bias), 6, "'residual' (Add)",
            "adds the real-valued output of node 'bias' (Add)", "quantise both operands")

    def relu(b):
        b.cur = b.node("Relu", [b.cur], name="r")
    b = rejoin(block(0.1, 0.1, branch=relu), "Add", swap=True)   # the ReLU second: the Add's check
    rejects(b, 6, "'residual' (Add)", "adds the output of a ReLU without a quantiser ('r', use QuantReLU)")
    b = Builder(6)
    b.act(0.05, 8, name="inq")
    b.cur = b.node("Add", [b.cur, "x"], name="residual")
    rejects(b, 6, "'residual' (Add)", "adds the unquantised model input", "quantise both operands")


def test_operands_of_two_shapes_or_bipolar_codes_are_refused():
    def narrower(b):
        b.act(0.1, 4, name="q1")
        qonnx_tests.small_layer(b, 4)
        b.act(0.1, 4, name="branch")
    rejects(block(0.1, 0.1, branch=narrower), 6, "'residual' (Add)",
            "adds tensors of shapes [4] and [6]", "one shape")
    b = Builder(6)
    b.act(0.05, 8, name="inq")
    skip = b.cur = b.node("BipolarQuant", [b.cur, b.const(np.float32(1.0))], qonnx_tests.QDOMAIN)
    qonnx_tests.small_layer(b, 6)
    b.cur = b.node("BipolarQuant", [b.cur, b.const(np.float32(1.0))], qonnx_tests.QDOMAIN)
    b.cur = b.node("Add", [b.cur, skip], name="residual")
    rejects(b, 6, "'residual' (Add)", "adds bipolar (1-bit) codes")


def test_other_joins_and_concatenations_of_other_axes_are_refused():
    for op, attrs, words in (("Concat", {"axis": 0}, ("concatenates along axis 0 of tensors shaped (N, 6)",
                                                      "bitwave concatenates channels only (axis 1)")),
                             ("Mul", {}, ("Mul of 2 computed tensors is not supported",
                                          "joins two branches by adding them"))):
        b = rejoin(block(0.1, 0.1), op, **attrs)
        rejects(b, 6, f"'join' ({op})", *words)


# -- Brevitas models ----------------------------------------------------------------------------

class UnquantisedBranch(nn.Module):
    """``q + bn(fc(q))``: the branch's real-valued output is added without a quantiser."""

    def __init__(self):
        super().__init__()
        self.inq = qnn.QuantIdentity(bit_width=8, return_quant_tensor=False)
        self.fc = qnn.QuantLinear(8, 8, bias=False)
        self.bn = nn.BatchNorm1d(8)
        self.head = qnn.QuantLinear(8, 2, bias=False)

    def forward(self, x):
        q = self.inq(x)
        return self.head(self.inq(q + self.bn(self.fc(q))))


class TwoScales(UnquantisedBranch):
    """``a(q) + b(bn(fc(q)))`` with two QuantReLUs, b's scale calibrated on a batch: 1/7 and 0.427…"""

    def __init__(self):
        super().__init__()
        self.a = qnn.QuantReLU(bit_width=3)
        self.b = qnn.QuantReLU(bit_width=3)
        torch.manual_seed(0)
        self.b.train()(torch.rand(16, 8) * 3)
        self.eval()

    def forward(self, x):
        q = self.a(self.inq(x))
        return self.head(self.a(q + self.b(self.bn(self.fc(q)))))


def test_brevitas_residuals_that_cannot_add_codes_say_what_to_do():
    x = torch.rand(4, 8)
    brevitas_tests.rejects(UnquantisedBranch().eval(), x, "(Add", "adds the real-valued output of node",
                           "(BatchNormalization, module bn)", "quantise both operands")
    brevitas_tests.rejects(TwoScales(), x, "(Add", "scales (0.142857 and 0.427",
                           "are not in an exact integer ratio", "the same QuantReLU or QuantIdentity instance",
                           "QuantEltwiseAdd")


def test_quant_cat_is_refused_up_front():
    model = nn.Sequential(qnn.QuantIdentity(bit_width=8), qnn.QuantCat())
    brevitas_tests.rejects(model, torch.rand(2, 4), "module 1 (brevitas.nn.QuantCat)",
                           "concatenation is not supported", "QuantEltwiseAdd")
