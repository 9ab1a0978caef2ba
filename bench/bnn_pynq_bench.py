"""Brevitas' own bnn_pynq models from their QONNX export to bit-exact RTL.

    .venv/bin/python bench/bnn_pynq_bench.py OUT [--models tfc_w1a1,cnv_w1a1] [--json FILE]

For each of TFC-w1a1, TFC-w2a2, SFC-w1a1, CNV-w1a1 and CNV-w2a2 (``brevitas_examples.bnn_pynq``,
untrained, batch-norm statistics randomised so the thresholds are not trivial; 16 seeded
inputs in [0, 1], MNIST- or CIFAR-sized, NCHW for the CNVs):

1. ``bitwave compile`` of the Python model writes its QONNX export (``model.onnx``) and the
   inputs (``dataset.npz``) into ``OUT/<model>/py``;
2. qonnx's ``execute_onnx`` runs that export on the 16 inputs, and bitwave's reference
   interpreter runs the imported graph and the compiled (streamlined, folded) one: the bench
   prints the largest difference (relative to the largest output) and whether every argmax
   agrees;
3. ``bitwave compile`` of the QONNX file at FINN's folding (below) into ``OUT/<model>/onnx``,
   then ``bitwave verify`` (Verilator): RTL mismatches, cycles per frame measured in simulation
   against the ideal (the slowest layer's), and the wall time of each step.

Folding (pe, simd per matrix-vector layer), FINN's published ones for the w1a1 models; the
w2a2 models keep their w1a1 sibling's:

- TFC: pe 16/8/8/10, simd 49/8/8/8 (64 cycles per frame);
- SFC: pe 16/16/16/10, simd 49/16/16/16 (256 cycles per frame);
- CNV: pe 16/32/16/16/4/1/1/1/5, simd 3/32/32/32/32/32/4/8/1 (32,768 cycles per frame).

Exit status 1 if any model disagrees with ``execute_onnx`` or has an RTL mismatch.  A CNV's
Verilator build takes many minutes on 2 cores (it is cached: a second run is quick).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

E2E = ROOT / "tests" / "e2e"
TFC = (("16,8,8,10", "49,8,8,8"))
SFC = (("16,16,16,10", "49,16,16,16"))
CNV = (("16,32,16,16,4,1,1,1,5", "3,32,32,32,32,32,4,8,1"))
#: name -> (model spec, (pe, simd))
MODELS = {
    "tfc_w1a1": (f"{E2E / 'tfc_models.py'}:tfc_w1a1", TFC),
    "tfc_w2a2": (f"{E2E / 'tfc_models.py'}:tfc_w2a2", TFC),
    "sfc_w1a1": (f"{E2E / 'tfc_models.py'}:sfc_w1a1", SFC),
    "cnv_w1a1": (f"{E2E / 'cnv_models.py'}:cnv_w1a1", CNV),
    "cnv_w2a2": (f"{E2E / 'cnv_models.py'}:cnv_w2a2", CNV),
}
COLUMNS = ("model", "onnx rel. diff", "argmax agree", "layers", "ideal cyc/frame", "RTL cyc/frame",
           "ratio", "frames", "mismatches", "compile s", "verify s")


def bitwave(*argv) -> float:
    """Run ``bitwave ARGV`` (output kept out of the way); its wall time in seconds."""
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "bitwave.cli", *map(str, argv)], cwd=ROOT,
                          capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"bitwave {' '.join(map(str, argv))} failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    return time.monotonic() - t0


def against_execute_onnx(py: Path, compiled: Path) -> tuple[float, bool]:
    """Largest |reference − execute_onnx| over the imported and the compiled graph, relative to
    the largest |output|, and whether every argmax agrees."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.infer_shapes import InferShapes

    from bitwave.frontend import import_qonnx
    from bitwave.ir import Interpreter, parse_graph

    x = np.load(py / "dataset.npz")["inputs"]
    model = ModelWrapper(str(py / "model.onnx")).transform(InferShapes())
    name, out = model.graph.input[0].name, model.graph.output[0].name
    want = np.concatenate([execute_onnx(model, {name: x[i:i + 1]})[out] for i in range(len(x))])   # batch 1
    worst, agree = 0.0, True
    for g in (import_qonnx(py / "model.onnx"), parse_graph((compiled / "graph.txt").read_text())):
        it = Interpreter(g)
        got = it.real(g.output.name, it.output(x))
        worst = max(worst, float(np.abs(got - want).max() / np.abs(want).max()))
        agree &= bool((got.argmax(1) == want.argmax(1)).all())
    return worst, agree


def run(out: Path, name: str) -> dict:
    spec, (pe, simd) = MODELS[name]
    py, onnx = out / name / "py", out / name / "onnx"
    print(f"{name}: exporting and compiling the Python model", flush=True)
    bitwave("compile", spec, "-o", py)
    print(f"{name}: compiling its QONNX export at pe {pe}, simd {simd}", flush=True)
    compile_s = bitwave("compile", py / "model.onnx", "--data", py / "dataset.npz", "-o", onnx,
                        "--pe", pe, "--simd", simd)
    worst, agree = against_execute_onnx(py, onnx)
    print(f"{name}: verifying in Verilator (a large design takes minutes to build)", flush=True)
    verify_s = bitwave("verify", onnx)
    rtl = json.loads((onnx / "report.json").read_text())["rtl"]
    manifest = json.loads((onnx / "manifest.json").read_text())
    ideal = manifest["cycles_per_frame"]
    return {"model": name, "onnx rel. diff": f"{worst:.2e}", "argmax agree": agree,
            "layers": len(manifest.get("layers", [])), "ideal cyc/frame": ideal,
            "RTL cyc/frame": rtl["cycles_per_frame"], "ratio": round(rtl["cycles_per_frame"] / ideal, 3),
            "frames": rtl["frames"], "mismatches": rtl["mismatches"], "compile s": round(compile_s, 1),
            "verify s": round(verify_s, 1), "max_diff": worst}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path, help="folder for the build folders")
    ap.add_argument("--models", default=",".join(MODELS), help=f"comma-separated, of {', '.join(MODELS)}")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = ap.parse_args(argv)
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in names if m not in MODELS]
    if unknown:
        ap.error(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(MODELS)}")
    rows = []
    for name in names:
        rows.append(run(args.out, name))
        print(" | ".join(str(rows[-1][c]) for c in COLUMNS), flush=True)
    print("\n| " + " | ".join(COLUMNS) + " |\n|" + "---|" * len(COLUMNS))
    for r in rows:
        print("| " + " | ".join(str(r[c]) for c in COLUMNS) + " |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    bad = [r["model"] for r in rows if r["mismatches"] or not r["argmax agree"] or r["max_diff"] > 1e-5]
    if bad:
        print(f"FAILED: {', '.join(bad)}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
