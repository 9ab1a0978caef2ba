"""Binarised digits: a W1A1 MLP 64-W-W-W-10 on scikit-learn's 8x8 digits, by QAT.

    bitwave compile examples/digits_1bit.py:digits_1bit -o build/d1 --target-cycles 64
    bitwave verify build/d1
    python examples/digits_1bit.py            # train widths 64, 256, 1024; print accuracies

The network is written as a plain PyTorch model (:func:`float_mlp`) and made
1-bit by one call, ``binarize(float_mlp(width))``: 8-bit input, bipolar weights
and sign activations in the three hidden layers, integer output layer
(see :mod:`bitwave.frontend.binary`).  The float twin is the same model
trained without the change, so the report shows what 1 bit costs at each
width — wider layers buy back what 1 bit loses.

Data, held-out split and weight cache are those of ``examples/digits.py``.
"""

from __future__ import annotations

import hashlib
import inspect
import sys
import time
from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from digits import cache_dir, load_data, train_or_load  # noqa: E402  (the sibling example)

from bitwave.frontend import ModelBundle, accuracy, binarize, train_classifier  # noqa: E402
from bitwave.frontend import binary as _binary  # noqa: E402

EPOCHS = 20
LR = 3e-3
BATCH = 64
WIDTHS = (64, 256, 1024)


def float_mlp(width: int = 64, *, inputs: int = 64, classes: int = 10, hidden_layers: int = 3) -> nn.Sequential:
    """A plain float MLP: (Linear, BatchNorm1d, ReLU) × hidden_layers, then Linear."""
    layers, n = [], inputs
    for i in range(hidden_layers):
        layers += [(f"fc{i + 1}", nn.Linear(n, width, bias=False)), (f"bn{i + 1}", nn.BatchNorm1d(width)),
                   (f"act{i + 1}", nn.ReLU())]
        n = width
    layers.append((f"fc{hidden_layers + 1}", nn.Linear(n, classes, bias=False)))
    return nn.Sequential(OrderedDict(layers))


def _cache_file(width: int, seed: int) -> Path:
    h = hashlib.sha256()
    for source in (Path(__file__).read_bytes(), inspect.getsource(train_classifier).encode(),
                   inspect.getsource(_binary).encode()):
        h.update(source)
    h.update(f"{width} {seed} {EPOCHS} {LR} {BATCH} torch={torch.__version__}".encode())
    return cache_dir() / f"digits-w1a1-h{width}-s{seed}-{h.hexdigest()[:16]}.pt"


def digits_1bit(width: int = 64, seed: int = 0) -> ModelBundle:
    """The trained W1A1 digits MLP with hidden ``width`` (its float twin as ``float_model``)."""
    X, y, test = load_data()
    torch.manual_seed(seed)
    fmodel = float_mlp(width)
    qmodel = binarize(fmodel)   # the one-line change: same layers, 1-bit

    def train():
        for model in (qmodel, fmodel):
            train_classifier(model, X[~test], y[~test], epochs=EPOCHS, lr=LR, seed=seed, batch_size=BATCH)

    train_or_load(_cache_file(width, seed), {"quant": qmodel, "float": fmodel}, train)
    return ModelBundle(qmodel, X, y, test, name=f"digits-w1a1-h{width}", float_model=fmodel)


def main() -> None:
    for width in WIDTHS:
        t = time.perf_counter()
        b = digits_1bit(width)
        X, y = b.held_out()
        print(f"{b.name}: held-out accuracy float {100 * accuracy(b.float_model, X, y):.2f} %, "
              f"1-bit {100 * accuracy(b.model, X, y):.2f} % ({time.perf_counter() - t:.1f} s)")


if __name__ == "__main__":
    main()
