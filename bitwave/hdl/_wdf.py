"""Wave-digital-filter core: one clipper-class WDF evaluated once per audio sample."""

from dataclasses import dataclass

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import enum, stream
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..errors import HdlError
from ._checked import CheckedComponent
from ._params import check_bool, check_int, int_range
from ._resources import Estimate, Resources

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


def _round_shift(value, shift, rounding):
    """``value · 2**-shift`` as an integer, rounded by ``rounding`` (a :class:`WdfRounding`)."""
    if shift <= 0:
        return value << -shift
    if rounding is WdfRounding.NEAREST:
        return (value + (1 << (shift - 1))) >> shift
    if rounding is WdfRounding.MAGNITUDE:
        return (value + Mux(value < 0, (1 << shift) - 1, 0)) >> shift
    return value >> shift


def _fit(value, width, saturate):
    """``value`` brought into ``signed(width)``: clamp, or keep the low bits (wrap)."""
    if saturate:
        lo, hi = int_range(width, True)
        value = Mux(value < lo, lo, Mux(value > hi, hi, value))
    return value[:width].as_signed()


@dataclass(frozen=True)
class WdfCoreParams:
    """Everything a :class:`WdfCore` is built from (its docstring says what each field does).

    Widths and fraction bits of the input, the waves and the output; the adaptor
    coefficient ``coeff · 2**-coeff_frac``; the structure (``series``,
    ``inductor``, ``probe``); the root table (values, then curvatures) and its
    grid; rounding (:class:`WdfRounding`) and overflow (saturate or wrap) of
    the waves and of the output.
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
        for name in ("wave_saturate", "out_saturate"):
            checked(name, check_bool)
        for name in ("wave_rounding", "out_rounding"):
            if not isinstance(getattr(self, name), WdfRounding):
                raise HdlError(f"{owner}: {name} must be a WdfRounding (NEAREST, FLOOR or "
                               f"MAGNITUDE), not {getattr(self, name)!r}")

        checked("table_range_log2", check_int)
        if not 0 <= self.span <= self.wave_width - 1:
            raise HdlError(f"{owner}: table_range_log2 + wave_frac = {self.span} must lie in "
                           f"[0, wave_width − 1 = {self.wave_width - 1}]: the table cannot "
                           f"reach past the wave format")
        checked("table_octaves", check_int, minimum=1)
        checked("segments_log2", check_int, minimum=0)
        if self.table_octaves > self.span + 1 or \
                self.segments_log2 > self.span - self.table_octaves + 1:
            raise HdlError(f"{owner}: {self.table_octaves} octaves of 2**{self.segments_log2} "
                           f"segments need segments narrower than one code; lower "
                           f"segments_log2 or table_octaves")
        table = self.table
        entries = 2 * self.segments + 1
        if isinstance(table, (str, bytes)) or not hasattr(table, "__len__") \
                or len(table) != entries:
            raise HdlError(f"{owner}: table must be a sequence of 2·table_octaves·"
                           f"2**segments_log2 + 1 = {entries} integers (values, then "
                           f"curvatures)")
        table = tuple(check_int(owner, f"table[{k}]", t) for k, t in enumerate(table))
        lo, hi = int_range(self.wave_width, True)
        for k, t in enumerate(table):
            if not lo <= t <= hi:
                raise HdlError(f"{owner}: table[{k}] = {t} does not fit signed({self.wave_width})")
        object.__setattr__(self, "table", table)

    @property
    def span(self) -> int:
        """Bits of ``|a|`` codes the root table covers (``table_range_log2 + wave_frac``)."""
        return self.table_range_log2 + self.wave_frac

    @property
    def segments(self) -> int:
        """Segments of the root table (``table_octaves·2**segments_log2``)."""
        return self.table_octaves << self.segments_log2

    @property
    def curve_bits(self) -> int:
        """``Q``: bits of the segment offset that weigh the curvature (at most 15)."""
        return min(self.segment_shift, 15)

    @property
    def curvature_width(self) -> int:
        """Bits of the widest curvature, two's complement."""
        n = self.segments
        return max(max((c if c >= 0 else ~c).bit_length() for c in self.table[n + 1:]) + 1, 2)

    @property
    def segment_shift(self) -> int:
        """``S``: log2 of the widest segment in codes (the interpolation's fraction bits)."""
        return (self.span - self.table_octaves + 1 - self.segments_log2
                + max(self.table_octaves - 2, 0))


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
    coefficient multiply and three interpolation multiplies per sample, the
    curve step's apart from the root step's two so no cycle chains two.
    The breakpoint values are split into two memories, even and odd
    breakpoints, so both ends of a segment come out in the same cycle from one
    read port each and every entry is stored once; the curvatures are a third.

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
        always ready (6: the next sample is taken in the cycle a result is).
    latency : int
        Cycles from the cycle a sample is accepted to the first cycle its result is
        valid on ``source`` (6).
    table_bits : int
        Bits of root-table memory (``len(table)·wave_width``).
    """

    cycles_per_sample = 6
    latency = 6

    @classmethod
    def check(cls, params) -> dict:
        """The checked parameters (the :class:`WdfCoreParams` checked themselves)."""
        if not isinstance(params, WdfCoreParams):
            raise HdlError(f"WdfCore: params must be a WdfCoreParams, not "
                           f"{type(params).__name__}; bitwave.lower.wdf_core_params(spec) makes "
                           f"one from a WdfFixed")
        return {"params": params}

    def __init__(self, params):
        self.table_bits = len(params.table) * params.wave_width
        super().__init__({
            "sink": In(stream.Signature(signed(params.in_width))),
            "source": Out(stream.Signature(signed(params.out_width))),
        })

    def elaborate(self, platform):
        m = Module()
        p = self.params
        W, F = p.wave_width, p.wave_frac
        K, seg = p.table_octaves, p.segments_log2
        span, low = p.span, p.span - p.table_octaves + 1
        S = p.segment_shift

        def fit(v):
            return _fit(v, W, p.wave_saturate)

        def rnd(v, shift):
            return _round_shift(v, shift, p.wave_rounding)

        state = Signal(signed(W))
        a1 = Signal(signed(W))
        a2 = Signal(signed(W))
        b0 = Signal(signed(W))
        br = Signal(signed(W))
        out = Signal(signed(p.out_width))
        neg = Signal()
        beyond = Signal()
        excess = Signal(signed(W + 1))
        Q = p.curve_bits
        frac = Signal(unsigned(max(S, 1)))
        curve = Signal(unsigned(max(Q, 1)))

        mask = (1 << W) - 1
        n = p.segments
        words = [t & mask for t in p.table[:n + 1]]
        m.submodules.even = even = Memory(shape=unsigned(W), depth=len(words[0::2]),
                                          init=words[0::2])
        m.submodules.odd = odd = Memory(shape=unsigned(W), depth=len(words[1::2]),
                                        init=words[1::2])
        CW = p.curvature_width
        m.submodules.curv = curv = Memory(shape=unsigned(CW), depth=n,
                                          init=[c & ((1 << CW) - 1) for c in p.table[n + 1:]])
        rd_even, rd_odd, rd_curv = even.read_port(), odd.read_port(), curv.read_port()
        odd_k = Signal()      # the segment starts on an odd breakpoint
        seg_k = Signal(range(len(words)))

        step = Signal(_Step)
        # A sample may also be taken in the cycle the previous result is: a stream of
        # samples costs six cycles each, not seven.
        take = self.sink.valid & self.sink.ready
        reading = step == _Step.LOCATE
        m.d.comb += [
            self.sink.ready.eq((step == _Step.IDLE)
                               | ((step == _Step.OUTPUT) & self.source.ready)),
            self.source.valid.eq(step == _Step.OUTPUT),
            self.source.payload.eq(out),
            # Segment k spans breakpoints k and k+1: one is even, the other odd.  The read
            # ports hold their data until the next LOCATE, so ROOT reads it two steps on.
            rd_even.en.eq(reading), rd_odd.en.eq(reading), rd_curv.en.eq(reading),
            rd_even.addr.eq((seg_k + 1) >> 1),
            rd_odd.addr.eq(seg_k >> 1),
            rd_curv.addr.eq(seg_k),
        ]

        mag = Signal(unsigned(W))
        m.d.comb += mag.eq(Mux(b0 < 0, -b0, b0))
        # Zone of |b0|: 0 below 2**low codes, then one zone per octave (a priority encoder
        # over the K−1 bits above the zone-0 range).
        zone_bits = mag[low:span] if K > 1 else Const(0, 1)
        with m.If(take):
            m.d.sync += [
                a1.eq(fit(_round_shift(self.sink.payload, p.in_frac - F, p.wave_rounding))),
                a2.eq(fit(-state) if p.inductor else state),
            ]
        with m.Switch(step):
            with m.Case(_Step.IDLE):
                with m.If(take):
                    m.d.sync += step.eq(_Step.ADAPT)
            with m.Case(_Step.ADAPT):
                if p.series:
                    m.d.sync += b0.eq(fit(-(a1 + a2)))
                else:
                    m.d.sync += b0.eq(fit(a2 + rnd((a1 - a2) * p.coeff, p.coeff_frac)))
                m.d.sync += step.eq(_Step.LOCATE)
            with m.Case(_Step.LOCATE):
                m.d.sync += [
                    neg.eq(b0 < 0),
                    beyond.eq(mag >= (1 << span)),
                    excess.eq(mag - (1 << span)),
                    odd_k.eq(seg_k[0]),
                    step.eq(_Step.CURVE),
                ]
                zone_width = max(K - 1, 1).bit_length()
                with m.Switch(zone_bits):
                    for z in range(K):
                        sh = low - seg + max(z - 1, 0)
                        # Zone z: the leading one of |b0| above the zone-0 range is bit z−1.
                        pattern = ("0" * (K - 1 - z) + "1" + "-" * (z - 1)) if z else "0" * (K - 1)
                        with m.Case(pattern or "-"):
                            m.d.comb += seg_k.eq(Cat(mag[sh:sh + seg], Const(z, zone_width)))
                            m.d.sync += frac.eq(mag[:sh] << (S - sh) if sh else 0)
            with m.Case(_Step.CURVE):
                m.d.sync += [
                    curve.eq((frac[S - Q:S] * ((1 << Q) - frac[S - Q:S])) >> Q),
                    step.eq(_Step.ROOT),
                ]
            with m.Case(_Step.ROOT):
                lo_end, hi_end = rd_even.data.as_signed(), rd_odd.data.as_signed()
                base = Mux(odd_k, hi_end, lo_end)
                diff = Mux(odd_k, lo_end - hi_end, hi_end - lo_end)
                inside = base + rnd(diff * frac + ((rd_curv.data.as_signed() * curve) << (S - Q)), S)
                y = Mux(beyond, Const(p.table[n], signed(W)) - excess, inside)
                m.d.sync += [
                    br.eq(fit(Mux(neg, -y, y))),
                    step.eq(_Step.SCATTER),
                ]
            with m.Case(_Step.SCATTER):
                if p.series:
                    b1 = fit(a1 - rnd((br + a1 + a2) * p.coeff, p.coeff_frac))
                    b2 = fit(-(br + b1))
                else:
                    b1 = fit(br + b0 - a1)
                    b2 = fit(br + b0 - a2)
                probed = (b0 + br, a1 + b1, a2 + b2)[p.probe]
                m.d.sync += [
                    state.eq(b2),
                    out.eq(_fit(_round_shift(probed, F + 1 - p.out_frac, p.out_rounding),
                                p.out_width, p.out_saturate)),
                    step.eq(_Step.OUTPUT),
                ]
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
        (in_width, out_width), = widths
        return {"cores": cores, "in_width": in_width, "out_width": out_width}

    def __init__(self, cores):
        self.n = len(self.cores)
        self.cycles_per_frame = WdfCore.cycles_per_sample
        self.latency = WdfCore.latency
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


#: Calibration against Yosys ``synth_ice40`` + nextpnr of the clipper core (one channel):
#: 24-bit waves (root table in block RAM): 912 LUT4 and 6 DSPs with ``-dsp``, 2296 LUT4
#: without; 16-bit waves (table in LUTs): 739 LUT4 and 2 DSPs with ``-dsp``.
_LUT_PER_WAVE_BIT = 37          # datapath, clamps, muxes and sequencing, per wave bit
_LUT_PER_SOFT_PRODUCT_BIT = 1.4
_DSP_WIDTH, _DSP_MIN_SLICE = 16, 2      # SB_MAC16 operands; Yosys keeps thinner slices in LUTs
#: DSP blocks of the smallest device with them that bitwave targets (iCE40UP5K).
DSP_BUDGET = 8


def _dsp_slices(width):
    return width // _DSP_WIDTH + (width % _DSP_WIDTH >= _DSP_MIN_SLICE)


def estimate_wdf(params, model=None):
    """Estimate LUT4s, flip-flops, block RAMs and DSPs of a :class:`WdfBank` of cores with
    ``params`` (one :class:`WdfCoreParams` per channel; iCE40 costs).

    Per core, following :meth:`WdfCore.elaborate`: six wave-wide registers,
    the output, interpolation-fraction and curve registers; the datapath
    (adders, saturating clamps, the step multiplexers) at a measured cost per
    wave bit; the even and odd breakpoint values and the curvatures in block
    RAM or LUT ROM by Yosys' rule (:class:`~bitwave.hdl.CostModel`); the
    coefficient multiply (``wave_width + 1`` by the coefficient's bits), the
    interpolation multiply (``wave_width + 1`` by the fraction's bits) and the
    curve's two (``Q`` by ``Q + 1`` bits, curvature by ``Q + 1``).  Those go to SB_MAC16 DSPs, cut
    into 16-bit slices as Yosys' ``mul2dsp`` does, when the whole bank needs at
    most :data:`DSP_BUDGET` of them (then the board flow synthesises with
    ``-dsp``), else to soft multipliers.  Returns an :class:`Estimate`.
    """
    from ._estimate import ICE40
    model = model or ICE40
    cores = []
    for p in params:
        W, S, Q, CW, n = (p.wave_width, max(p.segment_shift, 1), max(p.curve_bits, 1),
                          p.curvature_width, p.segments)
        mults = ((W + 1, p.coeff.bit_length() + 1), (W + 1, S + 1), (Q, Q + 1), (CW, Q + 1))
        dsp = sum(_dsp_slices(a) * _dsp_slices(b) for a, b in mults)
        soft = sum(a * b for a, b in mults) * _LUT_PER_SOFT_PRODUCT_BIT
        table_lut = table_ff = bram = 0
        for words, width in ((n // 2 + 1, W), ((n + 1) // 2, W), (n, CW)):
            blocks = min(-(-width // w) * -(-words // d) for d, w in model.bram_shapes)
            if blocks * model.bram_cost < words * width * model.rom_logic_cost_per_bit:
                bram += blocks
            else:
                per_bit = -(-words // model.rom_words_per_lut)
                table_lut += width * (per_bit + (per_bit - 1) * model.rom_mux_lut_per_block)
                table_ff += width
        lut = _LUT_PER_WAVE_BIT * W + table_lut + model.control_lut
        ff = 6 * W + p.out_width + S + Q + 8 + table_ff
        cores.append((lut, ff, bram, dsp, soft))
    use_dsp = sum(c[3] for c in cores) <= DSP_BUDGET
    parts = {f"ch{i}": (round(lut + (0 if use_dsp else soft)), ff)
             for i, (lut, ff, _, _, soft) in enumerate(cores)}
    return Estimate(Resources(lut=sum(p[0] for p in parts.values()), ff=sum(p[1] for p in parts.values()),
                              bram=sum(c[2] for c in cores),
                              dsp=sum(c[3] for c in cores) if use_dsp else 0), parts=parts)
