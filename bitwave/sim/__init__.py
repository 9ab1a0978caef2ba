"""Simulation: Verilator builds driven from C++, co-simulation against the reference interpreter."""

from ._verilator import (PortSpec, StreamResult, StreamSim, cache_dir, ensure_verilator_on_path,
                         pack_vectors, unpack_vectors, verilator_argv, verilator_root)

__all__ = ["PortSpec", "StreamResult", "StreamSim", "cache_dir", "ensure_verilator_on_path",
           "pack_vectors", "unpack_vectors", "verilator_argv", "verilator_root"]
