"""Digits CNN: a small Brevitas convolutional network on scikit-learn's 8x8 digits.

    bitwave compile examples/digits_cnn.py:digits_cnn    # 4-bit weights and activations
    bitwave demo --model cnn                             # train, compile, verify
    python examples/digits_cnn.py                        # train, print accuracies

The images come in as (N, 1, 8, 8) in [0, 1].  Two 3×3 convolutions with
"same" padding, each followed by batch-norm, a 4-bit ReLU and 2×2 max
pooling, then one dense layer: 6,032 weights (24,128 weight bits at 4 bits),
fewer than the digits MLP's 8,832 (35,328 bits).  The held-out split, the
training helper and the weight cache are those of :mod:`digits`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
import time
from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn

from bitwave.frontend import ModelBundle, accuracy, train_classifier

EPOCHS = 80
LR = 3e-3
BATCH = 64


def _digits_module():
    """The MLP example next to this file (data split, cache helpers); imported by path."""
    if "bitwave_example_digits" not in sys.modules:
        spec = importlib.util.spec_from_file_location("bitwave_example_digits",
                                                      Path(__file__).with_name("digits.py"))
        mod = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = mod
        spec.loader.exec_module(mod)
    return sys.modules["bitwave_example_digits"]


def quant_cnn(bits: int = 4, c1: int = 16, c2: int = 32, classes: int = 10) -> nn.Sequential:
    """8-bit input; ``bits``-bit weights and ReLUs; max pooling; integer bias on the last layer."""
    import brevitas.nn as qnn
    from brevitas.quant import Int32Bias

    return nn.Sequential(OrderedDict([
        ("quant_in", qnn.QuantIdentity(bit_width=8, return_quant_tensor=True)),
        ("conv1", qnn.QuantConv2d(1, c1, 3, padding=1, bias=False, weight_bit_width=bits)),
        ("bn1", nn.BatchNorm2d(c1)),
        ("act1", qnn.QuantReLU(bit_width=bits, return_quant_tensor=True)),
        ("pool1", nn.MaxPool2d(2)),
        ("conv2", qnn.QuantConv2d(c1, c2, 3, padding=1, bias=False, weight_bit_width=bits)),
        ("bn2", nn.BatchNorm2d(c2)),
        ("act2", qnn.QuantReLU(bit_width=bits, return_quant_tensor=True)),
        ("pool2", nn.MaxPool2d(2)),
        ("flatten", nn.Flatten()),
        ("fc", qnn.QuantLinear(c2 * 4, classes, bias=True, weight_bit_width=bits,
                               bias_quant=Int32Bias)),
    ]))


def float_cnn(c1: int = 16, c2: int = 32, classes: int = 10) -> nn.Sequential:
    """The float twin of :func:`quant_cnn`."""
    return nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(1, c1, 3, padding=1, bias=False)), ("bn1", nn.BatchNorm2d(c1)),
        ("act1", nn.ReLU()), ("pool1", nn.MaxPool2d(2)),
        ("conv2", nn.Conv2d(c1, c2, 3, padding=1, bias=False)), ("bn2", nn.BatchNorm2d(c2)),
        ("act2", nn.ReLU()), ("pool2", nn.MaxPool2d(2)),
        ("flatten", nn.Flatten()), ("fc", nn.Linear(c2 * 4, classes)),
    ]))


def weight_count(model: nn.Module) -> int:
    """Weights of the convolutions and dense layers (not batch-norm or biases)."""
    return sum(m.weight.numel() for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))


def _cache_file(bits: int, c1: int, c2: int, seed: int) -> Path:
    h = hashlib.sha256()
    h.update(Path(__file__).read_bytes())
    h.update(inspect.getsource(train_classifier).encode())
    h.update(f"{bits} {c1} {c2} {seed} {EPOCHS} {LR} {BATCH} torch={torch.__version__}".encode())
    return _digits_module().cache_dir() / f"digits-cnn-w{bits}a{bits}-{c1}-{c2}-s{seed}-{h.hexdigest()[:16]}.pt"


def digits_cnn(bits: int = 4, c1: int = 16, c2: int = 32, seed: int = 0) -> ModelBundle:
    """The trained digits CNN with its data (images (N, 1, 8, 8))."""
    digits = _digits_module()
    X, y, test = digits.load_data()
    X = X.reshape(-1, 1, 8, 8)
    torch.manual_seed(seed)
    qmodel = quant_cnn(bits, c1, c2)
    torch.manual_seed(seed)
    fmodel = float_cnn(c1, c2)

    def train():
        for model in (qmodel, fmodel):
            train_classifier(model, X[~test], y[~test], epochs=EPOCHS, lr=LR, seed=seed,
                             batch_size=BATCH)

    digits.train_or_load(_cache_file(bits, c1, c2, seed), {"quant": qmodel, "float": fmodel}, train)
    return ModelBundle(qmodel, X, y, test, name=f"digits-cnn-w{bits}a{bits}-{c1}-{c2}",
                       float_model=fmodel)


def main() -> None:
    t = time.perf_counter()
    b = digits_cnn()
    X, y = b.held_out()
    print(f"{b.name}: {weight_count(b.model)} weights; held-out accuracy float "
          f"{100 * accuracy(b.float_model, X, y):.2f} %, quantised {100 * accuracy(b.model, X, y):.2f} % "
          f"({len(y)} samples; {time.perf_counter() - t:.1f} s)")


if __name__ == "__main__":
    main()
