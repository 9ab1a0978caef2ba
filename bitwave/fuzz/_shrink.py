"""Shrinking: a failing (graph, inputs) made smaller while it still fails."""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..errors import BitwaveError
from ..ir import (Affine, Bipolar, Graph, Input, Int, Interpreter, MatVec, MultiThreshold, Output,
                  Quant, Requant, int_format_for, print_graph, verify)
from ..passes.bitwidths import InferBitwidths
from ..passes.fold import divisors

__all__ = ["minimise"]

_ELEMENTWISE = (MultiThreshold, Requant, Affine, Quant)


def _segments(graph: Graph) -> list[list[int]]:
    """Op indices sharing one element indexing: a flat producer (the Input or a dense MatVec)
    and the element-wise ops after it, each read only by the next; the next dense MatVec (or
    the Output) consumes the segment.  Shaped tensors, convolutions, pooling and the ops of a
    residual block that touch its fork or its Add keep their sizes (shrinking them would need
    the shapes and channel groups of every reader rewritten)."""
    ops, types = graph.ops, graph.types()
    runs: list[list[int]] = []
    for i, op in enumerate(ops):
        if isinstance(op, Input) or type(op) is MatVec:
            runs.append([i])
        elif isinstance(op, _ELEMENTWISE) and runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)

    def cuttable(seg: list[int]) -> bool:
        nxt = ops[seg[-1] + 1]
        chained = all(len(graph.consumers(ops[j].name)) == 1 and ops[j + 1].input == ops[j].name
                      for j in seg)
        return (chained and (type(nxt) is MatVec or isinstance(nxt, Output))
                and all(len(types[ops[j].name].shape) == 1 for j in seg))
    return [seg for seg in runs if cuttable(seg)]


def _largest_divisor_at_most(n: int, limit: int) -> int:
    return max(d for d in divisors(n) if d <= limit)


def _slice_vec(c, keep, n_old):
    a = np.asarray(c.array if hasattr(c, "array") else c)
    return a[keep] if a.ndim == 1 and a.shape[0] == n_old and n_old > 1 else a


def _drop_elements(graph: Graph, seg: list[int], keep: np.ndarray, x: np.ndarray):
    """Keep only elements ``keep`` of a segment; returns (graph, inputs)."""
    ops = list(graph.ops)
    head = ops[seg[0]]
    n_old = head.n if isinstance(head, Input) else head.rows
    if isinstance(head, Input):
        ops[seg[0]] = head.replace(n=len(keep))
        x = x[:, keep]
    else:
        ops[seg[0]] = head.replace(weight=head.weight.array[keep], wscale=head.wscale.array[keep],
                                   bias=None if head.bias is None else head.bias.array[keep],
                                   pe=_largest_divisor_at_most(len(keep), head.pe))
    for i in seg[1:]:
        op = ops[i]
        if isinstance(op, MultiThreshold):
            ops[i] = op.replace(thresholds=op.thresholds.array[keep], scale=_slice_vec(op.scale, keep, n_old))
        elif isinstance(op, Requant):
            ops[i] = op.replace(scale=_slice_vec(op.scale, keep, n_old))
        elif isinstance(op, Affine):
            ops[i] = op.replace(mul=op.mul.array[keep], add=op.add.array[keep])
        elif isinstance(op, Quant):
            ops[i] = op.replace(scale=_slice_vec(op.scale, keep, n_old))
    nxt = seg[-1] + 1
    if isinstance(ops[nxt], MatVec):
        mv = ops[nxt]
        ops[nxt] = mv.replace(weight=mv.weight.array[:, keep],
                              simd=_largest_divisor_at_most(len(keep), mv.simd))
    return Graph(tuple(ops)), x


def _truncate(graph: Graph, upto: int) -> Graph:
    """Keep ops [0, upto] and end the graph there."""
    ops = list(graph.ops[:upto + 1])
    return Graph(tuple(ops) + (Output(graph.output.name, input=ops[-1].name),))


def _drop_leading(graph: Graph, start: int, x: np.ndarray):
    """Start the graph at op index ``start`` (a MatVec): the value it reads becomes the input."""
    interp = Interpreter(graph)
    op = graph.ops[start]
    t = interp.types[op.input]
    if not isinstance(t.fmt, (Int, Bipolar)):
        return None
    shape = (t.shape[-1],) + t.shape[:-1] if len(t.shape) > 1 else ()   # channels first
    inp = Input(op.input, n=t.n, fmt=t.fmt, scale=float(abs(t.scales[0])) or 1.0, shape=shape)
    return Graph((inp,) + tuple(graph.ops[start:])), interp.run(x, codes=True)[op.input]


def _size(graph: Graph, x: np.ndarray) -> int:
    """How big a failing example is (what shrinking minimises)."""
    total = 64 * sum(isinstance(op, (MatVec, MultiThreshold, Requant)) for op in graph.ops)
    for op in graph.ops:
        if isinstance(op, MatVec):
            total += op.rows * op.cols * (1 if isinstance(op.wfmt, Bipolar) else op.wfmt.bits)
            total += op.pe + op.simd + (0 if op.bias is None else op.rows)
        elif isinstance(op, MultiThreshold):
            total += op.thresholds.array.size
        elif isinstance(op, Input):
            total += op.n * op.fmt.width
        elif isinstance(op, Requant):
            total += op.fmt.bits + op.shift
    return total + 4 * len(x)


def _narrow(fmt: Int) -> Int | None:
    return Int(fmt.bits - 1, fmt.signed) if fmt.bits > 1 else None


