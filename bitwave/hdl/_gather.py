"""Stream reshaping: beats into one vector (Gather), one vector into beats (Scatter).

Also home of :class:`SkidBuffer`, the two-entry buffer the window units put on
their narrow side so that ``sink.ready`` and ``source.valid`` come from
registers: the C++ harness samples them after one evaluation per cycle, and a
chain of units then has no combinational path from the last ``ready`` back to
the first.
"""

from amaranth.hdl import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..errors import HdlError
from ._checked import CheckedComponent
from ._estimate import ICE40, _bits, _result
from ._params import check_int, int_vector

__all__ = ["Gather", "Scatter", "estimate_gather", "estimate_scatter"]


class SkidBuffer(wiring.Component):
    """Two-entry stream buffer of ``width``-bit beats.

    ``sink.ready``, ``source.valid`` and ``source.payload`` are registers; one
    beat per cycle passes when both sides are ready, a beat accepted in one
    cycle is offered in the next. The second entry (``spare``) catches the beat
    that arrives while the first waits, so ``sink.ready`` can be last cycle's
    "spare is empty" instead of this cycle's ``source.ready``.
    """

    def __init__(self, width):
        self.width = width
        super().__init__({"sink": In(stream.Signature(unsigned(width))),
                          "source": Out(stream.Signature(unsigned(width)))})

    def elaborate(self, platform):
        m = Module()
        spare = Signal(self.width)
        spare_valid = Signal()
        put = self.sink.valid & ~spare_valid
        m.d.comb += self.sink.ready.eq(~spare_valid)
        with m.If(~self.source.valid | self.source.ready):
            with m.If(spare_valid):
                m.d.sync += [self.source.payload.eq(spare), self.source.valid.eq(1),
                             spare_valid.eq(0)]
            with m.Else():
                m.d.sync += [self.source.payload.eq(self.sink.payload),
                             self.source.valid.eq(put)]
        with m.Elif(put):
            m.d.sync += [spare.eq(self.sink.payload), spare_valid.eq(1)]
        return m


def skid_cost(model, width):
    """(LUT, FF) of a :class:`SkidBuffer`: two entries, a 2:1 mux in front of the first."""
    return width * model.lut_per_mux_bit, 2 * width


def counter_cost(model, states):
    """(LUT, FF) of a counter over ``states`` values: an incrementer and its register."""
    return _bits(states) * model.lut_per_adder_bit, _bits(states)


def _check_shape(owner, beats, elems, width):
    return (check_int(owner, "beats", beats, minimum=1),
            check_int(owner, "elems", elems, minimum=1),
            check_int(owner, "width", width, minimum=1))


class Gather(CheckedComponent):
    """Collect ``beats`` consecutive beats of ``elems`` elements into one vector.

    Collected element ``k = beat·elems + e`` is element ``e`` of the
    ``beat``-th input beat; output element ``i`` (bits ``[i·width,
    (i+1)·width)``) is collected element ``order[i]`` (``order`` is a
    permutation of ``range(beats·elems)``, ``None`` for the identity). That is
    how a pixel stream becomes the flat vector of a dense layer: with a pixel
    stream (H·W beats of C channels) ``order[c·H·W + p] = p·C + c`` gives
    PyTorch's C·H·W flatten order.

    Elements are bits only: no sign, no arithmetic. Beats fill ``beats − 1``
    slot registers; the last beat goes straight into the output register
    through the permutation (wires), or, when the output register is still
    taken, into a last slot that blocks ``sink`` until it moves on. So the
    output register is free again while the next vector collects, and a
    vector takes ``cycles_per_frame = beats`` cycles. ``sink.ready`` and
    ``source.valid`` are registers.

    ``latency = beats``: cycles from the first beat's transfer to the vector
    on ``source`` when the output is free.
    """

    @classmethod
    def check(cls, *, beats, elems, width, order=None) -> dict:
        """The checked parameters (HdlError naming the parameter when one is unusable)."""
        owner = "Gather"
        beats, elems, width = _check_shape(owner, beats, elems, width)
        n = beats * elems
        if order is None:
            return dict(beats=beats, elems=elems, width=width, order=tuple(range(n)))
        order = int_vector(owner, "order", order, length=n)
        seen = {}
        for i, k in enumerate(order):
            if not 0 <= k < n:
                raise HdlError(f"{owner}: order[{i}] = {k} is not an element index; "
                               f"collected elements are numbered 0..{n - 1}")
            if k in seen:
                raise HdlError(f"{owner}: order must be a permutation, but element {k} "
                               f"appears at order[{seen[k]}] and order[{i}]")
            seen[k] = i
        return dict(beats=beats, elems=elems, width=width, order=order)

    def __init__(self, **_):
        self.cycles_per_frame = self.beats
        self.latency = self.beats
        super().__init__({
            "sink": In(stream.Signature(unsigned(self.elems * self.width))),
            "source": Out(stream.Signature(unsigned(self.beats * self.elems * self.width))),
        })

    def elaborate(self, platform):
        m = Module()
        beats, w = self.beats, self.width
        slots = [Signal(self.elems * w, name=f"slot{k}") for k in range(beats)]
        count = Signal(range(beats))
        complete = Signal()
        put = self.sink.valid & self.sink.ready
        last_beat = put & (count == beats - 1)
        out_free = ~self.source.valid | self.source.ready
        m.d.comb += self.sink.ready.eq(~complete)

        with m.If(put):
            m.d.sync += count.eq(Mux(count == beats - 1, 0, count + 1))
            for k, slot in enumerate(slots[:-1]):
                with m.If(count == k):
                    m.d.sync += slot.eq(self.sink.payload)

        collected = Cat(*slots[:-1], Mux(complete, slots[-1], self.sink.payload))
        vector = Cat(*(collected[k * w:(k + 1) * w] for k in self.order))
        with m.If(out_free):
            m.d.sync += [self.source.valid.eq(complete | last_beat),
                         self.source.payload.eq(vector), complete.eq(0)]
        with m.Elif(last_beat):
            m.d.sync += [slots[-1].eq(self.sink.payload), complete.eq(1)]
        return m


