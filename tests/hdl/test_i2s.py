"""The I2S codec bridge on its own: bus timing, the sample mapping, the fixed latency and what a
late accelerator does, in Verilator against the codec model (bitwave/sim/i2s_harness.cpp)."""

import numpy as np
import pytest
from amaranth.back import verilog
from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from bitwave.errors import HdlError
from bitwave.hdl import I2SCodecBridge, StreamFormat
from bitwave.hdl._i2s import adc_to_element, element_to_dac
from bitwave.sim import simulate_i2s

STEREO = StreamFormat(2, 24, signed=True)
DELAY_BITS = 10


class _Echo(wiring.Component):
    """A pipelined test accelerator: answers each stereo beat with itself, as many clocks after
    taking it as the right channel's low 10 bits say; holds up to 3 beats, and is not ready
    while it holds 3."""

    def __init__(self):
        super().__init__({"sink": In(stream.Signature(STEREO.bits)),
                          "source": Out(stream.Signature(STEREO.bits))})

    def elaborate(self, platform):
        m = Module()
        now = Signal(16)
        m.d.sync += now.eq(now + 1)
        m.submodules.held = held = SyncFIFO(width=STEREO.bits + 16, depth=3)
        delay = self.sink.payload[24:24 + DELAY_BITS]
        m.d.comb += [held.w_data.eq(Cat(self.sink.payload, now + delay)),
                     held.w_en.eq(self.sink.valid), self.sink.ready.eq(held.w_rdy)]
        when = held.r_data[STEREO.bits:]
        m.d.comb += [self.source.payload.eq(held.r_data[:STEREO.bits]),
                     self.source.valid.eq(held.r_rdy & ~(now - when)[15]),
                     held.r_en.eq(self.source.valid & self.source.ready)]
        return m


