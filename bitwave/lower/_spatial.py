"""Lowering of the ops over images and signals: windows, pooling and flatten.

A stream between two units carries one pixel (all channels of one position)
per beat, so a frame of an ``(H, W, C)`` tensor is ``H·W`` beats.  A
convolution is a :class:`~bitwave.hdl.SlidingWindow` (line buffers) feeding
the same :class:`~bitwave.hdl.MatVecUnit` a dense layer uses, once per
window; a ``CausalConv`` takes its windows from a
:class:`~bitwave.hdl.TemporalWindow` that keeps the history across samples;
pooling is a sliding window into a :class:`~bitwave.hdl.WindowReduce`; a
flatten collects a frame into one vector with a :class:`~bitwave.hdl.Gather`.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from ..errors import PassError
from ..hdl import (Estimate, Gather, SerialWindow, SlidingWindow, StreamFifo, TemporalWindow,
                   WindowReduce, estimate_fifo, estimate_gather, estimate_serial_window,
                   estimate_sliding_window, estimate_temporal_window, estimate_window_reduce)
from ..ir import Bipolar, CausalConv, Flatten, Pool, PoolKind, ValueType

__all__ = ["window_params", "element_format", "conv_weights", "lower_window", "lower_pool",
           "lower_flatten", "merge_estimates"]


def element_format(fmt) -> tuple[int, bool]:
    """Width and signedness of one element of ``fmt`` on a stream."""
    return (1, False) if isinstance(fmt, Bipolar) else (fmt.width, bool(fmt.signed))


def window_params(op, in_t: ValueType, pad_code: int = 0) -> dict:
    """:class:`~bitwave.hdl.SlidingWindow` parameters of a Conv or Pool on ``in_t``."""
    width, signed = element_format(in_t.fmt)
    spatial, d = in_t.spatial, len(op.kernel)
    dilation = getattr(op, "dilation", (1,) * d)
    if d == 1:     # a signal is an image one row high
        height, length = 1, spatial[0]
        kernel, stride, dil = (1, op.kernel[0]), (1, op.stride[0]), (1, dilation[0])
        padding = (0, 0, op.pads[0], op.pads[1])
    else:
        (height, length), kernel, stride, dil = spatial, op.kernel, op.stride, dilation
        padding = (op.pads[0], op.pads[2], op.pads[1], op.pads[3])    # ONNX: begins, then ends
    return dict(height=height, width=length, channels=in_t.channels, elem_width=width,
                signed=signed, kernel=kernel, stride=stride, padding=padding, dilation=dil,
                pad_code=pad_code)


def conv_weights(op) -> np.ndarray:
    """The weight matrix the MatVecUnit sees: a grouped convolution's blocks spread over all
    input channels (zeros elsewhere), in the window's (tap, channel) order."""
    w = op.weight.array
    g = op.groups
    if g == 1:
        return w
    rows, taps = op.rows, op.taps
    cg = op.cols // taps
    full = np.zeros((rows, taps, cg * g), dtype=np.int64)
    og = rows // g
    for k in range(g):
        full[k * og:(k + 1) * og, :, k * cg:(k + 1) * cg] = w[k * og:(k + 1) * og].reshape(og, taps, cg)
    return full.reshape(rows, taps * cg * g)


def merge_estimates(*estimates: Estimate) -> Estimate:
    parts: dict[str, tuple[float, float]] = {}
    for e in estimates:
        for key, (lut, ff) in e.parts.items():      # same-named parts (control) add up
            old = parts.get(key, (0.0, 0.0))
            parts[key] = (old[0] + lut, old[1] + ff)
    total = estimates[0].resources
    for e in estimates[1:]:
        total = total + e.resources
    return Estimate(total, parts, any(e.weights_in_bram for e in estimates))


#: Window bits (taps × channels × element width) from which a causal convolution's window
#: comes from a RAM ring, one slice per beat, rather than from registers all at once.
SERIAL_WINDOW_BITS = 128


def serial_beats(op, in_t: ValueType) -> int:
    """Beats a causal convolution's window is given in (a :class:`SerialWindow` feeding the
    matrix unit's slice buffer): ``cols/simd`` for a long window whose slices are whole
    samples or equal parts of one (the columns being in (tap, channel) order, slice ``s`` is
    columns ``[s·simd, (s+1)·simd)``: part ``s mod (C/simd)`` of tap ``s div (C/simd)``),
    else 1 (the window in one beat, from a :class:`TemporalWindow`)."""
    c = in_t.channels
    if not isinstance(op, CausalConv) or op.groups != 1 or (op.simd % c and c % op.simd):
        return 1
    width, _ = element_format(in_t.fmt)
    if op.cols * width < SERIAL_WINDOW_BITS:
        return 1
    return op.cols // op.simd


