"""binarize(): a plain PyTorch MLP made 1-bit by one call, imported, streamlined and verified."""

from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

from bitwave.compile import CompileOptions, compile_graph
from bitwave.dataset import Dataset
from bitwave.errors import FrontendError
from bitwave.frontend import binarize, import_model, train_classifier
from bitwave.ir import Bipolar, Int, Interpreter, MatVec, MultiThreshold, quantise_input
from bitwave.passes import PassManager, parse_pipeline


def plain(width=16, inputs=12, classes=3):
    return nn.Sequential(OrderedDict([
        ("fc1", nn.Linear(inputs, width)), ("bn1", nn.BatchNorm1d(width)), ("act1", nn.ReLU()),
        ("fc2", nn.Linear(width, width, bias=False)), ("bn2", nn.BatchNorm1d(width)), ("act2", nn.Tanh()),
        ("fc3", nn.Linear(width, classes, bias=False)),
    ]))


def data(n=200, inputs=12, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    centres = rng.normal(size=(classes, inputs))
    X = (centres[y] + 0.5 * rng.normal(size=(n, inputs))).astype(np.float32)
    return X, y


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    X, y = data()
    model = binarize(plain())
    train_classifier(model, X, y, epochs=4, lr=1e-2)
    with torch.no_grad():   # some negative γ, so that streamlining must negate rows
        model.bn2.weight[::3] *= -1
    return model, X, y


def test_binarize_is_a_one_line_change_that_keeps_the_float_model():
    torch.manual_seed(0)
    fmodel = plain()
    with torch.no_grad():
        fmodel.fc1.weight[0, 0] = 3.0
    q = binarize(fmodel)
    assert list(q._modules) == ["quant_in", "fc1", "bn1", "act1", "fc2", "bn2", "act2", "fc3", "out_norm"]
    assert float(fmodel.fc1.weight.detach()[0, 0]) == 3.0                 # the user's model is untouched
    assert float(q.fc1.weight.detach()[0, 0]) == 1.0                      # latent weights start clipped to [-1, 1]
    assert torch.equal(q.fc1.bias, fmodel.fc1.bias)
    qw = q.fc2.quant_weight()
    assert float(qw.bit_width) == 1 and set(qw.value.unique().tolist()) <= {-1.0, 1.0}
    q.train()
    with torch.no_grad():
        q.fc2.weight[0, 0] = 5.0
    q(torch.zeros(4, 12))
    assert float(q.fc2.weight.detach()[0, 0]) == 1.0                      # clipped in place on a training forward


def test_binarize_rejects_what_it_cannot_binarise():
    with pytest.raises(FrontendError, match=r"binarize: layer 1 \(Conv1d\) is not supported"):
        binarize(nn.Sequential(nn.Linear(4, 4), nn.Conv1d(1, 1, 1)))
    with pytest.raises(FrontendError, match="hidden layer 0 .Linear. has no activation after it"):
        binarize(nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)))
    with pytest.raises(FrontendError, match="follows the last Linear"):
        binarize(nn.Sequential(nn.Linear(4, 2), nn.ReLU()))
    with pytest.raises(FrontendError, match="expected an nn.Sequential"):
        binarize(nn.Linear(4, 2))
    with pytest.raises(FrontendError, match="input_bits must be an integer in 2..16"):
        binarize(plain(), input_bits=1)


def test_binarised_model_streamlines_to_xnor_layers_with_one_threshold_per_output(trained):
    model, X, _ = trained
    g = import_model(model, X[:1])
    s = PassManager(parse_pipeline("streamline,infer-bitwidths")).run(g)
    mvs = [op for op in s.ops if isinstance(op, MatVec)]
    ins = [Interpreter(s).types[op.input].fmt for op in mvs]
    # mixed precision: 8-bit input into the first layer, 1-bit hidden, integer output layer
    assert ins == [Int(8), Bipolar(), Bipolar()]
    assert all(op.wfmt == Bipolar() for op in mvs)
    acts = [op for op in s.ops if isinstance(op, MultiThreshold)]
    assert [(a.fmt, a.levels) for a in acts] == [(Bipolar(), 1), (Bipolar(), 1)]
    # no sign on the output layer; its batch-norm stays a real affine the host applies
    assert s.device_output is mvs[-1] and [op.opcode for op in s.host_ops] == ["affine"]
    # rows whose batch-norm γ < 0 are negated (weights and threshold), and only those
    gamma = model.bn2.weight.detach().numpy()
    raw = [op for op in g.ops if isinstance(op, MatVec)][1].weight.array
    negated = np.all(mvs[1].weight.array == -raw, axis=1)
    assert np.array_equal(negated, gamma < 0) and negated.any()
    codes = quantise_input(g.input, X)
    before, after = Interpreter(g).run(codes, codes=True), Interpreter(s).run(codes, codes=True)
    for act in acts:   # the folded thresholds give exactly the signs of batch-norm + sign
        assert np.array_equal(before[act.name], after[act.name])


@pytest.mark.sim
def test_binarised_model_verifies_in_verilator(trained, tmp_path):
    from bitwave.verify import verify_build
    model, X, y = trained
    g = import_model(model, X[:1])
    compile_graph(g, tmp_path / "b", CompileOptions(target_cycles=16), dataset=Dataset(X, y))
    res = verify_build(tmp_path / "b")
    assert res.frames == len(X) and res.mismatches == 0
    assert res.cycles_per_frame == pytest.approx(16, rel=0.05)
