"""Sweep benchmark: the digits design space on a local Dask cluster, timed.

    python bench/sweep_bench.py                       # all 24 points of examples/sweep_digits.toml
    python bench/sweep_bench.py --points 4            # a reproducible random 4 of them
    python bench/sweep_bench.py -o build/sweep-bench --workers 2

Runs ``examples/sweep_digits.toml`` (hidden 16/32/64 × bits 2/4 × svd-split
energy 0/0.2 × 16/64 cycles per frame) through :func:`bitwave.sweep.run_sweep`
on a LocalCluster (one worker process per core, one thread each), writes
``results.csv`` and ``report.md`` to the output folder, and prints one line
per point, the wall time and points per minute.  Each new (hidden, bits) model
trains once (~15 s on 2 cores) and is cached in ``~/.cache/bitwave``, so the
first run is slower than later ones; the output folder is emptied first so
every point is computed (pass ``--keep`` to resume instead).
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import shutil
import sys
import time
from pathlib import Path

from bitwave.sweep import load_spec, run_sweep, write_results

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", default=str(ROOT / "examples" / "sweep_digits.toml"))
    ap.add_argument("-o", "--output", default=str(ROOT / "build" / "sweep-bench"))
    ap.add_argument("--points", type=int, default=None, help="Run a random sample of this many points.")
    ap.add_argument("--seed", type=int, default=0, help="Seed of --points' sample.")
    ap.add_argument("--workers", type=int, default=None, help="Local worker processes (default: cores).")
    ap.add_argument("--keep", action="store_true", help="Keep finished points (resume) instead of recomputing.")
    args = ap.parse_args(argv)
    spec = load_spec(args.spec)
    if args.points is not None:
        chosen = random.Random(args.seed).sample(spec.points, min(args.points, len(spec.points)))
        spec = dataclasses.replace(spec, points=tuple(p for p in spec.points if p in chosen))
    out = Path(args.output)
    if out.exists() and not args.keep:
        shutil.rmtree(out / "points", ignore_errors=True)
    t0 = time.monotonic()
    res = run_sweep(spec, out, workers=args.workers)
    wall = time.monotonic() - t0
    write_results(spec, res, out)
    print(f"{'point':44s} {'RTL held-out %':>14s} {'mism.':>5s} {'est. LUT4':>9s} {'FF':>6s} "
          f"{'cyc/frame':>9s} {'frames/s':>12s} {'s':>6s}")
    for r in res.rows:
        if r.get("error"):
            print(f"{r['label']:44s} error: {r['error']}")
            continue
        print(f"{r['label']:44s} {r['rtl_test']:14.2f} {r['mismatches']:5d} {r['lut']:9d} {r['ff']:6d} "
              f"{r['cycles_per_frame']:9.1f} {r['fps']:12,.0f} {r['seconds']:6.1f}")
    n = len(res.computed)
    print(f"{len(res.rows)} points ({n} computed, {len(res.skipped)} resumed, {len(res.failed)} failed) on "
          f"{res.workers} workers in {wall:.1f} s wall: {60 * n / wall if wall and n else 0:.1f} points/min; "
          f"report: {out / 'report.md'}")
    return 1 if res.failed else 0


if __name__ == "__main__":
    sys.exit(main())
