"""Brevitas' own bnn_pynq TFC models (``brevitas_examples.bnn_pynq``), untrained, as
``file.py:function`` specs for ``bitwave compile``: weights from Brevitas' own
initialisation and batch-norm statistics randomised (seeded) so that the thresholds are
not trivial; 16 MNIST-sized samples with pixels in [0, 1] (the models' forward computes
``2·x − 1`` before the input quantiser)."""

import numpy as np
import torch
from torch import nn

from bitwave.frontend import ModelBundle


def randomise_batchnorm(model: nn.Module):
    """Batch-norm statistics and affine of every BatchNorm1d/2d drawn from torch's generator, so that
    an untrained model's thresholds differ per channel and lie inside the accumulator ranges."""
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.running_mean.uniform_(-8, 8)
            m.running_var.uniform_(1, 16)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)


def tfc(name: str, seed: int = 0, frames: int = 16):
    from brevitas_examples.bnn_pynq.models import model_with_cfg
    torch.manual_seed(seed)
    model, _ = model_with_cfg(name, pretrained=False)
    randomise_batchnorm(model)
    x = np.random.default_rng(seed).uniform(0, 1, size=(frames, 784)).astype(np.float32)
    return ModelBundle(model.eval(), x, name=name.replace("_", "-"))


def tfc_w1a1():
    return tfc("tfc_1w1a")


def tfc_w2a2():
    return tfc("tfc_2w2a")


def sfc_w1a1():
    return tfc("sfc_1w1a")
