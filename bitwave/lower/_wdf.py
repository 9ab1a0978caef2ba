"""Lowering of a fixed-point WDF (:class:`~bitwave.ir.wdf.WdfFixed`) to a hardware core.

The only place that knows both the WDF spec and :class:`~bitwave.hdl.WdfCore`:
it turns the IR's typed formats and enums into the plain integers, booleans and
hdl-side probe of a :class:`~bitwave.hdl.WdfCoreParams`.  :func:`lower_wdf_op` does it for an IR ``Wdf`` op (one core
per channel in a :class:`~bitwave.hdl._wdf.WdfBank`) for :func:`bitwave.lower.lower`.
"""

from __future__ import annotations

from functools import partial
from typing import Callable

from ..errors import PassError
from ..hdl import (Gather, Scatter, WdfBank, WdfCore, WdfCoreParams, WdfProbe, estimate_gather,
                   estimate_scatter, estimate_wdf)
from ..hdl._wdf import WdfRounding
from ..ir import Overflow, Rounding, ValueType, Wdf
from ..hdl._wdf_micro import MicroOp, MicroStep, WdfMicroCore, WdfMicroParams
from ..ir.wdf import Probe, StepKind, WdfFixed, WdfProgram
from ._spatial import merge_estimates

__all__ = ["wdf_core_params", "lower_wdf", "lower_wdf_op", "wdf_micro_params",
           "lower_wdf_program"]


#: The IR's probe as the hardware names it (hdl never imports the IR).
_PROBE = {Probe.ROOT: WdfProbe.ROOT, Probe.SOURCE: WdfProbe.SOURCE,
          Probe.REACTIVE: WdfProbe.REACTANCE}
_OP = {StepKind.ALU: MicroOp.ALU, StepKind.ROOT: MicroOp.ROOT, StepKind.OUT: MicroOp.OUT}
#: The IR's rounding modes as the hardware names them.
ROUNDING = {Rounding.NEAREST: WdfRounding.NEAREST, Rounding.TRUNCATE: WdfRounding.FLOOR,
            Rounding.MAGNITUDE: WdfRounding.MAGNITUDE}


def _common(spec, kind, made_by: str) -> dict:
    """The formats, table and modes both cores take, from a WdfFixed or a WdfProgram."""
    if not isinstance(spec, kind):
        raise PassError(f"lower-wdf: expected a {kind.__name__}, not {type(spec).__name__}; "
                        f"run {made_by} on the tree first")
    if spec.input.rounding is not spec.wave.rounding or spec.input.overflow is not spec.wave.overflow:
        # The golden models convert the input with the wave format's modes; the input format's
        # own modes only describe how the samples were made, so they must not disagree silently.
        raise PassError(f"lower-wdf: input format {spec.input} and wave format {spec.wave} "
                        f"differ in rounding or overflow; the input is converted with the "
                        f"wave's modes, so make them equal")
    return dict(
        in_width=spec.input.width, in_frac=spec.input.frac_bits,
        wave_width=spec.wave.width, wave_frac=spec.wave.frac_bits,
        out_width=spec.output.width, out_frac=spec.output.frac_bits, coeff_frac=spec.coeff_frac,
        table_range_log2=spec.table_range_log2, table_octaves=spec.table_octaves,
        segments_log2=spec.segments_log2, table=spec.table,
        wave_rounding=ROUNDING[spec.wave.rounding],
        wave_saturate=spec.wave.overflow is Overflow.SATURATE,
        out_rounding=ROUNDING[spec.output.rounding],
        out_saturate=spec.output.overflow is Overflow.SATURATE)


def wdf_core_params(spec: WdfFixed, *, narrow: bool = False) -> WdfCoreParams:
    """The :class:`WdfCoreParams` of a :class:`WdfCore` that implements ``spec`` bit for bit
    (``narrow``: on one 16 × 16 multiplier)."""
    common = _common(spec, WdfFixed, "quantise_wdf")
    return WdfCoreParams(coeff=spec.coeff, series=spec.series, inductor=spec.inductor,
                         probe=_PROBE[spec.probe], narrow=narrow, **common)


def wdf_micro_params(prog: WdfProgram) -> WdfMicroParams:
    """The :class:`WdfMicroParams` of a :class:`WdfMicroCore` that runs ``prog`` bit for bit."""
    common = _common(prog, WdfProgram, "quantise_tree")
    return WdfMicroParams(
        registers=prog.registers, halves=prog.halves,
        steps=tuple(MicroStep(_OP[s.kind], s.dst, s.add, s.mul, s.coeff) for s in prog.steps),
        **common)


def lower_wdf_program(prog: WdfProgram) -> WdfMicroCore:
    """The :class:`WdfMicroCore` for ``prog``."""
    return WdfMicroCore(wdf_micro_params(prog))


def lower_wdf(spec: WdfFixed, *, narrow: bool = False) -> WdfCore:
    """The :class:`WdfCore` for ``spec``."""
    return WdfCore(wdf_core_params(spec, narrow=narrow))


def lower_wdf_op(op: Wdf, in_t: ValueType, budget: int = 1) -> tuple[list[Callable], dict]:
    """The constructors of a fixed-point ``Wdf`` op's hardware stages and the fields of its
    layer.  Oversampled by ``k``, the bank sits between a :class:`Scatter` (one row's ``k``
    phases become ``k`` beats, phase 0 first) and a :class:`Gather` (back into one row), so
    the cores run ``k`` samples per row in time order.

    ``budget``: the cycles per row the rest of the design takes anyway (its slowest
    layer).  When the cores' narrow form (one 16 × 16 multiplier each, more cycles per
    sample) still keeps within it, they take that form: the same rate for fewer DSPs.
    """
    if not op.is_fixed:
        raise PassError(f"lower: wdf {op.where} is still in float form; run the quantise-wdf "
                        f"pass first (the default pipeline does)")
    specs = op.specs(op.input_format(in_t))
    spec, k, n = specs[0], op.oversample, op.channels
    narrow = [wdf_core_params(s, narrow=True) for s in specs]
    slowest = max(WdfCore.cycles(p) for p in narrow)
    params = narrow if k * slowest <= budget else [wdf_core_params(s) for s in specs]
    cycles = max(WdfCore.cycles(p) for p in params)
    stages = [lambda: WdfBank([WdfCore(p) for p in params])]
    estimate = estimate_wdf(params)
    if k > 1:
        ends = (dict(beats=k, elems=n, width=spec.input.width),
                dict(beats=k, elems=n, width=spec.output.width))
        stages = [partial(Scatter, **ends[0])] + stages + [partial(Gather, **ends[1])]
        estimate = merge_estimates(estimate_scatter(**ends[0]), estimate,
                                   estimate_gather(**ends[1]))
    return stages, dict(
        kind="wdf", rows=n, cols=1, pe=n, simd=1,
        cycles=k * cycles, in_fmt=str(spec.input),
        w_fmt=f"coeff u{spec.coeff_frac + 1}, table {len(spec.table)}×{spec.wave.width}",
        acc_fmt=str(spec.wave), out_fmt=str(spec.output),
        estimate=estimate, latency=cycles if k == 1 else None)
