"""Lowering of a branch block: an op read twice (the fork), two paths, one join (``Add``:
a residual block; ``Concat``: the channels of both paths).

The block becomes one :class:`~bitwave.hdl.Residual` stage: the fork's stream
goes to both paths, the shorter one (the skip, often no op at all) ends in a
FIFO deep enough for the beats the longer one takes in before its first result,
and the adder (or the concatenation) joins them.  Each path is lowered like any chain, so a path may
hold convolutions, thresholds, pooling; a block inside a path (a nested
residual) is refused for now.
"""

from __future__ import annotations

from ..build_folder import Layer
from ..errors import PassError
from ..hdl import Residual, estimate_residual
from ..ir import Concat, Graph, Input, Join, Op
from ._spatial import element_format

__all__ = ["lower_residual", "fifo_depth"]


def _path(graph: Graph, name: str, fork: str) -> list[Op] | None:
    """The ops from (not including) ``fork`` to ``name``, each the only reader of the one
    before it; None when the walk back meets another fork, a join or the input first."""
    path = []
    while name != fork:
        op = graph[name]
        if isinstance(op, (Join, Input)) or len(graph.consumers(op.name)) != 1:
            return None
        path.append(op)
        name = op.input
    return path[::-1]


def fifo_depth(types: dict, fork: Op) -> int:
    """Beats the skip FIFO holds: a whole frame of the fork's output, and some to spare.

    The longer path takes in beats before it gives its first result (a 3×3
    window waits for two rows and a pixel; a folded MatVec for its pipeline), and
    the fork only moves when both paths take a beat, so the skip side must hold
    every beat in flight; a frame plus the pipelines' worth always suffices.
    """
    return 2 * types[fork.name].positions + 16


def lower_residual(graph: Graph, types: dict, fork: Op, ops: list, lower_ops):
    """Lower the block opened by ``fork`` (read twice) from ``ops`` (the graph after the fork):
    returns (stage constructor, layer records, number of ops of ``ops`` used)."""
    readers = graph.consumers(fork.name)
    if len(readers) != 2:
        raise PassError(f"lower: {fork.where} is read by {len(readers)} ops; a residual block "
                        "forks into exactly two paths")
    for k, join in enumerate(ops):
        if isinstance(join, Join):
            a, b = _path(graph, join.input, fork.name), _path(graph, join.other, fork.name)
            if a is not None and b is not None:
                break
    else:
        raise PassError(f"lower: the two readers of {fork.where} never meet in one Add or Concat; "
                        "only two paths joined again by one Add or Concat have hardware")
    if {op.name for op in ops[:k]} != {op.name for op in a + b}:
        raise PassError(f"lower: {join.where}: its block holds ops on neither of its two paths "
                        "(a branch inside a branch); nested residual blocks are not supported yet")
    (stages_a, layers_a), (stages_b, layers_b) = (lower_ops(graph, types, a, None),
                                                  lower_ops(graph, types, b, None))
    concat = isinstance(join, Concat)
    mult_a, mult_b = (1, 1) if concat else (join.mult_a, join.mult_b)
    ta, tb = types[join.input], types[join.other]
    swapped = len(stages_b) > len(stages_a)
    if swapped:                             # the FIFO goes on the path with fewer stages
        stages_a, stages_b, ta, tb, mult_a, mult_b = stages_b, stages_a, tb, ta, mult_b, mult_a
    out = types[join.name]
    (aw, asg), (bw, bsg), (ow, osg) = element_format(ta.fmt), element_format(tb.fmt), element_format(out.fmt)
    params = dict(fifo_depth=fifo_depth(types, fork), elems=ta.channels, a_width=aw,
                  a_signed=asg, b_width=bw, b_signed=bsg, mult_a=mult_a, mult_b=mult_b,
                  out_width=ow, out_signed=osg)
    if concat:       # the output keeps the IR's order: join.input's channels, then join.other's
        params.update(join="concat", b_elems=tb.channels, b_first=swapped)

    def make():
        return Residual(branch=[m() for m in stages_a], skip=[m() for m in stages_b], **params)

    est = estimate_residual(**params)
    join_layer = Layer(name=join.name, kind=join.opcode, ops=(join.name,), rows=out.channels, cols=2,
                       pe=None, simd=None, cycles=out.positions,
                       in_fmt=f"{ta.fmt} {'++' if concat else '+'} {tb.fmt}",
                       out_fmt=str(out.fmt), estimate=est.resources, src=join.src)
    return make, layers_a + layers_b + [join_layer], k + 1
