"""Low-rank benchmark: svd-split on the 256-wide 4-bit digits MLP, with and without SVD training.

    python bench/lowrank_bench.py                       # energies 0.2, 0.1, 0.05, 0.02
    python bench/lowrank_bench.py --energies 0.1 --json out.json

For each energy threshold e and each model — "plain" (examples/digits.py,
``digits(4, 256)``, trained as usual) and "SVD-trained"
(examples/digits_lowrank.py: U·diag(s)·Vᵀ training with orthogonality and
Hoyer regularisers, energy-pruned at e, fine-tuned) — the model is compiled
with ``svd-split{energy=e}`` (factors at the layer's own 4 bits, fully
folded, so cycles per frame = the largest rows·cols of a unit) and verified
in Verilator over all 1,797 samples.  Ranks are per layer (fc1 256×64,
fc2 256×256, fc3 10×256; "full" where the split does not pay and the layer is
kept); accuracies are of the compiled integer graph (reference interpreter).
Before/after: the same pipeline without svd-split (from the compile report).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from onebit_bench import ROOT, compile_and_verify, load_module, machine, markdown, pct  # noqa: E402


def row(bundle, energy: float, training: str, work: Path) -> dict:
    import torch

    from bitwave.compile import CompileOptions
    from bitwave.dataset import Dataset
    from bitwave.frontend import import_model
    from bitwave.ir import MatVec

    with torch.no_grad():
        float_out = bundle.float_model(torch.as_tensor(bundle.inputs)).numpy()
    graph = import_model(bundle.model, bundle.inputs[:1])
    ds = Dataset(bundle.inputs, bundle.labels, bundle.test_mask, float_out)
    folder = work / f"{training}-e{energy:g}"
    report, manifest, v = compile_and_verify(graph, folder, CompileOptions(pipeline=f"svd-split{{energy={energy}}}"),
                                             ds, bundle.name)
    layers = {L.name: L for L in manifest.layers}
    ranks = {}
    for op in graph.ops:
        if isinstance(op, MatVec):
            ranks[op.name] = layers[f"{op.name}_v"].rows if f"{op.name}_v" in layers else "full"
    split = report["split"]
    acc = report["accuracy"]
    return {
        "training": training, "energy": energy, "ranks": ranks,
        "macs": (split["before"]["macs"], split["after"]["macs"]),
        "weight_bits": (split["before"]["weight_bits"], split["after"]["weight_bits"]),
        "lut": (split["before"]["lut"], split["after"]["lut"]),
        "bram": (split["before"]["bram"], split["after"]["bram"]),
        "cycles_per_frame": (split["before"]["cycles_per_frame"], split["after"]["cycles_per_frame"]),
        "acc_test": acc["quantised"]["test"], "acc_all": acc["quantised"]["all"],
        "float_test": acc["float"]["test"],
        "frames": v["frames"], "mismatches": v["mismatches"],
        "measured_cycles_per_frame": v["cycles_per_frame"],
        "verilator_build_seconds": round(v["build_seconds"], 1),
    }


def unsplit_accuracy(bundle) -> tuple[float, float]:
    """Reference-interpreter accuracy of the model compiled without svd-split (held-out, all)."""
    from bitwave.frontend import import_model
    from bitwave.ir import Interpreter
    from bitwave.passes import DEFAULT_PIPELINE, PassManager, parse_pipeline

    # The default pipeline without fold: accuracy does not depend on parallelism.
    passes = PassManager(parse_pipeline(",".join(DEFAULT_PIPELINE[:-1])))
    g = passes.run(import_model(bundle.model, bundle.inputs[:1]))
    interp = Interpreter(g)
    pred = interp.real(g.output.name, interp.output(bundle.inputs)).argmax(1)
    ok = pred == bundle.labels
    return float(ok[bundle.test_mask].mean()), float(ok.mean())


def table(rows: list[dict]) -> str:
    return markdown(
        ["training", "energy", "ranks fc1/fc2/fc3", "MACs before → after", "weight bits before → after",
         "held-out acc.", "all acc.", "RTL mismatches", "est. LUT before → after",
         "est. BRAM before → after", "cycles/frame before → after (measured)"],
        [[r["training"], f"{r['energy']:g}", "/".join(str(v) for v in r["ranks"].values()),
          f"{r['macs'][0]} → {r['macs'][1]}", f"{r['weight_bits'][0]} → {r['weight_bits'][1]}",
          pct(r["acc_test"]), pct(r["acc_all"]), f"{r['mismatches']} of {r['frames']}",
          f"{r['lut'][0]} → {r['lut'][1]}", f"{r['bram'][0]} → {r['bram'][1]}",
          f"{r['cycles_per_frame'][0]} → {r['cycles_per_frame'][1]} ({r['measured_cycles_per_frame']:.0f})"]
         for r in rows])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--energies", default="0.2,0.1,0.05,0.02")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--keep", type=Path, default=None, help="keep the build folders here")
    args = parser.parse_args(argv)
    print(machine(), file=sys.stderr)
    digits = load_module(ROOT / "examples" / "digits.py", "digits")
    lowrank = load_module(ROOT / "examples" / "digits_lowrank.py", "digits_lowrank_example")
    plain = digits.digits(4, 256)
    rows, unsplit = [], {"plain": unsplit_accuracy(plain)}
    with tempfile.TemporaryDirectory(prefix="lowrank-") as tmp:
        work = args.keep or Path(tmp)
        for energy in (float(e) for e in args.energies.split(",")):
            svd = lowrank.digits_lowrank(energy)
            unsplit[f"svd-e{energy:g}"] = unsplit_accuracy(svd)
            for training, bundle in (("plain", plain), ("SVD-trained", svd)):
                rows.append(row(bundle, energy, training, work))
                print(f"{training} e={energy:g}: done", file=sys.stderr)
    print(table(rows))
    print()
    print("Accuracy without svd-split (reference interpreter, held-out / all): "
          + "; ".join(f"{k} {pct(a)} / {pct(b)}" for k, (a, b) in unsplit.items()))
    print(f"Float twin (held-out): {pct(rows[0]['float_test'])}" if rows else "")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "unsplit": unsplit}, indent=2) + "\n")
    return 1 if any(r["mismatches"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
