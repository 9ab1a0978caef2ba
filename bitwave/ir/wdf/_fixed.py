"""Fixed point: clipper-class WDFs (a resistive source and one reactance under one 3-port
adaptor, with a diode-pair root) as exact integer arithmetic.

:class:`WdfFixed` is the whole fixed-point specification and :func:`run_fixed`
the bit-exact golden model the hardware is checked against; choosing a
specification for a tree (the word-length search) is the ``quantise-wdf``
pass's business (:mod:`bitwave.passes.quantise_wdf`).

Number formats are the IR's ``Fixed`` (``int_bits`` counts the sign bit, so REFERENCE.md's
"Q3.16 (20 b)" is ``Fixed(4, 16)``).  Values are integer codes: a real value is
``code · 2**-frac_bits``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

from ...errors import VerifyError
from .._formats import Fixed, Overflow, Rounding
from ._tree import _check_positive

__all__ = ["Probe", "WdfFixed", "run_fixed", "pwl_breakpoints", "DEFAULT_WORD_LENGTH"]

#: Word length of the input and output samples when none is asked for (Q3.16, ≥ 90 dB on the
#: clipper): the frontend's default and the ``quantise-wdf`` pass's.
DEFAULT_WORD_LENGTH = 20


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

