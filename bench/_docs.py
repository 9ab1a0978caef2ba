"""Write a bench's tables into the README and docs between marker comments.

A block looks like::

    <!-- bench:NAME -->
    ...replaced by the bench...
    <!-- /bench:NAME -->

so that a table in the docs is always the one the bench last printed, never
typed in by hand.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


#: What a bench's figures depend on: local changes elsewhere (docs) do not count.
CODE = ("bitwave", "bench", "examples", "tests/e2e/tfc_models.py", "pyproject.toml")


def revision() -> str:
    """The short commit, with " (with local changes)" when the code differs from it."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                                capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--",
                                *CODE], cwd=ROOT, text=True, capture_output=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + (" (with local changes)" if dirty else "")


def provenance() -> str:
    """Commit, UTC time and load average: what a table's figures depend on (call it when the
    run starts)."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"commit {revision()}, {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, "
            f"load average {load} on {os.cpu_count()} cores")


def write_block(path: Path, name: str, text: str) -> None:
    """Replace the block ``name`` of ``path`` with ``text`` (ValueError when it has none)."""
    begin, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    source = path.read_text()
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    if not pattern.search(source):
        raise ValueError(f"{path}: no block {begin} … {end} to write the table into")
    path.write_text(pattern.sub(lambda _: f"{begin}\n{text.strip()}\n{end}", source, count=1))


def markdown(rows: list[dict], columns) -> str:
    """A GitHub table of ``rows`` (dicts) in ``columns`` order; a missing value is blank."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join("" if row.get(c) is None else str(row[c])
                                       for c in columns) + " |")
    return "\n".join(lines)
