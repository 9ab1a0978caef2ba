"""``streamline``: fold scales, biases and batch-norm into integer thresholds.

``MatVec → [Affine] → Quant`` becomes ``MatVec → MultiThreshold``: the
quantised activation is a monotone step function of the integer accumulator,
so it is fully described by one integer threshold per output level.  The
thresholds are found by bisection on the *same float64 expression the
interpreter evaluates*, so the streamlined graph gives identical codes on
every input, rounding ties included; nothing is derived from a closed form
that could disagree in the last ulp.  A row whose real gain is negative is
negated (weights and bias) so that every comparison is ``acc >= T``.

``MatVec → Affine → Output`` (the last layer's float bias) folds into an
integer bias, rounded to the nearest multiple of the accumulator scale (exact
for Brevitas' quantised biases; for a float bias the report's float-vs-integer
comparison shows what the rounding costs).
"""

from __future__ import annotations

import numpy as np

from ..errors import PassError
from ..ir import (Affine, Bipolar, Graph, Int, MatVec, MultiThreshold, Output, Quant, ValueType,
                  verify)
from ._manager import Pass

__all__ = ["Streamline", "activation_thresholds"]


def _chain_real(acc: np.ndarray, t_acc: ValueType, affines: list[Affine]) -> np.ndarray:
    """Real value reached from accumulator codes through the affines, as the interpreter computes it."""
    real = acc * t_acc.scales
    for a in affines:
        real = real * a.mul.array + a.add.array
    return real


def _quant_codes(real: np.ndarray, q: Quant) -> np.ndarray:
    if isinstance(q.fmt, Bipolar):
        return np.where(real >= 0, 1, -1)
    return np.clip(np.rint(real / q.scale.array), q.fmt.min, q.fmt.max)


def activation_thresholds(lo: np.ndarray, hi: np.ndarray, t_acc: ValueType, affines: list[Affine],
                          q: Quant) -> tuple[np.ndarray, np.ndarray]:
    """Integer thresholds of ``q(affines(acc))`` for acc in [lo, hi] per row.

    Returns ``(T, negate)``: ``T[r, j]`` is the smallest accumulator value
    (after negating row r when ``negate[r]``) whose code is >= level j+1 above
    the format's minimum; values outside the reachable range are clipped to
    ``lo`` (always) or ``hi + 1`` (never).
    """
    n = len(lo)
    fmt = q.fmt
    levels = [1] if isinstance(fmt, Bipolar) else list(range(fmt.min + 1, fmt.max + 1))
    f_lo = _quant_codes(_chain_real(lo.astype(np.float64), t_acc, affines), q)
    f_hi = _quant_codes(_chain_real(hi.astype(np.float64), t_acc, affines), q)
    negate = f_lo > f_hi
    # In the negated frame a' = -a the code is non-decreasing in a'.
    lo_n = np.where(negate, -hi, lo)
    hi_n = np.where(negate, -lo, hi)
    sign = np.where(negate, -1, 1)

    def code(a_n):
        return _quant_codes(_chain_real((sign[:, None] * a_n).astype(np.float64).T, t_acc, affines), q).T

    T = np.empty((n, len(levels)), dtype=np.int64)
    for j, k in enumerate(levels):
        # Smallest a in [lo_n, hi_n + 1] with code(a) >= k (hi_n + 1 means never).
        left, right = lo_n.astype(np.int64).copy(), (hi_n + 1).astype(np.int64).copy()
        while np.any(left < right):
            mid = (left + right) // 2
            ok = code(np.clip(mid, lo_n, hi_n)[:, None])[:, 0] >= k
            ok &= mid <= hi_n
            right = np.where(ok & (left < right), mid, right)
            left = np.where(~ok & (left < right), mid + 1, left)
        T[:, j] = left
    # Monotonicity check: the step function must be non-decreasing in the negated frame.
    probe = np.linspace(lo_n, hi_n, num=9).round().astype(np.int64).T
    codes = code(probe)
    if np.any(np.diff(codes, axis=1) < 0):
        raise PassError("streamline: activation is not monotone in the accumulator; cannot use thresholds")
    return T, negate


class Streamline(Pass, name="streamline"):
    """Fold scales, float biases and batch-norm into integer thresholds (exact)."""

    def run(self, graph: Graph) -> Graph:
        types = verify(graph)
        ops = list(graph.ops)
        out: list = [ops[0]]
        i = 1
        while i < len(ops):
            op = ops[i]
            if not isinstance(op, MatVec):
                if isinstance(op, (Affine, Quant)):
                    raise PassError(f"streamline: {op.opcode} {op.where} does not follow a MatVec; "
                                    "only MatVec → [Affine] → Quant chains can be folded")
                out.append(op)
                i += 1
                continue
            j = i + 1
            affines = []
            while j < len(ops) and isinstance(ops[j], Affine):
                affines.append(ops[j])
                j += 1
            nxt = ops[j] if j < len(ops) else None
            in_t = types[op.input]
            lo, hi = op.bounds(in_t.fmt)
            t_acc = types[op.name]
            if isinstance(nxt, Quant):
                T, negate = activation_thresholds(lo, hi, t_acc, affines, nxt)
                mv = _negate_rows(op, negate)
                levels = T.shape[1]
                mt = MultiThreshold(nxt.name, input=op.name, thresholds=T, fmt=nxt.fmt,
                                    out_bias=0 if isinstance(nxt.fmt, Bipolar) else nxt.fmt.min,
                                    scale=types[nxt.name].scales, src=nxt.src)
                assert mt.levels == levels
                out += [mv, mt]
                i = j + 1
            elif affines and isinstance(nxt, Output):
                out.append(_fold_output_affine(op, t_acc, affines))
                out.append(nxt.replace(input=op.name))
                i = j + 1
            else:
                if affines:
                    raise PassError(f"streamline: affine {affines[0].where} is followed by "
                                    f"{nxt.opcode if nxt else 'nothing'}; expected a Quant or the Output")
                out.append(op)
                i += 1
        return Graph(tuple(out))


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


def _fold_output_affine(op: MatVec, t_acc: ValueType, affines: list[Affine]) -> MatVec:
    """acc·s·mul + add = (acc + add/(s·mul))·(s·mul): new per-row scale and integer bias."""
    gain = t_acc.scales.copy()
    offset = np.zeros_like(gain)
    for a in affines:
        gain, offset = gain * a.mul.array, offset * a.mul.array + a.add.array
    if np.any(gain == 0):
        raise PassError(f"streamline: output of {op.where} is multiplied by zero; the layer is constant")
    in_scale = t_acc.scales / op.wscale.array
    bias_real = offset / gain
    bias = np.rint(bias_real).astype(np.int64)
    if op.bias is not None:
        bias = bias + op.bias.array
    return op.replace(wscale=gain / in_scale, bias=bias, acc=None)
