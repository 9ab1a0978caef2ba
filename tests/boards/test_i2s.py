"""The iCEBreaker's audio target: the Pmod I2S2 pins, the codec clocking check, the I2S wrapper
around a compiled accelerator in Verilator against the codec model, and its build."""

from dataclasses import replace

import numpy as np
import pytest

from bitwave.boards import (answer_frames, build, codec_sample_rate, get_target, i2s_expected_dac, i2s_inputs,
                            list_boards, plan_build, selftest_expected, simulate_i2s_build,
                            write_selftest_build)
from bitwave.build_folder import BuildManifest
from bitwave.errors import BoardError


@pytest.fixture(scope="module")
def mono16(tmp_path_factory):
    """The self-test accelerator on one signed 16-bit element: out = in + 3, 17 bits."""
    return write_selftest_build(tmp_path_factory.mktemp("i2s"), elems=1, elem_width=16, signed=True,
                                addend=3)


def test_the_icebreaker_at_12_mhz_gives_46875_hz():
    assert codec_sample_rate(12e6) == 46_875.0                    # MCLK/LRCK 256
    assert codec_sample_rate(12.288e6) == 48_000.0
    assert codec_sample_rate(12e6, 2) == 93_750.0                 # 128x: both in double speed


@pytest.mark.parametrize("clock,cpb,chip", [
    (12e6, 8, "CS5343"),        # 512x at 23.4 kHz: the ADC takes 512x only at 43-54 kHz
    (48e6, 4, "CS5343"),        # 256x at 187.5 kHz
])
def test_clocking_the_codecs_cannot_take_is_refused(clock, cpb, chip):
    with pytest.raises(BoardError, match=rf"I2S: a {clock / 1e6:g} MHz MCLK at MCLK/LRCK = "
                                         rf"{64 * cpb} gives .* kHz, which the {chip}"):
        codec_sample_rate(clock, cpb)


def test_the_accelerator_gets_whole_periods_for_its_latency(mono16):
    manifest = BuildManifest.load(mono16)
    assert answer_frames(manifest) == 1                              # 1 cycle of latency
    # The fully folded TCN of examples/tcn.py: 192 cycles per sample, 488 of latency.
    assert answer_frames(replace(manifest, cycles_per_frame=192, latency=488)) == 3
    with pytest.raises(BoardError, match=r"I2S: selftest-add3 takes 300 cycles per sample, more "
                                         r"than the 254 clocks an LRCK period of 256 leaves it"):
        answer_frames(replace(manifest, cycles_per_frame=300))


def test_the_target_puts_the_pmod_i2s2_on_pmod1a(mono16):
    target = get_target("icebreaker-i2s")
    assert target in list_boards() and target.io_label == "I2S (Pmod I2S2)"
    plan = plan_build(mono16, target)
    assert plan.baud is None and plan.bitstream == "top.bin"
    pcf = plan.files["top.pcf"].decode()
    # PMOD1A pins 1-4 and 7-10 are FPGA pins 4 2 47 45 / 3 48 46 44.
    for signal, pin in (("da_mclk", 4), ("da_lrck", 2), ("da_sclk", 47), ("da_sdin", 45),
                        ("ad_mclk", 3), ("ad_lrck", 48), ("ad_sclk", 46), ("ad_sdout", 44)):
        assert f"set_io pmod_i2s2_0__{signal}__io {pin}" in pcf
    assert "uart" not in pcf


def test_a_model_that_is_not_a_sample_stream_is_refused(tmp_path):
    folder = write_selftest_build(tmp_path, elems=4, elem_width=8)
    with pytest.raises(BoardError, match=r"I2S: selftest-add3: I2SCodecBridge: the accelerator's "
                                         r"sink stream is 4 × 8 bit; audio needs .*; compile an "
                                         r"audio model as a stream"):
        plan_build(folder, "icebreaker-i2s")


@pytest.mark.sim
def test_the_wrapper_streams_every_sample_through_the_accelerator(mono16):
    """2,000 frames of random stereo: the left channel, cut to 16 bits, plus 3, on both channels."""
    manifest = BuildManifest.load(mono16)
    adc = np.random.default_rng(0).integers(-(1 << 23), 1 << 23, size=(2000, 2))
    adc[:3, 0] = [-(1 << 23), (1 << 23) - 1, -1]
    result = simulate_i2s_build(mono16, adc)
    want = i2s_expected_dac(selftest_expected(i2s_inputs(adc, manifest)), manifest)
    assert result.bus_errors == 0 and (result.dropped, result.missed, result.overrun) == (0, 0, False)
    assert np.array_equal(result.dac, want)
    assert result.dac[2, 0] == (-(1 << 15) + 3) << 7                 # 17-bit result, MSB-aligned


@pytest.mark.toolchain
def test_the_i2s_target_builds_for_the_icebreaker(mono16):
    result = build(mono16, "icebreaker-i2s")
    r = result.report
    assert result.bitstream.name == "top.bin" and result.bitstream.stat().st_size > 50_000
    assert r.io == "I2S (Pmod I2S2)" and r.baud is None
    assert r.clock_mhz == 12.0 and r.timing_met and r.fmax_mhz > 12.0
    # clock in, LED out, eight Pmod I2S2 pins (the two MCLKs as DDR outputs)
    assert r.pnr_utilisation["SB_IO"]["used"] == 10
    assert r.accelerator.ff == 18                                    # 17 result bits and valid
