"""What a compiled graph costs in hardware: MACs, weight bits, estimated resources, cycles.

The compile report shows these per layer and in total, and, when the pipeline
splits layers (``svd-split``), the same numbers for the pipeline without the
split next to them, so the report says what the split buys.
"""

from __future__ import annotations

from .ir import Graph, MatVec
from .passes import PassManager
from .lower import Lowered, lower
from .passes.svd_split import SvdSplit

__all__ = ["hardware_costs", "split_comparison"]


def hardware_costs(graph: Graph, lowered: Lowered) -> dict:
    """MACs and weight bits (per MatVec in ``per_layer``, and in total), estimated resources
    and cycles per frame of a graph and its lowering."""
    per_layer = {op.name: {"macs": op.rows * op.cols, "weight_bits": op.rows * op.cols * op.wfmt.width}
                 for op in graph.ops if isinstance(op, MatVec)}
    return {"macs": sum(c["macs"] for c in per_layer.values()),
            "weight_bits": sum(c["weight_bits"] for c in per_layer.values()),
            "cycles_per_frame": lowered.cycles_per_frame, **lowered.resources.as_dict(), "per_layer": per_layer}


def split_comparison(graph: Graph, passes: list, after: dict) -> dict | None:
    """Totals of the pipeline ``passes`` without its svd-split passes (``before``) next to
    ``after`` (the totals with them); None when the pipeline has no svd-split."""
    if not any(isinstance(p, SvdSplit) for p in passes):
        return None
    baseline = PassManager([p for p in passes if not isinstance(p, SvdSplit)]).run(graph)
    lowered = lower(baseline)
    for unit in (lowered.top, *lowered.top.stages):
        unit._MustUse__silence = True   # lowered for its numbers only, never elaborated
    before = hardware_costs(baseline, lowered)
    return {"before": {k: v for k, v in before.items() if k != "per_layer"},
            "after": {k: v for k, v in after.items() if k != "per_layer"}}
