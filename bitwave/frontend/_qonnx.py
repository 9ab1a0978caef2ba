"""Read a QONNX model (as Brevitas exports it) into a pre-streamlining IR graph.

QONNX is ONNX plus a few quantisation ops (``Quant``, ``BipolarQuant``) in the
``qonnx.custom_op.general`` domain; Brevitas, FINN, hls4ml and chisel4ml all
speak it.  The reader accepts one float input (a vector, a 1-D signal
``(N, C, L)`` or an image ``(N, C, H, W)``), a quantiser on it, then layers
made of a matrix product (``Gemm``/``MatMul``) or a convolution (``Conv``)
whose weights are a ``Quant``/``BipolarQuant`` of a constant, optional
per-channel affine nodes (``Add``/``Sub``/``Mul``/``Div``/
``BatchNormalization``, folded into one IR ``Affine``), an optional monotone
activation and an activation quantiser; pooling and flattening between them
(``_qonnx_conv``).  Layers form a chain or residual blocks: a tensor read
twice and an ``Add`` of two quantised tensors (``_qonnx_join``).

Activations (``Relu``, ``Clip``, ``Sigmoid``, ``Tanh``) must be followed by a
quantiser.  ``Relu`` and ``Clip`` only narrow the code range (for a
non-decreasing ``q``, ``q(clip(x, a, b)) == clip(q(x), q(a), q(b))``), so they
change the quantiser's format; ``Sigmoid``/``Tanh`` become the ``act`` of the IR
``Quant`` (evaluated in float32, as Brevitas).  Non-monotone activations (GELU,
SiLU, hard-swish, Mish) are refused: no thresholds can represent them.

Weights are never dequantised: the ``Quant`` on an initializer is evaluated
here, in float32 exactly as Brevitas and qonnx do it, to get the integer codes
(``clip(round(w / scale + zeropt)) - zeropt``) and their scale.

Activation quantisers must be representable by an IR ``Quant`` exactly:
``clip(round(x / s + z), lo, hi) - z == clip(round(x / s), lo - z, hi - z)``
for an integer zero-point ``z``, and a preceding ``Relu``/``Clip`` narrows the
interval, so a quantiser is accepted iff the resulting code interval is
exactly the range of some ``Int(bits, signed)`` (e.g. uint8 with z = 128 is
Int(8), narrow signed after a Relu is Int(bits-1, unsigned)) or of a signed Int
without its minimum (narrow signed: ``narrow=True`` on the IR op, e.g. the
ternary [-1, 1] of a 2-bit bnn_pynq quantiser); anything else (narrow
unsigned, odd zero-points, non-integer zero-points) is rejected.
"""

from __future__ import annotations

import ast
import keyword
import math
import os
import re

import numpy as np
import onnx
from onnx import numpy_helper

from ..errors import FrontendError, VerifyError
from ..ir import (Activation, Affine, Arith, Bipolar, Graph, Input, InputStep, Int, MatVec, Output, Quant,
                  reads, verify)
from ._qonnx_acts import ACTIVATIONS, MONOTONE_HINT, NOT_MONOTONE, PASS_THROUGH, ActivationReader
from ._qonnx_consts import ConstFolder, QConst, attrs, code_range
from ._qonnx_conv import LAYOUT_OPS, ConvReader
from ._qonnx_join import JoinReader
from ._qonnx_pad import PAD_OPS, PadReader

__all__ = ["import_qonnx", "MAX_BITS", "MAX_BIAS_BITS"]

MAX_BITS = 16
"""Widest weight or activation quantiser accepted (wider ones are no longer 'low-bit')."""

MAX_BIAS_BITS = 32
"""Widest quantised bias accepted (Brevitas' ``Int32Bias``)."""

_DATA_OPS = ("Quant, BipolarQuant, Gemm, MatMul, " + LAYOUT_OPS + ", " + PAD_OPS + ", Add, Sub, Mul, Div (by constants), "
             "BatchNormalization, Relu, Clip, Sigmoid, Tanh, Identity, Dropout")

_SYMBOLIC_BATCH = 2**31 - 1

