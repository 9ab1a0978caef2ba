"""Activations in the QONNX reader: ``Relu``, ``Clip``, ``Sigmoid`` and ``Tanh`` before a quantiser.

An activation waits for the quantiser after it.  ``Relu`` and ``Clip`` only
narrow the quantiser's code range: for a non-decreasing quantised function
``q``, ``q(clip(x, a, b)) == clip(q(x), q(a), q(b))`` exactly, so each bound is
quantised (through the sigmoid or tanh when the clip comes before it) with the
IR's own arithmetic.  ``Sigmoid``/``Tanh`` become the ``act`` of the IR
``Quant``.  Non-monotone activations are refused with what to use instead.
"""

from __future__ import annotations

import math

import numpy as np

from ..ir import Activation, quantise_activation
from ._qonnx_consts import attrs

__all__ = ["ActivationReader", "ACTIVATIONS", "FUNCTIONS", "NOT_MONOTONE", "MONOTONE_HINT", "PASS_THROUGH"]

#: Activation nodes that wait for the quantiser after them: what to call them, the Brevitas layer to use.
ACTIVATIONS = {"Relu": ("ReLU", "QuantReLU"), "Clip": ("clip", "QuantHardTanh or QuantReLU(max_val=…)"),
               "Sigmoid": ("sigmoid", "QuantSigmoid"), "Tanh": ("tanh", "QuantTanh")}
FUNCTIONS = {"Sigmoid": Activation.SIGMOID, "Tanh": Activation.TANH}
NOT_MONOTONE = {"Gelu": "GELU", "HardSwish": "hard-swish", "Mish": "Mish"}
MONOTONE_HINT = ("bitwave compiles only monotone activations, into thresholds: ReLU, ReLU6/Clip, "
                 "sigmoid, tanh or hard-tanh before a quantiser; use QuantReLU, QuantSigmoid, QuantTanh "
                 "or QuantHardTanh instead")
PASS_THROUGH = ("Identity", "Dropout", "Flatten", "Reshape", "Transpose")


class ActivationReader:
    """The activation half of the importer: needs ``acts`` (the pending nodes; ``data[t]["acts"]``
    those of tensor ``t``), ``fail``, ``const`` and ``per_channel``."""

    def check_activation(self, node, data: list[str]):
        """Refuse a node that cannot follow the pending activations."""
        if len(data) > 1 and node.op_type == "Mul" and any(a.op_type == "Sigmoid"
                                                            for t in data for a in self.data[t]["acts"]):
            raise self.fail(node, f"x * sigmoid(x) (SiLU, swish) is not monotone, so no thresholds can "
                                  f"represent it; {MONOTONE_HINT}")
        if self.acts and node.op_type not in ("Quant", "BipolarQuant", *ACTIVATIONS, *PASS_THROUGH):
            kind, layer = ACTIVATIONS[self.acts[-1].op_type]
            raise self.fail(node, f"follows a {kind} ({self.acts[-1].name!r}) that has no quantiser of its "
                                  f"own; bitwave has no float {kind}: use {layer}")

    def op_Relu(self, node):
        self.acts.append(node)

    op_Clip = op_Sigmoid = op_Tanh = op_Relu

    def clip_bounds(self, node) -> tuple[float, float]:
        """The real interval a Relu or Clip node keeps."""
        if node.op_type == "Relu":
            return 0.0, math.inf
        a = attrs(node)
        bounds = [a.get("min", -math.inf), a.get("max", math.inf)]
        for i, which in ((1, "min"), (2, "max")):
            if len(node.input) > i and node.input[i]:
                v = self.const(node, node.input[i], f"the clip {which}")
                if v.size != 1:
                    raise self.fail(node, f"the clip {which} must be a scalar, not shape {list(v.shape)}")
                bounds[i - 1] = float(np.float32(v.ravel()[0]))
        return bounds[0], bounds[1]

    def activation(self, node, lo: int, hi: int, scale: np.ndarray):
        """The pending activations before quantiser ``node`` with codes [lo, hi]: the function (or
        None) and the code interval the clips leave, each bound ``b`` quantised as the IR does."""
        funcs = [a for a in self.acts if a.op_type in FUNCTIONS]
        if len(funcs) > 1:
            raise self.fail(funcs[1], f"two activation functions ({funcs[0].op_type}, {funcs[1].op_type}) "
                                      "before one quantiser are not supported; quantise after each")
        act = FUNCTIONS[funcs[0].op_type] if funcs else None
        s = self.per_channel(node, scale, "the quantiser scale")
        for a in self.acts:
            if a.op_type not in ("Relu", "Clip"):
                continue
            through = act if funcs and self.acts.index(a) < self.acts.index(funcs[0]) else None
            codes = []
            for b in self.clip_bounds(a):
                v = np.full(len(s), b)
                if through is not None:
                    codes.append(quantise_activation(through, v, s, lo, hi))
                elif act is not None:   # the quantiser divides in float32 (Quant.act)
                    codes.append(np.clip(np.rint(np.float32(b) / s.astype(np.float32)), lo, hi))
                else:
                    codes.append(np.clip(np.rint(v / s), lo, hi))
            if np.any(codes[0] != codes[0][0]) or np.any(codes[1] != codes[1][0]):
                raise self.fail(a, "a clip before a quantiser with one scale per channel gives a different "
                                   "code range per channel; use one scale for the whole tensor")
            lo, hi = max(lo, int(codes[0][0])), min(hi, int(codes[1][0]))
        return act, lo, hi

