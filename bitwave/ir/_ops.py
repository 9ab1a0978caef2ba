"""IR ops: small frozen dataclasses, one class per op, validated on construction.

A graph is a chain of ops (each op names the op it reads by ``input``); every
op produces one tensor per sample.  A tensor has a shape, channels last:
``(n,)`` for a vector, ``(L, C)`` for a 1-D signal, ``(H, W, C)`` for an
image; per-element parameters (scales, thresholds, affine factors) are given
per channel (the last axis) and hold for every position.  The real value of an
integer-format tensor is ``code * scale`` with a per-channel ``scale``; the
scales exist for the float comparison and for streamlining, the hardware
only ever sees the integer codes.

| op             | reads      | computes (per sample)                                        |
|----------------|------------|--------------------------------------------------------------|
| Input          | —          | codes of the quantised input, ``clip(round(x / scale))``     |
| MatVec         | Int/Bipolar| ``W @ x + bias`` exactly (integer W, integer bias)          |
| Conv           | Int/Bipolar| a MatVec over every window of an image or signal (im2col)  |
| CausalConv     | Int/Bipolar| a MatVec over the last taps of a stream; **stateful**       |
| Pool           | Int/Bipolar| max (or exact sum, for average) over every window          |
| Flatten        | any        | an image as one vector in PyTorch's ``C·H·W`` order        |
| Affine         | any        | real ``x * mul + add`` (batch-norm, float bias; pre-streamline only) |
| Quant          | any        | ``clip(round(real / scale))`` (or sign for Bipolar)         |
|                |            | with ``act``: ``clip(round(act(real) / scale))`` in float32  |
| MultiThreshold | Int        | ``out_bias + #{k : x >= T[k]}`` (sign for Bipolar output)   |
| Requant        | Int        | ``clip((x * mult + 2**(shift-1)) >> shift)``                |
| Output         | any        | passes its input through; marks the graph's result          |
| Wdf            | Int / real | one wave digital filter per channel; **stateful** (see below)|

``Wdf`` and ``CausalConv`` have memory: row ``k`` of a batch is the sample
after row ``k − 1``, each starting from rest (zeros) at row 0, so a batch must
be one stream in time order (the interpreter runs it in order; splitting or
shuffling a batch changes the result).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import ClassVar

import numpy as np

from ..errors import VerifyError
from ._activation import Activation
from ._const import Const, _ints, _reals
from ._formats import Bipolar, Format, Int, Real, int_format_for
from ._steps import Arith, InputStep

__all__ = [
    "Const", "ValueType", "Op", "Input", "MatVec", "Affine", "Quant", "MultiThreshold",
    "Requant", "Output", "code_min", "channels_last",
]


@dataclass(frozen=True)
class ValueType:
    """Type of one op's output: element count, format, per-channel real scale and shape.

    ``shape`` is channels last (``(n,)`` for a vector, ``(H, W, C)`` for an
    image); ``scale`` has one entry per channel (``shape[-1]``).
    """
    n: int
    fmt: Format
    scale: Const
    shape: tuple[int, ...] = ()

    def __post_init__(self):
        shape = tuple(int(d) for d in self.shape) or (self.n,)
        object.__setattr__(self, "shape", shape)
        if math.prod(shape) != self.n or min(shape) < 1:
            raise VerifyError(f"ValueType: shape {shape} does not hold {self.n} elements")
        if self.scale.shape != (self.channels,):
            raise VerifyError(f"ValueType: scale has shape {self.scale.shape}, "
                              f"expected ({self.channels},)")

    @property
    def channels(self) -> int:
        return self.shape[-1]

    @property
    def positions(self) -> int:
        """Spatial positions (pixels, time steps of a frame): 1 for a vector."""
        return self.n // self.channels

    @property
    def spatial(self) -> tuple[int, ...]:
        return self.shape[:-1]

    @property
    def scales(self) -> np.ndarray:
        """The per-channel scale."""
        return self.scale.array

    def real(self, codes: np.ndarray) -> np.ndarray:
        """Real values of codes shaped ``(N, n)`` or ``(N, *shape)``."""
        codes = np.asarray(codes)
        if not self.fmt.is_integer:
            return codes
        return (codes.reshape(codes.shape[0], -1, self.channels) * self.scales).reshape(codes.shape)


def _vt(n: int, fmt: Format, scale, shape=()) -> ValueType:
    channels = shape[-1] if shape else n
    s = np.broadcast_to(np.asarray(scale, dtype=np.float64), (channels,))
    return ValueType(n, fmt, Const(s, np.float64), tuple(shape))


def channels_last(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The IR shape of a model tensor shaped ``(C, *spatial)`` (PyTorch's layout)."""
    return tuple(shape[1:]) + (shape[0],) if len(shape) >= 2 else tuple(shape)


