"""Conv, CausalConv, Pool and Flatten: the interpreter against PyTorch on integer codes."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bitwave.errors import VerifyError
from bitwave.ir import (Bipolar, CausalConv, Conv, Flatten, Graph, Input, Int, Interpreter,
                        MatVec, Output, Pool, parse_graph, print_graph, quantise_input, verify)


def _torch_weight(w2d, out_c, cin_g, kernel):
    """Our (O, taps·C/g) window-order matrix as PyTorch's (O, C/g, *kernel)."""
    return torch.tensor(w2d.reshape((out_c,) + tuple(kernel) + (cin_g,)), dtype=torch.float64) \
        .movedim(-1, 1)


@pytest.mark.parametrize("kernel,stride,pads,dilation,groups", [
    ((3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1),
    ((3, 2), (2, 1), (0, 1, 2, 0), (1, 2), 1),
    ((3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 4),     # depthwise (4 in, 4 out)
    ((2, 2), (2, 2), (0, 0, 0, 0), (1, 1), 2),
])
def test_conv2d_matches_torch(kernel, stride, pads, dilation, groups):
    rng = np.random.default_rng(0)
    C, O, H, W = 4, 4 if groups == 4 else 6, 7, 6
    taps = kernel[0] * kernel[1]
    w = rng.integers(-3, 4, size=(O, taps * C // groups))
    b = rng.integers(-5, 6, size=O)
    g = Graph((Input("x", n=C * H * W, fmt=Int(3, True), shape=(C, H, W)),
               Conv("c", input="x", weight=w, wfmt=Int(3, True), bias=b, kernel=kernel,
                    stride=stride, pads=pads, dilation=dilation, groups=groups),
               Output("y", input="c")))
    types = verify(g)
    x = rng.integers(-4, 4, size=(5, C, H, W)).astype(float)
    got = Interpreter(g).output(x)
    want = F.conv2d(F.pad(torch.tensor(x), (pads[1], pads[3], pads[0], pads[2])),
                    _torch_weight(w, O, C // groups, kernel), torch.tensor(b, dtype=torch.float64),
                    stride=stride, dilation=dilation, groups=groups)
    assert types["c"].shape == tuple(want.shape[2:]) + (O,)
    np.testing.assert_array_equal(got, want.movedim(1, -1).reshape(5, -1).numpy())
    assert parse_graph(print_graph(g)) == g


def test_conv1d_pool_flatten_dense_chain():
    rng = np.random.default_rng(1)
    C, L, O = 2, 12, 3
    w = rng.integers(-1, 2, size=(O, 3 * C))
    dense = rng.integers(-2, 3, size=(4, O * 5))
    g = Graph((Input("x", n=C * L, fmt=Int(4, False), shape=(C, L)),
               Conv("c", input="x", weight=w, wfmt=Int(2, True), kernel=(3,), pads=(0, 0)),
               Pool("p", input="c", kind="max", kernel=(2,), stride=(2,)),
               Flatten("f", input="p"),
               MatVec("d", input="f", weight=dense, wfmt=Int(3, True)),
               Output("y", input="d")))
    x = rng.integers(0, 16, size=(6, C, L)).astype(float)
    got = Interpreter(g).output(x)
    t = F.conv1d(torch.tensor(x), _torch_weight(w, O, C, (3,)))
    t = F.max_pool1d(t, 2)
    want = t.flatten(1).numpy() @ dense.T
    np.testing.assert_array_equal(got, want)


def test_avg_pool_is_an_exact_sum_with_a_smaller_scale():
    g = Graph((Input("x", n=16, fmt=Int(4, False), scale=0.5, shape=(1, 4, 4)),
               Pool("p", input="x", kind="avg", kernel=(2, 2), stride=(2, 2)),
               Output("y", input="p")))
    t = verify(g)["p"]
    assert t.shape == (2, 2, 1) and t.scales[0] == 0.125 and t.fmt.max >= 60
    x = np.arange(16, dtype=float).reshape(1, 1, 4, 4) / 2
    it = Interpreter(g)
    real = it.real("p", it.output(x))
    np.testing.assert_allclose(real, F.avg_pool2d(torch.tensor(x), 2).reshape(1, -1).numpy())


def test_bipolar_max_pool_and_padding_rules():
    g = Graph((Input("x", n=8, fmt=Bipolar(), shape=(2, 2, 2)),
               Pool("p", input="x", kernel=(2, 2), stride=(1, 1)),
               Output("y", input="p")))
    x = np.array([[-1, -1, -1, 1, -1, -1, -1, -1]], dtype=float)
    np.testing.assert_array_equal(Interpreter(g).output(x), [[1, -1]])
    with pytest.raises(VerifyError, match="cannot be zero-padded"):
        verify(Graph((Input("x", n=8, fmt=Bipolar(), shape=(2, 2, 2)),
                      Conv("c", input="x", weight=np.ones((1, 18)), wfmt=Bipolar(),
                           kernel=(3, 3), pads=(1, 1, 1, 1)),
                      Output("y", input="c"))))


def test_causal_conv_is_a_left_padded_conv1d_and_streams_in_pieces():
    rng = np.random.default_rng(2)
    C, O, taps, dil = 2, 3, 3, 4
    w = rng.integers(-3, 4, size=(O, taps * C))
    g = Graph((Input("x", n=C, fmt=Int(6, True)),
               CausalConv("t", input="x", weight=w, wfmt=Int(3, True), taps=taps, dilation=dil),
               Output("y", input="t")))
    x = rng.integers(-32, 32, size=(50, C))
    got = Interpreter(g).output(x, codes=True)
    sig = torch.tensor(x.T[None], dtype=torch.float64)
    want = F.conv1d(F.pad(sig, ((taps - 1) * dil, 0)), _torch_weight(w, O, C, (taps,)),
                    dilation=dil)[0].T.numpy()
    np.testing.assert_array_equal(got, want)
    assert parse_graph(print_graph(g)) == g


def test_shaped_input_codes_are_channels_last():
    op = Input("x", n=12, fmt=Int(8, True), shape=(3, 2, 2))
    x = np.arange(12, dtype=float).reshape(1, 3, 2, 2)
    codes = quantise_input(op, x)
    np.testing.assert_array_equal(codes[0], np.moveaxis(x[0], 0, -1).reshape(-1))
    assert "channels last" in op.conversion()
    with pytest.raises(VerifyError, match="12 elements"):
        quantise_input(op, np.zeros((1, 5)))


def test_dense_layer_on_an_image_asks_for_a_flatten():
    with pytest.raises(VerifyError, match="flatten it first"):
        verify(Graph((Input("x", n=4, fmt=Int(4), shape=(1, 2, 2)),
                      MatVec("d", input="x", weight=np.ones((2, 4))),
                      Output("y", input="d"))))


def test_conv_errors_name_the_op():
    with pytest.raises(VerifyError, match="conv: op c: groups=3"):
        Conv("c", weight=np.ones((4, 9)), kernel=(3, 3), groups=3)
    with pytest.raises(VerifyError, match="kernel must have 1 or 2 entries"):
        Conv("c", weight=np.ones((4, 27)), kernel=(3, 3, 3))
    with pytest.raises(VerifyError, match="larger than the padded input"):
        verify(Graph((Input("x", n=4, fmt=Int(4), shape=(1, 2, 2)),
                      Conv("c", input="x", weight=np.ones((1, 9)), kernel=(3, 3)),
                      Output("y", input="c"))))


def test_residual_add_is_exact_and_streamlines_around_the_fork():
    """x → q → conv → act ─┐
                 └────────(+)→ quant → out; the shared scale makes the codes add."""
    from bitwave.ir import Add, Affine, Quant, add_multipliers
    from bitwave.passes import PassManager, parse_pipeline
    rng = np.random.default_rng(4)
    C = 3
    g = Graph((Input("x", n=C * 16, fmt=Int(4, False), scale=0.25, shape=(C, 4, 4)),
               Conv("c", input="x", weight=rng.integers(-2, 3, size=(C, 9 * C)), wfmt=Int(3, True),
                    wscale=0.1, kernel=(3, 3), pads=(1, 1, 1, 1)),
               Affine("bn", input="c", mul=[0.9, 1.1, 0.7], add=[0.1, -0.2, 0.05]),
               Quant("q", input="bn", fmt=Int(4, False), scale=0.25),
               Add("s", input="q", other="x"),
               Quant("q2", input="s", fmt=Int(4, False), scale=0.5),
               Output("y", input="q2")))
    assert not g.is_chain and parse_graph(print_graph(g)) == g
    x = rng.integers(0, 16, size=(8, C, 4, 4)) * 0.25
    it = Interpreter(g)
    v = it.run(x)
    np.testing.assert_array_equal(v["s"], v["q"] + v["x"])
    s = PassManager(parse_pipeline("streamline")).run(g)
    assert [op.opcode for op in s.ops] == ["input", "conv", "multithreshold", "add",
                                           "multithreshold", "output"]
    np.testing.assert_array_equal(Interpreter(s).output(x), it.output(x))
    assert add_multipliers(np.array([0.5, 0.5]), np.array([0.25, 0.25])) == (2, 1)
    assert add_multipliers(np.array([0.5]), np.array([0.5 / np.pi])) is None
    with pytest.raises(VerifyError, match="differ"):
        verify(Graph(g.ops[:4] + (Add("s", input="q", other="x", mult_a=2),) + g.ops[5:]))
