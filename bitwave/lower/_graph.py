"""Lowering: the one place that knows both IR ops and HDL components.

Each ``MatVec`` (fused with a following ``MultiThreshold`` or ``Requant``)
becomes a :class:`~bitwave.hdl.MatVecUnit` (a fully parallel dense one an
:class:`~bitwave.hdl.UnrolledMatVec`, :mod:`bitwave.lower._unrolled`); a
convolution is the same unit behind a window generator, and pooling and flatten have their own blocks
(:mod:`bitwave.lower._spatial`: a stream carries one pixel per beat); a threshold or requant op that
does not follow a MatVec becomes a :class:`~bitwave.hdl.ThresholdUnit`; a
fixed-point ``Wdf`` becomes a bank of :class:`~bitwave.hdl.WdfCore` (one per
channel, see :mod:`bitwave.lower._wdf`); the units are chained in order.  The
result also carries the stream formats and a per-layer summary (shapes,
formats, folding, cycles, resource estimate) for the report and the manifest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property, partial
from typing import Callable

from ..build_folder import Layer
from ..errors import PassError
from ..hdl import (ECP5, ICE40, Chain, Estimate, MatVecUnit, Resources, StreamFormat, ThresholdUnit,
                   estimate_mvu, estimate_threshold, multiplier_pair_width)
from ..ir import (Bipolar, CausalConv, Conv, Flatten, Graph, Int, MatVec, MultiThreshold, Op, Pool,
                  Requant, Wdf, verify)
from ._residual import lower_residual
from ._spatial import (conv_weights, lower_flatten, lower_pool, lower_window, merge_estimates,
                       serial_beats)
from ._unrolled import is_unrolled, lower_unrolled
from ._wdf import lower_wdf_op

__all__ = ["Lowered", "lower", "plan", "stream_format"]


@dataclass
class Lowered:
    """A graph turned into hardware: its stages, stream formats and layer summaries.

    The stages are kept as constructors, so a plan (:func:`plan`) costs no
    Amaranth objects until :attr:`top` is asked for.
    """
    stages: list[Callable[[], object]]
    sink: StreamFormat
    source: StreamFormat
    layers: list[Layer] = field(default_factory=list)

    @cached_property
    def top(self) -> Chain:
        """The design: the stages chained sink to source."""
        return Chain([make() for make in self.stages])

    @property
    def cycles_per_frame(self) -> int:
        return max(layer.cycles for layer in self.layers)

    @property
    def resources(self) -> Resources:
        return Resources.total(layer.estimate for layer in self.layers)


def _layer(estimate: Estimate, variants: dict[str, Estimate] | None = None, **fields) -> Layer:
    """A layer summary; ``variants``: its estimates for other build plans, kept where they
    differ from ``estimate`` (see :attr:`Layer.estimates`)."""
    estimates = {key: v.resources for key, v in (variants or {}).items()
                 if v.resources != estimate.resources}
    return Layer(estimate=estimate.resources, estimates=estimates,
                 weights_in_bram=estimate.weights_in_bram, **fields)


#: Build plans other than iCE40 without DSPs: (key, cost model, DSP blocks allowed).
_VARIANTS = (("ice40-dsp", ICE40, True), ("ecp5", ECP5, False), ("ecp5-dsp", ECP5, True))


def stream_format(fmt, n: int, beats: int = 1) -> StreamFormat:
    """The stream carrying ``n`` elements per beat of an IR integer or bipolar format, a frame
    being ``beats`` beats (a pixel stream: one pixel of ``n`` channels per beat)."""
    if isinstance(fmt, Bipolar):
        return StreamFormat(n, 1, False, bipolar=True, beats=beats)
    return StreamFormat(n, fmt.width, bool(fmt.signed), beats=beats)


def _frame_format(t) -> StreamFormat:
    return stream_format(t.fmt, t.channels, t.positions)


def _fmt_kwargs(prefix: str, fmt) -> dict:
    if isinstance(fmt, Bipolar):
        return {f"{prefix}_width": 1, f"{prefix}_signed": False, f"{prefix}_bipolar": True}
    return {f"{prefix}_width": fmt.width, f"{prefix}_signed": bool(fmt.signed), f"{prefix}_bipolar": False}


def _activation(op: Op | None) -> dict:
    if isinstance(op, MultiThreshold):
        fmt = op.fmt
        if isinstance(fmt, Bipolar):
            # One threshold; output bit 1 (= +1) iff acc >= T, i.e. count with out_bias 0 in one bit.
            return dict(thresholds=op.thresholds.array.tolist(), out_width=1, out_signed=False, out_bias=0)
        return dict(thresholds=op.thresholds.array.tolist(), out_width=fmt.width,
                    out_signed=bool(fmt.signed), out_bias=op.out_bias)
    if isinstance(op, Requant):
        return dict(requant=(op.mult, op.shift, op.fmt.min, op.fmt.max), out_width=op.fmt.width,
                    out_signed=bool(op.fmt.signed))
    return {}


def lower(graph: Graph, multipliers: int = 0) -> Lowered:
    """Map a streamlined graph onto HDL components (PassError for ops hardware cannot run)."""
    lowered = plan(graph, multipliers)
    lowered.top   # build the components now, so a generator's refusal surfaces here
    return lowered


def multiplier_pairs(graph: Graph, types: dict, multipliers: int) -> dict[str, int]:
    """Share ``multipliers`` 18 × 18 multipliers out among the dense layers with ±1
    weights and a multi-bit input that fits one (8 bits signed, 7 unsigned), in
    graph order: each takes ``pe`` per pair term and PE, up to half its pair
    terms (:class:`~bitwave.hdl.MatVecUnit` ``mult_pairs``)."""
    chosen, left = {}, multipliers
    for op in graph.ops:
        fmt = types[op.input].fmt if type(op) is MatVec else None
        if (fmt is None or is_unrolled(op) or not isinstance(op.wfmt, Bipolar)
                or not isinstance(fmt, Int) or op.pe < 2 or op.simd < 2
                or multiplier_pair_width(fmt.width, bool(fmt.signed)) is None):
            continue
        pairs = min(-(-op.simd // 2) // 2, left // op.pe)
        if pairs:
            chosen[op.name] = pairs
            left -= pairs * op.pe
    return chosen


def plan(graph: Graph, multipliers: int = 0) -> Lowered:
    """The hardware plan of a streamlined graph (units, formats, estimates) without building it.
    ``multipliers``: how many 18 × 18 hardware multipliers (ECP5's MULT18X18D) pair
    terms may use (:func:`multiplier_pairs`); 0 keeps every product in LUTs."""
    types = verify(graph)
    # The graph's closing real-valued affines are the host's (Graph.host_ops), not hardware.
    device = graph.device_output
    end = next(k for k, op in enumerate(graph.ops) if op is device) + 1
    stages, layers = lower_ops(graph, types, list(graph.ops[1:end]), before=graph.input,
                               mult_pairs=multiplier_pairs(graph, types, multipliers))
    if not stages:
        raise PassError("lower: the graph has no layers to build")
    in_t = types[graph.input.name]
    out_t = types[device.name]
    first = graph.ops[1]
    beats = input_beats(graph, first)
    sink = stream_format(in_t.fmt, first.simd, beats) if beats > 1 else _frame_format(in_t)
    return Lowered(stages=stages, sink=sink, source=_frame_format(out_t), layers=layers)


def input_beats(graph: Graph, op: Op) -> int:
    """Beats a dense layer reading the model input takes its vector in: one ``simd``-wide slice
    per beat (``cols/simd``), so the host streams slices and the unit keeps them in a slice
    buffer instead of selecting slices from a whole vector; 1 for every other layer (they
    read a whole vector, or pixels, from the unit before them)."""
    if type(op) is not MatVec or op.input != graph.input.name or is_unrolled(op) \
            or len(graph.consumers(op.input)) != 1:
        return 1
    return op.cols // op.simd


def _frame_budget(graph: Graph, types: dict) -> int:
    """Cycles per frame of the slowest matrix layer: what the design takes per frame anyway."""
    return max((op.cycles * types[op.name].positions for op in graph.ops
                if isinstance(op, MatVec)), default=1)


def lower_ops(graph: Graph, types: dict, ops: list, before: Op | None,
              mult_pairs: dict[str, int] | None = None) -> tuple[list, list[Layer]]:
    """Stages and layer records of ``ops``, a run of the graph in order after the op ``before``:
    a chain, or a chain with branch blocks (an op read twice opens one, its Add or Concat closes it;
    :func:`~bitwave.lower._residual.lower_residual`).  ``before`` None: the run is one path
    of a block, whose fork is already taken care of.  ``mult_pairs``: per MatVec name, its
    pair terms per PE on hardware multipliers (:func:`multiplier_pairs`)."""
    mult_pairs = mult_pairs or {}
    stages, layers = [], []
    i = 0
    while i < len(ops):
        last = ops[i - 1] if i else before
        if last is not None and len(graph.consumers(last.name)) > 1:   # a fork: up to its join
            make, block_layers, used = lower_residual(graph, types, last, ops[i:],
                                                      partial(lower_ops, mult_pairs=mult_pairs))
            stages.append(make)
            layers.extend(block_layers)
            i += used
            continue
        op = ops[i]
        nxt = ops[i + 1] if i + 1 < len(ops) else None
        in_t = types[op.input]
        if isinstance(op, MatVec):
            fuse = nxt is not None and getattr(nxt, "input", None) == op.name
            act = nxt if fuse and isinstance(nxt, (MultiThreshold, Requant)) else None
            out_t = types[act.name] if act else types[op.name]
            # The comparators work at accumulator width, so it must hold the thresholds too.
            thr = act.thresholds.array if isinstance(act, MultiThreshold) else None
            need = op.acc_format(in_t.fmt, thr)
            acc = need if op.acc is None or op.acc.bits < need.bits else op.acc
            windowed = isinstance(op, (Conv, CausalConv))
            weights = conv_weights(op) if windowed else op.weight.array
            simd = op.simd * weights.shape[1] // op.cols     # a grouped conv's zeros, spread
            wfmt = op.wfmt
            if isinstance(wfmt, Bipolar) and weights.shape[1] != op.cols:
                wfmt = Int(2, True)          # ±1 weights and the other groups' zeros
            kwargs = dict(weights=weights.tolist(), acc_width=acc.bits,
                          bias=None if op.bias is None else op.bias.array.tolist(),
                          pe=op.pe, simd=simd, **_fmt_kwargs("in", in_t.fmt),
                          **_fmt_kwargs("w", wfmt), **_activation(act))
            in_beats = serial_beats(op, in_t) if windowed else input_beats(graph, op)
            if in_beats > 1:
                kwargs["in_beats"] = in_beats
            pairs = mult_pairs.get(op.name, 0)
            if pairs:
                # ECP5's blocks with their own registers (the option names them)
                kwargs.update(mult_pairs=pairs, mult_block=True)
            cycles = op.cycles * types[op.name].positions
            if windowed:
                # A slow convolution behind another layer gets a FIFO (see lower_window).
                buffered = op.cycles > 1 and op.input != graph.input.name
                window_stages, window_est, window_cycles = lower_window(op, in_t, buffered=buffered)
                stages.extend(window_stages)
                cycles = max(cycles, window_cycles)
            n_thr = act.levels if isinstance(act, MultiThreshold) else 0
            variants = {}
            if is_unrolled(op):      # fully parallel dense layer: constant weights (_unrolled)
                make, est = lower_unrolled(kwargs)
                stages.append(make)
            else:
                stages.append(partial(MatVecUnit, **kwargs))
                mvu = partial(estimate_mvu, rows=op.rows, cols=weights.shape[1], pe=op.pe,
                              simd=simd, in_width=stream_format(in_t.fmt, 1).width,
                              w_width=stream_format(wfmt, 1).width, acc_width=acc.bits,
                              n_thresholds=n_thr, out_width=stream_format(out_t.fmt, 1).width,
                              bipolar=isinstance(wfmt, Bipolar) and isinstance(in_t.fmt, Bipolar),
                              in_beats=in_beats, mult_pairs=pairs)
                est = mvu()
                variants = {key: mvu(model=model, dsp=dsp) for key, model, dsp in _VARIANTS}
            if windowed:
                est = merge_estimates(window_est, est)
                variants = {k: merge_estimates(window_est, v) for k, v in variants.items()}
            layers.append(_layer(est, variants, name=op.name, kind=op.opcode, ops=(op.name,) + ((act.name,) if act else ()),
                                 rows=op.rows, cols=op.cols, pe=op.pe, simd=op.simd, cycles=cycles,
                                 in_fmt=str(in_t.fmt), w_fmt=str(op.wfmt), acc_fmt=str(acc),
                                 out_fmt=str(out_t.fmt), src=op.src))
            i += 2 if act else 1
        elif isinstance(op, (MultiThreshold, Requant)):
            if not isinstance(in_t.fmt, Int):
                raise PassError(f"lower: {op.where}: input format {in_t.fmt} cannot be thresholded in hardware")
            out_t = types[op.name]
            c = in_t.channels      # one pixel per beat; thresholds are per channel
            stages.append(partial(ThresholdUnit, n=c, in_width=in_t.fmt.width,
                                  in_signed=bool(in_t.fmt.signed), **_activation(op)))
            n_thr = op.levels if isinstance(op, MultiThreshold) else 1
            est = estimate_threshold(n=c, in_width=in_t.fmt.width, n_thresholds=n_thr,
                                     out_width=stream_format(out_t.fmt, 1).width)
            layers.append(_layer(est, name=op.name, kind=op.opcode, ops=(op.name,), rows=c, cols=1,
                                 pe=c, simd=1, cycles=in_t.positions, in_fmt=str(in_t.fmt),
                                 out_fmt=str(out_t.fmt), src=op.src))
            i += 1
        elif isinstance(op, (Pool, Flatten)):
            lowered = (lower_pool if isinstance(op, Pool) else lower_flatten)(op, in_t, types[op.name])
            makes, info = lowered
            stages.extend(makes)
            if info is not None:
                layers.append(_layer(info.pop("estimate"), name=op.name, ops=(op.name,), src=op.src,
                                     **info))
            i += 1
        elif isinstance(op, Wdf):
            makes, info = lower_wdf_op(op, in_t, budget=_frame_budget(graph, types))
            stages.extend(makes)
            layers.append(_layer(info.pop("estimate"), name=op.name, ops=(op.name,), src=op.src, **info))
            i += 1
        else:
            raise PassError(f"lower: {op.opcode} {op.where} has no hardware block; "
                            "run the default pipeline (streamline folds affine and quant ops)")
    return stages, layers
