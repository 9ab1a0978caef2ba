"""Audio on a board: a Digilent Pmod I2S2 (CS5343 ADC, CS4344 DAC) around the accelerator.

The board's clock is the codecs' master clock: the I2S bridge
(:class:`~bitwave.hdl.I2SCodecBridge`) makes SCLK and LRCK from it, and the
clock itself goes out on both MCLK pins through a DDR output buffer. On the
iCEBreaker (12 MHz) with 4 clocks per bit cell that is MCLK/LRCK = 256 and
SCLK/LRCK = 64, so 12 MHz / 256 = 46.875 kHz: 2.3 % below 48 kHz, inside
both codecs' single-speed range for that ratio. The ADC must be in slave mode
(jumper JP1 on SLV).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from amaranth.back import verilog
from amaranth.build import Attrs, Pins, Resource, Subsignal
from amaranth.build.res import ResourceError
from amaranth.hdl import Elaboratable, Module
from amaranth.lib import io, wiring
from amaranth.lib.wiring import In, Out

from ..build_folder import BuildManifest
from ..errors import BoardError, HdlError
from ..hdl._checked import CheckedComponent
from ..hdl._i2s import I2SCodecBridge, adc_to_element, element_to_dac
from ..sim._i2s import I2SSimResult, simulate_i2s
from ._wrap import accelerator, status_led

__all__ = ["I2SAccelerator", "I2SBoardTop", "pmod_i2s2_resource", "codec_sample_rate",
           "answer_frames", "i2s_board_top", "simulate_i2s_build", "i2s_inputs", "i2s_expected_dac"]

CLOCKS_PER_BIT = 4

# Pmod I2S2 header J1: the DAC on the top row, the ADC on the bottom row.
_PMOD_I2S2_PINS = {"da_mclk": ("1", "o"), "da_lrck": ("2", "o"), "da_sclk": ("3", "o"),
                   "da_sdin": ("4", "o"), "ad_mclk": ("7", "o"), "ad_lrck": ("8", "o"),
                   "ad_sclk": ("9", "o"), "ad_sdout": ("10", "i")}

# MCLK/LRCK ratios with SCLK/LRCK = 64 and the sample rates (Hz) each allows:
# CS5343 in slave mode (datasheet's slave-mode table) and CS4344 (its Table 1 and speed modes).
_CS5343_SLAVE = {128: ((86e3, 108e3),), 192: ((86e3, 108e3),),
                 256: ((4e3, 24e3), (43e3, 54e3), (86e3, 108e3)),
                 384: ((4e3, 24e3), (43e3, 54e3), (86e3, 108e3)),
                 512: ((43e3, 54e3),), 768: ((43e3, 54e3),)}
_CS4344 = {64: ((100e3, 200e3),), 96: ((100e3, 200e3),), 128: ((50e3, 200e3),),
           192: ((50e3, 200e3),), 256: ((2e3, 100e3),), 384: ((2e3, 100e3),),
           512: ((2e3, 50e3),), 768: ((2e3, 50e3),), 1024: ((2e3, 50e3),), 1152: ((2e3, 50e3),)}


def pmod_i2s2_resource(pmod: int = 0) -> Resource:
    """The Pmod I2S2's eight signals on the board's PMOD connector ``pmod`` (0 is PMOD1A)."""
    return Resource("pmod_i2s2", 0, *(Subsignal(name, Pins(pin, dir=d, conn=("pmod", pmod)))
                                      for name, (pin, d) in _PMOD_I2S2_PINS.items()),
                    Attrs(IO_STANDARD="SB_LVCMOS"))


def codec_sample_rate(clock_hz: float, clocks_per_bit: int = CLOCKS_PER_BIT) -> float:
    """The sample rate (LRCK) with the board clock as MCLK; BoardError if a codec cannot run at it."""
    ratio = 64 * clocks_per_bit
    rate = clock_hz / ratio
    for chip, table in (("CS5343 (slave mode)", _CS5343_SLAVE), ("CS4344", _CS4344)):
        if not any(lo <= rate <= hi for lo, hi in table.get(ratio, ())):
            raise BoardError(f"I2S: a {clock_hz / 1e6:g} MHz MCLK at MCLK/LRCK = {ratio} gives "
                             f"{rate / 1e3:g} kHz, which the {chip} does not support at that ratio; "
                             f"pick a board clock and clocks per bit that do (docs/boards.md, "
                             f"'Audio through an I2S codec')")
    return rate


def answer_frames(manifest: BuildManifest, clocks_per_bit: int = CLOCKS_PER_BIT) -> int:
    """LRCK periods the accelerator needs to answer a sample: its latency plus the cycles to
    take the sample, rounded up to whole periods. BoardError if it cannot take one sample
    per period."""
    period = 64 * clocks_per_bit
    cycles = manifest.cycles_per_frame
    if cycles > period - 2:
        raise BoardError(f"I2S: {manifest.name} takes {cycles} cycles per sample, more than the "
                         f"{period - 2} clocks an LRCK period of {period} leaves it; compile it "
                         f"less folded (a lower --target-cycles)")
    return max(1, -(-((manifest.latency or 0) + cycles + 2) // period))


class I2SAccelerator(CheckedComponent):
    """The I2S bridge around the accelerator (``bitwave_top``): codec pins and status outputs.

    The accelerator gets :func:`answer_frames` periods per answer; the latency
    from ADC to DAC is one period more (``bridge.latency_frames``)."""

    @classmethod
    def check(cls, manifest: BuildManifest, *, clocks_per_bit: int = CLOCKS_PER_BIT) -> dict:
        """The bridge for ``manifest``'s streams; BoardError when they are not sample streams."""
        try:
            bridge = I2SCodecBridge(to_acc=manifest.sink, from_acc=manifest.source,
                                    clocks_per_bit=clocks_per_bit,
                                    answer_frames=answer_frames(manifest, clocks_per_bit))
        except HdlError as exc:
            raise BoardError(f"I2S: {manifest.name}: {exc}; compile an audio model as a stream "
                             f"(bitwave compile … -p to-stream), or build this one for the "
                             f"UART (--board icebreaker)") from None
        return dict(manifest=manifest, bridge=bridge)

    def __init__(self, manifest: BuildManifest, **_):
        super().__init__({"sclk": Out(1), "lrck": Out(1), "dac_sdata": Out(1), "adc_sdata": In(1),
                          "dropped": Out(16), "missed": Out(16), "overrun": Out(1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.bridge = bridge = self.bridge
        acc_sink, acc_source = accelerator(m, self.manifest)
        wiring.connect(m, bridge.source, acc_sink)
        wiring.connect(m, acc_source, bridge.sink)
        m.d.comb += [self.sclk.eq(bridge.sclk), self.lrck.eq(bridge.lrck),
                     self.dac_sdata.eq(bridge.dac_sdata), bridge.adc_sdata.eq(self.adc_sdata),
                     self.dropped.eq(bridge.dropped), self.missed.eq(bridge.missed),
                     self.overrun.eq(bridge.overrun)]
        return m


class I2SBoardTop(Elaboratable):
    """A board design: the platform's ``pmod_i2s2`` 0 to ``core``; LED 0 lights on overrun."""

    def __init__(self, core: I2SAccelerator):
        self.core = core

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = self.core
        try:
            pins = platform.request("pmod_i2s2", 0, dir="-")
        except ResourceError:
            raise BoardError("I2S: the platform has no 'pmod_i2s2' resource; add "
                             "bitwave.boards.pmod_i2s2_resource(N) for the PMOD it is on") from None
        # MCLK is the clock itself, forwarded by DDR flip-flops (1 on the rising edge, 0 on the falling).
        for name in ("da_mclk", "ad_mclk"):
            m.submodules[name] = mclk = io.DDRBuffer("o", getattr(pins, name))
            m.d.comb += [mclk.o[0].eq(1), mclk.o[1].eq(0)]
        outputs = {"da_lrck": core.lrck, "ad_lrck": core.lrck, "da_sclk": core.sclk,
                   "ad_sclk": core.sclk, "da_sdin": core.dac_sdata}
        for name, signal in outputs.items():
            m.submodules[name] = buf = io.Buffer("o", getattr(pins, name))
            m.d.comb += buf.o.eq(signal)
        m.submodules.ad_sdout = sdout = io.Buffer("i", pins.ad_sdout)
        m.d.comb += core.adc_sdata.eq(sdout.i)
        status_led(m, platform, core.overrun)
        return m


def i2s_board_top(manifest: BuildManifest, clock_hz: float) -> I2SBoardTop:
    """The board top of an I2S target (its ``make_top``), after checking the codecs' clocking."""
    codec_sample_rate(clock_hz)
    return I2SBoardTop(I2SAccelerator(manifest))


def i2s_inputs(adc, manifest: BuildManifest) -> np.ndarray:
    """The accelerator's input frames (N, sink elems) the bridge makes of (N, 2) ADC samples."""
    fmt = manifest.sink
    samples = np.asarray(adc, dtype=np.int64)[:, :fmt.elems]
    return np.vectorize(lambda w: adc_to_element(int(w), fmt.width, fmt.signed),
                        otypes=[np.int64])(samples).reshape(-1, fmt.elems)


def i2s_expected_dac(outputs, manifest: BuildManifest, *,
                     clocks_per_bit: int = CLOCKS_PER_BIT) -> np.ndarray:
    """The DAC frames (N + latency, 2) for accelerator outputs (N, source elems): the wrapper's
    latency in silent frames, then each output mapped to 24 bits, a mono output on both
    channels."""
    latency = answer_frames(manifest, clocks_per_bit) + 1
    fmt = manifest.source
    values = np.asarray(outputs, dtype=np.int64).reshape(-1, fmt.elems)
    words = np.vectorize(lambda v: element_to_dac(int(v), fmt.width, fmt.signed),
                         otypes=[np.int64])(values)
    pairs = words[:, [0, 0]] if fmt.elems == 1 else words
    return np.concatenate([np.zeros((latency, 2), np.int64), pairs])


def simulate_i2s_build(build_dir: Path | str, adc, *,
                       clocks_per_bit: int = CLOCKS_PER_BIT) -> I2SSimResult:
    """The board's I2S wrapper around ``build_dir``'s accelerator, in Verilator against the codec
    model: (N, 2) ADC samples in, N + latency DAC frames out (``bridge.latency_frames``)."""
    manifest = BuildManifest.load(build_dir)
    core = I2SAccelerator(manifest, clocks_per_bit=clocks_per_bit)
    wrapper = verilog.convert(core, name="bitwave_i2s_top",
                              ports=[core.sclk, core.lrck, core.dac_sdata, core.adc_sdata,
                                     core.dropped, core.missed, core.overrun])
    files = {"bitwave_i2s_top.v": wrapper,
             "bitwave_top.v": (Path(build_dir) / manifest.verilog).read_bytes()}
    return simulate_i2s(files, top="bitwave_i2s_top", adc=adc,
                        mclk_per_lrck=core.bridge.mclk_per_lrck,
                        frames_out=len(adc) + core.bridge.latency_frames,
                        work=Path(build_dir) / "i2s-sim")
