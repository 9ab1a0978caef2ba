"""A microcoded WDF core: any adaptor tree as a list of scattering steps on one adder and one
multiplier, so a larger tree costs cycles, not multipliers."""

from dataclasses import dataclass

from amaranth.hdl import Array, Module, Mux, Signal, signed
from amaranth.lib import enum

from ..errors import HdlError
from ._checked import CheckedComponent
from ._params import check_bool, check_int
from ._wdf import WdfRounding
from ._wdf_root import (RootTable, check_core_params, fit_signed, root_table_logic, round_shift,
                        sample_streams)

__all__ = ["MicroOp", "MicroStep", "WdfMicroParams", "WdfMicroCore"]

#: Most terms in one sum of a step.
_MAX_TERMS = 3


class MicroOp(enum.IntEnum):
    """What a :class:`MicroStep` does (see :class:`WdfMicroCore`)."""
    ALU = 0
    ROOT = 1
    OUT = 2


@dataclass(frozen=True)
class MicroStep:
    """One step: ``op``, destination register ``dst``, ``add`` and ``mul`` terms
    ``(register, ±1)`` and the signed coefficient ``coeff`` (units of ``2**-coeff_frac``)."""
    op: MicroOp
    dst: int
    add: tuple = ()
    mul: tuple = ()
    coeff: int = 0

    def cycles(self) -> int:
        """Cycles the step takes (the root table's three, else one)."""
        return 3 if self.op is MicroOp.ROOT else 1


@dataclass(frozen=True)
class WdfMicroParams:
    """Everything a :class:`WdfMicroCore` is built from.

    Widths and fraction bits of the input, waves and output; the coefficients'
    fraction bits; the register count (register 0 reads 0, register 1 holds the
    input sample); the steps; the root table (``halves`` 0 for none, 1 odd
    symmetric, 2 both signs; grid and entries as :class:`WdfCore`'s); rounding
    and overflow of the waves and the output.  Errors name ``WdfMicroCore``.
    """
    in_width: int
    in_frac: int
    wave_width: int
    wave_frac: int
    out_width: int
    out_frac: int
    coeff_frac: int
    registers: int
    steps: tuple
    halves: int = 0
    table_range_log2: int = 0
    table_octaves: int = 1
    segments_log2: int = 0
    table: tuple = ()
    wave_rounding: WdfRounding = WdfRounding.NEAREST
    wave_saturate: bool = True
    out_rounding: WdfRounding = WdfRounding.NEAREST
    out_saturate: bool = True

    def __post_init__(self):
        owner = "WdfMicroCore"
        for name in ("in_width", "wave_width", "out_width", "coeff_frac"):
            check_int(owner, name, getattr(self, name), minimum=1)
        for name in ("in_frac", "wave_frac", "out_frac"):
            check_int(owner, name, getattr(self, name), minimum=0)
        check_int(owner, "registers", self.registers, minimum=2)
        for name in ("wave_saturate", "out_saturate"):
            check_bool(owner, name, getattr(self, name))
        for name in ("wave_rounding", "out_rounding"):
            if not isinstance(getattr(self, name), WdfRounding):
                raise HdlError(f"{owner}: {name} must be a WdfRounding (NEAREST, FLOOR or "
                               f"MAGNITUDE), not {getattr(self, name)!r}")
        if check_int(owner, "halves", self.halves, minimum=0) > 2:
            raise HdlError(f"{owner}: halves must be 0 (no root table), 1 or 2, not "
                           f"{self.halves}")
        if self.halves:
            self.root           # checks the table
        if not isinstance(self.steps, tuple) or not self.steps:
            raise HdlError(f"{owner}: steps must be a non-empty tuple of MicroStep")
        bound = 1 << (self.coeff_frac + 1)
        for i, s in enumerate(self.steps):
            self._check_step(owner, i, s, bound)
        if sum(s.op is MicroOp.OUT for s in self.steps) != 1:
            raise HdlError(f"{owner}: needs exactly one OUT step")

    def _check_step(self, owner, i, s, bound):
        where = f"{owner}: step {i}"
        if not isinstance(s, MicroStep) or not isinstance(s.op, MicroOp):
            raise HdlError(f"{where} must be a MicroStep with a MicroOp, not {s!r}")
        for what in ("add", "mul"):
            terms = getattr(s, what)
            if not isinstance(terms, tuple) or len(terms) > _MAX_TERMS or any(
                    not isinstance(t, tuple) or len(t) != 2 or t[1] not in (1, -1)
                    or not isinstance(t[0], int) or not 0 <= t[0] < self.registers
                    for t in terms):
                raise HdlError(f"{where}: {what} must be at most {_MAX_TERMS} (register in "
                               f"[0, {self.registers}), ±1) terms, not {terms!r}")
        if s.op is MicroOp.OUT:
            return
        if not 2 <= s.dst < self.registers:
            raise HdlError(f"{where}: dst must be a register in [2, {self.registers}), "
                           f"not {s.dst!r}")
        if not -bound < s.coeff < bound:
            raise HdlError(f"{where}: coeff {s.coeff} must lie in (−2**(coeff_frac+1), "
                           f"2**(coeff_frac+1))")
        if s.op is MicroOp.ROOT and (not self.halves or s.mul or s.coeff):
            raise HdlError(f"{where}: a ROOT step needs a root table (halves > 0) and takes "
                           f"only add terms")

    @property
    def root(self) -> RootTable:
        return RootTable("WdfMicroCore", self.wave_width, self.table_range_log2 + self.wave_frac,
                         self.table_octaves, self.segments_log2, self.halves, self.table)

    @property
    def cycles_per_sample(self) -> int:
        """The steps' cycles and one for the output (which also takes the next sample)."""
        return sum(s.cycles() for s in self.steps) + 1


