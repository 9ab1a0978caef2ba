"""A :class:`~._tree.WdfTree` scheduled as a :class:`~._fixed_tree.WdfProgram`.

One pass up the tree (children before parents) emits the adaptors' reflected
waves toward the root, then the root, then one pass down (parents before
children) the waves into every adaptor's children.  Leaves cost no step on
the way up: a capacitor's wave *is* its state register, an inductor's its
negation, a resistor's the zero register and a source's the input register,
and an inverter only flips the sign of the terms that read its child.  On the
way down a reactance's incident wave is written straight into its state
register, and resistors' and sources' incident waves are not computed unless
probed, so a tree costs one step per adaptor on the way up, about one per
adapted child on the way down, the root's steps and the output.

Adaptor equations (port 0 faces the root; γ as a coefficient)::

    parallel: b0 = a2 + γ·(a1 − a2), γ = G1/G0;   bk = a0 + b0 − ak
    series:   b0 = −(a1 + a2);   b1 = a1 − γ·(a0 + a1 + a2), γ = R1/R0;   b2 = −(a0 + b1)
"""

from __future__ import annotations

from ...errors import VerifyError
from .._formats import Fixed
from ._fixed_tree import Step, StepKind, WdfProgram
from ._tree import (AsymmetricDiodePair, Capacitor, Diode, DiodePair, IdealSource, Inductor, Inverter, Open, Parallel,
                    ResistiveSource, Resistor, Series, Short, WdfTree, port_resistance)

__all__ = ["compile_tree", "table_halves"]

ZERO, INPUT = (0, 1), (1, 1)


def table_halves(root) -> int:
    """Halves of the root table ``root`` needs: 0 (none), 1 (odd symmetry) or 2."""
    if isinstance(root, DiodePair):
        return 1
    return 2 if isinstance(root, (Diode, AsymmetricDiodePair)) else 0


def _neg(ref):
    return ref[0], -ref[1]


def _scale(terms, sign):
    return tuple((r, s * sign) for r, s in terms)


class _Node:
    """An element of the tree with its up wave (a signed register reference)."""
    __slots__ = ("elem", "up", "R", "kids", "state")

    def __init__(self, elem, up, R, kids=(), state=None):
        self.elem, self.up, self.R, self.kids, self.state = elem, up, R, kids, state


