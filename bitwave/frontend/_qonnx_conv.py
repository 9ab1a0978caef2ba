"""Images and signals in the QONNX reader: ``Conv``, pooling and the reshapes between them.

The reader tracks each tensor's shape as the model has it, channels first
(``(C, H, W)``, ``(C, L)`` or ``(n,)``, without the batch); the IR holds the
same tensor channels last (:func:`bitwave.ir.channels_last`), so a per-channel
constant of the model (shape ``(1, C, 1, 1)``) is one IR value per channel.

``Conv`` weights ``(O, C/groups, *kernel)`` become the IR's window-order
matrix ``(O, taps · C/groups)`` (kernel offsets row-major, then the channel).
``MaxPool``/``AveragePool``/``GlobalAveragePool`` (and ``ReduceMean``/``ReduceMax``
over the spatial axes, PyTorch's adaptive pooling to size 1) read integer codes, so they
come after a quantiser (or straight after a convolution).  A ``Flatten`` or a
``Reshape`` to ``(N, C·H·W)`` is the IR ``Flatten`` (PyTorch's element order);
before the input quantiser any reshape only changes the input's shape.
"""

from __future__ import annotations

import math

import numpy as np

from ..ir import Conv, Flatten, Pool, PoolKind
from ._qonnx_consts import QConst, attrs

__all__ = ["ConvReader", "LAYOUT_OPS"]

LAYOUT_OPS = ("Conv (1-D, 2-D), MaxPool, AveragePool, GlobalAveragePool, ReduceMean/ReduceMax (over the "
              "spatial axes), Flatten, Reshape (flattening)")


def _auto_pad(node) -> str:
    pad = attrs(node).get("auto_pad", b"NOTSET")
    return pad.decode() if isinstance(pad, bytes) else str(pad)


