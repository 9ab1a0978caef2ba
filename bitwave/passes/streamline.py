"""``streamline``: fold scales, biases and batch-norm into integer thresholds.

``MatVec → [Affine] → Quant`` becomes ``MatVec → MultiThreshold``: the
quantised activation is a monotone step function of the integer accumulator,
so it is fully described by one integer threshold per output level.  The
thresholds are found by bisection over the accumulator's exact integer range
(``MatVec.bounds``), evaluating the imported ops *with the interpreter itself*
(float64 for affine and plain quantisers, float32 for a quantised sigmoid or
tanh, as Brevitas), and then checked against it on every accumulator value, so
the streamlined graph gives identical codes on every input, rounding ties and
float32 saturation included; nothing is derived from a closed form that could
disagree in the last ulp, and an activation that is not monotone is refused.  A row whose real gain is negative is
negated (weights and bias) so that every comparison is ``acc >= T``.

``MatVec → Affine → Output`` (the last layer's scale and bias) folds into the
MatVec when the bias is a whole number of accumulator units (Brevitas'
quantised biases); otherwise (a float bias, the batch-norm ``binarize`` appends)
it stays as it is: the hardware outputs the integer accumulator and the host
applies the affine in float, as the model does (a rounded integer bias changed
predictions).
"""

from __future__ import annotations

import numpy as np

from ..errors import PassError
from ..ir import (Affine, Bipolar, Graph, Input, Int, Interpreter, MatVec, MultiThreshold, Output,
                  Quant, ValueType, code_min)
from ._manager import Pass

__all__ = ["Streamline", "activation_thresholds"]


#: Most accumulator values per layer that the exactness check evaluates one by one; above it,
#: it checks every threshold's neighbours and an even sample of the range.
EXHAUSTIVE_CHECK = 1 << 24


def _codes(it: Interpreter, chain: list, acc: np.ndarray) -> np.ndarray:
    """Codes of ``chain`` (the affines and the Quant after a MatVec) on accumulator values
    ``acc`` (K × rows), by the interpreter itself, so thresholds reproduce it bit for bit."""
    v = acc
    for op in chain:
        v = it.step(op, v)
    return np.asarray(v)


def _bounds(it: Interpreter, op) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (min, max) of an integer op's output: exact for a MatVec (and the
    convolutions), the format's range for anything else (a pooling, the input)."""
    if isinstance(op, MatVec):
        return op.bounds(it.types[op.input].fmt)
    t = it.types[op.name]
    lo = code_min(op) if isinstance(op, (Input, Quant)) else t.fmt.min
    return np.full(t.channels, lo, dtype=np.int64), np.full(t.channels, t.fmt.max, dtype=np.int64)


def activation_thresholds(it: Interpreter, mv: MatVec, affines: list[Affine],
                          q: Quant) -> tuple[np.ndarray, np.ndarray]:
    """Integer thresholds of ``q(affines(acc))`` for every accumulator value ``mv`` can produce.

    Returns ``(T, negate)``: ``T[r, j]`` is the smallest accumulator value
    (after negating row r when ``negate[r]``) whose code is >= level j+1 above
    the format's minimum; values outside the reachable range are clipped to
    ``lo`` (always) or ``hi + 1`` (never).  Raises PassError if the quantised
    function is not monotone over the range (then no thresholds exist).
    """
    lo, hi = _bounds(it, mv)
    n = len(lo)
    fmt = q.fmt
    chain = affines + [q]
    levels = [1] if isinstance(fmt, Bipolar) else list(range(code_min(q) + 1, fmt.max + 1))
    ends = _codes(it, chain, np.stack([lo, hi]).astype(np.int64))
    negate = ends[0] > ends[1]
    # In the negated frame a' = -a the code is non-decreasing in a'.
    lo_n = np.where(negate, -hi, lo).astype(np.int64)
    hi_n = np.where(negate, -lo, hi).astype(np.int64)
    sign = np.where(negate, -1, 1)

    def code(a_n):   # a_n: K × rows in the negated frame
        return _codes(it, chain, sign * np.clip(a_n, lo_n, hi_n))

    T = np.empty((n, len(levels)), dtype=np.int64)
    for j, k in enumerate(levels):
        # Smallest a in [lo_n, hi_n + 1] with code(a) >= k (hi_n + 1 means never).
        left, right = lo_n.copy(), hi_n + 1
        while np.any(left < right):
            mid = (left + right) // 2
            ok = (code(mid[None, :])[0] >= k) & (mid <= hi_n)
            right = np.where(ok & (left < right), mid, right)
            left = np.where(~ok & (left < right), mid + 1, left)
        T[:, j] = left
    _check_thresholds(code, T, lo_n, hi_n, fmt, q, mv)
    return T, negate


