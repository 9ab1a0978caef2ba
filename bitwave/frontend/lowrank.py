"""SVD training (Yang et al. 2020, arXiv 2004.09031): train toward low rank, not only truncate.

    layers = svd_parametrize(model)                    # every (Quant)Linear as U·diag(s)·Vᵀ
    train_classifier(model, X, y, regulariser=lambda: svd_regulariser(layers))
    ranks = prune_energy(layers, energy=0.05)          # drop the weakest singular values
    train_classifier(model, X, y, epochs=10)           # fine-tune with the ranks fixed
    bake(model)                                        # plain QuantLinear layers again

Each linear layer's weight is re-parametrised (``torch.nn.utils.parametrize``)
as ``W = U·diag(s·mask)·Vᵀ`` with U (m×r), s (r), V (n×r) trained directly, so
a Brevitas ``QuantLinear`` keeps quantising W exactly as before (QAT in SVD
form).  The regulariser is

    λ_o·Σ_layers (‖UᵀU − I‖²_F + ‖VᵀV − I‖²_F)/r²  +  λ_s·Σ_layers ‖s‖₁/‖s‖₂

(orthogonality keeps U, V a true SVD; the Hoyer term makes s sparse, so the
energy concentrates in few singular values).  Energy pruning keeps, per layer,
the smallest r with Σ_{i≤r} s_i² ≥ (1−energy)·Σ s_i² (the rule of the
``svd-split`` pass).  :func:`bake` writes the low-rank W back into the layer's
ordinary weight, so the model exports and compiles like any other;
``svd-split{energy=…}`` then finds the low rank again and splits the layer
into two chained matrix-vector units (truncating and requantising a second
time).  :func:`factorise` instead exports the trained factors themselves:

    factorise(model, inputs=X)                         # fc → fc.v (n→r), fc.q, fc.u (r→m)
    train_classifier(model, X, y, epochs=5)            # short QAT fine-tune of the factors

Each pruned layer becomes two Brevitas ``QuantLinear`` layers with a quantised
intermediate (``QuantIdentity``), so the compiler sees two MatVec units of r
rows and r columns with no second truncation.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn
from torch.nn.utils import parametrize

from ..errors import FrontendError

__all__ = ["LowRank", "svd_parametrize", "svd_regulariser", "prune_energy", "bake", "energy_rank", "factorise"]


def energy_rank(s: torch.Tensor, energy: float) -> int:
    """Smallest r with Σ_{i≤r} s_i² ≥ (1−energy)·Σ s_i² for s sorted by decreasing magnitude."""
    e = torch.cumsum(s.detach().double() ** 2, 0)
    if float(e[-1]) == 0:
        return 1
    return int(torch.searchsorted(e, (1.0 - energy) * e[-1] * (1 - 1e-12)).item()) + 1


class LowRank(nn.Module):
    """The parametrisation ``W = U·diag(s·mask)·Vᵀ`` of one layer's weight."""

    def __init__(self, weight: torch.Tensor):
        super().__init__()
        u, s, vt = torch.linalg.svd(weight.detach().float(), full_matrices=False)
        self.U = nn.Parameter(u.contiguous())
        self.s = nn.Parameter(s.contiguous())
        self.V = nn.Parameter(vt.T.contiguous())
        self.register_buffer("mask", torch.ones_like(s))

    def forward(self, original: torch.Tensor) -> torch.Tensor:
        w = (self.U * (self.s * self.mask)) @ self.V.T
        # Brevitas computes its weight scale from the stored tensor, not from what
        # forward returns: keep the stored tensor equal to W.
        with torch.no_grad():
            original.copy_(w)
        return w

    @property
    def rank(self) -> int:
        return int(self.mask.sum().item())

    def orthogonality(self) -> torch.Tensor:
        r = self.s.shape[0]
        eye = torch.eye(r, dtype=self.U.dtype)
        return (((self.U.T @ self.U - eye) ** 2).sum() + ((self.V.T @ self.V - eye) ** 2).sum()) / r ** 2

    def hoyer(self) -> torch.Tensor:
        s = self.s * self.mask
        return s.abs().sum() / s.norm().clamp_min(1e-12)

    def prune(self, energy: float) -> int:
        """Keep the singular values that hold all but ``energy`` of the energy; returns the rank."""
        with torch.no_grad():
            order = torch.argsort((self.s * self.mask).abs(), descending=True)
            r = energy_rank((self.s * self.mask)[order], energy)
            self.mask.zero_()
            self.mask[order[:r]] = 1.0
        return r


