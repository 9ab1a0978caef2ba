"""Joins, the ops that read two tensors: ``Add`` (a residual branch) and ``Concat`` (channels).

A graph whose ops are all single-input is a chain; a join makes it a DAG: some
op's output is read twice (the fork), once by each of two paths, and the two
meet again in the join.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import ClassVar

import numpy as np

from ._formats import Bipolar, Int, int_format_for
from ._ops import Op, _vt

__all__ = ["Join", "Add", "Concat", "add_multipliers"]


def add_multipliers(sa: np.ndarray, sb: np.ndarray, limit: int = 1 << 8):
    """Integers ``(mult_a, mult_b)`` with ``sa·mult_b = sb·mult_a`` on every channel (so
    ``sa = mult_a·s`` and ``sb = mult_b·s`` for the output scale ``s = sb / mult_b``), or None
    when the scales are in no such ratio with both at most ``limit`` (then the codes cannot be
    added exactly)."""
    ratio = np.asarray(sa, dtype=np.float64) / np.asarray(sb, dtype=np.float64)
    if not np.allclose(ratio, ratio[0], rtol=1e-12, atol=0):
        return None
    frac = Fraction(float(ratio[0])).limit_denominator(limit)
    if frac.numerator < 1 or frac.numerator > limit \
            or abs(float(frac) - ratio[0]) > 1e-9 * ratio[0]:
        return None
    return frac.numerator, frac.denominator


@dataclass(frozen=True)
class Join(Op):
    """An op reading two tensors, ``input`` and ``other`` (see :class:`Add`, :class:`Concat`)."""
    input: str = ""
    other: str = ""

    def __post_init__(self):
        super().__post_init__()
        if not isinstance(self.other, str) or not self.other.isidentifier():
            raise self.error(f"other must name the op it joins, not {self.other!r}")

    @property
    def reads(self) -> tuple[str, str]:
        return (self.input, self.other)

    def _both(self, b):
        if b is None:
            raise self.error(f"a {type(self).__name__} needs the types of both operands")

    def combine(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """The output codes of operand codes ``a`` and ``b`` (``(N, *shape)``, channels last)."""
        raise NotImplementedError


@dataclass(frozen=True)
class Add(Join):
    """``input·mult_a + other·mult_b`` on the integer codes, per element (exact).

    The real value is ``(a·sa) + (b·sb)``; with ``sa = mult_a·s`` and ``sb =
    mult_b·s`` the codes add exactly into an output of scale ``s`` (a shared
    quantiser on both operands gives ``mult_a = mult_b = 1``).  Both operands
    have one shape; the output format is the narrowest holding every sum.
    """
    mult_a: int = 1
    mult_b: int = 1
    opcode: ClassVar[str] = "add"

    def __post_init__(self):
        super().__post_init__()
        for name in ("mult_a", "mult_b"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise self.error(f"{name} must be a positive integer, not {v!r}")

    def combine(self, a, b):
        return a * self.mult_a + b * self.mult_b

    def out_type(self, a, b=None):
        self._both(b)
        for side, t in (("input", a), ("other", b)):
            if not isinstance(t.fmt, Int) or isinstance(t.fmt, Bipolar):
                raise self.error(f"{side} must be Int codes, not {t.fmt}; quantise both "
                                 "operands (a shared quantiser or QuantEltwiseAdd)")
        if a.shape != b.shape:
            raise self.error(f"operands have shapes {a.shape} and {b.shape}; they must be equal")
        sa, sb = a.scales, b.scales
        if not np.allclose(sa * self.mult_b, sb * self.mult_a, rtol=1e-9, atol=0):
            raise self.error(f"scales {sa[0]:.6g}·{self.mult_b} and {sb[0]:.6g}·{self.mult_a} "
                             "differ: the codes would not add to the real sum")
        lo = a.fmt.min * self.mult_a + b.fmt.min * self.mult_b
        hi = a.fmt.max * self.mult_a + b.fmt.max * self.mult_b
        return _vt(a.n, int_format_for(lo, hi), sb / self.mult_b, a.shape)


@dataclass(frozen=True)
class Concat(Join):
    """The channels of ``input`` followed by those of ``other``, at every position.

    Both operands have one spatial shape (``(n,)`` vectors concatenate to ``(na + nb,)``) and
    Int codes (or both bipolar); each channel keeps its own scale, so nothing is rescaled and
    the codes pass unchanged.  The output format is the narrowest holding both operands'.
    """
    opcode: ClassVar[str] = "concat"

    def combine(self, a, b):
        return np.concatenate([a, b], axis=-1)

    def out_type(self, a, b=None):
        self._both(b)
        bipolar = [isinstance(t.fmt, Bipolar) for t in (a, b)]
        for side, t in (("input", a), ("other", b)):
            if not isinstance(t.fmt, (Int, Bipolar)):
                raise self.error(f"{side} must be quantised (Int or bipolar codes), not {t.fmt}")
        if bipolar[0] != bipolar[1]:
            raise self.error(f"operands are {a.fmt} and {b.fmt}: concatenate two bipolar tensors "
                             "or two multi-bit ones")
        if a.shape[:-1] != b.shape[:-1] or len(a.shape) != len(b.shape):
            raise self.error(f"operands have shapes {a.shape} and {b.shape}; all but the channels "
                             "(the last axis) must be equal")
        shape = a.shape[:-1] + (a.channels + b.channels,) if a.shape else (a.n + b.n,)
        fmt = a.fmt if bipolar[0] else int_format_for(min(a.fmt.min, b.fmt.min), max(a.fmt.max, b.fmt.max))
        return _vt(a.n + b.n, fmt, np.concatenate([a.scales, b.scales]), shape)