class _Loop(wiring.Component):
    def __init__(self, answer_frames):
        self.bridge = I2SCodecBridge(to_acc=STEREO, from_acc=STEREO, clocks_per_bit=4,
                                     answer_frames=answer_frames)
        super().__init__({"sclk": Out(1), "lrck": Out(1), "dac_sdata": Out(1), "adc_sdata": In(1),
                          "dropped": Out(16), "missed": Out(16), "overrun": Out(1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.bridge = bridge = self.bridge
        m.submodules.echo = echo = _Echo()
        wiring.connect(m, bridge.source, echo.sink)
        wiring.connect(m, echo.source, bridge.sink)
        for name in ("sclk", "lrck", "dac_sdata", "dropped", "missed", "overrun"):
            m.d.comb += getattr(self, name).eq(getattr(bridge, name))
        m.d.comb += bridge.adc_sdata.eq(self.adc_sdata)
        return m


def _run(adc, tmp_path, answer_frames=1, codec_ratio=None):
    top = _Loop(answer_frames)
    ports = [top.sclk, top.lrck, top.dac_sdata, top.adc_sdata, top.dropped, top.missed, top.overrun]
    files = {"i2s_loop.v": verilog.convert(top, name="i2s_loop", ports=ports)}
    result = simulate_i2s(files, top="i2s_loop", adc=adc,
                          mclk_per_lrck=codec_ratio or top.bridge.mclk_per_lrck,
                          frames_out=len(adc) + top.bridge.latency_frames, work=tmp_path)
    assert top.bridge.latency_frames == answer_frames + 1
    return result


def _samples(n, delays, seed=0):
    rng = np.random.default_rng(seed)
    adc = rng.integers(-(1 << 23), 1 << 23, size=(n, 2))
    adc[:, 1] = (adc[:, 1] & ~((1 << DELAY_BITS) - 1)) | np.asarray(delays)
    return adc


@pytest.mark.sim
@pytest.mark.parametrize("answer_frames,slowest", [
    (1, 240), pytest.param(3, 740, marks=pytest.mark.slow)])      # 3: a second Verilator build
def test_every_sample_comes_back_at_the_fixed_latency(tmp_path, answer_frames, slowest):
    """Answers taking any time up to the budget (240 of 256 clocks for one period, 740 of 768 for
    three, pipelined) come out exactly ``answer_frames + 1`` frames after their sample."""
    rng = np.random.default_rng(answer_frames)
    adc = _samples(600, rng.integers(0, slowest + 1, size=600))
    adc[:4, 0] = [-(1 << 23), (1 << 23) - 1, 0, -1]
    result = _run(adc, tmp_path, answer_frames)
    latency = answer_frames + 1
    assert result.bus_errors == 0
    assert (result.dropped, result.missed, result.overrun) == (0, 0, False)
    assert result.cycles >= (600 + latency) * 256
    assert np.array_equal(result.dac[:latency], np.zeros((latency, 2)))
    assert np.array_equal(result.dac[latency:], adc)


@pytest.mark.sim
def test_a_late_accelerator_is_counted_and_never_shifts_or_stops_the_bus(tmp_path):
    # 50 frames on time, then 20 whose answers take 1000 clocks (four periods: the test
    # accelerator fills up and stops taking samples), then on time again. A sample it never
    # took is never due, so silence = missed answers + dropped samples.
    delays = [10] * 50 + [1000] * 20 + [10] * 50
    adc = _samples(len(delays), delays, seed=2)
    result = _run(adc, tmp_path)
    assert result.bus_errors == 0 and len(result.dac) == len(adc) + 2
    assert result.overrun and result.missed > 0 and result.dropped > 0
    # Every frame is its own sample's answer or silence, never another sample's.
    right, silent = (result.dac[2:] == adc).all(axis=1), (result.dac[2:] == 0).all(axis=1)
    assert np.all(right | silent) and right[:50].all() and right[-20:].all()
    assert silent.sum() == result.missed + result.dropped


@pytest.mark.sim
def test_the_codec_model_flags_a_bus_it_could_not_follow(tmp_path):
    """A codec expecting MCLK/LRCK = 512 sees every 256-clock period as a bus error."""
    result = _run(_samples(20, [0] * 20), tmp_path, codec_ratio=512)
    # Each period is checked at the next one's start: 22 frames recorded, 22 checks.
    assert len(result.dac) == 22 and result.bus_errors == 22


def test_sample_mapping_is_msb_aligned():
    assert adc_to_element(0x7FFFFF, 16, True) == 0x7FFF
    assert adc_to_element(-1, 16, True) == -1
    assert adc_to_element(-(1 << 23), 8, False) == 0            # offset binary: full negative
    assert adc_to_element(0, 8, False) == 128
    assert adc_to_element(5, 28, True) == 5 << 4
    assert element_to_dac(0x7FFF, 16, True) == 0x7FFF00
    assert element_to_dac(-1, 17, True) == -(1 << 7)
    assert element_to_dac(255, 8, False) == 0x7F0000
    assert element_to_dac(5 << 4, 28, True) == 5
    for width, signed in ((24, True), (12, True), (8, False), (30, True)):
        for word in (-(1 << 23), -1, 0, 1, (1 << 23) - 1):
            element = adc_to_element(word, width, signed)
            back = element_to_dac(element, width, signed)
            assert back == word >> max(0, 24 - width) << max(0, 24 - width)


@pytest.mark.parametrize("fmt,clocks,message", [
    (StreamFormat(1, 8, beats=4), 4, r"the accelerator's sink stream is 4 beats of 1 × 8 bit; audio needs one beat"),
    (StreamFormat(3, 8), 4, r"the accelerator's sink stream is 3 × 8 bit; audio needs one beat per sample of 1 "
                            r"element \(mono\) or 2"),
    (StreamFormat(1, 1, bipolar=True), 4, r"the accelerator's sink stream is 1 × 1 bit \(bipolar\)"),
    (STEREO, 3, r"clocks_per_bit must be a power of two >= 2, not 3"),
    (STEREO, 1, r"clocks_per_bit must be a power of two >= 2, not 1"),
])
def test_unusable_parameters_are_refused(fmt, clocks, message):
    with pytest.raises(HdlError, match=r"I2SCodecBridge: " + message):
        I2SCodecBridge(to_acc=fmt, from_acc=STEREO, clocks_per_bit=clocks)
