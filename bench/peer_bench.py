"""bitwave beside its peers on the same weights and the same Yosys/nextpnr (ECP5-85F).

    python bench/peer_bench.py OUT [--designs layer64,tfc-layer1,tfc] [--json FILE]

Designs (1-bit input, weights and activations, untrained, seeded):

- ``layer64``: one 64×64 binary layer with a sign activation, folded pe 8 ×
  simd 8 (64 cycles per frame, as TFC's layers 2 and 3);
- ``tfc-layer1``: TFC's first layer, 784→64, pe 16 × simd 49 (64 cycles);
- ``tfc``: the whole TFC-w1a1 (784-64-64-64-10, Brevitas' ``tfc_1w1a`` with
  its 1-bit input) at FINN's folding, pe 16/8/8/10, simd 49/8/8/8.

Each is compiled with ``bitwave compile`` into ``OUT/<design>`` and built
with ``bitwave build`` for the generic ECP5-85K target (Yosys ``synth_ecp5``,
nextpnr-ecp5 router2, probe wrapper); a folder whose build plan has not
changed is reused.  Per row: LUT4, CCU2C and LUT4-eq (LUT4 + 2·CCU2C) of the
accelerator alone, FF, DP16KD, fmax (routed), frames/s at fmax, LUT4-eq per
million frames/s, and the tool time (compile + synthesis + place and route).

Peers: da4ml 0.6 (fully unrolled, distributed arithmetic) is an optional
bench dependency; this bench does not build its rows yet and says whether it
is installed.  FINN's published TFC-w1a1 figure is printed as a quoted
reference line, not measured here.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

from bitwave.boards import build, get_target, target_folder
from bitwave.build_folder import BuildManifest, is_build_folder

ROOT = Path(__file__).resolve().parents[1]
TARGET = "ecp5-85k"
COLUMNS = ("design", "tool", "LUT4", "CCU2C", "LUT4-eq", "FF", "BRAM", "fmax MHz",
           "cycles/frame", "frames/s", "LUT4-eq per M frames/s", "tool s")
FINN_REFERENCE = ("FINN TFC-w1a1 (published, Pynq-Z1, not measured here): 958,413 frames/s "
                  "at 100 MHz, 61 % of its ideal")


def designs() -> dict[str, tuple[str, list[str]]]:
    """name → (model spec for ``bitwave compile``, folding options)."""
    models = ROOT / "bench" / "boards_bench.py"
    return {
        "layer64": (f"{models}:binary_layer_64", ["--pe", "8", "--simd", "8"]),
        "tfc-layer1": (f"{models}:tfc_layer1", ["--pe", "16", "--simd", "49"]),
        "tfc": (f"{ROOT / 'tests' / 'e2e' / 'tfc_models.py'}:tfc_w1a1",
                ["--pe", "16,8,8,10", "--simd", "49,8,8,8"]),
    }


def bitwave_row(out: Path, name: str, model: str, options: list[str], seed: int) -> dict:
    folder = out / name
    compile_s = 0.0
    if not is_build_folder(folder):
        start = time.monotonic()
        subprocess.run([sys.executable, "-m", "bitwave.cli", "compile", model, "-o", str(folder),
                        *options], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        compile_s = time.monotonic() - start
    result = build(folder, TARGET, seed=seed, allow_timing_fail=True)
    r = result.report
    stat = json.loads((target_folder(folder, get_target(TARGET)) / "stat.json").read_text())
    cells = stat["modules"][f"\\{BuildManifest.load(folder).top}"]["num_cells_by_type"]
    cycles = BuildManifest.load(folder).cycles_per_frame
    frames = r.fmax_mhz * 1e6 / cycles if r.fmax_mhz else None
    return {"design": name, "tool": "bitwave folded", "LUT4": cells.get("LUT4", 0),
            "CCU2C": cells.get("CCU2C", 0), "LUT4-eq": r.accelerator.lut,
            "FF": r.accelerator.ff, "BRAM": r.accelerator.bram, "fmax MHz": r.fmax_mhz,
            "cycles/frame": cycles, "frames/s": None if frames is None else round(frames),
            "LUT4-eq per M frames/s": None if not frames else round(r.accelerator.lut
                                                                    / (frames / 1e6)),
            "tool s": round(compile_s + r.build_seconds, 1)}


def markdown(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        lines.append("| " + " | ".join("" if row.get(c) is None else str(row[c])
                                       for c in COLUMNS) + " |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder for the compiles and builds")
    parser.add_argument("--designs", default=",".join(designs()))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    table = designs()
    rows = []
    for name in args.designs.split(","):
        if name not in table:
            parser.error(f"unknown design {name!r}; choose from {', '.join(table)}")
        rows.append(bitwave_row(args.out, name, *table[name], seed=args.seed))
        print(f"{name}: done", file=sys.stderr)
    print(markdown(rows))
    print()
    if importlib.util.find_spec("da4ml") is None:
        print("da4ml: not installed (pip install da4ml==0.6.0); its rows are skipped")
    else:
        print("da4ml: installed, but this bench does not build its rows yet")
    print(FINN_REFERENCE)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
