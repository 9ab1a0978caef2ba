"""Digits: a 64-64-64-10 Brevitas MLP on scikit-learn's 8x8 handwritten digits.

    bitwave compile examples/digits.py:digits        # 4-bit weights and activations
    bitwave compile examples/digits.py:digits_2bit   # 2-bit (ternary weights)
    python examples/digits.py                        # train both, print accuracies

The data ships inside scikit-learn (1,797 samples, offline).  Features are
pixel intensities 0..16 divided by 16, so they lie in [0, 1].  A stratified
25 % of the samples is held out (``test_mask``) and never trained on.

Trained weights are cached in ``$XDG_CACHE_HOME/bitwave`` (or
``~/.cache/bitwave``), keyed by the hyper-parameters and a hash of this file and
of the training helper, so only the first call trains.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import time
from collections import OrderedDict
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from bitwave.frontend import ModelBundle, accuracy, train_classifier

EPOCHS = 60
LR = 3e-3
BATCH = 64
SPLIT_SEED = 0  # the held-out split is the same whatever the training seed


def load_data(seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features (1797, 64) in [0, 1], labels, and a stratified 25 % held-out mask."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    X = (data.data / 16.0).astype(np.float32)
    y = data.target.astype(np.int64)
    _, test_idx = train_test_split(np.arange(len(y)), test_size=0.25, stratify=y, random_state=seed)
    mask = np.zeros(len(y), dtype=bool)
    mask[test_idx] = True
    return X, y, mask


def quant_mlp(bits: int = 4, hidden: int = 64, *, inputs: int = 64, classes: int = 10) -> nn.Sequential:
    """The quantised MLP: 8-bit input, ``bits``-bit weights and ReLU activations, integer bias last."""
    import brevitas.nn as qnn
    from brevitas.quant import Int32Bias

    return nn.Sequential(OrderedDict([
        ("quant_in", qnn.QuantIdentity(bit_width=8, return_quant_tensor=True)),
        ("fc1", qnn.QuantLinear(inputs, hidden, bias=False, weight_bit_width=bits)),
        ("bn1", nn.BatchNorm1d(hidden)),
        ("act1", qnn.QuantReLU(bit_width=bits, return_quant_tensor=True)),
        ("fc2", qnn.QuantLinear(hidden, hidden, bias=False, weight_bit_width=bits)),
        ("bn2", nn.BatchNorm1d(hidden)),
        # The last activation hands its scale on, so the bias can be an exact integer (Int32Bias).
        ("act2", qnn.QuantReLU(bit_width=bits, return_quant_tensor=True)),
        ("fc3", qnn.QuantLinear(hidden, classes, bias=True, weight_bit_width=bits, bias_quant=Int32Bias)),
    ]))


def float_mlp(hidden: int = 64, *, inputs: int = 64, classes: int = 10) -> nn.Sequential:
    """The float twin of :func:`quant_mlp` (same layers, no quantisers)."""
    return nn.Sequential(OrderedDict([
        ("fc1", nn.Linear(inputs, hidden, bias=False)), ("bn1", nn.BatchNorm1d(hidden)), ("act1", nn.ReLU()),
        ("fc2", nn.Linear(hidden, hidden, bias=False)), ("bn2", nn.BatchNorm1d(hidden)), ("act2", nn.ReLU()),
        ("fc3", nn.Linear(hidden, classes, bias=True)),
    ]))


def cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "bitwave"


def _cache_file(bits: int, hidden: int, seed: int) -> Path:
    h = hashlib.sha256()
    h.update(Path(__file__).read_bytes())
    h.update(inspect.getsource(train_classifier).encode())
    h.update(f"{bits} {hidden} {seed} {EPOCHS} {LR} {BATCH} torch={torch.__version__}".encode())
    return cache_dir() / f"digits-w{bits}a{bits}-h{hidden}-s{seed}-{h.hexdigest()[:16]}.pt"


def train_or_load(path: Path, models: dict[str, nn.Module], train: Callable[[], None]) -> None:
    """Load the models' weights from ``path``, or call ``train()`` and save them there.

    The file is written atomically, so parallel processes see all of it or none.
    Leaves the models in eval mode.
    """
    if path.is_file():
        state = torch.load(path, weights_only=True)
        for key, model in models.items():
            model.load_state_dict(state[key])
    else:
        train()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        torch.save({key: model.state_dict() for key, model in models.items()}, tmp)
        os.replace(tmp, path)
    for model in models.values():
        model.eval()


def digits(bits: int = 4, hidden: int = 64, seed: int = 0) -> ModelBundle:
    """The trained digits MLP at ``bits`` bits (weights and activations) with its data."""
    X, y, test = load_data()
    torch.manual_seed(seed)
    qmodel = quant_mlp(bits, hidden)
    torch.manual_seed(seed)
    fmodel = float_mlp(hidden)

    def train():
        for model in (qmodel, fmodel):
            train_classifier(model, X[~test], y[~test], epochs=EPOCHS, lr=LR, seed=seed, batch_size=BATCH)

    train_or_load(_cache_file(bits, hidden, seed), {"quant": qmodel, "float": fmodel}, train)
    return ModelBundle(qmodel, X, y, test, name=f"digits-w{bits}a{bits}-h{hidden}", float_model=fmodel)


def digits_2bit() -> ModelBundle:
    """The digits MLP with 2-bit weights (ternary, -1/0/+1) and 2-bit activations."""
    return digits(bits=2)


def main() -> None:
    for make in (digits, digits_2bit):
        t = time.perf_counter()
        b = make()
        took = time.perf_counter() - t
        X, y = b.held_out()
        print(f"{b.name}: held-out accuracy float {100 * accuracy(b.float_model, X, y):.2f} %, "
              f"quantised {100 * accuracy(b.model, X, y):.2f} % ({len(y)} samples; {took:.1f} s)")


if __name__ == "__main__":
    main()
