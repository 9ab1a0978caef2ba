"""IR ops: small frozen dataclasses, one class per op, validated on construction.

A graph is a chain of ops (each op names the op it reads by ``input``); every
op produces one vector-valued tensor per sample.  The real value of an
integer-format tensor is ``code * scale`` with a per-element ``scale``; the
scales exist for the float comparison and for streamlining, the hardware
only ever sees the integer codes.

| op             | reads      | computes (per sample)                                        |
|----------------|------------|--------------------------------------------------------------|
| Input          | —          | codes of the quantised input, ``clip(round(x / scale))``     |
| MatVec         | Int/Bipolar| ``W @ x + bias`` exactly (integer W, integer bias)          |
| Affine         | any        | real ``x * mul + add`` (batch-norm, float bias; pre-streamline only) |
| Quant          | any        | ``clip(round(real / scale))`` (or sign for Bipolar)         |
|                |            | with ``act``: ``clip(round(act(real) / scale))`` in float32  |
| MultiThreshold | Int        | ``out_bias + #{k : x >= T[k]}`` (sign for Bipolar output)   |
| Requant        | Int        | ``clip((x * mult + 2**(shift-1)) >> shift)``                |
| Output         | any        | passes its input through; marks the graph's result          |
| Wdf            | Int / real | one wave digital filter per channel; **stateful** (see below)|

``Wdf`` is the one op with memory: row ``k`` of a batch is the sample after
row ``k − 1``, each channel starting from rest at row 0, so a batch must be
one stream in time order (the interpreter runs it in order; splitting or
shuffling a batch changes the result).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import ClassVar

import numpy as np

from ..errors import VerifyError
from . import wdf
from ._activation import Activation
from ._const import Const, _ints, _reals
from ._formats import Bipolar, Fixed, Format, Int, Real, int_format_for
from ._steps import Arith, InputStep
from .wdf import Probe

__all__ = [
    "Const", "ValueType", "Op", "Input", "MatVec", "Affine", "Quant", "MultiThreshold",
    "Requant", "Output", "Wdf", "WdfLayout", "OP_CLASSES", "code_min",
]


@dataclass(frozen=True)
class ValueType:
    """Type of one op's output: vector length, format and per-element real scale."""
    n: int
    fmt: Format
    scale: Const

    def __post_init__(self):
        if self.scale.shape != (self.n,):
            raise VerifyError(f"ValueType: scale has shape {self.scale.shape}, expected ({self.n},)")

    @property
    def scales(self) -> np.ndarray:
        return self.scale.array


def _vt(n: int, fmt: Format, scale) -> ValueType:
    s = np.broadcast_to(np.asarray(scale, dtype=np.float64), (n,))
    return ValueType(n, fmt, Const(s, np.float64))


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
    """
    n: int = 1
    fmt: Format = Int(8)
    scale: float = 1.0
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
        if not isinstance(self.fmt, (Int, Bipolar)):
            raise self.error(f"input format must be Int or Bipolar, not {self.fmt}")
        if not (math.isfinite(self.scale) and self.scale > 0):
            raise self.error(f"scale must be a positive finite number, not {self.scale!r}")

    def out_type(self, inp):
        return _vt(self.n, self.fmt, self.scale)

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
        if inp.n != self.cols:
            raise self.error(f"input has {inp.n} elements but weight has {self.cols} columns")
        s = inp.scales
        if not np.allclose(s, s[0], rtol=1e-12, atol=0):
            raise self.error("input scale differs between elements; MatVec needs a per-tensor input scale")
        lo, hi = self.bounds(inp.fmt)
        need = int_format_for(int(lo.min()), int(hi.max()))
        need = Int(need.bits + (0 if need.signed else 1), True)
        acc = self.acc
        if acc is None:
            acc = need
        elif int(lo.min()) < acc.min or int(hi.max()) > acc.max:
            raise self.error(f"accumulator {acc} cannot hold the exact range "
                             f"[{int(lo.min())}, {int(hi.max())}]; it needs at least {need}")
        return _vt(self.rows, acc, self.wscale.array * s[0])


@dataclass(frozen=True)
class Affine(Op):
    """Real-valued ``x * mul + add`` per element (batch-norm, float bias); removed by streamlining."""
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
        if inp.n != self.mul.shape[0]:
            raise self.error(f"input has {inp.n} elements, affine has {self.mul.shape[0]}")
        return _vt(inp.n, Real(), 1.0)


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
            raise self.error("scale must be positive (a scalar or one per element)")
        object.__setattr__(self, "scale", s)

    def out_type(self, inp):
        s = self.scale.array
        if s.ndim == 1 and s.shape[0] not in (1, inp.n):
            raise self.error(f"scale has {s.shape[0]} entries, input has {inp.n} elements")
        return _vt(inp.n, self.fmt, s.reshape(-1) if s.ndim else s)


@dataclass(frozen=True)
class MultiThreshold(Op):
    """``out_bias + #{k : x >= thresholds[i, k]}`` per element (FINN's MultiThreshold).

    With a Bipolar output there is one threshold per element and the result is
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
                raise self.error(f"a Bipolar output takes exactly one threshold per element, not {t.shape[1]}")
        elif self.out_bias < self.fmt.min or self.out_bias + t.shape[1] > self.fmt.max:
            raise self.error(f"outputs [{self.out_bias}, {self.out_bias + t.shape[1]}] do not fit {self.fmt}")

    @property
    def levels(self) -> int:
        return self.thresholds.shape[1]

    def out_type(self, inp):
        if not isinstance(inp.fmt, (Int, Bipolar)):
            raise self.error(f"input must be an integer format, not {inp.fmt}; run streamline first")
        if inp.n != self.thresholds.shape[0]:
            raise self.error(f"input has {inp.n} elements, thresholds have {self.thresholds.shape[0]} rows")
        return _vt(inp.n, self.fmt, self.scale.array)


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
        return _vt(inp.n, self.fmt, self.scale.array)


