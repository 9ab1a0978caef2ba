"""SVD training helper: U·diag(s)·Vᵀ parametrisation, regularisers, energy pruning, bake, compile."""

from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

from bitwave.errors import FrontendError
from bitwave.frontend import import_model, train_classifier
from bitwave.frontend.lowrank import bake, energy_rank, prune_energy, svd_parametrize, svd_regulariser
from bitwave.ir import Interpreter, MatVec
from bitwave.passes import PassManager, choose_rank, parse_pipeline


def quant_model(width=24, inputs=12, classes=3):
    import brevitas.nn as qnn
    return nn.Sequential(OrderedDict([
        ("quant_in", qnn.QuantIdentity(bit_width=8, return_quant_tensor=True)),
        ("fc1", qnn.QuantLinear(inputs, width, bias=False, weight_bit_width=6)),
        ("bn1", nn.BatchNorm1d(width)),
        ("act1", qnn.QuantReLU(bit_width=4, return_quant_tensor=True)),
        ("fc2", qnn.QuantLinear(width, classes, bias=False, weight_bit_width=6)),
    ]))


def data(n=240, inputs=12, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    X = (rng.normal(size=(classes, inputs))[y] + 0.5 * rng.normal(size=(n, inputs))).astype(np.float32)
    return X, y


def test_parametrisation_starts_at_the_layer_weight_and_is_orthogonal():
    torch.manual_seed(0)
    layer = nn.Linear(12, 8)
    w = layer.weight.detach().clone()
    layers = svd_parametrize(nn.Sequential(layer))
    low = layers["0"]
    assert torch.allclose(layer.weight, w, atol=1e-5)
    assert float(low.orthogonality()) < 1e-10
    s = low.s.detach()
    assert float(low.hoyer()) == pytest.approx(float(s.abs().sum() / s.norm()), rel=1e-6)
    reg = svd_regulariser(layers, ortho=1.0, sparsity=0.5)
    assert float(reg) == pytest.approx(float(low.orthogonality()) + 0.5 * float(low.hoyer()), rel=1e-6)


def test_energy_rule_is_the_svd_split_rule():
    s = np.array([10.0, 5.0, 1.0, 0.1])
    for e in (0.0, 0.001, 0.01, 0.05, 0.2, 0.5):
        assert energy_rank(torch.tensor(s), e) == choose_rank(s, e)


def test_prune_keeps_the_strongest_singular_values():
    torch.manual_seed(1)
    layer = nn.Linear(10, 10, bias=False)
    layers = svd_parametrize(nn.Sequential(layer))
    ranks = prune_energy(layers, 0.3)
    r = ranks["0"]
    assert 1 <= r < 10 and layers["0"].rank == r
    assert int(torch.linalg.matrix_rank(layer.weight.detach())) == r


def test_train_prune_bake_compile():
    torch.manual_seed(0)
    X, y = data()
    model = quant_model()
    layers = svd_parametrize(model, layers=("fc1",))
    train_classifier(model, X, y, epochs=3, lr=1e-2, regulariser=lambda: svd_regulariser(layers))
    ranks = prune_energy(layers, 0.2)
    train_classifier(model, X, y, epochs=2, lr=3e-3)
    assert layers["fc1"].rank == ranks["fc1"] < 12
    before = model(torch.as_tensor(X)).detach()
    bake(model)
    assert type(model.fc1).__name__ == "QuantLinear" and model.fc1.weight.requires_grad
    assert torch.allclose(model(torch.as_tensor(X)).detach(), before)
    g = import_model(model, X[:1])
    fc1 = g["fc1"]
    w = fc1.weight.array * fc1.wscale.array[:, None]
    # 6-bit codes of a rank-r matrix: the quantisation noise holds little energy
    assert choose_rank(np.linalg.svd(w, compute_uv=False), 0.01) <= ranks["fc1"] + 2
    s = PassManager(parse_pipeline(f"svd-split{{rank={ranks['fc1']},bits=8,kappa=10.0,layers=['fc1']}},"
                                   "streamline,infer-bitwidths")).run(g)
    assert isinstance(s["fc1_v"], MatVec) and s["fc1_v"].rows == ranks["fc1"]
    interp = Interpreter(s)
    acc = (interp.real(s.output.name, interp.output(X)).argmax(1) == y).mean()
    assert acc > 0.8


def test_errors_name_the_layer():
    model = quant_model()
    with pytest.raises(FrontendError, match="no linear layer named fc9; linear layers: fc1, fc2"):
        svd_parametrize(model, layers=("fc9",))
    layers = svd_parametrize(model, layers=("fc1",))
    with pytest.raises(FrontendError, match="layer fc1 is already parametrised"):
        svd_parametrize(model, layers=("fc1",))
    with pytest.raises(FrontendError, match=r"energy must be in \[0, 1\), not 1.5"):
        prune_energy(layers, 1.5)
    with pytest.raises(FrontendError, match="the model has no linear layer"):
        svd_parametrize(nn.Sequential(nn.ReLU()))