def _flat(op, inp: ValueType, what: str):
    if len(inp.shape) != 1:
        raise op.error(f"{what} reads a flat vector, not a tensor of shape {inp.shape} "
                       f"(channels last); flatten it first (nn.Flatten in the model)")


@dataclass(frozen=True)
class Op:
    """Base of all ops.

    ``src`` is where the op came from, for messages (:attr:`where`): the PyTorch
    module path (or QONNX node name) and, when the frontend recorded it, the
    ``file.py:line`` that defines the module, e.g. ``"fc2, examples/digits.py:62"``
    (:func:`bitwave.frontend.record_sources`).  Passes that rebuild an op keep its ``src``.
    """
    name: str
    src: str = field(default="", kw_only=True)
    opcode: ClassVar[str] = "op"

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise VerifyError(f"{type(self).__name__}: name must be an identifier, not {self.name!r}")

    @property
    def where(self) -> str:
        return f"op {self.name}" + (f" ({self.src})" if self.src else "")

    def error(self, message: str) -> VerifyError:
        return VerifyError(f"{self.opcode}: {self.where}: {message}")

    def out_type(self, inp: ValueType | None) -> ValueType:
        raise self.error(f"{type(self).__name__} defines no out_type")

    def replace(self, **changes) -> "Op":
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return type(self)(**values)


def _check_narrow(op):
    """``narrow``: the codes of a signed Int without its minimum (QONNX's narrow range, e.g. [-1, 1])."""
    if not isinstance(op.narrow, bool):
        raise op.error(f"narrow must be a bool, not {op.narrow!r}")
    if op.narrow and not (isinstance(op.fmt, Int) and op.fmt.signed and op.fmt.bits >= 2):
        raise op.error(f"narrow needs a signed Int of at least 2 bits, not {op.fmt}")


def code_min(op) -> int:
    """The smallest code of an ``Input`` or ``Quant`` (one above the format's minimum when narrow)."""
    return op.fmt.min + int(op.narrow)


@dataclass(frozen=True)
class Input(Op):
    """The network input: ``n`` elements quantised to ``fmt`` with real step ``scale``.

    ``narrow``: signed codes without the minimum (see :class:`Quant`).
    ``pre``: the model's own arithmetic on the raw input before its quantiser
    (e.g. ``2·x − 1``), :class:`InputStep` s applied in order in float32 by
    :func:`bitwave.ir.quantise_input`, which then divides in float32 too.
    ``shape``: the model's input shape without the batch, as the model reads
    it, channels first (e.g. ``(1, 8, 8)`` for an 8×8 image, ``(n,)`` or
    empty for a vector); the codes inside the graph are channels last
    (:func:`channels_last`), which the host does when it quantises.
    """
    n: int = 1
    fmt: Format = Int(8)
    scale: float = 1.0
    shape: tuple[int, ...] = field(default=(), metadata={"text": "unless-default"})
    pre: tuple[InputStep, ...] = field(default=(), metadata={"text": "unless-default"})
    narrow: bool = field(default=False, metadata={"text": "unless-default"})
    opcode: ClassVar[str] = "input"

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "scale", float(self.scale))
        object.__setattr__(self, "pre", tuple(self.pre))
        if not all(isinstance(s, InputStep) for s in self.pre):
            raise self.error(f"pre must be InputStep records, not {self.pre!r}")
        _check_narrow(self)
        if not isinstance(self.n, int) or self.n < 1:
            raise self.error(f"n must be a positive integer, not {self.n!r}")
        shape = tuple(self.shape)
        if shape == (self.n,):
            shape = ()
        object.__setattr__(self, "shape", shape)
        if shape and (not all(isinstance(d, int) and d >= 1 for d in shape)
                      or math.prod(shape) != self.n or len(shape) > 3):
            raise self.error(f"shape must be up to 3 positive sizes (channels first) holding "
                             f"n={self.n} elements, not {shape!r}")
        if not isinstance(self.fmt, (Int, Bipolar)):
            raise self.error(f"input format must be Int or Bipolar, not {self.fmt}")
        if not (math.isfinite(self.scale) and self.scale > 0):
            raise self.error(f"scale must be a positive finite number, not {self.scale!r}")

    @property
    def ir_shape(self) -> tuple[int, ...]:
        """The shape of the codes in the graph: channels last."""
        return channels_last(self.shape) if self.shape else (self.n,)

    def out_type(self, inp):
        return _vt(self.n, self.fmt, self.scale, self.ir_shape)

    def conversion(self) -> str:
        """One line for the report: how a raw sample becomes input codes on the host."""
        expr, sums = "x", False
        for step in self.pre:
            if step.op is not Arith.ADD and sums:
                expr = f"({expr})"
            sums = step.op is Arith.ADD
            expr += f" {step}"
        quant = ("sign (−1/+1)" if isinstance(self.fmt, Bipolar)
                 else f"round(y / {self.scale:g}) clipped to {self.fmt}")
        if len(self.shape) >= 2:
            quant += (f", sent channels last ({' × '.join(map(str, self.ir_shape))}, one pixel "
                      f"of {self.ir_shape[-1]} per beat)")
        if not self.pre:
            return f"Input conversion (host): y = x, then {quant}."
        return f"Input conversion (host, float32 as the model): y = {expr}, then {quant}."


