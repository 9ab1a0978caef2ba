"""Fully unrolled matrix-vector unit: constant weights, one vector per cycle."""

from __future__ import annotations

from functools import lru_cache

from amaranth.hdl import Cat, Module, Signal, Value, signed, unsigned
from amaranth.lib import stream
from amaranth.lib.wiring import In, Out

from ..errors import HdlError
from ._adder_graph import AdderGraph, AdderSchedule, build_adder_graph, schedule
from ._arith import balanced_sum, clamp_thresholds, requant_clip, requant_scale
from ._checked import CheckedComponent
from ._estimate import ICE40, _result
from ._mvu import MatVecUnit
from ._params import check_int, int_range

__all__ = ["UnrolledMatVec", "estimate_unrolled"]

#: Adders between pipeline registers by default: three levels of short carry
#: chains fit the 10 ns of a 100 MHz clock on ECP5 with room for routing.
DEFAULT_LEVELS = 3


@lru_cache(maxsize=8)
def _plan(weights: tuple, x_range: tuple[int, int], levels: int) -> tuple[AdderGraph, AdderSchedule]:
    """The adder graph and its pipeline (cached: lowering estimates, then builds, one layer)."""
    graph = build_adder_graph(weights, x_range)
    return graph, schedule(graph, levels)


def _shape(lo: int, hi: int):
    if lo >= 0:
        return unsigned(max(hi.bit_length(), 1))
    width = 1
    while not (-(1 << (width - 1)) <= lo and hi < (1 << (width - 1))):
        width += 1
    return signed(width)


