"""Ops over images and signals: ``Conv``, ``CausalConv``, ``Pool`` and ``Flatten``.

Tensors are channels last (``(L, C)`` or ``(H, W, C)``).  A convolution is a
:class:`~bitwave.ir.MatVec` applied to every window of its input: the weight
is the 2-D matrix ``(out_channels, taps · in_channels/groups)`` whose columns
follow the window's element order, kernel offsets first (row-major) and the
channel last, the order in which the sliding-window hardware emits a window.
So every pass that reasons about a MatVec (exact accumulator bounds,
thresholds, bit widths, folding, 1-bit weights) holds for a convolution
unchanged; only the shape arithmetic and the interpreter differ.

Spatial parameters follow ONNX: ``kernel``, ``stride`` and ``dilation`` have
one entry per spatial axis, ``pads`` two (all the begins, then all the ends).
Padding inserts code 0, which is real 0 (codes are symmetric), so a bipolar
input (codes −1/+1, no 0) cannot be zero-padded.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ._formats import Bipolar, Int, int_format_for
from ._ops import MatVec, Op, _vt

__all__ = ["Conv", "CausalConv", "Pool", "Flatten", "windows"]


def _ints_tuple(op, name: str, value, length: int, minimum: int) -> tuple[int, ...]:
    t = tuple(value) if isinstance(value, (tuple, list)) else (value,) * length
    if len(t) != length or not all(isinstance(v, int) and not isinstance(v, bool) and v >= minimum
                                   for v in t):
        raise op.error(f"{name} must be {length} integers >= {minimum}, not {value!r}")
    return t


def _window_params(op, dims: int):
    """Normalise kernel/stride/dilation/pads of ``op`` (a frozen dataclass) in place."""
    if not 1 <= dims <= 2:
        raise op.error(f"kernel must have 1 or 2 entries (1-D or 2-D), not {op.kernel!r}")
    object.__setattr__(op, "kernel", _ints_tuple(op, "kernel", op.kernel, dims, 1))
    object.__setattr__(op, "stride", _ints_tuple(op, "stride", op.stride, dims, 1))
    object.__setattr__(op, "pads", _ints_tuple(op, "pads", op.pads, 2 * dims, 0))
    if hasattr(op, "dilation"):
        object.__setattr__(op, "dilation", _ints_tuple(op, "dilation", op.dilation, dims, 1))


def out_spatial(op, spatial: tuple[int, ...]) -> tuple[int, ...]:
    """Output positions per axis of a windowed op on an input of ``spatial`` size."""
    d = len(op.kernel)
    if len(spatial) != d:
        raise op.error(f"a {d}-D window needs an input of shape ({', '.join('L' if d == 1 else 'HW')}"
                       f", C) (channels last), not {len(spatial)} spatial axes")
    dil = getattr(op, "dilation", (1,) * d)
    out = []
    for i in range(d):
        span = dil[i] * (op.kernel[i] - 1) + 1
        size = spatial[i] + op.pads[i] + op.pads[i + d]
        if size < span:
            raise op.error(f"the window ({span} wide on axis {i}) is larger than the padded input "
                           f"({size})")
        out.append((size - span) // op.stride[i] + 1)
    return tuple(out)


def windows(x: np.ndarray, kernel, stride, pads, dilation, pad_code: int = 0) -> np.ndarray:
    """Every window of ``x`` (N, *spatial, C): shape (N, *out_spatial, taps, C), kernel
    offsets row-major in the ``taps`` axis (the hardware's window order)."""
    d = len(kernel)
    widths = [(0, 0)] + [(pads[i], pads[i + d]) for i in range(d)] + [(0, 0)]
    xp = np.pad(x, widths, constant_values=pad_code)
    out = [(xp.shape[1 + i] - dilation[i] * (kernel[i] - 1) - 1) // stride[i] + 1 for i in range(d)]
    taps = []
    for offs in itertools.product(*(range(k) for k in kernel)):
        sl = tuple(slice(o * dl, o * dl + (n - 1) * s + 1, s)
                   for o, dl, n, s in zip(offs, dilation, out, stride))
        taps.append(xp[(slice(None),) + sl + (slice(None),)])
    return np.stack(taps, axis=-2)


def grouped_matvec(win: np.ndarray, weight: np.ndarray, bias, groups: int) -> np.ndarray:
    """``weight @ window + bias`` for windows ``win`` (..., taps, C), ``groups`` channel groups."""
    lead, (taps, c) = win.shape[:-2], win.shape[-2:]
    rows = weight.shape[0]
    w = weight.reshape(groups, rows // groups, taps, c // groups)
    x = win.reshape(-1, taps, groups, c // groups).astype(np.int64)
    acc = np.einsum("ntgc,gotc->ngo", x, w, optimize=True).reshape(lead + (rows,))
    return acc if bias is None else acc + bias


@dataclass(frozen=True)
class Conv(MatVec):
    """A 1-D or 2-D convolution: the MatVec ``weight`` on every window (see the module doc).

    ``weight`` is ``(out_channels, prod(kernel) · in_channels / groups)``;
    group ``g`` of the output channels reads input channels
    ``[g·C/groups, (g+1)·C/groups)``.  ``pe``/``simd`` fold one window's
    product as for a MatVec; a frame takes that many cycles per output position.
    """
    kernel: tuple[int, ...] = (1,)
    stride: tuple[int, ...] = 1
    pads: tuple[int, ...] = 0
    dilation: tuple[int, ...] = 1
    groups: int = 1
    opcode: ClassVar[str] = "conv"

    def __post_init__(self):
        super().__post_init__()
        _window_params(self, len(tuple(self.kernel)) if isinstance(self.kernel, (tuple, list)) else 1)
        taps = math.prod(self.kernel)
        if not isinstance(self.groups, int) or self.groups < 1 or self.rows % self.groups \
                or self.cols % taps:
            raise self.error(f"groups={self.groups!r} must divide the {self.rows} output channels, "
                             f"and the weight's {self.cols} columns must be {taps} taps × the "
                             f"input channels per group")

    @property
    def taps(self) -> int:
        return math.prod(self.kernel)

    def out_type(self, inp):
        if not isinstance(inp.fmt, (Int, Bipolar)):
            raise self.error(f"input must be Int or Bipolar, not {inp.fmt}; quantise it first")
        spatial = inp.spatial
        out = out_spatial(self, spatial)
        if inp.channels != self.cols // self.taps * self.groups:
            raise self.error(f"input has {inp.channels} channels; the weight expects "
                             f"{self.cols // self.taps * self.groups} ({self.groups} groups of "
                             f"{self.cols // self.taps})")
        if isinstance(inp.fmt, Bipolar) and any(self.pads):
            raise self.error("a bipolar input (codes -1/+1) cannot be zero-padded; use padding=0 "
                             "or a multi-bit input quantiser before this layer")
        acc, scale = self.accumulator(inp)
        shape = out + (self.rows,)
        return _vt(math.prod(shape), acc, scale, shape)


@dataclass(frozen=True)
class CausalConv(MatVec):
    """A causal 1-D convolution over an endless stream: **stateful**, rows are time steps.

    The input is one vector of C channels per time step; output row ``t`` is
    ``weight @ window(t) + bias`` where tap ``j`` (0 = oldest) of the window is
    input row ``t − (taps − 1 − j)·dilation`` (zeros before row 0), so the
    weight is ``(out_channels, taps · C / groups)`` in (tap, channel) order.
    This is ``Conv1d`` with ``(taps − 1)·dilation`` zeros of left padding, run
    one sample in, one sample out (TCN / WaveNet style).
    """
    taps: int = 1
    dilation: int = 1
    groups: int = 1
    opcode: ClassVar[str] = "causalconv"

    def __post_init__(self):
        super().__post_init__()
        for name in ("taps", "dilation", "groups"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise self.error(f"{name} must be a positive integer, not {v!r}")
        if self.rows % self.groups or self.cols % self.taps:
            raise self.error(f"groups={self.groups} must divide the {self.rows} output channels and "
                             f"the weight's {self.cols} columns must be {self.taps} taps × channels")

    @property
    def history(self) -> int:
        """Past samples the window reaches back: ``(taps − 1)·dilation``."""
        return (self.taps - 1) * self.dilation

    def out_type(self, inp):
        if len(inp.shape) != 1:
            raise self.error(f"reads one vector of channels per time step, not shape {inp.shape}")
        if inp.channels != self.cols // self.taps * self.groups:
            raise self.error(f"input has {inp.channels} channels; the weight expects "
                             f"{self.cols // self.taps * self.groups}")
        if not isinstance(inp.fmt, (Int, Bipolar)):
            raise self.error(f"input must be Int or Bipolar, not {inp.fmt}; quantise it first")
        if isinstance(inp.fmt, Bipolar):
            raise self.error("a bipolar input cannot start from rest (zeros); use a multi-bit input")
        acc, scale = self.accumulator(inp)
        return _vt(self.rows, acc, scale)


class PoolKind:
    MAX = "max"
    AVG = "avg"


@dataclass(frozen=True)
class Pool(Op):
    """Max or average pooling over windows of an image or signal (channels last).

    ``max``: the largest code of each window and channel (codes and reals order
    alike, scales being positive; on a bipolar input this is an OR); padding
    never wins.  ``avg``: the exact integer *sum* of the window's codes, with
    the scale divided by the window size, so the real value is the average
    (zero padding counts, as PyTorch's default ``count_include_pad``).
    """
    input: str = ""
    kind: str = PoolKind.MAX
    kernel: tuple[int, ...] = (1,)
    stride: tuple[int, ...] = 1
    pads: tuple[int, ...] = 0
    opcode: ClassVar[str] = "pool"

    def __post_init__(self):
        super().__post_init__()
        if self.kind not in (PoolKind.MAX, PoolKind.AVG):
            raise self.error(f"kind must be 'max' or 'avg', not {self.kind!r}")
        _window_params(self, len(tuple(self.kernel)) if isinstance(self.kernel, (tuple, list)) else 1)

    @property
    def taps(self) -> int:
        return math.prod(self.kernel)

    def pad_code(self, fmt) -> int:
        return -1 if isinstance(fmt, Bipolar) else (fmt.min if self.kind == PoolKind.MAX else 0)

    def out_type(self, inp):
        if not isinstance(inp.fmt, (Int, Bipolar)):
            raise self.error(f"input must be Int or Bipolar codes, not {inp.fmt}; pool after "
                             "the activation's quantiser")
        out = out_spatial(self, inp.spatial)
        shape = out + (inp.channels,)
        if self.kind == PoolKind.MAX:
            return _vt(math.prod(shape), inp.fmt, inp.scales, shape)
        if isinstance(inp.fmt, Bipolar) and any(self.pads):
            raise self.error("average pooling of a bipolar input cannot be zero-padded")
        fmt = int_format_for(inp.fmt.min * self.taps, inp.fmt.max * self.taps)
        return _vt(math.prod(shape), fmt, inp.scales / self.taps, shape)


@dataclass(frozen=True)
class Flatten(Op):
    """An image or signal as one vector, in PyTorch's channels-first order (``C·H·W``).

    No arithmetic: the hardware collects the pixels of a frame and wires them
    into one vector; element ``c·P + p`` is channel ``c`` of position ``p``.
    """
    input: str = ""
    opcode: ClassVar[str] = "flatten"

    def out_type(self, inp):
        scale = np.repeat(inp.scales, inp.positions)
        return _vt(inp.n, inp.fmt, scale if inp.fmt.is_integer else 1.0)

    def order(self, shape: tuple[int, ...]) -> np.ndarray:
        """For each output element, its index in the channels-last input."""
        c, p = shape[-1], math.prod(shape[:-1])
        return np.arange(p * c).reshape(p, c).T.reshape(-1)