class ConvReader:
    """The shaped half of the importer: needs ``feat`` (the model's shape of the data, channels
    first), ``ops``, ``emit``, ``fail``, ``layer`` and ``require_codes`` of the importer."""

    def spatial_dims(self, node, what: str) -> int:
        d = len(self.feat) - 1
        if d not in (1, 2):
            raise self.fail(node, f"{what} over data of shape {self.shape_text()}; bitwave reads 1-D "
                                  "(N, C, L) and 2-D (N, C, H, W) tensors")
        return d

    def window_attrs(self, node, d: int, kernel) -> dict:
        """kernel/stride/pads of an ONNX windowed node, checked against what the IR represents."""
        a = attrs(node)
        pad_mode = _auto_pad(node)
        if pad_mode not in ("NOTSET", "VALID"):
            raise self.fail(node, f"auto_pad={pad_mode} is not supported; export with explicit padding")
        kernel = tuple(int(k) for k in a.get("kernel_shape", kernel))
        stride = tuple(int(s) for s in a.get("strides", (1,) * d))
        pads = tuple(int(p) for p in a.get("pads", (0,) * 2 * d)) if pad_mode == "NOTSET" else (0,) * 2 * d
        if len(kernel) != d or len(stride) != d or len(pads) != 2 * d:
            raise self.fail(node, f"kernel {list(kernel)}, strides {list(stride)} and pads {list(pads)} "
                                  f"do not fit a {d}-D tensor of shape {self.shape_text()}")
        if a.get("ceil_mode", 0):
            for i in range(d):
                size = self.feat[1 + i] + pads[i] + pads[i + d] - kernel[i]
                if size % stride[i]:
                    raise self.fail(node, "ceil_mode=1 adds a partial window here; bitwave pools whole "
                                          "windows only: use ceil_mode=False or pad the input")
        return {"kernel": kernel, "stride": stride, "pads": pads}

    def op_Conv(self, node):
        if node.input[0] != self.cur:
            raise self.fail(node, "the data must be the first input of Conv")
        self.require_codes(node, "a convolution")
        d = self.spatial_dims(node, "a convolution")
        w = self.consts.get(node.input[1])
        if not isinstance(w, QConst):
            raise self.fail(node, f"the weights {node.input[1]!r} are not quantised; use QuantConv1d or "
                                  "QuantConv2d (a Quant or BipolarQuant on the weights)")
        if w.codes.ndim != d + 2:
            raise self.fail(node, f"the weights have shape {list(w.codes.shape)}, expected (out, in/groups, "
                                  f"{d} kernel sizes)")
        a = attrs(node)
        win = self.window_attrs(node, d, w.codes.shape[2:])
        dilation = tuple(int(v) for v in a.get("dilations", (1,) * d))
        groups = int(a.get("group", 1))
        if win["kernel"] != w.codes.shape[2:]:
            raise self.fail(node, f"kernel_shape {list(win['kernel'])} differs from the weights' "
                                  f"{list(w.codes.shape[2:])}")
        rows = w.codes.shape[0]
        # (O, C/g, *k) -> (O, *k, C/g): the IR's window order, kernel offsets then channel.
        w = w.transposed((0, *range(2, d + 2), 1)).reshaped((rows, -1))
        bias = node.input[2] if len(node.input) > 2 and node.input[2] else None
        self.layer(node, w, bias, Conv, kernel=win["kernel"], stride=win["stride"], pads=win["pads"],
                   dilation=dilation, groups=groups)

    def pool(self, node, kind: str, kernel=None):
        what = "max pooling" if kind == PoolKind.MAX else "average pooling"
        self.require_codes(node, what)
        d = self.spatial_dims(node, what)
        a = attrs(node)
        if any(v != 1 for v in a.get("dilations", ())):
            raise self.fail(node, f"dilated pooling (dilations={list(a['dilations'])}) is not supported")
        win = self.window_attrs(node, d, kernel or ())
        if kind == PoolKind.AVG and any(win["pads"]) and not a.get("count_include_pad", 0):
            raise self.fail(node, "average pooling that leaves the padding out of the count "
                                  "(count_include_pad=False) is not supported; bitwave divides by the "
                                  "window size: use count_include_pad=True or padding=0")
        name = self.unique(self.layer_name(node, "pool"))
        self.emit(Pool(name=name, input=self.head, kind=kind, src=self.src(node), **win), node)

    def op_MaxPool(self, node):
        if len(node.output) > 1 and node.output[1]:
            raise self.fail(node, "max pooling that returns indices is not supported")
        self.pool(node, PoolKind.MAX)

    def op_AveragePool(self, node):
        self.pool(node, PoolKind.AVG)

    def op_GlobalAveragePool(self, node):
        self.spatial_dims(node, "global average pooling")
        self.pool(node, PoolKind.AVG, kernel=self.feat[1:])

    def reduce(self, node, kind: str):
        """``ReduceMean``/``ReduceMax`` over every spatial axis (adaptive pooling to 1): global pooling."""
        a = attrs(node)
        axes = a.get("axes")
        if axes is None and len(node.input) > 1 and node.input[1]:
            axes = self.const(node, node.input[1], "the axes").ravel().tolist()
        d = self.spatial_dims(node, f"{node.op_type}")
        spatial = list(range(2, d + 2))
        if axes is None or sorted(int(x) % (d + 2) for x in axes) != spatial:
            raise self.fail(node, f"{node.op_type} over axes {'all' if axes is None else list(axes)} is not "
                                  f"supported; only over the spatial axes {spatial} (global pooling)")
        self.pool(node, kind, kernel=self.feat[1:])
        if not a.get("keepdims", 1):
            self.flatten(node)

    def op_ReduceMean(self, node):
        self.reduce(node, PoolKind.AVG)

    def op_ReduceMax(self, node):
        self.reduce(node, PoolKind.MAX)

    def op_Trunc(self, node):
        raise self.fail(node, "Trunc (Brevitas' TruncAvgPool2d or a truncating quantiser) is not "
                              "supported; use nn.AvgPool2d (or MaxPool2d) followed by a QuantIdentity, "
                              "which requantises the average exactly")

    # -- reshapes -------------------------------------------------------------
    def flatten(self, node):
        """The data as one vector in the model's (C·H·W) order."""
        if len(self.feat) == 1:
            return
        if self.head is None:
            self.feat = (self.n,)
            return
        self.flush_affine()
        name = self.unique(self.layer_name(node, "flatten"))
        self.emit(Flatten(name=name, input=self.head, src=self.src(node)), node)

    def op_Flatten(self, node):
        axis = attrs(node).get("axis", 1)
        if axis % (len(self.feat) + 1) != 1:
            raise self.fail(node, f"Flatten(axis={axis}) of {self.shape_text()} would merge the batch "
                                  "dimension or keep more than one feature axis; only axis=1 is supported")
        self.flatten(node)

    def op_Reshape(self, node):
        target = [int(d) for d in self.const(node, node.input[1], "the target shape").ravel()]
        full = (self.batch, *self.feat)
        if not attrs(node).get("allowzero", 0):
            target = [full[i] if d == 0 and i < len(full) else d for i, d in enumerate(target)]
        rest = target[1:]
        if target[0] == -1:
            if -1 in rest:
                raise self.fail(node, f"reshape to {target} is ambiguous")
        elif target[0] != self.batch:
            raise self.fail(node, f"reshape to {target} changes the batch dimension of "
                                  f"{self.shape_text()}; only reshapes within a sample are supported")
        if rest.count(-1) == 1:
            known = math.prod(d for d in rest if d != -1)
            rest = [self.n // known if d == -1 else d for d in rest]
        if not rest or math.prod(rest) != self.n or any(d < 1 for d in rest):
            raise self.fail(node, f"reshape to {target} does not keep the {self.n} features of a sample")
        self.reshape(node, tuple(rest), f"reshape to {target}")

    def reshape(self, node, shape: tuple[int, ...], what: str):
        if self.head is None or shape == self.feat:
            self.feat = shape
        elif len(shape) == 1:
            self.flatten(node)
        else:
            raise self.fail(node, f"{what} of {self.shape_text()} is not supported after the input "
                                  "quantiser; bitwave keeps each tensor as the layers read it and "
                                  "reshapes only to flatten (N, C, H, W) to (N, C·H·W)")

    def op_Transpose(self, node):
        full = (self.batch, *self.feat)
        perm = attrs(node).get("perm")
        perm = list(perm) if perm is not None else list(reversed(range(len(full))))
        moved = [p for p in perm if full[p] != 1]
        if perm[0] != 0 or moved != sorted(moved):
            raise self.fail(node, f"Transpose(perm={perm}) of {self.shape_text()} changes the order of the "
                                  "elements; bitwave absorbs only transposes of size-1 axes: transpose "
                                  "the data when loading it (e.g. give a Conv1d model (N, C, L) input)")
        self.reshape(node, tuple(full[p] for p in perm[1:]), f"Transpose(perm={perm})")

    def per_channel(self, node, value, what: str) -> np.ndarray:
        """A constant that broadcasts against the data (batch, C, …) as one value per channel: (C,)."""
        v = np.asarray(value, dtype=np.float64)
        c = self.feat[0]
        if v.size == 1:
            return np.full(c, float(v.ravel()[0]))
        full = (1, *self.feat)
        if v.ndim <= len(full):
            shape = (1,) * (len(full) - v.ndim) + v.shape
            if shape[1] == c and all(s == 1 for i, s in enumerate(shape) if i != 1):
                return v.reshape(c)
        per = "feature" if len(self.feat) == 1 else "channel"
        raise self.fail(node, f"{what} has shape {list(v.shape)}; it must be a scalar or one value per "
                              f"{per} ({c}) of a {self.shape_text()} tensor")