# Classes (dynamo export metadata) and attribute names (TorchScript export node
# names) of Brevitas/torch internals: the user's module is the one above them.
_INTERNAL_CLASSES = ("brevitas.proxy.", "brevitas.export.", "brevitas.core.", "onnx_symbolic.",
                     "aten.", "prims.")
_INTERNAL_ATTRS = {"act_quant", "weight_quant", "bias_quant", "input_quant", "output_quant",
                   "export_handler", "activation_impl", "fused_activation_quant_proxy",
                   "tensor_quant"}


def _module_path(node) -> str:
    """The PyTorch module path a node came from ('' if unknown or the root module)."""
    meta = {p.key: p.value for p in node.metadata_props}
    scopes, classes = meta.get("pkg.torch.onnx.name_scopes"), meta.get("pkg.torch.onnx.class_hierarchy")
    if scopes and classes:
        try:
            scopes, classes = ast.literal_eval(scopes), ast.literal_eval(classes)
        except (ValueError, SyntaxError):
            scopes = classes = None
        if isinstance(scopes, list) and isinstance(classes, list) and len(scopes) == len(classes):
            path = ""
            for scope, cls in zip(scopes[1:], classes[1:]):
                if cls.startswith(_INTERNAL_CLASSES):
                    break
                path = scope
            return path
    if node.name.startswith("/"):
        keep = []
        for part in node.name.strip("/").split("/")[:-1]:
            if part in _INTERNAL_ATTRS:
                break
            keep.append(part)
        return ".".join(keep)
    return ""


def locate(locations: dict[str, str], path: str) -> str | None:
    """The ``file.py:line`` of module ``path`` or of the nearest enclosing module that has one (not the root)."""
    while path:
        if path in locations:
            return locations[path]
        path = path.rpartition(".")[0]
    return None


def _identifier(path: str, fallback: str) -> str:
    s = re.sub(r"\W", "_", path) or fallback
    if s[0].isdigit():
        s = "layer_" + s
    if keyword.iskeyword(s):
        s += "_"
    return s


def _exact_format(lo: int, hi: int) -> Int | None:
    """The Int whose range is exactly [lo, hi], if there is one."""
    span = hi + 1
    if span < 2 or span & (span - 1):
        return None
    bits = span.bit_length() - 1
    if lo == 0:
        return Int(bits, False)
    if lo == -span:
        return Int(bits + 1, True)
    return None


