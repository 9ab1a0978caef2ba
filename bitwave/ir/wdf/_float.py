"""The float64 reference simulation of a :class:`~._tree.WdfTree` and the diode roots it uses.

Bilinear reactances make the WDF exactly the trapezoidal rule, so results
match a trapezoid + Newton ODE solver to rounding error.

Example: the diode clipper of ``REFERENCE.md``::

    tree = WdfTree(root=DiodePair(2.52e-9, 45.3e-3),
                   tree=Parallel(ResistiveSource(2.2e3), Capacitor(10e-9, name="C")),
                   fs=48_000.0, probe="C")
    y = simulate(tree, x)
"""

from __future__ import annotations

import math

import numpy as np

from ...errors import VerifyError
from ._tree import (AsymmetricDiodePair, Capacitor, Diode, DiodePair, IdealSource, Inductor, Inverter, Open, Parallel,
                    ResistiveSource, Resistor, RootSolver, Series, Short, WdfTree,
                    port_resistance)

__all__ = ["simulate", "diode_pair_reflect", "diode_reflect", "asymmetric_pair_reflect"]


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


def _reflect(a, Rp: float, Is: float, Vt: float, solver: RootSolver, wright, f_df):
    """Reflected wave of a diode root: ``wright``'s closed form, or Newton's exact root.

    ``f_df(v, a)`` is the port equation (increasing in ``v``) and its
    derivative; Newton starts from the closed form.  Scalar or array ``a``.
    """
    if solver is RootSolver.WRIGHT_OMEGA:
        return wright(np.asarray(a, dtype=np.float64), Rp, Is, Vt)[()]

    def one(ai: float) -> float:
        guess = float(wright(np.float64(ai), Rp, Is, Vt) + ai) / 2.0
        return 2.0 * _newton(lambda v: f_df(v, ai), ai, guess) - ai

    arr = np.asarray(a, dtype=np.float64)
    return np.vectorize(one, otypes=[np.float64])(arr)[()] if arr.ndim else one(float(arr))


def diode_pair_reflect(a, Rp: float, Is: float, Vt: float, *,
                       solver: RootSolver = RootSolver.NEWTON):
    """Reflected wave ``b`` of a diode pair (``Vt`` including ideality) at port resistance ``Rp``.

    Exact: ``a = v + 2·Rp·Is·sinh(v/Vt)`` solved for ``v``, ``b = 2v − a``.
    Wright omega: the closed form of Werner et al. 2015 (eq. 39).
    Scalar or array ``a``.
    """
    k = 2.0 * Rp * Is

    def f_df(v, ai):
        u = v / Vt
        return v + k * math.sinh(u) - ai, 1.0 + (k / Vt) * math.cosh(u)
    return _reflect(a, Rp, Is, Vt, solver, _wright_pair, f_df)


def diode_reflect(a, Rp: float, Is: float, Vt: float, *,
                  solver: RootSolver = RootSolver.NEWTON):
    """Reflected wave ``b`` of one diode: ``a = v + Rp·Is·(exp(v/Vt) − 1)``, ``b = 2v − a``."""
    k = Rp * Is

    def f_df(v, ai):
        e = math.exp(v / Vt)
        return v + k * (e - 1.0) - ai, 1.0 + (k / Vt) * e
    return _reflect(a, Rp, Is, Vt, solver, _wright_diode, f_df)


def asymmetric_pair_reflect(a, Rp: float, Is: float, Vt: float, Is2: float, Vt2: float):
    """Reflected wave ``b`` of an :class:`AsymmetricDiodePair` (``Vt``, ``Vt2`` including
    ideality): ``a = v + Rp·(Is·(exp(v/Vt) − 1) − Is2·(exp(−v/Vt2) − 1))`` solved for ``v`` by
    Newton's method, ``b = 2v − a``.  Scalar or array ``a``."""
    def one(ai: float) -> float:
        def f_df(v):
            e1, e2 = math.exp(v / Vt), math.exp(-v / Vt2)
            return (v + Rp * (Is * (e1 - 1.0) - Is2 * (e2 - 1.0)) - ai,
                    1.0 + Rp * (Is / Vt * e1 + Is2 / Vt2 * e2))
        return 2.0 * _newton(f_df, ai, 0.5 * ai) - ai

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
    if isinstance(root, AsymmetricDiodePair):
        args = (root.Is, root.n * root.Vt, root.Is2, root.n2 * root.Vt2)
        return lambda a, vs: asymmetric_pair_reflect(a, Rp, *args)
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
