"""What a compiled graph costs in hardware: MACs, weight bits, estimated resources, cycles.

The compile report shows these per layer and in total, and, when the pipeline
splits layers (``svd-split``), the same numbers for the pipeline without the
split next to them, so the report says what the split buys.
"""

from __future__ import annotations

from .ir import Graph, MatVec
from .lower import Lowered, plan
from .passes import PassManager, SvdSplit

__all__ = ["hardware_costs", "split_comparison"]


def hardware_costs(graph: Graph, lowered: Lowered) -> dict:
    """MACs and weight bits (per MatVec in ``per_layer``, and in total), estimated resources
    and cycles per frame of a graph and its lowering."""
    per_layer = {op.name: {"macs": op.rows * op.cols, "weight_bits": op.rows * op.cols * op.wfmt.width}
                 for op in graph.ops if isinstance(op, MatVec)}
    return {"macs": sum(c["macs"] for c in per_layer.values()),
            "weight_bits": sum(c["weight_bits"] for c in per_layer.values()),
            "cycles_per_frame": lowered.cycles_per_frame, **lowered.resources.as_dict(),
            "per_layer": per_layer}


def split_comparison(graphs: list[Graph], passes: list, after: dict) -> dict | None:
    """Totals of the pipeline ``passes`` without its svd-split passes (``before``) next to
    ``after`` (the totals with them); None when the pipeline has no svd-split.

    ``graphs[i]`` is the graph ``passes[i]`` ran on (as the compile driver records
    them): the passes before the first split are not run again, only the ones
    after it, on the unsplit graph, and the result is planned, never built.
    """
    first = next((i for i, p in enumerate(passes) if isinstance(p, SvdSplit)), None)
    if first is None:
        return None
    rest = [p for p in passes[first:] if not isinstance(p, SvdSplit)]
    baseline = PassManager(rest).run(graphs[first])
    before = hardware_costs(baseline, plan(baseline))
    return {"before": {k: v for k, v in before.items() if k != "per_layer"},
            "after": {k: v for k, v in after.items() if k != "per_layer"}}