def _linears(model: nn.Module) -> list[tuple[str, nn.Linear]]:
    return [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Linear)]


def _choose(found: dict, layers, fn: str, kind: str, empty: str) -> list[str]:
    """The names of ``layers`` (all of ``found`` when None), each checked to be in ``found``."""
    if not found:
        raise FrontendError(f"{fn}: the model has no {empty}")
    chosen = list(found) if layers is None else list(layers)
    unknown = [n for n in chosen if n not in found]
    if unknown:
        raise FrontendError(f"{fn}: no {kind} layer named {', '.join(unknown)}; "
                            f"{kind} layers: {', '.join(found)}")
    return chosen


def svd_parametrize(model: nn.Module, layers: tuple[str, ...] | None = None) -> dict[str, LowRank]:
    """Re-parametrise the weights of ``model``'s linear layers (``nn.Linear`` and Brevitas
    ``QuantLinear``; ``layers`` names a subset) in SVD form, in place; returns them by name."""
    found = dict(_linears(model))
    chosen = _choose(found, layers, "svd_parametrize", "linear", "linear layer")
    out = {}
    for name in chosen:
        layer = found[name]
        if parametrize.is_parametrized(layer, "weight"):
            raise FrontendError(f"svd_parametrize: layer {name} is already parametrised")
        low = LowRank(layer.weight)
        parametrize.register_parametrization(layer, "weight", low, unsafe=True)
        layer.parametrizations.weight.original.requires_grad_(False)
        out[name] = low
    return out


def svd_regulariser(layers: dict[str, LowRank], *, ortho: float = 0.1, sparsity: float = 0.01) -> torch.Tensor:
    """λ_o·Σ orthogonality + λ_s·Σ Hoyer(s) over ``layers`` (add it to the task loss)."""
    total = torch.zeros(())
    for low in layers.values():
        total = total + ortho * low.orthogonality() + sparsity * low.hoyer()
    return total


def prune_energy(layers: dict[str, LowRank], energy: float) -> dict[str, int]:
    """Energy-prune every layer (see :meth:`LowRank.prune`); returns the rank per layer."""
    if not 0 <= energy < 1:
        raise FrontendError(f"prune_energy: energy must be in [0, 1), not {energy}")
    return {name: low.prune(energy) for name, low in layers.items()}


def bake(model: nn.Module) -> nn.Module:
    """Write each SVD-parametrised weight back as the layer's ordinary weight, in place."""
    for _, layer in _linears(model):
        if parametrize.is_parametrized(layer, "weight"):
            parametrize.remove_parametrizations(layer, "weight", leave_parametrized=True)
            layer.weight.requires_grad_(True)
    return model


def _weight_bits(layer: nn.Module) -> int:
    return int(layer.quant_weight().bit_width)


def _parent(model: nn.Module, name: str) -> tuple[nn.Module, str]:
    *path, leaf = name.split(".")
    parent = model
    for part in path:
        parent = getattr(parent, part)
    return parent, leaf


