"""One sweep point, run on a Dask worker: train-or-load, compile, verify, one row.

The point's folder ``DIR/points/<key>/`` holds ``model.py`` (a one-function
wrapper that calls the family with the point's parameters, so ``bitwave
compile`` can rebuild the point by itself), ``build/`` (the build folder) and,
once the point is finished, ``row.json``, written atomically (temp file +
rename): a folder with ``row.json`` is a finished point.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import time
from pathlib import Path

from ..errors import BitwaveError
from ._spec import Point

__all__ = ["ROW", "run_point", "read_row", "write_row", "wrapper_source", "rebuild_command", "train_model"]

ROW = "row.json"

_WRAPPER = '''"""Sweep point {key}: {label}.

Rebuild it with:  {command}
"""
import importlib.util
import sys

_NAME = "bitwave_sweep_family_{digest}"
if _NAME not in sys.modules:
    _spec = importlib.util.spec_from_file_location(_NAME, {path!r})
    _module = importlib.util.module_from_spec(_spec)
    sys.modules[_NAME] = _module
    _spec.loader.exec_module(_module)
family = sys.modules[_NAME]
PARAMS = {params!r}


def point():
    return family.{function}(**PARAMS)
'''


def rebuild_command(point: Point, folder: Path) -> str:
    """The ``bitwave compile`` command that rebuilds ``point`` from its folder's ``model.py``."""
    args = ["bitwave", "compile", f"{folder / 'model.py'}:point", "-o", f"build/{point.key}"]
    if point.target_cycles is not None:
        args += ["--target-cycles", str(point.target_cycles)]
    if point.passes:
        args += ["-p", point.passes]
    if point.clock_mhz != 100.0:
        args += ["--clock-mhz", f"{point.clock_mhz:g}"]
    return shlex.join(args)


def wrapper_source(point: Point, folder: Path) -> str:
    return _WRAPPER.format(key=point.key, label=point.label(), command=rebuild_command(point, folder),
                           digest=point.model_digest[:12]
                           + hashlib.sha1(point.model_path.encode()).hexdigest()[:6],
                           path=point.model_path, params=point.kwargs, function=point.function)


def write_row(folder: Path, row: dict) -> None:
    """Write ``folder/row.json`` atomically: readers see all of it or none."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{ROW}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(row, indent=2) + "\n")
    os.replace(tmp, folder / ROW)


def read_row(folder: Path) -> dict | None:
    """The finished row in ``folder``, or None (no row, or one that is not valid JSON)."""
    try:
        return json.loads((folder / ROW).read_text())
    except (OSError, ValueError):
        return None


def _write_wrapper(point: Point, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.py"
    text = wrapper_source(point, folder)
    if not path.is_file() or path.read_text() != text:
        tmp = folder / f".model.py.{os.getpid()}.tmp"
        tmp.write_text(text)
        os.replace(tmp, path)
    return path


def train_model(point: Point, folder: str) -> str:
    """Call the family once (it trains and caches, or loads): run before the points that share a model."""
    from ..frontend import load_model_spec
    wrapper = _write_wrapper(point, Path(folder))
    return load_model_spec(f"{wrapper}:point").name


def _pct(accuracy: dict | None, split: str):
    value = (accuracy or {}).get(split)
    return None if value is None else round(100 * value, 3)


def empty_row(point: Point, folder: Path) -> dict:
    return {"point": point.key, "label": point.label(), "params": point.kwargs,
            "target_cycles": point.target_cycles, "energy": point.energy, "pipeline": point.passes,
            "clock_mhz": point.clock_mhz, "command": rebuild_command(point, folder),
            "build": str(folder / "build"), "error": None}


def run_point(point: Point, folder: str) -> dict:
    """Build and verify ``point`` in ``folder``; the row (with ``error`` set if anything failed)."""
    from ..compile import CompileOptions, compile_graph
    from ..frontend import load_model
    from ..verify import verify_build
    folder = Path(folder)
    t0 = time.monotonic()
    row = empty_row(point, folder)
    try:
        wrapper = _write_wrapper(point, folder)
        m = load_model(f"{wrapper}:point")
        opts = CompileOptions(pipeline=point.passes, target_cycles=point.target_cycles,
                              clock_mhz=point.clock_mhz)
        res = compile_graph(m.graph, folder / "build", opts, dataset=m.dataset, name=m.name,
                            import_seconds=m.seconds,
                            extra_files={"model.onnx": m.qonnx} if m.qonnx else None)
        ver = verify_build(folder / "build", waveform_on_mismatch=False)
        man, acc = res.manifest, res.report.get("accuracy", {})
        cpf = ver.cycles_per_frame or float(man.cycles_per_frame)
        row.update({
            "float_test": _pct(acc.get("float"), "test"), "float_all": _pct(acc.get("float"), "all"),
            "quant_test": _pct(acc.get("quantised"), "test"),
            "quant_all": _pct(acc.get("quantised"), "all"),
            "rtl_test": _pct(ver.accuracy, "test"), "rtl_all": _pct(ver.accuracy, "all"),
            "mismatches": ver.mismatches, "frames": ver.frames, "macs": man.macs,
            "weight_bits": man.weight_bits, "lut": man.estimate.lut, "ff": man.estimate.ff,
            "bram": man.estimate.bram, "cycles_per_frame": round(cpf, 3),
            "ideal_cycles_per_frame": man.cycles_per_frame,
            "fps": round(point.clock_mhz * 1e6 / cpf, 1) if cpf else None})
    except BitwaveError as e:
        row["error"] = str(e).splitlines()[0] if str(e) else type(e).__name__
    except Exception as e:  # noqa: BLE001 - a failing point is a row, never the end of the sweep
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        row["error"] = f"{type(e).__name__}: {first}"
    row["seconds"] = round(time.monotonic() - t0, 2)
    write_row(folder, row)
    return row
