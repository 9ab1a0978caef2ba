"""Estimated energy per frame of the demo and TFC designs, on every family's model.

    python bench/energy_bench.py OUT [--recompile] [--json FILE]

Compiles the designs of docs/boards.md, "Energy (estimated)", into ``OUT``
(an earlier compile there is kept unless ``--recompile``), verifies each with
``bitwave verify``'s activity count (``verify_build(..., energy=...)``: the
first 200 frames of the dataset, repeated if shorter), and prices that one
count with each model of :data:`bitwave.energy.MODELS` at the model's own
clock. Prints the markdown table of docs/boards.md: one row per design and
family. Every figure is an estimate (see the docs for what the models leave out).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from boards_bench import ROOT, compile_design, markdown

from bitwave.build_folder import BuildManifest, is_build_folder
from bitwave.energy import MODELS, EnergyEstimate, reestimate
from bitwave.verify import verify_build

TFC = ["--pe", "16,8,8,10", "--simd", "49,8,8,8"]
# (name, model, compile options): the rows of docs/boards.md, "Energy (estimated)"
DESIGNS = [
    ("digits4", f"{ROOT / 'examples' / 'digits.py'}:digits", ["--target-cycles", "64"]),
    ("digits1", f"{ROOT / 'examples' / 'digits_1bit.py'}:digits_1bit", ["--target-cycles", "64"]),
    ("digits1f", f"{ROOT / 'examples' / 'digits_1bit.py'}:digits_1bit", []),
    ("digits1u", f"{ROOT / 'examples' / 'digits_1bit.py'}:digits_1bit", ["--target-cycles", "1"]),
    ("tfc", f"{ROOT / 'tests' / 'e2e' / 'tfc_models.py'}:tfc_w1a1", TFC),
]
COLUMNS = ("design", "model", "MHz", "MACs/frame", "LUT (est.)", "FF (est.)", "cycles/frame", "frames/s",
           "comb toggle rate", "LUT toggles/frame", "FF toggles/frame", "BRAM reads/frame (not costed)",
           "clock nJ", "LUT nJ", "FF nJ", "static nJ", "**nJ/frame**", "pJ/MAC", "dynamic pJ/MAC")


def row(name: str, manifest: BuildManifest, cycles_per_frame: float, e: EnergyEstimate) -> dict:
    return {"design": name, "model": e.family, "MHz": f"{e.clock_mhz:g}", "MACs/frame": manifest.macs,
            "LUT (est.)": e.luts, "FF (est.)": e.ffs, "cycles/frame": f"{cycles_per_frame:g}",
            "frames/s": f"{e.clock_mhz * 1e6 / cycles_per_frame:.0f}",
            "comb toggle rate": f"{e.comb_toggle_rate:.3f}", "LUT toggles/frame": f"{e.lut_toggles_per_frame:.0f}",
            "FF toggles/frame": f"{e.ff_toggles_per_frame:.0f}",
            "BRAM reads/frame (not costed)": f"{e.memory_reads_per_frame:.0f}",
            "clock nJ": f"{e.clock_nj:.2f}", "LUT nJ": f"{e.lut_nj:.2f}", "FF nJ": f"{e.ff_nj:.2f}",
            "static nJ": f"{e.static_nj:.2f}", "**nJ/frame**": f"**{e.nj_per_frame:.2f}**",
            "pJ/MAC": f"{e.nj_per_frame * 1e3 / manifest.macs:.3f}",
            "dynamic pJ/MAC": f"{e.dynamic_nj * 1e3 / manifest.macs:.3f}"}


def bench(out: Path, recompile: bool) -> list[dict]:
    rows, first = [], sorted(MODELS)[0]
    for name, model, options in DESIGNS:
        folder = out / name
        if recompile or not is_build_folder(folder):
            print(f"{name}: compiled in {compile_design(folder, model, options):.1f} s", file=sys.stderr)
        start = time.monotonic()
        res = verify_build(folder, energy=first)
        if res.mismatches:
            raise SystemExit(f"{name}: {res.mismatches} RTL mismatches; the energy of a wrong design is not benched")
        counted = EnergyEstimate(**json.loads((folder / "report.json").read_text())["energy"])
        manifest = BuildManifest.load(folder)
        print(f"{name}: verified and counted in {time.monotonic() - start:.1f} s, "
              f"{res.cycles_per_frame:g} cycles/frame, accuracy {res.accuracy}", file=sys.stderr)
        rows += [row(name, manifest, res.cycles_per_frame, reestimate(counted, family)) for family in sorted(MODELS)]
    return rows


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder for the compiled designs")
    parser.add_argument("--recompile", action="store_true", help="compile again even if OUT holds a compile")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    rows = bench(args.out, args.recompile)
    print(markdown(rows, COLUMNS))
    print("\n" + "; ".join(MODELS[f].describe() for f in sorted(MODELS)))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