@dataclass(frozen=True)
class Output(Op):
    """The graph's result."""
    input: str = ""
    opcode: ClassVar[str] = "output"

    def out_type(self, inp):
        return inp


#: The element each probe names in the tree of one channel (:meth:`Wdf.trees`).
_PROBE_ELEMENT = {Probe.ROOT: "root", Probe.SOURCE: "source", Probe.REACTIVE: "reactance"}


@dataclass(frozen=True)
class WdfLayout:
    """The fixed-point form of a ``Wdf`` op, one layout shared by all its channels.

    ``wave`` is the format of the waves and the state, ``out`` of the output;
    ``coeff`` (one per channel) the adaptor coefficient in units of
    ``2**-coeff_frac``; ``table`` (channels × entries) the piecewise-linear
    diode root in ``wave`` codes on the grid
    ``table_range_log2``/``table_octaves``/``segments_log2`` (see
    :class:`bitwave.ir.wdf.WdfFixed`, which checks the values per channel).
    """
    wave: Format
    out: Format
    coeff: Const
    coeff_frac: int
    table_range_log2: int
    table_octaves: int
    segments_log2: int
    table: Const

    def __post_init__(self):
        object.__setattr__(self, "coeff", _ints(self.coeff, "coeff", "WdfLayout"))
        object.__setattr__(self, "table", _ints(self.table, "table", "WdfLayout"))


