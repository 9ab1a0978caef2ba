"""Amaranth hardware generators and Verilog emission.

This package depends on Amaranth only; it never imports :mod:`bitwave.ir`.
Lowering (:mod:`bitwave.lower`) maps IR ops onto these components with concrete parameters.
"""

from ._branch import Residual, StreamFifo, estimate_fifo, estimate_residual
from ._chain import Chain
from ._emit import emit_verilog, port_manifest
from ._estimate import ECP5, ICE40, CostModel, estimate_mvu, estimate_threshold
from ._gather import Gather, Scatter, estimate_gather, estimate_scatter
from ._i2s import I2SCodecBridge
from ._ecp5_mult import ECP5_MULT, MULT18X18D_MODEL, uses_ecp5_mult
from ._mvu import MatVecUnit
from ._popcount import COPY_ATTR, multiplier_pair_width
from ._reduce import ReduceOp, WindowReduce, estimate_window_reduce
from ._resources import Estimate, Resources
from ._stream import StreamFormat
from ._threshold import ThresholdUnit
from ._unrolled import UnrolledMatVec, estimate_unrolled
from ._serial_window import SerialWindow, estimate_serial_window
from ._window import (SlidingWindow, TemporalWindow, estimate_sliding_window,
                      estimate_temporal_window)
from ._wdf import WdfBank, WdfCore, WdfCoreParams, WdfProbe, estimate_wdf

__all__ = [
    "COPY_ATTR", "multiplier_pair_width", "ECP5_MULT", "MULT18X18D_MODEL", "uses_ecp5_mult",
    "MatVecUnit", "ThresholdUnit", "Chain", "WdfCore", "WdfCoreParams", "WdfProbe", "WdfBank",
    "estimate_wdf",
    "emit_verilog", "port_manifest",
    "estimate_mvu", "estimate_threshold", "CostModel", "ICE40", "ECP5", "Estimate", "Resources", "StreamFormat",
    "SlidingWindow", "TemporalWindow", "SerialWindow", "estimate_serial_window", "WindowReduce", "ReduceOp", "Gather", "Scatter",
    "estimate_sliding_window", "estimate_temporal_window", "estimate_window_reduce",
    "estimate_gather", "estimate_scatter",
    "Residual", "StreamFifo", "estimate_fifo", "estimate_residual",
    "I2SCodecBridge",
]