class _Builder:
    def __init__(self, tree: WdfTree, coeff_frac: int):
        self.tree, self.cf = tree, coeff_frac
        self.regs, self.steps, self.states = 2, [], []
        probe = tree.probe
        self.probe = None if probe is None or probe == tree.root.name else probe

    def new(self) -> int:
        self.regs += 1
        return self.regs - 1

    def coeff(self, value: float) -> int:
        return int(round(value * (1 << self.cf)))

    def alu(self, dst, add=(), mul=(), coeff=0):
        self.steps.append(Step(StepKind.ALU, dst, tuple(add), tuple(mul), coeff))

    def out(self, *terms):
        self.steps.append(Step(StepKind.OUT, 0, tuple(terms)))

    # -- up: children first ---------------------------------------------------------------
    def up(self, e) -> _Node:
        R = port_resistance(e, self.tree.fs)
        if isinstance(e, Resistor):
            return _Node(e, ZERO, R)
        if isinstance(e, ResistiveSource):
            return _Node(e, INPUT, R)
        if isinstance(e, (Capacitor, Inductor)):
            s = self.new()
            self.states.append(s)
            return _Node(e, (s, 1 if isinstance(e, Capacitor) else -1), R, state=s)
        if isinstance(e, Inverter):
            child = self.up(e.child)
            return _Node(e, _neg(child.up), R, (child,))
        a, b = self.up(e.a), self.up(e.b)
        d = self.new()
        if isinstance(e, Series):
            self.alu(d, add=(_neg(a.up), _neg(b.up)))
        else:
            self.alu(d, add=(b.up,), mul=(a.up, _neg(b.up)), coeff=self.coeff(b.R / (a.R + b.R)))
        return _Node(e, (d, 1), R, (a, b))

    # -- down: parents first -----------------------------------------------------------------
    def target(self, n: _Node, needed: bool):
        """(register, sign) to write ``sign ·`` the incident wave of ``n`` into, or None."""
        probed = n.elem.name is not None and n.elem.name == self.probe
        if isinstance(n.elem, Inverter):
            t = self.target(n.kids[0], needed)
            return None if t is None else _neg(t)
        if n.state is not None and not probed:
            return n.state, 1
        if needed or probed or n.kids:
            return self.new(), 1
        return None

    def down(self, n: _Node, inc) -> None:
        """Steps below ``n``, whose incident wave ``inc`` is already in a register."""
        e = n.elem
        if e.name is not None and e.name == self.probe:
            self.out(n.up, inc)
            if n.state is not None:
                self.alu(n.state, add=(inc,))
        if isinstance(e, Inverter):
            self.down(n.kids[0], _neg(inc))
            return
        if not n.kids:
            return
        a, b = n.kids
        if isinstance(e, Parallel):
            incs = []
            for k in (a, b):
                t = self.target(k, False)
                if t is not None:
                    self.alu(t[0], add=_scale((inc, n.up, _neg(k.up)), t[1]))
                incs.append(None if t is None else (t[0], t[1]))
        else:
            gamma = self.coeff(a.R / (a.R + b.R))
            t1 = self.target(a, True)
            self.alu(t1[0], add=_scale((a.up,), t1[1]),
                     mul=_scale((inc, a.up, b.up), -t1[1]), coeff=gamma)
            t2 = self.target(b, False)
            if t2 is not None:
                self.alu(t2[0], add=_scale((_neg(inc), _neg(t1)), t2[1]))
            incs = [t1, t2]
        for k, t in zip((a, b), incs):
            if t is not None:
                self.down(k, t)

    # -- the root --------------------------------------------------------------------------
    def root(self, top: _Node, halves: int):
        r, x = self.tree.root, INPUT
        if isinstance(r, Short):
            return _neg(top.up)
        if isinstance(r, Open):
            return top.up
        d = self.new()
        if isinstance(r, IdealSource):
            self.alu(d, add=(x, x, _neg(top.up)))
        elif isinstance(r, (Resistor, ResistiveSource)):
            rho = (r.R - top.R) / (r.R + top.R)
            self.alu(d, mul=(top.up,), coeff=self.coeff(rho))
            if isinstance(r, ResistiveSource):
                self.alu(d, add=((d, 1),), mul=(x,), coeff=self.coeff(2 * top.R / (r.R + top.R)))
        elif halves:
            self.steps.append(Step(StepKind.ROOT, d, (top.up,)))
        else:  # pragma: no cover - WdfTree validation makes this unreachable
            raise VerifyError(f"compile_tree: no fixed-point form of a {type(r).__name__} root")
        return d, 1


def compile_tree(tree: WdfTree, *, input: Fixed, wave: Fixed, output: Fixed, coeff_frac: int,
                 table_grid: tuple[int, int, int] = (0, 1, 0),
                 table: tuple[int, ...] = ()) -> WdfProgram:
    """The :class:`WdfProgram` of ``tree`` with these formats, coefficient precision and root
    table (``table_grid`` = range_log2, octaves, segments_log2; unused without a table root).

    The output is the probed port's voltage ``(a + b)/2`` (the root's when
    ``tree.probe`` is None).
    """
    if not isinstance(tree, WdfTree):
        raise VerifyError(f"compile_tree: expected a WdfTree, not {type(tree).__name__}")
    b = _Builder(tree, coeff_frac)
    halves = table_halves(tree.root)
    top = b.up(tree.tree)
    root = b.root(top, halves)
    if b.probe is None:
        b.out(top.up, root)
    if top.kids and not isinstance(top.elem, Inverter):
        b.down(top, root)
    else:
        # A lone leaf or an inverter under the root: its incident wave goes to its register.
        t = b.target(top, False)
        if t is not None:
            b.alu(t[0], add=_scale((root,), t[1]))
            b.down(top, t)
    return WdfProgram(input=input, wave=wave, output=output, coeff_frac=coeff_frac,
                      registers=b.regs, states=tuple(b.states), steps=tuple(b.steps),
                      halves=halves, table_range_log2=table_grid[0] if halves else 0,
                      table_octaves=table_grid[1] if halves else 1,
                      segments_log2=table_grid[2] if halves else 0,
                      table=tuple(table) if halves else (), fs=tree.fs)
