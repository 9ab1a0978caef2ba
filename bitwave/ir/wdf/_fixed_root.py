"""The nonlinear root in fixed point: a piecewise-quadratic table of ``b(a)`` on octave zones.

The grid covers ``|a| < A = 2**range_log2`` volts in ``octaves`` zones: zone 0
is ``[0, A/2**(K−1))`` and zone ``z ≥ 1`` the octave ``[A/2**(K−z), A/2**(K−z−1))``,
each cut into ``2**segments_log2`` equal segments (:func:`pwl_breakpoints`).  A
diode's curvature lives near its knee and decays above it, so octaves give the
accuracy of a uniform table with far fewer entries.

Per segment ``k`` the table holds the values ``t[k]``, ``t[k+1]`` at its ends
and a curvature ``c[k]``; with ``u ∈ [0, 1)`` the position inside the segment,
``b ≈ t[k] + (t[k+1] − t[k])·u + c[k]·u·(1 − u)``.  ``c[k]`` is four times the
gap between the curve and the chord at the segment's midpoint, so the
interpolation is exact at both ends and the midpoint; its error falls 8× per
halving of the segments where a chord's falls 4×.  ``c ≡ 0`` is the plain
piecewise-linear table.

In integer codes, with ``f`` the offset into the segment normalised to the
widest segment's ``S`` bits (``u = f·2**-S``) and ``g`` its top ``Q = min(S, 15)``
bits (``g = f >> (S − Q)``)::

    q = (g · (2**Q − g)) >> Q              # u·(1 − u) in units of 2**-Q, floored
    b = t[k] + round((t[k+1] − t[k])·f + (c[k]·q << (S − Q)), S)

one rounding (the wave format's) per evaluation.  The curvature term is a few
LSBs to a few thousand, so ``Q`` bits of ``u`` weigh it to well under one code
and keep both of its products within one 16-bit DSP operand.  A table is one *half*
(``b`` for ``a ≥ 0``; odd symmetry gives ``a < 0``, as for a diode pair) or two
halves (the second holds ``b(−|a|)``, for roots without symmetry).  Each half
is ``K·2**segments_log2 + 1`` values then ``K·2**segments_log2`` curvatures.
Beyond ``A`` the reflected wave continues with slope −1 (the root's voltage
stays at its value at ``±A``).
"""

from __future__ import annotations

import numpy as np

from ...errors import VerifyError
from .._formats import Fixed
from ._fixed_arith import check_int, fit, shift_round

#: Bits of the segment offset the curvature term is weighted with (``Q`` above).
CURVE_BITS = 15

__all__ = ["CURVE_BITS", "pwl_breakpoints", "table_entries", "segment_shift", "root_locate", "root_eval",
           "check_root_table"]


def pwl_breakpoints(range_log2: int, octaves: int, segments_log2: int) -> np.ndarray:
    """``|a|`` (volts) of the root table's breakpoints, ascending, ``octaves·2**segments_log2 + 1``."""
    M = 1 << segments_log2
    zone = 2.0 ** (range_log2 - octaves + 1)
    parts = [np.arange(M) * (zone / M)]
    for z in range(1, octaves):
        width = zone * 2.0 ** (z - 1)
        parts.append(width + np.arange(M) * (width / M))
    parts.append(np.array([2.0 ** range_log2]))
    return np.concatenate(parts)


def table_entries(octaves: int, segments_log2: int, halves: int = 1) -> int:
    """Length of a table of ``halves`` halves on this grid (values and curvatures)."""
    return halves * (2 * octaves * (1 << segments_log2) + 1)


def segment_shift(span: int, octaves: int, segments_log2: int) -> int:
    """``S``: log2 of the widest segment, in codes (``span = range_log2 + frac_bits``)."""
    return span - octaves + 1 - segments_log2 + max(octaves - 2, 0)


def root_locate(mag: int, span: int, octaves: int, segments_log2: int) -> tuple[int, int, int]:
    """(segment ``k``, offset ``f`` into it, log2 of its width) of ``0 ≤ mag < 2**span`` codes."""
    low = span - octaves + 1
    z = (mag >> low).bit_length()
    sh = low - segments_log2 + max(z - 1, 0)
    off = mag - ((1 << (low + z - 1)) if z else 0)
    return (z << segments_log2) + (off >> sh), off & ((1 << sh) - 1), sh


def root_eval(table, a: int, range_log2: int, octaves: int, segments_log2: int,
              wave: Fixed) -> int:
    """The reflected wave (``wave`` codes) of the root table ``table`` for incident wave ``a``."""
    n = octaves << segments_log2
    half = 2 * n + 1
    two = len(table) == 2 * half
    mag = -a if a < 0 else a
    base = half if (two and a < 0) else 0
    span = range_log2 + wave.frac_bits
    if mag < (1 << span):
        k, f, sh = root_locate(mag, span, octaves, segments_log2)
        S = segment_shift(span, octaves, segments_log2)
        f <<= S - sh
        Q = min(S, CURVE_BITS)
        g = f >> (S - Q)
        q = (g * ((1 << Q) - g)) >> Q
        t0, t1, c = table[base + k], table[base + k + 1], table[base + n + 1 + k]
        y = t0 + shift_round((t1 - t0) * f + ((c * q) << (S - Q)), S, wave.rounding)
        out = y if (two or a >= 0) else -y
    elif two and a < 0:
        out = table[base + n] + (mag - (1 << span))
    else:
        y = table[n] - (mag - (1 << span))
        out = y if a >= 0 else -y
    return fit(out, wave)


def check_root_table(owner: str, wave: Fixed, range_log2, octaves, segments_log2, table,
                     halves: int) -> None:
    """VerifyError unless ``table`` is a root table of ``halves`` halves on a valid grid."""
    check_int(owner, "table_range_log2", range_log2, -wave.frac_bits, wave.int_bits - 1)
    span = range_log2 + wave.frac_bits
    check_int(owner, "table_octaves", octaves, 1, span + 1)
    check_int(owner, "segments_log2", segments_log2, 0, span - octaves + 1)
    entries = table_entries(octaves, segments_log2, halves)
    if not isinstance(table, tuple) or len(table) != entries:
        raise VerifyError(f"{owner}: table must be a tuple of {halves}·(2·table_octaves·"
                          f"2**segments_log2 + 1) = {entries} integer codes (values, then "
                          f"curvatures)")
    for k, t in enumerate(table):
        check_int(owner, f"table[{k}]", t, wave.min, wave.max)
