"""``infer-bitwidths``: accumulator formats from exact bounds.

For every MatVec the accumulator is the narrowest signed integer holding
``bias + Σ w·x`` over every input the input format allows, widened if needed
so that the following MultiThreshold's thresholds are representable too; with
these widths overflow is impossible by construction.
"""

from __future__ import annotations

from ..ir import Graph, MatVec, MultiThreshold, verify
from ._manager import Pass

__all__ = ["InferBitwidths"]


class InferBitwidths(Pass, name="infer-bitwidths"):
    """Set every MatVec's accumulator to the exact-bound width."""

    def run(self, graph: Graph) -> Graph:
        types = verify(graph)
        ops = []
        for op in graph.ops:
            if isinstance(op, MatVec):
                users = graph.consumers(op.name)
                t = users[0].thresholds.array if users and isinstance(users[0], MultiThreshold) else None
                op = op.replace(acc=op.acc_format(types[op.input].fmt, t))
            ops.append(op)
        return Graph(tuple(ops))