class Scatter(CheckedComponent):
    """Send one vector of ``beats·elems`` elements as ``beats`` beats, in index order.

    Beat ``b`` carries elements ``b·elems .. (b+1)·elems − 1``. The vector waits
    in a :class:`SkidBuffer` (its second entry takes the next vector while this
    one is sent), and a beat counter selects the slice, so ``source.payload``,
    ``source.valid`` and ``sink.ready`` depend on registers only.
    ``cycles_per_frame = beats`` (cycles per input vector), ``latency = 1``
    (an accepted vector's first beat is offered in the next cycle).
    """

    @classmethod
    def check(cls, *, beats, elems, width) -> dict:
        """The checked parameters (HdlError naming the parameter when one is unusable)."""
        beats, elems, width = _check_shape("Scatter", beats, elems, width)
        return dict(beats=beats, elems=elems, width=width)

    def __init__(self, **_):
        self.cycles_per_frame = self.beats
        self.latency = 1
        super().__init__({
            "sink": In(stream.Signature(unsigned(self.beats * self.elems * self.width))),
            "source": Out(stream.Signature(unsigned(self.elems * self.width))),
        })

    def elaborate(self, platform):
        m = Module()
        beats, beat_width = self.beats, self.elems * self.width
        m.submodules.buffer = buffer = SkidBuffer(beats * beat_width)
        wiring.connect(m, wiring.flipped(self.sink), buffer.sink)
        count = Signal(range(beats))
        last = count == beats - 1
        vector = buffer.source.payload
        m.d.comb += [
            self.source.valid.eq(buffer.source.valid),
            self.source.payload.eq(vector.word_select(count, beat_width) if beats > 1 else vector),
            buffer.source.ready.eq(self.source.ready & last),
        ]
        with m.If(self.source.valid & self.source.ready):
            m.d.sync += count.eq(Mux(last, 0, count + 1))
        return m


def estimate_gather(*, model=ICE40, **params):
    """Estimate LUT4s and flip-flops of a :class:`Gather`; takes the unit's parameters.

    Parts: the slot registers (``beats·elems·width`` FFs with enables, no LUTs;
    a decoder of the beat counter), the output register (``beats·elems·width``
    FFs) with a 2:1 mux on the last beat's bits, and the control (counter,
    flag). The permutation is wiring. No block RAM.
    """
    p = Gather.check(**params)
    bits = p["beats"] * p["elems"] * p["width"]
    beat_bits = p["elems"] * p["width"]
    count_lut, count_ff = counter_cost(model, p["beats"])
    parts = {"slots": (p["beats"], bits),
             "output register": (beat_bits * model.lut_per_mux_bit, bits),
             "control": (model.control_lut + count_lut, model.control_ff + count_ff)}
    return _result(parts, bram=0, weights_in_bram=False)


def estimate_scatter(*, model=ICE40, **params):
    """Estimate LUT4s and flip-flops of a :class:`Scatter`; takes the unit's parameters.

    Parts: the two-entry vector buffer (see :func:`skid_cost`), the
    ``beats``:1 slice mux (``lut_per_select_input`` per bit and extra beat), and
    the control (beat counter). No block RAM.
    """
    p = Scatter.check(**params)
    beat_bits = p["elems"] * p["width"]
    count_lut, count_ff = counter_cost(model, p["beats"])
    parts = {"buffer": skid_cost(model, p["beats"] * beat_bits),
             "slice select": (beat_bits * (p["beats"] - 1) * model.lut_per_select_input, 0),
             "control": (model.control_lut + count_lut, model.control_ff + count_ff)}
    return _result(parts, bram=0, weights_in_bram=False)
