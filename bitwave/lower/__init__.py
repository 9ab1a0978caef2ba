"""Lowering: a compiled graph → a hardware plan (Amaranth components, stream formats, layer costs).

The one stage that knows both :mod:`bitwave.ir` and :mod:`bitwave.hdl`; it
runs after the passes and before Verilog emission.
"""

from ._graph import Lowered, lower, plan, stream_format
from ._wdf import lower_wdf, lower_wdf_op, wdf_core_params

__all__ = ["Lowered", "lower", "plan", "stream_format", "lower_wdf", "lower_wdf_op",
           "wdf_core_params"]
