"""Wave digital filters: trees described as data, a float64 reference and fixed-point semantics.

* :mod:`._tree`: the circuit (adapted one-ports and adaptors under one root) as
  validated frozen dataclasses, :class:`WdfTree`;
* :mod:`._float`: :func:`simulate`, the float64 reference, and the diode roots;
* :mod:`._fixed`: :class:`WdfFixed`, the fixed-point form of a clipper-class
  tree, and :func:`run_fixed`, its bit-exact golden model;
* :mod:`._fixed_tree`, :mod:`._fixed_compile`: :class:`WdfProgram`, the
  fixed-point form of any tree as a list of scattering steps
  (:func:`compile_tree`), and :func:`run_program`, its golden model;
* :mod:`._fixed_root`, :mod:`._fixed_arith`: the root table and the integer
  arithmetic both share.

Finding a :class:`WdfFixed` for a tree (the word-length search) is a pass:
:func:`bitwave.passes.quantise_wdf.quantise_wdf`.
"""

from ._fixed import DEFAULT_WORD_LENGTH, Probe, WdfFixed, run_fixed
from ._fixed_compile import compile_tree
from ._fixed_root import pwl_breakpoints
from ._fixed_tree import Step, StepKind, WdfProgram, run_program
from ._float import asymmetric_pair_reflect, diode_pair_reflect, diode_reflect, simulate
from ._tree import (AsymmetricDiodePair, Capacitor, Diode, DiodePair, IdealSource, Inductor, Inverter, Open, Parallel,
                    ResistiveSource, Resistor, RootSolver, Series, Short, WdfTree,
                    port_resistance)

__all__ = [
    # tree description
    "Resistor", "Capacitor", "Inductor", "ResistiveSource",
    "Series", "Parallel", "Inverter",
    "IdealSource", "Short", "Open", "Diode", "DiodePair", "AsymmetricDiodePair", "RootSolver",
    "WdfTree", "port_resistance", "simulate",
    # nonlinear roots as functions
    "diode_pair_reflect", "diode_reflect", "asymmetric_pair_reflect",
    # fixed point
    "Probe", "WdfFixed", "run_fixed", "pwl_breakpoints", "DEFAULT_WORD_LENGTH",
    # fixed point, any tree
    "Step", "StepKind", "WdfProgram", "run_program", "compile_tree",
]
