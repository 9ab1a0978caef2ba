"""Lowering of a fixed-point WDF (:class:`~bitwave.ir.wdf.WdfFixed`) to a hardware core.

The only place that knows both the WDF spec and :class:`~bitwave.hdl.WdfCore`:
it turns the IR's typed formats and enums into the plain integers, booleans and
hdl-side probe of a :class:`~bitwave.hdl.WdfCoreParams`.  :func:`lower_wdf_op` does it for an IR ``Wdf`` op (one core
per channel in a :class:`~bitwave.hdl._wdf.WdfBank`) for :func:`bitwave.lower.lower`.
"""

from __future__ import annotations

from typing import Callable

from ..errors import PassError
from ..hdl import WdfBank, WdfCore, WdfCoreParams, WdfProbe, estimate_wdf
from ..hdl._wdf import WdfRounding
from ..ir import Overflow, Rounding, ValueType, Wdf
from ..ir.wdf import Probe, WdfFixed

__all__ = ["wdf_core_params", "lower_wdf", "lower_wdf_op"]


#: The IR's probe as the hardware names it (hdl never imports the IR).
_PROBE = {Probe.ROOT: WdfProbe.ROOT, Probe.SOURCE: WdfProbe.SOURCE,
          Probe.REACTIVE: WdfProbe.REACTANCE}
#: The IR's rounding modes as the hardware names them.
ROUNDING = {Rounding.NEAREST: WdfRounding.NEAREST, Rounding.TRUNCATE: WdfRounding.FLOOR,
            Rounding.MAGNITUDE: WdfRounding.MAGNITUDE}


def wdf_core_params(spec: WdfFixed) -> WdfCoreParams:
    """The :class:`WdfCoreParams` of a :class:`WdfCore` that implements ``spec`` bit for bit."""
    if not isinstance(spec, WdfFixed):
        raise PassError(f"lower-wdf: expected a WdfFixed, not {type(spec).__name__}; "
                        f"run quantise_wdf on the tree first")
    if spec.input.rounding is not spec.wave.rounding or spec.input.overflow is not spec.wave.overflow:
        # run_fixed converts the input with the wave format's modes; the input format's own
        # modes only describe how the samples were made, so they must not disagree silently.
        raise PassError(f"lower-wdf: input format {spec.input} and wave format {spec.wave} "
                        f"differ in rounding or overflow; the input is converted with the "
                        f"wave's modes, so make them equal")
    return WdfCoreParams(
        in_width=spec.input.width, in_frac=spec.input.frac_bits,
        wave_width=spec.wave.width, wave_frac=spec.wave.frac_bits,
        out_width=spec.output.width, out_frac=spec.output.frac_bits,
        coeff=spec.coeff, coeff_frac=spec.coeff_frac,
        series=spec.series, inductor=spec.inductor, probe=_PROBE[spec.probe],
        table_range_log2=spec.table_range_log2, table_octaves=spec.table_octaves,
        segments_log2=spec.segments_log2, table=spec.table,
        wave_rounding=ROUNDING[spec.wave.rounding],
        wave_saturate=spec.wave.overflow is Overflow.SATURATE,
        out_rounding=ROUNDING[spec.output.rounding],
        out_saturate=spec.output.overflow is Overflow.SATURATE,
    )


def lower_wdf(spec: WdfFixed) -> WdfCore:
    """The :class:`WdfCore` for ``spec``."""
    return WdfCore(wdf_core_params(spec))


def lower_wdf_op(op: Wdf, in_t: ValueType) -> tuple[Callable[[], WdfBank], dict]:
    """The constructor of a fixed-point ``Wdf`` op's hardware and the fields of its layer."""
    if not op.is_fixed:
        raise PassError(f"lower: wdf {op.where} is still in float form; run the quantise-wdf "
                        f"pass first (the default pipeline does)")
    specs = op.specs(op.input_format(in_t))
    params = [wdf_core_params(spec) for spec in specs]
    spec = specs[0]
    return (lambda: WdfBank([WdfCore(p) for p in params])), dict(
        kind="wdf", rows=op.channels, cols=1, pe=op.channels, simd=1,
        cycles=WdfCore.cycles_per_sample, in_fmt=str(spec.input),
        w_fmt=f"coeff u{spec.coeff_frac + 1}, table {len(spec.table)}×{spec.wave.width}",
        acc_fmt=str(spec.wave), out_fmt=str(spec.output),
        estimate=estimate_wdf(params), latency=WdfCore.latency)
