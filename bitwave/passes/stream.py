"""``to-stream``: a causal 1-D convolution network on frames as the same network on an endless stream.

A temporal convolution network (TCN) is trained on frames: the model reads a
signal ``(C, T)`` (channels first) and pads each ``Conv1d`` with
``(taps − 1)·dilation`` zeros on the left only, so output ``t`` depends on
inputs ``≤ t``.  Such a network needs no frames at all: the same weights
applied one time step at a time, each layer keeping its last
``(taps − 1)·dilation`` inputs, give the same outputs.  This pass rewrites it
that way: the ``Input`` reads one vector of ``C`` channels per row (a row is a
time step), each ``Conv`` becomes a :class:`~bitwave.ir.CausalConv` with the
same weight matrix (both are in (tap, channel) order, tap 0 oldest), and the
per-time-step ops (``Affine``, ``Quant``, ``MultiThreshold``, ``Requant``, a
residual ``Add``) stay as they are.  A CausalConv starting from rest (zeros)
is exactly the left zero padding, so the stream graph on rows ``x[0..T−1]``
equals the frame graph on the whole signal, output by output.

Everything else that mixes time steps is refused with the op's name: pooling,
flatten, dense layers, strided or non-causal (right- or centre-padded)
convolutions.  Both convolutions are MatVecs, so ``streamline``,
``infer-bitwidths`` and ``fold`` work before or after this pass; after ``fold``
a layer keeps its ``pe``/``simd`` (its cycles per frame become cycles per sample).
"""

from __future__ import annotations

import numpy as np

from ..errors import PassError
from ..ir import (Add, Affine, CausalConv, Conv, Graph, MultiThreshold, Output, Quant, Requant,
                  verify)
from ._manager import Pass, note

__all__ = ["ToStream", "signal_rows"]

#: Ops that compute each time step from that time step alone.
_PER_STEP = (Affine, Quant, MultiThreshold, Requant, Add, Output)


class ToStream(Pass, name="to-stream"):
    """Turn a causal Conv1d network over frames ``(C, T)`` into one sample in, one sample out."""

    def run(self, graph: Graph) -> Graph:
        verify(graph)
        inp = graph.input
        if len(inp.shape) != 2:
            raise PassError(f"to-stream: {inp.where}: the input has shape "
                            f"{tuple(inp.shape) or (inp.n,)}; to-stream reads a model of a signal "
                            "(channels, time), e.g. a QuantConv1d network on (N, C, T) audio")
        channels, frame = inp.shape
        ops = [inp.replace(n=channels, shape=())]
        for op in graph.ops[1:]:
            if isinstance(op, Conv):
                ops.append(_causal(op))
            elif isinstance(op, _PER_STEP):
                ops.append(op)
            else:
                raise PassError(f"to-stream: {op.opcode} {op.where} mixes time steps, so the "
                                "network cannot run one sample at a time; a stream holds causal "
                                "stride-1 Conv1d layers and per-channel ops (batch-norm, "
                                "quantisers, activations, residual adds) only")
        note("to-stream", f"{inp.name}: {channels} channel(s) per time step, one sample in and one "
                          f"out (the model's frame of {frame} steps is not needed)")
        return Graph(tuple(ops))


def _causal(op: Conv) -> CausalConv:
    """``op`` (a left-padded Conv1d) as a CausalConv, or a PassError saying what is not causal."""
    if len(op.kernel) != 1:
        raise PassError(f"to-stream: {op.where}: a {len(op.kernel)}-D convolution cannot stream "
                        "over time; only Conv1d layers can")
    (taps,), (dilation,), (stride,) = op.kernel, op.dilation, op.stride
    history = (taps - 1) * dilation
    if stride != 1:
        raise PassError(f"to-stream: {op.where}: stride {stride} drops time steps; a stream gives "
                        "one output per input sample, so use stride 1")
    if tuple(op.pads) != (history, 0):
        raise PassError(f"to-stream: {op.where}: padding {tuple(op.pads)} (left, right) is not "
                        f"causal; a kernel of {taps} taps at dilation {dilation} needs "
                        f"({history}, 0): pad the input with F.pad(x, ({history}, 0)) or "
                        f"nn.ConstantPad1d(({history}, 0), 0) and use padding=0")
    return CausalConv(op.name, input=op.input, weight=op.weight, wfmt=op.wfmt, wscale=op.wscale,
                      bias=op.bias, acc=op.acc, pe=op.pe, simd=op.simd, taps=taps,
                      dilation=dilation, groups=op.groups, src=op.src)


def signal_rows(frames: np.ndarray, channels: int) -> np.ndarray:
    """Frames of a signal, ``(N, C, T)`` as the model reads them (or flat ``(N, C·T)``), played
    one after the other as one signal: rows ``(N·T, C)``, the input of the stream graph."""
    x = np.asarray(frames)
    if x.ndim < 2 or x[0].size % channels or (x.ndim > 2 and x.shape[1] != channels):
        raise PassError(f"to-stream: the inputs have shape {x.shape}, not frames of a signal of "
                        f"{channels} channel(s) (N, {channels}, T)")
    return np.moveaxis(x.reshape(len(x), channels, -1), 1, -1).reshape(-1, channels)
