"""``bitwave compile --target-cycles 1``: every dense layer becomes an UnrolledMatVec (constant
weights, one vector per cycle) and the Verilog verifies bit for bit in Verilator, for a binary
MLP (1-bit input, sign layers, an output layer without activation) and a multi-bit one (4-bit
input, 2-bit weights, a 2-bit ReLU as thresholds, an output layer without activation)."""

import importlib.util
import json
from pathlib import Path

import pytest

from bitwave.cli import main
from bitwave.hdl import MatVecUnit, UnrolledMatVec
from bitwave.ir import parse_graph
from bitwave.lower import plan

_SPEC = importlib.util.spec_from_file_location("_verified", Path(__file__).resolve().parent / "_verified.py")
_verified = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_verified)

pytestmark = pytest.mark.sim

MODELS = '''
from collections import OrderedDict
import numpy as np, torch
from torch import nn
import brevitas.nn as qnn
from brevitas.quant import SignedBinaryActPerTensorConst, SignedBinaryWeightPerTensorConst
from bitwave.frontend import ModelBundle


def _randomise(model):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm1d):
            m.running_mean.uniform_(-4, 4)
            m.running_var.uniform_(1, 8)


def binary():
    torch.manual_seed(1)
    sign = lambda: qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst, return_quant_tensor=True)
    lin = lambda i, o: qnn.QuantLinear(i, o, bias=False, weight_quant=SignedBinaryWeightPerTensorConst)
    model = nn.Sequential(OrderedDict(
        quant_in=sign(), fc1=lin(32, 24), bn1=nn.BatchNorm1d(24), act1=sign(),
        fc2=lin(24, 16), bn2=nn.BatchNorm1d(16), act2=sign(), fc3=lin(16, 10)))
    _randomise(model)
    x = np.random.default_rng(1).uniform(-1, 1, size=(40, 32)).astype(np.float32)
    return ModelBundle(model.eval(), x, name="binary")


def multibit():
    torch.manual_seed(2)
    model = nn.Sequential(OrderedDict(
        quant_in=qnn.QuantIdentity(bit_width=4, return_quant_tensor=True),
        fc1=qnn.QuantLinear(20, 16, bias=True, weight_bit_width=2), bn1=nn.BatchNorm1d(16),
        act1=qnn.QuantReLU(bit_width=2, return_quant_tensor=True),
        fc2=qnn.QuantLinear(16, 6, bias=False, weight_bit_width=2)))
    _randomise(model)
    x = np.random.default_rng(2).normal(size=(40, 20)).astype(np.float32)
    return ModelBundle(model.eval(), x, name="multibit")
'''


@pytest.mark.parametrize("fn", ["binary", "multibit"])
def test_unrolled_mlp_compiles_to_one_cycle_per_frame_and_verifies(fn, tmp_path, capsys):
    (tmp_path / "models.py").write_text(MODELS)
    out = tmp_path / fn
    main(["compile", f"{tmp_path / 'models.py'}:{fn}", "-o", str(out), "--target-cycles", "1"])
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["cycles_per_frame"] == 1
    assert all(layer["pe"] == layer["rows"] and layer["simd"] == layer["cols"]
               for layer in manifest["layers"])
    units = [make.func for make in plan(parse_graph((out / "graph.txt").read_text())).stages]
    assert units and all(u is UnrolledMatVec for u in units) and MatVecUnit not in units
    _verified.assert_verifies(out, 40, capsys)
