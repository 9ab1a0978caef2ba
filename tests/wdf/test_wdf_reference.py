"""The float64 WDF reference against independent solutions (REFERENCE.md, wave digital filters)."""

import math

import numpy as np
import pytest
from scipy import signal
from scipy.integrate import solve_ivp
from scipy.special import wrightomega

from bitwave.errors import VerifyError
from bitwave.ir.wdf import (
    Capacitor, Diode, DiodePair, IdealSource, Inductor, Inverter, Open, Parallel, Resistor,
    ResistiveSource, RootSolver, Series, Short, WdfTree, diode_pair_reflect, diode_reflect,
    port_resistance, simulate)

FS = 48_000.0
R, C, IS, VT = 2.2e3, 10e-9, 2.52e-9, 45.3e-3


def rc_lowpass(fs=FS):
    return WdfTree(Open(), Parallel(ResistiveSource(R), Capacitor(C, name="C")), fs, probe="C")


def clipper(fs=FS, solver=RootSolver.NEWTON):
    return WdfTree(DiodePair(IS, VT, solver=solver),
                   Parallel(ResistiveSource(R), Capacitor(C, name="C")), fs, probe="C")


def sine_1k(fs, ms=10.0):
    n = np.arange(int(round(fs * ms / 1000)))
    return np.sin(2 * np.pi * 1000.0 * n / fs)


def test_rc_lowpass_matches_lfilter():
    K = 2 * FS * R * C
    assert K == pytest.approx(2.112)
    x = np.random.default_rng(0).standard_normal(48_000)
    y = simulate(rc_lowpass(), x)
    ref = signal.lfilter([1.0, 1.0], [1 + K, 1 - K], x)
    assert np.max(np.abs(y - ref)) <= 1e-12


def test_rc_lowpass_impulse_response():
    h = simulate(rc_lowpass(), np.eye(1, 5)[0])
    np.testing.assert_allclose(h, [0.32133676092545, 0.43615889400678, 0.15585112150885,
                                   0.05568973236434, 0.01989941593482], rtol=0, atol=1e-14)


def test_series_adaptors_with_ideal_source_match_bilinear_transform():
    # Series adaptors obey v0 + v1 + v2 = 0, so each level of series nesting flips the
    # sign of the voltages below it: RC under one series adaptor gives −H·Vs, an Inverter
    # restores +H·Vs, and the RLC loop under two nested series adaptors gives +H·Vs.
    x = np.random.default_rng(1).standard_normal(2000)
    K = 2 * FS * R * C
    rc = signal.lfilter([1.0, 1.0], [1 + K, 1 - K], x)
    one = WdfTree(IdealSource(), Series(Resistor(R), Capacitor(C, name="C")), FS, probe="C")
    inv = WdfTree(IdealSource(), Series(Resistor(R), Inverter(Capacitor(C, name="C"))), FS, probe="C")
    np.testing.assert_allclose(simulate(one, x), -rc, rtol=0, atol=1e-12)
    np.testing.assert_allclose(simulate(inv, x), rc, rtol=0, atol=1e-12)
    Rs, L, Cc = 100.0, 10e-3, 1e-6
    bz, az = signal.bilinear([1.0], [L * Cc, Rs * Cc, 1.0], fs=FS)
    rlc = WdfTree(IdealSource(), Series(Resistor(Rs), Series(Inductor(L), Capacitor(Cc, name="C"))),
                  FS, probe="C")
    np.testing.assert_allclose(simulate(rlc, x), signal.lfilter(bz, az, x), rtol=0, atol=1e-12)


def test_roots_short_resistor_and_resistive_source():
    # Voltage divider R1 (source) into R2 (root) and the same with the roles swapped.
    x = np.linspace(-1, 1, 7)
    div = WdfTree(Resistor(300.0, name="load"), ResistiveSource(100.0), FS, probe="load")
    np.testing.assert_allclose(simulate(div, x), 0.75 * x, rtol=0, atol=1e-15)
    swap = WdfTree(ResistiveSource(100.0), Resistor(300.0, name="load"), FS, probe="load")
    np.testing.assert_allclose(simulate(swap, x), 0.75 * x, rtol=0, atol=1e-15)
    short = WdfTree(Short(), Series(ResistiveSource(100.0), Resistor(300.0, name="r")), FS, probe="r")
    np.testing.assert_allclose(simulate(short, x), -0.75 * x, rtol=0, atol=1e-15)


def test_wright_omega_reference_values():
    assert wrightomega(0.0).real == pytest.approx(0.5671432904097838, abs=1e-16)
    assert wrightomega(1.0).real == 1.0
    assert wrightomega(-1.0).real == pytest.approx(0.27846454276107374, abs=1e-16)


def pair_current(v):
    return 2 * IS * math.sinh(v / VT), 2 * IS / VT * math.cosh(v / VT)


def diode_current(v):
    return IS * math.expm1(v / VT), IS / VT * math.exp(v / VT)


def trapezoid_newton(x, fs, current=pair_current):
    """C·v' = (x − v)/R − i(v) by the trapezoid rule, Newton to convergence at each step."""
    T = 1.0 / fs

    def f(xn, v):
        return (xn - v) / R - current(v)[0]

    v = np.zeros(len(x))
    for n in range(1, len(x)):
        rhs = v[n - 1] + T / (2 * C) * f(x[n - 1], v[n - 1])
        u = v[n - 1]
        for _ in range(100):
            g = u - T / (2 * C) * f(x[n], u) - rhs
            dg = 1 + T / (2 * C) * (1 / R + current(u)[1])
            du = g / dg
            u -= du
            if abs(du) < 1e-17:
                break
        v[n] = u
    return v


