"""``infer-bitwidths``: accumulator formats from exact bounds.

For every MatVec the accumulator is the narrowest signed integer holding
``bias + Σ w·x`` over every input the input format allows, widened if needed
so that the following MultiThreshold's thresholds are representable too; with
these widths overflow is impossible by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir import Graph, Int, MatVec, MultiThreshold, int_format_for, verify
from ._manager import Pass, register

__all__ = ["InferBitwidths", "accumulator_format"]


def accumulator_format(op: MatVec, in_fmt, thresholds: np.ndarray | None = None) -> Int:
    lo, hi = op.bounds(in_fmt)
    lo_v, hi_v = int(lo.min()), int(hi.max())
    if thresholds is not None and thresholds.size:
        lo_v, hi_v = min(lo_v, int(thresholds.min())), max(hi_v, int(thresholds.max()))
    fmt = int_format_for(lo_v, hi_v)
    return fmt if fmt.signed else Int(fmt.bits + 1, True)


@register
@dataclass(frozen=True)
class InferBitwidths(Pass):
    """Set every MatVec's accumulator to the exact-bound width."""
    name = "infer-bitwidths"

    def run(self, graph: Graph) -> Graph:
        types = verify(graph)
        ops = []
        for op in graph.ops:
            if isinstance(op, MatVec):
                users = graph.consumers(op.name)
                t = users[0].thresholds.array if users and isinstance(users[0], MultiThreshold) else None
                op = op.replace(acc=accumulator_format(op, types[op.input].fmt, t))
            ops.append(op)
        return Graph(tuple(ops))
