"""Wave-digital-filter core: one clipper-class WDF evaluated once per audio sample."""

from dataclasses import dataclass

from amaranth.hdl import Cat, Module, Signal, signed, unsigned
from amaranth.lib import enum, stream
from amaranth.lib.wiring import In, Out

from ..errors import HdlError
from ._checked import CheckedComponent
from ._params import check_bool, check_int
from ._wdf_estimate import estimate_wdf
from ._wdf_root import (RootTable, check_core_params, fit_signed, root_table_logic, round_shift,
                        sample_streams)
from ._wdf_serial import SerialMul, coeff_width, narrow_acc_width, narrow_plan

__all__ = ["WdfProbe", "WdfRounding", "WdfCoreParams", "WdfCore", "WdfBank", "estimate_wdf"]


class WdfProbe(enum.IntEnum):
    """The adaptor port whose voltage ``(a + b)/2`` a :class:`WdfCore` outputs."""
    ROOT = 0
    SOURCE = 1
    REACTANCE = 2


class WdfRounding(enum.IntEnum):
    """How a WDF datapath drops fraction bits."""
    NEAREST = 0       # round half up: floor(x + 1/2)
    FLOOR = 1         # toward minus infinity (an arithmetic shift)
    MAGNITUDE = 2     # toward zero (magnitude truncation): never adds energy


@dataclass(frozen=True)
class WdfCoreParams:
    """Everything a :class:`WdfCore` is built from (its docstring says what each field does).

    Widths and fraction bits of the input, the waves and the output; the adaptor
    coefficient ``coeff · 2**-coeff_frac``; the structure (``series``,
    ``inductor``, ``probe``); the root table (values, then curvatures) and its
    grid; rounding (:class:`WdfRounding`) and overflow (saturate or wrap) of
    the waves and of the output; ``narrow``: every product on one 16 × 16
    multiplier over several cycles (one DSP, more cycles per sample).
    Checked on construction; errors name ``WdfCore``, whose parameters these are.
    """
    in_width: int
    in_frac: int
    wave_width: int
    wave_frac: int
    out_width: int
    out_frac: int
    coeff: int
    coeff_frac: int
    series: bool
    inductor: bool
    probe: WdfProbe
    table_range_log2: int
    table_octaves: int
    segments_log2: int
    table: tuple[int, ...]
    wave_rounding: WdfRounding = WdfRounding.NEAREST
    wave_saturate: bool = True
    out_rounding: WdfRounding = WdfRounding.NEAREST
    out_saturate: bool = True
    narrow: bool = False

    def __post_init__(self):
        owner = "WdfCore"

        def checked(name, check, **kw):
            value = check(owner, name, getattr(self, name), **kw)
            object.__setattr__(self, name, value)
            return value

        checked("in_width", check_int, minimum=1)
        if checked("wave_width", check_int, minimum=1) < 2:
            raise HdlError(f"{owner}: wave_width must be at least 2, not {self.wave_width}")
        checked("out_width", check_int, minimum=1)
        for name in ("in_frac", "wave_frac", "out_frac"):
            checked(name, check_int, minimum=0)
        checked("coeff_frac", check_int, minimum=1)
        if checked("coeff", check_int, minimum=0) > 1 << self.coeff_frac:
            raise HdlError(f"{owner}: coeff {self.coeff} exceeds 2**coeff_frac = "
                           f"{1 << self.coeff_frac}; an adaptor coefficient lies in [0, 1]")
        checked("series", check_bool)
        checked("inductor", check_bool)
        if checked("probe", check_int, minimum=0) > 2:
            raise HdlError(f"{owner}: probe must be 0 (root), 1 (source) or 2 (reactance), "
                           f"not {self.probe}")
        object.__setattr__(self, "probe", WdfProbe(self.probe))
        for name in ("wave_saturate", "out_saturate", "narrow"):
            checked(name, check_bool)
        for name in ("wave_rounding", "out_rounding"):
            if not isinstance(getattr(self, name), WdfRounding):
                raise HdlError(f"{owner}: {name} must be a WdfRounding (NEAREST, FLOOR or "
                               f"MAGNITUDE), not {getattr(self, name)!r}")

        checked("table_range_log2", check_int)
        root = RootTable(owner, self.wave_width, self.span, self.table_octaves,
                         self.segments_log2, 1, self.table)
        object.__setattr__(self, "table", root.table)

    @property
    def span(self) -> int:
        """Bits of ``|a|`` codes the root table covers (``table_range_log2 + wave_frac``)."""
        return self.table_range_log2 + self.wave_frac

    @property
    def root(self) -> RootTable:
        """The root table (one half: odd symmetry)."""
        return RootTable("WdfCore", self.wave_width, self.span, self.table_octaves,
                         self.segments_log2, 1, self.table)


