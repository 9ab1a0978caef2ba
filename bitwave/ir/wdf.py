"""Wave digital filters: trees described as data, a float64 reference and fixed-point semantics.

A WDF is a tree of *adapted* elements (one-ports and 3-port adaptors) under
one *root* element that may reflect instantaneously (an ideal source, a short,
a diode pair).  Waves are voltage waves ``a = v + R·i``, ``b = v − R·i`` with
``R`` the port resistance and ``i`` the current into the element.  One sample
is one pass up the tree (each adapted port reflects without looking at its
incident wave), one root evaluation, and one pass down.

The tree is plain data (frozen dataclasses, validated on construction), so
the same description feeds the float64 reference (:func:`simulate`), the
fixed-point golden model (:func:`quantise_wdf`, :func:`run_fixed`), the
PyTorch layer and the hardware lowering.

Example: the diode clipper of ``REFERENCE.md``::

    tree = WdfTree(root=DiodePair(2.52e-9, 45.3e-3),
                   tree=Parallel(ResistiveSource(2.2e3), Capacitor(10e-9, name="C")),
                   fs=48_000.0, probe="C")
    y = simulate(tree, x)

Bilinear reactances make the WDF exactly the trapezoidal rule, so results
match a trapezoid + Newton ODE solver to rounding error.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Union

import numpy as np
from scipy.special import wrightomega

from ..errors import PassError, VerifyError

__all__ = [
    # tree description
    "Resistor", "Capacitor", "Inductor", "ResistiveSource",
    "Series", "Parallel", "Inverter",
    "IdealSource", "Short", "Open", "Diode", "DiodePair", "RootSolver",
    "WdfTree", "port_resistance", "simulate",
    # nonlinear roots as functions
    "diode_pair_reflect", "diode_reflect",
]


def _check_positive(owner: str, what: str, value, unit: str) -> float:
    if (isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer))
            or not math.isfinite(value) or value <= 0):
        raise VerifyError(f"{owner}: {what} must be a positive finite number ({unit}), "
                          f"not {value!r}")
    return float(value)


def _check_name(owner: str, name) -> None:
    if name is not None and (not isinstance(name, str) or not name):
        raise VerifyError(f"{owner}: name must be a non-empty string or None, not {name!r}")


# ---------------------------------------------------------------------------------------------
# Adapted one-ports (leaves)


@dataclass(frozen=True)
class Resistor:
    """Resistor of ``R`` ohms; adapted (port resistance ``R``), reflects ``b = 0``."""
    R: float
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        _check_positive("Resistor", "R", self.R, "ohms")
        _check_name("Resistor", self.name)


@dataclass(frozen=True)
class Capacitor:
    """Capacitor of ``C`` farads, bilinear: port resistance ``T/(2C)``, ``b[n] = a[n−1]``."""
    C: float
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        _check_positive("Capacitor", "C", self.C, "farads")
        _check_name("Capacitor", self.name)


@dataclass(frozen=True)
class Inductor:
    """Inductor of ``L`` henries, bilinear: port resistance ``2L/T``, ``b[n] = −a[n−1]``."""
    L: float
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        _check_positive("Inductor", "L", self.L, "henries")
        _check_name("Inductor", self.name)


@dataclass(frozen=True)
class ResistiveSource:
    """Voltage source (the input signal) in series with ``R`` ohms; reflects ``b = Vs``.

    Also valid as the root, where it reflects ``((R−Rp)·a + 2·Rp·Vs)/(R+Rp)``.
    """
    R: float
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        _check_positive("ResistiveSource", "R", self.R, "ohms")
        _check_name("ResistiveSource", self.name)


# ---------------------------------------------------------------------------------------------
# Adaptors (port 0 adapted, facing the root)


def _check_child(owner: str, role: str, child) -> None:
    if not isinstance(child, _ADAPTED):
        kind = type(child).__name__
        hint = (" (it can only be the root)" if isinstance(child, _ROOT_ONLY)
                else "")
        raise VerifyError(f"{owner}: {role} must be an adapted element "
                          f"(Resistor, Capacitor, Inductor, ResistiveSource, Series, Parallel, "
                          f"Inverter), not {kind}{hint}")


@dataclass(frozen=True)
class Series:
    """Series 3-port adaptor: ``R0 = R1 + R2``, ``b0 = −(a1 + a2)``.

    Port voltages obey ``v0 + v1 + v2 = 0``: a voltage probed inside nested
    series adaptors is sign-flipped relative to the circuit; add an
    :class:`Inverter` where that matters.
    """
    a: "Adapted"
    b: "Adapted"
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        _check_child("Series", "first child", self.a)
        _check_child("Series", "second child", self.b)
        _check_name("Series", self.name)


@dataclass(frozen=True)
class Parallel:
    """Parallel 3-port adaptor: ``G0 = G1 + G2``, ``b0 = (G1·a1 + G2·a2)/G0``, ``bk = a0 + b0 − ak``."""
    a: "Adapted"
    b: "Adapted"
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        _check_child("Parallel", "first child", self.a)
        _check_child("Parallel", "second child", self.b)
        _check_name("Parallel", self.name)


@dataclass(frozen=True)
class Inverter:
    """Polarity inverter (2-port): same port resistance, ``b0 = −a1``, ``b1 = −a0``."""
    child: "Adapted"
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        _check_child("Inverter", "child", self.child)
        _check_name("Inverter", self.name)


# ---------------------------------------------------------------------------------------------
# Roots


class RootSolver(enum.Enum):
    """How a diode root finds its reflected wave."""
    #: Newton's method on the implicit port equation, to machine precision.
    NEWTON = "newton"
    #: Closed form with the Wright omega function (exact for one diode; Werner et al. 2015
    #: eq. 39 for a pair, which neglects the cross term and is not exact).
    WRIGHT_OMEGA = "wright-omega"


@dataclass(frozen=True)
class IdealSource:
    """Ideal voltage source (the input signal) as the root: ``b = 2·Vs − a``."""
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        _check_name("IdealSource", self.name)


@dataclass(frozen=True)
class Short:
    """Short circuit as the root: ``b = −a`` (``v = 0``)."""
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        _check_name("Short", self.name)


@dataclass(frozen=True)
class Open:
    """Open circuit as the root: ``b = a`` (``i = 0``)."""
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        _check_name("Open", self.name)


def _check_solver(owner: str, solver) -> None:
    if not isinstance(solver, RootSolver):
        raise VerifyError(f"{owner}: solver must be a RootSolver (RootSolver.NEWTON or "
                          f"RootSolver.WRIGHT_OMEGA), not {solver!r}")


@dataclass(frozen=True)
class Diode:
    """Shockley diode ``i = Is·(exp(v/(n·Vt)) − 1)`` as the root (anode on the port's + side)."""
    Is: float
    Vt: float
    n: float = 1.0
    solver: RootSolver = RootSolver.NEWTON
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        _check_positive("Diode", "Is", self.Is, "amperes")
        _check_positive("Diode", "Vt", self.Vt, "volts")
        _check_positive("Diode", "n", self.n, "ideality factor")
        _check_solver("Diode", self.solver)
        _check_name("Diode", self.name)


@dataclass(frozen=True)
class DiodePair:
    """Antiparallel diode pair ``i = 2·Is·sinh(v/(n·Vt))`` as the root."""
    Is: float
    Vt: float
    n: float = 1.0
    solver: RootSolver = RootSolver.NEWTON
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        _check_positive("DiodePair", "Is", self.Is, "amperes")
        _check_positive("DiodePair", "Vt", self.Vt, "volts")
        _check_positive("DiodePair", "n", self.n, "ideality factor")
        _check_solver("DiodePair", self.solver)
        _check_name("DiodePair", self.name)


_LEAVES = (Resistor, Capacitor, Inductor, ResistiveSource)
_ADAPTED = _LEAVES + (Series, Parallel, Inverter)
_ROOT_ONLY = (IdealSource, Short, Open, Diode, DiodePair)
_ROOTS = _ROOT_ONLY + (Resistor, ResistiveSource)
_SOURCES = (ResistiveSource, IdealSource)

Adapted = Union[Resistor, Capacitor, Inductor, ResistiveSource, Series, Parallel, Inverter]
Root = Union[IdealSource, Short, Open, Diode, DiodePair, Resistor, ResistiveSource]


def _walk(node):
    """Every element below and including ``node``, parents before children."""
    yield node
    if isinstance(node, (Series, Parallel)):
        yield from _walk(node.a)
        yield from _walk(node.b)
    elif isinstance(node, Inverter):
        yield from _walk(node.child)


def port_resistance(node: Adapted, fs: float) -> float:
    """The resistance (ohms) that the adapted element ``node`` presents at its parent port."""
    T = 1.0 / fs
    if isinstance(node, (Resistor, ResistiveSource)):
        return node.R
    if isinstance(node, Capacitor):
        return T / (2.0 * node.C)
    if isinstance(node, Inductor):
        return 2.0 * node.L / T
    if isinstance(node, Series):
        return port_resistance(node.a, fs) + port_resistance(node.b, fs)
    if isinstance(node, Parallel):
        return 1.0 / (1.0 / port_resistance(node.a, fs) + 1.0 / port_resistance(node.b, fs))
    if isinstance(node, Inverter):
        return port_resistance(node.child, fs)
    raise VerifyError(f"port_resistance: {type(node).__name__} is not an adapted element")


@dataclass(frozen=True)
class WdfTree:
    """A whole WDF: ``root`` element, the adapted ``tree`` under it, sample rate ``fs`` (Hz).

    ``probe`` names the element whose port voltage ``(a + b)/2`` :func:`simulate`
    returns (``None``: the root).  The input signal drives the one source in the
    tree (:class:`ResistiveSource` or :class:`IdealSource`).
    """
    root: Root
    tree: Adapted
    fs: float
    probe: str | None = None

    def __post_init__(self):
        if not isinstance(self.root, _ROOTS):
            hint = (": reactive elements must sit under an adaptor; use an Open or Short root"
                    if isinstance(self.root, (Capacitor, Inductor)) else "")
            raise VerifyError(f"WdfTree: root must be one of IdealSource, Short, Open, Diode, "
                              f"DiodePair, Resistor, ResistiveSource, not "
                              f"{type(self.root).__name__}{hint}")
        _check_child("WdfTree", "tree", self.tree)
        _check_positive("WdfTree", "fs", self.fs, "Hz")
        elements = [self.root, *_walk(self.tree)]
        names = [e.name for e in elements if e.name is not None]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise VerifyError(f"WdfTree: element names must be unique; {dup} used more than once")
        sources = [e for e in elements if isinstance(e, _SOURCES)]
        if len(sources) != 1:
            raise VerifyError(f"WdfTree: needs exactly one source (ResistiveSource or "
                              f"IdealSource) for the input signal, found {len(sources)}")
        if self.probe is not None and self.probe not in names:
            raise VerifyError(f"WdfTree: probe {self.probe!r} names no element; "
                              f"known names: {sorted(names)}")

    def element(self, name: str | None):
        """The element called ``name`` (``None``: the root)."""
        if name is None:
            return self.root
        for e in [self.root, *_walk(self.tree)]:
            if e.name == name:
                return e
        raise VerifyError(f"WdfTree: no element named {name!r}")

    def with_fs(self, fs: float) -> "WdfTree":
        """The same circuit discretised at another sample rate (for oversampling)."""
        return WdfTree(self.root, self.tree, fs, self.probe)


# ---------------------------------------------------------------------------------------------
# Nonlinear roots


def _wright_pair(a, Rp: float, Is: float, Vt: float):
    lam = np.sign(a)
    base = math.log(Rp * Is / Vt)
    return a - 2.0 * Vt * lam * (wrightomega(base + lam * a / Vt).real
                                 - wrightomega(base - lam * a / Vt).real)


def _wright_diode(a, Rp: float, Is: float, Vt: float):
    return a + 2.0 * Rp * Is - 2.0 * Vt * wrightomega(
        math.log(Rp * Is / Vt) + (a + Rp * Is) / Vt).real


def _newton(f_df, a: float, guess: float) -> float:
    """Root of the increasing function ``f`` in ``[min(0, a), max(0, a)]``, to machine precision.

    Newton from ``guess``, falling back to bisection whenever a step leaves the
    bracket, so it converges for any ``a`` the exponentials can represent.
    """
    lo, hi = min(0.0, a), max(0.0, a)
    v = min(max(guess, lo), hi)
    for _ in range(200):
        f, df = f_df(v)
        if f > 0.0:
            hi = v
        elif f < 0.0:
            lo = v
        else:
            return v
        step = f / df
        nv = v - step
        if not (lo <= nv <= hi):
            nv = 0.5 * (lo + hi)
        if abs(nv - v) <= 2e-16 * max(abs(nv), 1e-300) or hi - lo <= 2e-16 * abs(hi):
            return nv
        v = nv
    return v


def diode_pair_reflect(a, Rp: float, Is: float, Vt: float, *,
                       solver: RootSolver = RootSolver.NEWTON):
    """Reflected wave ``b`` of a diode pair (``Vt`` including ideality) at port resistance ``Rp``.

    Exact: ``a = v + 2·Rp·Is·sinh(v/Vt)`` solved for ``v``, ``b = 2v − a``.
    Wright omega: the closed form of Werner et al. 2015 (eq. 39).
    Scalar or array ``a``.
    """
    if solver is RootSolver.WRIGHT_OMEGA:
        return _wright_pair(np.asarray(a, dtype=np.float64), Rp, Is, Vt)[()]
    k = 2.0 * Rp * Is

    def one(ai: float) -> float:
        def f_df(v):
            u = v / Vt
            return v + k * math.sinh(u) - ai, 1.0 + (k / Vt) * math.cosh(u)
        guess = float(_wright_pair(np.float64(ai), Rp, Is, Vt) + ai) / 2.0
        return 2.0 * _newton(f_df, ai, guess) - ai

    arr = np.asarray(a, dtype=np.float64)
    return np.vectorize(one, otypes=[np.float64])(arr)[()] if arr.ndim else one(float(arr))


def diode_reflect(a, Rp: float, Is: float, Vt: float, *,
                  solver: RootSolver = RootSolver.NEWTON):
    """Reflected wave ``b`` of one diode: ``a = v + Rp·Is·(exp(v/Vt) − 1)``, ``b = 2v − a``."""
    if solver is RootSolver.WRIGHT_OMEGA:
        return _wright_diode(np.asarray(a, dtype=np.float64), Rp, Is, Vt)[()]
    k = Rp * Is

    def one(ai: float) -> float:
        def f_df(v):
            e = math.exp(v / Vt)
            return v + k * (e - 1.0) - ai, 1.0 + (k / Vt) * e
        guess = float(_wright_diode(np.float64(ai), Rp, Is, Vt) + ai) / 2.0
        return 2.0 * _newton(f_df, ai, guess) - ai

    arr = np.asarray(a, dtype=np.float64)
    return np.vectorize(one, otypes=[np.float64])(arr)[()] if arr.ndim else one(float(arr))


# ---------------------------------------------------------------------------------------------
# Float64 reference simulation


class _Port:
    """Runtime state of one adapted element during :func:`simulate`."""
    __slots__ = ("R", "a", "b", "up", "down")


def _compile(node, fs: float, src: list, ports: dict) -> _Port:
    """Build closures ``up() -> b`` and ``down(a)`` for ``node``; record named ports."""
    p = _Port()
    p.R = port_resistance(node, fs)
    p.a = p.b = 0.0
    if isinstance(node, Resistor):
        def up():
            p.b = 0.0
            return 0.0

        def down(a):
            p.a = a
    elif isinstance(node, ResistiveSource):
        def up():
            p.b = src[0]
            return p.b

        def down(a):
            p.a = a
    elif isinstance(node, (Capacitor, Inductor)):
        sign = 1.0 if isinstance(node, Capacitor) else -1.0

        def up():
            p.b = sign * p.a
            return p.b

        def down(a):
            p.a = a
    elif isinstance(node, Parallel):
        c1, c2 = _compile(node.a, fs, src, ports), _compile(node.b, fs, src, ports)
        g1 = (1.0 / c1.R) / (1.0 / c1.R + 1.0 / c2.R)
        g2 = 1.0 - g1

        def up():
            p.b = g1 * c1.up() + g2 * c2.up()
            return p.b

        def down(a):
            p.a = a
            c1.down(a + p.b - c1.b)
            c2.down(a + p.b - c2.b)
    elif isinstance(node, Series):
        c1, c2 = _compile(node.a, fs, src, ports), _compile(node.b, fs, src, ports)
        r1 = c1.R / (c1.R + c2.R)

        def up():
            p.b = -(c1.up() + c2.up())
            return p.b

        def down(a):
            p.a = a
            b1 = c1.b - r1 * (a + c1.b + c2.b)
            c1.down(b1)
            c2.down(-(a + b1))
    elif isinstance(node, Inverter):
        c = _compile(node.child, fs, src, ports)

        def up():
            p.b = -c.up()
            return p.b

        def down(a):
            p.a = a
            c.down(-a)
    else:  # pragma: no cover - WdfTree validation makes this unreachable
        raise VerifyError(f"simulate: {type(node).__name__} is not an adapted element")
    p.up, p.down = up, down
    if node.name is not None:
        ports[node.name] = p
    return p


def _root_reflect(root, Rp: float):
    """``reflect(a, vs) -> b`` for the root element at port resistance ``Rp``."""
    if isinstance(root, IdealSource):
        return lambda a, vs: 2.0 * vs - a
    if isinstance(root, Short):
        return lambda a, vs: -a
    if isinstance(root, Open):
        return lambda a, vs: a
    if isinstance(root, Resistor):
        rho = (root.R - Rp) / (root.R + Rp)
        return lambda a, vs: rho * a
    if isinstance(root, ResistiveSource):
        rho, g = (root.R - Rp) / (root.R + Rp), 2.0 * Rp / (root.R + Rp)
        return lambda a, vs: rho * a + g * vs
    if isinstance(root, DiodePair):
        Is, Vt, solver = root.Is, root.n * root.Vt, root.solver
        return lambda a, vs: diode_pair_reflect(a, Rp, Is, Vt, solver=solver)
    if isinstance(root, Diode):
        Is, Vt, solver = root.Is, root.n * root.Vt, root.solver
        return lambda a, vs: diode_reflect(a, Rp, Is, Vt, solver=solver)
    raise VerifyError(f"simulate: {type(root).__name__} cannot be the root")  # pragma: no cover


def simulate(tree: WdfTree, x: np.ndarray) -> np.ndarray:
    """Run the WDF from rest on input voltages ``x`` (1-D); return the probed port voltage.

    float64 throughout; the probe is ``(a + b)/2`` at the port of ``tree.probe``.
    """
    if not isinstance(tree, WdfTree):
        raise VerifyError(f"simulate: expected a WdfTree, not {type(tree).__name__}")
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise VerifyError(f"simulate: input must be 1-D (one sample per step), not shape {x.shape}")
    src = [0.0]
    ports: dict[str, _Port] = {}
    top = _compile(tree.tree, tree.fs, src, ports)
    reflect = _root_reflect(tree.root, top.R)
    probe_root = tree.probe is None or tree.probe == tree.root.name
    probe = None if probe_root else ports[tree.probe]
    y = np.empty_like(x)
    up, down = top.up, top.down
    for n, xn in enumerate(x.tolist()):
        src[0] = xn
        a = up()
        b = reflect(a, xn)
        down(b)
        y[n] = 0.5 * (a + b) if probe is None else 0.5 * (probe.a + probe.b)
    return y
