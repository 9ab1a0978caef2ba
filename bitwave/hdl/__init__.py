"""Amaranth hardware generators and Verilog emission.

This package depends on Amaranth only; it never imports :mod:`bitwave.ir`.
The lowering pass maps IR ops onto these components with concrete parameters.
"""

from ._chain import Chain
from ._emit import emit_verilog, port_manifest
from ._estimate import ICE40, CostModel, estimate_mvu, estimate_threshold
from ._mvu import MatVecUnit
from ._threshold import ThresholdUnit
from ._wdf import WdfBank, WdfCore, estimate_wdf

__all__ = [
    "MatVecUnit", "ThresholdUnit", "Chain", "WdfCore", "WdfBank", "estimate_wdf",
    "emit_verilog", "port_manifest",
    "estimate_mvu", "estimate_threshold", "CostModel", "ICE40",
]