class UnrolledMatVec(CheckedComponent):
    """``acc = W·x + bias`` for a whole vector every cycle, then an activation.

    The parameters and their meaning are :class:`MatVecUnit`'s without the
    folding (it is ``pe = rows``, ``simd = cols``), plus ``levels``, the most
    adders between two pipeline registers; the streams are the same (one
    vector per beat, ``cols·in_width`` bits in, ``rows·out_width`` out).

    The weights are constants of an adder graph (see :mod:`._adder_graph`):
    each row is a sum of ``±x[c] << k`` terms, from the weights' signed
    power-of-two digits, with the sums shared between rows.  With bipolar
    inputs the terms are the input bits ``b`` (``x = 2b − 1``), so the graph
    counts selected minus deselected bits and ``acc = 2·S + bias − Σ_c w``:
    for 1-bit weights and inputs, the XNOR popcount in other words.  A row
    ends as ``±v`` of one graph variable; thresholds compare ``v`` with
    constants moved into its domain (``v >= c`` or ``v < c``), so no row is
    negated or doubled in logic.

    Pipeline: stage 0 reads ``sink.payload`` (a stream source holds it until
    the transfer); a register follows every ``levels`` adders, then the
    activation's registers (one for one threshold, two for several:
    comparisons, then their count; requantisation: the accumulator, the
    scaled value, the clip; without an activation the accumulator), then the
    output register, with a second entry that stops the pipeline when a
    result finds the output taken, as :class:`MatVecUnit` does.
    ``cycles_per_frame`` is 1; ``latency`` counts those registers.
    """

    @classmethod
    def check(cls, *, weights, in_width, in_signed, in_bipolar=False, w_width, w_signed,
              w_bipolar=False, acc_width, bias=None, thresholds=None, out_width=None,
              out_signed=None, out_bias=0, requant=None, levels=DEFAULT_LEVELS) -> dict:
        """The checked parameters (:class:`MatVecUnit`'s checks, HdlError naming this unit)."""
        try:
            p = MatVecUnit.check(
                weights=weights, in_width=in_width, in_signed=in_signed, in_bipolar=in_bipolar,
                w_width=w_width, w_signed=w_signed, w_bipolar=w_bipolar, acc_width=acc_width,
                bias=bias, thresholds=thresholds, out_width=out_width, out_signed=out_signed,
                out_bias=out_bias, requant=requant)
        except HdlError as e:
            raise HdlError(str(e).replace("MatVecUnit:", "UnrolledMatVec:", 1)) from None
        p["levels"] = check_int("UnrolledMatVec", "levels", levels, minimum=1)
        del p["pe"], p["simd"]
        bits = p["in_bipolar"]
        x_range = (0, 1) if bits else int_range(p["in_width"], p["in_signed"])
        p["gain"] = 2 if bits else 1
        p["offsets"] = tuple(b - (sum(row) if bits else 0)
                             for b, row in zip(p["bias"], p["weights"]))
        p["graph"], p["schedule"] = _plan(tuple(map(tuple, p["weights"])), x_range, p["levels"])
        return p

    def __init__(self, **_):
        self.cycles_per_frame = 1
        self.latency = self.schedule.stages + self.activation_stages + 1
        super().__init__({
            "sink": In(stream.Signature(unsigned(self.cols * self.in_width))),
            "source": Out(stream.Signature(unsigned(self.rows * self.out_width))),
        })

    @property
    def activation_stages(self) -> int:
        if self.thresholds is not None:
            return 1 if len(self.thresholds[0]) == 1 else 2
        return 3 if self.requant is not None else 1

    def row_conditions(self, r: int) -> list[tuple[str, int]]:
        """Row ``r``'s thresholds in the domain of its graph variable ``v``: ``(">=", c)``
        for ``v >= c`` or ``("<", c)`` for ``v < c``, clamped to ``v``'s range
        (``("const", 0|1)`` for a row of zero weights)."""
        sign, v = self.graph.outputs[r]
        off, g = self.offsets[r], self.gain
        if sign == 0:
            return [("const", int(off >= t)) for t in self.thresholds[r]]
        lo, hi = self.graph.ranges[v]
        if sign > 0:      # g·v + off >= t  <=>  v >= ceil((t − off)/g)
            return [(">=", c) for c in clamp_thresholds([-((off - t) // g)
                                                          for t in self.thresholds[r]], lo, hi)]
        # −g·v + off >= t  <=>  v <= floor((off − t)/g)  <=>  v < floor(...) + 1
        return [("<", c) for c in clamp_thresholds([(off - t) // g + 1
                                                     for t in self.thresholds[r]], lo, hi)]

    def elaborate(self, platform):
        m = Module()
        graph, plan = self.graph, self.schedule
        nb = len(graph.base)
        iw = self.in_width
        adv = Signal(init=1, name="advance")      # a register: the pipeline's enable
        sig = {}
        loads = []                  # every pipeline register, loaded together when adv

        def reg(value, shape, name, flag=False):
            """A pipeline register (``flag``: a valid flag, cleared by reset)."""
            value = Value.cast(value)
            r = Signal(value.shape() if shape is None else shape, name=name, reset_less=not flag)
            loads.append(r.eq(value))
            return r

        def value(v, t):
            """Variable ``v`` as valid in stage ``t`` (carried through registers)."""
            if (v, t) not in sig:
                sig[(v, t)] = reg(value(v, t - 1), _shape(*graph.ranges[v]), f"d{v}_{t}")
            return sig[(v, t)]

        for v, (c, k) in enumerate(graph.base):
            x = self.sink.payload[c * iw:(c + 1) * iw]
            x = x.as_signed() if self.in_signed and not self.in_bipolar else x
            sig[(v, 0)] = x << k if k else x
        for n, (a, b, sign, shift) in enumerate(graph.nodes):
            v = nb + n
            t = plan.stage[v] - plan.registered[v]
            expr = _shifted_add(value(a, t), value(b, t), sign, shift)
            shape = _shape(*graph.ranges[v])
            if plan.registered[v]:
                sig[(v, t + 1)] = reg(expr, shape, f"n{v}")
            else:
                s = Signal(shape, name=f"n{v}")
                m.d.comb += s.eq(expr)
                sig[(v, t)] = s

        last = plan.stages
        valid = self.sink.valid
        for t in range(last + self.activation_stages):
            valid = reg(valid, 1, f"valid{t + 1}", flag=True)
        out_shape = signed(self.out_width) if self.out_signed else unsigned(self.out_width)
        outs = [self._activation(r, value, last, reg, out_shape) for r in range(self.rows)]
        self._output(m, adv, valid, Cat(*outs), reg)
        m.d.comb += self.sink.ready.eq(adv)
        with m.If(adv):
            m.d.sync += loads
        return m

    def _activation(self, r, value, last, reg, out_shape):
        """Row ``r``'s output register, ``activation_stages`` registers after stage ``last``."""
        sign, v = self.graph.outputs[r]
        if self.thresholds is not None:
            x = value(v, last) if sign else None
            compares = [Value.cast(c) if op == "const" else (at_least(x, c) if op == ">="
                                                             else ~at_least(x, c))
                        for op, c in self.row_conditions(r)]
            if len(compares) > 1:
                compares = [reg(c, 1, f"cmp{r}_{k}") for k, c in enumerate(compares)]
            return reg(Value.cast(self.out_bias + balanced_sum(compares)), out_shape, f"out{r}")
        acc = Value.cast(self.offsets[r])
        if sign:
            x = value(v, last)
            x = x << 1 if self.gain == 2 else x
            acc = acc + x if sign > 0 else acc - x
        acc = reg(acc, signed(self.acc_width), f"acc{r}")
        if self.requant is None:
            return acc
        mult, shift, lo, hi = self.requant
        scaled = reg(requant_scale(acc, mult, shift), None, f"scaled{r}")
        return reg(requant_clip(scaled, shift, lo, hi), out_shape, f"out{r}")

    def _output(self, m, adv, final_valid, vector, reg):
        """Output register and its second entry (``collect``); ``adv`` falls while a
        finished vector waits there, so no path runs from ``source.ready`` upstream."""
        collect = reg(vector, len(vector), "collect")
        main, main_valid, full = Signal(len(vector), reset_less=True), Signal(), Signal()
        m.d.comb += [self.source.valid.eq(main_valid), self.source.payload.eq(main)]
        with m.If(full):
            with m.If(self.source.ready):
                m.d.sync += [main.eq(collect), full.eq(0), adv.eq(1)]
        with m.Elif(adv & final_valid):
            with m.If(~main_valid | self.source.ready):
                m.d.sync += [main.eq(vector), main_valid.eq(1)]
            with m.Else():
                m.d.sync += [full.eq(1), adv.eq(0)]
        with m.Elif(self.source.ready):
            m.d.sync += main_valid.eq(0)


def _shifted_add(a, b, sign, shift):
    """``a + sign·(b << shift)`` as an adder ``shift`` bits narrower: the low bits are
    ``a``'s own (Yosys would otherwise spend a carry-chain cell on adding zeros)."""
    if not shift or len(a) <= shift:
        b = b << shift if shift else b
        return a + b if sign > 0 else a - b
    high = a[shift:].as_signed() if a.shape().signed else a[shift:]
    total = high + b if sign > 0 else high - b
    joined = Cat(a[:shift], total)
    return joined.as_signed() if total.shape().signed else joined


def at_least(x, c: int) -> Value:
    """``x >= c`` for a constant ``c`` as a chain of AND/OR gates, least significant bit
    first: the result so far is kept where ``x`` and ``c`` agree, else ``x``'s bit decides.
    Synthesis packs it into LUTs, three bits per LUT4 after the first four (a ``>=``
    operator becomes a carry chain of one CCU2C per two bits on ECP5)."""
    width, signed_ = len(x), x.shape().signed
    if signed_:                       # offset binary: x + 2^(w−1) >= c + 2^(w−1), unsigned
        x, c = x ^ (1 << (width - 1)), c + (1 << (width - 1))
        x = x.as_unsigned()
    if c <= 0:
        return Value.cast(1)
    if c >= 1 << width:
        return Value.cast(0)
    result = Value.cast(1)
    for i in range(width):
        result = x[i] & result if (c >> i) & 1 else x[i] | result
    return result


def compare_luts(width: int) -> int:
    """LUT4s of :func:`at_least` on a ``width``-bit value: 4 bits in the first, 3 more
    in each next (the running result takes the fourth input)."""
    return 1 if width <= 4 else 1 + -(-(width - 4) // 3)


def estimate_unrolled(*, model=ICE40, **params):
    """Estimate LUT4s and flip-flops of an :class:`UnrolledMatVec` from its own plan.

    Takes the unit's parameters. Parts: the adders (one per graph node, at the
    width of its exact range less the low bits it passes through:
    ``model.lut_per_logic_adder`` for up to 4 bits, else ``lut_per_adder_bit``
    per bit on the carry chain), the pipeline registers (nodes, carried
    operands, valid flags), the activation (a constant comparison per
    threshold, a gate chain of :func:`compare_luts` LUT4s, and the count; or
    the accumulator, its scaling and clip), the output register with its
    second entry and the control.
    """
    p = UnrolledMatVec.check(**params)
    graph, plan = p["graph"], p["schedule"]
    small = model.lut_per_logic_adder

    def bits(v):
        return _shape(*graph.ranges[v]).width

    nb = len(graph.base)
    widths = [bits(nb + n) for n in range(len(graph.nodes))]
    adders = sum(small[w] if w < len(small) else w * model.lut_per_adder_bit
                 for w in (w - node[3] for w, node in zip(widths, graph.nodes)))
    node_ff = sum(w for n, w in enumerate(widths) if plan.registered[nb + n])
    delay_ff = sum(bits(v) for v, _ in plan.delays)
    rows, ow = p["rows"], p["out_width"]
    parts = {"adders": (adders, 0), "pipeline": (0, node_ff + delay_ff + plan.stages)}
    finals = [v for _, v in graph.outputs]
    if p["thresholds"] is not None:
        levels = len(p["thresholds"][0])
        compare = sum(compare_luts(bits(v)) for v in finals if v >= 0) * levels
        count = rows * (levels - 1) * model.lut_per_adder_bit
        parts["activation"] = (compare + count, rows * ((levels if levels > 1 else 0) + ow))
    else:
        acc = p["acc_width"]
        lut, ff = rows * acc * model.lut_per_adder_bit, rows * acc
        if p["requant"] is not None:
            mult_bits = abs(p["requant"][0]).bit_length()
            lut += rows * (acc * mult_bits * model.lut_per_const_product_bit
                           + 2 * acc * model.lut_per_const_compare_bit + ow * model.lut_per_mux_bit)
            ff += rows * (acc + mult_bits + 1 + ow)
        parts["activation"] = (lut, ff)
    parts["output"] = (rows * ow * model.lut_per_mux_bit, 2 * rows * ow)
    parts["control"] = (model.control_lut, 4)
    return _result(parts, bram=0, weights_in_bram=False)
