"""Zero padding in the QONNX reader: an ONNX ``Pad`` becomes the padding of the convolution after it.

A causal convolution is written ``F.pad(x, ((k − 1)·d, 0))`` followed by a
``Conv1d`` with ``padding=0`` (TCN / WaveNet style).  Brevitas' default export
(``torch.export`` with ONNX optimisation) merges the two into the Conv's
``pads`` already; the TorchScript export (``dynamo=False``) and an unoptimised
one keep a ``Pad`` node, whose widths the TorchScript export computes from
constants (``ConstantOfShape``, ``Concat``, ``Slice``, …).  Zeros padded onto
codes are real zeros (the IR's codes are symmetric), so a constant-zero
``Pad`` read by one ``Conv`` and nothing else *is* that Conv's padding: its
widths are added to the Conv's ``pads`` and no op is emitted.  Padding with
another value, by reflection or edge copies, on the batch or channel axis, or
in front of anything but a convolution is refused with what to do instead.
"""

from __future__ import annotations

import numpy as np
import onnx

from ._qonnx_consts import attrs

__all__ = ["PadReader", "PAD_OPS"]

PAD_OPS = "Pad (zeros, right before a Conv)"

_CAUSAL_HINT = "e.g. F.pad(x, ((kernel - 1) * dilation, 0)) right before a QuantConv1d with padding=0"


def _with_pads(node, pads: list[int]):
    """A copy of the Conv ``node`` with its ``pads`` attribute set to ``pads``."""
    new = onnx.NodeProto()
    new.CopyFrom(node)
    for a in [a for a in new.attribute if a.name == "pads"]:
        new.attribute.remove(a)
    new.attribute.append(onnx.helper.make_attribute("pads", pads))
    return new


class PadReader:
    """The padding half of the importer: needs ``model``, ``consts``, ``cur``, ``feat``,
    ``fail``, ``const``, ``value`` and ``require_codes`` of the importer, and a ``const_eval``
    and an ``op_Conv`` later in the method order (ConstFolder's, ConvReader's)."""

    def pad_widths(self, node) -> tuple[list[int], list[int]]:
        """Begins and ends on the spatial axes of a zero ``Pad`` of the data (or a FrontendError)."""
        a = attrs(node)
        mode = a.get("mode", b"constant")
        mode = mode.decode() if isinstance(mode, bytes) else str(mode)
        if mode != "constant":
            raise self.fail(node, f"{mode} padding is not supported; bitwave pads with zeros, {_CAUSAL_HINT}")
        rank = 1 + len(self.feat)
        given = node.input[1] if len(node.input) > 1 and node.input[1] else None
        pads = [int(p) for p in np.ravel(self.const(node, given, "the pad widths") if given
                                         else a.get("pads", ()))]
        axes = list(range(rank))
        if len(node.input) > 3 and node.input[3]:
            axes = [int(x) % rank for x in np.ravel(self.const(node, node.input[3], "the pad axes"))]
        if len(pads) != 2 * len(axes):
            raise self.fail(node, f"{len(pads)} pad widths for {len(axes)} axes of data shaped "
                                  f"{self.shape_text()}")
        begins, ends = [0] * rank, [0] * rank
        for i, axis in enumerate(axes):
            begins[axis], ends[axis] = pads[i], pads[i + len(axes)]
        if len(node.input) > 2 and node.input[2]:
            value = self.const(node, node.input[2], "the padding value")
            if np.any(value != 0):
                raise self.fail(node, f"pads with {np.ravel(value)[0]:g}, not zeros; only zero padding "
                                      "is a convolution's padding")
        if any(begins[:2]) or any(ends[:2]):
            raise self.fail(node, f"pads the batch or channel axis (widths {pads}); only the time (or "
                                  "image) axes can be padded")
        if min(begins + ends) < 0:
            raise self.fail(node, f"negative pad widths {pads} (cropping) are not supported")
        return begins[2:], ends[2:]

    def op_Pad(self, node):
        if node.input[0] != self.cur:
            raise self.fail(node, "the data must be the first input of Pad")
        self.require_codes(node, "zero padding")
        self.pad_widths(node)
        readers = [n for n in self.model.graph.node if node.output[0] in n.input]
        if len(readers) != 1 or readers[0].op_type != "Conv" or readers[0].input[0] != node.output[0]:
            raise self.fail(node, "zero padding becomes a convolution's padding, so it must be read by "
                                  f"one Conv and nothing else; {_CAUSAL_HINT}")

    def op_Conv(self, node):
        pad = next((n for n in self.model.graph.node
                    if n.op_type == "Pad" and n.output[0] == node.input[0]), None)
        if pad is not None:
            begins, ends = self.pad_widths(pad)
            own = [int(p) for p in attrs(node).get("pads", [0] * 2 * len(begins))]
            if len(own) == 2 * len(begins):     # otherwise the Conv's own check says what is wrong
                node = _with_pads(node, [p + q for p, q in zip(begins + ends, own)])
        super().op_Conv(node)

    def const_eval(self, node):
        """The constant ops that compute pad widths in a TorchScript export, then the others."""
        op = node.op_type
        if op not in ("ConstantOfShape", "Slice"):
            return super().const_eval(node)
        vals = [self.value(self.consts[i]) if i else None for i in node.input]
        if op == "ConstantOfShape":
            fill = attrs(node).get("value")
            fill = np.zeros(1, np.float32) if fill is None else onnx.numpy_helper.to_array(fill)
            return np.full([int(d) for d in np.ravel(vals[0])], fill.ravel()[0], dtype=fill.dtype)
        data = np.asarray(vals[0])
        starts, ends = (np.ravel(v).astype(np.int64) for v in vals[1:3])
        axes = np.ravel(vals[3]).astype(int) if len(vals) > 3 and vals[3] is not None \
            else np.arange(len(starts))
        steps = np.ravel(vals[4]).astype(int) if len(vals) > 4 and vals[4] is not None \
            else np.ones(len(starts), int)
        index = [slice(None)] * data.ndim
        for axis, start, end, step in zip(axes, starts, ends, steps):
            index[int(axis)] = slice(int(start), int(np.clip(end, -(2**62), 2**62)), int(step))
        return data[tuple(index)]
