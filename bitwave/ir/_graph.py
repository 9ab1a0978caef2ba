"""The graph (a chain of ops), the verifier and the text form."""

from __future__ import annotations

import ast
import enum
from dataclasses import dataclass, fields, is_dataclass

from ..errors import VerifyError
from ._activation import Activation
from ._formats import Bipolar, Fixed, Int, Overflow, Real, Rounding
from ._add import Add, Concat, Join
from ._conv import CausalConv, Conv, Flatten, Pool
from ._ops import (Affine, Const, Input, MatVec, MultiThreshold, Op, Output, Quant, Requant,
                   ValueType)
from ._wdf_op import Wdf, WdfLayout
from ._steps import Arith, InputStep
from .wdf import Probe

__all__ = ["Graph", "verify", "print_graph", "parse_graph", "OP_CLASSES", "reads"]

OP_CLASSES = {cls.__name__: cls
              for cls in (Input, MatVec, Conv, CausalConv, Pool, Flatten, Add, Concat, Affine, Quant,
                          MultiThreshold, Requant, Output, Wdf)}


def reads(op: Op) -> tuple[str, ...]:
    """Names of the ops ``op`` reads: none for the Input, two for a join (Add, Concat), else one."""
    if isinstance(op, Join):
        return op.reads
    return (op.input,) if hasattr(op, "input") else ()


@dataclass(frozen=True)
class Graph:
    """Ops in topological order: one ``Input`` first, one ``Output`` last.

    Usually a chain (each op read by the next); an :class:`~bitwave.ir.Add` joins
    two paths from one op read twice (a residual branch), which makes it a DAG.
    """
    ops: tuple[Op, ...]

    def __post_init__(self):
        object.__setattr__(self, "ops", tuple(self.ops))

    def __iter__(self):
        return iter(self.ops)

    def __len__(self):
        return len(self.ops)

    def __getitem__(self, name: str) -> Op:
        for op in self.ops:
            if op.name == name:
                return op
        raise VerifyError(f"graph: no op named {name!r}; ops: {', '.join(op.name for op in self.ops)}")

    @property
    def input(self) -> Input:
        return self.ops[0]

    @property
    def output(self) -> Output:
        return self.ops[-1]

    def types(self) -> dict[str, ValueType]:
        """Output type of every op, by name (raises VerifyError on the first bad op)."""
        out: dict[str, ValueType] = {}
        for op in self.ops:
            ins = [out[n] for n in reads(op)]
            out[op.name] = op.out_type(*ins) if ins else op.out_type(None)
        return out

    def consumers(self, name: str) -> list[Op]:
        return [op for op in self.ops if name in reads(op)]

    @property
    def device_output(self) -> Op:
        """The op whose codes leave the hardware: the output's input, before the real-valued
        ``Affine`` s that end the graph (the float scale and bias of the last layer, e.g. a
        batch-norm after it), which the host applies exactly as the model does; see
        :meth:`~bitwave.ir.Interpreter.finish`."""
        op = self[self.output.input]
        while isinstance(op, Affine) and len(self.consumers(op.input)) == 1:
            op = self[op.input]
        return op

    @property
    def host_ops(self) -> list[Op]:
        """The ``Affine`` s between :attr:`device_output` and the output, in order."""
        ops, op = [], self[self.output.input]
        while op is not self.device_output:
            ops.append(op)
            op = self[op.input]
        return ops[::-1]

    def output_conversion(self) -> str:
        """One line for the report: what the host does to the hardware's output codes ("" if
        they are the result)."""
        if not self.host_ops:
            return ""
        dev = self.device_output
        return (f"Output conversion (host, float64): the hardware's integer codes of {dev.where} "
                f"times their scale, then {len(self.host_ops)} per-channel affine(s) "
                f"({', '.join(op.where for op in self.host_ops)}) whose bias is not a whole "
                "number of accumulator units, so it is not folded into the hardware.")

    @property
    def is_chain(self) -> bool:
        """Each op reads the one before it (no branches)."""
        return all(reads(op) == (prev.name,) for prev, op in zip(self.ops, self.ops[1:]))

    def replace_ops(self, mapping: dict[str, list[Op]]) -> "Graph":
        """A new graph where each op named in ``mapping`` is replaced by a list of ops."""
        new: list[Op] = []
        for op in self.ops:
            new.extend(mapping.get(op.name, [op]))
        return Graph(tuple(new))

    def __str__(self):
        return print_graph(self)


def verify(graph: Graph) -> dict[str, ValueType]:
    """Check structure and types; raise VerifyError naming the first bad op. Returns the types."""
    ops = graph.ops
    if len(ops) < 2:
        raise VerifyError("graph: needs at least an Input and an Output op")
    if not isinstance(ops[0], Input):
        raise VerifyError(f"graph: first op must be Input, not {ops[0].opcode} {ops[0].name}")
    if not isinstance(ops[-1], Output):
        raise VerifyError(f"graph: last op must be Output, not {ops[-1].opcode} {ops[-1].name}")
    seen: set[str] = set()
    for i, op in enumerate(ops):
        if op.name in seen:
            raise VerifyError(f"graph: op name {op.name!r} is used twice")
        if i and isinstance(op, Input):
            raise op.error("only the first op may be an Input")
        if i < len(ops) - 1 and isinstance(op, Output):
            raise op.error("only the last op may be an Output")
        for src in reads(op):
            if src not in seen:
                raise op.error(f"reads {src!r}, which is not defined before it")
        seen.add(op.name)
    for op in ops[:-1]:
        if not graph.consumers(op.name):
            raise op.error("its result is never read; remove it or connect it to the output")
    return graph.types()