class WdfMicroCore(CheckedComponent):
    """Any WDF tree in fixed point, one input sample per ``sink`` beat and one output sample per
    ``source`` beat, bit-exact with ``bitwave.ir.wdf.run_program``.

    Registers ``r[0..registers)`` of ``signed(wave_width)``: ``r[0]`` reads 0, ``r[1]``
    takes the input sample (re-expressed in the wave format) when a sample is
    accepted, the others hold the reactances' states and the waves of one
    sample.  The steps run in order, one per cycle (a ``ROOT`` step three)::

        ALU:  r[dst] = fit(Σ add + round(coeff · Σ mul, coeff_frac))
        ROOT: r[dst] = TABLE(fit(Σ add))                 (see bitwave.hdl._wdf_root)
        OUT:  out    = fit_out(round(Σ add, wave_frac + 1 − out_frac))

    each sum over ``±r[i]`` terms.  One adder tree and one multiplier serve every
    ALU step (and the root table's interpolation, in its last cycle): a step
    only selects their six operands (a register and a sign each) and the
    coefficient, so a larger tree takes more cycles per sample (one per step,
    three per ``ROOT`` step, plus the cycle showing the result) and the same
    multiplier.  That last cycle shows the output on ``source`` and, when it
    is taken, also takes the next sample (``sink.ready`` then follows
    ``source.ready`` combinationally).

    Attributes
    ----------
    params : WdfMicroParams
    cycles_per_sample, latency : int
        Cycles between accepted samples at full rate, and from a sample's
        acceptance to its result on ``source`` (equal).
    """

    @classmethod
    def check(cls, params) -> dict:
        """The checked parameters (they checked their own fields when made)."""
        return check_core_params("WdfMicroCore", params, WdfMicroParams, "bitwave.lower._wdf.wdf_micro_params(program) from a WdfProgram")

    def __init__(self, params):
        self.cycles_per_sample = self.latency = params.cycles_per_sample
        super().__init__(sample_streams(params))

    def elaborate(self, platform):
        m = Module()
        p = self.params
        W, F = p.wave_width, p.wave_frac
        regs = [Signal(signed(W), name=f"r{i}") for i in range(p.registers)]
        out = Signal(signed(p.out_width))
        n = len(p.steps)
        pc = Signal(range(n + 1))        # n: the output cycle
        phase = Signal(range(3))        # cycle within a ROOT step
        busy = Signal()
        done = busy & (pc == n)
        take = self.sink.valid & self.sink.ready
        m.d.comb += [
            self.sink.ready.eq(~busy | (done & self.source.ready)),
            self.source.valid.eq(done),
            self.source.payload.eq(out),
        ]
        coeff = Signal(signed(p.coeff_frac + 2))
        # Six operand slots (three added, three multiplied), each a register select and a
        # subtract flag set by the step; an unused slot selects r[0] = 0.
        file = Array(regs)
        sel = [Signal(range(p.registers), name=f"sel{k}") for k in range(2 * _MAX_TERMS)]
        sub = [Signal(name=f"sub{k}") for k in range(2 * _MAX_TERMS)]
        ops = [Mux(sub[k], -file[sel[k]], file[sel[k]]) for k in range(2 * _MAX_TERMS)]
        add_sum = Signal(signed(W + 2))
        mul_sum = Signal(signed(W + 2))
        m.d.comb += [add_sum.eq(sum(ops[:_MAX_TERMS])), mul_sum.eq(sum(ops[_MAX_TERMS:]))]

        # One adder and one multiplier for every ALU step; each step only picks operands.  The
        # root table's interpolation borrows the multiplier in its last cycle.
        interp = Signal()
        diff = Signal(signed(W + 1))
        frac = Signal(range(1 << max(p.root.segment_shift, 1))) if p.halves else Signal()
        product = Signal(signed(W + p.coeff_frac + 5))
        m.d.comb += product.eq(Mux(interp, frac, coeff) * Mux(interp, diff, mul_sum))
        result = fit_signed(add_sum + round_shift(product, p.coeff_frac, p.wave_rounding),
                            W, p.wave_saturate)
        root_in = Signal(signed(W))
        m.d.comb += root_in.eq(fit_signed(add_sum, W, p.wave_saturate))
        in_root = Signal()
        root = None
        if p.halves:
            def shared(d, f):
                m.d.comb += [diff.eq(d), frac.eq(f)]
                return product
            root = root_table_logic(m, p.root, root_in, in_root & (phase == 0),
                                    in_root & (phase == 1), rounding=p.wave_rounding,
                                    saturate=p.wave_saturate, product=shared)
            m.d.comb += interp.eq(in_root & (phase == 2))
        with m.If(take):
            m.d.sync += [
                regs[1].eq(fit_signed(round_shift(self.sink.payload, p.in_frac - F,
                                                  p.wave_rounding), W, p.wave_saturate)),
                busy.eq(1), pc.eq(0), phase.eq(0),
            ]
        with m.Elif(done & self.source.ready):
            m.d.sync += busy.eq(0)
        with m.If(busy):
            with m.Switch(pc):
                for i, s in enumerate(p.steps):
                    with m.Case(i):
                        slots = list(s.add) + [(0, 1)] * (_MAX_TERMS - len(s.add)) \
                            + list(s.mul) + [(0, 1)] * (_MAX_TERMS - len(s.mul))
                        m.d.comb += [coeff.eq(s.coeff)]
                        m.d.comb += [sel[k].eq(r) for k, (r, _) in enumerate(slots) if r]
                        m.d.comb += [sub[k].eq(1) for k, (_, g) in enumerate(slots) if g < 0]
                        if s.op is MicroOp.ALU:
                            m.d.sync += [regs[s.dst].eq(result), pc.eq(i + 1)]
                        elif s.op is MicroOp.OUT:
                            m.d.sync += [
                                out.eq(fit_signed(round_shift(add_sum, F + 1 - p.out_frac,
                                                              p.out_rounding),
                                                  p.out_width, p.out_saturate)),
                                pc.eq(i + 1),
                            ]
                        else:
                            m.d.comb += in_root.eq(1)
                            with m.If(phase == 2):
                                m.d.sync += [regs[s.dst].eq(root), pc.eq(i + 1), phase.eq(0)]
                            with m.Else():
                                m.d.sync += phase.eq(phase + 1)
        return m