@dataclass(frozen=True)
class MatVec(Op):
    """``acc = weight @ x + bias`` in exact integer arithmetic.

    ``weight`` holds integer codes in ``wfmt`` (for Bipolar, -1/+1), ``wscale``
    their per-row real scale, ``bias`` integer codes in accumulator units.
    ``acc`` is the accumulator format (None until bit-width inference); ``pe``
    and ``simd`` the hardware parallelism chosen by folding.
    """
    input: str = ""
    weight: Const = None
    wfmt: Format = Int(8)
    wscale: Const = None
    bias: Const | None = None
    acc: Int | None = None
    pe: int = 1
    simd: int = 1
    opcode: ClassVar[str] = "matvec"

    def __post_init__(self):
        super().__post_init__()
        w = _ints(self.weight, "weight", self.where)
        if w.array.ndim != 2 or 0 in w.shape:
            raise self.error(f"weight must be a non-empty 2-D matrix, not shape {w.shape}")
        object.__setattr__(self, "weight", w)
        rows = w.shape[0]
        ws = _reals(1.0 if self.wscale is None else self.wscale, "wscale", self.where)
        if ws.array.size not in (1, rows):
            raise self.error(f"wscale has {ws.array.size} entries, expected 1 or one per row ({rows})")
        ws = Const(np.broadcast_to(ws.array.reshape(-1), (rows,)), np.float64)
        object.__setattr__(self, "wscale", ws)
        if self.bias is not None:
            b = _ints(self.bias, "bias", self.where)
            if b.shape != (rows,):
                raise self.error(f"bias has shape {b.shape}, expected ({rows},)")
            object.__setattr__(self, "bias", b)
        if not isinstance(self.wfmt, (Int, Bipolar)):
            raise self.error(f"weight format must be Int or Bipolar, not {self.wfmt}")
        lo, hi = int(w.array.min()), int(w.array.max())
        if isinstance(self.wfmt, Bipolar):
            if not np.all(np.abs(w.array) == 1):
                raise self.error("Bipolar weights must all be -1 or +1")
        elif lo < self.wfmt.min or hi > self.wfmt.max:
            raise self.error(f"weights span [{lo}, {hi}], outside {self.wfmt} "
                             f"[{self.wfmt.min}, {self.wfmt.max}]")
        for p in ("pe", "simd"):
            v = getattr(self, p)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise self.error(f"{p} must be a positive integer, not {v!r}")
        if self.rows % self.pe:
            raise self.error(f"pe={self.pe} does not divide rows={self.rows}")
        if self.cols % self.simd:
            raise self.error(f"simd={self.simd} does not divide cols={self.cols}")
        if self.acc is not None and not isinstance(self.acc, Int):
            raise self.error(f"accumulator format must be Int, not {self.acc}")

    @property
    def rows(self) -> int:
        return self.weight.shape[0]

    @property
    def cols(self) -> int:
        return self.weight.shape[1]

    @property
    def cycles(self) -> int:
        """Cycles per input vector at this folding: (rows/pe)·(cols/simd)."""
        return (self.rows // self.pe) * (self.cols // self.simd)

    def bounds(self, in_fmt: Format) -> tuple[np.ndarray, np.ndarray]:
        """Exact per-row (min, max) of the accumulator over every input in ``in_fmt``."""
        w = self.weight.array
        lo_x, hi_x = in_fmt.min, in_fmt.max
        a, b = w * lo_x, w * hi_x
        lo = np.minimum(a, b).sum(axis=1)
        hi = np.maximum(a, b).sum(axis=1)
        if isinstance(in_fmt, Bipolar):
            # -1/+1 only: products are ±|w|, the extremes are reached exactly.
            lo, hi = -np.abs(w).sum(axis=1), np.abs(w).sum(axis=1)
        if self.bias is not None:
            lo = lo + self.bias.array
            hi = hi + self.bias.array
        return lo, hi

    def acc_format(self, in_fmt: Format, thresholds: np.ndarray | None = None) -> Int:
        """The narrowest signed accumulator holding every value of :meth:`bounds`, widened so
        that ``thresholds`` (of a following MultiThreshold) are representable too."""
        lo, hi = self.bounds(in_fmt)
        lo_v, hi_v = int(lo.min()), int(hi.max())
        if thresholds is not None and thresholds.size:
            lo_v, hi_v = min(lo_v, int(thresholds.min())), max(hi_v, int(thresholds.max()))
        fmt = int_format_for(lo_v, hi_v)
        return fmt if fmt.signed else Int(fmt.bits + 1, True)

    def out_type(self, inp):
        if not inp.fmt.is_integer or not isinstance(inp.fmt, (Int, Bipolar)):
            raise self.error(f"input must be Int or Bipolar, not {inp.fmt}; "
                             "quantise it first (a Quant op before this MatVec)")
        _flat(self, inp, "a MatVec")
        if inp.n != self.cols:
            raise self.error(f"input has {inp.n} elements but weight has {self.cols} columns")
        acc, scale = self.accumulator(inp)
        return _vt(self.rows, acc, scale)

    def accumulator(self, inp) -> tuple[Int, np.ndarray]:
        """The accumulator format (``acc``, or the exact-bound one when None) and the per-row
        real scale of the result on input ``inp``, which must have one scale for all elements
        (shared by the convolutions, whose input is a window of ``inp``)."""
        s = inp.scales
        if not np.allclose(s, s[0], rtol=1e-12, atol=0):
            raise self.error(f"input scale differs between elements; {type(self).__name__} needs "
                             "a per-tensor input scale")
        lo, hi = self.bounds(inp.fmt)
        need = int_format_for(int(lo.min()), int(hi.max()))
        need = Int(need.bits + (0 if need.signed else 1), True)
        acc = self.acc
        if acc is None:
            acc = need
        elif int(lo.min()) < acc.min or int(hi.max()) > acc.max:
            raise self.error(f"accumulator {acc} cannot hold the exact range "
                             f"[{int(lo.min())}, {int(hi.max())}]; it needs at least {need}")
        return acc, self.wscale.array * s[0]


@dataclass(frozen=True)
class Affine(Op):
    """Real-valued ``x * mul + add`` per channel (batch-norm, float bias); removed by streamlining."""
    input: str = ""
    mul: Const = None
    add: Const = None
    opcode: ClassVar[str] = "affine"

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "mul", _reals(self.mul, "mul", self.where))
        object.__setattr__(self, "add", _reals(self.add, "add", self.where))
        if self.mul.array.ndim != 1 or self.mul.shape != self.add.shape:
            raise self.error(f"mul {self.mul.shape} and add {self.add.shape} must be equal 1-D shapes")

    def out_type(self, inp):
        if inp.channels != self.mul.shape[0]:
            raise self.error(f"input has {inp.channels} channels, affine has {self.mul.shape[0]}")
        return _vt(inp.n, Real(), 1.0, inp.shape)