def test_clipper_port_resistance():
    assert port_resistance(clipper().tree, FS) == pytest.approx(706.9409, abs=1e-4)


def test_clipper_exact_root_equals_trapezoid_newton():
    x = sine_1k(FS)
    v = simulate(clipper(), x)
    assert np.max(np.abs(v - trapezoid_newton(x, FS))) <= 1e-12
    np.testing.assert_allclose(v[[6, 12, 24, 36]],
                               [0.478769104359661, 0.515451842393481, 0.127752390748813,
                                -0.515452832508686], rtol=0, atol=1e-13)


@pytest.mark.parametrize("solver", list(RootSolver))
def test_single_diode_clipper_equals_trapezoid_newton(solver):
    # One diode: the Wright omega form is exact, so both solvers meet the ODE.
    tree = WdfTree(Diode(IS, VT, solver=solver),
                   Parallel(ResistiveSource(R), Capacitor(C, name="C")), FS, probe="C")
    x = 2 * sine_1k(FS, 4.0)
    v = simulate(tree, x)
    assert np.max(np.abs(v - trapezoid_newton(x, FS, diode_current))) <= 1e-12
    assert v.max() < 0.75 and v.min() < -1.5     # clips one half-wave only


def test_clipper_wright_omega_root_close_to_exact():
    # Werner's eq. 39 drops the cross term of the pair: not exact, but at R·Is/Vt ≈ 4e-5
    # the difference is far below audio precision.
    x = sine_1k(FS)
    err = np.max(np.abs(simulate(clipper(solver=RootSolver.WRIGHT_OMEGA), x) - simulate(clipper(), x)))
    assert err < 1e-9


@pytest.mark.parametrize("a", [-5.0, -0.7, -1e-3, 0.0, 2e-4, 0.4, 0.9, 3.0])
def test_diode_roots_solve_their_port_equations(a):
    Rp = 706.94
    b = diode_pair_reflect(a, Rp, IS, VT)
    v = (a + b) / 2
    assert v + 2 * Rp * IS * math.sinh(v / VT) == pytest.approx(a, abs=5e-14)
    b1 = diode_reflect(a, Rp, IS, VT)
    v1 = (a + b1) / 2
    assert v1 + Rp * IS * math.expm1(v1 / VT) == pytest.approx(a, abs=5e-14)
    # For a single diode the Wright omega form is exact.
    assert diode_reflect(a, Rp, IS, VT, solver=RootSolver.WRIGHT_OMEGA) == pytest.approx(b1, abs=1e-13)


def test_clipper_converges_to_radau_as_t_squared():
    # The largest error falls in the first cycle (the knee after rest), so 2 ms of the
    # 10 ms run give the same maxima as the whole run at a fifth of Radau's time.
    ms = 2.0
    t_ref = np.arange(int(FS * ms / 1000)) / FS

    def rhs(t, v):
        return [((math.sin(2 * math.pi * 1000 * t) - v[0]) / R - 2 * IS * math.sinh(v[0] / VT)) / C]

    def jac(t, v):
        return [[(-1 / R - 2 * IS / VT * math.cosh(v[0] / VT)) / C]]

    ref = solve_ivp(rhs, (0, t_ref[-1]), [0.0], method="Radau", t_eval=t_ref,
                    rtol=1e-12, atol=1e-12, jac=jac).y[0]
    errors = [np.max(np.abs(simulate(clipper(FS * k), sine_1k(FS * k, ms))[::k] - ref))
              for k in (1, 2, 4, 8)]
    np.testing.assert_allclose(errors, [4.3e-3, 9.9e-4, 2.4e-4, 6.0e-5], rtol=0.02)
    ratios = np.array(errors[:-1]) / np.array(errors[1:])
    assert np.all((3.9 < ratios) & (ratios < 4.5)), ratios


def test_tree_validation_messages():
    with pytest.raises(VerifyError, match=r"^Resistor: R must be a positive finite number \(ohms\), not -3$"):
        Resistor(-3)
    with pytest.raises(VerifyError, match=r"^Capacitor: C must be a positive finite number"):
        Capacitor(float("nan"))
    with pytest.raises(VerifyError, match=r"^Series: second child must be an adapted element .* "
                                          r"not DiodePair \(it can only be the root\)$"):
        Series(Resistor(1.0), DiodePair(IS, VT))
    with pytest.raises(VerifyError, match=r"^DiodePair: solver must be a RootSolver"):
        DiodePair(IS, VT, solver="newton")
    with pytest.raises(VerifyError, match=r"^WdfTree: root must be .* not Capacitor: reactive"):
        WdfTree(Capacitor(C), ResistiveSource(R), FS)
    with pytest.raises(VerifyError, match=r"^WdfTree: needs exactly one source .* found 2$"):
        WdfTree(IdealSource(), ResistiveSource(R), FS)
    with pytest.raises(VerifyError, match=r"^WdfTree: probe 'Cx' names no element"):
        WdfTree(Open(), Parallel(ResistiveSource(R), Capacitor(C, name="C")), FS, probe="Cx")
    with pytest.raises(VerifyError, match=r"used more than once"):
        WdfTree(Open(name="x"), Parallel(ResistiveSource(R), Capacitor(C, name="x")), FS)
    with pytest.raises(VerifyError, match=r"^simulate: input must be 1-D"):
        simulate(rc_lowpass(), np.zeros((2, 3)))
