"""Simulation: Verilator builds driven from C++, co-simulation against the reference interpreter."""

from ._build import Build, cache_dir, verilate
from ._i2s import I2SSimResult, simulate_i2s
from ._multi import MultiStreamSim, StreamOutcome
from ._verilator import StreamResult, StreamSim, ensure_verilator_on_path, verilator_argv, verilator_root

__all__ = ["Build", "MultiStreamSim", "StreamOutcome", "StreamResult", "StreamSim", "cache_dir", "verilate",
           "ensure_verilator_on_path", "verilator_argv", "verilator_root", "I2SSimResult", "simulate_i2s"]
