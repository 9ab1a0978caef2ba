"""An I2S codec bridge: an ADC and a DAC on one pair of bit and word clocks, and a sample stream.

The bridge is the I2S bus master. Everything runs in the ``sync`` domain, and
the domain's clock doubles as the codecs' master clock (MCLK): the board
forwards it to the MCLK pins. One LRCK period (one sample frame) is 64 bit
cells of ``clocks_per_bit`` clocks, so MCLK/LRCK = 64 · ``clocks_per_bit``
and SCLK/LRCK = 64.

Bus timing (Philips I2S, 24-bit words in 32-bit slots): LRCK low is the left
channel, high the right; LRCK and the DAC data change with SCLK's falling edge
at the start of a cell (SCLK is low in a cell's first half), the codecs sample
on the rising edge in the middle. A word's MSB is in cell 1 of its half, one
cell after the LRCK edge, its LSB in cell 24; cells 25–31 carry zeros. The
ADC's data line passes a two-flip-flop synchroniser, and each bit is read as
it was at SCLK's rising edge (so the ADC's output delay after the falling
edge has half a cell).

Samples and the accelerator's streams, one beat per LRCK period:

* At the end of LRCK period *n* the pair (left, right) read in it goes out
  on ``source`` (to the accelerator's sink) as one beat: one element (the
  left channel) or two (left, right). Element of ``width`` bits from the
  24-bit word: MSB-aligned (the top ``width`` bits; a wider element gets
  zeros below), two's complement when signed, offset binary (MSB flipped)
  when unsigned. :func:`adc_to_element` is the same mapping in Python.
* A beat taken from ``sink`` (the accelerator's source) is its answer to
  the oldest unanswered sample; it waits in a small FIFO until due and is
  serialised to the DAC in the frame after: one element goes to both
  channels, two to left and right, mapped back to 24 bits the same way
  (:func:`element_to_dac`).
* Latency, fixed: the accelerator has ``answer_frames`` LRCK periods (A) to
  answer a sample, counted from the end of the period it was read in, and
  must take each input within one period. A sample read in period *n* is on
  the DAC in period *n + A + 1* (``latency_frames``), however fast the
  accelerator is; a pipelined accelerator whose latency exceeds one period
  gets a larger A.

A late accelerator never stalls the bus, which keeps running off the clock:

* ``dropped`` counts inputs the accelerator had not taken by the next frame
  end (the new sample replaces the old one, which is never answered) and
  answers that found the FIFO full;
* ``missed`` counts answers that were not there when due: the DAC plays
  zeros for that period, and the late answer is thrown away when it comes,
  so the latency stays fixed;
* ``overrun`` is high from the first of either until reset (the board's LED).

Both counters saturate at ``2**16 - 1``.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import stream
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from ..errors import HdlError
from ._checked import CheckedComponent
from ._params import check_int
from ._stream import StreamFormat

__all__ = ["I2SCodecBridge", "WORD_BITS", "SLOT_BITS", "adc_to_element", "element_to_dac"]

WORD_BITS = 24          # bits of one codec sample (CS5343 and CS4344: 24-bit I2S)
SLOT_BITS = 32          # bit cells per channel, so SCLK/LRCK = 64
_SYNC_STAGES = 2        # the ADC data synchroniser
_COUNTER_BITS = 16


def _check_format(owner: str, role: str, fmt) -> StreamFormat:
    if not isinstance(fmt, StreamFormat):
        raise HdlError(f"{owner}: {role} must be a StreamFormat, not {fmt!r}")
    if fmt.beats != 1 or fmt.elems not in (1, 2) or fmt.bipolar:
        raise HdlError(f"{owner}: the accelerator's {role} stream is {fmt.describe()}"
                       f"{' (bipolar)' if fmt.bipolar else ''}; audio needs one beat per sample "
                       f"of 1 element (mono) or 2 (left, right) of signed or unsigned integers")
    return fmt


def adc_to_element(word: int, width: int, signed: bool) -> int:
    """A 24-bit two's complement codec sample → the stream element the bridge makes of it."""
    word &= (1 << WORD_BITS) - 1
    value = word >> (WORD_BITS - width) if width <= WORD_BITS else word << (width - WORD_BITS)
    value ^= 0 if signed else 1 << (width - 1)
    if signed and value >> (width - 1):
        value -= 1 << width
    return value


