"""The default pipeline: what every compile runs after the user's own passes."""

from __future__ import annotations

from ..ir import Graph, Wdf
from ._manager import Pass, parse_pipeline
from .fold import Fold
from .quantise_wdf import QuantiseWdf

__all__ = ["DEFAULT_PIPELINE", "default_passes"]

#: Pass names, in order: fold integer-only arithmetic, size accumulators, choose parallelism.
DEFAULT_PIPELINE = ("streamline", "infer-bitwidths", "fold")


def default_passes(graph: Graph | None = None, fold: Fold | None = None) -> list[Pass]:
    """The default passes for ``graph``: ``quantise-wdf`` first when it holds a Wdf op, then
    :data:`DEFAULT_PIPELINE` with ``fold`` (default options when None) as its last pass."""
    passes = parse_pipeline(",".join(DEFAULT_PIPELINE[:-1]))
    if graph is not None and any(isinstance(op, Wdf) for op in graph.ops):
        passes.insert(0, QuantiseWdf())
    return [*passes, fold if fold is not None else Fold()]
