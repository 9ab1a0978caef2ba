"""Arithmetic building blocks shared by the generators (pure expressions, no state)."""

from amaranth.hdl import Mux

__all__ = ["add_pairs", "balanced_sum", "clamp_thresholds", "count_at_least",
           "requant_scale", "requant_clip"]


def add_pairs(values):
    """One level of a balanced adder tree: ``[a, b, c, d, e] -> [a+b, c+d, e]``.

    Amaranth widens each sum by one bit, so no level can overflow.
    """
    summed = [values[i] + values[i + 1] for i in range(0, len(values) - 1, 2)]
    if len(values) % 2:
        summed.append(values[-1])
    return summed


def balanced_sum(values):
    values = list(values)
    while len(values) > 1:
        values = add_pairs(values)
    return values[0]


def clamp_thresholds(thresholds, lo, hi):
    """Clamp thresholds to ``[lo, hi + 1]`` for a value known to lie in ``[lo, hi]``.

    The comparison ``value >= t`` is unchanged (always true below ``lo``, never
    true above ``hi``), and the constants stay as narrow as the value.
    """
    return [min(max(t, lo), hi + 1) for t in thresholds]


def count_at_least(value, thresholds):
    """``#{k : value >= thresholds[k]}`` as an unsigned expression."""
    return balanced_sum([value >= t for t in thresholds])


def requant_scale(value, mult, shift):
    """``value * mult`` plus the round-half-up constant of a right shift by ``shift``."""
    scaled = value * mult
    return scaled + (1 << (shift - 1)) if shift > 0 else scaled


def requant_clip(scaled, shift, lo, hi):
    """``clip(scaled >> shift, lo, hi)``; the shift is arithmetic for signed values (floor)."""
    shifted = scaled >> shift
    return Mux(shifted < lo, lo, Mux(shifted > hi, hi, shifted))
