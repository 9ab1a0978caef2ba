"""Tops that put the user's ``bitwave_top`` (a Verilog black box) on a board or a bare device."""

from __future__ import annotations

from amaranth.build.res import ResourceError
from amaranth.hdl import Cat, ClockSignal, Elaboratable, Instance, Module, Mux, ResetSignal, Signal
from amaranth.lib import io, stream, wiring
from amaranth.lib.wiring import In, Out

from ..errors import BoardError
from ..hdl._uart import UARTStreamBridge
from ..build_folder import BuildManifest

__all__ = ["accelerator", "UartAccelerator", "BoardTop", "ProbeTop", "uart_divisor", "status_led"]


def accelerator(m: Module, manifest: BuildManifest, *,
                abort=0) -> tuple[stream.Interface, stream.Interface]:
    """Instantiate ``bitwave_top`` in ``m``'s sync domain; return (its sink, its source) streams.

    The returned ``sink`` is driven by the caller (data into the accelerator),
    ``source`` is read by the caller; ``abort`` (a signal) resets the
    accelerator too, e.g. to drop half a frame of beats.
    """
    # ECP5 platforms make a reset-less sync domain (the global set/reset
    # initialises every flip-flop), so give the accelerator a short power-on
    # reset of its own as well as the domain's reset, if any.
    por = Signal(4, init=0b1111, reset_less=True)
    m.d.sync += por.eq(por >> 1)
    sink = stream.Signature(manifest.sink.bits).flip().create(path=("acc", "sink"))
    source = stream.Signature(manifest.source.bits).create(path=("acc", "source"))
    m.submodules.accelerator = Instance(
        manifest.top,
        i_clk=ClockSignal("sync"), i_rst=ResetSignal("sync", allow_reset_less=True) | por[0] | abort,
        i_sink__valid=sink.valid, o_sink__ready=sink.ready, i_sink__payload=sink.payload,
        o_source__valid=source.valid, i_source__ready=source.ready,
        o_source__payload=source.payload)
    return sink, source


def uart_divisor(clock_hz: float, baud: int, *, tolerance: float = 0.02) -> int:
    """Clocks per UART bit; BoardError when the rounding is off by more than ``tolerance``."""
    divisor = round(clock_hz / baud)
    if divisor < 4:
        raise BoardError(f"{baud} baud is too fast for a {clock_hz / 1e6:g} MHz clock "
                         f"(needs at least 4 clocks per bit)")
    error = abs(clock_hz / divisor - baud) / baud
    if error > tolerance:
        raise BoardError(f"{baud} baud from a {clock_hz / 1e6:g} MHz clock is off by "
                         f"{error:.1%} (divisor {divisor}); pick another baud rate")
    return divisor


class UartAccelerator(wiring.Component):
    """The UART bridge around the accelerator: host bytes in on ``rx``, results out on ``tx``.

    A partial input frame is dropped after 1000 bit times without a byte, so a
    host that lost sync recovers by pausing for ~10 ms at 115200 baud; when
    beats of it had reached the accelerator, the accelerator is reset.
    """

    def __init__(self, manifest: BuildManifest, *, divisor: int):
        self.manifest = manifest
        self.divisor = divisor
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1), "overrun": Out(1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.bridge = bridge = UARTStreamBridge(
            divisor=self.divisor, in_width=self.manifest.sink.bits, in_beats=self.manifest.sink.beats,
            out_width=self.manifest.source.bits, frame_timeout=1000 * self.divisor)
        acc_sink, acc_source = accelerator(m, self.manifest, abort=bridge.abort)
        wiring.connect(m, bridge.source, acc_sink)
        wiring.connect(m, acc_source, bridge.sink)
        m.d.comb += [bridge.rx.eq(self.rx), self.tx.eq(bridge.tx),
                     self.overrun.eq(bridge.overrun)]
        return m


class BoardTop(Elaboratable):
    """A board design: the platform's ``uart`` 0 to the accelerator; LED 0 lights on overrun."""

    def __init__(self, manifest: BuildManifest, *, divisor: int):
        self.core = UartAccelerator(manifest, divisor=divisor)

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = self.core
        uart = platform.request("uart", 0, dir="-")
        m.submodules.rx_buffer = rx = io.Buffer("i", uart.rx)
        m.submodules.tx_buffer = tx = io.Buffer("o", uart.tx)
        m.d.comb += [core.rx.eq(rx.i), tx.o.eq(core.tx)]
        status_led(m, platform, core.overrun)
        return m


def status_led(m: Module, platform, signal) -> None:
    """Drive the platform's LED 0 from ``signal``, when the board has one."""
    try:
        led = platform.request("led", 0, dir="-")
    except ResourceError:
        return
    m.submodules.led_buffer = led_buffer = io.Buffer("o", led)
    m.d.comb += led_buffer.o.eq(signal)


class ProbeTop(Elaboratable):
    """A bare-device design for resource and timing studies, using two pins.

    A 32-bit Galois LFSR (x^32+x^22+x^2+x+1) drives the accelerator's input
    payload (bit i from LFSR bit i mod 32), sink valid and source ready; the
    XOR of all output bits is registered onto the ``probe`` pin.  The
    accelerator sits in its own hierarchy during synthesis, so this wiring does
    not let yosys simplify it, and its cells are counted apart from the wrapper.

    A wide input thus has 32 nets spanning the device (on an unrolled TFC
    layer 1, 25 ns of the 38 ns critical path).  Registers per input bit next
    to their users were tried on the whole unrolled TFC and made it harder to
    route (router2's overuse after two iterations: 51,919 wires with a toggle
    register per bit, 50,304 with a ring of them, 34,707 as here), so the
    probe stays as it is: the design's routability first, its fmax second.
    """

    def __init__(self, manifest: BuildManifest):
        self.manifest = manifest

    def elaborate(self, platform):
        m = Module()
        lfsr = Signal(32, init=1)
        m.d.sync += lfsr.eq(Mux(lfsr[0], (lfsr >> 1) ^ 0x80200003, lfsr >> 1))
        acc_sink, acc_source = accelerator(m, self.manifest)
        width = self.manifest.sink.bits
        m.d.comb += [
            acc_sink.payload.eq(Cat(lfsr[i % 32] for i in range(width))),
            acc_sink.valid.eq(lfsr[3]),
            acc_source.ready.eq(lfsr[7]),
        ]
        probe_bit = Signal()
        m.d.sync += probe_bit.eq(acc_source.payload.xor() ^ acc_source.valid ^ acc_sink.ready)
        m.submodules.probe_buffer = probe = io.Buffer("o", platform.request("probe", 0, dir="-"))
        m.d.comb += probe.o.eq(probe_bit)
        return m
