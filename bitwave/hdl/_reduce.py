"""Per-channel reduction of a window (pooling): max, exact sum, or OR of bits."""

from enum import Enum

from amaranth.hdl import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..errors import HdlError
from ._checked import CheckedComponent
from ._estimate import ICE40, _adder_tree, _result
from ._gather import SkidBuffer, skid_cost
from ._params import check_bool, check_int, format_name, int_range, signed_bits

__all__ = ["ReduceOp", "WindowReduce", "estimate_window_reduce"]


class ReduceOp(Enum):
    """What :class:`WindowReduce` computes per channel over the window's positions."""
    MAX = "max"
    SUM = "sum"
    #: Maximum of bipolar codes carried as bits (-1 → 0, +1 → 1).
    OR = "or"


def _arity(op):
    """Values a tree node combines: four bits fill a LUT4's inputs for OR."""
    return 4 if op is ReduceOp.OR else 2


def _combine(op, values):
    if op is ReduceOp.SUM:
        return values[0] + values[1]
    if op is ReduceOp.MAX:
        return Mux(values[0] > values[1], values[0], values[1])
    return Cat(*values).any()


class WindowReduce(CheckedComponent):
    """Reduce each channel of a window beat over its ``positions``.

    In: one window of ``positions·channels`` elements of ``elem_width`` bits,
    element ``p·channels + c`` being position ``p``, channel ``c`` (the order
    :class:`SlidingWindow` produces). Out: ``channels`` elements of
    ``out_width`` bits (signed when ``signed``), per channel:

    - ``op="max"``: the largest value (signed or unsigned compare);
      ``out_width`` must be ``elem_width``;
    - ``op="sum"``: the exact sum; ``out_width`` must hold every possible sum;
    - ``op="or"``: the OR of 1-bit unsigned elements (the maximum of bipolar
      codes carried as bits); ``out_width`` must be 1.

    A balanced tree per channel (pairs for max and sum, groups of four bits,
    one LUT4 each, for or) with a register after every level, all advancing
    together while the output :class:`SkidBuffer` has room, so ``sink.ready``
    and ``source.valid`` are registers; the last level writes into the
    buffer. ``cycles_per_frame = 1`` (one window per cycle); ``latency =
    max(levels, 1)`` with ``levels = ceil(log2(positions))``
    (``ceil(log4(positions))`` for or): cycles from a window's transfer to
    its result on ``source``.
    """

    @classmethod
    def check(cls, *, positions, channels, elem_width, signed, op, out_width) -> dict:
        """The checked parameters (HdlError naming the parameter when one is unusable)."""
        owner = "WindowReduce"
        positions = check_int(owner, "positions", positions, minimum=1)
        channels = check_int(owner, "channels", channels, minimum=1)
        elem_width = check_int(owner, "elem_width", elem_width, minimum=1)
        signed = check_bool(owner, "signed", signed)
        try:
            op = ReduceOp(op)
        except ValueError:
            names = ", ".join(repr(o.value) for o in ReduceOp)
            raise HdlError(f"{owner}: op must be one of {names}, not {op!r}") from None
        out_width = check_int(owner, "out_width", out_width, minimum=1)
        fmt = format_name(elem_width, signed)
        if op is ReduceOp.OR and (elem_width, signed) != (1, False):
            raise HdlError(f"{owner}: op 'or' takes 1-bit unsigned elements (bipolar codes "
                           f"as bits), not {fmt}; use op 'max' for integers")
        if op is ReduceOp.SUM:
            lo, hi = int_range(elem_width, signed)
            need = (signed_bits(positions * lo, positions * hi) if signed
                    else max(1, (positions * hi).bit_length()))
            if out_width < need:
                raise HdlError(f"{owner}: out_width={out_width} cannot hold a sum of "
                               f"{positions} {fmt} values ({positions * lo}..{positions * hi} "
                               f"needs {need} bits); pass out_width >= {need}")
        elif out_width != elem_width:
            raise HdlError(f"{owner}: op '{op.value}' keeps the element format, so out_width "
                           f"must be elem_width={elem_width}, not {out_width}")
        levels, left = 0, positions
        while left > 1:
            levels, left = levels + 1, -(-left // _arity(op))
        return dict(positions=positions, channels=channels, elem_width=elem_width,
                    signed=signed, op=op, out_width=out_width, levels=levels)

    def __init__(self, **_):
        self.cycles_per_frame = 1
        self.latency = max(self.levels, 1)
        super().__init__({
            "sink": In(stream.Signature(
                unsigned(self.positions * self.channels * self.elem_width))),
            "source": Out(stream.Signature(unsigned(self.channels * self.out_width))),
        })

    def elaborate(self, platform):
        m = Module()
        w, channels = self.elem_width, self.channels
        m.submodules.output = output = SkidBuffer(channels * self.out_width)
        wiring.connect(m, output.source, wiring.flipped(self.source))
        advance = output.sink.ready
        m.d.comb += self.sink.ready.eq(advance)

        def element(p, c):
            bits = self.sink.payload[(p * channels + c) * w:(p * channels + c + 1) * w]
            return bits.as_signed() if self.signed else bits

        lanes = [[element(p, c) for p in range(self.positions)] for c in range(channels)]
        valid = self.sink.valid
        arity = _arity(self.op)
        for level in range(self.levels):
            lanes = [[_combine(self.op, lane[i:i + arity]) if i + 1 < len(lane) else lane[i]
                      for i in range(0, len(lane), arity)] for lane in lanes]
            if level == self.levels - 1:
                break
            registered = Signal(name=f"valid{level + 1}")
            lanes = [[self._register(m, advance, value, f"l{level + 1}_c{c}_{i}")
                      for i, value in enumerate(lane)] for c, lane in enumerate(lanes)]
            with m.If(advance):
                m.d.sync += registered.eq(valid)
            valid = registered

        out_shape = signed(self.out_width) if self.signed else unsigned(self.out_width)
        results = []
        for c, (value,) in enumerate(lanes):
            result = Signal(out_shape, name=f"out{c}")
            m.d.comb += result.eq(value)
            results.append(result)
        m.d.comb += [output.sink.valid.eq(valid), output.sink.payload.eq(Cat(*results))]
        return m

    @staticmethod
    def _register(m, advance, value, name):
        register = Signal(value.shape(), name=name)
        with m.If(advance):
            m.d.sync += register.eq(value)
        return register


def estimate_window_reduce(*, model=ICE40, **params):
    """Estimate LUT4s and flip-flops of a :class:`WindowReduce`; takes the unit's parameters.

    Parts: the tree per channel (sum: carry-chain adders, each level registered,
    as the MVU's adder tree; max: a comparator and a 2:1 mux per node and bit;
    or: one LUT4 per group of up to four bits), its level registers (the last
    level writes into the output buffer instead), and the output
    :class:`SkidBuffer`. No block RAM.
    """
    p = WindowReduce.check(**params)
    positions, channels, w = p["positions"], p["channels"], p["elem_width"]
    levels = p["levels"]
    if p["op"] is ReduceOp.SUM:
        lut, ff = _adder_tree(model, positions, w)
        ff -= w + levels if levels else 0  # the root writes into the output buffer
    else:
        arity = _arity(p["op"])
        per_node = (w * (model.lut_per_compare_bit + model.lut_per_mux_bit)
                    if p["op"] is ReduceOp.MAX else 1)
        lut = ff = 0
        left = positions
        for level in range(levels):
            lut += (left // arity + (left % arity > 1)) * per_node
            left = -(-left // arity)
            if level < levels - 1:
                ff += left * w
    parts = {"tree": (channels * lut, channels * ff),
             "output buffer": skid_cost(model, channels * p["out_width"]),
             "control": (model.control_lut, levels + 1)}  # valid flags
    return _result(parts, bram=0, weights_in_bram=False)
