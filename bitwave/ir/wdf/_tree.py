"""Wave digital filters as data: the circuit tree (frozen dataclasses, validated on construction).

A WDF is a tree of *adapted* elements (one-ports and 3-port adaptors) under
one *root* element that may reflect instantaneously (an ideal source, a short,
a diode pair).  Waves are voltage waves ``a = v + R·i``, ``b = v − R·i`` with
``R`` the port resistance and ``i`` the current into the element.  One sample
is one pass up the tree (each adapted port reflects without looking at its
incident wave), one root evaluation, and one pass down.

The same description feeds the float64 reference (:mod:`._float`), the
fixed-point golden model (:mod:`._fixed`), the PyTorch layer and the hardware
lowering.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field, fields
from typing import ClassVar, Union

import numpy as np

from ...errors import VerifyError

__all__ = [
    "Resistor", "Capacitor", "Inductor", "ResistiveSource",
    "Series", "Parallel", "Inverter",
    "IdealSource", "Short", "Open", "Diode", "DiodePair", "AsymmetricDiodePair", "RootSolver",
    "WdfTree", "port_resistance",
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
class _OnePort:
    """An adapted leaf given by one positive value, in ``unit`` (a class keyword)."""
    name: str | None = field(default=None, kw_only=True)
    _unit: ClassVar[str]

    def __init_subclass__(cls, *, unit: str, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._unit = unit

    def __post_init__(self):
        # The value is the subclass's one field, after the inherited ``name``.
        owner, what = type(self).__name__, fields(self)[-1].name
        _check_positive(owner, what, getattr(self, what), self._unit)
        _check_name(owner, self.name)


@dataclass(frozen=True)
class Resistor(_OnePort, unit="ohms"):
    """Resistor of ``R`` ohms; adapted (port resistance ``R``), reflects ``b = 0``."""
    R: float


@dataclass(frozen=True)
class Capacitor(_OnePort, unit="farads"):
    """Capacitor of ``C`` farads, bilinear: port resistance ``T/(2C)``, ``b[n] = a[n−1]``."""
    C: float


@dataclass(frozen=True)
class Inductor(_OnePort, unit="henries"):
    """Inductor of ``L`` henries, bilinear: port resistance ``2L/T``, ``b[n] = −a[n−1]``."""
    L: float


@dataclass(frozen=True)
class ResistiveSource(_OnePort, unit="ohms"):
    """Voltage source (the input signal) in series with ``R`` ohms; reflects ``b = Vs``.

    Also valid as the root, where it reflects ``((R−Rp)·a + 2·Rp·Vs)/(R+Rp)``.
    """
    R: float


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
class _Adaptor:
    """A 3-port adaptor over two adapted children ``a`` (port 1) and ``b`` (port 2)."""
    a: "Adapted"
    b: "Adapted"
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        owner = type(self).__name__
        _check_child(owner, "first child", self.a)
        _check_child(owner, "second child", self.b)
        _check_name(owner, self.name)


@dataclass(frozen=True)
class Series(_Adaptor):
    """Series 3-port adaptor: ``R0 = R1 + R2``, ``b0 = −(a1 + a2)``.

    Port voltages obey ``v0 + v1 + v2 = 0``: a voltage probed inside nested
    series adaptors is sign-flipped relative to the circuit; add an
    :class:`Inverter` where that matters.
    """


@dataclass(frozen=True)
class Parallel(_Adaptor):
    """Parallel 3-port adaptor: ``G0 = G1 + G2``, ``b0 = (G1·a1 + G2·a2)/G0``, ``bk = a0 + b0 − ak``."""


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
class _Terminal:
    """A root with no parameters: it reflects ``a`` by a fixed rule."""
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        _check_name(type(self).__name__, self.name)


@dataclass(frozen=True)
class IdealSource(_Terminal):
    """Ideal voltage source (the input signal) as the root: ``b = 2·Vs − a``."""


@dataclass(frozen=True)
class Short(_Terminal):
    """Short circuit as the root: ``b = −a`` (``v = 0``)."""


@dataclass(frozen=True)
class Open(_Terminal):
    """Open circuit as the root: ``b = a`` (``i = 0``)."""


def _check_solver(owner: str, solver) -> None:
    if not isinstance(solver, RootSolver):
        raise VerifyError(f"{owner}: solver must be a RootSolver (RootSolver.NEWTON or "
                          f"RootSolver.WRIGHT_OMEGA), not {solver!r}")



@dataclass(frozen=True)
class _Shockley:
    """A root of Shockley diodes: saturation current ``Is``, thermal voltage ``Vt``, ideality ``n``."""
    Is: float
    Vt: float
    n: float = 1.0
    solver: RootSolver = RootSolver.NEWTON
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        owner = type(self).__name__
        _check_positive(owner, "Is", self.Is, "amperes")
        _check_positive(owner, "Vt", self.Vt, "volts")
        _check_positive(owner, "n", self.n, "ideality factor")
        _check_solver(owner, self.solver)
        _check_name(owner, self.name)


@dataclass(frozen=True)
class Diode(_Shockley):
    """Shockley diode ``i = Is·(exp(v/(n·Vt)) − 1)`` as the root (anode on the port's + side)."""


@dataclass(frozen=True)
class DiodePair(_Shockley):
    """Antiparallel diode pair ``i = 2·Is·sinh(v/(n·Vt))`` as the root."""


@dataclass(frozen=True)
class AsymmetricDiodePair:
    """Two antiparallel diodes of different kinds as the root: the forward one (``Is``, ``Vt``,
    ``n``; anode on the port's + side) and the reverse one (``Is2``, ``Vt2``, ``n2``)::

        i = Is·(exp(v/(n·Vt)) − 1) − Is2·(exp(−v/(n2·Vt2)) − 1)

    Solved by Newton's method (no closed form).
    """
    Is: float
    Vt: float
    Is2: float
    Vt2: float
    n: float = 1.0
    n2: float = 1.0
    name: str | None = field(default=None, kw_only=True)

    def __post_init__(self):
        owner = "AsymmetricDiodePair"
        for what, unit in (("Is", "amperes"), ("Vt", "volts"), ("Is2", "amperes"),
                           ("Vt2", "volts"), ("n", "ideality factor"), ("n2", "ideality factor")):
            _check_positive(owner, what, getattr(self, what), unit)
        _check_name(owner, self.name)


_LEAVES = (Resistor, Capacitor, Inductor, ResistiveSource)
_ADAPTED = _LEAVES + (Series, Parallel, Inverter)
_ROOT_ONLY = (IdealSource, Short, Open, Diode, DiodePair, AsymmetricDiodePair)
_ROOTS = _ROOT_ONLY + (Resistor, ResistiveSource)
_SOURCES = (ResistiveSource, IdealSource)

Adapted = Union[Resistor, Capacitor, Inductor, ResistiveSource, Series, Parallel, Inverter]
Root = Union[IdealSource, Short, Open, Diode, DiodePair, AsymmetricDiodePair, Resistor,
             ResistiveSource]


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
                              f"DiodePair, AsymmetricDiodePair, Resistor, ResistiveSource, not "
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
