"""A long fuzzing run: many random models, several seeds, timings per stage.

    .venv/bin/python bench/fuzz_bench.py --models 1000 --seeds 1,2,3 --json fuzz-bench.json

The CI test (tests/trust/test_fuzz.py) runs 200 models of seed 1; this runs as
many as you like and reports models per minute cold (first run) and warm
(rerun: every Verilator build cached, only generation, emission and simulation
left).  Each run also prints how many models of each kind (MLP, CNN, residual
block, causal convolution stream) it checked and how many of each failed.
Exit status 1 if any model failed; every failure is printed with its seed,
model number and minimised IR text.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bitwave.fuzz import FuzzConfig, fuzz  # noqa: E402
from bitwave.fuzz._generate import KINDS, case_kind  # noqa: E402


def kind_counts(report, cfg: FuzzConfig) -> dict:
    """Models of each kind in a run and, of those, how many failed."""
    kinds = {i: case_kind(report.seed, i, cfg) for i in range(report.models)}
    total = Counter(kinds.values())
    failed = Counter(kinds[f.index] for f in report.failures)
    return {k: {"models": total[k], "failed": failed[k]} for k in KINDS}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, default=1000, help="models per seed")
    ap.add_argument("--seeds", default="1", help="comma-separated seeds")
    ap.add_argument("--batch", type=int, default=FuzzConfig.batch, help="designs per Verilator build, at most")
    ap.add_argument("--no-minimise", action="store_true")
    ap.add_argument("--rerun", action="store_true", help="run every seed twice to time the cached rerun")
    ap.add_argument("--json", default=None, help="write all reports here")
    args = ap.parse_args(argv)
    cfg = FuzzConfig(batch=args.batch)
    reports = []
    failed = 0
    for seed in (int(s) for s in args.seeds.split(",")):
        for attempt in ("cold", "warm") if args.rerun else ("cold",):
            t0 = time.monotonic()
            r = fuzz(args.models, seed, cfg=cfg, minimise_failures=not args.no_minimise,
                     log=lambda s: print(f"  {s}", flush=True))
            print(f"[{attempt}] {r.summary()}  ({time.monotonic() - t0:.0f} s)", flush=True)
            kinds = kind_counts(r, cfg)
            print("  by kind: " + ", ".join(f"{k} {v['models']} ({v['failed']} failed)" for k, v in kinds.items()))
            for f in r.failures:
                print(f.describe())
            failed += r.mismatches
            reports.append(dict(r.as_dict(), run=attempt, kinds=kinds))
    if args.json:
        Path(args.json).write_text(json.dumps(reports, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
