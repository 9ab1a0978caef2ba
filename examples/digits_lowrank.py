"""Digits, trained toward low rank: the 4-bit 64-256-256-10 MLP of examples/digits.py in SVD form.

    bitwave compile examples/digits_lowrank.py:digits_lowrank -o build/lr -p 'svd-split{energy=0.05}'
    bitwave verify build/lr

Training (Yang et al. 2020; :mod:`bitwave.frontend.lowrank`): every QuantLinear's
weight is trained as U·diag(s)·Vᵀ with the orthogonality and Hoyer regularisers
(``EPOCHS``), then energy-pruned at ``energy`` and fine-tuned with the ranks
fixed (``FINETUNE_EPOCHS``), then baked back into ordinary 4-bit QuantLinear
weights, so the model compiles like any other and ``svd-split`` finds the low
rank.  Data, split, float twin and weight cache are those of
``examples/digits.py``.
"""

from __future__ import annotations

import hashlib
import inspect
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from digits import BATCH, LR, cache_dir, digits, load_data, quant_mlp, train_or_load  # noqa: E402

from bitwave.frontend import ModelBundle, train_classifier  # noqa: E402
from bitwave.frontend import lowrank  # noqa: E402

HIDDEN = 256
BITS = 4
EPOCHS = 30
FINETUNE_EPOCHS = 10
ORTHO = 0.1        # λ_o
SPARSITY = 0.1     # λ_s (Hoyer)


def _key(*parts) -> str:
    h = hashlib.sha256()
    for source in (Path(__file__).read_bytes(), Path(sys.modules["digits"].__file__).read_bytes(),
                   inspect.getsource(train_classifier).encode(), inspect.getsource(lowrank).encode()):
        h.update(source)
    h.update(" ".join(map(str, (*parts, EPOCHS, FINETUNE_EPOCHS, ORTHO, SPARSITY, LR, BATCH,
                                torch.__version__))).encode())
    return h.hexdigest()[:16]


def _svd_model(seed: int):
    torch.manual_seed(seed)
    model = quant_mlp(BITS, HIDDEN)
    return model, lowrank.svd_parametrize(model)


def digits_lowrank(energy: float = 0.05, seed: int = 0) -> ModelBundle:
    """The SVD-trained digits MLP, energy-pruned at ``energy`` and fine-tuned (cached)."""
    X, y, test = load_data()
    Xt, yt = X[~test], y[~test]
    model, layers = _svd_model(seed)

    def train():
        train_classifier(model, Xt, yt, epochs=EPOCHS, lr=LR, seed=seed, batch_size=BATCH,
                         regulariser=lambda: lowrank.svd_regulariser(layers, ortho=ORTHO, sparsity=SPARSITY))

    path = cache_dir() / f"digits-svd-h{HIDDEN}-s{seed}-{_key(seed)}.pt"
    train_or_load(path, {"svd": model}, train)

    pruned, pruned_layers = _svd_model(seed)

    def finetune():
        pruned.load_state_dict(model.state_dict())
        lowrank.prune_energy(pruned_layers, energy)
        train_classifier(pruned, Xt, yt, epochs=FINETUNE_EPOCHS, lr=LR / 3, seed=seed, batch_size=BATCH)

    path = cache_dir() / f"digits-svd-h{HIDDEN}-s{seed}-e{energy:g}-{_key(seed, energy)}.pt"
    train_or_load(path, {"svd": pruned}, finetune)
    lowrank.bake(pruned)
    pruned.eval()
    # The float twin is the plain digits MLP's (same layers, trained without quantisers).
    return ModelBundle(pruned, X, y, test, name=f"digits-w{BITS}a{BITS}-h{HIDDEN}-svd-e{energy:g}",
                       float_model=digits(BITS, HIDDEN, seed).float_model)


if __name__ == "__main__":
    from bitwave.frontend import accuracy
    for e in (0.2, 0.1, 0.05, 0.02):
        b = digits_lowrank(e)
        Xh, yh = b.held_out()
        print(f"{b.name}: held-out accuracy {100 * accuracy(b.model, Xh, yh):.2f} %")
