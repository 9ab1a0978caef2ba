"""The reference interpreter: the bit-exact golden model of every op.

Integer ops run in numpy int64 (accumulator bounds are checked by the
verifier to stay far inside 63 bits); real-valued ops (``Affine`` and a
``Quant`` reading a real) run in float64 and exist only before streamlining;
a ``Quant`` with an activation (sigmoid, tanh) runs in float32, as Brevitas.
One method per op class, as in ``torch.fx.Interpreter``: a subclass can
override one op to inject a fault or record values.

A batch is one stream in time order: ``Wdf`` and ``CausalConv`` carry state
from row to row (from rest at row 0), so :meth:`Interpreter.run` must see the
whole stream at once, in order; the stateless ops do not care.

Inside, every value is an array ``(N, *shape)`` (channels last), so
per-channel parameters broadcast over the last axis; :meth:`Interpreter.run`
returns them flattened to ``(N, n)`` in that channels-last order, which is
also the order the elements travel in on the hardware's streams.
"""

from __future__ import annotations

import numpy as np

from ..errors import VerifyError
from . import wdf
from ._activation import apply_activation, quantise_activation
from ._add import Join
from ._conv import CausalConv, Conv, Flatten, Pool, PoolKind, grouped_matvec, windows
from ._formats import Bipolar
from ._steps import apply_steps
from ._graph import Graph, verify
from ._ops import (Affine, Input, MatVec, MultiThreshold, Output, Quant, Requant, ValueType,
                   code_min)
from ._wdf_op import Wdf

__all__ = ["Interpreter", "run_graph", "quantise_input"]


def quantise_input(op: Input, x: np.ndarray) -> np.ndarray:
    """Integer codes of real inputs ``x``: round half to even (as torch), then clip.

    ``x`` is ``(N, n)`` or ``(N, *op.shape)`` in the model's layout (channels
    first); the codes come back ``(N, n)`` channels last, the graph's order.
    With ``op.pre`` (the model's arithmetic before its quantiser, e.g. ``2·x − 1``)
    every step, and the division by the scale, is float32, as the model computes it.
    """
    x = np.asarray(x)
    if x.ndim < 2 or x[0].size != op.n:
        raise VerifyError(f"input: expected a batch of {op.n} elements per sample"
                          + (f" (shape {tuple(op.shape)})" if op.shape else "")
                          + f", not an array of shape {x.shape}")
    codes = _quantise(op, x.reshape(len(x), -1))
    if len(op.shape) >= 2:
        codes = np.moveaxis(codes.reshape((len(x),) + tuple(op.shape)), 1, -1).reshape(len(x), -1)
    return codes


def _quantise(op: Input, x: np.ndarray) -> np.ndarray:
    if op.pre:
        y = apply_steps(op.pre, x)
        if isinstance(op.fmt, Bipolar):
            return np.where(y >= 0, 1, -1).astype(np.int64)
        return np.clip(np.rint(y / np.float32(op.scale)), code_min(op), op.fmt.max).astype(np.int64)
    x = np.asarray(x, dtype=np.float64)
    if isinstance(op.fmt, Bipolar):
        return np.where(x >= 0, 1, -1).astype(np.int64)
    return np.clip(np.rint(x / op.scale), code_min(op), op.fmt.max).astype(np.int64)


