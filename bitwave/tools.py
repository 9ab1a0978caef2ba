"""The one way bitwave runs an external tool.

Every tool (Verilator, Yosys, nextpnr, packers, openFPGALoader, a C++
compiler) is started through :func:`run_tool`: an argument list (never a shell
string), its output captured into a log file next to the build, and a
:class:`~bitwave.errors.ToolchainError` naming the tool, the command and the
log when it is missing or fails.  Tool paths may be overridden by environment
variables named after the tool (``BITWAVE_VERILATOR``, ``YOSYS``, ...); that is
the only use of the environment for configuration.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

from .errors import ToolchainError

__all__ = ["ToolRun", "run_tool", "find_tool", "venv_bin"]


@dataclass(frozen=True)
class ToolRun:
    """What a finished tool run left behind."""
    tool: str
    argv: tuple[str, ...]
    log: Path | None
    seconds: float
    output: str


def venv_bin() -> Path:
    """The folder holding this interpreter's console scripts (the venv's ``bin``)."""
    return Path(sys.executable).parent


def find_tool(name: str, *, env_var: str | None = None, hint: str = "") -> str:
    """Resolve a tool to an executable path: env override, the venv's bin, then PATH."""
    override = os.environ.get(env_var) if env_var else None
    if override:
        found = shutil.which(override)
        if found:
            return found
        raise ToolchainError(
            f"{name}: ${env_var} is set to {override!r}, which is not an executable; "
            f"unset it or point it at a working {name}")
    local = venv_bin() / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if found:
        return found
    raise ToolchainError(
        f"{name}: not found in {venv_bin()} or on PATH; "
        + (hint or f"reinstall bitwave (`pip install -e .`) so that {name} is installed from PyPI"))


def run_tool(tool: str, argv: Sequence[str], *, cwd: Path | str | None = None,
             log: Path | str | None = None, env: Mapping[str, str] | None = None,
             timeout: float | None = None,
             on_line: Callable[[str], None] | None = None) -> ToolRun:
    """Run ``argv`` (``argv[0]`` is the executable); raise ToolchainError on failure.

    The combined stdout/stderr goes to ``log`` (if given) and is returned.
    ``on_line`` is called with each output line as it arrives, for progress.
    """
    argv = [str(a) for a in argv]
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    log_path = Path(log) if log is not None else None
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    lines: list[str] = []
    try:
        proc = subprocess.Popen(argv, cwd=cwd, env=full_env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                text=True, errors="replace")
    except FileNotFoundError:
        raise ToolchainError(f"{tool}: executable {argv[0]!r} not found; "
                             f"reinstall bitwave (`pip install -e .`) to get it from PyPI") from None
    except PermissionError:
        raise ToolchainError(f"{tool}: {argv[0]!r} is not executable") from None
    # written line by line (flushed): a route of an hour can be watched with
    # ``tail -f``, and a run that is killed leaves its log up to that point
    sink = log_path.open("w") if log_path is not None else None
    if sink is not None:
        sink.write(f"$ {shlex.join(argv)}\n")
        sink.flush()
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if sink is not None:
                sink.write(line)
                sink.flush()
            if on_line is not None:
                on_line(line.rstrip("\n"))
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise ToolchainError(f"{tool}: timed out after {timeout:.0f} s: {shlex.join(argv)}") from None
    finally:
        proc.stdout.close()
        output = "".join(lines)
        if sink is not None:
            sink.close()
    seconds = time.monotonic() - start
    if proc.returncode != 0:
        tail = "".join(lines[-15:]).strip()
        where = f"; full log: {log_path}" if log_path is not None else ""
        raise ToolchainError(
            f"{tool} failed (exit {proc.returncode}): {shlex.join(argv)}{where}\n{tail}")
    return ToolRun(tool=tool, argv=tuple(argv), log=log_path, seconds=seconds, output=output)