def element_to_dac(value: int, width: int, signed: bool) -> int:
    """A stream element → the 24-bit two's complement codec sample the bridge sends."""
    bits = (value & ((1 << width) - 1)) ^ (0 if signed else 1 << (width - 1))
    word = bits << (WORD_BITS - width) if width <= WORD_BITS else bits >> (width - WORD_BITS)
    return word - (1 << WORD_BITS) if word >> (WORD_BITS - 1) else word


class I2SCodecBridge(CheckedComponent):
    """I2S master for one ADC and one DAC, with the sample stream of an accelerator between them.

    ``to_acc`` is the accelerator's sink format (what ``source`` carries),
    ``from_acc`` its source format (what ``sink`` takes); ``clocks_per_bit``
    is a power of two >= 2; ``answer_frames`` (>= 1) the LRCK periods the
    accelerator has for each answer. The ports ``sclk``, ``lrck`` and
    ``dac_sdata`` go to both codecs' pins (the DAC's SDIN), ``adc_sdata``
    comes from the ADC's SDOUT. See the module docstring for the timing, the sample mapping, the
    latency and the status outputs ``dropped``, ``missed`` and ``overrun``.
    """

    @classmethod
    def check(cls, *, to_acc, from_acc, clocks_per_bit=4, answer_frames=1) -> dict:
        """The checked parameters (HdlError naming the parameter when one is unusable)."""
        owner = cls.__name__
        cpb = clocks_per_bit
        if isinstance(cpb, bool) or not isinstance(cpb, int) or cpb < 2 or cpb & (cpb - 1):
            raise HdlError(f"{owner}: clocks_per_bit must be a power of two >= 2, not {cpb!r}")
        answer = check_int(owner, "answer_frames", answer_frames, minimum=1)
        return dict(to_acc=_check_format(owner, "sink", to_acc),
                    from_acc=_check_format(owner, "source", from_acc), clocks_per_bit=cpb,
                    answer_frames=answer, mclk_per_lrck=2 * SLOT_BITS * cpb,
                    latency_frames=answer + 1)

    def __init__(self, **_):
        super().__init__({
            "sclk": Out(1), "lrck": Out(1), "dac_sdata": Out(1), "adc_sdata": In(1),
            "source": Out(stream.Signature(self.to_acc.bits)),
            "sink": In(stream.Signature(self.from_acc.bits)),
            "dropped": Out(_COUNTER_BITS), "missed": Out(_COUNTER_BITS), "overrun": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        k = self.clocks_per_bit.bit_length() - 1          # log2(clocks_per_bit)
        ratio = self.mclk_per_lrck
        # SCLK and LRCK are bits of one counter register: no glitches on the pins.
        phase = Signal(range(ratio))
        m.d.sync += phase.eq(phase + 1)
        m.d.comb += [self.sclk.eq(phase[k - 1]), self.lrck.eq(phase[k + 5])]
        # The last clock of a frame: the pair read in it goes to the accelerator, and
        # the DAC's next frame is loaded with the answer to the pair before.
        frame_end = Signal()
        m.d.comb += frame_end.eq(phase == ratio - 1)

        words = self._adc(m, k, ratio)
        fmt = self.to_acc
        with m.If(self.source.valid & self.source.ready):
            m.d.sync += self.source.valid.eq(0)
        with m.If(frame_end):
            m.d.sync += [self.source.valid.eq(1),
                         self.source.payload.eq(Cat(_word_to_element(w, fmt)
                                                    for w in words[:fmt.elems]))]
        # The accelerator has not taken the last sample: the new one replaces it.
        dropping = self.source.valid & ~self.source.ready
        with m.If(frame_end & dropping):
            self._bump(m, self.dropped)
        self._dac(m, phase, frame_end, k, dropping)
        m.d.comb += self.overrun.eq((self.dropped != 0) | (self.missed != 0))
        return m

    @staticmethod
    def _bump(m: Module, counter: Signal) -> None:
        with m.If(~counter.all()):
            m.d.sync += counter.eq(counter + 1)

    def _adc(self, m: Module, k: int, ratio: int) -> list[Signal]:
        """Shift the ADC's words in; returns (left, right), complete by the end of the frame."""
        sdata = Signal()
        m.submodules.adc_sync = FFSynchronizer(self.adc_sdata, sdata, stages=_SYNC_STAGES)
        # `late` trails the bus phase by half a cell plus the synchroniser: when its
        # cell offset is 0, `sdata` is the line as it was at that cell's rising edge.
        late = Signal(range(ratio), init=(-(self.clocks_per_bit // 2 + _SYNC_STAGES)) % ratio)
        m.d.sync += late.eq(late + 1)
        cell = late[k:k + 6]
        left, right = Signal(WORD_BITS), Signal(WORD_BITS)
        with m.If(late[:k] == 0):
            with m.If((cell >= 1) & (cell <= WORD_BITS)):
                m.d.sync += left.eq(Cat(sdata, left[:-1]))
            with m.If((cell >= SLOT_BITS + 1) & (cell <= SLOT_BITS + WORD_BITS)):
                m.d.sync += right.eq(Cat(sdata, right[:-1]))
        return [left, right]

    def _dac(self, m: Module, phase: Signal, frame_end: Signal, k: int, dropping: Signal) -> None:
        fmt = self.from_acc
        width = fmt.width
        # Answers wait here until due: at most answer_frames are outstanding.
        m.submodules.answers = answers = SyncFIFO(width=2 * WORD_BITS, depth=self.answer_frames)
        elements = [self.sink.payload[i * width:(i + 1) * width] for i in range(fmt.elems)]
        m.d.comb += [self.sink.ready.eq(1),
                     answers.w_data.eq(Cat(_element_to_word(elements[i % fmt.elems], fmt)
                                           for i in range(2)))]
        # asked[i]: a sample went to the accelerator i + 1 frame ends ago (not replaced
        # before it was taken); its answer is due when i + 1 == answer_frames.
        asked = Signal(self.answer_frames)
        due = asked[-1] & ~dropping if self.answer_frames == 1 else asked[-1]
        with m.If(frame_end):
            m.d.sync += asked.eq(Cat(Const(1, 1), asked[0] & ~dropping, asked[1:-1])
                                 if self.answer_frames > 1 else 1)
        # A missed answer, when it comes after all, is thrown away: the latency stays fixed.
        owed = Signal(_COUNTER_BITS)
        miss = frame_end & due & ~answers.r_rdy
        discard = self.sink.valid & ((owed != 0) | miss)
        with m.If(miss & ~discard & ~owed.all()):
            m.d.sync += owed.eq(owed + 1)
        with m.Elif(discard & ~miss):
            m.d.sync += owed.eq(owed - 1)
        with m.If(miss):
            self._bump(m, self.missed)
        m.d.comb += [answers.w_en.eq(self.sink.valid & ~discard),
                     answers.r_en.eq(frame_end & due)]
        with m.If(answers.w_en & ~answers.w_rdy):
            self._bump(m, self.dropped)

        # The DAC frame, MSB first: per channel one empty cell, the word, zeros to 32 cells.
        frame = Signal(2 * SLOT_BITS)
        pad = Const(0, SLOT_BITS - WORD_BITS - 1)
        play = Mux(due & answers.r_rdy, answers.r_data, 0)
        m.d.comb += self.dac_sdata.eq(frame[-1])
        with m.If(frame_end):
            m.d.sync += frame.eq(Cat(pad, play[WORD_BITS:], Const(0, 1), pad, play[:WORD_BITS],
                                     Const(0, 1)))
        with m.Elif(phase[:k] == self.clocks_per_bit - 1):
            m.d.sync += frame.eq(frame << 1)


def _word_to_element(word: Signal, fmt: StreamFormat):
    """The hardware form of :func:`adc_to_element` (bits only; the payload is unsigned)."""
    width = fmt.width
    bits = word[WORD_BITS - width:] if width <= WORD_BITS else Cat(Const(0, width - WORD_BITS), word)
    return bits if fmt.signed else Cat(bits[:-1], ~bits[-1])


def _element_to_word(value, fmt: StreamFormat):
    """The hardware form of :func:`element_to_dac`."""
    width = fmt.width
    bits = value if fmt.signed else Cat(value[:-1], ~value[-1])
    return Cat(Const(0, WORD_BITS - width), bits) if width <= WORD_BITS else bits[width - WORD_BITS:]