class Interpreter:
    """Runs a graph on a batch (N × n) and returns integer codes (or reals) of every op."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self.types = verify(graph)

    def run(self, x: np.ndarray, *, codes: bool = False) -> dict[str, np.ndarray]:
        """Values of every op by name, each ``(N, n)`` channels last.

        ``x`` is real-valued in the model's layout (``(N, n)`` or ``(N, *shape)``,
        channels first), or integer codes in the graph's layout if ``codes``.
        """
        x = np.asarray(x)
        inp = self.graph.input
        if x.ndim < 2 or x[0].size != inp.n:
            raise VerifyError(f"interpreter: input has shape {x.shape}, expected (N, {inp.n})")
        values: dict[str, np.ndarray] = {}
        for op in self.graph.ops:
            if isinstance(op, Input):
                v = np.asarray(x, dtype=np.int64).reshape(len(x), -1) if codes \
                    else quantise_input(op, x)
                if codes and (v.min(initial=0) < code_min(op) or v.max(initial=0) > op.fmt.max):
                    raise VerifyError(f"interpreter: input codes outside {op.fmt}"
                                      + (" (narrow)" if op.narrow else ""))
                v = v.reshape((len(v),) + self.types[op.name].shape)
            elif isinstance(op, Join):
                v = op.combine(values[op.input], values[op.other])
            else:
                v = self.step(op, values[op.input])
            values[op.name] = v
        return {k: v.reshape(len(v), -1) for k, v in values.items()}

    def step(self, op, x: np.ndarray) -> np.ndarray:
        """Op ``op`` of this graph on values ``x`` of its input: rows are samples, the last
        axis channels (``(N, *shape)``; elementwise ops take any leading axes)."""
        return getattr(self, "op_" + op.opcode)(op, x, self.types[op.input])

    def output(self, x: np.ndarray, *, codes: bool = False) -> np.ndarray:
        return self.run(x, codes=codes)[self.graph.output.name]

    def device(self, x: np.ndarray, *, codes: bool = False) -> np.ndarray:
        """The codes that leave the hardware (:attr:`Graph.device_output`) for inputs ``x``."""
        return self.run(x, codes=codes)[self.graph.device_output.name]

    def finish(self, device_codes: np.ndarray) -> np.ndarray:
        """The graph's real output from the hardware's output codes: their real value, then
        the host-side affines (:attr:`Graph.host_ops`)."""
        dev = self.graph.device_output
        v = self.real(dev.name, np.asarray(device_codes))
        if not self.graph.host_ops:
            return v
        v = v.reshape((len(v),) + self.types[dev.name].shape)
        for op in self.graph.host_ops:
            v = self.step(op, v)
        return v.reshape(len(v), -1)

    def real(self, name: str, value: np.ndarray) -> np.ndarray:
        """Real value of op ``name``'s output codes."""
        return self.types[name].real(value)

    # -- one method per op -------------------------------------------------
    def op_matvec(self, op: MatVec, x: np.ndarray, t: ValueType) -> np.ndarray:
        acc = x.astype(np.int64) @ op.weight.array.T
        if op.bias is not None:
            acc = acc + op.bias.array
        return acc

    def op_conv(self, op: Conv, x: np.ndarray, t: ValueType) -> np.ndarray:
        win = windows(x, op.kernel, op.stride, op.pads, op.dilation)
        return grouped_matvec(win, op.weight.array, None if op.bias is None else op.bias.array,
                              op.groups)

    def op_causalconv(self, op: CausalConv, x: np.ndarray, t: ValueType) -> np.ndarray:
        """Row ``t`` sees rows ``t − history … t`` (zeros before row 0)."""
        win = windows(x[None], (op.taps,), (1,), (op.history, 0), (op.dilation,))[0]
        return grouped_matvec(win, op.weight.array, None if op.bias is None else op.bias.array,
                              op.groups)

    def op_pool(self, op: Pool, x: np.ndarray, t: ValueType) -> np.ndarray:
        win = windows(x, op.kernel, op.stride, op.pads, (1,) * len(op.kernel), op.pad_code(t.fmt))
        return win.max(axis=-2) if op.kind == PoolKind.MAX else win.sum(axis=-2)

    def op_flatten(self, op: Flatten, x: np.ndarray, t: ValueType) -> np.ndarray:
        return np.moveaxis(x, -1, 1).reshape(len(x), -1)

    def op_affine(self, op: Affine, x: np.ndarray, t: ValueType) -> np.ndarray:
        real = x * t.scales if t.fmt.is_integer else x
        return real * op.mul.array + op.add.array

    def op_quant(self, op: Quant, x: np.ndarray, t: ValueType) -> np.ndarray:
        real = x * t.scales if t.fmt.is_integer else x
        if isinstance(op.fmt, Bipolar):
            y = real if op.act is None else apply_activation(op.act, real)
            return np.where(y >= 0, 1, -1).astype(np.int64)
        if op.act is not None:
            return quantise_activation(op.act, real, op.scale.array, code_min(op), op.fmt.max)
        return np.clip(np.rint(real / op.scale.array), code_min(op), op.fmt.max).astype(np.int64)

    def op_multithreshold(self, op: MultiThreshold, x: np.ndarray, t: ValueType) -> np.ndarray:
        count = (x[..., None] >= op.thresholds.array).sum(axis=-1)
        if isinstance(op.fmt, Bipolar):
            return 2 * count - 1
        return op.out_bias + count

    def op_requant(self, op: Requant, x: np.ndarray, t: ValueType) -> np.ndarray:
        rnd = (1 << (op.shift - 1)) if op.shift else 0
        y = (x * op.mult + rnd) >> op.shift
        return np.clip(y, op.fmt.min, op.fmt.max)

    def op_output(self, op: Output, x: np.ndarray, t: ValueType) -> np.ndarray:
        return x

    def op_wdf(self, op: Wdf, x: np.ndarray, t: ValueType) -> np.ndarray:
        """Each channel's samples through its filter, row after row (rows are time steps) and,
        oversampled, phase after phase within a row."""
        k, n = op.oversample, op.channels
        x = x.reshape(len(x), k, n)                 # (rows, phases, channels)
        if op.is_fixed:
            specs = op.specs(op.input_format(t))
            cols = [wdf.run_fixed(spec, x[:, :, c].reshape(-1).astype(np.int64))
                    for c, spec in enumerate(specs)]
            return np.stack(cols, axis=1).reshape(len(x), k * n).astype(np.int64)
        real = x * t.scales.reshape(k, n) if t.fmt.is_integer else x
        cols = [wdf.simulate(tree, real[:, :, c].reshape(-1)) for c, tree in enumerate(op.trees())]
        return np.stack(cols, axis=1).reshape(len(x), k * n)


def run_graph(graph: Graph, x: np.ndarray, *, codes: bool = False) -> np.ndarray:
    """Output of ``graph`` on batch ``x`` (integer codes, or reals for a real-valued output)."""
    return Interpreter(graph).output(x, codes=codes)
