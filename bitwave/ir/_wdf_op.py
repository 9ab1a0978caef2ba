"""The ``Wdf`` op: a clipper-class wave digital filter per channel, the one op with memory
besides :class:`~bitwave.ir.CausalConv` (see the op table in :mod:`bitwave.ir._ops`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from ..errors import VerifyError
from . import wdf
from ._const import Const, _ints, _reals
from ._formats import Bipolar, Fixed, Format, Int, Real
from ._ops import Op, ValueType, _vt
from .wdf import Probe

__all__ = ["Wdf", "WdfLayout"]


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

    ``oversample`` (``k``): the filter runs ``k`` times per row, at ``fs`` =
    ``k`` × the stream's sample rate.  Row ``t`` then holds the ``k`` oversampled
    inputs of every channel, phase-major (element ``p·channels + c`` is phase
    ``p`` of channel ``c``, phase 0 first in time), and the output likewise:
    the shape of a polyphase interpolator's output (a ``CausalConv`` with ``k``
    output channels per input channel) in front of the op and of a polyphase
    decimator behind it, which is how a graph oversamples around a nonlinear
    filter.

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
    oversample: int = field(default=1, metadata={"text": "unless-default"})
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
        if isinstance(self.oversample, bool) or not isinstance(self.oversample, int) \
                or not 1 <= self.oversample <= 16:
            raise self.error(f"oversample must be an integer in [1, 16], not {self.oversample!r}")
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
        if inp.n != self.channels * self.oversample:
            raise self.error(f"input has {inp.n} elements, the filter has {self.channels} "
                             f"channels" + (f" × {self.oversample} phases" if self.oversample > 1
                                            else ""))
        if not self.is_fixed:
            if isinstance(inp.fmt, Bipolar):
                raise self.error("input must be audio (Int codes or real volts), not bipolar")
            return _vt(inp.n, Real(), 1.0)
        self.specs(self.input_format(inp))
        out = self.layout.out
        return _vt(inp.n, Int(out.width, True), 2.0 ** -out.frac_bits)
