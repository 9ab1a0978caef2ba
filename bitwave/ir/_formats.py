"""Number formats: types, never strings.

Every value in the IR carries a format.  Integer formats hold exact integers
(a real value is ``integer * scale``, the scale living on the value's type);
``Bipolar`` holds -1/+1 (stored in hardware as one bit, 1 meaning +1);
``Fixed`` is a fixed-point type with explicit rounding and overflow;
``Real`` marks the real-valued intermediates that exist only before
streamlining (batch-norm outputs, float biases) and never reach hardware.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


from ..errors import VerifyError

__all__ = ["Format", "Int", "Bipolar", "Fixed", "Real", "Rounding", "Overflow", "int_format_for"]


class Rounding(enum.Enum):
    NEAREST = "nearest"      # round half up, floor(x + 1/2): one adder in hardware
    TRUNCATE = "truncate"    # toward minus infinity (drop bits)
    MAGNITUDE = "magnitude"  # toward zero (magnitude truncation): keeps a WDF passive


class Overflow(enum.Enum):
    SATURATE = "saturate"
    WRAP = "wrap"


class Format:
    """Base of all formats; ``is_integer``: values are integer codes (times a scale)."""
    __slots__ = ()
    is_integer = False


class _Binary(Format):
    """An integer format of ``width`` bits, two's complement when ``signed``."""
    __slots__ = ()
    is_integer = True

    @property
    def min(self) -> int:
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def max(self) -> int:
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1


@dataclass(frozen=True)
class Int(_Binary):
    """A two's-complement (``signed``) or unsigned integer of ``bits`` bits."""
    bits: int
    signed: bool = True

    def __post_init__(self):
        if not isinstance(self.bits, int) or isinstance(self.bits, bool) or self.bits < 1:
            raise VerifyError(f"Int: bits must be a positive integer, not {self.bits!r}")
        if self.bits > 64:
            raise VerifyError(f"Int: bits must be at most 64, not {self.bits}")
        if not isinstance(self.signed, bool):
            raise VerifyError(f"Int: signed must be a bool, not {self.signed!r}")

    @property
    def width(self) -> int:
        """Bits one element takes in hardware."""
        return self.bits

    def __str__(self):
        return f"{'i' if self.signed else 'u'}{self.bits}"


@dataclass(frozen=True)
class Bipolar(Format):
    """Values -1 and +1, stored as one bit (1 means +1)."""
    is_integer = True

    @property
    def min(self) -> int:
        return -1

    @property
    def max(self) -> int:
        return 1

    @property
    def width(self) -> int:
        return 1

    @property
    def signed(self) -> bool:
        return True

    def __str__(self):
        return "bipolar"


@dataclass(frozen=True)
class Fixed(_Binary):
    """Fixed point: ``int_bits`` integer bits (including sign when signed) and ``frac_bits``."""
    int_bits: int
    frac_bits: int
    signed: bool = True
    rounding: Rounding = Rounding.NEAREST
    overflow: Overflow = Overflow.SATURATE

    def __post_init__(self):
        for field in ("int_bits", "frac_bits"):
            v = getattr(self, field)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise VerifyError(f"Fixed: {field} must be a non-negative integer, not {v!r}")
        if self.int_bits + self.frac_bits < 1:
            raise VerifyError("Fixed: int_bits + frac_bits must be at least 1")
        if not isinstance(self.rounding, Rounding):
            raise VerifyError(f"Fixed: rounding must be a Rounding, not {self.rounding!r}")
        if not isinstance(self.overflow, Overflow):
            raise VerifyError(f"Fixed: overflow must be an Overflow, not {self.overflow!r}")

    @property
    def width(self) -> int:
        return self.int_bits + self.frac_bits

    @property
    def lsb(self) -> float:
        return 2.0 ** -self.frac_bits

    def __str__(self):
        return f"fixed<{self.int_bits}.{self.frac_bits}{'' if self.signed else 'u'}>"


@dataclass(frozen=True)
class Real(Format):
    """A real-valued intermediate (float64 in the interpreter); never reaches hardware."""

    def __str__(self):
        return "real"


def int_format_for(lo: int, hi: int) -> Int:
    """The narrowest Int holding every integer in [lo, hi]."""
    lo, hi = int(lo), int(hi)
    if lo >= 0:
        return Int(max(1, hi.bit_length()), signed=False)
    bits = max((-lo - 1).bit_length(), max(hi, 0).bit_length()) + 1
    return Int(bits, signed=True)