def factorise(model: nn.Module, inputs=None, *, bits: int | None = None, act_bits: int = 8,
              kappa: float = 0.8, layers: tuple[str, ...] | None = None) -> dict[str, int]:
    """Replace each SVD-parametrised ``QuantLinear`` by its trained factors, in place; returns the ranks.

    A layer ``fc`` (m×n) of rank r (its :class:`LowRank` mask) becomes
    ``fc = Sequential(v, q, u)``: ``v`` a ``QuantLinear`` n→r without bias
    holding diag(√s)·Vᵀ, ``q`` a signed ``act_bits``-bit ``QuantIdentity``
    (``return_quant_tensor``, so the export carries a quantised intermediate),
    ``u`` a ``QuantLinear`` r→m holding U·diag(√s) with the layer's bias and
    bias quantiser.  Both factors are quantised at ``bits`` (default: the
    layer's own weight width).  The intermediate's scale starts at the largest
    |v·x| over ``inputs`` (a calibration batch; without it, at the bound
    ‖diag(√s)·Vᵀ‖_∞ times the largest input the layer can see, taken as 1) and
    is trained by the fine-tune that should follow (QAT: the factors learn
    their own quantisation).  Only layers where it pays, r·(m+n) < κ·m·n
    (the ``svd-split`` rule), are factorised; the others (and ``layers`` not
    chosen) are baked like :func:`bake`.  The model is left in eval mode.
    """
    import brevitas.nn as qnn
    from brevitas.inject.enum import ScalingImplType

    if not 2 <= act_bits <= 16 or (bits is not None and not 2 <= bits <= 16):
        raise FrontendError(f"factorise: bits and act_bits must be in 2..16, not {bits}, {act_bits}")
    found = {name: layer for name, layer in _linears(model) if parametrize.is_parametrized(layer, "weight")}
    chosen = _choose(found, layers, "factorise", "SVD-parametrised",
                     "SVD-parametrised layer; call svd_parametrize first")
    for name, layer in found.items():
        if not isinstance(layer, qnn.QuantLinear):
            raise FrontendError(f"factorise: layer {name} is a {type(layer).__name__}; only Brevitas "
                                "QuantLinear layers can be exported as quantised factors")
    # The input each chosen layer sees, for the intermediate's scale.
    peaks: dict[str, float] = {}
    if inputs is not None:
        hooks = []

        def record(name):
            def hook(module, args, output):
                x = args[0]
                x = x.value if hasattr(x, "value") else x
                low = module.parametrizations.weight[0]
                idx = low.mask.nonzero().flatten()
                v = (low.V[:, idx] * low.s[idx].abs().sqrt()).T
                peaks[name] = float((x.detach().float() @ v.detach().T).abs().max())
            return hook
        for name in chosen:
            hooks.append(found[name].register_forward_hook(record(name)))
        was = model.training
        model.eval()
        with torch.no_grad():
            model(torch.as_tensor(inputs, dtype=torch.float32))
        model.train(was)
        for h in hooks:
            h.remove()
    ranks = {}
    for name in chosen:
        layer = found[name]
        low = layer.parametrizations.weight[0]
        m, n = layer.out_features, layer.in_features
        r = low.rank
        if r * (m + n) >= kappa * m * n:
            continue
        with torch.no_grad():
            idx = torch.argsort((low.s * low.mask).abs(), descending=True)[:r]
            root = low.s[idx].abs().sqrt()
            sign = torch.sign(low.s[idx])
            v = (low.V[:, idx] * root).T.contiguous()                   # r×n
            u = (low.U[:, idx] * (root * torch.where(sign == 0, torch.ones_like(sign), sign))).contiguous()
        wbits = bits or _weight_bits(layer)
        first = qnn.QuantLinear(n, r, bias=False, weight_bit_width=wbits)
        peak = peaks.get(name) or float(v.abs().sum(1).max())
        mid = qnn.QuantIdentity(bit_width=act_bits, return_quant_tensor=True,
                                scaling_impl_type=ScalingImplType.PARAMETER, scaling_init=max(peak, 1e-6))
        has_bias = layer.bias is not None
        second_kwargs = {"bias_quant": layer.bias_quant.quant_injector} if has_bias else {}
        second = qnn.QuantLinear(r, m, bias=has_bias, weight_bit_width=wbits, **second_kwargs)
        with torch.no_grad():
            first.weight.copy_(v)
            second.weight.copy_(u)
            if has_bias:
                second.bias.copy_(layer.bias)
        parent, leaf = _parent(model, name)
        setattr(parent, leaf, nn.Sequential(OrderedDict([("v", first), ("q", mid), ("u", second)])))
        ranks[name] = r
    bake(model)
    model.eval()
    return ranks
