"""Design-space sweeps on Dask: which bits, width, rank and folding give the accuracy I need.

``bitwave sweep SPEC -o DIR``: :func:`load_spec` reads the TOML SPEC into
content-addressed :class:`Point` s, :func:`run_sweep` builds and verifies the
unfinished ones on a Dask cluster (local by default), :func:`write_results`
writes ``results.csv``, ``report.md`` and the Pareto plots.  See docs/sweep.md.
"""

from __future__ import annotations

from pathlib import Path

from ._driver import SweepResult, check_output, local_cluster, run_sweep
from ._report import best_per_budget, pareto, write_csv, write_report
from ._spec import Point, Spec, load_spec, parse_spec, source_digest

__all__ = ["Point", "Spec", "SweepResult", "load_spec", "parse_spec", "run_sweep", "local_cluster", "check_output",
           "write_results", "write_csv", "write_report", "pareto", "best_per_budget", "source_digest"]


def write_results(spec: Spec, result: SweepResult, out_dir: str | Path) -> tuple[Path, Path]:
    """``DIR/results.csv`` and ``DIR/report.md`` (with ``pareto_lut.png``, ``pareto_fps.png``)."""
    out_dir = Path(out_dir)
    csv_path = write_csv(result.rows, out_dir / "results.csv")
    return csv_path, write_report(spec, result.rows, out_dir, seconds=result.seconds)
