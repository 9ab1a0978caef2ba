"""Lowering of a fully parallel dense layer onto :class:`~bitwave.hdl.UnrolledMatVec`.

A ``MatVec`` folded to ``pe = rows`` and ``simd = cols`` (``--target-cycles 1``
picks that for every layer) takes a whole vector per cycle either way; built
as a folded :class:`~bitwave.hdl.MatVecUnit` its weights would still sit in a
table and every product in a lane, whereas the unrolled unit makes them
constants of a shared adder graph.  Convolutions keep the folded unit behind
their window generator.
"""

from __future__ import annotations

from functools import partial

from ..hdl import Estimate, UnrolledMatVec, estimate_unrolled
from ..ir import CausalConv, Conv, MatVec

__all__ = ["is_unrolled", "lower_unrolled"]


def is_unrolled(op: MatVec) -> bool:
    """Whether ``op`` is a dense layer folded fully parallel."""
    return (not isinstance(op, (Conv, CausalConv)) and op.pe == op.rows
            and op.simd == op.cols)


def lower_unrolled(unit_kwargs: dict) -> tuple[partial, Estimate]:
    """The unit's constructor and estimate from the folded unit's parameters
    (the folding, pe = rows and simd = cols, is dropped)."""
    kwargs = {k: v for k, v in unit_kwargs.items() if k not in ("pe", "simd")}
    return partial(UnrolledMatVec, **kwargs), estimate_unrolled(**kwargs)