@dataclass(frozen=True)
class Quant(Op):
    """Quantise a real value: ``clip(round_half_even(real / scale))``; Bipolar: +1 iff real >= 0.

    With ``act`` (an :class:`Activation`), the real value first goes through that
    monotone function and every step is float32, as Brevitas computes a
    ``QuantSigmoid``/``QuantTanh``: ``clip(rint(f32(act(f32(real))) / f32(scale)))``.
    ``narrow`` (signed Int only): the codes stop one above ``fmt.min``, e.g. [-1, 1] in Int(2).
    """
    input: str = ""
    fmt: Format = Int(8)
    scale: Const = None
    act: Activation | None = field(default=None, metadata={"text": "unless-default"})
    narrow: bool = field(default=False, metadata={"text": "unless-default"})
    opcode: ClassVar[str] = "quant"

    def __post_init__(self):
        super().__post_init__()
        if not isinstance(self.fmt, (Int, Bipolar)):
            raise self.error(f"format must be Int or Bipolar, not {self.fmt}")
        if self.act is not None and not isinstance(self.act, Activation):
            raise self.error(f"act must be an Activation ({', '.join(f'Activation.{a.name}' for a in Activation)}) "
                             f"or None, not {self.act!r}")
        _check_narrow(self)
        s = _reals(1.0 if self.scale is None else self.scale, "scale", self.where)
        if s.array.ndim > 1 or np.any(s.array <= 0):
            raise self.error("scale must be positive (a scalar or one per channel)")
        object.__setattr__(self, "scale", s)

    def out_type(self, inp):
        s = self.scale.array
        if s.ndim == 1 and s.shape[0] not in (1, inp.channels):
            raise self.error(f"scale has {s.shape[0]} entries, input has {inp.channels} channels")
        return _vt(inp.n, self.fmt, s.reshape(-1) if s.ndim else s, inp.shape)


