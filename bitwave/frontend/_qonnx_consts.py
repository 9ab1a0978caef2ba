"""Constant folding for the QONNX reader: weights, biases and shapes evaluated exactly.

Weights reach the data path through quantisers (``Quant``/``BipolarQuant``)
and small constant subgraphs (Transpose, Reshape, Cast, …); :class:`ConstFolder`
evaluates them to exact integer codes with their scales, as Brevitas and qonnx
compute them (float32), so the codes are exactly theirs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import numpy_helper
from qonnx.custom_op.general.intquant import resolve_rounding_mode

from ..ir import Bipolar, Int, int_format_for

__all__ = ["ConstFolder", "QConst", "attrs", "code_range"]

_CONST_OPS = ("Quant, BipolarQuant, Constant, Shape (of the data), Identity, Transpose, Reshape, Cast, "
              "Unsqueeze, Squeeze, Gather, Concat, Neg, Add, Sub, Mul, Div")

# Stands for a symbolic batch size in shapes computed from the data (``Shape``),
# so that ``x.view(x.size(0), -1)`` works on models exported with a dynamic batch.


@dataclass(frozen=True)
class QConst:
    """A constant after a quantiser: exact integer codes and the real scale of each element."""
    codes: np.ndarray       # int64, zero-point removed
    scale: np.ndarray       # float64, same shape as codes
    fmt: object             # Int or Bipolar
    bits: int
    value: np.ndarray       # the dequantised float32 value, as qonnx computes it

    def transposed(self, perm):
        return QConst(self.codes.transpose(perm), self.scale.transpose(perm), self.fmt,
                       self.bits, self.value.transpose(perm))

    def reshaped(self, shape):
        return QConst(self.codes.reshape(shape), self.scale.reshape(shape), self.fmt,
                       self.bits, self.value.reshape(shape))


def attrs(node) -> dict:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def code_range(bits: int, signed: bool, narrow: bool) -> tuple[int, int]:
    if signed:
        return -(1 << (bits - 1)) + int(narrow), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1 - int(narrow)



class ConstFolder:
    """Constant evaluation of an importer that has ``consts`` (name → value) and
    ``fail(node, message) -> FrontendError``."""

    def constant_attr(self, node):
        a = attrs(node)
        if "value" in a:
            return numpy_helper.to_array(a["value"])
        for key in ("value_float", "value_int"):
            if key in a:
                return np.array(a[key])
        for key in ("value_floats", "value_ints"):
            if key in a:
                return np.array(a[key])
        raise self.fail(node, "only tensor, float and int Constant nodes are supported")

    def const(self, node, name: str, what: str) -> np.ndarray:
        v = self.consts.get(name)
        if v is None:
            raise self.fail(node, f"{what} must be a constant, but {name!r} is computed at run time")
        if isinstance(v, QConst):
            return v.value
        return np.asarray(v)

    def quant_params(self, node, bits_limit: int | None):
        scale = self.const(node, node.input[1], "the scale").astype(np.float32)
        if not np.all(np.isfinite(scale)) or np.any(scale <= 0):
            raise self.fail(node, "the scale must be positive and finite")
        if node.op_type == "BipolarQuant":
            return scale, np.zeros((), np.float32), 1, True, False, "ROUND"
        zeropt = self.const(node, node.input[2], "the zero-point").astype(np.float32)
        bw = self.const(node, node.input[3], "the bit width")
        if bw.size != 1 or not np.isfinite(bw).all() or float(bw.ravel()[0]) != round(float(bw.ravel()[0])):
            raise self.fail(node, f"the bit width must be one integer, not {bw.ravel().tolist()}")
        bits = int(round(float(bw.ravel()[0])))
        if bits < 1 or (bits_limit is not None and bits > bits_limit):
            raise self.fail(node, f"bit width {bits} is not supported; use 1 to {bits_limit} bits")
        a = attrs(node)
        mode = a.get("rounding_mode", b"ROUND")
        mode = (mode.decode() if isinstance(mode, bytes) else str(mode)).upper()
        return scale, zeropt, bits, bool(a.get("signed", 1)), bool(a.get("narrow", 0)), mode

    def const_eval(self, node):
        op = node.op_type
        ins = [self.consts[i] if i else None for i in node.input]
        if op in ("Quant", "BipolarQuant"):
            return self.quant_const(node)
        if op == "Identity":
            return ins[0]
        if op == "Transpose":
            perm = attrs(node).get("perm")
            perm = tuple(perm) if perm is not None else tuple(reversed(range(np.ndim(self.value(ins[0])))))
            return ins[0].transposed(perm) if isinstance(ins[0], QConst) else np.transpose(ins[0], perm)
        if op == "Reshape":
            shape = [int(d) for d in np.asarray(self.value(ins[1])).ravel()]
            src = np.asarray(self.value(ins[0]))
            shape = [src.shape[i] if d == 0 and not attrs(node).get("allowzero", 0) else d
                     for i, d in enumerate(shape)]
            return ins[0].reshaped(shape) if isinstance(ins[0], QConst) else src.reshape(shape)
        vals = [self.value(v) for v in ins]
        if op == "Cast":
            return vals[0].astype(onnx.helper.tensor_dtype_to_np_dtype(attrs(node)["to"]))
        if op in ("Unsqueeze", "Squeeze"):
            axes = attrs(node).get("axes")
            if axes is None and len(vals) > 1 and vals[1] is not None:
                axes = [int(a) for a in np.asarray(vals[1]).ravel()]
            if op == "Squeeze":
                return np.squeeze(vals[0], axis=tuple(axes) if axes else None)
            out = vals[0]
            for a in sorted(a % (out.ndim + len(axes)) for a in axes):
                out = np.expand_dims(out, a)
            return out
        binary = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}
        if op in binary:
            return binary[op](vals[0], vals[1])
        if op == "Neg":
            return np.negative(vals[0])
        if op == "Gather":
            return np.take(vals[0], vals[1], axis=attrs(node).get("axis", 0))
        if op == "Concat":
            return np.concatenate([np.atleast_1d(v) for v in vals], axis=attrs(node)["axis"])
        raise self.fail(node, f"op type {op} on constants is not supported; supported: {_CONST_OPS}")

    @staticmethod
    def value(v):
        return v.value if isinstance(v, QConst) else v

    def quant_const(self, node) -> QConst:
        """Evaluate a quantiser on a constant (weights, bias) to exact integer codes."""
        w = self.const(node, node.input[0], "the quantised tensor").astype(np.float32)
        if not np.all(np.isfinite(w)):
            raise self.fail(node, f"the constant {node.input[0]!r} contains NaN or Inf")
        scale, zeropt, bits, signed, narrow, mode = self.quant_params(node, None)
        shape = np.broadcast_shapes(w.shape, scale.shape, zeropt.shape)
        scale_b = np.broadcast_to(scale, shape).astype(np.float64)
        if node.op_type == "BipolarQuant" or (bits == 1 and signed):
            # qonnx's convention: a signed 1-bit quantiser is the sign function (-1/+1).
            if np.any(zeropt != 0):
                raise self.fail(node, "a bipolar (1-bit) quantiser must have zero-point 0")
            codes = np.where(w / scale + zeropt >= 0, 1, -1).astype(np.int64)
            codes = np.broadcast_to(codes, shape)
            return QConst(codes, scale_b, Bipolar(), 1, (codes * scale).astype(np.float32))
        if np.any(zeropt != np.round(zeropt)):
            raise self.fail(node, f"the zero-point must be an integer, not {zeropt.ravel()[:4].tolist()}")
        try:
            rnd = resolve_rounding_mode(mode)
        except ValueError:
            raise self.fail(node, f"rounding mode {mode!r} is not known") from None
        lo, hi = code_range(bits, signed, narrow)
        # float32 as in Brevitas/qonnx, so the codes are exactly theirs.
        q = np.clip(rnd(w / scale + zeropt), lo, hi)
        codes = (q - zeropt).astype(np.int64)
        zp = np.broadcast_to(zeropt.astype(np.int64), shape)
        if np.any(zp != 0):
            fmt = int_format_for(min(lo - int(zp.max()), 0), max(hi - int(zp.min()), 0))
        else:
            fmt = Int(bits, signed)
        return QConst(np.broadcast_to(codes, shape), scale_b, fmt, bits,
                       ((q - zeropt) * scale).astype(np.float32))
