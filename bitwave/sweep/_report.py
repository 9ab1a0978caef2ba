"""Sweep results: ``results.csv``, ``report.md`` with the Pareto fronts, and their PNG plots.

Accuracy is the RTL's held-out accuracy (what the Verilog computed in
Verilator).  A point is on the LUT front when no other point is at least as
accurate with fewer or equal estimated LUT4 (and better in one); on the
throughput front when none is at least as accurate with at least its frames/s.
"""

from __future__ import annotations

import csv
from pathlib import Path

from ._spec import Spec

__all__ = ["COLUMNS", "write_csv", "pareto", "best_per_budget", "write_report"]

COLUMNS = ("point", "target_cycles", "energy", "pipeline", "float_test", "float_all", "quant_test",
           "quant_all", "rtl_test", "rtl_all", "mismatches", "macs", "weight_bits", "lut", "ff", "bram",
           "cycles_per_frame", "fps", "clock_mhz", "seconds", "error", "command")


def _params(rows: list[dict]) -> list[str]:
    names: list[str] = []
    for row in rows:
        names += [k for k in row.get("params", {}) if k not in names]
    return names


def write_csv(rows: list[dict], path: Path) -> Path:
    """One line per point: its parameters, then :data:`COLUMNS`."""
    params = _params(rows)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([*params, *COLUMNS])
        for row in rows:
            w.writerow([*(row.get("params", {}).get(k, "") for k in params),
                        *("" if row.get(c) is None else row.get(c) for c in COLUMNS)])
    return path


def _good(rows: list[dict]) -> list[dict]:
    return [r for r in rows if not r.get("error") and r.get("rtl_test") is not None]


def pareto(rows: list[dict], cost: str, *, higher_is_better: bool = False) -> list[dict]:
    """The points no other point beats in both accuracy and ``cost``, sorted by cost."""
    sign = -1 if higher_is_better else 1
    good = sorted(_good(rows), key=lambda r: (sign * r[cost], -r["rtl_test"]))
    front, best = [], -1.0
    for r in good:
        if r["rtl_test"] > best:
            front.append(r)
            best = r["rtl_test"]
    return front


def _budgets(rows: list[dict], given: tuple[int, ...]) -> list[int]:
    if given:
        return sorted(given)
    luts = [r["lut"] for r in _good(rows)]
    if not luts:
        return []
    out, step = [], 1
    while step * 10 < min(luts):
        step *= 10
    while step <= 10 * max(luts):   # a 1-2-5 series over the range seen
        out += [m * step for m in (1, 2, 5) if min(luts) <= m * step <= 2 * max(luts)]
        step *= 10
    return out or [max(luts)]


def best_per_budget(rows: list[dict], budgets) -> list[tuple[int, dict | None]]:
    """For each LUT4 budget, the most accurate point that fits (fewer LUT on a tie)."""
    good = _good(rows)
    out = []
    for b in budgets:
        fit = [r for r in good if r["lut"] <= b]
        out.append((b, max(fit, key=lambda r: (r["rtl_test"], -r["lut"])) if fit else None))
    return out


def _table(rows: list[dict], params: list[str]) -> list[str]:
    head = [*params, "cycles", "energy", "RTL held-out %", "RTL all %", "quant held-out %", "float held-out %",
            "mismatches", "est. LUT4", "FF", "BRAM", "frames/s", "MACs", "weight bits"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [*(r["params"].get(k, "") for k in params), r["target_cycles"] or "folded", r["energy"] or "-",
                 r["rtl_test"], r["rtl_all"], r["quant_test"], r["float_test"], r["mismatches"], r["lut"],
                 r["ff"], r["bram"], f"{r['fps']:,.0f}", r["macs"], r["weight_bits"]]
        lines.append("| " + " | ".join("" if c is None else str(c) for c in cells) + " |")
    return lines


def _plot(rows: list[dict], front: list[dict], cost: str, label: str, path: Path, *, log: bool) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    good = _good(rows)
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    ax.scatter([r[cost] for r in good], [r["rtl_test"] for r in good], s=18, color="0.6", label="points")
    ax.plot([r[cost] for r in front], [r["rtl_test"] for r in front], "o-", color="C3", label="Pareto front")
    if log:
        ax.set_xscale("log")
    ax.set_xlabel(label)
    ax.set_ylabel("RTL held-out accuracy (%)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_report(spec: Spec, rows: list[dict], out_dir: Path, *, seconds: float | None = None) -> Path:
    """``report.md`` (fronts, best per budget, failed points, rebuild commands) and the two PNGs."""
    out_dir = Path(out_dir)
    params = _params(rows)
    lut_front = pareto(rows, "lut")
    fps_front = pareto(rows, "fps", higher_is_better=True)
    _plot(rows, lut_front, "lut", "estimated LUT4", out_dir / "pareto_lut.png", log=True)
    _plot(rows, fps_front, "fps", f"frames/s at {spec.clock_mhz:g} MHz", out_dir / "pareto_fps.png", log=True)
    good, failed = _good(rows), [r for r in rows if r.get("error")]
    md = [f"# Sweep: {spec.path.name}", "",
          f"{len(rows)} points ({len(good)} built and verified, {len(failed)} failed)"
          + (f" in {seconds:.0f} s" if seconds is not None else "") + f"; clock {spec.clock_mhz:g} MHz. "
          "Accuracy is the RTL's (Verilator) on the held-out samples; LUT4/FF/BRAM are bitwave's estimates. "
          "All rows: `results.csv`.", "",
          "## Accuracy vs estimated LUT4 (Pareto front)", "", "![accuracy vs LUT](pareto_lut.png)", "",
          *_table(lut_front, params), "",
          "## Accuracy vs frames/s (Pareto front)", "", "![accuracy vs frames/s](pareto_fps.png)", "",
          *_table(fps_front, params), "",
          "## Best point per LUT4 budget", "", "| LUT4 budget | point | RTL held-out % | est. LUT4 | frames/s |",
          "|---|---|---|---|---|"]
    for budget, r in best_per_budget(rows, _budgets(rows, spec.lut_budgets)):
        md.append(f"| {budget:,} | " + (f"{r['label']} | {r['rtl_test']} | {r['lut']} | {r['fps']:,.0f} |"
                                        if r else "nothing fits | | | |"))
    if failed:
        md += ["", "## Failed points", "", "| point | error |", "|---|---|"]
        md += [f"| {r['label']} | {str(r['error']).replace('|', '/')} |" for r in failed]
    md += ["", "## Rebuilding a point", "",
           "Each point's folder holds `model.py`, which calls the family with that point's parameters:", ""]
    md += [f"- `{r['label']}`: `{r['command']}`" for r in rows]
    path = out_dir / "report.md"
    path.write_text("\n".join(md) + "\n")
    return path
