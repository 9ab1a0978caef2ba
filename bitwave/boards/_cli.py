"""Click commands for the board stage; ``bitwave.cli`` registers them.

``bitwave boards`` · ``bitwave build BUILD_DIR --board NAME`` ·
``bitwave flash BUILD_DIR --board NAME`` · ``bitwave run BUILD_DIR --board NAME --port TTY``.
Errors are raised as BitwaveError subclasses; the top-level CLI prints them.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from ..errors import BoardError
from ._build import DEFAULT_BAUD, TIMING_DRIVEN_MAX_LUT, Step, build, target_folder
from ._flash import flash
from ._host import run_on_board
from ..build_folder import BuildManifest
from ._report import read_report
from ._selftest import selftest_expected
from ._targets import get_target, list_boards

__all__ = ["boards_cmd", "build_cmd", "flash_cmd", "run_cmd", "RichProgress"]

_err = Console(stderr=True, highlight=False)
_out = Console(highlight=False)


class RichProgress:
    """Shows the running step and its latest output line; prints each finished step."""

    def __init__(self, console: Console, target: str):
        self.console = console
        self.target = target
        self.status = None
        self.title = ""

    def step(self, index: int, total: int, step: Step, note: str) -> None:
        self.title = f"[{index + 1}/{total}] {self.target}: {step.title} ({step.argv[0]})"
        if note:
            self.title += f" — {note}"
        if self.status is None:
            self.status = self.console.status(self.title)
            self.status.start()
        else:
            self.status.update(self.title)

    def line(self, text: str) -> None:
        if self.status is not None and text.strip():
            self.status.update(f"{self.title}\n  [dim]{text.strip()[:100]}[/dim]")

    def done(self, step: Step, seconds: float) -> None:
        self.console.print(f"[green]✓[/green] {step.title} {seconds:.1f} s")

    def close(self) -> None:
        if self.status is not None:
            self.status.stop()


@click.command("boards")
def boards_cmd():
    """List the board and device targets."""
    table = Table(title="bitwave targets (or name any Amaranth iCE40/ECP5 platform as module:Class)")
    for col in ("name", "device", "clock", "I/O", "programmer"):
        table.add_column(col)
    for t in list_boards():
        table.add_row(t.name, f"{t.device} {t.package}", f"{t.clock_hz / 1e6:g} MHz",
                      t.io_label or ("UART" if t.board_io else "probe"),
                      " ".join(t.programmer_args) or "–")
    _out.print(table)


@click.command("build")
@click.argument("build_dir", type=click.Path(file_okay=False, exists=True))
@click.option("--board", "-b", required=True, help="Target name (see `bitwave boards`) or module:Class.")
@click.option("--baud", type=int, default=DEFAULT_BAUD, show_default=True,
              help="UART baud rate of the I/O wrapper.")
@click.option("--seed", type=int, default=1, show_default=True, help="nextpnr placement seed.")
@click.option("--dsp/--no-dsp", default=None,
              help="Let synthesis use DSP blocks (default: on ECP5 for multi-bit products when "
                   "they fit the device's multipliers; on iCE40 only when the design plans them, "
                   "e.g. a WDF core).")
@click.option("--bram/--no-bram", default=None,
              help="Let synthesis use block RAM (default: yes, where Yosys finds it cheaper).")
@click.option("--allow-timing-fail", is_flag=True,
              help="Keep a bitstream whose fmax is below the board clock.")
@click.option("--timing-driven/--no-timing-driven", default=None,
              help="nextpnr's timing-driven placement and routing (default: for designs "
                   f"estimated at up to {TIMING_DRIVEN_MAX_LUT:,} LUT4s; larger ones, such as "
                   "a whole unrolled network, are placed and routed by wire length, in a "
                   "fraction of the time; on ECP5 with nextpnr's static placer).")
def build_cmd(build_dir, board, baud, seed, dsp, bram, allow_timing_fail, timing_driven):
    """Synthesise, place and route BUILD_DIR for a board; write the bitstream and a report."""
    progress = RichProgress(_err, board)
    try:
        result = build(build_dir, board, baud=baud, seed=seed, dsp=dsp, bram=bram,
                       progress=progress, allow_timing_fail=allow_timing_fail,
                       timing_driven=timing_driven)
    finally:
        progress.close()
    r = result.report
    if result.reused:
        _out.print(f"{r.target}: nothing changed since the last build; reusing it "
                   f"(built in {r.build_seconds:.1f} s)")
    fmax = f"{r.fmax_mhz:.1f} MHz" if r.fmax_mhz is not None else "–"
    if not r.timing_driven:
        fmax += " (placed and routed by wire length, not for timing)"
    ratio = f" (estimate {r.estimate.lut}, ratio {r.lut_ratio:.2f})" if r.lut_ratio else ""
    _out.print(f"{r.target}: {r.accelerator.lut} LUT4{ratio}, {r.accelerator.ff} FF, "
               f"{r.accelerator.bram} BRAM, {r.accelerator.dsp} DSP in the accelerator; device "
               f"{r.device_used.lut}/{r.capacity.lut} LUT; fmax {fmax} at {r.clock_mhz:g} MHz; "
               f"{result.seconds:.1f} s")
    if result.bitstream is not None:
        _out.print(f"bitstream: {result.bitstream}")
    _out.print(f"report: {result.plan.folder / 'report.md'}")


@click.command("flash")
@click.argument("build_dir", type=click.Path(file_okay=False, exists=True))
@click.option("--board", "-b", required=True, help="Target name (see `bitwave boards`).")
@click.option("--programmer", default=None, help="openFPGALoader executable to use.")
@click.option("--cable", default=None, help="openFPGALoader cable, instead of the board's default.")
@click.option("--persist", is_flag=True, help="ECP5: write the SPI flash, not just SRAM.")
def flash_cmd(build_dir, board, programmer, cable, persist):
    """Load BUILD_DIR's bitstream for a board onto the attached board."""
    with _err.status(f"programming {board} with openFPGALoader"):
        log = flash(build_dir, board, programmer, cable=cable, persist=persist)
    _out.print(f"{board} programmed; log: {log}")


