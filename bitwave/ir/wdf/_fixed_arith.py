"""Integer arithmetic of the fixed-point WDF models: rounding shifts, overflow, re-expressing a
code in another format, and the checks their specifications share.

Every helper works on Python integers (exact at any width); the hardware
(:mod:`bitwave.hdl._wdf`) implements the same operations bit for bit.
"""

from __future__ import annotations

import numpy as np

from ...errors import VerifyError
from .._formats import Fixed, Overflow, Rounding

__all__ = ["shift_round", "fit", "requant", "check_fixed", "check_int", "check_input_codes"]


def shift_round(v: int, shift: int, rounding: Rounding) -> int:
    """``v · 2**-shift`` as an integer: round half up, floor, or toward zero (magnitude)."""
    if shift <= 0:
        return v << -shift
    if rounding is Rounding.NEAREST:
        return (v + (1 << (shift - 1))) >> shift
    if rounding is Rounding.MAGNITUDE and v < 0:
        return -((-v) >> shift)
    return v >> shift


def fit(v: int, fmt: Fixed) -> int:
    """Bring the code ``v`` into ``fmt``'s range by saturation or two's-complement wrap."""
    lo, hi = fmt.min, fmt.max
    if lo <= v <= hi:
        return v
    if fmt.overflow is Overflow.SATURATE:
        return lo if v < lo else hi
    return ((v - lo) & ((1 << fmt.width) - 1)) + lo


def requant(v: int, frac: int, fmt: Fixed) -> int:
    """A code with ``frac`` fraction bits, re-expressed in ``fmt`` (its rounding and overflow)."""
    return fit(shift_round(v, frac - fmt.frac_bits, fmt.rounding), fmt)


def check_fixed(owner: str, what: str, fmt) -> None:
    if not isinstance(fmt, Fixed) or not fmt.signed:
        raise VerifyError(f"{owner}: {what} must be a signed Fixed format, not {fmt!r}")
    if fmt.width > 62:
        raise VerifyError(f"{owner}: {what} is {fmt.width} bits wide; at most 62 fit the "
                          f"int64 arrays of the golden model")


def check_int(owner: str, what: str, value, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise VerifyError(f"{owner}: {what} must be an integer in [{lo}, {hi}], not {value!r}")
    return int(value)


def check_input_codes(owner: str, x_int, fmt: Fixed) -> np.ndarray:
    """``x_int`` as a 1-D integer array of codes inside ``fmt``, or a VerifyError saying why not."""
    x = np.asarray(x_int)
    if x.ndim != 1 or not np.issubdtype(x.dtype, np.integer):
        raise VerifyError(f"{owner}: input must be a 1-D integer array, not {x.dtype} "
                          f"of shape {x.shape}")
    if x.size and (x.min() < fmt.min or x.max() > fmt.max):
        raise VerifyError(f"{owner}: input codes must lie in [{fmt.min}, {fmt.max}] ({fmt}); "
                          f"saturate or rescale first")
    return x
