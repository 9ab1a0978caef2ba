"""A rich progress bar for a sweep: done / running / failed, and the last point finished."""

from __future__ import annotations

from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

__all__ = ["rich_progress"]


@contextmanager
def rich_progress(console: Console):
    """Yields a ``progress(done, running, failed, total, row)`` callback for :func:`run_sweep`."""
    bar = Progress(TextColumn("sweep"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("[green]{task.fields[done]} done[/] · {task.fields[running]} running · "
                              "[red]{task.fields[failed]} failed[/]"),
                   TimeElapsedColumn(), console=console, transient=False)
    task = bar.add_task("sweep", total=None, done=0, running=0, failed=0)

    def update(done, running, failed, total, row):
        bar.update(task, total=total, completed=done + failed, done=done, running=running, failed=failed)
        if row is not None:
            what = f"[red]failed[/]: {row['error']}" if row.get("error") else (
                f"RTL {row['rtl_test']} % held-out, est. LUT4 {row['lut']}, {row['seconds']:.0f} s")
            bar.console.print(f"[dim]·[/dim] {row['label']}: {what}", highlight=False)

    with bar:
        yield update
