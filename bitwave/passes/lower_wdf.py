"""Lowering of a fixed-point WDF (:class:`~bitwave.ir.wdf.WdfFixed`) to a hardware core.

The only place that knows both the WDF spec and :class:`~bitwave.hdl._wdf.WdfCore`:
it turns typed formats and enums into the plain integers and booleans the
generator takes.
"""

from __future__ import annotations

from ..errors import PassError
from ..hdl._wdf import WdfCore
from ..ir import Overflow, Rounding
from ..ir.wdf import WdfFixed

__all__ = ["wdf_core_params", "lower_wdf"]


def wdf_core_params(spec: WdfFixed) -> dict:
    """Keyword arguments of :class:`WdfCore` that implement ``spec`` bit for bit."""
    if not isinstance(spec, WdfFixed):
        raise PassError(f"lower-wdf: expected a WdfFixed, not {type(spec).__name__}; "
                        f"run quantise_wdf on the tree first")
    if spec.input.rounding is not spec.wave.rounding or spec.input.overflow is not spec.wave.overflow:
        # run_fixed converts the input with the wave format's modes; the input format's own
        # modes only describe how the samples were made, so they must not disagree silently.
        raise PassError(f"lower-wdf: input format {spec.input} and wave format {spec.wave} "
                        f"differ in rounding or overflow; the input is converted with the "
                        f"wave's modes, so make them equal")
    return dict(
        in_width=spec.input.width, in_frac=spec.input.frac_bits,
        wave_width=spec.wave.width, wave_frac=spec.wave.frac_bits,
        out_width=spec.output.width, out_frac=spec.output.frac_bits,
        coeff=spec.coeff, coeff_frac=spec.coeff_frac,
        series=spec.series, inductor=spec.inductor, probe=int(spec.probe),
        table_range_log2=spec.table_range_log2, table_octaves=spec.table_octaves,
        segments_log2=spec.segments_log2, table=spec.table,
        wave_round_nearest=spec.wave.rounding is Rounding.NEAREST,
        wave_saturate=spec.wave.overflow is Overflow.SATURATE,
        out_round_nearest=spec.output.rounding is Rounding.NEAREST,
        out_saturate=spec.output.overflow is Overflow.SATURATE,
    )


def lower_wdf(spec: WdfFixed) -> WdfCore:
    """The :class:`WdfCore` for ``spec``."""
    return WdfCore(**wdf_core_params(spec))
