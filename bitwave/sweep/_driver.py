"""The Dask driver: send the points that are not finished yet to a cluster, collect rows.

By default a :class:`distributed.LocalCluster` on this machine (one worker
process per core, one thread each) is started and stopped around the sweep;
``scheduler`` sends the same tasks to a running cluster (``dask scheduler`` +
``dask worker``) instead.  Points that share a model (same family and
parameters, other folding or split) depend on one training task, so a model is
trained once, not once per worker.  A worker writes each finished row into
``DIR/points/<key>/row.json``; a re-run reads those and skips them, so a killed
sweep resumes where it stopped.  Failed points are rows with ``error`` set;
they are tried again on the next run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..cluster import dask_client, local_cluster
from ..errors import BitwaveError, SweepError
from ._point import empty_row, read_row, run_point, train_model, write_row
from ._spec import Point, Spec

__all__ = ["SweepResult", "run_sweep", "local_cluster", "check_output"]


@dataclass
class SweepResult:
    rows: list[dict]                              # one per point, in spec order
    computed: list[str] = field(default_factory=list)   # keys run this time
    skipped: list[str] = field(default_factory=list)    # keys read from earlier runs
    failed: list[str] = field(default_factory=list)
    seconds: float = 0.0
    workers: int = 0


def _model_key(p: Point) -> str:
    return f"train-{p.model_digest[:12]}-" + "-".join(f"{k}={v}" for k, v in p.params)


def run_sweep(spec: Spec, out_dir: str | Path, *, scheduler: str | None = None,
              workers: int | None = None, progress: Callable | None = None) -> SweepResult:
    """Run every unfinished point of ``spec`` on Dask; rows land in ``out_dir/points/<key>/row.json``.

    ``progress(done, running, failed, total, row)`` is called after each point.
    """
    from distributed import as_completed
    t0 = time.monotonic()
    out_dir = Path(out_dir).resolve()
    check_output(out_dir)
    points_dir = out_dir / "points"
    points_dir.mkdir(parents=True, exist_ok=True)
    rows: dict[str, dict] = {}
    result = SweepResult(rows=[])
    todo = []
    for p in spec.points:
        row = read_row(points_dir / p.key)
        if row is not None and not row.get("error"):
            rows[p.key] = row
            result.skipped.append(p.key)
        else:
            todo.append(p)
    total, failed = len(spec.points), 0
    if progress:
        progress(len(rows), 0, 0, total, None)
    if todo:
        with dask_client(scheduler, workers) as client:
            result.workers = len(client.scheduler_info().get("workers", {}))
            trained = {}
            for p in todo:   # one training task per model, first in line
                if _model_key(p) not in trained:
                    trained[_model_key(p)] = client.submit(train_model, p, str(points_dir / p.key),
                                                           key=_model_key(p), pure=False, retries=0)
            futures = {client.submit(_after, trained[_model_key(p)], p, str(points_dir / p.key),
                                     key=f"point-{p.key}", pure=False): p for p in todo}
            running = len(futures)
            for fut in as_completed(list(futures)):
                p = futures[fut]
                try:
                    row = fut.result()
                except Exception as e:  # noqa: BLE001 - a lost worker or failed training: a row, go on
                    row = empty_row(p, points_dir / p.key)
                    row["error"] = _one_line(e)
                    write_row(points_dir / p.key, row)
                rows[p.key] = row
                result.computed.append(p.key)
                if row.get("error"):
                    failed += 1
                    result.failed.append(p.key)
                running -= 1
                if progress:
                    progress(len(rows) - failed, running, failed, total, row)
    result.rows = [rows[p.key] for p in spec.points]
    result.seconds = time.monotonic() - t0
    return result


OURS = {"points", "results.csv", "report.md", "pareto_lut.png", "pareto_fps.png"}


def check_output(out_dir: Path) -> None:
    """Never write into a folder holding files a sweep did not write."""
    if out_dir.exists() and not out_dir.is_dir():
        raise SweepError(f"output: {out_dir} exists and is not a folder; choose another path")
    foreign = sorted(p.name for p in out_dir.iterdir() if p.name not in OURS) if out_dir.is_dir() else []
    if foreign:
        raise SweepError(f"output: {out_dir} already holds files a sweep did not write "
                         f"({', '.join(foreign[:3])}{', …' if len(foreign) > 3 else ''}); "
                         f"choose an empty or new folder, or the folder of an earlier sweep to resume it")


def _after(_trained, point: Point, folder: str) -> dict:
    """Run a point once its model's training task is done (a failed training fails the point)."""
    return run_point(point, folder)


def _one_line(e: BaseException) -> str:
    """A BitwaveError's own message (it names what and where); anything else prefixed by its type."""
    text = str(e).strip().splitlines()
    if isinstance(e, BitwaveError) and text:
        return text[0]
    return f"{type(e).__name__}: {text[0]}" if text else type(e).__name__
