"""Random layers: formats, weights, thresholds, and a weighted op with its activation.

A graph under construction is a list of ops in topological order; it may fork
(a residual block), so each helper reads the op it is told to (``src``,
default the last one) and probes only the part of the list that op depends on.
Every layer comes in two styles: ``post`` (the form streamlining produces:
integer weights, then thresholds or a requant) and ``pre`` (as a frontend
imports: real weight scales, batch-norm ``Affine``, ``Quant``), which the
exact passes must turn into the same codes.
"""

from __future__ import annotations

import numpy as np

from ..ir import (Affine, Bipolar, Graph, Int, Interpreter, MatVec, MultiThreshold, Output, Quant,
                  Requant, ValueType, reads)

__all__ = []

_PRIMES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83,
           89, 97)


def width(rng, max_width: int) -> int:
    """A vector width up to ``max_width``: primes, small widths and anything in between."""
    r = rng.random()
    if r < 0.2:
        return int(rng.choice([p for p in _PRIMES if p <= max_width] or [1]))
    if r < 0.5:
        return int(rng.integers(1, min(8, max_width) + 1))
    return int(rng.integers(1, max_width + 1))


def int_fmt(rng) -> Int:
    """1–8 bits, signed or not; narrow formats more often (wide activations mean many
    threshold levels, which cost build time more than they find bugs)."""
    bits = int(rng.integers(1, 5)) if rng.random() < 0.75 else int(rng.integers(5, 9))
    return Int(bits, bool(rng.random() < 0.5))


def act_fmt(rng, int_only: bool = False):
    """An activation format.  A b-bit activation is 2^b - 1 threshold comparators per row,
    the biggest part of a layer's hardware, so wide ones are generated less often.
    ``int_only``: never Bipolar (an Add, a padded or a causal convolution reads it)."""
    r = rng.random()
    if r < 0.2:
        return Int(int(rng.integers(1, 4)), bool(rng.random() < 0.5)) if int_only else Bipolar()
    bits = int(rng.integers(1, 4)) if r < 0.76 else int(rng.integers(4, 6)) if r < 0.92 else int(rng.integers(6, 9))
    return Int(bits, bool(rng.random() < 0.5))


def codes(rng, fmt, shape) -> np.ndarray:
    if isinstance(fmt, Bipolar):
        return rng.choice(np.array([-1, 1]), size=shape)
    return rng.integers(fmt.min, fmt.max + 1, size=shape)


def weights(rng, fmt, rows, cols) -> np.ndarray:
    w = codes(rng, fmt, (rows, cols))
    r = rng.random()
    if isinstance(fmt, Int) and r < 0.08:     # extreme weights: the accumulator bounds are reached
        w = np.full((rows, cols), fmt.max if rng.random() < 0.5 else fmt.min)
    elif isinstance(fmt, Int) and r < 0.16:
        w = np.where(rng.random((rows, cols)) < 0.5, fmt.min, fmt.max)
    return w


def probe(ops: list, name: str | None = None) -> Graph:
    """The ops that ``name`` (default: the last op) depends on, ending in an Output."""
    name = name or ops[-1].name
    by_name = {op.name: op for op in ops}
    need, todo = set(), [name]
    while todo:
        n = todo.pop()
        if n not in need:
            need.add(n)
            todo.extend(reads(by_name[n]))
    return Graph(tuple(op for op in ops if op.name in need) + (Output("probe_out", input=name),))


def type_of(ops: list, name: str | None = None) -> ValueType:
    return probe(ops, name).types()[name or ops[-1].name]


def sample(ops: list, rng, n: int = 64, name: str | None = None) -> np.ndarray:
    """Values of op ``name`` (default the last) on random input codes, one row per sample
    and position, one column per channel."""
    g = probe(ops, name)
    x = codes(rng, g.input.fmt, (n, g.input.n))
    interp = Interpreter(g)
    name = g.output.input
    return interp.run(x, codes=True)[name].reshape(-1, interp.types[name].channels)


def thresholds(rng, acc: np.ndarray, lo: np.ndarray, hi: np.ndarray, levels: int) -> np.ndarray:
    """Ascending thresholds per channel: mostly where the values live, some at the extremes."""
    rows = acc.shape[1]
    t = np.empty((rows, levels), dtype=np.int64)
    for r in range(rows):
        for k in range(levels):
            u = rng.random()
            if u < 0.6:
                t[r, k] = int(rng.choice(acc[:, r])) + int(rng.integers(-1, 2))
            elif u < 0.75:
                t[r, k] = int(rng.integers(lo[r], hi[r] + 2))
            else:   # extreme: exactly at or beyond the reachable range, or far outside it
                t[r, k] = int(rng.choice([lo[r], lo[r] - 1, hi[r], hi[r] + 1,
                                          -(1 << 20), (1 << 20), -(1 << 40), (1 << 40)]))
    return np.sort(t, axis=1)


def fmt_of(ops: list):
    """Format of the last op of a partial graph."""
    return type_of(ops).fmt


def dense(rng, max_width: int, src: str, in_t: ValueType, name: str, pre: bool,
          rows: int | None = None) -> MatVec:
    """A random MatVec on ``in_t`` (integer weights; real per-row scales when ``pre``) with
    ``rows`` outputs (default random)."""
    cols, rows = in_t.n, width(rng, max_width) if rows is None else rows
    wfmt = Bipolar() if rng.random() < (0.2 if pre else 0.25) else int_fmt(rng)
    w = weights(rng, wfmt, rows, cols)
    if pre:
        wscale = rng.uniform(0.01, 0.2, size=rows) if rng.random() < 0.5 else float(rng.uniform(0.01, 0.2))
        return MatVec(name, input=src, weight=w, wfmt=wfmt, wscale=wscale)
    bias = rng.integers(-40, 41, size=rows) if rng.random() < 0.5 else None
    return MatVec(name, input=src, weight=w, wfmt=wfmt, wscale=1.0, bias=bias)


