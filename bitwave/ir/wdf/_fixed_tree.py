"""Fixed point for any WDF tree: a straight-line program of scattering steps over wave registers.

:func:`compile_tree` (in :mod:`._fixed_compile`) turns a
:class:`~._tree.WdfTree` into a :class:`WdfProgram`; :func:`run_program` is its
bit-exact golden model, and the hardware (``bitwave.hdl.WdfMicroCore``) steps
through the same list with one adder and one multiplier.

Registers hold waves in the ``wave`` format.  Register 0 is always 0; register
1 holds the input sample (re-expressed in ``wave``) for the whole sample;
``states`` are the registers of the reactances, kept from sample to sample;
every other register is written before it is read within a sample.  One step
computes::

    dst = fit(Σ add + round(coeff · Σ mul, coeff_frac))       (ALU)
    dst = ROOT(fit(Σ add))                                    (ROOT, the root table)
    out = fit_out(round(Σ add, wave_frac + 1 − out_frac))     (OUT, the probed voltage)

where each sum is over ``(register, ±1)`` terms, ``fit`` brings a value into
the wave format (its overflow mode), ``round`` uses the wave format's rounding
and the ``OUT`` step is the output format's ``(a + b)/2``.  ``coeff`` is a
signed integer in units of ``2**-coeff_frac`` (adaptor coefficients lie in
[0, 1], a resistive root's in (−1, 2)).  A product's sum is not fitted before
the multiply: the hardware carries two more bits there.
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

__all__ = ["StepKind", "Step", "WdfProgram", "run_program", "MAX_TERMS"]

#: Most terms in one sum of a step (a parallel adaptor's ``a0 + b0 − ak``, a series
#: adaptor's ``a0 + a1 + a2``).
MAX_TERMS = 3


class StepKind(enum.Enum):
    ALU = "alu"
    ROOT = "root"
    OUT = "out"


def _check_terms(owner: str, what: str, terms, registers: int) -> tuple:
    if not isinstance(terms, tuple) or len(terms) > MAX_TERMS:
        raise VerifyError(f"{owner}: {what} must be a tuple of at most {MAX_TERMS} "
                          f"(register, ±1) terms, not {terms!r}")
    for t in terms:
        if (not isinstance(t, tuple) or len(t) != 2 or t[1] not in (1, -1)
                or isinstance(t[0], bool) or not isinstance(t[0], int)
                or not 0 <= t[0] < registers):
            raise VerifyError(f"{owner}: {what} term {t!r} must be (register in "
                              f"[0, {registers}), +1 or −1)")
    return terms


@dataclass(frozen=True)
class Step:
    """One step of a :class:`WdfProgram` (see the module docstring for what each kind does)."""
    kind: StepKind
    dst: int
    add: tuple = ()
    mul: tuple = ()
    coeff: int = 0


@dataclass(frozen=True)
class WdfProgram:
    """Bit-exact fixed-point form of any WDF tree: formats, registers, steps and root table.

    ``halves`` is 0 when the root needs no table, 1 for an odd-symmetric root
    (a diode pair) and 2 otherwise; the table's grid fields are those of
    :mod:`._fixed_root` (unused when ``halves`` is 0).  ``fs`` is informational.
    """
    input: Fixed
    wave: Fixed
    output: Fixed
    coeff_frac: int
    registers: int
    states: tuple[int, ...]
    steps: tuple[Step, ...]
    halves: int
    table_range_log2: int
    table_octaves: int
    segments_log2: int
    table: tuple[int, ...]
    fs: float

    def __post_init__(self):
        owner = "WdfProgram"
        for what in ("input", "wave", "output"):
            check_fixed(owner, what, getattr(self, what))
        check_int(owner, "coeff_frac", self.coeff_frac, 1, 62)
        check_int(owner, "registers", self.registers, 2, 1 << 16)
        check_int(owner, "halves", self.halves, 0, 2)
        if not isinstance(self.states, tuple) or len(set(self.states)) != len(self.states) \
                or any(not isinstance(s, int) or not 2 <= s < self.registers for s in self.states):
            raise VerifyError(f"{owner}: states must be a tuple of distinct registers in "
                              f"[2, {self.registers}), not {self.states!r}")
        if self.halves:
            check_root_table(owner, self.wave, self.table_range_log2, self.table_octaves,
                             self.segments_log2, self.table, self.halves)
        elif self.table != ():
            raise VerifyError(f"{owner}: a program without a table root (halves=0) must have "
                              f"table=()")
        if not isinstance(self.steps, tuple) or not self.steps:
            raise VerifyError(f"{owner}: steps must be a non-empty tuple of Step")
        written = {0, 1, *self.states}
        bound = 1 << (self.coeff_frac + 1)
        outs = 0
        for i, s in enumerate(self.steps):
            where = f"{owner}: step {i}"
            if not isinstance(s, Step) or not isinstance(s.kind, StepKind):
                raise VerifyError(f"{where} must be a Step with a StepKind, not {s!r}")
            terms = _check_terms(where, "add", s.add, self.registers) \
                + _check_terms(where, "mul", s.mul, self.registers)
            unread = sorted({r for r, _ in terms} - written)
            if unread:
                raise VerifyError(f"{where} reads register(s) {unread} before any step "
                                  f"writes them")
            if s.kind is StepKind.OUT:
                outs += 1
                continue
            check_int(where, "coeff", s.coeff, -bound + 1, bound - 1)
            if s.kind is StepKind.ROOT and (self.halves == 0 or s.mul or s.coeff):
                raise VerifyError(f"{where}: a ROOT step needs a root table (halves > 0) and "
                                  f"takes only add terms")
            check_int(where, "dst", s.dst, 2, self.registers - 1)
            written.add(s.dst)
        if outs != 1:
            raise VerifyError(f"{owner}: needs exactly one OUT step (the probed voltage), "
                              f"found {outs}")
        _check_positive(owner, "fs", self.fs, "Hz")


def _sum(r: list, terms) -> int:
    return sum(r[i] if sign > 0 else -r[i] for i, sign in terms)


def run_program(prog: WdfProgram, x_int: np.ndarray) -> np.ndarray:
    """The bit-exact golden model of ``prog``: input codes to output codes, from rest."""
    if not isinstance(prog, WdfProgram):
        raise VerifyError(f"run_program: prog must be a WdfProgram, not {type(prog).__name__}")
    x = check_input_codes("run_program", x_int, prog.input)
    wave, out = prog.wave, prog.output
    grid = (prog.table_range_log2, prog.table_octaves, prog.segments_log2, wave)
    r = [0] * prog.registers
    y = np.empty(x.shape, dtype=np.int64)
    for n, xn in enumerate(x.tolist()):
        r[1] = requant(xn, prog.input.frac_bits, wave)
        for s in prog.steps:
            if s.kind is StepKind.ALU:
                r[s.dst] = fit(_sum(r, s.add) + shift_round(s.coeff * _sum(r, s.mul),
                                                            prog.coeff_frac, wave.rounding), wave)
            elif s.kind is StepKind.ROOT:
                r[s.dst] = root_eval(prog.table, fit(_sum(r, s.add), wave), *grid)
            else:
                y[n] = requant(_sum(r, s.add), wave.frac_bits + 1, out)
    return y