# ---------------------------------------------------------------------------
# Text form: one op per line, `name = OpClass(input, key=value, ...)`, values
# are Python literals or format constructors (a field declared with metadata
# text="unless-default" is left out at its default), so parsing is `ast` plus a small
# whitelist evaluator and `parse_graph(print_graph(g)) == g` holds exactly.

_HEADER = "bitwave.graph v1"
_FORMAT_NAMES = {"Int": Int, "Bipolar": Bipolar, "Fixed": Fixed, "Real": Real}
#: Field values that are records (printed with keywords) or enums (``Name.MEMBER``).
_RECORD_NAMES = {"WdfLayout": WdfLayout, "InputStep": InputStep}
_ENUM_NAMES = {"Probe": Probe, "Activation": Activation, "Arith": Arith}


def _fmt_text(fmt) -> str:
    if isinstance(fmt, Int):
        return f"Int({fmt.bits}, {fmt.signed})"
    if isinstance(fmt, Fixed):
        return (f"Fixed({fmt.int_bits}, {fmt.frac_bits}, {fmt.signed}, "
                f"{fmt.rounding.value!r}, {fmt.overflow.value!r})")
    return f"{type(fmt).__name__}()"


def _value_text(v) -> str:
    if isinstance(v, Const):
        return repr(v.array.tolist())
    if isinstance(v, (Int, Bipolar, Fixed, Real)):
        return _fmt_text(v)
    if isinstance(v, (tuple, list)):
        return "[" + ", ".join(_value_text(e) for e in v) + "]"
    if isinstance(v, enum.Enum):
        return f"{type(v).__name__}.{v.name}"
    if is_dataclass(v):
        args = ", ".join(f"{f.name}={_value_text(getattr(v, f.name))}" for f in fields(v))
        return f"{type(v).__name__}({args})"
    if isinstance(v, float):
        return repr(v)
    return repr(v)


def print_graph(graph: Graph) -> str:
    """The text form of a graph (exact: floats are printed with repr)."""
    lines = [_HEADER]
    for op in graph.ops:
        args = []
        if hasattr(op, "input"):
            args.append(op.input)
        # src last, where it reads as a note on the op
        for f in sorted(fields(op), key=lambda f: f.name == "src"):
            if f.name in ("name", "input"):
                continue
            v = getattr(op, f.name)
            if (f.name == "src" and not v) or \
                    (f.metadata.get("text") == "unless-default" and v == f.default):
                continue
            args.append(f"{f.name}={_value_text(v)}")
        lines.append(f"{op.name} = {type(op).__name__}({', '.join(args)})")
    return "\n".join(lines) + "\n"


def _eval(node: ast.AST, where: str):
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_eval(e, where) for e in node.elts]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = _eval(node.operand, where)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FORMAT_NAMES:
        args = [_eval(a, where) for a in node.args]
        if node.func.id == "Fixed" and len(args) == 5:
            args[3], args[4] = Rounding(args[3]), Overflow(args[4])
        return _FORMAT_NAMES[node.func.id](*args)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
            and node.func.id in _RECORD_NAMES:
        if node.args:
            raise VerifyError(f"parse: {where}: {node.func.id} takes keyword arguments only")
        try:
            return _RECORD_NAMES[node.func.id](**{kw.arg: _eval(kw.value, where)
                                                 for kw in node.keywords})
        except (TypeError, VerifyError) as e:
            raise VerifyError(f"parse: {where}: {e}") from None
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
            and node.value.id in _ENUM_NAMES:
        cls = _ENUM_NAMES[node.value.id]
        if node.attr not in cls.__members__:
            raise VerifyError(f"parse: {where}: {node.value.id} has no member {node.attr!r}; "
                              f"known: {', '.join(cls.__members__)}")
        return cls[node.attr]
    if isinstance(node, ast.Name) and node.id in ("inf", "nan"):
        return float(node.id)
    raise VerifyError(f"parse: {where}: unsupported value {ast.unparse(node)!r}")


def parse_graph(text: str) -> Graph:
    """Parse the text form written by :func:`print_graph`."""
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines or lines[0].strip() != _HEADER:
        raise VerifyError(f"parse: line 1: expected header {_HEADER!r}")
    ops = []
    for lineno, line in enumerate(lines[1:], start=2):
        where = f"line {lineno}"
        try:
            tree = ast.parse(line.strip(), mode="exec")
        except SyntaxError as e:
            raise VerifyError(f"parse: {where}: {e.msg}") from None
        stmt = tree.body[0] if len(tree.body) == 1 else None
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name) and isinstance(stmt.value, ast.Call)
                and isinstance(stmt.value.func, ast.Name)):
            raise VerifyError(f"parse: {where}: expected `name = Op(...)`")
        cls = OP_CLASSES.get(stmt.value.func.id)
        if cls is None:
            raise VerifyError(f"parse: {where}: unknown op {stmt.value.func.id!r}; "
                              f"known: {', '.join(sorted(OP_CLASSES))}")
        kwargs = {"name": stmt.targets[0].id}
        call = stmt.value
        if call.args:
            if len(call.args) != 1 or not isinstance(call.args[0], ast.Name):
                raise VerifyError(f"parse: {where}: an op reads one input, named without quotes")
            kwargs["input"] = call.args[0].id
        for kw in call.keywords:
            kwargs[kw.arg] = _eval(kw.value, where)
        try:
            ops.append(cls(**kwargs))
        except TypeError as e:
            raise VerifyError(f"parse: {where}: {e}") from None
    graph = Graph(tuple(ops))
    verify(graph)
    return graph
