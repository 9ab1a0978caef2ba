"""Random networks beyond MLP chains: small CNNs, residual blocks and causal convolution streams.

Sizes stay tiny (images up to 8×8, signals up to 16 samples, at most 4
channels) because a frame is one beat per pixel and every design shares a
Verilator build with a hundred others.  Everything generated is what the
hardware supports: the sliding window refuses padding beyond the kernel's
reach (``(k − 1)·dilation``), a bipolar input is never zero-padded, average
pooling (an exact sum) is followed by an activation and never reads bipolar
codes, an ``Add`` reads Int codes whose scales its integer multipliers make
equal, and a causal convolution reads Int codes.
"""

from __future__ import annotations

import math

import numpy as np

from ..ir import Add, Bipolar, CausalConv, Concat, Conv, Flatten, Input, Int, Pool, PoolKind, Quant
from . import _layers as L

__all__ = ["cnn", "residual", "causal"]


def _input(rng, shape: tuple[int, ...], *, bipolar_ok: bool) -> Input:
    fmt = Bipolar() if bipolar_ok and rng.random() < 0.2 else L.int_fmt(rng)
    return Input("x", n=math.prod(shape), fmt=fmt, scale=float(rng.uniform(0.01, 1.0)),
                 shape=shape if len(shape) > 1 else ())


def _image_shape(rng) -> tuple[int, ...]:
    """(C, H, W) with H, W ≤ 8 or (C, L) with L ≤ 16, channels first as the model's input."""
    c = int(rng.integers(1, 5))
    if rng.random() < 0.65:
        return (c, int(rng.integers(2, 9)), int(rng.integers(2, 9)))
    return (c, int(rng.integers(3, 17)))


def _window(rng, spatial, *, same: bool, may_pad: bool, max_kernel: int = 3):
    """Random kernel, stride, dilation and ONNX pads (begins, then ends) for ``spatial``;
    ``same``: stride 1 and padding that keeps the size (a residual path)."""
    kernel, stride, dilation, begins, ends = [], [], [], [], []
    for size in spatial:
        k = int(rng.integers(1, min(max_kernel, size) + 1))
        d = 2 if k > 1 and 2 * (k - 1) + 1 <= size and rng.random() < 0.25 else 1
        reach = (k - 1) * d
        if same:
            s, b = 1, reach // 2
            e = reach - b
        else:
            s = 1 if rng.random() < 0.7 else 2
            b, e = (int(v) for v in rng.integers(0, reach + 1, size=2)) if may_pad and rng.random() < 0.5 else (0, 0)
        kernel.append(k)
        stride.append(s)
        dilation.append(d)
        begins.append(b)
        ends.append(e)
    return tuple(kernel), tuple(stride), tuple(dilation), tuple(begins + ends)