class _Step(enum.Enum, shape=3):
    IDLE = 0      # sink.ready: take a sample, convert it to a wave
    ADAPT = 1     # adaptor's wave up to the root
    LOCATE = 2    # table segment of |b0| -> table addresses, offset into the segment
    CURVE = 3     # u·(1 − u) of the offset (the quadratic term's weight)
    ROOT = 4      # interpolate the table: the root's reflected wave
    SCATTER = 5   # waves down to the leaves, new state, probe voltage
    OUTPUT = 6    # source.valid until taken; the next sample may be taken with it


class WdfCore(CheckedComponent):
    """A clipper-class WDF in fixed point: one input sample per ``sink`` beat, one output sample
    per ``source`` beat, bit-exact with ``bitwave.ir.wdf.run_fixed``.

    The tree: a 3-port adaptor (``series`` or parallel) with the resistive
    source on port 1 (it reflects the input), a capacitor or (``inductor``) an
    inductor on port 2 (it reflects its stored wave, negated for an inductor)
    and a diode pair at the root, evaluated as a piecewise-quadratic table of
    ``b(|a|)`` with odd symmetry.  Per sample, with waves in ``signed(wave_width)``
    of ``wave_frac`` fraction bits and every sum or product brought back into that
    format (rounding by ``wave_rounding``, overflow by ``wave_saturate``)::

        a1 = input (re-expressed in the wave format);  a2 = ±state
        parallel: b0 = a2 + g·(a1 − a2);   series: b0 = −(a1 + a2)
        br = ROOT(b0)
        parallel: b1 = br + b0 − a1, b2 = br + b0 − a2
        series:   b1 = a1 − g·(br + a1 + a2), b2 = −(br + b1)
        state = b2;  output = (a_p + b_p)/2 of port ``probe`` (0 root, 1 source, 2 reactance)

    All names are fields of the :class:`WdfCoreParams` it is built from.
    ``g = coeff · 2**-coeff_frac``.  The table covers ``|a| < 2**(table_range_log2 +
    wave_frac)`` codes in ``table_octaves`` zones (zone 0, then octaves), each of
    ``2**segments_log2`` equal segments; ``table`` holds the ``N + 1`` breakpoint
    values ``t`` then the ``N`` segment curvatures ``c`` (``N`` segments).  With
    ``f`` the offset into segment ``k`` in units of ``2**-S`` of a segment
    (``S = segment_shift``) and ``g = f >> (S − Q)`` its top ``Q = min(S, 15)``
    bits: ``q = (g·(2**Q − g)) >> Q`` and
    ``ROOT = t[k] + round((t[k+1] − t[k])·f + (c[k]·q << (S − Q)), S)``.  Beyond the table the
    reflected wave continues with slope −1.

    Hardware: one sample in flight, a seven-step sequence (accept, adapt,
    locate, curve, root, scatter, output) whose output step also accepts the
    next sample when one is waiting and the result is taken, so a stream costs
    six cycles per sample (``sink.ready`` then follows ``source.ready``
    combinationally; every other handshake output comes from registers); one
    multiplier for the coefficient's product and, in the root step, the
    interpolation's main product, and two small ones for the curvature term
    (the curve step's apart from the root step's, so no cycle chains two).
    The breakpoint values are split into two memories, even and odd
    breakpoints, so both ends of a segment come out in the same cycle from one
    read port each and every entry is stored once; the curvatures are a third.

    With ``narrow`` there is one signed 16 × 16 multiplier (one iCE40 DSP)
    instead: every product is summed from 15-bit digit products, one per cycle
    (:mod:`~bitwave.hdl._wdf_serial`), and ``g·(1 − g)`` becomes
    ``g·2**Q − g·g``.  Bit for bit the same results; :meth:`cycles` per sample
    instead of six (16 for 23-bit waves, a 22-bit coefficient and 16-bit
    segment offsets).  The table segment is registered before the tables are
    read (a cycle the curve step waits anyway), which keeps |a|, the zone
    encoder and the table's read logic out of one cycle.

    Why not more steps: the state recurrence keeps one sample in flight, so
    the rate is ``fmax / cycles_per_sample`` and only shorter *total* logic
    per sample helps.  Measured on the iCE40UP5K for the piecewise-linear
    table this core had before (24-bit waves, DSPs, before the output step
    doubled as accept): six steps ran at 21.1 MHz; a seventh registering the
    table read gave 21.2 MHz, an eighth registering the probe 24.6 MHz, both
    fewer samples per second.

    Attributes
    ----------
    params : WdfCoreParams
        What the core was built from (``WdfCore(params)``).
    cycles_per_sample : int
        Cycles between accepted samples with ``sink`` always valid and ``source``
        always ready (6, more when ``narrow``: the next sample is taken in the cycle a
        result is).
    latency : int
        Cycles from the cycle a sample is accepted to the first cycle its result is
        valid on ``source`` (equal to ``cycles_per_sample``).
    table_bits : int
        Bits of root-table memory (``len(table)·wave_width``).
    """

    @staticmethod
    def cycles(params) -> int:
        """Cycles per sample (and latency) of a core built from ``params``: six, plus one per
        digit product on the narrow multiplier when ``narrow``."""
        return 6 + (sum(narrow_plan(params).values()) if params.narrow else 0)

    @classmethod
    def check(cls, params) -> dict:
        """The checked parameters (they checked their own fields when made)."""
        return check_core_params("WdfCore", params, WdfCoreParams, "bitwave.lower.wdf_core_params(spec) from a WdfFixed")

    def __init__(self, params):
        self.table_bits = len(params.table) * params.wave_width
        self.cycles_per_sample = self.latency = WdfCore.cycles(params)
        super().__init__(sample_streams(params))

    def elaborate(self, platform):
        m = Module()
        p = self.params
        W, F = p.wave_width, p.wave_frac

        def fit(v):
            return fit_signed(v, W, p.wave_saturate)

        def rnd(v, shift):
            return round_shift(v, shift, p.wave_rounding)

        state = Signal(signed(W))
        a1 = Signal(signed(W))
        a2 = Signal(signed(W))
        b0 = Signal(signed(W))
        br = Signal(signed(W))
        out = Signal(signed(p.out_width))

        step = Signal(_Step)
        # A sample may also be taken in the cycle the previous result is: a stream of
        # samples costs six cycles each, not seven.
        take = self.sink.valid & self.sink.ready
        m.d.comb += [
            self.sink.ready.eq((step == _Step.IDLE)
                               | ((step == _Step.OUTPUT) & self.source.ready)),
            self.source.valid.eq(step == _Step.OUTPUT),
            self.source.payload.eq(out),
        ]
        coeff_step = _Step.SCATTER if p.series else _Step.ADAPT
        coeff_x = br + a1 + a2 if p.series else a1 - a2
        S = max(p.root.segment_shift, 1)
        mk = None
        if p.narrow:
            # One 16×16 multiplier: each product as digit pairs, one per cycle (``mk`` counts them
            # within a step), then the step's own cycle reads the accumulator.
            plan = narrow_plan(p)
            mk = Signal(range(max(plan.values()) + 2))
            ser = SerialMul(m, narrow_acc_width(p))
            root, ops = root_table_logic(m, p.root, b0, step == _Step.LOCATE,
                                         (step == _Step.CURVE) & (mk == plan["curve"]),
                                         rounding=p.wave_rounding, saturate=p.wave_saturate,
                                         serial=ser)
            coeff_prog = ser.program(coeff_x, len(coeff_x), True, p.coeff, coeff_width(p))
            square = ser.program(ops.g, ops.g_width, False, ops.g, ops.g_width)
            cw = ser.program(ops.curv, ops.curv_width, True, ops.weight, ops.g_width)
            main = ser.program(ops.diff, ops.diff_width, True, ops.frac, ops.frac_width)
            programs = {coeff_step: coeff_prog, _Step.CURVE: square, _Step.ROOT: cw + main}
            product = ser.acc
        else:
            # One multiplier: the adaptor coefficient's product (ADAPT for a parallel adaptor,
            # SCATTER for a series one) and the root interpolation's (ROOT) in turn.
            mul_x = Signal(signed(W + 3))
            mul_k = Signal(signed(max(p.coeff_frac, S) + 2))
            product = Signal(signed(W + max(p.coeff_frac, S) + 5))
            m.d.comb += product.eq(mul_x * mul_k)

            def shared(diff, frac):
                with m.If(step == _Step.ROOT):
                    m.d.comb += [mul_x.eq(diff), mul_k.eq(frac)]
                return product
            root = root_table_logic(m, p.root, b0, step == _Step.LOCATE, step == _Step.CURVE,
                                    rounding=p.wave_rounding, saturate=p.wave_saturate,
                                    product=shared)
            with m.If(step == coeff_step):
                m.d.comb += [mul_x.eq(coeff_x), mul_k.eq(p.coeff)]
            programs = {}

        def advance(here, then, *stmts):
            """In step ``here``: its digit products first (narrow), then ``stmts`` and step
            ``then``."""
            prog = programs.get(here, [])
            if not prog:
                m.d.sync += [*stmts, step.eq(then)]
                return
            with m.Switch(mk):
                for c, drive in enumerate(prog):
                    with m.Case(c):
                        m.d.comb += drive
            if here is _Step.ROOT:
                with m.If(mk == len(cw)):
                    m.d.sync += ops.cw.eq(ser.acc)
            with m.If(mk == len(prog)):
                m.d.sync += [*stmts, step.eq(then), mk.eq(0)]
            with m.Else():
                m.d.sync += mk.eq(mk + 1)

        with m.If(take):
            m.d.sync += [
                a1.eq(fit(round_shift(self.sink.payload, p.in_frac - F, p.wave_rounding))),
                a2.eq(fit(-state) if p.inductor else state),
            ]
        with m.Switch(step):
            with m.Case(_Step.IDLE):
                with m.If(take):
                    m.d.sync += step.eq(_Step.ADAPT)
            with m.Case(_Step.ADAPT):
                advance(_Step.ADAPT, _Step.LOCATE,
                        b0.eq(fit(-(a1 + a2)) if p.series
                              else fit(a2 + rnd(product, p.coeff_frac))))
            with m.Case(_Step.LOCATE):
                m.d.sync += step.eq(_Step.CURVE)
            with m.Case(_Step.CURVE):
                advance(_Step.CURVE, _Step.ROOT)
            with m.Case(_Step.ROOT):
                advance(_Step.ROOT, _Step.SCATTER, br.eq(root))
            with m.Case(_Step.SCATTER):
                if p.series:
                    b1 = fit(a1 - rnd(product, p.coeff_frac))
                    b2 = fit(-(br + b1))
                else:
                    b1 = fit(br + b0 - a1)
                    b2 = fit(br + b0 - a2)
                probed = (b0 + br, a1 + b1, a2 + b2)[p.probe]
                advance(_Step.SCATTER, _Step.OUTPUT,
                        state.eq(b2),
                        out.eq(fit_signed(round_shift(probed, F + 1 - p.out_frac, p.out_rounding),
                                          p.out_width, p.out_saturate)))
            with m.Case(_Step.OUTPUT):
                with m.If(take):
                    m.d.sync += step.eq(_Step.ADAPT)
                with m.Elif(self.source.ready):
                    m.d.sync += step.eq(_Step.IDLE)
        return m