def _read_frames(path: Path, elems: int) -> list[list[int]]:
    """Frames from .npy (N×elems integers) or .json (a list of lists); ``elems`` per frame."""
    if path.suffix == ".npy":
        import numpy as np
        data = np.load(path)
        if data.ndim != 2 or data.dtype.kind not in "iub":
            raise BoardError(f"{path}: expected an N×{elems} integer array, got {data.dtype} "
                             f"{data.shape}")
        frames = data.tolist()
    elif path.suffix == ".json":
        frames = json.loads(path.read_text())
    else:
        raise BoardError(f"{path}: inputs must be .npy or .json")
    if any(len(frame) != elems for frame in frames):
        raise BoardError(f"{path}: every frame must have {elems} elements")
    return frames


@click.command("run")
@click.argument("build_dir", type=click.Path(file_okay=False, exists=True))
@click.option("--board", "-b", required=True, help="The target BUILD_DIR was built and flashed for.")
@click.option("--port", "-p", required=True, help="The board's serial port, e.g. /dev/ttyUSB1.")
@click.option("--input", "input_path", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=None, help="Frames to send (.npy N×elems or .json); self-test builds "
                                 "send random frames when omitted.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write results here (.npy or .json); default: print them.")
@click.option("--frames", "count", type=int, default=100, show_default=True,
              help="Random frames for a self-test build.")
@click.option("--timeout", type=float, default=2.0, show_default=True)
def run_cmd(build_dir, board, port, input_path, output, count, timeout):
    """Stream frames through the accelerator on a flashed board over its UART."""
    target = get_target(board)
    report = read_report(target_folder(build_dir, target))
    baud = report.get("baud")
    if not baud:
        raise BoardError(f"{board} has no UART wrapper; `bitwave run` needs a board target")
    manifest = BuildManifest.load(build_dir)
    selftest = manifest.selftest_addend
    if input_path is not None:
        frames = _read_frames(input_path, manifest.sink.frame_elems)
    elif selftest is not None:
        rng = random.Random(0)
        lo, hi = manifest.sink.lo, manifest.sink.hi
        frames = [[rng.randint(lo, hi) for _ in range(manifest.sink.frame_elems)] for _ in range(count)]
    else:
        raise BoardError("--input is required (frames as .npy or .json)")
    with _err.status(f"streaming {len(frames)} frames over {port} at {baud} baud"):
        results = run_on_board(build_dir, port, frames, baud=baud, timeout=timeout)
    if selftest is not None and input_path is None:
        wrong = sum(r != e for r, e in zip(results, selftest_expected(frames, selftest)))
        if wrong:
            raise BoardError(f"self-test: {wrong} of {len(frames)} results wrong")
        _out.print(f"self-test passed: {len(frames)} frames round-tripped through {board}")
    if output is not None:
        if output.suffix == ".npy":
            import numpy as np
            np.save(output, np.array(results, dtype=np.int64))
        else:
            output.write_text(json.dumps(results) + "\n")
        _out.print(f"{len(results)} results written to {output}")
    elif not (selftest is not None and input_path is None):
        for row in results:
            _out.print(" ".join(map(str, row)))
