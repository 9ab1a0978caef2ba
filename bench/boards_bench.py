"""Build compile folders for board/device targets and tabulate what the tools measured.

    python bench/boards_bench.py BUILD_DIR [BUILD_DIR ...] --targets icebreaker,ulx3s-85f,ecp5-85k
    python bench/boards_bench.py --selftest --targets icebreaker,ecp5-85k

Each row: accelerator LUT4/FF/BRAM/DSP (yosys, the accelerator's own
hierarchy), fmax (nextpnr), the compiler's LUT estimate, measured/estimate,
and the wall-clock build time.  A design that does not fit gets a row saying
so.  ``--json`` saves the rows; the per-build report.md stays in each folder.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from bitwave.boards import build, get_target, load_manifest, target_folder, write_selftest_build
from bitwave.boards._report import count_cells
from bitwave.errors import BoardError

COLUMNS = ("design", "target", "LUT4", "FF", "BRAM", "DSP", "fmax MHz", "clock MHz",
           "est. LUT4", "meas./est.", "build s", "note")


def bench_one(folder: Path, target: str, seed: int) -> dict:
    row = {"design": folder.name, "target": target}
    try:
        result = build(folder, target, seed=seed, allow_timing_fail=True)
    except BoardError as exc:
        row["note"] = str(exc).split(": ", 1)[-1].split("; see ")[0]
        # Synthesis finished before place and route ran out of room: show its counts.
        target_obj = get_target(target)
        stat = target_folder(folder, target_obj) / "stat.json"
        if stat.is_file():
            cells = json.loads(stat.read_text())["modules"]["\\bitwave_top"]["num_cells_by_type"]
            acc = count_cells(cells, target_obj.family)
            estimate = load_manifest(folder).estimate.get("lut", 0)
            row.update({"LUT4": acc.lut, "FF": acc.ff, "BRAM": acc.bram, "DSP": acc.dsp,
                        "est. LUT4": estimate,
                        "meas./est.": round(acc.lut / estimate, 2) if estimate else None})
        return row
    r = result.report
    row.update({"LUT4": r.accelerator.lut, "FF": r.accelerator.ff, "BRAM": r.accelerator.bram,
                "DSP": r.accelerator.dsp, "fmax MHz": r.fmax_mhz, "clock MHz": r.clock_mhz,
                "est. LUT4": r.estimate.lut,
                "meas./est.": None if r.lut_ratio is None else round(r.lut_ratio, 2),
                "build s": r.build_seconds,
                "note": ("reused; " if result.reused else "")
                + ("" if r.timing_met else "timing not met; ")
                + f"device {r.device_used.lut}/{r.capacity.lut} LUT"})
    return row


def markdown(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        lines.append("| " + " | ".join("" if row.get(c) is None else str(row.get(c, ""))
                                       for c in COLUMNS) + " |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("build_dirs", nargs="*", type=Path)
    parser.add_argument("--targets", default="icebreaker,ulx3s-85f,ecp5-85k")
    parser.add_argument("--selftest", action="store_true",
                        help="also bench two self-test accelerators (no compile flow needed)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    folders = list(args.build_dirs)
    if args.selftest:
        tmp = Path(tempfile.mkdtemp(prefix="bitwave-bench-"))
        folders += [write_selftest_build(tmp / "selftest-4x8", elems=4, elem_width=8),
                    write_selftest_build(tmp / "selftest-32x8", elems=32, elem_width=8)]
    if not folders:
        parser.error("give build folders or --selftest")
    rows = []
    for folder in folders:
        for target in args.targets.split(","):
            row = bench_one(folder, target.strip(), args.seed)
            rows.append(row)
            print(f"{row['design']} → {row['target']}: done", file=sys.stderr)
    print(markdown(rows))
    ratios = [r["meas./est."] for r in rows if r.get("meas./est.") is not None]
    within = sum(abs(x - 1) <= 0.25 for x in ratios)
    print(f"\nestimate within 25 % of measured LUT4: {within} of {len(ratios)} builds")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


def tfc_w1a1():
    """FINN's TFC-w1a1 topology (784-64-64-64-10, 1-bit weights and activations), untrained.

    For resource and timing studies only: random weights exercise the same
    hardware as trained ones.  Compile with FINN's folding:
    ``bitwave compile bench/boards_bench.py:tfc_w1a1 --pe 16,8,8,10 --simd 49,8,8,8``.
    """
    from collections import OrderedDict

    import brevitas.nn as qnn
    import numpy as np
    import torch
    from brevitas.quant import SignedBinaryActPerTensorConst, SignedBinaryWeightPerTensorConst
    from torch import nn

    from bitwave.frontend import ModelBundle

    torch.manual_seed(0)
    layers = [("quant_in", qnn.QuantIdentity(bit_width=8, return_quant_tensor=True))]
    sizes = [784, 64, 64, 64]
    for i in range(3):
        layers += [
            (f"fc{i + 1}", qnn.QuantLinear(sizes[i], sizes[i + 1], bias=False,
                                           weight_quant=SignedBinaryWeightPerTensorConst)),
            (f"bn{i + 1}", nn.BatchNorm1d(sizes[i + 1])),
            (f"act{i + 1}", qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst,
                                              return_quant_tensor=True)),
        ]
    layers.append(("fc4", qnn.QuantLinear(64, 10, bias=False,
                                          weight_quant=SignedBinaryWeightPerTensorConst)))
    model = nn.Sequential(OrderedDict(layers))
    for module in model.modules():
        if isinstance(module, nn.BatchNorm1d):
            module.running_mean.uniform_(-4, 4)
            module.running_var.uniform_(20, 40)
    model.eval()
    inputs = np.random.default_rng(0).random((64, 784), dtype=np.float32)
    return ModelBundle(model, inputs, name="tfc-w1a1")
