"""Monotone real functions a ``Quant`` may apply before quantising (``Quant.act``).

Brevitas evaluates ``QuantSigmoid``/``QuantTanh`` in float32: the function on
the float32 pre-activation, then ``x / scale`` in float32, then round half to
even.  :func:`quantise_activation` does exactly that in numpy float32, so the
codes are the ones float32 decides (the interpreter and ``streamline`` both
call it).  Every member is non-decreasing, which is what lets ``streamline``
turn the quantised function into integer thresholds.

ReLU, ReLU6, hard-tanh and ``Clip`` need no member: they only restrict the
code range, which the quantiser's format expresses (the QONNX reader folds
them into it).
"""

from __future__ import annotations

import enum

import numpy as np

__all__ = ["Activation", "apply_activation", "quantise_activation"]


class Activation(enum.Enum):
    """A monotone non-decreasing real function, evaluated in float32."""
    SIGMOID = "sigmoid"      # 1 / (1 + exp(-x))
    TANH = "tanh"


def apply_activation(act: Activation, x: np.ndarray) -> np.ndarray:
    """``act`` of ``x`` rounded to float32 first, computed in float32 (as torch on the CPU)."""
    x = np.asarray(x, dtype=np.float32)
    with np.errstate(over="ignore"):
        if act is Activation.SIGMOID:
            one = np.float32(1)
            return one / (one + np.exp(-x))
        if act is Activation.TANH:
            return np.tanh(x)
    raise ValueError(f"unknown activation {act!r}")


def quantise_activation(act: Activation, real: np.ndarray, scale: np.ndarray, lo: int,
                        hi: int) -> np.ndarray:
    """``clip(round_half_even(act(real) / scale), lo, hi)`` with every step in float32."""
    y = apply_activation(act, real)
    q = np.rint(y / np.asarray(scale, dtype=np.float32))
    return np.clip(q, lo, hi).astype(np.int64)
