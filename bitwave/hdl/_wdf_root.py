"""The nonlinear root of a WDF core in hardware: a piecewise-quadratic table of ``b(a)``.

Shared by :class:`~bitwave.hdl.WdfCore` (the clipper) and
:class:`~bitwave.hdl.WdfMicroCore` (any tree).  The table covers
``|a| < 2**span`` codes in ``octaves`` zones (zone 0, then one octave each) of
``2**segments_log2`` equal segments; per *half* it holds the ``N + 1``
breakpoint values ``t`` then the ``N`` segment curvatures ``c``.  One half is
``b`` for ``a ≥ 0``, negated for ``a < 0`` (odd symmetry, a diode pair); two
halves hold ``b(|a|)`` and ``b(−|a|)`` (a single diode).  With ``f`` the offset
into segment ``k`` in units of ``2**-S`` of a segment (``S = segment_shift``)
and ``g = f >> (S − Q)`` its top ``Q = min(S, 15)`` bits::

    q = (g·(2**Q − g)) >> Q
    b = t[k] + round((t[k+1] − t[k])·f + (c[k]·q << (S − Q)), S)

Beyond the table ``b`` continues with slope −1.  Three cycles: *locate* (zone,
segment and offset of ``|a|``; the table reads), *curve* (``q``) and
*interpolate* (the result, combinational in that cycle for the caller to
register).
"""

from dataclasses import dataclass

from amaranth.hdl import Cat, Const, Mux, Signal, signed, unsigned
from amaranth.lib import stream
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..errors import HdlError
from ._params import check_int, int_range

__all__ = ["RootTable", "RootOperands", "root_table_logic", "round_shift", "fit_signed", "CURVE_BITS",
           "check_core_params", "sample_streams"]

#: Bits of the segment offset that weigh the curvature (``Q`` above).
CURVE_BITS = 15


def round_shift(value, shift, rounding):
    """``value · 2**-shift`` as an integer, rounded by ``rounding`` (a ``WdfRounding``: 0 nearest,
    1 floor, 2 toward zero)."""
    if shift <= 0:
        return value << -shift
    if rounding == 0:
        return (value + (1 << (shift - 1))) >> shift
    if rounding == 2:
        return (value + Mux(value < 0, (1 << shift) - 1, 0)) >> shift
    return value >> shift


def fit_signed(value, width, saturate):
    """``value`` brought into ``signed(width)``: clamp, or keep the low bits (wrap)."""
    if saturate:
        lo, hi = int_range(width, True)
        value = Mux(value < lo, lo, Mux(value > hi, hi, value))
    return value[:width].as_signed()


def check_core_params(core: str, params, kind, maker: str) -> dict:
    """``{"params": params}`` if ``params`` is a ``kind``, else an HdlError naming ``maker``."""
    if not isinstance(params, kind):
        raise HdlError(f"{core}: params must be a {kind.__name__}, not {type(params).__name__}; "
                       f"{maker} makes one")
    return {"params": params}


def sample_streams(params) -> dict:
    """The ports of a WDF core: one signed input and one signed output sample per beat."""
    return {"sink": In(stream.Signature(signed(params.in_width))),
            "source": Out(stream.Signature(signed(params.out_width)))}


