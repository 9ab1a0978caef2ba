"""Compiler core figures for the digits MLP: compile time, Verilator build time, simulation speed.

    .venv/bin/python bench/core_bench.py [--bits 4] [--targets 64,256,full] [--repeat 20]

For each folding it prints: compile time (trained model → Verilog: QONNX
import, passes, lowering, Verilog emission), Verilator build time (cold: a
fresh cache), the co-simulation of all 1,797 samples (mismatches against the
reference interpreter), and the steady state measured on the dataset streamed
``--repeat`` times in one run: cycles per frame against the ideal
(rows/pe)·(cols/simd) of the slowest layer, simulated frames and cycles per
second, and the reference interpreter's frames per second in the same process
as a baseline.  Targets (issue 2): model → verified Verilog < 60 s; cycles per
frame within 5 % of ideal; ≥ 1 M simulated cycles per second.  Training is
timed separately (cached after the first run).  Exit status 1 on any mismatch.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from bitwave.frontend import load_model, load_model_spec  # noqa: E402
from bitwave.build_folder import load_build  # noqa: E402
from bitwave.compile import CompileOptions, compile_graph  # noqa: E402
from bitwave.ir import Interpreter, quantise_input  # noqa: E402
from bitwave.verify import build_sim, verify_build  # noqa: E402

console = Console(width=200)


def bench_one(graph, ds, name, t_import, qonnx, target, work: Path, repeat: int) -> dict:
    out = work / f"digits-{target}"
    opts = CompileOptions(target_cycles=None if target == "full" else int(target))
    t0 = time.monotonic()
    res = compile_graph(graph, out, opts, dataset=ds, name=name, import_seconds=t_import,
                        extra_files={"model.onnx": qonnx})
    t_compile = t_import + (time.monotonic() - t0)
    v = verify_build(out, waveform_on_mismatch=False)
    build = load_build(out)
    manifest, final = build.manifest, build.graph
    # Steady state: the whole dataset `repeat` times in one simulation run (the build is cached now).
    sim = build_sim(out, manifest)
    codes = quantise_input(final.input, ds.inputs)
    many = np.tile(codes, (repeat, 1))
    run = sim.run(manifest.sink.encode(many))
    interp = Interpreter(final)
    t1 = time.monotonic()
    interp.output(many, codes=True)
    ref_fps = len(many) / (time.monotonic() - t1)
    ideal = manifest.cycles_per_frame
    return {
        "target": target, "pe/simd": " ".join(f"{L.pe}/{L.simd}" for L in manifest.layers),
        "compile_s": t_compile, "build_s": v.build_seconds, "verify_sim_s": v.sim_seconds,
        "total_s": t_compile + v.build_seconds + v.sim_seconds, "mismatches": v.mismatches,
        "ideal": ideal, "cpf": run.cycles_per_frame, "cpf_ratio": run.cycles_per_frame / ideal,
        "frames": len(many), "cycles_per_s": run.cycles_per_second,
        "fps": len(many) / run.seconds, "ref_fps": ref_fps,
        "rtl_acc": v.accuracy.get("all"), "est_lut": manifest.estimate.lut,
        "seconds": res.seconds,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bits", type=int, choices=(2, 4), default=4)
    ap.add_argument("--targets", default="64,256,full",
                    help="comma-separated cycles-per-frame targets; 'full' = fully folded")
    ap.add_argument("--repeat", type=int, default=20, help="dataset repetitions for the steady state")
    args = ap.parse_args(argv)

    function = "digits" if args.bits == 4 else "digits_2bit"
    spec = f"{ROOT / 'examples' / 'digits.py'}:{function}"
    t0 = time.monotonic()
    with console.status("training / loading the digits MLP (cached after the first run)"):
        load_model_spec(spec)
    t_train = time.monotonic() - t0
    # Again, now from the training cache: this times what a user's trained model costs to import.
    m = load_model(spec)
    graph, ds, name, t_import, qonnx = m.graph, m.dataset, m.name, m.seconds, m.qonnx
    console.print(f"model {name}: trained or loaded in {t_train:.1f} s; "
                  f"QONNX export + import {t_import:.2f} s")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bitwave-core-bench-") as tmp:
        # A fresh cache: every Verilator build below is a cold one.
        os.environ["XDG_CACHE_HOME"] = str(Path(tmp) / "cache")
        for target in args.targets.split(","):
            with console.status(f"target {target}: compile, Verilator build, simulation"):
                rows.append(bench_one(graph, ds, name, t_import, qonnx, target, Path(tmp), args.repeat))
    table = Table(title=f"digits {args.bits}-bit MLP 64-64-64-10, {len(ds.inputs)} samples, "
                        f"{os.cpu_count()} cores")
    for col in ("target", "pe/simd", "compile s", "Verilator build s", "model→verified s", "mismatches",
                "cycles/frame (ideal)", "vs ideal", "sim M cycles/s", "sim frames/s",
                "interpreter frames/s", "RTL acc.", "est. LUT"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(r["target"], r["pe/simd"], f"{r['compile_s']:.2f}", f"{r['build_s']:.1f}",
                      f"{r['total_s']:.1f}", str(r["mismatches"]), f"{r['cpf']:.1f} ({r['ideal']})",
                      f"{100 * (r['cpf_ratio'] - 1):+.1f} %", f"{r['cycles_per_s'] / 1e6:.2f}",
                      f"{r['fps']:,.0f}", f"{r['ref_fps']:,.0f}", f"{100 * r['rtl_acc']:.2f} %",
                      str(r["est_lut"]))
    console.print(table)
    console.print(f"QONNX import (model → IR) {t_import:.2f} s, included in 'compile s' of every row; "
                  f"steady state over {rows[0]['frames']} frames per row")
    ok_time = all(r["total_s"] < 60 for r in rows)
    ok_cpf = all(abs(r["cpf_ratio"] - 1) <= 0.05 for r in rows)
    ok_speed = all(r["cycles_per_s"] >= 1e6 for r in rows)
    console.print(f"targets: model → verified Verilog < 60 s: {'met' if ok_time else 'NOT met'}; "
                  f"cycles/frame within 5 % of ideal: {'met' if ok_cpf else 'NOT met'}; "
                  f"≥ 1 M cycles/s: {'met' if ok_speed else 'NOT met'}")
    return 1 if any(r["mismatches"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