@dataclass(frozen=True)
class Wdf(Op):
    """A clipper-class wave digital filter per channel (like a depthwise layer over audio channels).

    Circuit of channel ``c``: the input voltage drives a resistive source
    ``R[c]`` (ohms); a reactance ``X[c]`` (a capacitor in farads, or an
    inductor in henries if ``inductor``) joins it through a parallel (or
    ``series``) 3-port adaptor under an antiparallel diode pair ``Is[c]``
    (amperes), ``Vt[c]`` (volts, thermal voltage times ideality); bilinear
    discretisation at ``fs`` Hz; the output is the voltage across the port
    ``probe`` selects.

    Float form (``layout`` is None, as imported): a real-valued output, the
    float64 reference :func:`bitwave.ir.wdf.simulate` with the exact diode root.
    Fixed form (after the ``quantise-wdf`` pass): ``layout`` holds the formats,
    coefficients and root tables (:class:`WdfLayout`).  The input must then be
    a signed Int whose scale is a power of two (it is read as the fixed-point
    format with those fraction bits), and the output is bit-exact
    :func:`bitwave.ir.wdf.run_fixed` per channel, as Int codes of ``layout.out``.

    Stateful: the batch is one stream in time order (see the module docstring).
    """
    input: str = ""
    R: Const = None
    X: Const = None
    Is: Const = None
    Vt: Const = None
    fs: float = 48_000.0
    series: bool = False
    inductor: bool = False
    probe: Probe = Probe.REACTIVE
    layout: WdfLayout | None = None
    opcode: ClassVar[str] = "wdf"

    def __post_init__(self):
        super().__post_init__()
        for what in ("R", "X", "Is", "Vt"):
            v = _reals(getattr(self, what), what, self.where)
            if v.array.ndim != 1 or v.shape[0] < 1 or np.any(v.array <= 0):
                raise self.error(f"{what} must be a non-empty 1-D list of positive values "
                                 f"(one per channel), not shape {v.shape}")
            object.__setattr__(self, what, v)
        if len({getattr(self, w).shape for w in ("R", "X", "Is", "Vt")}) != 1:
            raise self.error("R, X, Is and Vt must have one value per channel each")
        object.__setattr__(self, "fs", float(self.fs))
        if not (math.isfinite(self.fs) and self.fs > 0):
            raise self.error(f"fs must be a positive sample rate in Hz, not {self.fs!r}")
        for what in ("series", "inductor"):
            if not isinstance(getattr(self, what), bool):
                raise self.error(f"{what} must be a bool, not {getattr(self, what)!r}")
        if not isinstance(self.probe, Probe):
            raise self.error(f"probe must be a Probe (Probe.ROOT, Probe.SOURCE or "
                             f"Probe.REACTIVE), not {self.probe!r}")
        if self.layout is not None and not isinstance(self.layout, WdfLayout):
            raise self.error(f"layout must be a WdfLayout (fixed form) or None (float form), "
                             f"not {type(self.layout).__name__}")
        if self.is_fixed:
            coeff, table = self.layout.coeff, self.layout.table
            if coeff.shape != (self.channels,) or table.array.ndim != 2 \
                    or table.shape[0] != self.channels:
                raise self.error(f"coeff must have one entry and table one row per channel "
                                 f"({self.channels}), not shapes {coeff.shape} and "
                                 f"{table.shape}")
            self.specs(self.layout.out)    # WdfFixed checks formats, coefficients and the table

    @property
    def channels(self) -> int:
        return self.R.shape[0]

    @property
    def is_fixed(self) -> bool:
        return self.layout is not None

    def trees(self) -> list:
        """The circuit of each channel as a :class:`bitwave.ir.wdf.WdfTree`."""
        out = []
        for c in range(self.channels):
            src = wdf.ResistiveSource(float(self.R.array[c]), name="source")
            rea = (wdf.Inductor if self.inductor else wdf.Capacitor)(float(self.X.array[c]),
                                                                     name="reactance")
            adaptor = (wdf.Series if self.series else wdf.Parallel)(src, rea)
            root = wdf.DiodePair(float(self.Is.array[c]), float(self.Vt.array[c]), name="root")
            out.append(wdf.WdfTree(root, adaptor, self.fs, probe=_PROBE_ELEMENT[self.probe]))
        return out

    def input_format(self, inp: "ValueType") -> Format:
        """The fixed-point format the input codes are read in (fixed form)."""
        fmt, s = inp.fmt, inp.scales
        frac = -math.log2(float(s[0])) if s[0] > 0 else math.nan
        if not (isinstance(fmt, Int) and fmt.signed) or not np.all(s == s[0]) \
                or frac != round(frac) or not 0 <= frac < fmt.bits:
            raise self.error(f"the input must be a signed Int with one power-of-two scale "
                             f"2**-f, 0 <= f < bits, not {fmt} with scale {s[0]!r}; quantise "
                             f"the input to audio codes (e.g. Int(20) with scale 2**-16)")
        wave = self.layout.wave
        return Fixed(fmt.bits - int(frac), int(frac), True, wave.rounding, wave.overflow)

    def specs(self, in_fmt: Format) -> list:
        """Per channel, the :class:`bitwave.ir.wdf.WdfFixed` the fixed form stands for."""
        lay = self.layout
        try:
            return [wdf.WdfFixed(series=self.series, inductor=self.inductor, probe=self.probe,
                                 input=in_fmt, wave=lay.wave, output=lay.out,
                                 coeff=int(lay.coeff.array[c]), coeff_frac=lay.coeff_frac,
                                 table_range_log2=lay.table_range_log2,
                                 table_octaves=lay.table_octaves,
                                 segments_log2=lay.segments_log2,
                                 table=tuple(int(t) for t in lay.table.array[c]), fs=self.fs)
                    for c in range(self.channels)]
        except VerifyError as e:
            raise self.error(str(e)) from None

    def out_type(self, inp):
        if inp.n != self.channels:
            raise self.error(f"input has {inp.n} elements, the filter has {self.channels} "
                             f"channels")
        if not self.is_fixed:
            if isinstance(inp.fmt, Bipolar):
                raise self.error("input must be audio (Int codes or real volts), not bipolar")
            return _vt(inp.n, Real(), 1.0)
        self.specs(self.input_format(inp))
        out = self.layout.out
        return _vt(inp.n, Int(out.width, True), 2.0 ** -out.frac_bits)


OP_CLASSES = {cls.__name__: cls
              for cls in (Input, MatVec, Affine, Quant, MultiThreshold, Requant, Output, Wdf)}
