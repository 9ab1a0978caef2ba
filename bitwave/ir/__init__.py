"""The IR: typed ops, number formats, verifier, text form and the reference interpreter."""

from ._activation import Activation, quantise_activation
from ._formats import Bipolar, Fixed, Format, Int, Overflow, Real, Rounding, int_format_for
from ._add import Add, Concat, Join, add_multipliers
from ._conv import CausalConv, Conv, Flatten, Pool, PoolKind
from ._graph import OP_CLASSES, Graph, parse_graph, print_graph, reads, verify
from ._interp import Interpreter, quantise_input, run_graph
from ._steps import Arith, InputStep
from ._ops import (Affine, Const, Input, MatVec, MultiThreshold, Op, Output, Quant, Requant,
                   ValueType, channels_last, code_min)
from ._wdf_op import Wdf, WdfLayout

__all__ = [
    "Format", "Int", "Bipolar", "Fixed", "Real", "Rounding", "Overflow", "int_format_for",
    "Const", "ValueType", "Op", "Input", "MatVec", "Affine", "Quant", "MultiThreshold", "Requant",
    "Output", "Wdf", "WdfLayout", "OP_CLASSES", "Graph", "verify", "print_graph", "parse_graph",
    "Interpreter", "run_graph", "quantise_input", "Activation", "quantise_activation",
    "Arith", "InputStep", "code_min", "channels_last",
    "Conv", "CausalConv", "Pool", "PoolKind", "Flatten", "Add", "Concat", "Join", "add_multipliers", "reads",
]