class _Importer(PadReader, ConstFolder, ActivationReader, ConvReader, JoinReader):
    def __init__(self, model: onnx.ModelProto, label: str, locations: dict[str, str]):
        self.model = model
        self.label = label
        self.locations = locations           # module path -> file.py:line of its definition
        self.consts: dict[str, object] = {}
        self.ops: list = []
        self.types: dict[str, object] = {}   # op name -> its ValueType
        self.names: set[str] = set()
        self.batch: int = _SYMBOLIC_BATCH
        # The data a node reads: the ONNX tensor ``cur``, which is the IR op ``head``'s codes
        # (None: the raw model input) through the pending affine and activations; ``data`` keeps
        # this state for every tensor computed so far (JoinReader).
        self.cur: str | None = None          # the ONNX tensor carrying the data
        self.head: str | None = None
        self.feat: tuple[int, ...] = ()      # its shape without the batch, as the model has it (C, H, W)
        self.acts: list = []                 # activation nodes waiting for their quantiser
        self.pre: list[InputStep] = []       # scalar arithmetic on the raw input (Input.pre)
        self.affine_pending = None           # (mul, add, [(node, role)]) waiting to be emitted
        self.data: dict[str, dict] = {}

    # -- messages -----------------------------------------------------------
    def where(self, node) -> str:
        path = _module_path(node)
        at = locate(self.locations, path)
        module = (f", module {path}" + (f" at {at}" if at else "")) if path else ""
        return f"node {node.name or node.output[0]!r} ({node.op_type}{module})"

    def src(self, node, role: str = "") -> str:
        """An op's ``src``: the module path (or node name), and ``, file.py:line`` where known."""
        path = _module_path(node)
        at = locate(self.locations, path)
        return (path or node.name) + role + (f", {at}" if at else "")

    def fail(self, node, message: str) -> FrontendError:
        return FrontendError(f"{self.label}: {self.where(node)}: {message}")

    # -- structure ----------------------------------------------------------
    def run(self) -> Graph:
        g = self.model.graph
        for init in g.initializer:
            self.consts[init.name] = numpy_helper.to_array(init)
        inputs = [i for i in g.input if i.name not in self.consts]
        if len(inputs) != 1:
            raise FrontendError(f"{self.label}: the model has {len(inputs)} inputs "
                                f"({', '.join(i.name for i in inputs) or 'none'}); bitwave reads "
                                "models with exactly one input")
        if len(g.output) != 1:
            raise FrontendError(f"{self.label}: the model has {len(g.output)} outputs; "
                                "bitwave reads models with exactly one output")
        self.cur = inputs[0].name
        dims = inputs[0].type.tensor_type.shape.dim
        if len(dims) < 2 or any(not d.HasField("dim_value") for d in dims[1:]):
            raise FrontendError(f"{self.label}: input {self.cur!r} must have a batch dimension and "
                                f"fixed feature dimensions, not {[d.dim_value or d.dim_param for d in dims]}")
        self.batch = dims[0].dim_value if dims[0].HasField("dim_value") else _SYMBOLIC_BATCH
        self.feat = tuple(d.dim_value for d in dims[1:])
        self.save()
        for node in g.node:
            self.node(node)
        out = g.output[0].name
        if out not in self.data:
            raise FrontendError(f"{self.label}: the output {out!r} is not computed from the input")
        self.switch(out)
        if self.head is None:
            raise FrontendError(f"{self.label}: the model input is never quantised; add an input "
                                "quantiser, e.g. QuantIdentity(bit_width=8, return_quant_tensor=False), "
                                "as the first layer")
        if self.acts:
            kind, layer = ACTIVATIONS[self.acts[-1].op_type]
            raise self.fail(self.acts[-1], f"the model ends in a {kind} without a quantiser; bitwave has "
                                           f"no float {kind}: use {layer} (or drop the final {kind})")
        self.flush_affine()
        self.emit(Output(name=self.unique("output"), input=self.head), None)
        graph = Graph(tuple(self.live()))
        try:
            verify(graph)
        except VerifyError as e:
            raise FrontendError(f"{self.label}: the imported graph is malformed: {e}") from e
        return graph

    def unique(self, base: str) -> str:
        name, k = base, 1
        while name in self.names:
            k += 1
            name = f"{base}_{k}"
        self.names.add(name)
        return name

    def emit(self, op, node):
        try:
            t = op.out_type(*([self.types[r] for r in reads(op)] or [None]))
        except VerifyError as e:
            where = f"{self.where(node)}: " if node is not None else ""
            raise FrontendError(f"{self.label}: {where}{e}") from e
        self.ops.append(op)
        self.types[op.name] = t
        self.head = op.name
        self.feat = t.shape[-1:] + t.shape[:-1]   # channels first again, as the model has it

    def node(self, node):
        if node.op_type == "Constant":
            self.consts[node.output[0]] = self.constant_attr(node)
            return
        data = [i for i in node.input if i and i not in self.consts]
        if not data:
            self.consts[node.output[0]] = self.const_eval(node)
            return
        unknown = [t for t in data if t not in self.data]
        if unknown:
            raise self.fail(node, f"reads {unknown[0]!r}, a second output of an earlier node; bitwave "
                                  "reads only the first output of a node")
        self.switch(data[0])
        if node.op_type == "Shape" and len(data) == 1:
            a = attrs(node)  # reading the shape does not consume the data
            shape = np.array((self.batch, *self.feat), np.int64)
            self.consts[node.output[0]] = shape[a.get("start", 0):a.get("end")]
            return
        if self.head is None and self.ops:
            raise self.fail(node, "reads the unquantised model input after its input quantiser; bitwave "
                                  "reads the model input through one quantiser: quantise it once and use "
                                  "the quantised tensor on every path")
        self.check_activation(node, data)
        if len(data) > 1:
            self.join(node, data)
            self.cur = node.output[0]
            self.save()
            return
        handler = getattr(self, "op_" + node.op_type, None)
        if handler is None and node.op_type in NOT_MONOTONE:
            raise self.fail(node, f"{NOT_MONOTONE[node.op_type]} is not monotone, so no thresholds can "
                                  f"represent it; {MONOTONE_HINT}")
        if handler is None:
            raise self.fail(node, f"op type {node.op_type} is not supported; supported: {_DATA_OPS}")
        if self.head is None and node.op_type in ("Add", "Sub", "Mul", "Div"):
            self.input_step(node)
        elif self.head is None and node.op_type not in ("Quant", "BipolarQuant", *PASS_THROUGH):
            raise self.fail(node, "reads the unquantised model input; add an input quantiser, e.g. "
                                  "QuantIdentity(bit_width=8, return_quant_tensor=False), as the first layer")
        else:
            handler(node)
        self.cur = node.output[0]
        self.save()

    # -- the data path ------------------------------------------------------
    def shape_text(self) -> str:
        batch = "N" if self.batch == _SYMBOLIC_BATCH else self.batch
        return f"({', '.join(map(str, (batch, *self.feat)))})"

    @property
    def n(self) -> int:
        return math.prod(self.feat)

    def op_Identity(self, node):
        pass

    def op_Dropout(self, node):
        if len(node.input) > 2 and node.input[2]:
            if bool(np.asarray(self.const(node, node.input[2], "training_mode")).ravel()[0]):
                raise self.fail(node, "dropout in training mode; export the model in eval() mode")

    def op_Quant(self, node):
        scale, zeropt, bits, signed, narrow, mode = self.quant_params(node, MAX_BITS)
        if bits == 1 and signed:
            return self.bipolar(node, scale, zeropt)
        if mode not in ("ROUND", "HALF_EVEN"):
            raise self.fail(node, f"rounding mode {mode} is not supported for activations; "
                                  "only ROUND (half to even)")
        zp = np.unique(zeropt)
        if zp.size != 1 or zp[0] != np.round(zp[0]):
            raise self.fail(node, f"activation zero-point {zeropt.ravel()[:4].tolist()} is not supported; "
                                  "it must be one integer for the whole tensor")
        z = int(zp[0])
        lo, hi = code_range(bits, signed, narrow)
        lo, hi = lo - z, hi - z
        act, lo, hi = self.activation(node, lo, hi, scale)
        if self.acts and lo >= hi:
            kinds = " and ".join(ACTIVATIONS[a.op_type][0] for a in self.acts)
            raise self.fail(node, f"{kinds} followed by this quantiser gives a constant output")
        fmt, narrow_codes = _exact_format(lo, hi), False
        if fmt is None and lo > -(1 << (MAX_BITS - 1)):
            # Narrow signed, [-(2^(b-1) - 1), 2^(b-1) - 1]: Int(b) without its minimum (Quant.narrow).
            wide = _exact_format(lo - 1, hi)
            fmt, narrow_codes = (wide, True) if wide is not None and wide.signed else (None, False)
        if fmt is None:
            kind = f"{bits}-bit {'signed' if signed else 'unsigned'}{', narrow range' if narrow else ''}"
            fix = ("use narrow_range=False and zero-point 0 for activations" if not self.acts else
                   "a clip before a quantiser must keep a whole Int range of codes: clip at 0 or beyond "
                   "the quantiser's range, or let the quantiser clip (QuantHardTanh, QuantReLU(max_val=…))")
            raise self.fail(node, f"the {kind} quantiser with zero-point {z} gives codes in [{lo}, {hi}], "
                                  f"which no Int(bits, signed) spans exactly; {fix}")
        self.quant(node, fmt, scale, act, narrow_codes)

    def op_BipolarQuant(self, node):
        scale, zeropt, *_ = self.quant_params(node, MAX_BITS)
        self.bipolar(node, scale, zeropt)

    def bipolar(self, node, scale, zeropt):
        if np.any(zeropt != 0):
            raise self.fail(node, "a bipolar (1-bit) quantiser must have zero-point 0")
        if any(a.op_type in ("Relu", "Sigmoid") for a in self.acts):
            kind = ACTIVATIONS[self.acts[-1].op_type][0]
            raise self.fail(node, f"{kind} followed by a bipolar quantiser gives a constant +1 output")
        if self.acts and not all(a.op_type == "Tanh" for a in self.acts):
            raise self.fail(node, "a clip before a bipolar (1-bit) quantiser is not supported; "
                                  "drop the clip (the sign does not change)")
        self.quant(node, Bipolar(), scale, Activation.TANH if self.acts else None)

    def quant(self, node, fmt, scale, act=None, narrow=False):
        path = _module_path(node)
        s = self.per_channel(node, scale, "the quantiser scale")
        self.acts = []
        if self.head is None:
            if not np.all(s == s[0]):
                raise self.fail(node, "the input quantiser must have one scale for the whole tensor")
            name = self.unique(_identifier(path or node.name, "input"))
            try:
                op = Input(name=name, n=self.n, fmt=fmt, scale=float(s[0]), shape=self.feat,
                           pre=tuple(self.pre), narrow=narrow, src=self.src(node))
            except VerifyError as e:
                raise self.fail(node, f"the model input of shape {self.shape_text()}: {e}") from e
            self.emit(op, node)
            return
        self.flush_affine()
        scale = s[0] if np.all(s == s[0]) else s
        name = self.unique(_identifier(path or node.name, "quant"))
        self.emit(Quant(name=name, input=self.head, fmt=fmt, scale=scale, act=act,
                        narrow=narrow, src=self.src(node)), node)

    def affine(self, node, mul, add, role: str = ""):
        mul = self.per_channel(node, mul, "the multiplier")
        add = self.per_channel(node, add, "the addend")
        m0, a0, parts = self.affine_pending or (1.0, 0.0, [])
        self.affine_pending = (m0 * mul, a0 * mul + add, parts + [(node, role)])

    def flush_affine(self):
        if self.affine_pending is None:
            return
        mul, add, parts = self.affine_pending
        self.affine_pending = None
        paths, srcs = [], []
        for node, role in parts:
            p = (_module_path(node) or node.name) + role
            if p and p not in paths:
                paths.append(p)
                srcs.append(self.src(node, role))
        base = _identifier(paths[-1], "affine") if paths else "affine"
        # "fc1.bias, bn1" — or, with locations, "fc1.bias, m.py:3; bn1, m.py:4".
        src = ("; " if srcs != paths else ", ").join(srcs)
        self.emit(Affine(name=self.unique(base), input=self.head, mul=mul, add=add, src=src),
                  parts[-1][0])

    def op_BatchNormalization(self, node):
        a = attrs(node)
        if a.get("training_mode", 0):
            raise self.fail(node, "batch-norm in training mode; export the model in eval() mode")
        per_channel = (-1,) + (1,) * (len(self.feat) - 1)   # the parameters are along axis 1
        gamma, beta, mean, var = (self.const(node, i, "the batch-norm parameters").astype(np.float64)
                                  .reshape(per_channel) for i in node.input[1:5])
        eps = float(a.get("epsilon", 1e-5))
        mul = gamma / np.sqrt(var + eps)
        self.affine(node, mul, beta - mean * mul)

    def input_step(self, node):
        """Scalar arithmetic on the raw input before its quantiser (``2·x − 1``): part of
        converting a sample to input codes, so it goes into ``Input.pre`` exactly."""
        c, const_first = self.binary_const(node)
        if c.size != 1:
            raise self.fail(node, f"a per-feature {node.op_type} (shape {list(c.shape)}) on the raw model "
                                  "input is not supported; only scalar arithmetic (e.g. 2·x − 1) may come "
                                  "before the input quantiser: do the rest in your data loading")
        v = float(np.float32(c.ravel()[0]))
        op = node.op_type
        if op == "Div" and const_first:
            raise self.fail(node, "dividing a constant by the raw input is not supported")
        steps = {"Add": [(Arith.ADD, v)], "Mul": [(Arith.MUL, v)], "Div": [(Arith.DIV, v)],
                 "Sub": [(Arith.MUL, -1.0), (Arith.ADD, v)] if const_first else [(Arith.ADD, -v)]}[op]
        try:
            self.pre += [InputStep(a, b) for a, b in steps]
        except VerifyError as e:
            raise self.fail(node, str(e)) from e

    def binary_const(self, node):
        a, b = node.input[0], node.input[1]
        const_first = a in self.consts
        c = self.const(node, a if const_first else b, "the other operand").astype(np.float64)
        return c, const_first

    def op_Add(self, node):
        c, _ = self.binary_const(node)
        self.affine(node, 1.0, c)

    def op_Sub(self, node):
        c, const_first = self.binary_const(node)
        self.affine(node, -1.0, c) if const_first else self.affine(node, 1.0, -c)

    def op_Mul(self, node):
        c, _ = self.binary_const(node)
        self.affine(node, c, 0.0)

    def op_Div(self, node):
        c, const_first = self.binary_const(node)
        if const_first:
            raise self.fail(node, "dividing a constant by the data is not supported")
        self.affine(node, 1.0 / c, 0.0)

    def op_MatMul(self, node):
        if node.input[0] != self.cur:
            raise self.fail(node, "the data must be the left operand of MatMul")
        self.matvec(node, node.input[1], None, transposed=False, alpha=1.0, beta=1.0)

    def op_Gemm(self, node):
        a = attrs(node)
        if node.input[0] != self.cur or a.get("transA", 0):
            raise self.fail(node, "the data must be the first operand of Gemm, not transposed")
        bias = node.input[2] if len(node.input) > 2 and node.input[2] else None
        self.matvec(node, node.input[1], bias, transposed=bool(a.get("transB", 0)),
                    alpha=float(a.get("alpha", 1.0)), beta=float(a.get("beta", 1.0)))

    def layer_name(self, node, fallback: str) -> str:
        return _identifier(_module_path(node) or node.name, fallback)

    def require_codes(self, node, what: str):
        """A layer reads integer codes: refuse the real-valued output of a pending affine."""
        if self.affine_pending is not None:
            src = self.affine_pending[2][-1][0]
            raise self.fail(node, f"{what} reads the real-valued output of {self.where(src)}; its input "
                                  "must be quantised: put a QuantIdentity or QuantReLU before it")

    def matvec(self, node, wname: str, bname: str | None, *, transposed: bool, alpha: float, beta: float):
        self.require_codes(node, "a dense layer")
        if len(self.feat) != 1:
            raise self.fail(node, f"the data has shape {self.shape_text()}; flatten it to "
                                  "(batch, features) first")
        w = self.consts.get(wname)
        if not isinstance(w, QConst):
            raise self.fail(node, f"the weights {wname!r} are not quantised; use QuantLinear "
                                  "(a Quant or BipolarQuant on the weights)")
        if w.codes.ndim != 2:
            raise self.fail(node, f"the weights have shape {list(w.codes.shape)}, expected a matrix")
        if not transposed:
            w = w.transposed((1, 0))
        if w.codes.shape[1] != self.n:
            raise self.fail(node, f"the weights have {w.codes.shape[1]} columns but the input has "
                                  f"{self.n} features")
        self.layer(node, w, bname, MatVec, alpha=alpha, beta=beta)

    def layer(self, node, w: QConst, bname: str | None, cls, *, alpha: float = 1.0, beta: float = 1.0, **kw):
        """Emit a ``cls`` (MatVec or Conv) with weight codes ``w`` (rows, cols) in IR order, its bias
        as integer codes when they add straight into the accumulator, else as a pending affine."""
        if w.bits > MAX_BITS:
            raise self.fail(node, f"weight bit width {w.bits} is not supported; use 1 to {MAX_BITS} bits")
        rows = w.codes.shape[0]
        if not np.all(w.scale == w.scale[:, :1]):
            raise self.fail(node, "the weight scale varies along the input dimension; only per-tensor "
                                  "or per-output-channel weight scales are supported")
        wscale = w.scale[:, 0] * alpha
        in_scale = self.types[self.head].scales[0]
        bias_codes = None
        bias_real = None
        if bname is not None:
            b = self.consts.get(bname)
            if b is None:
                raise self.fail(node, f"the bias {bname!r} must be a constant")
            if isinstance(b, QConst) and isinstance(b.fmt, Int) and beta == 1.0:
                if b.bits > MAX_BIAS_BITS:
                    raise self.fail(node, f"bias bit width {b.bits} is not supported; use at most {MAX_BIAS_BITS}")
                bscale = np.broadcast_to(b.scale.reshape(-1), (rows,)) if b.scale.size in (1, rows) else None
                # Brevitas' Int32Bias has scale = input scale x weight scale (in float32):
                # then the codes add straight into the accumulator.
                if bscale is not None and np.allclose(bscale, wscale * in_scale, rtol=1e-6, atol=0):
                    bias_codes = np.broadcast_to(b.codes.reshape(-1), (rows,))
            if bias_codes is None:
                bias_real = np.asarray(self.value(b), dtype=np.float64) * beta
        name = self.unique(self.layer_name(node, cls.opcode))
        self.emit(cls(name=name, input=self.head, weight=w.codes, wfmt=w.fmt, wscale=wscale,
                      bias=bias_codes, src=self.src(node), **kw), node)
        if bias_real is not None:
            if not np.all(np.isfinite(bias_real)):
                raise self.fail(node, "the bias contains NaN or Inf")
            # One value per output channel, which is axis 1 of the model's tensor.
            self.affine(node, 1.0, bias_real.reshape((-1,) + (1,) * (len(self.feat) - 1)), role=".bias")


