"""The circuit the audio models learn from: a Tube-Screamer-style clipping stage, simulated in float64.

The stage is a non-inverting op-amp (ideal: ``V+ = Vin``, so ``Vout = Vin + Vf``)
with a ground leg of ``R4`` in series with ``C3`` and a feedback network of
``Rf = 51 kΩ + drive`` in parallel with ``Cf`` and an antiparallel diode pair.
The ground-leg current ``i_g`` (admittance ``s·C3/(1 + s·R4·C3)`` applied to
``Vin``) flows through the feedback network, so the voltage across it obeys

    Cf·dVf/dt + Vf/Rf + 2·Is·sinh(Vf/(n·Vt)) = i_g

and a first-order tone shelf (pole 723 Hz, zero 3.2 kHz, unity gain at DC)
follows.  Everything runs at ``oversample × fs``: the input is upsampled with
``scipy.signal.resample_poly`` (Kaiser window, β 10), the linear parts are bilinear-transformed
filters, the ODE is discretised with the trapezoidal rule (the same rule, so a
linearised stage equals the bilinear transform of its transfer function to
rounding error) and solved by Newton's method per sample, and the output is
downsampled back to ``fs``.

Newton runs on ``|Vf|`` (the equation is odd in ``Vf``), where the function is
convex and increasing; the start is the previous sample's value, clamped below
two upper bounds of the root, so the iterates never overflow and converge in
two or three steps at 8× oversampling.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.signal import bilinear, lfilter, resample_poly

from ...errors import FrontendError

__all__ = ["ClippingStage", "simulate_stage", "linear_response"]

#: Newton stops when a step is below this many volts (the error left is ~step²/(n·Vt)).
_NEWTON_TOL = 1e-11
_NEWTON_MAX = 60
#: The resampler's window: Kaiser β 10 keeps the up/down round trip within ~1e-6 of the input up
#: to 5 kHz and ~3e-5 at 15 kHz (scipy's default β 5 leaves a ~1e-3 passband ripple).
_RESAMPLE_WINDOW = ("kaiser", 10.0)


def _positive(owner: str, name: str, value, allow_zero: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        kind = "non-negative" if allow_zero else "positive"
        raise FrontendError(f"{owner}: {name} must be a {kind} finite number, not {value!r}")


@dataclass(frozen=True)
class ClippingStage:
    """Component values of the clipping stage (SI units; ``drive`` is the pot's resistance).

    ``Is_neg``/``n_neg`` give the diode conducting on negative ``Vf`` other
    values than the positive one (an asymmetric pair); ``None`` keeps the pair
    symmetric.
    """

    R4: float = 4.7e3
    C3: float = 47e-9
    Rf: float = 51e3
    drive: float = 250e3
    Cf: float = 51e-12
    Is: float = 2.52e-9
    n: float = 1.752
    Vt: float = 25.85e-3
    tone_pole_hz: float = 723.0
    tone_zero_hz: float = 3200.0
    Is_neg: float | None = None
    n_neg: float | None = None

    def __post_init__(self):
        for name in ("R4", "C3", "Rf", "Cf", "Is", "n", "Vt", "tone_pole_hz", "tone_zero_hz"):
            _positive("ClippingStage", name, getattr(self, name))
        _positive("ClippingStage", "drive", self.drive, allow_zero=True)
        if self.drive > 250e3:
            raise FrontendError(f"ClippingStage: drive is a 0..250 kΩ pot, not {self.drive!r} Ω; "
                                f"pass a value in [0, 250e3]")
        for name in ("Is_neg", "n_neg"):
            if getattr(self, name) is not None:
                _positive("ClippingStage", name, getattr(self, name))

    @property
    def feedback_resistance(self) -> float:
        """``Rf + drive``, the resistance across the diodes (ohms)."""
        return self.Rf + self.drive

    @property
    def symmetric(self) -> bool:
        return self.Is_neg is None and self.n_neg is None

    def ground_leg(self) -> tuple[np.ndarray, np.ndarray]:
        """``i_g/Vin`` as s-domain (numerator, denominator): ``s·C3/(1 + s·R4·C3)``."""
        return np.array([self.C3, 0.0]), np.array([self.R4 * self.C3, 1.0])

    def tone(self) -> tuple[np.ndarray, np.ndarray]:
        """The tone shelf as s-domain (numerator, denominator): ``(1 + s/ωz)/(1 + s/ωp)``."""
        wz, wp = 2 * math.pi * self.tone_zero_hz, 2 * math.pi * self.tone_pole_hz
        return np.array([1.0 / wz, 1.0]), np.array([1.0 / wp, 1.0])


def _check_signal(x, fs, oversample) -> np.ndarray:
    if not isinstance(oversample, int) or isinstance(oversample, bool) or oversample < 1:
        raise FrontendError(f"simulate_stage: oversample must be a positive integer, not {oversample!r}")
    _positive("simulate_stage", "fs", fs)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise FrontendError(f"simulate_stage: input must be a non-empty 1-D signal in volts, "
                            f"not shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise FrontendError("simulate_stage: input has NaN or infinite samples; clean the signal first")
    return x


def _diode_voltage(stage: ClippingStage, i_g: np.ndarray, T: float) -> np.ndarray:
    """``Vf`` per sample by the trapezoidal rule with a Newton solve (see the module docstring)."""
    Rf = stage.feedback_resistance
    c = 2.0 * stage.Cf / T
    a, b = c + 1.0 / Rf, c - 1.0 / Rf
    pos = (stage.Is, 1.0 / (stage.n * stage.Vt))
    neg = (stage.Is_neg if stage.Is_neg is not None else stage.Is,
           1.0 / ((stage.n_neg if stage.n_neg is not None else stage.n) * stage.Vt))
    exp, asinh, log = math.exp, math.asinh, math.log
    out = np.empty(len(i_g))
    v, d, i_prev = 0.0, 0.0, 0.0
    for k, i in enumerate(i_g.tolist()):
        # a·V + D(V) = rhs, D(V) the diode current: Is·(e^{V/nVt} − 1) one way, minus the other.
        rhs = i + i_prev + b * v - d
        i_prev = i
        Is, g = pos if rhs >= 0.0 else neg
        r = abs(rhs)
        if stage.symmetric:
            # Odd: solve a·u + 2·Is·sinh(g·u) = r for u = |V|.
            bound = min(r / a, asinh(r / (2.0 * Is)) / g)
            u = min(abs(v), bound)
            for _ in range(_NEWTON_MAX):
                e = exp(g * u)
                step = (a * u + Is * (e - 1.0 / e) - r) / (a + Is * g * (e + 1.0 / e))
                u = min(u - step, bound)
                if abs(step) < _NEWTON_TOL:
                    break
            v = math.copysign(u, rhs)
            e = exp(g * u)
            d = math.copysign(Is * (e - 1.0 / e), rhs)
        else:
            # Only the forward diode of the sign of V conducts much; the other is kept exactly.
            Is_o, g_o = neg if rhs >= 0.0 else pos
            bound = min(r / a, log(1.0 + r / Is) / g)
            u = min(abs(v), bound)
            for _ in range(_NEWTON_MAX):
                e, eo = exp(g * u), exp(-g_o * u)
                f = a * u + Is * (e - 1.0) + Is_o * (1.0 - eo) - r
                step = f / (a + Is * g * e + Is_o * g_o * eo)
                u = min(u - step, bound)
                if abs(step) < _NEWTON_TOL:
                    break
            v = math.copysign(u, rhs)
            d = math.copysign(Is * (exp(g * u) - 1.0) + Is_o * (1.0 - exp(-g_o * u)), rhs)
        out[k] = v
    return out


def simulate_stage(x, *, fs: float = 48_000.0, oversample: int = 8,
                   stage: ClippingStage = ClippingStage()) -> np.ndarray:
    """The stage's output (volts at ``fs``) for the input ``x`` (volts at ``fs``), from rest."""
    x = _check_signal(x, fs, oversample)
    rate = fs * oversample
    xu = resample_poly(x, oversample, 1, window=_RESAMPLE_WINDOW) if oversample > 1 else x
    i_g = lfilter(*bilinear(*stage.ground_leg(), fs=rate), xu)
    v = xu + _diode_voltage(stage, i_g, 1.0 / rate)
    y = lfilter(*bilinear(*stage.tone(), fs=rate), v)
    return resample_poly(y, 1, oversample, window=_RESAMPLE_WINDOW) if oversample > 1 else y


def linear_response(stage: ClippingStage = ClippingStage()) -> tuple[np.ndarray, np.ndarray]:
    """The small-signal transfer function ``Vout/Vin`` as s-domain (numerator, denominator).

    The diodes become their conductance at 0 V, ``2·Is/(n·Vt)`` (for an
    asymmetric pair, the sum of both diodes' ``Is/(n·Vt)``), in parallel with
    ``Rf`` and ``Cf``: ``Tone(s)·(1 + Y(s)/(G + s·Cf))``.
    """
    g_d = stage.Is / (stage.n * stage.Vt)
    g_d += ((stage.Is_neg if stage.Is_neg is not None else stage.Is)
            / ((stage.n_neg if stage.n_neg is not None else stage.n) * stage.Vt))
    G = 1.0 / stage.feedback_resistance + g_d
    yn, yd = stage.ground_leg()
    zd = np.array([stage.Cf, G])                       # 1/Zf
    num = np.polyadd(np.polymul(yd, zd), yn)           # 1 + Y·Zf over yd·zd
    den = np.polymul(yd, zd)
    tn, td = stage.tone()
    return np.polymul(tn, num), np.polymul(td, den)
