"""SVD training helper: U·diag(s)·Vᵀ parametrisation, regularisers, energy pruning, bake, factorise, compile."""

from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

from bitwave.errors import FrontendError
from bitwave.compile import CompileOptions, compile_graph
from bitwave.dataset import Dataset
from bitwave.frontend import import_model, train_classifier
from bitwave.frontend.lowrank import bake, energy_rank, factorise, prune_energy, svd_parametrize, svd_regulariser
from bitwave.ir import Int, Interpreter, MatVec, Quant
from bitwave.passes import PassManager, choose_rank, parse_pipeline


def quant_model(width=24, inputs=12, classes=3, bias=False):
    import brevitas.nn as qnn
    from brevitas.quant import Int32Bias
    return nn.Sequential(OrderedDict([
        ("quant_in", qnn.QuantIdentity(bit_width=8, return_quant_tensor=True)),
        ("fc1", qnn.QuantLinear(inputs, width, bias=False, weight_bit_width=6)),
        ("bn1", nn.BatchNorm1d(width)),
        ("act1", qnn.QuantReLU(bit_width=4, return_quant_tensor=True)),
        ("fc2", qnn.QuantLinear(width, classes, bias=bias, weight_bit_width=6,
                                **({"bias_quant": Int32Bias} if bias else {}))),
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


def svd_trained(energy=0.2, bias=True, width=24, epochs=3):
    """A small SVD-trained, energy-pruned model; and a baked copy of it (same weights)."""
    torch.manual_seed(0)
    X, y = data()
    model = quant_model(width=width, bias=bias)
    layers = svd_parametrize(model)
    train_classifier(model, X, y, epochs=epochs, lr=1e-2, regulariser=lambda: svd_regulariser(layers))
    ranks = prune_energy(layers, energy)
    baked = quant_model(width=width, bias=bias)
    svd_parametrize(baked)
    baked.load_state_dict(model.state_dict())   # not deepcopy: bake would remove the shared property
    bake(baked).eval()
    model.eval()
    return model, baked, ranks, X, y


def test_factorise_gives_two_quantlinear_layers_at_the_pruned_rank():
    import brevitas.nn as qnn
    model, _, ranks, X, _ = svd_trained()
    got = factorise(model, X, kappa=10.0)
    assert got == ranks
    for name, (m, n) in (("fc1", (24, 12)), ("fc2", (3, 24))):
        v, q, u = getattr(model, name)
        r = ranks[name]
        assert isinstance(v, qnn.QuantLinear) and isinstance(u, qnn.QuantLinear)
        assert isinstance(q, qnn.QuantIdentity) and q.return_quant_tensor
        assert (v.in_features, v.out_features, u.in_features, u.out_features) == (n, r, r, m)
        assert v.bias is None
    assert model.fc2.u.bias is not None and model.fc1.u.bias is None
    assert not any(isinstance(p, nn.Module) and hasattr(p, "parametrizations") for p in model.modules())


def test_factorised_forward_equals_the_baked_model_within_quantisation_error():
    model, baked, _, X, _ = svd_trained()
    before = model.fc2.bias.detach().clone()
    factorise(model, X, kappa=10.0)
    assert torch.equal(model.fc2.u.bias.detach(), before)
    with torch.no_grad():
        a, b = baked(torch.as_tensor(X)), model(torch.as_tensor(X))
    # 6-bit factors and an 8-bit intermediate instead of one 6-bit matrix: a few per cent of the range
    assert float((a - b).abs().max()) < 0.1 * float(a.abs().max())
    assert float((a.argmax(1) == b.argmax(1)).float().mean()) > 0.95


def test_factorise_keeps_layers_where_the_split_does_not_pay():
    model, _, ranks, X, _ = svd_trained(energy=0.0)    # full rank everywhere
    assert factorise(model, X) == {}
    assert type(model.fc1).__name__ == "QuantLinear" and type(model.fc2).__name__ == "QuantLinear"
    with pytest.raises(FrontendError, match="no SVD-parametrised layer; call svd_parametrize first"):
        factorise(model, X)
    model, _, _, X, _ = svd_trained()
    with pytest.raises(FrontendError, match="no SVD-parametrised layer named fc9; SVD-parametrised layers: fc1, fc2"):
        factorise(model, X, layers=("fc9",))
    assert set(factorise(model, X, kappa=10.0, layers=("fc1",))) == {"fc1"}
    assert type(model.fc2).__name__ == "QuantLinear"   # baked


def test_qonnx_import_gives_two_matvecs_per_split_layer():
    model, _, ranks, X, y = svd_trained(bias=False)
    factorise(model, X, kappa=10.0)
    g = import_model(model, X[:1])
    mvs = [op for op in g.ops if isinstance(op, MatVec)]
    assert [op.name for op in mvs] == ["fc1_v", "fc1_u", "fc2_v", "fc2_u"]
    for name, (m, n) in (("fc1", (24, 12)), ("fc2", (3, 24))):
        r = ranks[name]
        assert (g[f"{name}_v"].rows, g[f"{name}_v"].cols, g[f"{name}_u"].rows, g[f"{name}_u"].cols) == (r, n, m, r)
        q = g[f"{name}_q"]
        assert isinstance(q, Quant) and q.input == f"{name}_v" and q.fmt == Int(8, True)
        assert g[f"{name}_u"].input == q.name
    # no svd-split: the default pipeline keeps the trained rank
    s = PassManager(parse_pipeline("streamline,infer-bitwidths")).run(g)
    assert sum(op.rows * op.cols for op in s.ops if isinstance(op, MatVec)) == sum(
        ranks[k] * (m + n) for k, (m, n) in (("fc1", (24, 12)), ("fc2", (3, 24))))
    interp = Interpreter(s)
    with torch.no_grad():
        ref = model(torch.as_tensor(X)).argmax(1).numpy()
    assert (interp.real(s.output.name, interp.output(X)).argmax(1) == ref).mean() > 0.95


@pytest.mark.sim
def test_factorised_model_compiles_to_two_units_per_layer_and_verifies(tmp_path):
    from bitwave.verify import verify_build
    torch.manual_seed(0)
    X, y = data(n=120)
    model = quant_model(width=16, bias=True)
    layers = svd_parametrize(model)
    train_classifier(model, X, y, epochs=3, lr=1e-2, regulariser=lambda: svd_regulariser(layers))
    prune_energy(layers, 0.2)
    ranks = factorise(model, X, kappa=10.0)
    train_classifier(model, X, y, epochs=2, lr=3e-3)   # QAT of the factors
    res = compile_graph(import_model(model, X[:1]), tmp_path / "f", CompileOptions(), dataset=Dataset(X, y))
    units = {L.name: L for L in res.manifest.layers}
    assert set(units) == {"fc1_v", "fc1_u", "fc2_v", "fc2_u"}
    assert res.manifest.macs == ranks["fc1"] * (16 + 12) + ranks["fc2"] * (3 + 16)
    assert units["fc1_v"].rows == units["fc1_u"].cols == ranks["fc1"]
    v = verify_build(tmp_path / "f")
    assert v.frames == len(X) and v.mismatches == 0
    assert np.isfinite(v.cycles_per_frame)