def _check_thresholds(code, T, lo_n, hi_n, fmt, q: Quant, mv: MatVec):
    """The thresholds give the activation's own code on every accumulator value (or, for very
    wide accumulators, on every threshold's neighbours and an even sample of the range)."""
    span = int((hi_n - lo_n).max()) + 1
    if span * len(lo_n) <= EXHAUSTIVE_CHECK:
        step = max(64, (1 << 18) // len(lo_n))
        chunks = (np.arange(s, min(s + step, span)) for s in range(0, span, step))
        points = (lo_n[None, :] + c[:, None] for c in chunks)
    else:
        sample = np.linspace(lo_n, hi_n, num=4097).round().astype(np.int64)
        points = [sample, T.T, T.T - 1]
    base = 0 if isinstance(fmt, Bipolar) else code_min(q)
    for a in points:
        a = np.clip(a, lo_n, hi_n)
        count = (a[:, :, None] >= T[None, :, :]).sum(axis=2)
        want = 2 * count - 1 if isinstance(fmt, Bipolar) else base + count
        got = code(a)
        bad = np.argwhere(got != want)
        if bad.size:
            i, r = bad[0]
            raise PassError(f"streamline: {q.where} is not monotone in the accumulator of {mv.where} "
                            f"(row {r}, accumulator {int(a[i, r])}), so no thresholds can represent it; "
                            "use a monotone activation (ReLU, sigmoid, tanh, hard-tanh)")


class Streamline(Pass, name="streamline"):
    """Fold scales, float biases and batch-norm into integer thresholds (exact)."""

    def run(self, graph: Graph) -> Graph:
        it = Interpreter(graph)
        types = it.types
        ops = list(graph.ops)
        out: list = [ops[0]]
        i = 1
        while i < len(ops):
            op = ops[i]
            if not isinstance(op, MatVec):
                if isinstance(op, (Affine, Quant)):
                    i = self._fold_after_integer(it, ops, i, out)
                    continue
                out.append(op)
                i += 1
                continue
            affines, nxt, j = _chain_after(graph, ops, i)
            if isinstance(nxt, Quant):
                T, negate = activation_thresholds(it, op, affines, nxt)
                mv = _negate_rows(op, negate)
                levels = T.shape[1]
                mt = MultiThreshold(nxt.name, input=op.name, thresholds=T, fmt=nxt.fmt,
                                    out_bias=0 if isinstance(nxt.fmt, Bipolar) else code_min(nxt),
                                    scale=types[nxt.name].scales, src=nxt.src)
                assert mt.levels == levels
                out += [mv, mt]
                i = j + 1
            elif affines and isinstance(nxt, Output):
                # An exact integer bias folds into the MatVec; any other float scale and bias
                # stay real: the host applies them to the hardware's integer output as the
                # model does (Graph.host_ops), since rounding the bias can change a prediction.
                folded = _fold_output_affine(op, types[op.name], affines)
                out += [op, *affines, nxt] if folded is None \
                    else [folded, nxt.replace(input=op.name)]
                i = j + 1
            else:
                if affines:
                    raise PassError(f"streamline: affine {affines[0].where} is followed by "
                                    f"{nxt.opcode if nxt else 'nothing'}; expected a Quant or the Output")
                out.append(op)
                i += 1
        return Graph(tuple(out))


    def _fold_after_integer(self, it: Interpreter, ops: list, i: int, out: list) -> int:
        """``X → [Affine] → Quant`` where X is not a MatVec (a pooling, the input): thresholds
        over X's code range.  Returns the index after the chain."""
        graph = it.graph
        src = next(op for op in out if op.name == ops[i].input)
        fmt = it.types[src.name].fmt
        # src itself is not changed, so it may have other readers (a residual's fork).
        j, prev, affines = i, src, []
        while j < len(ops) and isinstance(ops[j], Affine) and ops[j].input == prev.name:
            if len(graph.consumers(ops[j].name)) != 1:
                raise PassError(f"streamline: {ops[j].where} is read by more than one op; it "
                                "cannot be folded into the quantiser's thresholds")
            affines.append(ops[j])
            prev, j = ops[j], j + 1
        q = ops[j] if j < len(ops) and getattr(ops[j], "input", None) == prev.name else None
        if not isinstance(fmt, (Int, Bipolar)) or not isinstance(q, Quant) \
                or isinstance(src, Quant):
            raise PassError(f"streamline: {ops[i].opcode} {ops[i].where} does not follow a MatVec "
                            f"or an integer op; only [MatVec | pooling] → [Affine] → Quant chains "
                            "can be folded")
        T, negate = activation_thresholds(it, src, affines, q)
        if negate.any():
            raise PassError(f"streamline: {q.where} decreases with its input {src.where}; "
                            "only a MatVec's rows can be negated to make it increasing")
        out.append(MultiThreshold(q.name, input=src.name, thresholds=T, fmt=q.fmt,
                                  out_bias=0 if isinstance(q.fmt, Bipolar) else code_min(q),
                                  scale=it.types[q.name].scales, src=q.src))
        return j + 1


def _chain_after(graph: Graph, ops: list, i: int):
    """The affines after ``ops[i]`` and the op after them, each reading the one before it as
    its only reader (a MatVec's rows may be negated, so no other op may read it); returns
    ``(affines, next op, index of next op)``, the next op None where the chain forks."""
    affines, j, prev = [], i + 1, ops[i]
    while j < len(ops) and ops[j].input == prev.name and len(graph.consumers(prev.name)) == 1 \
            and isinstance(ops[j], Affine):
        affines.append(ops[j])
        prev, j = ops[j], j + 1
    nxt = ops[j] if j < len(ops) else None
    if nxt is not None and (getattr(nxt, "input", None) != prev.name
                            or len(graph.consumers(prev.name)) != 1):
        if affines:
            raise PassError(f"streamline: {prev.where} is read by "
                            f"{len(graph.consumers(prev.name))} ops; an affine or quantiser can "
                            "only be folded where it is the one reader of the op before it")
        nxt = None
    return affines, nxt, j


def _negate_rows(op: MatVec, negate: np.ndarray) -> MatVec:
    if not negate.any():
        return op
    sign = np.where(negate, -1, 1)
    w = op.weight.array * sign[:, None]
    wfmt = op.wfmt
    if isinstance(wfmt, Int) and (w.min() < wfmt.min or w.max() > wfmt.max):
        wfmt = Int(wfmt.bits + 1, True)   # -(-2^(b-1)) needs one more bit
    bias = None if op.bias is None else op.bias.array * sign
    return op.replace(weight=w, wfmt=wfmt, bias=bias, wscale=op.wscale.array * sign, acc=None)


def _fold_output_affine(op: MatVec, t_acc: ValueType, affines: list[Affine]) -> MatVec | None:
    """acc·s·mul + add = (acc + add/(s·mul))·(s·mul): new per-row scale and integer bias, when
    that bias is a whole number of accumulator units (a quantised bias); else None."""
    gain = t_acc.scales.copy()
    offset = np.zeros_like(gain)
    for a in affines:
        gain, offset = gain * a.mul.array, offset * a.mul.array + a.add.array
    if np.any(gain == 0):
        raise PassError(f"streamline: output of {op.where} is multiplied by zero; the layer is constant")
    in_scale = t_acc.scales / op.wscale.array
    bias_real = offset / gain
    bias = np.rint(bias_real).astype(np.int64)
    if not np.allclose(bias, bias_real, rtol=0, atol=1e-9):
        return None          # not a whole number of accumulator units: the host applies it
    if op.bias is not None:
        bias = bias + op.bias.array
    return op.replace(wscale=gain / in_scale, bias=bias, acc=None)