@dataclass(frozen=True)
class MultiThreshold(Op):
    """``out_bias + #{k : x >= thresholds[i, k]}`` per channel (FINN's MultiThreshold).

    With a Bipolar output there is one threshold per channel and the result is
    +1 if ``x >= T`` else -1.  Thresholds are ascending along each row.
    """
    input: str = ""
    thresholds: Const = None
    fmt: Format = Int(4, False)
    out_bias: int = 0
    scale: Const = None
    opcode: ClassVar[str] = "multithreshold"

    def __post_init__(self):
        super().__post_init__()
        t = _ints(self.thresholds, "thresholds", self.where)
        if t.array.ndim != 2:
            raise self.error(f"thresholds must be 2-D (elements × levels), not shape {t.shape}")
        if t.shape[1] and np.any(np.diff(t.array, axis=1) < 0):
            raise self.error("thresholds must be ascending along each row")
        object.__setattr__(self, "thresholds", t)
        object.__setattr__(self, "out_bias", int(self.out_bias))
        object.__setattr__(self, "scale", _reals(1.0 if self.scale is None else self.scale,
                                                 "scale", self.where))
        if not isinstance(self.fmt, (Int, Bipolar)):
            raise self.error(f"format must be Int or Bipolar, not {self.fmt}")
        if isinstance(self.fmt, Bipolar):
            if t.shape[1] != 1:
                raise self.error(f"a Bipolar output takes exactly one threshold per channel, not {t.shape[1]}")
        elif self.out_bias < self.fmt.min or self.out_bias + t.shape[1] > self.fmt.max:
            raise self.error(f"outputs [{self.out_bias}, {self.out_bias + t.shape[1]}] do not fit {self.fmt}")

    @property
    def levels(self) -> int:
        return self.thresholds.shape[1]

    def out_type(self, inp):
        if not isinstance(inp.fmt, (Int, Bipolar)):
            raise self.error(f"input must be an integer format, not {inp.fmt}; run streamline first")
        if inp.channels != self.thresholds.shape[0]:
            raise self.error(f"input has {inp.channels} channels, thresholds have "
                             f"{self.thresholds.shape[0]} rows")
        return _vt(inp.n, self.fmt, self.scale.array, inp.shape)


@dataclass(frozen=True)
class Requant(Op):
    """``clip((x * mult + 2**(shift-1)) >> shift, fmt)``: integer rescale with round-half-up."""
    input: str = ""
    mult: int = 1
    shift: int = 0
    fmt: Format = Int(8)
    scale: Const = None
    opcode: ClassVar[str] = "requant"

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "mult", int(self.mult))
        object.__setattr__(self, "shift", int(self.shift))
        if self.mult < 1:
            raise self.error(f"mult must be a positive integer, not {self.mult!r}")
        if not 0 <= self.shift <= 62:
            raise self.error(f"shift must be an integer in [0, 62], not {self.shift!r}")
        if not isinstance(self.fmt, Int):
            raise self.error(f"format must be Int, not {self.fmt}")
        object.__setattr__(self, "scale", _reals(1.0 if self.scale is None else self.scale,
                                                 "scale", self.where))

    def out_type(self, inp):
        if not isinstance(inp.fmt, (Int, Bipolar)):
            raise self.error(f"input must be an integer format, not {inp.fmt}")
        if max(abs(inp.fmt.min), abs(inp.fmt.max)) * self.mult >= 1 << 62:
            raise self.error("x * mult may exceed 62 bits")
        return _vt(inp.n, self.fmt, self.scale.array, inp.shape)


@dataclass(frozen=True)
class Output(Op):
    """The graph's result."""
    input: str = ""
    opcode: ClassVar[str] = "output"

    def out_type(self, inp):
        return inp
