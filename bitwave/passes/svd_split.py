"""``svd-split``: low-rank splitting of MatVec layers by SVD.

``W (m×n) ≈ A (m×r) · B (r×n)`` with ``A = U_r·diag(√s_r)`` and
``B = diag(√s_r)·V_rᵀ`` (the √s balance keeps both factors on similar scales
for quantisation).  The rank is the smallest with
``Σ_{i≤r} s_i² ≥ (1−energy)·Σ s_i²``, or ``rank`` when given.  A layer is split
only when it pays, ``r·(m+n) < kappa·m·n`` in weight bits; otherwise it is kept
and the pass says so.

The factors are requantised: B with one scale for the whole matrix (so the
intermediate vector has a per-tensor scale, as the next MatVec needs), A with
a per-row scale.  ``bits=1`` gives bipolar factors with mean-|·| scales.  The
intermediate format is B's exact accumulator (no rounding between the two
units), so the only approximations are the truncation and the factor
quantisation, both bounded and reported.
"""

from __future__ import annotations

import numpy as np

from ..errors import PassError
from ..ir import Bipolar, Conv, Graph, Int, MatVec, MultiThreshold, Requant, verify
from ._manager import Pass, note

__all__ = ["SvdSplit", "choose_rank", "quantise_matrix"]


def choose_rank(s: np.ndarray, energy: float) -> int:
    """Smallest r with Σ_{i≤r} s_i² ≥ (1−energy)·Σ s_i²."""
    e = np.cumsum(s.astype(np.float64) ** 2)
    if e[-1] == 0:
        return 1
    return int(np.searchsorted(e, (1.0 - energy) * e[-1] * (1 - 1e-12)) + 1)


def quantise_matrix(m: np.ndarray, bits: int, per_row: bool):
    """Symmetric quantisation → (integer codes, scale per row, format)."""
    if bits == 1:
        alpha = np.abs(m).mean(axis=1) if per_row else np.full(m.shape[0], np.abs(m).mean())
        alpha = np.where(alpha > 0, alpha, 1.0)
        return np.where(m >= 0, 1, -1), alpha, Bipolar()
    qmax = (1 << (bits - 1)) - 1
    peak = np.abs(m).max(axis=1) if per_row else np.full(m.shape[0], np.abs(m).max())
    scale = np.where(peak > 0, peak / qmax, 1.0)
    return np.clip(np.rint(m / scale[:, None]), -qmax, qmax).astype(np.int64), scale, Int(bits)


class SvdSplit(Pass, name="svd-split"):
    """Split MatVec layers into two low-rank factors where that saves weight bits."""
    energy: float | None = None
    rank: int | None = None
    bits: int | None = None          # factor bit-width; None = the layer's own weight width
    kappa: float = 0.8
    layers: tuple[str, ...] | None = None

    def __post_init__(self):
        if (self.energy is None) == (self.rank is None):
            raise PassError("svd-split: give exactly one of energy (e.g. 0.01) or rank")
        if self.energy is not None and not 0 <= self.energy < 1:
            raise PassError(f"svd-split: energy must be in [0, 1), not {self.energy}")
        if self.rank is not None and self.rank < 1:
            raise PassError(f"svd-split: rank must be >= 1, not {self.rank}")
        if self.bits is not None and not 1 <= self.bits <= 16:
            raise PassError(f"svd-split: bits must be in 1..16, not {self.bits}")

    def run(self, graph: Graph) -> Graph:
        types = verify(graph)
        if any(isinstance(op, (MultiThreshold, Requant)) for op in graph.ops):
            raise PassError("svd-split: run it before streamline (the graph already has thresholds)")
        mvs = [op.name for op in graph.ops if isinstance(op, MatVec)]
        if self.layers is not None and set(self.layers) - set(mvs):
            raise PassError(f"svd-split: no MatVec named {', '.join(sorted(set(self.layers) - set(mvs)))}; "
                            f"MatVec layers: {', '.join(mvs)}")
        mapping = {}
        for op in graph.ops:
            if not isinstance(op, MatVec) or (self.layers is not None and op.name not in self.layers):
                continue
            if op.bias is not None:
                note(self.name, f"{op.name}: kept (an integer bias is not split)")
                continue
            if getattr(op, "groups", 1) > 1:
                note(self.name, f"{op.name}: kept (a grouped convolution is not split)")
                continue
            split = self._split(op, types[op.input].scales[0])
            if split is not None:
                mapping[op.name] = split
        return graph.replace_ops(mapping)

    def _split(self, op: MatVec, in_scale: float):
        m, n = op.rows, op.cols
        w = op.weight.array * op.wscale.array[:, None]
        u, s, vt = np.linalg.svd(w, full_matrices=False)
        r = min(self.rank, len(s)) if self.rank is not None else choose_rank(s, self.energy)
        wbits = op.wfmt.width
        bits = self.bits or wbits
        before, after = m * n * wbits, r * (m + n) * bits
        if after >= self.kappa * before:
            note(self.name, f"{op.name}: kept, rank {r} would need {after} weight bits vs "
                            f"{before} (κ={self.kappa})")
            return None
        root = np.sqrt(s[:r])
        a = u[:, :r] * root
        b = root[:, None] * vt[:r]
        b_int, b_scale, b_fmt = quantise_matrix(b, bits, per_row=False)
        # The intermediate's real value is b_scale·in_scale·(B_int·x); fold b_scale into A.
        a_int, a_scale, a_fmt = quantise_matrix(a * b_scale[0], bits, per_row=True)
        approx = (a_int * a_scale[:, None]) @ b_int
        err = np.abs(approx - w).max() / max(np.abs(w).max(), 1e-30)
        kept = float(np.sum(s[:r] ** 2) / max(np.sum(s ** 2), 1e-300))
        note(self.name, f"{op.name}: {m}×{n} → rank {r} ({m}×{r} · {r}×{n}), energy kept {kept:.4f}, "
                        f"weight bits {before} → {after}, MACs {m * n} → {r * (m + n)}, "
                        f"max relative weight error {err:.3g}")
        # The first factor reads the same windows (a convolution keeps its kernel); the
        # second mixes the r channels of one position: a 1×1 convolution, or a MatVec.
        first = op.replace(name=f"{op.name}_v", weight=b_int, wfmt=b_fmt, wscale=1.0, acc=None,
                           pe=1, simd=1)
        second = MatVec(op.name, input=first.name, weight=a_int, wfmt=a_fmt, wscale=a_scale,
                        pe=1, simd=1, src=op.src)
        if isinstance(op, Conv):
            second = Conv(op.name, input=first.name, weight=a_int, wfmt=a_fmt, wscale=a_scale,
                          kernel=(1,) * len(op.kernel), src=op.src)
        return [first, second]