class WdfBank(CheckedComponent):
    """``cores`` (one :class:`WdfCore` per audio channel) side by side on one vector stream.

    ``sink`` carries one sample of every channel per beat, channel ``c`` in bits
    ``[c·in_width, (c+1)·in_width)`` (two's complement), as the other stream
    units of bitwave lay out vectors; ``source`` likewise.  Every core runs the
    same data-independent step sequence, so started together they stay in lock
    step: the first core's ``ready`` and ``valid`` stand for all of them.
    ``cycles_per_frame`` and ``latency`` are those of one core.
    """

    @classmethod
    def check(cls, cores) -> dict:
        """The checked cores (HdlError when they cannot share one stream)."""
        if isinstance(cores, (str, bytes)) or not hasattr(cores, "__iter__"):
            raise HdlError(f"WdfBank: cores must be a list of WdfCore, not {cores!r}")
        cores = tuple(cores)
        if not cores or not all(isinstance(c, WdfCore) for c in cores):
            raise HdlError("WdfBank: cores must be a non-empty list of WdfCore")
        widths = {(c.params.in_width, c.params.out_width) for c in cores}
        if len(widths) != 1:
            raise HdlError(f"WdfBank: all cores need the same input and output widths, "
                           f"not {sorted(widths)}")
        if len({c.cycles_per_sample for c in cores}) != 1:
            raise HdlError("WdfBank: all cores need the same cycles per sample (the same "
                           "narrow setting and product widths), or they fall out of step")
        (in_width, out_width), = widths
        return {"cores": cores, "in_width": in_width, "out_width": out_width}

    def __init__(self, cores):
        self.n = len(self.cores)
        self.cycles_per_frame = self.cores[0].cycles_per_sample
        self.latency = self.cores[0].latency
        super().__init__({
            "sink": In(stream.Signature(unsigned(self.n * self.in_width))),
            "source": Out(stream.Signature(unsigned(self.n * self.out_width))),
        })

    def elaborate(self, platform):
        m = Module()
        iw = self.in_width
        for c, core in enumerate(self.cores):
            m.submodules[f"ch{c}"] = core
            m.d.comb += [
                core.sink.valid.eq(self.sink.valid),
                core.sink.payload.eq(self.sink.payload[c * iw:(c + 1) * iw].as_signed()),
                core.source.ready.eq(self.source.ready),
            ]
        m.d.comb += [
            self.sink.ready.eq(self.cores[0].sink.ready),
            self.source.valid.eq(self.cores[0].source.valid),
            self.source.payload.eq(Cat(*[core.source.payload for core in self.cores])),
        ]
        return m
