"""Low-rank benchmark: SVD-trained factors exported directly vs svd-split truncation, at equal MACs.

    python bench/lowrank_bench.py                       # energies 0.2, 0.1, 0.05
    python bench/lowrank_bench.py --energies 0.1 --json out.json
    python bench/lowrank_bench.py --act-bits 8,6         # also a 6-bit intermediate

For each energy threshold e:

(a) "SVD factors": examples/digits_lowrank.py ``digits_lowrank_factors(e)`` —
    the 4-bit 64-256-256-10 MLP trained as U·diag(s)·Vᵀ (orthogonality and
    Hoyer regularisers), energy-pruned at e, fine-tuned, then fc1 and fc2
    exported as their trained factors (``lowrank.factorise``: two 4-bit
    QuantLinear layers with an 8-bit intermediate, or ``--act-bits``) and QAT
    fine-tuned.  It is
    compiled with the default pipeline, no svd-split: the ranks are the
    trained ones.
(b) "plain + svd-split": examples/digits.py ``digits(4, 256)``, trained as
    usual, compiled with ``svd-split{rank=R1,layers=['fc1']},
    svd-split{rank=R2,layers=['fc2']}`` at the ranks of (a), so both designs
    have the same units and the same MACs.

Both are fully folded and verified in Verilator over all 1,797 samples
(``verify_build``).  Ranks are per layer (fc1 256×64, fc2 256×256; fc3 10×256
is kept whole in both); accuracies are of the compiled integer graph
(reference interpreter).  The accuracy of each model without any split is
printed below the table.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from onebit_bench import ROOT, compile_and_verify, load_module, machine, markdown, pct  # noqa: E402

LAYERS = ("fc1", "fc2")


def row(bundle, pipeline: str, training: str, energy: float, folder: Path) -> dict:
    import torch

    from bitwave.compile import CompileOptions
    from bitwave.dataset import Dataset
    from bitwave.frontend import import_model

    with torch.no_grad():
        float_out = bundle.float_model(torch.as_tensor(bundle.inputs)).numpy()
    graph = import_model(bundle.model, bundle.inputs[:1])
    ds = Dataset(bundle.inputs, bundle.labels, bundle.test_mask, float_out)
    report, manifest, v = compile_and_verify(graph, folder, CompileOptions(pipeline=pipeline), ds, bundle.name)
    units = {L.name: L for L in manifest.layers}
    ranks = {name: units[f"{name}_v"].rows if f"{name}_v" in units else "full" for name in (*LAYERS, "fc3")}
    acc = report["accuracy"]
    return {
        "training": training, "energy": energy, "ranks": ranks, "pipeline": pipeline or "(default)",
        "units": [f"{L.name} {L.rows}×{L.cols}" for L in manifest.layers],
        "macs": manifest.macs, "weight_bits": manifest.weight_bits,
        "lut": manifest.estimate.lut, "bram": manifest.estimate.bram,
        "acc_test": acc["quantised"]["test"], "acc_all": acc["quantised"]["all"],
        "float_test": acc["float"]["test"],
        "frames": v["frames"], "mismatches": v["mismatches"],
        "cycles_per_frame": v["cycles_per_frame"],
        "verilator_build_seconds": round(v["build_seconds"], 1),
    }


def unsplit_accuracy(model, bundle) -> tuple[float, float]:
    """Reference-interpreter accuracy of ``model`` compiled without svd-split (held-out, all)."""
    from bitwave.frontend import import_model
    from bitwave.ir import Interpreter
    from bitwave.passes import DEFAULT_PIPELINE, PassManager, parse_pipeline

    # The default pipeline without fold: accuracy does not depend on parallelism.
    passes = PassManager(parse_pipeline(",".join(DEFAULT_PIPELINE[:-1])))
    g = passes.run(import_model(model, bundle.inputs[:1]))
    interp = Interpreter(g)
    pred = interp.real(g.output.name, interp.output(bundle.inputs)).argmax(1)
    ok = pred == bundle.labels
    return float(ok[bundle.test_mask].mean()), float(ok.mean())


def table(rows: list[dict]) -> str:
    return markdown(
        ["energy", "model", "ranks fc1/fc2/fc3", "MACs", "weight bits", "held-out acc.", "all acc.",
         "RTL mismatches", "est. LUT", "est. BRAM", "cycles/frame (measured)"],
        [[f"{r['energy']:g}", r["training"], "/".join(str(v) for v in r["ranks"].values()),
          r["macs"], r["weight_bits"], pct(r["acc_test"]), pct(r["acc_all"]),
          f"{r['mismatches']} of {r['frames']}", r["lut"], r["bram"], f"{r['cycles_per_frame']:.0f}"]
         for r in rows])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--energies", default="0.2,0.1,0.05")
    parser.add_argument("--act-bits", default="8", help="intermediate widths of the exported factors")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--keep", type=Path, default=None, help="keep the build folders here")
    args = parser.parse_args(argv)
    print(machine(), file=sys.stderr)
    digits = load_module(ROOT / "examples" / "digits.py", "digits")
    lowrank = load_module(ROOT / "examples" / "digits_lowrank.py", "digits_lowrank_example")
    plain = digits.digits(4, 256)
    rows, unsplit = [], {"plain": unsplit_accuracy(plain.model, plain)}
    with tempfile.TemporaryDirectory(prefix="lowrank-") as tmp:
        work = args.keep or Path(tmp)
        for energy in (float(e) for e in args.energies.split(",")):
            unsplit[f"SVD-form e={energy:g} (baked)"] = unsplit_accuracy(lowrank.digits_lowrank(energy).model, plain)
            for act_bits in (int(b) for b in args.act_bits.split(",")):
                factors = lowrank.digits_lowrank_factors(energy, act_bits=act_bits)
                a = row(factors, "", f"SVD factors (direct, {act_bits}-bit intermediate)", energy,
                        work / f"SVD-e{energy:g}-i{act_bits}")
                rows.append(a)
                print(f"SVD factors e={energy:g} i{act_bits}: {a['ranks']}, {a['mismatches']} mismatches",
                      file=sys.stderr)
            split = [f"svd-split{{rank={a['ranks'][n]},layers=['{n}']}}" for n in LAYERS if a["ranks"][n] != "full"]
            b = row(plain, ",".join(split), "plain + svd-split", energy, work / f"plain-e{energy:g}")
            rows.append(b)
            print(f"plain e={energy:g}: {b['ranks']}, {b['mismatches']} mismatches", file=sys.stderr)
            if b["macs"] != a["macs"]:
                print(f"warning: MACs differ at e={energy:g}: {a['macs']} vs {b['macs']}", file=sys.stderr)
    print(table(rows))
    print()
    print("Without any split (reference interpreter, held-out / all): "
          + "; ".join(f"{k} {pct(a)} / {pct(b)}" for k, (a, b) in unsplit.items()))
    print(f"Float twin (held-out): {pct(rows[0]['float_test'])}" if rows else "")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "unsplit": unsplit}, indent=2) + "\n")
    return 1 if any(r["mismatches"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
