"""Zero padding in the QONNX reader: the ``Pad`` nodes of a TorchScript export of a causal
Conv1d network fold into the convolutions (the same graph as the default export, whose
optimiser folds them itself), and every other padding is refused naming the node."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import brevitas.nn as qnn
from brevitas.export import export_qonnx
from brevitas.quant import Int32Bias

from bitwave.errors import FrontendError
from bitwave.frontend import import_model, import_qonnx
from bitwave.ir import Conv, Interpreter, print_graph


class Causal(nn.Module):
    """6-bit input → [F.pad(left) → QuantConv1d(dilation d) → batch-norm → 4-bit ReLU] × 2 → QuantConv1d."""

    def __init__(self, dilations=(1, 2, 4)):
        super().__init__()
        torch.manual_seed(0)
        self.dilations = dilations
        sizes = [2, 4, 4, 1]
        self.q = qnn.QuantIdentity(bit_width=6, return_quant_tensor=True)
        self.convs = nn.ModuleList(
            qnn.QuantConv1d(a, b, 3, dilation=d, weight_bit_width=4, bias=i == len(dilations) - 1,
                            bias_quant=Int32Bias)
            for i, (a, b, d) in enumerate(zip(sizes, sizes[1:], dilations)))
        self.norms = nn.ModuleList(nn.BatchNorm1d(c) for c in sizes[1:-1])
        for m in self.norms:
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
        self.acts = nn.ModuleList(qnn.QuantReLU(bit_width=4, return_quant_tensor=True)
                                  for _ in sizes[1:-1])
        self.eval()

    def forward(self, x):
        x = self.q(x)
        for i, conv in enumerate(self.convs):
            x = conv(F.pad(x, (2 * self.dilations[i], 0)))
            if i < len(self.acts):
                x = self.acts[i](self.norms[i](x))
        return x


class PadThen(nn.Module):
    """A quantiser, one F.pad and the layer after it: what the reader must refuse."""

    def __init__(self, pad, after, **kw):
        super().__init__()
        self.q = qnn.QuantIdentity(bit_width=6, return_quant_tensor=True)
        self.pad, self.kw, self.after = pad, kw, after
        self.eval()

    def forward(self, x):
        return self.after(F.pad(self.q(x), self.pad, **self.kw))


def torchscript_qonnx(model, x, tmp_path):
    path = tmp_path / "model.onnx"
    export_qonnx(model, input_t=torch.as_tensor(x), export_path=str(path), dynamo=False)
    return path


def test_torchscript_pads_fold_into_the_convolutions(tmp_path):
    model = Causal()
    x = np.random.default_rng(1).uniform(-1, 1, size=(3, 2, 40)).astype(np.float32)
    path = torchscript_qonnx(model, x, tmp_path)
    import onnx
    assert [n.op_type for n in onnx.load(path).graph.node].count("Pad") == 3
    padded = import_qonnx(path)
    convs = [op for op in padded if isinstance(op, Conv)]
    assert [(op.pads, op.dilation) for op in convs] == [((2, 0), (1,)), ((4, 0), (2,)), ((8, 0), (4,))]
    folded = import_model(model, x)
    assert [op.opcode for op in padded] == [op.opcode for op in folded]
    assert print_graph(padded).count("pads=[") == print_graph(folded).count("pads=[") == 3
    it = Interpreter(padded)
    got = it.real(padded.output.name, it.output(x))
    np.testing.assert_array_equal(got, Interpreter(folded).real(folded.output.name, Interpreter(folded).output(x)))
    with torch.no_grad():
        want = model(torch.as_tensor(x)).numpy()
    np.testing.assert_allclose(got, want.transpose(0, 2, 1).reshape(3, -1), rtol=0, atol=1e-5)


@pytest.mark.parametrize("pad,kw,after,message", [
    ((2, 0), {"mode": "reflect"}, qnn.QuantConv1d(2, 2, 3), r"\(Pad.*\): reflect padding is not supported; "
                                                            r"bitwave pads with zeros, e.g. F.pad"),
    ((2, 0), {"value": 0.5}, qnn.QuantConv1d(2, 2, 3), r"pads with 0.5, not zeros"),
    ((0, 0, 1, 0), {}, qnn.QuantConv1d(3, 2, 3), r"pads the batch or channel axis"),
    ((2, 0), {}, qnn.QuantReLU(bit_width=4), r"must be read by one Conv and nothing else"),
])
def test_other_padding_is_refused_at_the_pad_node(tmp_path, pad, kw, after, message):
    x = np.zeros((1, 2, 16), np.float32)
    with pytest.raises(FrontendError, match=message):
        import_qonnx(torchscript_qonnx(PadThen(pad, after.eval(), **kw), x, tmp_path))
