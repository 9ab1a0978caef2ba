"""Constant matrix × vector as a shared adder graph (no Amaranth; numpy only).

``y = M·x`` for a constant integer matrix ``M`` becomes a graph of two-input
adders and subtractors, shared between the outputs:

1. Each column's most common value ``k_c`` is taken out when that saves
   terms (``M·x = (M − 1·kᵀ)·x + kᵀx``, the last sum built once and added to
   every row): a ±1 column becomes 0/±2, half of its terms gone.  Each row
   of ``M − 1·kᵀ`` is then divided by its largest common power of two
   ``2^s`` (a binary layer's 0/±2 rows become 0/±1), so its sums are ``s``
   bits narrower, and ``2^s`` comes back for free where the shared sum is
   added (the low ``s`` bits of that adder are the shared sum's own).  Every
   remaining weight is split into signed power-of-two digits (its
   non-adjacent form), so a row is a sum of terms ``±(x_c << k)``; a
   *variable* is one ``x_c << k`` (or, later, a node).
2. Common subexpressions, greedily: the pair of variables that occurs in the
   most rows with the same relative sign (``a + b``, or ``a − b``) becomes a
   new node, which replaces the pair in those rows; repeat while some pair is
   shared by at least two rows.  The counts come from matrix products of the
   row × variable sign matrix (same-sign pairs ``(|S|ᵀ|S| + SᵀS)/2``,
   opposite-sign ``(|S|ᵀ|S| − SᵀS)/2``); every variable keeps an upper bound
   of its best count, and only the top one is recounted before it is taken
   (lazy greedy), so a 64 × 784 binary layer takes seconds, not a Python
   loop over pairs.
3. What is left of each row is summed by a tree that always joins the two
   shallowest terms (a balanced tree when they are equally deep); equal joins
   of different rows are built once.

:func:`schedule` then places the nodes in pipeline stages of at most
``levels`` adders each; :class:`AdderSchedule` knows every register the
pipeline needs, so the unit and its cost estimate read the same plan.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

__all__ = ["AdderGraph", "AdderSchedule", "build_adder_graph", "naf_digits", "schedule"]


def naf_digits(value: int) -> list[tuple[int, int]]:
    """``(shift, sign)`` digits of ``value`` in non-adjacent form (fewest nonzero digits)."""
    digits, shift = [], 0
    while value:
        if value & 1:
            d = 2 - (value & 3)          # +1 or -1, leaving a multiple of 4
            digits.append((shift, d))
            value -= d
        value >>= 1
        shift += 1
    return digits


@dataclass(frozen=True)
class AdderGraph:
    """Variables ``0 .. len(base)-1`` are the inputs ``x[c] << k`` (``base[v] = (c, k)``);
    variable ``len(base) + n`` is node ``n``: ``nodes[n] = (a, b, sign, shift)`` means
    ``v_a + sign·(v_b << shift)``, an adder ``shift`` bits narrower than its result
    (the low bits are ``v_a``'s).  Row ``r`` of the product is ``outputs[r] = (sign, v)``:
    ``sign·v_v``, or ``(0, -1)`` for a row of zeros.  ``ranges[v]`` is the exact
    ``(lo, hi)`` of each variable."""
    base: tuple[tuple[int, int], ...]
    nodes: tuple[tuple[int, int, int], ...]
    outputs: tuple[tuple[int, int], ...]
    ranges: tuple[tuple[int, int], ...]

    @property
    def adders(self) -> int:
        return len(self.nodes)


def _best(m: np.ndarray, a: np.ndarray, cols: np.ndarray, n: int):
    """For each variable in ``cols``: the largest shared-pair count with any variable
    ``< n``, that partner, and the relative sign (+1 same, −1 opposite)."""
    signed_ = m[:, cols].T @ m[:, :n]
    both = a[:, cols].T @ a[:, :n]
    same, opposite = (both + signed_) / 2, (both - signed_) / 2
    same[np.arange(len(cols)), cols] = 0
    opposite[np.arange(len(cols)), cols] = 0
    use_same = same >= opposite
    counts = np.where(use_same, same, opposite)
    partner = counts.argmax(axis=1)
    pick = np.arange(len(cols))
    return (counts[pick, partner].astype(np.int64), partner,
            np.where(use_same[pick, partner], 1, -1))


def _digit_count(values) -> int:
    return sum(len(naf_digits(int(v))) for v in values)


def centre_columns(matrix: np.ndarray) -> np.ndarray:
    """Per column, the constant ``k`` (its most common value) to take out of it when
    that leaves fewer signed digits, counting ``k``'s own once: ``M·x = (M − 1·kᵀ)·x +
    kᵀx``, with ``kᵀx`` one sum shared by every row.  A ±1 column becomes 0/±2, half
    of its terms gone (0 where the column keeps its values)."""
    centre = np.zeros(matrix.shape[1], dtype=np.int64)
    for c, column in enumerate(matrix.T):
        values, counts = np.unique(column, return_counts=True)
        k = int(values[counts.argmax()])
        if k and _digit_count(column - k) + _digit_count([k]) < _digit_count(column):
            centre[c] = k
    return centre


def build_adder_graph(matrix, x_range: tuple[int, int], *, min_shared: int = 2,
                      centre: bool = True) -> AdderGraph:
    """The shared adder graph of ``matrix · x`` for inputs in ``x_range`` (see the module);
    ``centre``: take each column's common value out first (:func:`centre_columns`)."""
    matrix = np.asarray(matrix, dtype=np.int64)
    k = centre_columns(matrix) if centre and len(matrix) > 1 else np.zeros(matrix.shape[1], np.int64)
    shared = bool(k.any())
    row_shift = np.zeros(len(matrix), dtype=np.int64)
    if shared:                                    # one more row: the shared sum kᵀx
        matrix, row_shift = _divide_rows(matrix - k[None, :])
        matrix = np.vstack([matrix, k[None, :]])
    rows, cols = matrix.shape
    digits = {}                                   # (col, shift) -> {row: sign}
    for c in range(cols):
        for r in np.flatnonzero(matrix[:, c]):
            for shift, sign in naf_digits(int(matrix[r, c])):
                digits.setdefault((c, shift), {})[int(r)] = sign
    base = sorted(digits)
    nnz = sum(len(v) for v in digits.values())
    cap = len(base) + nnz // 2 + 1
    m = np.zeros((rows, cap), dtype=np.float32)
    for v, key in enumerate(base):
        for r, sign in digits[key].items():
            m[r, v] = sign
    a = np.abs(m)
    lo, hi = x_range
    ranges = [(lo << k, hi << k) for _, k in base]
    nodes: list[tuple[int, int, int]] = []
    n = len(base)
    best_count = np.zeros(cap, dtype=np.int64)
    best_partner = np.zeros(cap, dtype=np.int64)
    best_sign = np.zeros(cap, dtype=np.int64)
    if n:
        everything = np.arange(n)
        best_count[:n], best_partner[:n], best_sign[:n] = _best(m, a, everything, n)
    while n and n < cap:
        # best_count is an upper bound for every variable (its pairs with i and j
        # only ever lose rows, and each new node's pairs are added as they appear):
        # recount the top one; it is the true best when its bound holds.
        i = int(best_count[:n].argmax())
        if best_count[i] < min_shared:
            break
        count, partner, sign = _best(m, a, np.array([i]), n)
        if count[0] < best_count[i]:
            best_count[i], best_partner[i], best_sign[i] = count[0], partner[0], sign[0]
            continue
        j, sign = int(partner[0]), int(sign[0])
        hit = np.flatnonzero((m[:, i] * m[:, j] == sign) & (a[:, i] > 0))
        k = n
        n += 1
        m[hit, k] = m[hit, i]
        m[hit, i] = m[hit, j] = 0
        a[:, k] = np.abs(m[:, k])
        a[hit, i] = a[hit, j] = 0
        nodes.append((i, j, sign, 0))
        ranges.append(_join(ranges[i], ranges[j], sign))
        with_k, sign_k = _pair_counts(m, a, k, n)
        better = with_k > best_count[:n]
        best_count[:n][better] = with_k[better]
        best_partner[:n][better] = k
        best_sign[:n][better] = sign_k[better]
        best_count[k], best_partner[k], best_sign[k] = (
            int(with_k.max()), int(with_k.argmax()), int(sign_k[with_k.argmax()]))
    outputs = _row_trees(m[:, :n], ranges, nodes)
    if shared:
        outputs = _add_shared(outputs, row_shift, ranges, nodes)
    return AdderGraph(tuple(base), tuple(nodes), tuple(outputs), tuple(ranges))


def _divide_rows(matrix):
    """Each row divided by its largest common power of two, and that power's exponent."""
    shifts = np.zeros(len(matrix), dtype=np.int64)
    for r, row in enumerate(matrix):
        nonzero = np.abs(row[row != 0])
        if len(nonzero):
            low = int(np.bitwise_or.reduce(nonzero))
            shifts[r] = (low & -low).bit_length() - 1
    return matrix >> shifts[:, None], shifts


def _add_shared(outputs, row_shift, ranges, nodes):
    """Add the last output (the shared sum ``se·v_e`` of the centred columns) to every
    other one, shifted back: row ``r``'s ``s·(v << shift) + se·v_e`` is built as
    ``se·(v_e + s·se·(v << shift))``, so the shift rides on the adder."""
    (se, ve), outputs = outputs[-1], outputs[:-1]
    joined = []
    for (s, v), shift in zip(outputs, row_shift):
        if not s:
            joined.append((se, ve))
            continue
        nodes.append((ve, v, s * se, int(shift)))
        ranges.append(_join(ranges[ve], ranges[v], s * se, int(shift)))
        joined.append((se, len(ranges) - 1))
    return joined


def _pair_counts(m, a, k, n):
    """Shared-pair count of variable ``k`` with each variable ``< n``, and the sign."""
    signed_ = m[:, :n].T @ m[:, k]
    both = a[:, :n].T @ a[:, k]
    same, opposite = (both + signed_) / 2, (both - signed_) / 2
    same[k] = opposite[k] = 0
    return (np.maximum(same, opposite).astype(np.int64), np.where(same >= opposite, 1, -1))


def _join(ra, rb, sign, shift=0):
    rb = (rb[0] << shift, rb[1] << shift)
    if sign > 0:
        return ra[0] + rb[0], ra[1] + rb[1]
    return ra[0] - rb[1], ra[1] - rb[0]


def _row_trees(m, ranges, nodes):
    """Sum each row's remaining signed terms, shallowest first; reuse equal joins."""
    depth = [0] * len(ranges)
    for v, (x, y, *_) in enumerate(nodes, start=len(ranges) - len(nodes)):
        depth[v] = max(depth[x], depth[y]) + 1
    built = {}
    outputs = []
    for row in m:
        terms = [(depth[v], int(v), int(row[v])) for v in np.flatnonzero(row)]
        if not terms:
            outputs.append((0, -1))
            continue
        heapq.heapify(terms)
        while len(terms) > 1:
            da, va, sa = heapq.heappop(terms)
            db, vb, sb = heapq.heappop(terms)
            if (vb, va, sa * sb, 0) in built and sa * sb > 0:
                va, vb = vb, va
            key = (va, vb, sa * sb, 0)
            if key not in built:
                built[key] = len(ranges)
                nodes.append(key)
                ranges.append(_join(ranges[va], ranges[vb], sa * sb))
                depth.append(max(da, db) + 1)
            heapq.heappush(terms, (max(da, db) + 1, built[key], sa))
        outputs.append((terms[0][2], terms[0][1]))
    return outputs


@dataclass(frozen=True)
class AdderSchedule:
    """Where each variable of an :class:`AdderGraph` is computed in the pipeline.

    Stage ``t`` reads registers (stage 0: the input vector); a node is computed
    in the stage of its later operand and registered when it ends ``levels``
    adders deep.  ``stage[v]`` is the stage in which ``v`` is first valid,
    ``registered[v]`` whether it is a register there (else logic); an operand
    needed in a later stage is carried through ``delays`` (variable, stage)
    registers.  Every row's result is a register at stage ``stages``.
    """
    stage: tuple[int, ...]
    registered: tuple[bool, ...]
    delays: tuple[tuple[int, int], ...]
    stages: int


def schedule(graph: AdderGraph, levels: int) -> AdderSchedule:
    """Pipeline ``graph`` with at most ``levels`` adders between registers."""
    nb = len(graph.base)
    stage = [0] * len(graph.ranges)
    depth = [0] * len(graph.ranges)           # adders since the last register
    delays: set[tuple[int, int]] = set()

    def need(v, t):
        """Carry ``v`` from where it is valid to stage ``t``; its logic depth there."""
        for s in range(stage[v] + 1, t + 1):
            delays.add((v, s))
        return depth[v] if stage[v] == t else 0

    for n, (x, y, *_) in enumerate(graph.nodes):
        v = nb + n
        t = max(stage[x], stage[y])
        d = max(need(x, t), need(y, t)) + 1
        if d >= levels:
            stage[v], depth[v] = t + 1, 0
        else:
            stage[v], depth[v] = t, d
    finals = [v for _, v in graph.outputs if v >= 0]
    last = max((stage[v] + (depth[v] > 0) for v in finals), default=0)
    for v in set(finals):
        need(v, last)
    registered = tuple(depth[v] == 0 and (v >= nb or stage[v] > 0) for v in range(len(stage)))
    return AdderSchedule(tuple(stage), registered, tuple(sorted(delays)), last)