def post_layer(rng, ops: list, op: MatVec, last: bool, *, int_only: bool = False,
               scale: float | None = None) -> None:
    """Append ``op`` (a MatVec or convolution) [+ MultiThreshold | Requant] in the form
    streamlining produces.  ``int_only``/``scale``: the layer must end in Int codes of that
    scale (it feeds an Add or a padded or causal convolution)."""
    in_t = type_of(ops, op.input)
    ops.append(op)
    acc = sample(ops, rng)
    lo, hi = op.bounds(in_t.fmt)
    r = rng.random()
    if int_only and r >= 0.85:
        r = 0.0
    extra = {} if scale is None else {"scale": scale}
    if r < 0.6 or (not last and r < 0.8):
        fmt = act_fmt(rng, int_only)
        if isinstance(fmt, Bipolar):
            levels, out_bias = 1, 0
        else:
            levels = min(fmt.max - fmt.min, int(rng.choice([1, 1, 2, 3, 4, 7, 15])))
            out_bias = int(rng.integers(fmt.min, fmt.max - levels + 1))
        ops.append(MultiThreshold(f"{op.name}_act", input=op.name, fmt=fmt, out_bias=out_bias,
                                  thresholds=thresholds(rng, acc, lo, hi, levels), **extra))
    elif r < 0.85:
        fmt = int_fmt(rng)
        peak = max(int(np.abs(acc).max()), 1)
        mult = int(rng.integers(1, 1 << int(rng.integers(1, 10))))
        want = (peak * mult).bit_length() - fmt.bits + 1
        shift = int(np.clip(want + rng.integers(-2, 3), 0, 40))
        ops.append(Requant(f"{op.name}_rq", input=op.name, mult=mult, shift=shift, fmt=fmt, **extra))
    if scale is None and rng.random() < 0.15 and isinstance(fmt_of(ops), Int):
        standalone(rng, ops, f"{op.name}_post", int_only=int_only)


def standalone(rng, ops: list, name: str, *, src: str | None = None, int_only: bool = False,
               scale: float | None = None) -> None:
    """A MultiThreshold or Requant on Int codes of ``src`` (default the last op), not after a
    MatVec (a ThresholdUnit)."""
    src = src or ops[-1].name
    x = sample(ops, rng, name=src)
    fmt_in = type_of(ops, src).fmt
    lo = np.full(x.shape[1], fmt_in.min)
    hi = np.full(x.shape[1], fmt_in.max)
    extra = {} if scale is None else {"scale": scale}
    if rng.random() < 0.6:
        fmt = act_fmt(rng, int_only)
        if isinstance(fmt, Bipolar):
            levels, out_bias = 1, 0
        else:   # every element has its own comparators here: keep n·levels small
            levels = int(rng.integers(1, max(1, min(fmt.max - fmt.min, 15, 64 // x.shape[1])) + 1))
            out_bias = int(rng.integers(fmt.min, fmt.max - levels + 1))
        ops.append(MultiThreshold(name, input=src, fmt=fmt, out_bias=out_bias,
                                  thresholds=thresholds(rng, x, lo, hi, levels), **extra))
    else:
        fmt = int_fmt(rng)
        peak = max(abs(fmt_in.min), abs(fmt_in.max), 1)
        mult = int(rng.integers(1, 64))
        shift = int(np.clip((peak * mult).bit_length() - fmt.bits + rng.integers(-1, 3), 0, 40))
        ops.append(Requant(name, input=src, mult=mult, shift=shift, fmt=fmt, **extra))


def pre_layer(rng, ops: list, op: MatVec, last: bool, *, int_only: bool = False,
              scale: float | None = None) -> None:
    """Append ``op`` → [Affine] → Quant (or, last, a real output), as a frontend imports.
    ``scale``: the Quant's scale is given (an Add reads it) and the batch-norm is stretched so
    that the values still spread over the codes."""
    rows = op.rows
    ops.append(op)
    if last and scale is None and rng.random() < 0.35:
        if rng.random() < 0.6:
            ops.append(Affine(f"{op.name}_bias", input=op.name, mul=np.ones(rows),
                              add=rng.normal(0, 1, size=rows)))
        return
    mul, add = np.ones(rows), np.zeros(rows)
    if rng.random() < 0.8 or scale is not None:
        mul = rng.normal(0, 1, size=rows)
        mul[rng.random(rows) < 0.05] = 0.0
        add = rng.normal(0, 0.5, size=rows)
        ops.append(Affine(f"{op.name}_bn", input=op.name, mul=mul, add=add))
    real = sample(ops, rng)
    fmt = act_fmt(rng, int_only)
    spread = float(np.percentile(real, 99) - np.percentile(real, 1)) or 1.0
    levels = 2 if isinstance(fmt, Bipolar) else fmt.max - fmt.min + 1
    natural = max(spread / levels * float(rng.uniform(0.5, 2.0)), 1e-6)
    if scale is not None:
        stretch = scale / natural
        ops[-1] = ops[-1].replace(mul=mul * stretch, add=add * stretch)
    ops.append(Quant(f"{op.name}_q", input=ops[-1].name, fmt=fmt, scale=natural if scale is None else scale))
