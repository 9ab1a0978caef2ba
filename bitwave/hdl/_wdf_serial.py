"""One 16 × 16 multiplier for a whole WDF core: wide products as sums of digit products.

A :class:`~bitwave.hdl.WdfCore` built with ``narrow=True`` computes every
product on one signed 16 × 16 multiplier (one iCE40 SB_MAC16) and an
accumulator, over several cycles.  An operand is cut into 15-bit digits,
least significant first; the low digits are unsigned, the top digit of a
signed operand carries the sign (at most 16 bits).  With ``x = Σ d_i·2**15i``
and ``y = Σ e_j·2**15j``, the digit products are added most significant group
first (Horner's rule over ``w = i + j``)::

    acc = 0;  for w from top to 0:  acc = acc·2**15 + Σ_{i+j=w} d_i·e_j

so the accumulator only ever shifts by 0 or 15 bits: one 2:1 multiplexer in
front of its adder, where a full-width multiplier would take ``⌈x/16⌉·⌈y/16⌉``
DSPs and the adders that join them.  The result is exact (every step is a ring
operation modulo the accumulator's width, and the product fits it).
"""

from amaranth.hdl import Const, Mux, Signal, signed, unsigned
from amaranth.lib import enum

__all__ = ["DIGIT", "digit_count", "partials", "SerialMul", "coeff_width", "narrow_plan",
           "narrow_acc_width"]

#: Bits of an unsigned digit (a signed 16-bit multiplier input holds 15 unsigned bits).
DIGIT = 15


class Mode(enum.Enum, shape=2):
    """What the accumulator does with this cycle's digit product ``p``."""
    HOLD = 0      # nothing
    CLEAR = 1     # acc = p (a product's first digit pair)
    KEEP = 2      # acc = acc + p (same weight as the previous pair)
    SHIFT = 3     # acc = acc·2**15 + p (the next lower weight)


def digit_count(width: int, is_signed: bool) -> int:
    """Digits of a ``width``-bit operand (the top digit of a signed one may hold 16 bits)."""
    return max(1, -(-(width - is_signed) // DIGIT))


def _digit(value, width: int, is_signed: bool, i: int):
    n = digit_count(width, is_signed)
    if i < n - 1:
        return value[DIGIT * i:DIGIT * (i + 1)]
    top = value[DIGIT * i:width]
    return top.as_signed() if is_signed else top


def partials(x_width: int, x_signed: bool, y_width: int) -> list[tuple[int, int, Mode]]:
    """The digit pairs ``(i, j)`` of ``x·y`` (``y`` unsigned) in the order they are added, with the
    accumulator's mode for each."""
    nx, ny = digit_count(x_width, x_signed), digit_count(y_width, False)
    out = []
    for w in range(nx + ny - 2, -1, -1):
        pairs = [(i, w - i) for i in range(nx) if 0 <= w - i < ny]
        for k, (i, j) in enumerate(pairs):
            mode = Mode.CLEAR if not out else Mode.SHIFT if k == 0 else Mode.KEEP
            out.append((i, j, mode))
    return out


class SerialMul:
    """The multiplier and accumulator in module ``m``: :meth:`program` lists what one product
    drives cycle by cycle; ``acc`` holds the product in the cycle after its last pair.

    ``acc_width`` bits must hold every product computed (``x_width + y_width``).
    """

    def __init__(self, m, acc_width: int):
        self.dx, self.dy = Signal(signed(DIGIT + 1)), Signal(signed(DIGIT + 1))
        self.mode = Signal(Mode)
        self.acc = Signal(signed(acc_width))
        p = Signal(signed(2 * DIGIT + 2))
        m.d.comb += p.eq(self.dx * self.dy)
        base = Mux(self.mode == Mode.SHIFT, self.acc << DIGIT,
                   Mux(self.mode == Mode.KEEP, self.acc, 0))
        with m.If(self.mode != Mode.HOLD):
            m.d.sync += self.acc.eq(base + p)

    def program(self, x, x_width: int, x_signed: bool, y, y_width: int) -> list[list]:
        """Per cycle, the comb statements that add one digit pair of ``x·y`` (``y`` unsigned;
        either may be a constant int, taken as ``x_width``/``y_width`` bits)."""
        if isinstance(x, int):
            x = Const(x, signed(x_width) if x_signed else unsigned(x_width))
        if isinstance(y, int):
            y = Const(y, unsigned(y_width))
        return [[self.dx.eq(_digit(x, x_width, x_signed, i)),
                 self.dy.eq(_digit(y, y_width, False, j)), self.mode.eq(mode)]
                for i, j, mode in partials(x_width, x_signed, y_width)]


def coeff_width(p) -> int:
    """Bits of a core's adaptor coefficient (unsigned)."""
    return max(p.coeff.bit_length(), 1)


def narrow_plan(p) -> dict:
    """Cycles a narrow core adds to the six of a wide one, by step: one per digit product of the
    coefficient's product, the curve's square and the root's two products."""
    W, rt = p.wave_width, p.root
    Q, S, CW = max(rt.curve_bits, 1), max(rt.segment_shift, 1), rt.curvature_width
    return {"coeff": len(partials(W + 2 if p.series else W + 1, True, coeff_width(p))),
            "curve": len(partials(Q, False, Q)),
            "root": len(partials(CW, True, Q)) + len(partials(W + 1, True, S))}


def narrow_acc_width(p) -> int:
    """Bits of a narrow core's accumulator: the widest product it computes, plus one."""
    W, rt = p.wave_width, p.root
    Q, S, CW = max(rt.curve_bits, 1), max(rt.segment_shift, 1), rt.curvature_width
    return max(W + 2 + coeff_width(p), 2 * Q, CW + Q, W + 1 + S) + 1
