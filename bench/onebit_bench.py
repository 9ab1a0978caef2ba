"""1-bit benchmark: float vs W1A1 accuracy by width on digits, and TFC-w1a1 at FINN's folding.

    python bench/onebit_bench.py                 # widths 64, 256, 1024 and TFC
    python bench/onebit_bench.py --widths 64 --no-tfc --json out.json

Part 1 — digits (examples/digits_1bit.py): for each hidden width, the W1A1
MLP 64-W-W-W-10 (trained by QAT, cached) is compiled at ``--target-cycles``
(the same throughput for every width, so the estimated LUTs show what width
costs), and verified in Verilator over all 1,797 samples.  Accuracies are of
the float twin (PyTorch), the compiled integer graph (reference interpreter)
and the RTL.

Part 2 — TFC-w1a1 (784-64-64-64-10, FINN's topology; random bipolar weights
and random inputs, since the hardware cost depends on the topology only) with
FINN's folding PE/SIMD = 16/49, 8/8, 8/8, 10/8, which gives 64 cycles per
frame in each of the first three layers.  The measured cycles per frame are
the median interval between outputs in Verilator's steady state.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def load_module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def compile_and_verify(graph, folder: Path, options, dataset, name: str) -> tuple[dict, object, dict]:
    from bitwave.compile import compile_graph
    from bitwave.verify import verify_build

    t0 = time.monotonic()
    res = compile_graph(graph, folder, options, dataset=dataset, name=name)
    compile_s = time.monotonic() - t0
    v = verify_build(folder)
    return res.report, res.manifest, dict(v.as_dict(), compile_seconds=compile_s)


def digits_row(width: int, target_cycles: int, work: Path) -> dict:
    """Train (or load), compile and verify the W1A1 digits MLP of one width."""
    import torch

    from bitwave.compile import CompileOptions
    from bitwave.dataset import Dataset
    from bitwave.frontend import import_model

    example = load_module(ROOT / "examples" / "digits_1bit.py", "digits_1bit_example")
    t0 = time.monotonic()
    b = example.digits_1bit(width)
    train_s = time.monotonic() - t0
    with torch.no_grad():
        float_out = b.float_model(torch.as_tensor(b.inputs)).numpy()
    graph = import_model(b.model, b.inputs[:1])
    ds = Dataset(b.inputs, b.labels, b.test_mask, float_out)
    report, manifest, v = compile_and_verify(graph, work / f"w{width}", CompileOptions(target_cycles=target_cycles),
                                              ds, b.name)
    acc = report["accuracy"]
    return {
        "width": width, "float_test": acc["float"]["test"], "float_all": acc["float"]["all"],
        "w1a1_test": acc["quantised"]["test"], "w1a1_all": acc["quantised"]["all"],
        "rtl_all": v["accuracy"]["all"], "frames": v["frames"], "mismatches": v["mismatches"],
        "cycles_per_frame": v["cycles_per_frame"], "ideal_cycles_per_frame": v["ideal_cycles_per_frame"],
        "lut": manifest.estimate.lut, "ff": manifest.estimate.ff,
        "bram": manifest.estimate.bram, "weight_bits": manifest.weight_bits,
        "folding": [f"{L.pe}/{L.simd}" for L in manifest.layers],
        "train_or_load_seconds": round(train_s, 1), "compile_seconds": round(v["compile_seconds"], 1),
        "verilator_build_seconds": round(v["build_seconds"], 1), "build_cached": v["build_cached"],
        "sim_seconds": round(v["sim_seconds"], 2),
    }


def tfc_row(frames: int, work: Path) -> dict:
    """TFC-w1a1 with FINN's folding: measured vs ideal cycles per frame."""
    from bitwave.compile import CompileOptions
    from bitwave.dataset import Dataset
    from bitwave.frontend import import_model

    bundle = load_module(ROOT / "bench" / "boards_bench.py", "boards_bench").tfc_w1a1()
    graph = import_model(bundle.model, bundle.inputs[:1])
    inputs = np.random.default_rng(1).random((frames, 784), dtype=np.float32)
    options = CompileOptions(pe=(16, 8, 8, 10), simd=(49, 8, 8, 8))
    _, manifest, v = compile_and_verify(graph, work / "tfc", options, Dataset(inputs), bundle.name)
    return {
        "frames": v["frames"], "mismatches": v["mismatches"], "cycles_per_frame": v["cycles_per_frame"],
        "ideal_cycles_per_frame": v["ideal_cycles_per_frame"],
        "total_cycles_per_frame": round(v["cycles"] / v["frames"], 2),
        "layers": [f"{L.name} {L.rows}×{L.cols} pe/simd {L.pe}/{L.simd}: {L.cycles} cycles"
                   for L in manifest.layers],
        "lut": manifest.estimate.lut, "ff": manifest.estimate.ff,
        "bram": manifest.estimate.bram, "latency": manifest.latency,
        "verilator_build_seconds": round(v["build_seconds"], 1), "build_cached": v["build_cached"],
    }


