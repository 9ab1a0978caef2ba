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
into two chained matrix-vector units.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrize

from ..errors import FrontendError

__all__ = ["LowRank", "svd_parametrize", "svd_regulariser", "prune_energy", "bake", "energy_rank"]


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


def svd_parametrize(model: nn.Module, layers: tuple[str, ...] | None = None) -> dict[str, LowRank]:
    """Re-parametrise the weights of ``model``'s linear layers (``nn.Linear`` and Brevitas
    ``QuantLinear``; ``layers`` names a subset) in SVD form, in place; returns them by name."""
    found = dict(_linears(model))
    if not found:
        raise FrontendError("svd_parametrize: the model has no linear layer")
    chosen = list(found) if layers is None else list(layers)
    unknown = [n for n in chosen if n not in found]
    if unknown:
        raise FrontendError(f"svd_parametrize: no linear layer named {', '.join(unknown)}; "
                            f"linear layers: {', '.join(found)}")
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
