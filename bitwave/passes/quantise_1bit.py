"""``quantise-1bit``: post-training binarisation of MatVec layers.

For users who bring a model trained without 1-bit QAT.  Each selected
layer's real weights ``W = diag(wscale)·W_int`` become ``sign(W)`` (Bipolar,
+1 at zero) with the per-row scale ``α_r = mean_c |W_rc|`` (XNOR-Net), so the
layer's real output keeps its magnitude and the following batch-norm/threshold
absorbs α when streamlining.  A binarised layer whose output feeds another
MatVec directly (the first factor ``<name>_v`` of ``svd-split``, which has no
activation in between) gets one α for the whole matrix instead, because a
MatVec needs a per-tensor input scale.  With ``activations=True`` the activation after a
binarised layer becomes a sign (Bipolar), giving XNOR-popcount layers
downstream.  By default the first and last layers are kept (their input and
output stay multi-bit, as BNN practice recommends).  The accuracy this costs
is what the compile report's per-pass accuracy shows.
"""

from __future__ import annotations

import numpy as np

from ..errors import PassError
from ..ir import Bipolar, Graph, MatVec, MultiThreshold, Quant, Requant, verify
from ._manager import Pass, note

__all__ = ["Quantise1Bit"]


class Quantise1Bit(Pass, name="quantise-1bit"):
    """Binarise MatVec weights (and optionally the activations after them)."""
    layers: tuple[str, ...] | None = None      # names of MatVec ops; None = all but first and last
    activations: bool = False
    keep_first: bool = True
    keep_last: bool = True

    def run(self, graph: Graph) -> Graph:
        verify(graph)
        mvs = [op for op in graph.ops if isinstance(op, MatVec)]
        if any(isinstance(op, (MultiThreshold, Requant)) for op in graph.ops):
            raise PassError("quantise-1bit: the graph is already streamlined (it has thresholds); "
                            "run quantise-1bit before streamline")
        if self.layers is not None:
            unknown = set(self.layers) - {op.name for op in mvs}
            if unknown:
                raise PassError(f"quantise-1bit: no MatVec named {', '.join(sorted(unknown))}; "
                                f"MatVec layers: {', '.join(op.name for op in mvs)}")
            chosen = set(self.layers)
        else:
            chosen = {op.name for op in mvs}
            if self.keep_first and mvs:
                chosen.discard(mvs[0].name)
            if self.keep_last and mvs:
                chosen.discard(mvs[-1].name)
        if not chosen:
            note(self.name, "no layer selected (first and last are kept); nothing binarised")
            return graph
        feeds_matvec = {op.input for op in graph.ops if isinstance(op, MatVec)}
        ops = []
        pending_act = False
        for op in graph.ops:
            if isinstance(op, MatVec) and op.name in chosen:
                w = op.weight.array * op.wscale.array[:, None]
                per_tensor = op.name in feeds_matvec
                alpha = np.full(op.rows, np.abs(w).mean()) if per_tensor else np.abs(w).mean(axis=1)
                alpha = np.where(alpha > 0, alpha, 1.0)
                bias = None
                if op.bias is not None:   # integer bias is in accumulator units, which change with α
                    bias = np.rint(op.bias.array * op.wscale.array / alpha).astype(np.int64)
                    note(self.name, f"{op.name}: integer bias rescaled to the new weight scale (rounded)")
                ops.append(op.replace(weight=np.where(w >= 0, 1, -1), wfmt=Bipolar(), wscale=alpha,
                                      bias=bias, acc=None))
                scale_text = (f"one α = {alpha[0]:.3g} (it feeds a MatVec directly)" if per_tensor
                              else f"per-row α in [{alpha.min():.3g}, {alpha.max():.3g}]")
                note(self.name, f"{op.name}: {op.rows}×{op.cols} weights binarised (was {op.wfmt}); "
                                f"{scale_text}")
                pending_act = self.activations
                continue
            if pending_act and isinstance(op, Quant):
                ops.append(op.replace(fmt=Bipolar(), scale=1.0))
                note(self.name, f"{op.name}: activation {op.fmt} → sign (bipolar)")
                pending_act = False
                continue
            if isinstance(op, MatVec):
                pending_act = False
            ops.append(op)
        return Graph(tuple(ops))
