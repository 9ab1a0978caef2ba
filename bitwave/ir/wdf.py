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

import dataclasses
import enum
import math
from dataclasses import dataclass, field
from typing import Union

import numpy as np

from ..errors import PassError, VerifyError
from ._formats import Fixed, Overflow, Rounding

__all__ = [
    # tree description
    "Resistor", "Capacitor", "Inductor", "ResistiveSource",
    "Series", "Parallel", "Inverter",
    "IdealSource", "Short", "Open", "Diode", "DiodePair", "RootSolver",
    "WdfTree", "port_resistance", "simulate",
    # nonlinear roots as functions
    "diode_pair_reflect", "diode_reflect",
    # fixed point
    "Probe", "WdfFixed", "run_fixed", "quantise_wdf", "fixed_snr_db", "pwl_max_error",
    "pwl_breakpoints", "with_table_grid",
    "multitone", "DEFAULT_WORD_LENGTH",
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


def wrightomega(z):
    """scipy's Wright omega, imported on first use (scipy.special takes ~0.4 s to import)."""
    from scipy.special import wrightomega as omega
    return omega(z)


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


# ---------------------------------------------------------------------------------------------
# Fixed point: clipper-class trees (a resistive source and one reactance under one 3-port
# adaptor, with a diode-pair root) as exact integer arithmetic.
#
# Number formats are the IR's ``Fixed`` (``int_bits`` counts the sign bit, so REFERENCE.md's
# "Q3.16 (20 b)" is ``Fixed(4, 16)``).  Values are integer codes: a real value is
# ``code · 2**-frac_bits``.


def _shift_round(v: int, shift: int, rounding: Rounding) -> int:
    """``v · 2**-shift`` as an integer: round half up (``floor(x + 1/2)``) or floor."""
    if shift <= 0:
        return v << -shift
    if rounding is Rounding.NEAREST:
        return (v + (1 << (shift - 1))) >> shift
    return v >> shift


def _fit(v: int, fmt: Fixed) -> int:
    """Bring the code ``v`` into ``fmt``'s range by saturation or two's-complement wrap."""
    lo, hi = fmt.min, fmt.max
    if lo <= v <= hi:
        return v
    if fmt.overflow is Overflow.SATURATE:
        return lo if v < lo else hi
    return ((v - lo) & ((1 << fmt.width) - 1)) + lo


def _requant(v: int, frac: int, fmt: Fixed) -> int:
    """A code with ``frac`` fraction bits, re-expressed in ``fmt`` (its rounding and overflow)."""
    return _fit(_shift_round(v, frac - fmt.frac_bits, fmt.rounding), fmt)


def _check_fixed(owner: str, what: str, fmt) -> None:
    if not isinstance(fmt, Fixed) or not fmt.signed:
        raise VerifyError(f"{owner}: {what} must be a signed Fixed format, not {fmt!r}")
    if fmt.width > 62:
        raise VerifyError(f"{owner}: {what} is {fmt.width} bits wide; at most 62 fit the "
                          f"int64 arrays of run_fixed")


def _check_int(owner: str, what: str, value, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise VerifyError(f"{owner}: {what} must be an integer in [{lo}, {hi}], not {value!r}")
    return int(value)


class Probe(enum.IntEnum):
    """Which port of the clipper-class adaptor :func:`run_fixed` outputs (its ``(a + b)/2``)."""
    ROOT = 0
    SOURCE = 1
    REACTIVE = 2


@dataclass(frozen=True)
class WdfFixed:
    """Bit-exact fixed-point form of a clipper-class WDF, the golden model's whole input.

    Structure: a 3-port adaptor (``series`` or parallel) whose port 1 is the
    resistive source (it reflects the input sample) and port 2 a capacitor
    (``inductor=False``, reflects the stored wave) or an inductor (reflects its
    negation), with a diode-pair root on port 0.

    ``coeff`` is the adaptor coefficient ``γ = G1/G0`` (parallel) or
    ``R1/R0`` (series) in units of ``2**-coeff_frac``.

    The root is a piecewise-linear table of ``b(|a|)`` (odd symmetry gives
    negative ``a``) on ``[0, A)``, ``A = 2**table_range_log2`` volts, split into
    ``table_octaves`` zones: zone 0 is ``[0, A/2**(K−1))`` and zone ``z ≥ 1`` the
    octave ``[A/2**(K−z), A/2**(K−z−1))``, each cut into ``2**segments_log2``
    equal segments.  The diode's curvature lives near its knee and decays as
    ``1/a²`` above it, so octaves give the accuracy of a uniform table with a
    third of the entries; ``table_octaves = 1`` is a uniform table.
    ``table[k]`` is ``b`` at breakpoint ``k`` (:func:`pwl_breakpoints`) in
    ``wave`` codes, ``K·2**segments_log2 + 1`` entries.  Beyond ``A``, ``b``
    continues with slope −1, so the diode voltage stays at its value at ``A``.

    ``probe`` selects the port whose voltage is output.  ``fs`` is
    informational (the sample rate the coefficients were made for).
    """
    series: bool
    inductor: bool
    probe: Probe
    input: Fixed
    wave: Fixed
    output: Fixed
    coeff: int
    coeff_frac: int
    table_range_log2: int
    table_octaves: int
    segments_log2: int
    table: tuple[int, ...]
    fs: float

    def __post_init__(self):
        owner = "WdfFixed"
        for what in ("series", "inductor"):
            if not isinstance(getattr(self, what), bool):
                raise VerifyError(f"{owner}: {what} must be a bool, not {getattr(self, what)!r}")
        if not isinstance(self.probe, Probe):
            raise VerifyError(f"{owner}: probe must be a Probe (ROOT, SOURCE, REACTIVE), "
                              f"not {self.probe!r}")
        for what in ("input", "wave", "output"):
            _check_fixed(owner, what, getattr(self, what))
        _check_int(owner, "coeff_frac", self.coeff_frac, 1, 62)
        _check_int(owner, "coeff", self.coeff, 0, 1 << self.coeff_frac)
        _check_int(owner, "table_range_log2", self.table_range_log2, -self.wave.frac_bits,
                   self.wave.int_bits - 1)
        span = self.table_range_log2 + self.wave.frac_bits
        _check_int(owner, "table_octaves", self.table_octaves, 1, span + 1)
        _check_int(owner, "segments_log2", self.segments_log2, 0, span - self.table_octaves + 1)
        entries = self.table_octaves * (1 << self.segments_log2) + 1
        if not isinstance(self.table, tuple) or len(self.table) != entries:
            raise VerifyError(f"{owner}: table must be a tuple of table_octaves·2**segments_log2 "
                              f"+ 1 = {entries} integer codes")
        for k, t in enumerate(self.table):
            _check_int(owner, f"table[{k}]", t, self.wave.min, self.wave.max)
        _check_positive(owner, "fs", self.fs, "Hz")


def pwl_breakpoints(range_log2: int, octaves: int, segments_log2: int) -> np.ndarray:
    """``|a|`` (volts) of the PWL root's breakpoints, ascending, ``octaves·2**segments_log2 + 1``."""
    M = 1 << segments_log2
    zone = 2.0 ** (range_log2 - octaves + 1)
    parts = [np.arange(M) * (zone / M)]
    for z in range(1, octaves):
        width = zone * 2.0 ** (z - 1)
        parts.append(width + np.arange(M) * (width / M))
    parts.append(np.array([2.0 ** range_log2]))
    return np.concatenate(parts)


def _pwl_locate(mag: int, span: int, octaves: int, segments_log2: int) -> tuple[int, int, int]:
    """(segment ``k``, offset ``f`` into it, log2 of its width) of ``0 ≤ mag < 2**span`` codes."""
    low = span - octaves + 1
    z = (mag >> low).bit_length()
    sh = low - segments_log2 + max(z - 1, 0)
    off = mag - ((1 << (low + z - 1)) if z else 0)
    return (z << segments_log2) + (off >> sh), off & ((1 << sh) - 1), sh


def _pwl_root(spec: WdfFixed, a: int) -> int:
    mag = -a if a < 0 else a
    span = spec.table_range_log2 + spec.wave.frac_bits
    t = spec.table
    if mag < (1 << span):
        k, f, sh = _pwl_locate(mag, span, spec.table_octaves, spec.segments_log2)
        y = t[k] + _shift_round((t[k + 1] - t[k]) * f, sh, spec.wave.rounding)
    else:
        y = t[-1] - (mag - (1 << span))
    return _fit(-y if a < 0 else y, spec.wave)


def run_fixed(spec: WdfFixed, x_int: np.ndarray) -> np.ndarray:
    """The bit-exact golden model: input codes (``spec.input``) to output codes (``spec.output``).

    Exact integer arithmetic; every product is rounded (``spec.wave.rounding``)
    and every stored or reflected wave brought into ``spec.wave`` by its overflow
    mode, in the order the hardware does it.  Starts from rest (state 0).
    """
    if not isinstance(spec, WdfFixed):
        raise VerifyError(f"run_fixed: spec must be a WdfFixed, not {type(spec).__name__}")
    x = np.asarray(x_int)
    if x.ndim != 1 or not np.issubdtype(x.dtype, np.integer):
        raise VerifyError(f"run_fixed: input must be a 1-D integer array, not {x.dtype} "
                          f"of shape {x.shape}")
    if x.size and (x.min() < spec.input.min or x.max() > spec.input.max):
        raise VerifyError(f"run_fixed: input codes must lie in [{spec.input.min}, "
                          f"{spec.input.max}] ({spec.input}); saturate or rescale first")
    wave, out, F = spec.wave, spec.output, spec.wave.frac_bits
    g, gf, rnd = spec.coeff, spec.coeff_frac, spec.wave.rounding
    probe, series, inductor = spec.probe, spec.series, spec.inductor
    y = np.empty(x.shape, dtype=np.int64)
    s = 0
    for n, xn in enumerate(x.tolist()):
        a1 = _requant(xn, spec.input.frac_bits, wave)
        a2 = _fit(-s, wave) if inductor else s
        if series:
            b0 = _fit(-(a1 + a2), wave)
            br = _pwl_root(spec, b0)
            b1 = _fit(a1 - _shift_round(g * (br + a1 + a2), gf, rnd), wave)
            b2 = _fit(-(br + b1), wave)
        else:
            b0 = _fit(a2 + _shift_round(g * (a1 - a2), gf, rnd), wave)
            br = _pwl_root(spec, b0)
            b2 = _fit(br + b0 - a2, wave)
            b1 = _fit(br + b0 - a1, wave)
        s = b2
        if probe is Probe.ROOT:
            pv = b0 + br
        elif probe is Probe.SOURCE:
            pv = a1 + b1
        else:
            pv = a2 + b2
        y[n] = _requant(pv, F + 1, out)
    return y


def _clipper_parts(tree: WdfTree, owner: str):
    """(adaptor, source, reactive, probe port) of a clipper-class tree, or PassError."""
    t = tree.tree
    shape_ok = (isinstance(tree.root, DiodePair) and isinstance(t, (Series, Parallel))
                and {type(t.a), type(t.b)} in ({ResistiveSource, Capacitor},
                                                {ResistiveSource, Inductor}))
    if not shape_ok:
        raise PassError(f"{owner}: only clipper-class trees have a fixed-point form: a DiodePair "
                        f"root over Series or Parallel(ResistiveSource, Capacitor or Inductor); "
                        f"got {type(tree.root).__name__} over {type(t).__name__}")
    src, rea = (t.a, t.b) if isinstance(t.a, ResistiveSource) else (t.b, t.a)
    if tree.probe is None or tree.probe == tree.root.name:
        probe = Probe.ROOT
    elif tree.probe == src.name:
        probe = Probe.SOURCE
    elif tree.probe == rea.name:
        probe = Probe.REACTIVE
    else:
        raise PassError(f"{owner}: probe {tree.probe!r} names the adaptor; probe the root, the "
                        f"source or the reactance (for this adaptor they are the same port)")
    return t, src, rea, probe


def _pwl_table(root: DiodePair, Rp: float, wave: Fixed, grid: tuple[int, int, int]):
    a = pwl_breakpoints(*grid)
    b = diode_pair_reflect(a, Rp, root.Is, root.n * root.Vt)
    codes = np.clip(np.floor(b * 2.0 ** wave.frac_bits + 0.5), wave.min, wave.max)
    return tuple(int(c) for c in codes)


def pwl_max_error(root: DiodePair, Rp: float, range_log2: int, octaves: int,
                  segments_log2: int) -> float:
    """Largest error (volts) in ``b`` of the unquantised PWL root, at port resistance ``Rp``.

    Measured at each segment's midpoint, where a convex or concave curve's
    chord is farthest from it.
    """
    a = pwl_breakpoints(range_log2, octaves, segments_log2)
    Is, Vt = root.Is, root.n * root.Vt
    b = diode_pair_reflect(a, Rp, Is, Vt)
    exact = diode_pair_reflect(0.5 * (a[:-1] + a[1:]), Rp, Is, Vt)
    return float(np.max(np.abs(0.5 * (b[:-1] + b[1:]) - exact)))


def multitone(fs: float, n: int, *, peak: float = 1.0,
              freqs: tuple[float, ...] = (110.0, 440.0, 1230.0, 3150.0, 7070.0)) -> np.ndarray:
    """``n`` samples of equal-amplitude sines at ``freqs`` (Hz), scaled to ``peak`` volts.

    Fixed phases (a Schroeder-like quadratic law) keep the crest factor low and
    the signal reproducible.
    """
    t = np.arange(n) / fs
    k = np.arange(len(freqs))
    phases = np.pi * k * k / len(freqs)
    x = np.sum(np.sin(2 * np.pi * np.outer(freqs, t) + phases[:, None]), axis=0)
    return peak * x / np.max(np.abs(x))


def fixed_snr_db(spec: WdfFixed, tree: WdfTree, x: np.ndarray) -> float:
    """SNR (dB) of :func:`run_fixed` against the float64 :func:`simulate` on volts ``x``.

    Both see the same input: ``x`` quantised to ``spec.input``; the float model
    gets the dequantised values, so the figure counts only the filter's own
    fixed-point error (wave rounding, coefficient and PWL root).
    """
    inp = spec.input
    codes = np.clip(np.floor(np.asarray(x, dtype=np.float64) * 2.0 ** inp.frac_bits + 0.5),
                    inp.min, inp.max).astype(np.int64)
    ref = simulate(tree, codes * 2.0 ** -inp.frac_bits)
    got = run_fixed(spec, codes) * 2.0 ** -spec.output.frac_bits
    noise = np.sum((got - ref) ** 2)
    return float("inf") if noise == 0 else float(10 * np.log10(np.sum(ref ** 2) / noise))


def _spec_for(tree: WdfTree, word_length: int, int_bits: int, guard_bits: int,
              rounding: Rounding, overflow: Overflow, owner: str) -> WdfFixed:
    t, src, rea, probe = _clipper_parts(tree, owner)
    frac = word_length - int_bits
    if frac < 1:
        raise PassError(f"{owner}: word_length {word_length} leaves no fraction bits with "
                        f"int_bits={int_bits}; use at least {int_bits + 1}")
    io = Fixed(int_bits, frac, rounding=rounding, overflow=overflow)
    wave = Fixed(int_bits, frac + guard_bits, rounding=rounding, overflow=overflow)
    Rs, Rr = port_resistance(src, tree.fs), port_resistance(rea, tree.fs)
    series = isinstance(t, Series)
    gamma = Rs / (Rs + Rr) if series else Rr / (Rs + Rr)
    Rp = Rs + Rr if series else Rs * Rr / (Rs + Rr)
    coeff_frac = wave.width
    range_log2 = int_bits - 1
    # Zone 0 ends near the diode knee (≈ 10·n·Vt): below it b(a) is almost straight, above
    # it the curvature decays by octaves.  Segments per zone: the fewest whose PWL error
    # stays under a quarter of an output LSB, at most 2**9 per zone.
    Vt = tree.root.n * tree.root.Vt
    knee_log2 = min(range_log2, max(range_log2 - 10, round(math.log2(10 * Vt)),
                                    -wave.frac_bits))
    octaves = range_log2 - knee_log2 + 1
    # Segments narrower than one wave code are meaningless (and refused by WdfFixed).
    seg_log2 = min(3, range_log2 + wave.frac_bits - octaves + 1)
    while (seg_log2 < 9 and seg_log2 < range_log2 + wave.frac_bits - octaves + 1
           and pwl_max_error(tree.root, Rp, range_log2, octaves, seg_log2) > io.lsb / 4):
        seg_log2 += 1
    table = _pwl_table(tree.root, Rp, wave, (range_log2, octaves, seg_log2))
    return WdfFixed(series=series, inductor=isinstance(rea, Inductor), probe=probe,
                    input=io, wave=wave, output=io,
                    coeff=int(round(gamma * (1 << coeff_frac))), coeff_frac=coeff_frac,
                    table_range_log2=range_log2, table_octaves=octaves, segments_log2=seg_log2,
                    table=table, fs=tree.fs)


def with_table_grid(spec: WdfFixed, tree: WdfTree, octaves: int, segments_log2: int) -> WdfFixed:
    """``spec`` (made by :func:`quantise_wdf` for ``tree``) with its root table on another grid.

    For filters that must share one table layout (the channels of one IR op):
    a finer grid than the one chosen for ``tree`` only makes the table more accurate.
    """
    t, src, rea, _ = _clipper_parts(tree, "with_table_grid")
    Rs, Rr = port_resistance(src, tree.fs), port_resistance(rea, tree.fs)
    Rp = Rs + Rr if isinstance(t, Series) else Rs * Rr / (Rs + Rr)
    table = _pwl_table(tree.root, Rp, spec.wave, (spec.table_range_log2, octaves, segments_log2))
    return dataclasses.replace(spec, table_octaves=octaves, segments_log2=segments_log2,
                               table=table)


#: Word length :func:`quantise_wdf` uses when given no target (Q3.16, ≥ 90 dB on the clipper).
DEFAULT_WORD_LENGTH = 20


def quantise_wdf(tree: WdfTree, *, target_snr_db: float | None = None,
                 word_length: int | None = None, int_bits: int = 4, guard_bits: int = 4,
                 rounding: Rounding = Rounding.NEAREST, overflow: Overflow = Overflow.SATURATE,
                 test_signal: np.ndarray | None = None) -> WdfFixed:
    """Fixed-point form of a clipper-class ``tree``.

    ``word_length`` is the width of the input and output samples (``int_bits``
    of them integer bits, sign included: 20 with ``int_bits=4`` is Q3.16);
    waves inside carry ``guard_bits`` more fraction bits, so the filter's own
    rounding stays below the output's.  ``target_snr_db`` instead picks the
    shortest word length (12–32 bits) whose measured SNR against float64
    (:func:`fixed_snr_db` on ``test_signal``, default 0.1 s of a 1 V-peak
    :func:`multitone`) reaches the target.  Neither:
    :data:`DEFAULT_WORD_LENGTH`.  The adaptor coefficient gets as many
    fraction bits as the waves are wide; the PWL root gets octave zones from
    the diode's knee up and the fewest segments per zone (2**3 to 2**9) whose
    error is below a quarter of an output LSB.
    """
    owner = "quantise_wdf"
    if not isinstance(tree, WdfTree):
        raise PassError(f"{owner}: expected a WdfTree, not {type(tree).__name__}")
    if target_snr_db is not None and word_length is not None:
        raise PassError(f"{owner}: give target_snr_db or word_length, not both")
    if isinstance(int_bits, bool) or not isinstance(int_bits, int) or not 2 <= int_bits <= 16:
        raise PassError(f"{owner}: int_bits must be an integer in [2, 16], not {int_bits!r}")
    if isinstance(guard_bits, bool) or not isinstance(guard_bits, int) or not 0 <= guard_bits <= 16:
        raise PassError(f"{owner}: guard_bits must be an integer in [0, 16], not {guard_bits!r}")
    if word_length is not None:
        if isinstance(word_length, bool) or not isinstance(word_length, int) or not 4 <= word_length <= 40:
            raise PassError(f"{owner}: word_length must be an integer in [4, 40], "
                            f"not {word_length!r}")
        return _spec_for(tree, word_length, int_bits, guard_bits, rounding, overflow, owner)
    if target_snr_db is None:
        return _spec_for(tree, DEFAULT_WORD_LENGTH, int_bits, guard_bits, rounding, overflow, owner)
    if not isinstance(target_snr_db, (int, float)) or not 0 < target_snr_db < 200:
        raise PassError(f"{owner}: target_snr_db must be a number in (0, 200), "
                        f"not {target_snr_db!r}")
    x = multitone(tree.fs, int(tree.fs / 10)) if test_signal is None else test_signal
    best = None
    for wl in range(max(12, int_bits + 1), 33):
        spec = _spec_for(tree, wl, int_bits, guard_bits, rounding, overflow, owner)
        snr = fixed_snr_db(spec, tree, x)
        best = (wl, snr)
        if snr >= target_snr_db:
            return spec
    raise PassError(f"{owner}: no word length up to 32 bits reaches {target_snr_db} dB "
                    f"(32 bits: {best[1]:.1f} dB, limited by the PWL root table of at most "
                    f"2**9 segments per zone); lower the target")