def pct(x: float) -> str:
    return f"{100 * x:.2f} %"


def markdown(header: list[str], rows: list[list]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows])


def digits_table(rows: list[dict]) -> str:
    return markdown(
        ["hidden width", "float (held-out)", "W1A1 (held-out)", "float (all)", "W1A1 (all)", "RTL mismatches",
         "cycles/frame (meas./ideal)", "est. LUT", "est. FF", "est. BRAM", "weight bits", "pe/simd per layer",
         "Verilator build"],
        [[r["width"], pct(r["float_test"]), pct(r["w1a1_test"]), pct(r["float_all"]), pct(r["w1a1_all"]),
          f"{r['mismatches']} of {r['frames']}", f"{r['cycles_per_frame']:.0f} / {r['ideal_cycles_per_frame']}",
          r["lut"], r["ff"], r["bram"], r["weight_bits"], ", ".join(r["folding"]),
          f"{r['verilator_build_seconds']} s{' (cached)' if r['build_cached'] else ''}"] for r in rows])


def machine() -> str:
    """Date and machine line printed by the benches."""
    return (f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.machine()}, "
            f"{os.cpu_count()} cores")


def tfc_text(r: dict) -> str:
    lines = [f"TFC-w1a1 (random bipolar weights, {r['frames']} random frames), FINN folding:"]
    lines += [f"  {layer}" for layer in r["layers"]]
    within = abs(r["cycles_per_frame"] / r["ideal_cycles_per_frame"] - 1) <= 0.05
    lines += [f"  measured {r['cycles_per_frame']:.1f} cycles/frame (steady state) vs ideal "
              f"{r['ideal_cycles_per_frame']} ({'within' if within else 'NOT within'} ±5 %); "
              f"{r['total_cycles_per_frame']} including fill and drain",
              f"  mismatches: {r['mismatches']}; latency {r['latency']} cycles; est. LUT {r['lut']}, "
              f"FF {r['ff']}, BRAM {r['bram']}; Verilator build {r['verilator_build_seconds']} s"
              f"{' (cached)' if r['build_cached'] else ''}"]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--widths", default="64,256,1024")
    parser.add_argument("--target-cycles", type=int, default=1024,
                        help="folding target for every width (cycles per frame)")
    parser.add_argument("--tfc-frames", type=int, default=1000)
    parser.add_argument("--no-tfc", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--keep", type=Path, default=None, help="keep the build folders here")
    args = parser.parse_args(argv)
    print(machine(), file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="onebit-") as tmp:
        work = args.keep or Path(tmp)
        rows = []
        for width in (int(w) for w in args.widths.split(",") if w):
            rows.append(digits_row(width, args.target_cycles, work))
            print(f"width {width}: done", file=sys.stderr)
        result = {"digits": rows}
        if rows:
            print(digits_table(rows))
        if not args.no_tfc:
            result["tfc"] = tfc_row(args.tfc_frames, work)
            print()
            print(tfc_text(result["tfc"]))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    bad = [r for r in rows if r["mismatches"]] + ([result["tfc"]] if result.get("tfc", {}).get("mismatches") else [])
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
