"""Real yosys + nextpnr + packers (YoWASP) on a tiny accelerator; seconds each once cached."""

import pytest

from bitwave.boards import build, read_report, write_selftest_build
from bitwave.errors import BoardError

pytestmark = pytest.mark.toolchain


@pytest.fixture(scope="module")
def selftest(tmp_path_factory):
    return write_selftest_build(tmp_path_factory.mktemp("tc"), elems=4, elem_width=8)


@pytest.mark.parametrize("board,bitstream,clock,lut_name", [
    ("icebreaker", "top.bin", 12.0, "ICESTORM_LC"),
    ("ulx3s-85f", "top.bit", 25.0, "TRELLIS_COMB"),
])
def test_selftest_builds_for_a_board(selftest, board, bitstream, clock, lut_name):
    result = build(selftest, board)
    r = result.report
    assert result.bitstream.name == bitstream and result.bitstream.stat().st_size > 50_000
    # 4 adders of 8 bits + output register: 36 output bits, 37 FFs with valid.
    assert r.accelerator.ff == 37
    assert 30 <= r.accelerator.lut <= 60
    assert r.wrapper.ff > 100                       # UART bridge buffers and counters
    assert r.clock_mhz == clock and r.timing_met and r.fmax_mhz > clock
    assert r.pnr_utilisation[lut_name]["used"] == r.device_used.lut > 0
    saved = read_report(result.plan.folder)
    assert saved["fmax_mhz"] == r.fmax_mhz and saved["bitstream"] == bitstream
    for log in ("yosys.log", "nextpnr.log"):
        assert (result.plan.folder / log).stat().st_size > 0


def test_generic_target_uses_the_probe_wrapper(selftest):
    result = build(selftest, "ice40-up5k")
    r = result.report
    assert result.bitstream is None and r.io.startswith("probe")
    assert r.pnr_utilisation["SB_IO"]["used"] == 2      # clock in, probe out
    assert r.accelerator.ff == 37                        # same accelerator, untouched by the wrapper
    assert r.fmax_mhz is not None


def test_design_too_big_for_the_device(tmp_path):
    """An iCEstick (HX1K, 1280 logic cells) named as a user platform cannot hold 64 adders."""
    folder = write_selftest_build(tmp_path, elems=64, elem_width=8)
    with pytest.raises(BoardError, match=r"design does not fit: ICESTORM_LC \d+/1280 .*"
                                         r"the biggest layer is add3 \(estimate 576 LUT\)"):
        build(folder, "amaranth_boards.icestick:ICEStickPlatform")
