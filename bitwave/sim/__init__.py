"""Simulation: Verilator builds driven from C++, co-simulation against the reference interpreter."""

from ._build import cache_dir
from ._multi import MultiStreamSim, StreamOutcome
from ._verilator import StreamResult, StreamSim, ensure_verilator_on_path, verilator_argv, verilator_root

__all__ = ["MultiStreamSim", "StreamOutcome", "StreamResult", "StreamSim", "cache_dir",
           "ensure_verilator_on_path", "verilator_argv", "verilator_root"]
