"""A QuantSigmoid and a QuantTanh MLP through ``bitwave compile`` and ``bitwave verify``:
the thresholds streamline found run in Verilog bit for bit like the reference."""

import importlib.util
from pathlib import Path

import pytest

from bitwave.cli import main

_SPEC = importlib.util.spec_from_file_location("_verified", Path(__file__).resolve().parent / "_verified.py")
_verified = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_verified)
assert_verifies = _verified.assert_verifies

pytestmark = pytest.mark.sim

MODEL = '''
from collections import OrderedDict
import numpy as np, torch
from torch import nn
import brevitas.nn as qnn
from bitwave.frontend import ModelBundle


def mlp(act):
    torch.manual_seed(0)
    model = nn.Sequential(OrderedDict(
        quant_in=qnn.QuantIdentity(bit_width=8, return_quant_tensor=False),
        fc1=qnn.QuantLinear(12, 8, bias=True, weight_bit_width=4), bn1=nn.BatchNorm1d(8),
        act1=act(bit_width=4, return_quant_tensor=False),
        fc2=qnn.QuantLinear(8, 4, bias=True, weight_bit_width=4)))
    model.bn1.running_var.uniform_(0.01, 0.1)
    x = np.random.default_rng(0).normal(size=(200, 12)).astype(np.float32)
    return ModelBundle(model.eval(), x, name=act.__name__.lower())


def sigmoid():
    return mlp(qnn.QuantSigmoid)


def tanh():
    return mlp(qnn.QuantTanh)
'''


@pytest.mark.parametrize("fn", ["sigmoid", "tanh"])
def test_compile_and_verify_a_quantised_sigmoid_or_tanh_mlp(fn, tmp_path, capsys):
    (tmp_path / "acts.py").write_text(MODEL)
    out = tmp_path / fn
    main(["compile", f"{tmp_path / 'acts.py'}:{fn}", "-o", str(out)])
    assert "MultiThreshold(" in (out / "graph.txt").read_text()
    assert f"act=Activation.{fn.upper()}" in (out / "ir" / "00-import.txt").read_text()
    assert_verifies(out, 200, capsys)
