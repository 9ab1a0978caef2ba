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
from .._formats import Fixed
from ._fixed_arith import check_fixed, check_input_codes, check_int, fit, requant, shift_round
from ._fixed_root import check_root_table, root_eval
from ._tree import _check_positive

__all__ = ["Probe", "WdfFixed", "run_fixed", "DEFAULT_WORD_LENGTH"]

#: Word length of the input and output samples when none is asked for: the frontend's default
#: and the ``quantise-wdf`` pass's (the figures it reaches are in docs/wdf.md).
DEFAULT_WORD_LENGTH = 20


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

    The root is a piecewise-quadratic table of ``b(|a|)`` (odd symmetry gives
    negative ``a``) on ``[0, 2**table_range_log2)`` volts in ``table_octaves``
    zones of ``2**segments_log2`` segments (:mod:`._fixed_root`): the
    ``K·2**segments_log2 + 1`` breakpoint values, then one curvature per
    segment, all in ``wave`` codes.

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
            check_fixed(owner, what, getattr(self, what))
        check_int(owner, "coeff_frac", self.coeff_frac, 1, 62)
        check_int(owner, "coeff", self.coeff, 0, 1 << self.coeff_frac)
        check_root_table(owner, self.wave, self.table_range_log2, self.table_octaves,
                         self.segments_log2, self.table, halves=1)
        _check_positive(owner, "fs", self.fs, "Hz")


def run_fixed(spec: WdfFixed, x_int: np.ndarray) -> np.ndarray:
    """The bit-exact golden model: input codes (``spec.input``) to output codes (``spec.output``).

    Exact integer arithmetic; every product is rounded (``spec.wave.rounding``)
    and every stored or reflected wave brought into ``spec.wave`` by its overflow
    mode, in the order the hardware does it.  Starts from rest (state 0).
    """
    if not isinstance(spec, WdfFixed):
        raise VerifyError(f"run_fixed: spec must be a WdfFixed, not {type(spec).__name__}")
    x = check_input_codes("run_fixed", x_int, spec.input)
    wave, out, F, table = spec.wave, spec.output, spec.wave.frac_bits, spec.table
    grid = (spec.table_range_log2, spec.table_octaves, spec.segments_log2, wave)
    g, gf, rnd = spec.coeff, spec.coeff_frac, spec.wave.rounding
    probe, series, inductor = spec.probe, spec.series, spec.inductor
    y = np.empty(x.shape, dtype=np.int64)
    s = 0
    for n, xn in enumerate(x.tolist()):
        a1 = requant(xn, spec.input.frac_bits, wave)
        a2 = fit(-s, wave) if inductor else s
        if series:
            b0 = fit(-(a1 + a2), wave)
            br = root_eval(table, b0, *grid)
            b1 = fit(a1 - shift_round(g * (br + a1 + a2), gf, rnd), wave)
            b2 = fit(-(br + b1), wave)
        else:
            b0 = fit(a2 + shift_round(g * (a1 - a2), gf, rnd), wave)
            br = root_eval(table, b0, *grid)
            b2 = fit(br + b0 - a2, wave)
            b1 = fit(br + b0 - a1, wave)
        s = b2
        if probe is Probe.ROOT:
            pv = b0 + br
        elif probe is Probe.SOURCE:
            pv = a1 + b1
        else:
            pv = a2 + b2
        y[n] = requant(pv, F + 1, out)
    return y

