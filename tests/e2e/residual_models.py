"""Residual blocks in Brevitas, small and untrained, batch-norm statistics drawn so the thresholds
differ per channel: a dense block (two operand scales made equal by one shared QuantReLU, or by
QuantEltwiseAdd) and a 3×3 convolutional block whose skip path is the identity.  Each function
returns a ModelBundle, so ``bitwave compile residual_models.py:residual_mlp`` works."""

import numpy as np
import torch
from torch import nn

import brevitas.nn as qnn
from bitwave.frontend import ModelBundle


def randomise_batchnorm(model: nn.Module, seed: int):
    """Statistics and affine of every batch-norm drawn, within the accumulators' reach."""
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            c = m.num_features
            m.running_mean.copy_(torch.rand(c, generator=gen) - 0.5)
            m.running_var.copy_(torch.rand(c, generator=gen) * 0.3 + 0.05)
            m.weight.data.copy_(torch.rand(c, generator=gen) + 0.5)
            m.bias.data.copy_(torch.rand(c, generator=gen) - 0.25)
    return model.eval()


class ResidualMLP(nn.Module):
    """in → fc1 → bn1 → act ─► fc2 → bn2 → act (the same QuantReLU) ─┐
                           └──────────────────────────────────────(+)→ out_act → head.

    ``eltwise``: add with QuantEltwiseAdd (its own quantiser, one bit wider, on both operands and on
    the sum) instead of ``x + y`` on two tensors of one scale."""

    def __init__(self, n_in=16, width=16, n_out=4, bits=3, eltwise=False):
        super().__init__()
        self.inq = qnn.QuantIdentity(bit_width=8, return_quant_tensor=False)
        self.fc1 = qnn.QuantLinear(n_in, width, bias=False, weight_bit_width=bits)
        self.bn1 = nn.BatchNorm1d(width)
        self.act = qnn.QuantReLU(bit_width=bits, return_quant_tensor=eltwise)
        self.fc2 = qnn.QuantLinear(width, width, bias=False, weight_bit_width=bits)
        self.bn2 = nn.BatchNorm1d(width)
        self.add = qnn.QuantEltwiseAdd(input_bit_width=bits + 1, output_bit_width=bits + 1) if eltwise else None
        self.out_act = qnn.QuantReLU(bit_width=bits)
        self.head = qnn.QuantLinear(width, n_out, bias=False, weight_bit_width=bits)

    def forward(self, x):
        x = self.act(self.bn1(self.fc1(self.inq(x))))
        y = self.act(self.bn2(self.fc2(x)))
        s = self.add(x, y) if self.add is not None else x + y
        return self.head(self.out_act(s))


class ResidualCNN(nn.Module):
    """in → conv1 → bn1 → act ─► conv2 (3×3, padding 1) → bn2 → act (shared) ─┐
                            └─────────────────────────────────────────────(+)→ out_act → max-pool
    → flatten → dense."""

    def __init__(self, c_in=1, channels=4, size=8, n_out=4, bits=3):
        super().__init__()
        self.inq = qnn.QuantIdentity(bit_width=8, return_quant_tensor=False)
        self.conv1 = qnn.QuantConv2d(c_in, channels, 3, padding=1, bias=False, weight_bit_width=bits)
        self.bn1 = nn.BatchNorm2d(channels)
        self.act = qnn.QuantReLU(bit_width=bits)
        self.conv2 = qnn.QuantConv2d(channels, channels, 3, padding=1, bias=False, weight_bit_width=bits)
        self.bn2 = nn.BatchNorm2d(channels)
        self.out_act = qnn.QuantReLU(bit_width=bits)
        self.pool = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.head = qnn.QuantLinear(channels * (size // 2) ** 2, n_out, bias=False, weight_bit_width=bits)

    def forward(self, x):
        x = self.act(self.bn1(self.conv1(self.inq(x))))
        y = self.act(self.bn2(self.conv2(x)))
        return self.head(self.flatten(self.pool(self.out_act(x + y))))


def _bundle(model: nn.Module, shape: tuple, frames: int, name: str, seed: int) -> ModelBundle:
    x = np.random.default_rng(seed).uniform(-1, 1, size=(frames, *shape)).astype(np.float32)
    return ModelBundle(randomise_batchnorm(model, seed), x, name=name)


def residual_mlp(frames: int = 32) -> ModelBundle:
    torch.manual_seed(0)
    return _bundle(ResidualMLP(), (16,), frames, "residual-mlp", 0)


def residual_mlp_eltwise(frames: int = 32) -> ModelBundle:
    torch.manual_seed(1)
    return _bundle(ResidualMLP(eltwise=True), (16,), frames, "residual-mlp-eltwise", 1)


def residual_cnn(frames: int = 32) -> ModelBundle:
    torch.manual_seed(2)
    return _bundle(ResidualCNN(), (1, 8, 8), frames, "residual-cnn", 2)