@dataclass(frozen=True)
class RootTable:
    """A root table for waves of ``wave_width`` bits (``span`` = range_log2 + wave_frac)."""
    owner: str
    wave_width: int
    span: int
    octaves: int
    segments_log2: int
    halves: int
    table: tuple

    def __post_init__(self):
        owner, W = self.owner, self.wave_width
        if not 0 <= self.span <= W - 1:
            raise HdlError(f"{owner}: table_range_log2 + wave_frac = {self.span} must lie in "
                           f"[0, wave_width − 1 = {W - 1}]: the table cannot reach past the "
                           f"wave format")
        check_int(owner, "table_octaves", self.octaves, minimum=1)
        check_int(owner, "segments_log2", self.segments_log2, minimum=0)
        if self.octaves > self.span + 1 or self.segments_log2 > self.span - self.octaves + 1:
            raise HdlError(f"{owner}: {self.octaves} octaves of 2**{self.segments_log2} "
                           f"segments need segments narrower than one code; lower "
                           f"segments_log2 or table_octaves")
        table, entries = self.table, self.halves * (2 * self.segments + 1)
        if isinstance(table, (str, bytes)) or not hasattr(table, "__len__") \
                or len(table) != entries:
            raise HdlError(f"{owner}: table must be a sequence of {self.halves}·(2·"
                           f"table_octaves·2**segments_log2 + 1) = {entries} integers "
                           f"(values, then curvatures, per half)")
        table = tuple(check_int(owner, f"table[{k}]", t) for k, t in enumerate(table))
        lo, hi = int_range(W, True)
        for k, t in enumerate(table):
            if not lo <= t <= hi:
                raise HdlError(f"{owner}: table[{k}] = {t} does not fit signed({W})")
        object.__setattr__(self, "table", table)

    @property
    def segments(self) -> int:
        return self.octaves << self.segments_log2

    @property
    def segment_shift(self) -> int:
        """``S``: log2 of the widest segment in codes (the interpolation's fraction bits)."""
        return self.span - self.octaves + 1 - self.segments_log2 + max(self.octaves - 2, 0)

    @property
    def curve_bits(self) -> int:
        return min(self.segment_shift, CURVE_BITS)

    def part(self, h: int, what: str) -> tuple:
        """Half ``h``'s breakpoint ``values`` or ``curves``."""
        n = self.segments
        base = h * (2 * n + 1)
        return self.table[base:base + n + 1] if what == "values" \
            else self.table[base + n + 1:base + 2 * n + 1]

    @property
    def curvature_width(self) -> int:
        """Bits of the widest curvature, two's complement."""
        curves = [c for h in range(self.halves) for c in self.part(h, "curves")]
        return max(max((c if c >= 0 else ~c).bit_length() for c in curves) + 1, 2)

    def memories(self):
        """(words, width) of the even-value, odd-value and curvature memories."""
        n = self.segments
        return (((n + 2) // 2 * self.halves, self.wave_width),
                ((n + 1) // 2 * self.halves, self.wave_width),
                (n * self.halves, self.curvature_width))


@dataclass
class RootOperands:
    """What a caller with one narrow multiplier (``serial``) feeds it for the root: ``g·g`` before
    ``curve``, then ``curv·weight`` (into register ``cw``) and ``diff·frac`` (left in the
    multiplier's accumulator) before the result is read."""
    g: object
    curv: object
    weight: object
    diff: object
    frac: object
    cw: object
    g_width: int
    curv_width: int
    diff_width: int
    frac_width: int


def root_table_logic(m, rt: RootTable, a, locate, curve, *, rounding, saturate, product=None,
                     serial=None):
    """Add the table's memories and datapath to module ``m``; return ``b`` (combinational, valid
    in the cycle after ``curve``).

    ``a`` (``signed(wave_width)``) must hold the incident wave in the cycle
    ``locate`` is true; ``curve`` is true in a later cycle and the result is
    read in a cycle after that.  The read ports keep their data until the next
    ``locate`` (with ``serial``, the tables are read in the cycle after
    ``locate``, so ``curve`` must come at least one cycle later).  ``product(diff, frac)``, if given, returns the interpolation's
    main product (``wave_width + 1`` by ``S`` bits) from a multiplier the
    caller shares; else the table has its own.  With ``serial`` (a
    :class:`~bitwave.hdl._wdf_serial.SerialMul`) the table has no multiplier:
    it returns ``(b, RootOperands)`` and the caller computes the three products
    on ``serial`` as :class:`RootOperands` says.
    """
    W, K, seg, span = rt.wave_width, rt.octaves, rt.segments_log2, rt.span
    low, S, Q, n = span - K + 1, rt.segment_shift, rt.curve_bits, rt.segments
    mask, CW = (1 << W) - 1, rt.curvature_width
    evens = [t & mask for h in range(rt.halves) for t in rt.part(h, "values")[0::2]]
    odds = [t & mask for h in range(rt.halves) for t in rt.part(h, "values")[1::2]]
    curves = [c & ((1 << CW) - 1) for h in range(rt.halves) for c in rt.part(h, "curves")]
    E, O = len(evens) // rt.halves, len(odds) // rt.halves
    m.submodules.even = even = Memory(shape=unsigned(W), depth=len(evens), init=evens)
    m.submodules.odd = odd = Memory(shape=unsigned(W), depth=len(odds), init=odds)
    m.submodules.curv = curv = Memory(shape=unsigned(CW), depth=len(curves), init=curves)
    rd_even, rd_odd, rd_curv = even.read_port(), odd.read_port(), curv.read_port()

    neg, beyond, odd_k = Signal(), Signal(), Signal()
    excess = Signal(signed(W + 1))
    frac = Signal(unsigned(max(S, 1)))
    weight = Signal(unsigned(max(Q, 1)))
    seg_k = Signal(range(n + 1))
    mag = Signal(unsigned(W))
    m.d.comb += mag.eq(Mux(a < 0, -a, a))
    half = (a < 0) if rt.halves == 2 else Const(0, 1)
    read, at = locate, seg_k
    if serial is not None:
        # The narrow core has cycles to spare: the segment is registered at ``locate`` and the
        # tables are read in the next cycle, so no path runs from the wave through |a|, the
        # zone encoder and the table's read logic in one cycle.
        at, half_r, read = Signal.like(seg_k, name="seg_r"), Signal(name="half_r"), Signal()
        with m.If(locate):
            m.d.sync += [at.eq(seg_k), half_r.eq(half)]
        m.d.sync += read.eq(locate)
        half = half_r
    m.d.comb += [
        # Segment k spans breakpoints k and k+1: one is even, the other odd.
        rd_even.en.eq(read), rd_odd.en.eq(read), rd_curv.en.eq(read),
        rd_even.addr.eq(half * E + ((at + 1) >> 1)),
        rd_odd.addr.eq(half * O + (at >> 1)),
        rd_curv.addr.eq(half * n + at),
    ]
    with m.If(locate):
        m.d.sync += [
            neg.eq(a < 0),
            beyond.eq(mag >= (1 << span)),
            excess.eq(mag - (1 << span)),
            odd_k.eq(seg_k[0]),
        ]
    # Zone of |a|: 0 below 2**low codes, then one zone per octave (a priority encoder over
    # the K−1 bits above the zone-0 range).
    zone_bits = mag[low:span] if K > 1 else Const(0, 1)
    zone_width = max(K - 1, 1).bit_length()
    with m.Switch(zone_bits):
        for z in range(K):
            sh = low - seg + max(z - 1, 0)
            # Zone z: the leading one of |a| above the zone-0 range is bit z−1.
            pattern = ("0" * (K - 1 - z) + "1" + "-" * (z - 1)) if z else "0" * (K - 1)
            with m.Case(pattern or "-"):
                m.d.comb += seg_k.eq(Cat(mag[sh:sh + seg], Const(z, zone_width)))
                with m.If(locate):
                    m.d.sync += frac.eq(mag[:sh] << (S - sh) if sh else 0)
    g = frac[S - Q:S]
    lo_end, hi_end = rd_even.data.as_signed(), rd_odd.data.as_signed()
    base = Mux(odd_k, hi_end, lo_end)
    diff = Mux(odd_k, lo_end - hi_end, hi_end - lo_end)
    if serial is None:
        with m.If(curve):
            m.d.sync += weight.eq((g * ((1 << Q) - g)) >> Q)
        main = diff * frac if product is None else product(diff, frac)
        cw_term = rd_curv.data.as_signed() * weight
    else:
        # g·(2**Q − g) = g·2**Q − g·g: only the square needs the multiplier.
        with m.If(curve):
            m.d.sync += weight.eq(((g << Q) - serial.acc) >> Q)
        main = serial.acc
        cw_term = Signal(signed(CW + Q + 1))
    inside = base + round_shift(main + (cw_term << (S - Q)), S, rounding)
    end_pos = Const(rt.part(0, "values")[n], signed(W))
    if rt.halves == 2:
        end_neg = Const(rt.part(1, "values")[n], signed(W))
        y = Mux(beyond, Mux(neg, end_neg + excess, end_pos - excess), inside)
    else:
        pos = Mux(beyond, end_pos - excess, inside)
        y = Mux(neg, -pos, pos)
    if serial is None:
        return fit_signed(y, W, saturate)
    return fit_signed(y, W, saturate), RootOperands(
        g=g, curv=rd_curv.data.as_signed(), weight=weight, diff=diff, frac=frac, cw=cw_term,
        g_width=max(Q, 1), curv_width=CW, diff_width=W + 1, frac_width=max(S, 1))
