"""``Const``: the immutable arrays ops hold, and the checked constructors ops build them with."""

from __future__ import annotations

import numpy as np

from ..errors import VerifyError

__all__ = ["Const"]


class Const:
    """An immutable numpy array with value equality (so ops can be compared and hashed)."""
    __slots__ = ("array",)

    def __init__(self, value, dtype):
        arr = np.array(value, dtype=dtype)
        arr.setflags(write=False)
        object.__setattr__(self, "array", arr)

    def __setattr__(self, key, value):
        raise AttributeError("Const is immutable")

    def __eq__(self, other):
        return (isinstance(other, Const) and self.array.dtype == other.array.dtype
                and self.array.shape == other.array.shape
                and bool(np.array_equal(self.array, other.array)))

    def __hash__(self):
        return hash((self.array.shape, self.array.tobytes()))

    def __reduce__(self):     # pickling (Dask ships graphs to workers) rebuilds through __init__
        return Const, (self.array, self.array.dtype)

    def __repr__(self):
        return f"Const(shape={self.array.shape}, dtype={self.array.dtype})"

    @property
    def shape(self):
        return self.array.shape


def _ints(value, what: str, op: str) -> Const:
    arr = np.asarray(value.array if isinstance(value, Const) else value)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)):
            raise VerifyError(f"{op}: {what} contains NaN or Inf")
        if not np.all(arr == np.round(arr)):
            raise VerifyError(f"{op}: {what} must be integers")
    elif arr.dtype.kind not in "iub":
        raise VerifyError(f"{op}: {what} must be an integer array, not {arr.dtype}")
    return Const(arr, np.int64)


def _reals(value, what: str, op: str) -> Const:
    arr = np.asarray(value.array if isinstance(value, Const) else value, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise VerifyError(f"{op}: {what} contains NaN or Inf")
    return Const(arr, np.float64)
