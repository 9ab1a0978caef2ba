"""A causal window over an endless stream, given out one slice per beat from a RAM ring.

:class:`TemporalWindow` gives a sample's whole window in one beat: right for a
short window, but a long FIR (64 taps of 16 bits) then costs a register per
window bit plus, in the matrix unit behind it, a slice multiplexer per bit.
:class:`SerialWindow` keeps the history in a RAM ring (block RAM on iCE40
and ECP5) and gives the window of each sample as ``beats`` beats, oldest
first: ``per_beat`` whole samples a beat, or one sample in ``parts`` beats
of ``channels/parts`` elements each (a matrix unit whose slice is narrower
than a sample).  Either is exactly what a :class:`MatVecUnit` with
``in_beats = beats`` takes into its slice buffer, its columns being in
(tap, channel) order.  Each of the ``per_beat`` samples of a beat comes from
its own copy of the ring (one read port each; every copy is written with
every sample).
"""

from amaranth.hdl import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import stream
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..errors import HdlError
from ._checked import CheckedComponent
from ._estimate import ICE40, _bits, _result
from ._gather import counter_cost
from ._window import bram_blocks
from ._params import check_bool, check_int

__all__ = ["SerialWindow", "estimate_serial_window"]


class SerialWindow(CheckedComponent):
    """The window of ``taps`` samples (tap ``j`` = sample ``t − (taps − 1 − j)·dilation``, 0 =
    oldest; zeros before the first sample and after a reset) of each input sample ``t``
    (``channels`` elements of ``elem_width`` bits), as ``beats = taps / per_beat · parts``
    beats: ``per_beat`` taps each, or (``parts > 1``, ``per_beat = 1``) each tap in ``parts``
    beats of ``channels/parts`` elements, its lowest channels first.

    A sample waits in a one-entry input register; it is written into the rings
    in the cycle the previous sample's last beat is read, so the window takes
    ``cycles_per_frame = beats`` cycles per sample when the output keeps up.
    ``sink.ready`` and ``source.valid`` are registers; the read ports are the
    output register (held while the output waits), and a tap's word is read
    again for each of its parts, the part chosen by a register set with the read.
    """

    @classmethod
    def check(cls, *, channels, elem_width, signed, taps, dilation=1, per_beat=1, parts=1) -> dict:
        owner = "SerialWindow"
        channels = check_int(owner, "channels", channels, minimum=1)
        elem_width = check_int(owner, "elem_width", elem_width, minimum=1)
        signed = check_bool(owner, "signed", signed)
        taps = check_int(owner, "taps", taps, minimum=1)
        dilation = check_int(owner, "dilation", dilation, minimum=1)
        per_beat = check_int(owner, "per_beat", per_beat, minimum=1)
        parts = check_int(owner, "parts", parts, minimum=1)
        if taps % per_beat:
            raise HdlError(f"{owner}: per_beat={per_beat} must divide taps={taps}")
        if channels % parts:
            raise HdlError(f"{owner}: parts={parts} must divide channels={channels} (a part is "
                           f"channels/parts elements); use a divisor of {channels}")
        if parts > 1 and per_beat > 1:
            raise HdlError(f"{owner}: parts={parts} needs per_beat=1, not {per_beat} (a beat is "
                           "whole samples or a part of one); give one of them as 1")
        history = (taps - 1) * dilation
        # One more word than the history, so the sample written during the last beat of the
        # one before never lands on a word that beat reads.
        depth = 1 << (history + 1).bit_length()
        return dict(channels=channels, elem_width=elem_width, signed=signed, taps=taps,
                    dilation=dilation, per_beat=per_beat, parts=parts, depth=depth)

    def __init__(self, **_):
        self.beats = self.taps // self.per_beat * self.parts
        self.cycles_per_frame = self.beats
        self.latency = 2
        sample = self.channels * self.elem_width
        super().__init__({"sink": In(stream.Signature(unsigned(sample))),
                          "source": Out(stream.Signature(
                              unsigned(self.per_beat * sample // self.parts)))})

    def elaborate(self, platform):
        m = Module()
        sample, depth, parts = self.channels * self.elem_width, self.depth, self.parts
        groups = self.taps // self.per_beat       # beats per sample when parts = 1
        history = (self.taps - 1) * self.dilation
        pend, pend_valid = Signal(sample), Signal()
        busy = Signal()
        group = Signal(range(max(groups, 2)))     # which per_beat taps are read now
        part = Signal(range(max(parts, 2)))       # which part of them
        wp = Signal(range(depth))                 # the word of the sample being given out
        seen = Signal(range(history + 2))         # samples since reset, up to history + 1
        issue = busy & (~self.source.valid | self.source.ready)
        last_part = part == parts - 1
        last = (group == groups - 1) & last_part
        start = pend_valid & (~busy | (issue & last))

        m.d.comb += self.sink.ready.eq(~pend_valid)
        with m.If(self.sink.valid & self.sink.ready):
            m.d.sync += [pend.eq(self.sink.payload), pend_valid.eq(1)]
        with m.If(start):
            m.d.sync += [pend_valid.eq(0), wp.eq(wp + 1), busy.eq(1), group.eq(0), part.eq(0)]
            with m.If(seen != history + 1):
                m.d.sync += seen.eq(seen + 1)
        with m.Elif(issue):
            m.d.sync += part.eq(Mux(last_part, 0, part + 1))
            with m.If(last_part):
                m.d.sync += group.eq(Mux(last, 0, group + 1))
            with m.If(last):
                m.d.sync += busy.eq(0)
        with m.If(issue):
            m.d.sync += self.source.valid.eq(1)
        with m.Elif(self.source.ready):
            m.d.sync += self.source.valid.eq(0)

        words, live = [], []
        for k in range(self.per_beat):
            ring = Memory(shape=unsigned(sample), depth=depth, init=[],
                          attrs={"ram_style": "block"})
            m.submodules[f"ring{k}"] = ring
            wr = ring.write_port()
            rd = ring.read_port()            # synchronous: the data is the output register
            back = Signal(range(history + 1), name=f"back{k}")
            # Tap j = group·per_beat + k is (taps − 1 − j)·dilation samples back.
            m.d.comb += [
                wr.addr.eq(wp + 1), wr.data.eq(pend), wr.en.eq(start),
                back.eq((self.taps - 1 - k - group * self.per_beat) * self.dilation),
                rd.addr.eq(wp - back), rd.en.eq(issue),
            ]
            ok = Signal(name=f"live{k}")     # the tap is a sample since reset, not a zero
            with m.If(issue):
                m.d.sync += ok.eq(back < seen)
            words.append(rd.data)
            live.append(ok)
        if parts > 1:                        # per_beat = 1: the part of the one word read
            sel = Signal(range(parts), name="part_sel")
            with m.If(issue):
                m.d.sync += sel.eq(part)
            words = [words[0].word_select(sel, sample // parts)]
        m.d.comb += self.source.payload.eq(Cat(*[Mux(ok, w, 0) for w, ok in zip(words, live)]))
        return m


def estimate_serial_window(*, model=ICE40, **params):
    """Estimate LUT4s, flip-flops and block RAMs of a :class:`SerialWindow`.

    Parts: the input register; per ring copy, its block RAMs (``model.bram_shapes``
    for ``depth`` words of a sample; the rings ask for block RAM however small), the
    read address (a subtraction) and, per output bit, the zeroing gate and the
    ``parts``:1 part multiplexer (``parts − 1`` 2:1 muxes, the gate taking the last
    one's spare LUT input; the gate alone when ``parts = 1``); the control (tap, part
    and write pointers, the sample count, the part select register).  Against Yosys
    ``synth_ice40`` of the unit alone, 8 taps of 2 × 16 bits in 2 parts: 55 LUT4 and 49
    flip-flops for an estimate of 52 and 49.
    """
    p = SerialWindow.check(**params)
    sample = p["channels"] * p["elem_width"]
    out_bits = sample // p["parts"]
    addr = _bits(p["depth"])
    tap_lut, tap_ff = counter_cost(model, p["taps"] // p["per_beat"])
    part_lut, part_ff = counter_cost(model, p["parts"])
    seen_lut, seen_ff = counter_cost(model, (p["taps"] - 1) * p["dilation"] + 2)
    rings = p["per_beat"] * bram_blocks(model, p["depth"], sample)
    select = out_bits * max(p["parts"] - 1, 1) * model.lut_per_select_input
    parts = {
        "input register": (0, sample + 1),
        "ring reads": (p["per_beat"] * (addr + select + addr), p["per_beat"]),
        "control": (model.control_lut + tap_lut + part_lut + seen_lut + addr,
                    tap_ff + 2 * part_ff + seen_ff + addr + 2),
    }
    return _result(parts, bram=rings, weights_in_bram=False)