def lower_window(op, in_t: ValueType, *, buffered: bool):
    """The window stages in front of a convolution's MatVecUnit: (constructors, estimate,
    cycles per frame of the window stage).

    ``buffered``: a FIFO goes in front of the sliding window.  The window unit
    takes a pixel only as it gives a window, except for the pixels that open a
    frame or a row (``H·W − Ho·Wo`` per frame), which it needs all at once
    before the frame's first window.  Without a buffer, the layer before stalls
    while this one works, and at every frame boundary this layer then waits for
    those pixels at the rate the layer before makes them: a frame of a deep
    network took up to 30 % more than its slowest layer.  With a FIFO of that
    many pixels (and a few to spare) the layer before runs ahead into it.
    """
    if isinstance(op, CausalConv):
        width, signed = element_format(in_t.fmt)
        params = dict(channels=in_t.channels, elem_width=width, signed=signed, taps=op.taps,
                      dilation=op.dilation)
        beats = serial_beats(op, in_t)
        if beats > 1:
            if op.simd >= in_t.channels:
                params["per_beat"] = op.simd // in_t.channels
            else:
                params["parts"] = in_t.channels // op.simd
            return [partial(SerialWindow, **params)], estimate_serial_window(**params), beats
        return [partial(TemporalWindow, **params)], estimate_temporal_window(**params), 1
    params = window_params(op, in_t)
    checked = _checked(SlidingWindow, op, params)
    stages = [partial(SlidingWindow, **params)]
    est = estimate_sliding_window(**params)
    if buffered:
        fifo = dict(elems=in_t.channels, width=params["elem_width"],
                    depth=max(4, checked["beats_in"] - checked["beats_out"] + 8))
        stages.insert(0, partial(StreamFifo, **fifo))
        est = merge_estimates(estimate_fifo(**fifo), est)
    return stages, est, checked["geometry"].cycles_per_frame


def _checked(cls, op, params) -> dict:
    try:
        return cls.check(**params)
    except Exception as e:      # HdlError: name the op the parameters came from
        raise PassError(f"lower: {op.where}: {e}") from None


def lower_pool(op: Pool, in_t: ValueType, out_t: ValueType):
    """Pooling: a sliding window into a per-channel max/sum/OR. Returns (stages, info)."""
    if op.kind == PoolKind.AVG and isinstance(in_t.fmt, Bipolar):
        raise PassError(f"lower: {op.where}: average pooling of a bipolar (±1) tensor has no "
                        "hardware block; pool before binarising, or use max pooling")
    bipolar = isinstance(in_t.fmt, Bipolar)
    pad = 0 if bipolar else op.pad_code(in_t.fmt)
    wparams = window_params(op, in_t, pad)
    checked = _checked(SlidingWindow, op, wparams)
    width, signed = element_format(in_t.fmt)
    reduce = dict(positions=op.taps, channels=in_t.channels, elem_width=width, signed=signed,
                  op="or" if bipolar else ("max" if op.kind == PoolKind.MAX else "sum"),
                  out_width=element_format(out_t.fmt)[0])
    _checked(WindowReduce, op, reduce)
    est = merge_estimates(estimate_sliding_window(**wparams), estimate_window_reduce(**reduce))
    info = dict(kind="pool", rows=in_t.channels, cols=op.taps, pe=None, simd=None,
                cycles=checked["geometry"].cycles_per_frame, in_fmt=str(in_t.fmt),
                out_fmt=str(out_t.fmt), estimate=est)
    return [partial(SlidingWindow, **wparams), partial(WindowReduce, **reduce)], info


def lower_flatten(op: Flatten, in_t: ValueType, out_t: ValueType):
    """A frame of pixels collected into one vector in PyTorch's flatten order."""
    if len(in_t.shape) == 1:
        return [], None          # a vector is flat already
    params = dict(beats=in_t.positions, elems=in_t.channels, width=element_format(in_t.fmt)[0],
                  order=tuple(int(i) for i in op.order(in_t.shape)))
    info = dict(kind="flatten", rows=in_t.n, cols=1, pe=None, simd=None, cycles=in_t.positions,
                in_fmt=str(in_t.fmt), out_fmt=str(out_t.fmt), estimate=estimate_gather(**params))
    return [partial(Gather, **params)], info