def _load(source) -> tuple[onnx.ModelProto, str]:
    if isinstance(source, onnx.ModelProto):
        return source, "qonnx"
    path = os.fspath(source)
    if not os.path.isfile(path):
        raise FrontendError(f"{path}: no such file")
    try:
        model = onnx.load(path)
    except Exception as e:  # protobuf raises several unrelated types on bad input
        raise FrontendError(f"{path}: not a valid ONNX model ({type(e).__name__}: {e})") from e
    return model, path


def _check_structure(model: onnx.ModelProto, label: str):
    """Reject what protobuf happily parses from a truncated or foreign file."""
    g = model.graph
    try:
        onnx.checker.check_model(model)
    except Exception as e:
        raise FrontendError(f"{label}: not a valid ONNX model ({type(e).__name__}: {e})") from e
    if not g.node or not g.output:
        raise FrontendError(f"{label}: not a valid ONNX model (the graph has no nodes or no outputs)")
    known = {i.name for i in g.initializer} | {i.name for i in g.input}
    for node in g.node:
        for name in node.input:
            if name and name not in known:
                raise FrontendError(f"{label}: not a valid ONNX model (node {node.name!r} reads "
                                    f"{name!r}, which nothing defines before it)")
        known.update(node.output)


def import_qonnx(source, *, label: str | None = None, locations: dict[str, str] | None = None) -> Graph:
    """Read a QONNX model (a file path or an ``onnx.ModelProto``) into an IR graph.

    The graph is the pre-streamlining ``Input, (MatVec|Conv|Pool|Flatten, [Affine],
    [Quant])..., Output`` with exact integer weight codes, a chain or with residual blocks
    (an op read twice, the two paths joined by an ``Add``).  The input keeps the model's shape
    (``Input.shape``, channels first); inside the graph tensors are channels last.  Raises :class:`FrontendError` naming the
    node, its op type and module for anything it cannot represent exactly.

    ``locations`` maps PyTorch module paths (``"fc2"``) to where they are
    defined (``"model.py:12"``); each op's ``src`` and each error naming a
    module then carries it (``src="fc2, model.py:12"``).  Without it ``src`` is
    the module path or, failing that, the node name.
    """
    model, where = _load(source)
    label = label or where
    _check_structure(model, label)
    return _Importer(model, label, dict(locations or {})).run()
