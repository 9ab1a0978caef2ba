"""1-bit QAT: turn a plain PyTorch MLP into a binarised Brevitas model with one call.

    model = binarize(nn.Sequential(nn.Linear(64, 256), nn.BatchNorm1d(256), nn.ReLU(),
                                   nn.Linear(256, 10)))

What changes (BNN practice: Courbariaux/Hubara 2016, Brevitas' bnn_pynq):

- an 8-bit input quantiser goes in front (the first layer's input stays 8-bit);
- every ``nn.Linear`` becomes a ``QuantLinear`` with bipolar weights
  (:class:`BinaryWeight`: forward ``sign(w)``, latent weights clipped in place
  to [-1, 1] on every training forward, straight-through gradient, which
  the clipping keeps inside the |w| <= 1 gate); its weights and bias are copied, so a trained float model can be
  binarised and fine-tuned;
- the activation after each hidden layer (ReLU, Hardtanh, Tanh, …) becomes a
  sign (:class:`BinaryAct`, gradient gated by |x| <= 1);
- the last layer keeps no sign: its integer popcount output goes out, and a
  ``BatchNorm1d`` is appended when the model has none there, giving the
  learnable per-class scale cross-entropy needs (it folds into an integer bias
  and the output scale when compiling).

The result imports through :func:`bitwave.frontend.import_model` and compiles
to XNOR-popcount units; batch-norm + sign of the hidden layers fold into one
integer threshold per output (``streamline``).
"""

from __future__ import annotations

import copy
from collections import OrderedDict

import torch
from torch import nn

from ..errors import FrontendError

__all__ = ["binarize", "BinaryWeight", "BinaryAct", "ACTIVATIONS"]

#: Activation modules that :func:`binarize` replaces by a sign.
ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.Hardtanh, nn.Tanh, nn.Sigmoid, nn.LeakyReLU, nn.GELU, nn.SiLU,
               nn.ELU, nn.Softsign)
_KEPT = (nn.BatchNorm1d, nn.Dropout, nn.Flatten, nn.Identity)


def _quantisers():
    from brevitas.quant import SignedBinaryActPerTensorConst, SignedBinaryWeightPerTensorConst

    class BinaryWeight(SignedBinaryWeightPerTensorConst):
        """Bipolar weights ±1 (scale 1); the in-place clamp keeps latent weights in [-1, 1]."""
        scaling_const = 1.0

    class BinaryAct(SignedBinaryActPerTensorConst):
        """Sign activation ±1 (scale 1), gradient passed where |x| <= 1."""

    return BinaryWeight, BinaryAct


def __getattr__(name):   # the quantiser classes need Brevitas, imported on first use only
    if name in ("BinaryWeight", "BinaryAct"):
        return dict(zip(("BinaryWeight", "BinaryAct"), _quantisers()))[name]
    raise AttributeError(name)


def _items(model: nn.Module) -> list[tuple[str, nn.Module]]:
    if not isinstance(model, nn.Sequential):
        raise FrontendError(f"binarize: expected an nn.Sequential of Linear, BatchNorm1d and activation "
                            f"layers, not {type(model).__name__}")
    items = []
    for name, mod in model.named_children():
        if isinstance(mod, nn.Sequential):
            items += [(f"{name}.{n}", m) for n, m in _items(mod)]
        else:
            items.append((name, mod))
    return items


def _identifier(path: str) -> str:
    """A module name for the new model (``0.1`` → ``layer0_1``), so IR ops get readable names."""
    name = path.replace(".", "_")
    return f"layer{name}" if name[0].isdigit() else name


def binarize(model: nn.Sequential, *, input_bits: int = 8, output_norm: bool = True) -> nn.Sequential:
    """A binarised (W1A1) Brevitas copy of ``model`` for QAT; ``model`` is not modified.

    ``model`` is an ``nn.Sequential`` (nested ones are flattened) of
    ``nn.Linear``, ``nn.BatchNorm1d``, activations (:data:`ACTIVATIONS`),
    ``Dropout``, ``Flatten`` and ``Identity``.  Every hidden ``Linear`` must be
    followed (after an optional batch-norm) by an activation, which becomes the
    sign; the last ``Linear`` must have none.  ``input_bits`` is the width of
    the input quantiser; ``output_norm`` appends a ``BatchNorm1d`` after the
    last layer if there is none (see the module docstring).
    """
    import brevitas.nn as qnn

    if not isinstance(input_bits, int) or isinstance(input_bits, bool) or not 2 <= input_bits <= 16:
        raise FrontendError(f"binarize: input_bits must be an integer in 2..16, not {input_bits!r}")
    BinaryWeight, BinaryAct = _quantisers()
    items = _items(model)
    linear_at = [i for i, (_, m) in enumerate(items) if isinstance(m, nn.Linear)]
    if not linear_at:
        raise FrontendError("binarize: the model has no nn.Linear layer")
    for name, mod in items:
        if not isinstance(mod, (nn.Linear, *ACTIVATIONS, *_KEPT)):
            raise FrontendError(f"binarize: layer {name} ({type(mod).__name__}) is not supported; "
                                "use nn.Linear, nn.BatchNorm1d, an activation "
                                f"({', '.join(a.__name__ for a in ACTIVATIONS)}), Dropout, Flatten or Identity")
    last = linear_at[-1]
    out: list[tuple[str, nn.Module]] = [("quant_in", qnn.QuantIdentity(bit_width=input_bits,
                                                                      return_quant_tensor=True))]
    for i, (name, mod) in enumerate(items):
        if isinstance(mod, nn.Linear):
            if i != last:
                after = [m for _, m in items[i + 1:linear_at[linear_at.index(i) + 1]]]
                if not any(isinstance(m, ACTIVATIONS) for m in after):
                    raise FrontendError(f"binarize: hidden layer {name} (Linear) has no activation after it; "
                                        "add one (e.g. nn.ReLU()): it becomes the sign that makes the "
                                        "next layer's input 1-bit")
            q = qnn.QuantLinear(mod.in_features, mod.out_features, bias=mod.bias is not None,
                                weight_quant=BinaryWeight)
            with torch.no_grad():
                q.weight.copy_(mod.weight.clamp(-1.0, 1.0))
                if mod.bias is not None:
                    q.bias.copy_(mod.bias)
            out.append((_identifier(name), q))
        elif isinstance(mod, ACTIVATIONS):
            if i > last:
                raise FrontendError(f"binarize: layer {name} ({type(mod).__name__}) follows the last Linear; "
                                    "the output layer keeps no activation (its integer output goes out)")
            out.append((_identifier(name), qnn.QuantIdentity(act_quant=BinaryAct, return_quant_tensor=True)))
        else:
            out.append((_identifier(name), copy.deepcopy(mod)))
    if output_norm and not any(isinstance(m, nn.BatchNorm1d) for _, m in items[last + 1:]):
        out.append(("out_norm", nn.BatchNorm1d(items[last][1].out_features)))
    return nn.Sequential(OrderedDict(out))