def _conv(rng, ops: list, name: str, src: str, *, pre: bool, same: bool = False,
          out_channels: int | None = None) -> Conv:
    """A random convolution reading ``src``: any kernel/stride/dilation/padding the sliding
    window supports, groups dividing both channel counts (depthwise included)."""
    t = L.type_of(ops, src)
    c = t.channels
    bipolar_in = isinstance(t.fmt, Bipolar)
    kernel, stride, dilation, pads = _window(rng, t.spatial, same=same, may_pad=not bipolar_in)
    rows = out_channels or int(rng.integers(1, 5))
    common = [g for g in range(2, c + 1) if c % g == 0 and rows % g == 0]
    groups = int(rng.choice(common)) if common and rng.random() < 0.35 else 1
    # A grouped bipolar convolution is built with -1/0/+1 weights (the other groups' zeros).
    wfmt = Bipolar() if rng.random() < 0.25 else L.int_fmt(rng)
    w = L.weights(rng, wfmt, rows, math.prod(kernel) * c // groups)
    extra = {}
    if pre:
        extra["wscale"] = float(rng.uniform(0.01, 0.2))
    elif rng.random() < 0.5:
        extra["bias"] = rng.integers(-40, 41, size=rows)
    return Conv(name, input=src, weight=w, wfmt=wfmt, kernel=kernel, stride=stride, pads=pads,
                dilation=dilation, groups=groups, **extra)


def _layer(rng, ops: list, op, *, pre: bool, last: bool = False, int_only: bool = False,
           scale: float | None = None) -> None:
    (L.pre_layer if pre else L.post_layer)(rng, ops, op, last, int_only=int_only, scale=scale)


def _pool(rng, ops: list, name: str, *, pre: bool) -> None:
    """Max pooling (an OR on bipolar codes) or average pooling (an exact sum, then an
    activation); kernel 2–3 where the tensor is that large, padding within the kernel's reach."""
    t = L.type_of(ops)
    if max(t.spatial) < 2:
        return
    avg = isinstance(t.fmt, Int) and rng.random() < 0.4
    kernel, stride, begins, ends = [], [], [], []
    for size in t.spatial:
        k = int(rng.integers(2, min(3, size) + 1)) if size >= 2 else 1
        kernel.append(k)
        stride.append(k if rng.random() < 0.6 else 1)
        b, e = (int(v) for v in rng.integers(0, k, size=2)) if rng.random() < 0.3 else (0, 0)
        begins.append(b)
        ends.append(e)
    ops.append(Pool(name, input=ops[-1].name, kind=PoolKind.AVG if avg else PoolKind.MAX,
                    kernel=tuple(kernel), stride=tuple(stride), pads=tuple(begins + ends)))
    if not avg:
        return
    if pre:     # the model's quantiser after the average; streamline makes it thresholds
        real = L.type_of(ops).real(L.sample(ops, rng))
        fmt = L.act_fmt(rng)
        levels = 2 if isinstance(fmt, Bipolar) else fmt.max - fmt.min + 1
        spread = float(np.percentile(real, 99) - np.percentile(real, 1)) or 1.0
        ops.append(Quant(f"{name}_q", input=name, fmt=fmt, scale=max(spread / levels, 1e-6)))
    else:
        L.standalone(rng, ops, f"{name}_act")


def _dense_tail(rng, ops: list, max_width: int, layers: int, *, pre: bool) -> None:
    if len(L.type_of(ops).shape) > 1:
        ops.append(Flatten("flat", input=ops[-1].name))
    for i in range(layers):
        in_t = L.type_of(ops)
        _layer(rng, ops, L.dense(rng, max_width, ops[-1].name, in_t, f"fc{i}", pre), pre=pre,
               last=i == layers - 1)


def cnn(rng, max_width: int, pre: bool) -> list:
    """Input image or signal → 1–3 × (conv → activation [→ pool]) → [flatten [→ dense layers]]."""
    ops: list = [_input(rng, _image_shape(rng), bipolar_ok=True)]
    n_conv = 1 + int(rng.choice([0, 0, 1, 1, 2]))
    tail = rng.random()
    for i in range(n_conv):
        last = i == n_conv - 1 and tail >= 0.7
        _layer(rng, ops, _conv(rng, ops, f"c{i}", ops[-1].name, pre=pre), pre=pre, last=last)
        # Not after the last layer's float bias: a pooling reads codes (the draw stays, so the
        # other models of a seed are the ones earlier runs made).
        if rng.random() < 0.4 and not last:
            _pool(rng, ops, f"p{i}", pre=pre)
    if tail < 0.55:
        _dense_tail(rng, ops, max_width, int(rng.integers(1, 3)), pre=pre)
    elif tail < 0.7:
        _dense_tail(rng, ops, max_width, 0, pre=pre)
    return ops


def _path_layer(rng, ops: list, name: str, src: str, image: bool, *, pre: bool, keep: int | None,
                int_only: bool, scale: float | None = None) -> None:
    """One layer of a residual path: a same-size convolution or a dense layer, then an
    activation; ``keep``: the output channels (or width) the Add needs."""
    if image:
        op = _conv(rng, ops, name, src, pre=pre, same=True, out_channels=keep)
    else:
        op = L.dense(rng, 16, src, L.type_of(ops, src), name, pre, rows=keep)
    _layer(rng, ops, op, pre=pre, int_only=int_only, scale=scale)


def residual(rng, max_width: int, pre: bool) -> list:
    """x [→ layer] = fork ─► 1–2 layers ───────────┐
                           └► nothing or one layer ─(+ or concat)→ activation → [pool, flatten, dense]."""
    image = rng.random() < 0.6
    shape = _image_shape(rng) if image else (L.width(rng, 16),)
    ops: list = [_input(rng, shape, bipolar_ok=False)]
    if rng.random() < 0.7:
        _path_layer(rng, ops, "stem", "x", image, pre=pre, keep=None, int_only=True)
    fork = ops[-1].name
    t = L.type_of(ops, fork)
    mult_a, mult_b = (1, 1) if rng.random() < 0.4 else (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    skip_layers = 0 if rng.random() < 0.5 else 1
    skip_scale = float(t.scales[0]) if skip_layers == 0 else float(rng.uniform(0.05, 1.0))
    branch_scale = skip_scale * mult_a / mult_b
    src = fork
    n_branch = int(rng.integers(1, 3))
    for j in range(n_branch):
        end = j == n_branch - 1
        _path_layer(rng, ops, f"b{j}", src, image, pre=pre, keep=t.channels if end else None,
                    int_only=True, scale=branch_scale if end else None)
        src = ops[-1].name
    branch = src
    skip = fork
    if skip_layers:
        if pre or rng.random() < 0.5:
            _path_layer(rng, ops, "s0", fork, image, pre=pre, keep=t.channels, int_only=True,
                        scale=skip_scale)
        else:
            L.standalone(rng, ops, "s0", src=fork, int_only=True, scale=skip_scale)
        skip = ops[-1].name
    a, b, ma, mb = (branch, skip, mult_a, mult_b) if rng.random() < 0.5 else (skip, branch, mult_b, mult_a)
    if rng.random() < 0.3:      # or join the paths' channels (each keeps its scale)
        ops.append(Concat("add", input=a, other=b))
    else:
        ops.append(Add("add", input=a, other=b, mult_a=ma, mult_b=mb))
    if pre:
        real = L.type_of(ops).real(L.sample(ops, rng))
        fmt = L.act_fmt(rng)
        spread = float(np.percentile(real, 99) - np.percentile(real, 1)) or 1.0
        levels = 2 if isinstance(fmt, Bipolar) else fmt.max - fmt.min + 1
        ops.append(Quant("add_q", input="add", fmt=fmt, scale=max(spread / levels, 1e-6)))
    else:
        L.standalone(rng, ops, "add_act")
    if image and rng.random() < 0.3:
        _pool(rng, ops, "p", pre=pre)
    if rng.random() < 0.6:
        _dense_tail(rng, ops, max_width, 1, pre=pre)
    return ops


def causal(rng, max_width: int, pre: bool) -> list:
    """One sample of C channels per frame → 1–3 dilated causal convolutions [→ a dense layer]."""
    ops: list = [_input(rng, (int(rng.integers(1, 5)),), bipolar_ok=False)]
    layers = int(rng.integers(1, 4))
    dense_after = rng.random() < 0.3
    for i in range(layers):
        t = L.type_of(ops)
        c = t.channels
        taps = int(rng.integers(1, 5))
        dilation = int(rng.choice([1, 1, 2, 4, 8]))
        rows = int(rng.integers(1, 7))
        common = [g for g in range(2, c + 1) if c % g == 0 and rows % g == 0]
        groups = int(rng.choice(common)) if common and rng.random() < 0.3 else 1
        wfmt = Bipolar() if rng.random() < 0.2 else L.int_fmt(rng)
        extra = {"wscale": float(rng.uniform(0.01, 0.2))} if pre else {}
        if not pre and rng.random() < 0.5:
            extra["bias"] = rng.integers(-40, 41, size=rows)
        op = CausalConv(f"t{i}", input=ops[-1].name, weight=L.weights(rng, wfmt, rows, taps * c // groups),
                        wfmt=wfmt, taps=taps, dilation=dilation, groups=groups, **extra)
        last = i == layers - 1 and not dense_after
        _layer(rng, ops, op, pre=pre, last=last, int_only=not last)
    if dense_after:
        _dense_tail(rng, ops, max_width, 1, pre=pre)
    return ops
