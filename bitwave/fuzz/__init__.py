"""Random-model fuzzing: the whole compiler against the reference interpreter.

``fuzz(n_models, seed)`` generates small random networks (depth 1–5, widths
1–100 including primes, bit-widths 1–8 signed and unsigned, Bipolar layers,
thresholds at extreme values, requantisation, stand-alone activations, low-rank
splits and binarisation through the real passes, random ``pe``/``simd``
divisors), compiles each one (passes → lowering → Verilog) and checks:

* **passes**: the graph before the exact passes (``streamline``,
  ``infer-bitwidths``, ``fold``) and the final graph give the same codes;
* **RTL**: the Verilator simulation of the lowered design gives the reference
  interpreter's codes on random and extreme inputs (all-max, all-min,
  alternating, random signs), with random stalls on input valid and output
  ready, with nothing lost and nothing duplicated.

Many designs share one Verilator build (:class:`~bitwave.sim.MultiStreamSim`),
so hundreds of models cost a few builds, not hundreds.

Every model ``i`` of a run with seed ``S`` is generated from its own random
stream ``(S, i)``: ``bitwave fuzz --seed S --first i --models 1`` rebuilds
exactly that model.  A failing model is shrunk (fewer layers, fewer elements,
narrower formats, less parallelism, fewer frames) while it still fails, and
reported as IR text with the failing inputs in comments.

Modules: ``_generate`` (random models, their passes and input frames),
``_check`` (RTL checks, many designs per build), ``_shrink`` (minimisation) and
``_driver`` (the run, its report and ``bitwave fuzz``).
"""

from ._check import Verdict, RtlJob, rtl_failures
from ._driver import FuzzFailure, FuzzReport, fuzz, fuzz_on_cluster, run_cli
from ._generate import STALL_RATES, FuzzCase, FuzzConfig, compile_case, frame_inputs, generate_case
from ._shrink import minimise

__all__ = ["FuzzConfig", "FuzzCase", "FuzzFailure", "FuzzReport", "fuzz", "fuzz_on_cluster", "run_cli", "generate_case",
           "compile_case", "frame_inputs", "minimise", "rtl_failures", "RtlJob", "Verdict", "STALL_RATES"]
