"""Digits, trained toward low rank: the 4-bit 64-256-256-10 MLP of examples/digits.py in SVD form.

    bitwave compile examples/digits_lowrank.py:digits_lowrank -o build/lr -p 'svd-split{energy=0.05}'
    bitwave compile examples/digits_lowrank.py:digits_lowrank_factors -o build/lf    # no svd-split
    bitwave verify build/lr

Training (Yang et al. 2020; :mod:`bitwave.frontend.lowrank`): every QuantLinear's
weight is trained as U·diag(s)·Vᵀ with the orthogonality and Hoyer regularisers
(``EPOCHS``), then energy-pruned at ``energy`` and fine-tuned with the ranks
fixed (``FINETUNE_EPOCHS``), then baked back into ordinary 4-bit QuantLinear
weights, so the model compiles like any other and ``svd-split`` finds the low
rank.  :func:`digits_lowrank_factors` instead exports the trained factors
(``lowrank.factorise``: fc1 and fc2 each become two 4-bit QuantLinear layers,
n→r and r→m, with an 8-bit quantised intermediate) and fine-tunes them under
their own quantisers (``FACTOR_EPOCHS``), so the compiler sees the trained
rank with no second truncation.  Data, split, float twin and weight cache are
those of ``examples/digits.py``.
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
FACTOR_EPOCHS = 5  # QAT fine-tune of the exported factors
ACT_BITS = 8       # the intermediate between the two factors
FACTOR_LAYERS = ("fc1", "fc2")   # fc3 has an integer bias, which svd-split does not split either


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


def _pruned(energy: float, seed: int):
    """The SVD-form model (not baked), trained, energy-pruned at ``energy`` and fine-tuned (cached)."""
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
    return pruned


def digits_lowrank(energy: float = 0.05, seed: int = 0) -> ModelBundle:
    """The SVD-trained digits MLP, energy-pruned at ``energy`` and fine-tuned, baked (cached)."""
    X, y, test = load_data()
    pruned = lowrank.bake(_pruned(energy, seed))
    pruned.eval()
    # The float twin is the plain digits MLP's (same layers, trained without quantisers).
    return ModelBundle(pruned, X, y, test, name=f"digits-w{BITS}a{BITS}-h{HIDDEN}-svd-e{energy:g}",
                       float_model=digits(BITS, HIDDEN, seed).float_model)


def digits_lowrank_factors(energy: float = 0.05, seed: int = 0, act_bits: int = ACT_BITS) -> ModelBundle:
    """The SVD-trained digits MLP with fc1 and fc2 exported as their trained 4-bit factors (cached).

    ``lowrank.factorise`` at the pruned ranks (where r·(m+n) < 0.8·m·n) with an
    ``act_bits``-bit intermediate, then ``FACTOR_EPOCHS`` of QAT fine-tuning.
    """
    X, y, test = load_data()
    Xt, yt = X[~test], y[~test]
    model = _pruned(energy, seed)
    ranks = lowrank.factorise(model, Xt, bits=BITS, act_bits=act_bits, layers=FACTOR_LAYERS)

    def finetune():
        train_classifier(model, Xt, yt, epochs=FACTOR_EPOCHS, lr=LR / 3, seed=seed, batch_size=BATCH)

    # The ranks fix the architecture; the key covers them and every hyper-parameter of the export.
    tag = "-".join(f"{k}r{v}" for k, v in ranks.items())
    path = cache_dir() / (f"digits-svd-h{HIDDEN}-s{seed}-e{energy:g}-factors-{tag}-i{act_bits}-"
                          f"{_key(seed, energy, FACTOR_EPOCHS, act_bits, FACTOR_LAYERS, ranks)}.pt")
    train_or_load(path, {"factors": model}, finetune)
    return ModelBundle(model, X, y, test, name=f"digits-w{BITS}a{BITS}-h{HIDDEN}-svd-e{energy:g}-factors-i{act_bits}",
                       float_model=digits(BITS, HIDDEN, seed).float_model)


if __name__ == "__main__":
    from bitwave.frontend import accuracy
    for e in (0.2, 0.1, 0.05, 0.02):
        for b in (digits_lowrank(e), digits_lowrank_factors(e)):
            Xh, yh = b.held_out()
            print(f"{b.name}: held-out accuracy {100 * accuracy(b.model, Xh, yh):.2f} %")
