"""Branches in the QONNX reader: the op each tensor is, and the ``Add`` or ``Concat`` that joins two.

A residual block reads one tensor twice (the fork) and adds two (the join), so
the reader cannot keep one "current op" as for a chain.  For every ONNX tensor
computed so far it keeps the state of the data the tensor carries
(:data:`DATA_STATE`): the IR op whose codes it is (``head``; None for the raw
model input), its shape as the model has it, and the affine, activations and
input steps still pending on it.  Each node first switches to the state of its
own input; ONNX lists nodes in topological order, so the IR ops are emitted in
one too.  A pending affine or activation on a tensor read twice is emitted once
on each path.

An ``Add`` of two computed tensors becomes the IR ``Add`` when both are
multi-bit integer codes of one shape whose scales are in an exact integer
ratio (:func:`~bitwave.ir.add_multipliers`): a shared quantiser on both
operands, or Brevitas' ``QuantEltwiseAdd`` (which requantises both operands
with one quantiser before adding), gives ratio 1.  ``x + x`` is an affine
doubling.  A ``Concat`` of two computed tensors along the channel axis becomes
the IR ``Concat`` when both are quantised (each channel keeps its scale).  Any
other node joining two tensors is refused.
"""

from __future__ import annotations

import copy

import numpy as np

from ..ir import Add, Concat, Int, add_multipliers, reads
from ._qonnx_acts import ACTIVATIONS
from ._qonnx_consts import attrs

__all__ = ["JoinReader", "DATA_STATE"]

#: The importer's attributes that describe the data one tensor carries.
DATA_STATE = ("head", "feat", "acts", "pre", "affine_pending")


class JoinReader:
    """The branching half of the importer: needs ``data`` (tensor → state), ``cur``, the
    :data:`DATA_STATE` attributes, ``ops``, ``types``, ``emit``, ``affine``, ``fail``, ``where``,
    ``unique``, ``layer_name`` and ``src`` of the importer."""

    def live(self) -> list:
        """The ops the output depends on: a branch whose result nothing uses is left out."""
        needed = {self.ops[-1].name}
        for op in reversed(self.ops):
            if op.name in needed:
                needed.update(reads(op))
        return [op for op in self.ops if op.name in needed]

    def save(self):
        """Remember the data state as that of tensor ``cur``."""
        self.data[self.cur] = {k: copy.copy(getattr(self, k)) for k in DATA_STATE}

    def switch(self, tensor: str):
        """Make ``tensor`` the data the next node reads."""
        for k, v in self.data[tensor].items():
            setattr(self, k, copy.copy(v))
        self.cur = tensor

    def join(self, node, data: list[str]):
        """A node reading two computed tensors: the ``Add`` that ends a residual block (x + f(x)),
        or a ``Concat`` of two paths' channels."""
        if node.op_type == "Concat" and len(data) == 2:
            return self.concat(node, data)
        if node.op_type != "Add" or len(data) != 2:
            raise self.fail(node, f"{node.op_type} of {len(data)} computed tensors is not supported; bitwave "
                                  "joins two branches by adding them (an Add of two quantised tensors, as a "
                                  "residual block x + f(x) has) or by concatenating their channels (Concat)")
        if data[0] == data[1] and self.head is not None:   # x + x: an affine, requantised as any
            self.affine(node, 2.0, 0.0)
            return
        operands = []
        for tensor in data:
            self.switch(tensor)
            why = self.real_valued()
            if why is not None:
                raise self.fail(node, f"adds {why}; a residual add reads integer codes: quantise both "
                                      "operands (with one shared quantiser, or use QuantEltwiseAdd)")
            operands.append((self.head, self.types[self.head], self.feat))
        (a, ta, fa), (b, tb, fb) = operands
        if fa != fb:
            raise self.fail(node, f"adds tensors of shapes {list(fa)} and {list(fb)}; a residual add "
                                  "needs operands of one shape (no broadcasting)")
        if not isinstance(ta.fmt, Int) or not isinstance(tb.fmt, Int):
            raise self.fail(node, "adds bipolar (1-bit) codes; a residual add reads multi-bit codes: "
                                  "quantise both operands with 2 or more bits")
        mults = add_multipliers(ta.scales, tb.scales)
        if mults is None:
            sa, sb = (f"{t.scales[0]:.6g}" if np.all(t.scales == t.scales[0]) else "per-channel"
                      for t in (ta, tb))
            raise self.fail(node, f"the operands' scales ({sa} and {sb}) are not in an exact integer ratio "
                                  "of at most 256, so their integer codes cannot be added exactly; give both "
                                  "one scale: quantise them with one shared quantiser (the same QuantReLU "
                                  "or QuantIdentity instance) or add them with QuantEltwiseAdd")
        name = self.unique(self.layer_name(node, "add"))
        self.emit(Add(name=name, input=a, other=b, mult_a=mults[0], mult_b=mults[1],
                      src=self.src(node)), node)

    def concat(self, node, data: list[str]):
        """``Concat`` of two quantised tensors along the channel axis (axis 1 of ``(N, C, …)``)."""
        if data[0] == data[1]:
            raise self.fail(node, "concatenates a tensor with itself; bitwave concatenates two different "
                                  "paths' channels (to repeat channels, widen the layer before instead)")
        operands = []
        for tensor in data:
            self.switch(tensor)
            why = self.real_valued()
            if why is not None:
                raise self.fail(node, f"concatenates {why}; a concatenation reads integer codes: quantise "
                                      "both operands")
            operands.append((self.head, self.feat))
        (a, fa), (b, fb) = operands
        axis = attrs(node).get("axis", 0)
        if axis % (1 + len(fa)) != 1:
            raise self.fail(node, f"concatenates along axis {axis} of tensors shaped (N, "
                                  f"{', '.join(map(str, fa))}); bitwave concatenates channels only (axis 1)")
        name = self.unique(self.layer_name(node, "concat"))
        self.emit(Concat(name=name, input=a, other=b, src=self.src(node)), node)

    def real_valued(self) -> str | None:
        """What makes the current data real-valued rather than integer codes, if anything."""
        if self.head is None:
            return "the unquantised model input"
        if self.acts:
            kind, layer = ACTIVATIONS[self.acts[-1].op_type]
            return f"the output of a {kind} without a quantiser ({self.acts[-1].name!r}, use {layer})"
        if self.affine_pending is not None:
            return f"the real-valued output of {self.where(self.affine_pending[2][-1][0])}"
        return None
