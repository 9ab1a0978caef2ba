"""``torch.cat`` of two quantised paths' channels through the QONNX reader: a DenseNet-style dense
block (one shared quantiser on both operands) and a convolutional one (a quantiser after the
concatenation) equal Brevitas before and after the passes; the convolutional one compiles and
verifies in Verilator; a concatenation along another axis or of a real-valued tensor is refused
naming the node."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import brevitas.nn as qnn

from bitwave.compile import CompileOptions, compile_graph
from bitwave.dataset import Dataset
from bitwave.errors import FrontendError
from bitwave.frontend import import_model
from bitwave.ir import Concat
from bitwave.passes import PassManager, default_passes
from bitwave.verify import verify_build

HERE = Path(__file__).resolve().parent


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


brevitas_tests = _load(HERE / "test_frontend_brevitas.py")
residual_models = _load(HERE.parent / "e2e" / "residual_models.py")


class DenseConcat(nn.Module):
    """in → fc1 → bn → act ─► fc2 → bn → act (the same QuantReLU) ─┐
                         └───────────────────────────────────(cat)→ head."""

    def __init__(self, n=12, width=8, bits=3, dim=1):
        super().__init__()
        self.dim = dim
        self.inq = qnn.QuantIdentity(bit_width=8, return_quant_tensor=False)
        self.fc1 = qnn.QuantLinear(n, width, bias=False, weight_bit_width=bits)
        self.bn1 = nn.BatchNorm1d(width)
        self.act = qnn.QuantReLU(bit_width=bits)
        self.fc2 = qnn.QuantLinear(width, width, bias=False, weight_bit_width=bits)
        self.bn2 = nn.BatchNorm1d(width)
        self.head = qnn.QuantLinear(2 * width if dim == 1 else width, 3, bias=False, weight_bit_width=bits)

    def forward(self, x):
        x = self.act(self.bn1(self.fc1(self.inq(x))))
        y = self.act(self.bn2(self.fc2(x)))
        return self.head(torch.cat([y, x], dim=self.dim))


class ConvConcat(nn.Module):
    """in → q ─► conv 3×3 → bn → act ─┐
             └─────────────────(cat)→ q → max-pool → flatten → dense."""

    def __init__(self, c_in=2, channels=3, size=6, bits=3, real_skip=False):
        super().__init__()
        self.real_skip = real_skip
        self.inq = qnn.QuantIdentity(bit_width=4, return_quant_tensor=False)
        self.conv = qnn.QuantConv2d(c_in, channels, 3, padding=1, bias=False, weight_bit_width=bits)
        self.bn = nn.BatchNorm2d(channels)
        self.act = qnn.QuantReLU(bit_width=bits)
        self.catq = qnn.QuantIdentity(bit_width=4, return_quant_tensor=False)
        self.pool = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.head = qnn.QuantLinear((c_in + channels) * (size // 2) ** 2, 3, bias=False, weight_bit_width=bits)

    def forward(self, x):
        q = self.inq(x)
        y = self.act(self.bn(self.conv(q)))
        skip = x if self.real_skip else q
        return self.head(self.flatten(self.pool(self.catq(torch.cat([y, skip], dim=1)))))


def _model(model, shape, seed=3):
    x = np.random.default_rng(seed).uniform(-1, 1, size=(64, *shape)).astype(np.float32)
    return residual_models.randomise_batchnorm(model, seed), x


@pytest.mark.parametrize("make, shape", [(DenseConcat, (12,)), (ConvConcat, (2, 6, 6))])
def test_reference_equals_brevitas_before_and_after_the_passes(make, shape, tmp_path):
    model, x = _model(make(), shape)
    graph = import_model(model, x[:2], qonnx_path=tmp_path / "model.onnx")
    cat = next(op for op in graph.ops if isinstance(op, Concat))
    assert len(graph.consumers(graph[cat.other].name)) == 2        # the fork: read by both paths
    final = PassManager(default_passes(graph)).run(graph)
    assert [op.opcode for op in final.ops].count("concat") == 1
    for g in (graph, final):
        brevitas_tests.assert_matches(model, g, x)


@pytest.mark.sim
@pytest.mark.slow          # its own Verilator build; tests/e2e/test_concat.py covers the RTL
def test_the_conv_block_verifies_in_rtl(tmp_path):
    model, x = _model(ConvConcat(), (2, 6, 6))
    graph = import_model(model, x[:2], qonnx_path=tmp_path / "model.onnx")
    out = tmp_path / "build"
    compile_graph(graph, out, CompileOptions(target_cycles=36), dataset=Dataset(x[:16]))
    result = verify_build(out)
    assert result.frames == 16 and result.mismatches == 0


@pytest.mark.parametrize("model, shape, message", [
    (DenseConcat(dim=0), (12,), "concatenates along axis 0 of tensors shaped \\(N, 8\\); bitwave "
                                "concatenates channels only \\(axis 1\\)"),
    (ConvConcat(real_skip=True), (2, 6, 6), "concatenates the unquantised model input"),
])
def test_unsupported_concatenations_are_refused(model, shape, message, tmp_path):
    model, x = _model(model, shape)
    with pytest.raises(FrontendError, match=message):
        import_model(model, x[:2], qonnx_path=tmp_path / "model.onnx")
