"""UART (8N1) and the byte ⇄ vector bridge that lets a host talk to an accelerator.

The host sends ``ceil(in_width/8)`` bytes per input beat, least significant
byte first, and receives ``ceil(out_width/8)`` bytes per result beat; a frame
of several beats is its beats' bytes back to back.  A UART has
no flow control, so the receiver cannot be stalled: a byte that arrives while
the previous one is still waiting is dropped and ``overrun`` goes high (and
stays high until reset).  The host keeps few enough frames in flight that this
cannot happen (see ``bitwave.boards.run_on_board``).

All timing is in clock cycles: ``divisor`` is ``clk_freq / baud`` rounded to an
integer; the caller checks the rounding error against the baud rate.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from ..errors import HdlError

__all__ = ["UARTReceiver", "UARTTransmitter", "BytesToVector", "VectorToBytes",
           "UARTStreamBridge", "frame_bytes"]


def frame_bytes(width: int) -> int:
    """Bytes needed to carry ``width`` bits (one beat, one vector, on the UART)."""
    return (width + 7) // 8


def _check_positive(name: str, value, minimum: int = 1) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise HdlError(f"{name} must be an integer >= {minimum}, not {value!r}")
    return value


class UARTReceiver(wiring.Component):
    """8N1 receiver; ``source`` carries one byte per received character.

    The line is synchronised with two flip-flops, each bit is sampled in its
    middle, a start bit shorter than half a bit is ignored as a glitch and a
    character whose stop bit is low is dropped (framing error).
    """

    def __init__(self, *, divisor: int):
        self.divisor = _check_positive("divisor", divisor, 4)
        super().__init__({
            "rx": In(1, init=1),
            "source": Out(stream.Signature(8)),
            "overrun": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        rx = Signal(init=1)
        m.submodules.rx_sync = FFSynchronizer(self.rx, rx, init=1)

        timer = Signal(range(self.divisor))
        bit = Signal(range(10))      # 0: start, 1..8: data, 9: stop
        shift = Signal(8)
        busy = Signal()

        with m.If(self.source.valid & self.source.ready):
            m.d.sync += self.source.valid.eq(0)

        with m.If(~busy):
            with m.If(~rx):
                # Wait half a bit so every later sample lands mid-bit.
                m.d.sync += [busy.eq(1), bit.eq(0), timer.eq(self.divisor // 2 - 1)]
        with m.Elif(timer != 0):
            m.d.sync += timer.eq(timer - 1)
        with m.Else():
            m.d.sync += [timer.eq(self.divisor - 1), bit.eq(bit + 1)]
            with m.If(bit == 0):
                with m.If(rx):
                    m.d.sync += busy.eq(0)          # glitch, not a start bit
            with m.Elif(bit <= 8):
                m.d.sync += shift.eq(Cat(shift[1:], rx))
            with m.Else():
                m.d.sync += busy.eq(0)              # mid stop bit: ready for the next start
                with m.If(rx):
                    with m.If(self.source.valid & ~self.source.ready):
                        m.d.sync += self.overrun.eq(1)
                    with m.Else():
                        m.d.sync += [self.source.payload.eq(shift), self.source.valid.eq(1)]
        return m


class UARTTransmitter(wiring.Component):
    """8N1 transmitter; takes one byte from ``sink`` per character sent."""

    def __init__(self, *, divisor: int):
        self.divisor = _check_positive("divisor", divisor, 4)
        super().__init__({
            "sink": In(stream.Signature(8)),
            "tx": Out(1, init=1),
        })

    def elaborate(self, platform):
        m = Module()
        timer = Signal(range(self.divisor))
        shift = Signal(10, init=0x3FF)      # start, 8 data, stop; LSB on the line
        left = Signal(range(11))            # bit periods still to go

        m.d.comb += [self.tx.eq(shift[0]), self.sink.ready.eq(left == 0)]
        with m.If(left == 0):
            with m.If(self.sink.valid):
                m.d.sync += [shift.eq(Cat(0, self.sink.payload, 1)), left.eq(10),
                             timer.eq(self.divisor - 1)]
        with m.Elif(timer != 0):
            m.d.sync += timer.eq(timer - 1)
        with m.Else():
            m.d.sync += [shift.eq(Cat(shift[1:], 1)), left.eq(left - 1),
                         timer.eq(self.divisor - 1)]
        return m


class BytesToVector(wiring.Component):
    """Collect ``frame_bytes(width)`` bytes (little-endian) into one ``width``-bit vector.

    A frame is ``beats`` vectors.  With ``timeout`` (in clock cycles) a partial
    frame is discarded when no byte arrives for that long, so a host that lost
    sync gets it back by pausing: the bytes of a partial vector are dropped,
    and when vectors of the frame have already gone out, ``abort`` is high for
    that one cycle so that the receiver of the vectors (the accelerator) can
    be reset.  Bits of the last byte beyond ``width`` are ignored.
    """

    def __init__(self, *, width: int, beats: int = 1, timeout: int | None = None):
        self.width = _check_positive("width", width)
        self.beats = _check_positive("beats", beats)
        self.timeout = None if timeout is None else _check_positive("timeout", timeout)
        super().__init__({
            "sink": In(stream.Signature(8)),
            "source": Out(stream.Signature(width)),
            "abort": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        nbytes = frame_bytes(self.width)
        buf = Signal(nbytes * 8)
        count = Signal(range(nbytes + 1))
        beat = Signal(range(self.beats))     # vectors of the current frame already sent

        m.d.comb += [self.sink.ready.eq(~self.source.valid),
                     self.source.payload.eq(buf[:self.width])]
        with m.If(self.source.valid & self.source.ready):
            m.d.sync += [self.source.valid.eq(0),
                         beat.eq(Mux(beat == self.beats - 1, 0, beat + 1))]
        with m.If(self.sink.valid & self.sink.ready):
            m.d.sync += buf.eq(Cat(buf[8:], self.sink.payload))
            with m.If(count == nbytes - 1):
                m.d.sync += [count.eq(0), self.source.valid.eq(1)]
            with m.Else():
                m.d.sync += count.eq(count + 1)

        if self.timeout is not None and (nbytes > 1 or self.beats > 1):
            idle = Signal(range(self.timeout + 1))
            # Waiting with a whole vector not yet taken is the receiver's stall, not a pause.
            with m.If(self.sink.valid | self.source.valid | ((count == 0) & (beat == 0))):
                m.d.sync += idle.eq(0)
            with m.Elif(idle == self.timeout):
                m.d.sync += [count.eq(0), beat.eq(0), idle.eq(0)]
                m.d.comb += self.abort.eq(beat != 0)
            with m.Else():
                m.d.sync += idle.eq(idle + 1)
        return m


class VectorToBytes(wiring.Component):
    """Send one ``width``-bit vector as ``frame_bytes(width)`` bytes, least significant first."""

    def __init__(self, *, width: int):
        self.width = _check_positive("width", width)
        super().__init__({
            "sink": In(stream.Signature(width)),
            "source": Out(stream.Signature(8)),
        })

    def elaborate(self, platform):
        m = Module()
        nbytes = frame_bytes(self.width)
        buf = Signal(nbytes * 8)
        left = Signal(range(nbytes + 1))

        m.d.comb += [self.sink.ready.eq(left == 0),
                     self.source.valid.eq(left != 0),
                     self.source.payload.eq(buf[:8])]
        with m.If(self.sink.valid & self.sink.ready):
            m.d.sync += [buf.eq(self.sink.payload), left.eq(nbytes)]
        with m.Elif(self.source.valid & self.source.ready):
            m.d.sync += [buf.eq(buf >> 8), left.eq(left - 1)]
        return m


class UARTStreamBridge(wiring.Component):
    """Host bytes over a UART ⇄ an accelerator's vector streams.

    ``source`` drives the accelerator's input stream (its ``sink``) and
    ``sink`` takes the accelerator's output stream (its ``source``); an input
    frame is ``in_beats`` vectors of ``in_width`` bits.  ``frame_timeout``
    (clock cycles) drops a partial input frame after a pause; when some of its
    vectors had already gone to the accelerator, ``abort`` pulses so that the
    accelerator can be reset (its state holds half a frame).

    Received bytes pass through a FIFO of at least one frame (and at least 256
    bytes, so that Yosys puts it in block RAM rather than flip-flops): the
    accelerator may hold the assembled vector for many cycles before it
    accepts it (a folded unit reads its input slice by slice), and the UART
    cannot be stalled, so the next frame waits there.  With at most two frames
    in flight (the host's window) it cannot overflow.
    """

    def __init__(self, *, divisor: int, in_width: int, out_width: int, in_beats: int = 1,
                 frame_timeout: int | None = None):
        self.divisor = _check_positive("divisor", divisor, 4)
        self.in_width = _check_positive("in_width", in_width)
        self.out_width = _check_positive("out_width", out_width)
        self.in_beats = _check_positive("in_beats", in_beats)
        self.frame_timeout = frame_timeout
        super().__init__({
            "rx": In(1, init=1),
            "tx": Out(1, init=1),
            "source": Out(stream.Signature(in_width)),
            "sink": In(stream.Signature(out_width)),
            "overrun": Out(1),
            "abort": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.rx = rx = UARTReceiver(divisor=self.divisor)
        m.submodules.tx = tx = UARTTransmitter(divisor=self.divisor)
        m.submodules.rx_fifo = fifo = SyncFIFOBuffered(
            width=8, depth=max(256, self.in_beats * frame_bytes(self.in_width)))
        m.submodules.unpack = unpack = BytesToVector(width=self.in_width, beats=self.in_beats,
                                                     timeout=self.frame_timeout)
        m.submodules.pack = pack = VectorToBytes(width=self.out_width)
        wiring.connect(m, rx.source, fifo.w_stream)
        wiring.connect(m, fifo.r_stream, unpack.sink)
        wiring.connect(m, pack.source, tx.sink)
        wiring.connect(m, unpack.source, wiring.flipped(self.source))
        wiring.connect(m, wiring.flipped(self.sink), pack.sink)
        m.d.comb += [rx.rx.eq(self.rx), self.tx.eq(tx.tx), self.overrun.eq(rx.overrun),
                     self.abort.eq(unpack.abort)]
        return m
