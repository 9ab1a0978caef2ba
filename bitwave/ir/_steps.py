"""The host-side arithmetic a model applies to its raw input before the input quantiser.

Brevitas' bnn_pynq models compute ``2·x − 1`` on the raw pixels and then
quantise; that arithmetic is part of converting a sample to input codes, so
the IR ``Input`` carries it as a tuple of :class:`InputStep` (``Input.pre``),
applied in order in float32, exactly as the model computes it.  ``x − c`` is
``x + (−c)`` and ``c − x`` is ``(x · −1) + c``, both exact in IEEE arithmetic,
so three operations cover what a QONNX export writes.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np

from ..errors import VerifyError

__all__ = ["Arith", "InputStep", "apply_steps"]


class Arith(enum.Enum):
    ADD = "add"      # x + value
    MUL = "mul"      # x * value
    DIV = "div"      # x / value


@dataclass(frozen=True)
class InputStep:
    """One float32 operation ``x <op> value`` on every element of the raw input."""
    op: Arith
    value: float

    def __post_init__(self):
        if not isinstance(self.op, Arith):
            raise VerifyError(f"InputStep: op must be an Arith (Arith.ADD, Arith.MUL, Arith.DIV), "
                              f"not {self.op!r}")
        value = float(self.value)
        if not math.isfinite(value) or value != float(np.float32(value)):
            raise VerifyError(f"InputStep: value must be a finite float32 number, not {self.value!r}")
        if self.op is Arith.DIV and value == 0:
            raise VerifyError("InputStep: division by zero")
        object.__setattr__(self, "value", value)

    def __str__(self):
        sym = {Arith.ADD: "+", Arith.MUL: "·", Arith.DIV: "/"}[self.op]
        if self.op is Arith.ADD and self.value < 0:
            return f"− {-self.value:g}"
        return f"{sym} {self.value:g}"


def apply_steps(steps, x: np.ndarray) -> np.ndarray:
    """``x`` rounded to float32, then each step in order, in float32."""
    y = np.asarray(x, dtype=np.float32)
    for s in steps:
        v = np.float32(s.value)
        y = y + v if s.op is Arith.ADD else y * v if s.op is Arith.MUL else y / v
    return y