def _candidates(graph: Graph, x: np.ndarray, failing: np.ndarray):
    """Smaller variants of a failing example: (graph, inputs) pairs, biggest steps first."""
    out = []

    def add(make):
        # A shrinking step that makes no valid graph is simply not a candidate.
        try:
            cand = make()
        except (BitwaveError, ValueError, IndexError):
            return
        if cand is not None:
            out.append(cand)

    if len(x) > 1 and len(failing):
        add(lambda: (graph, x[failing[:1]]))
        if len(x) > 2:
            add(lambda: (graph, x[: int(failing[0]) + 1]))
    ops = list(graph.ops)
    # A MatVec followed by a threshold or requant is one hardware layer: never cut between them.
    layer_ends = [i for i in range(1, len(ops) - 1)
                  if not (isinstance(ops[i], MatVec) and isinstance(ops[i + 1], (MultiThreshold, Requant)))]
    for end in layer_ends[:-1]:
        add(lambda end=end: (_truncate(graph, end), x))
    for i, op in enumerate(ops):
        if i > 1 and isinstance(op, MatVec):
            add(lambda i=i: _drop_leading(graph, i, x))
    halves = []
    for seg in _segments(graph):
        head = ops[seg[0]]
        n = head.n if isinstance(head, Input) else head.rows
        if n > 1:
            idx = np.arange(n)
            halves.append((seg, idx[: n // 2]))
            add(lambda seg=seg, keep=idx[: n // 2]: _drop_elements(graph, seg, keep, x))
            add(lambda seg=seg, keep=idx[n // 2:]: _drop_elements(graph, seg, keep, x))
            if n <= 6:
                for j in range(n):
                    add(lambda seg=seg, keep=np.delete(idx, j): _drop_elements(graph, seg, keep, x))
    if len(halves) > 1:   # halve every segment at once: shrinks wide models in few rounds
        def halve_all():
            g, xs = graph, x
            for seg, keep in halves:
                g, xs = _drop_elements(g, seg, keep, xs)
            return g, xs
        add(halve_all)
        out.insert(0, out.pop())
    inp = graph.input
    if isinstance(inp.fmt, Int) and _narrow(inp.fmt):
        fmt = _narrow(inp.fmt)
        add(lambda: (Graph((inp.replace(fmt=fmt),) + tuple(ops[1:])), np.clip(x, fmt.min, fmt.max)))
    for i, op in enumerate(ops):
        def with_op(new, i=i):
            return Graph(tuple(ops[:i]) + (new,) + tuple(ops[i + 1:])), x
        if isinstance(op, MatVec):
            if op.pe > 1:
                add(lambda op=op, w=with_op: w(op.replace(pe=1)))
            if op.simd > 1:
                add(lambda op=op, w=with_op: w(op.replace(simd=1)))
            if op.bias is not None:
                add(lambda op=op, w=with_op: w(op.replace(bias=None)))
            if isinstance(op.wfmt, Int) and _narrow(op.wfmt):
                f = _narrow(op.wfmt)
                add(lambda op=op, w=with_op, f=f: w(op.replace(wfmt=f, weight=np.clip(op.weight.array,
                                                                                      f.min, f.max))))
        elif isinstance(op, MultiThreshold) and op.levels > 1:
            keep = op.levels // 2
            fmt = op.fmt if isinstance(op.fmt, Bipolar) else int_format_for(op.out_bias, op.out_bias + keep)
            if isinstance(op.fmt, Int) and op.fmt.signed and not fmt.signed:
                fmt = Int(fmt.bits + 1, True)
            add(lambda op=op, w=with_op, keep=keep, fmt=fmt:
                w(op.replace(thresholds=op.thresholds.array[:, :keep], fmt=fmt)))
        elif isinstance(op, Requant) and _narrow(op.fmt):
            add(lambda op=op, w=with_op: w(op.replace(fmt=_narrow(op.fmt))))
    return out


def _valid(graph: Graph) -> Graph | None:
    try:
        g = InferBitwidths().run(graph) if any(isinstance(op, MatVec) and op.acc is not None
                                               for op in graph.ops) else graph
        verify(g)
        return g
    except (BitwaveError, ValueError, IndexError):
        return None


def minimise(graph: Graph, x: np.ndarray, failing_of: Callable[[list], list], *,
             rounds: int = 12, log: Callable[[str], None] = lambda s: None):
    """Shrink a failing (graph, inputs) while ``failing_of`` still reports it failing.

    ``failing_of`` takes a list of (graph, inputs) and returns, per example, the
    indices of the failing inputs (empty: it passes).  Each round evaluates every
    candidate at once (one build for RTL checks) and keeps the smallest failing one.
    Returns (graph, inputs, failing indices, rounds used).
    """
    failing = np.asarray(failing_of([(graph, x)])[0])
    if not len(failing) or _valid(graph) is None:
        # An invalid graph (a generator bug, reported as such) has no smaller valid form.
        return graph, x, failing, 0
    used = 0
    for used in range(1, rounds + 1):
        cands = []
        for g, xs in _candidates(graph, x, failing):
            g = _valid(g)
            if g is not None and len(xs):
                cands.append((g, xs))
        if not cands:
            break
        results = failing_of(cands)
        best = None
        for (g, xs), bad in zip(cands, results):
            if len(bad) and (best is None or _size(g, xs) < _size(best[0], best[1])):
                best = (g, xs, np.asarray(bad))
        if best is None or _size(best[0], best[1]) >= _size(graph, x):
            break
        graph, x, failing = best
        log(f"shrinking round {used}: size {_size(graph, x)}, {len(graph)} ops, {len(x)} frames")
    return graph, x, failing, used


def _annotated(graph: Graph, x: np.ndarray, failing: np.ndarray, header: list[str]) -> str:
    lines = [f"# {h}" for h in header]
    for f in list(failing)[:4]:
        lines.append(f"# failing input (codes): {x[int(f)].tolist()}")
    return "\n".join(lines) + "\n" + print_graph(graph)


