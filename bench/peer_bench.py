"""bitwave beside its peers on the same weights and the same Yosys/nextpnr (ECP5-85F).

    python bench/peer_bench.py OUT [--designs layer64,tfc-layer1,tfc]
                                   [--tools folded,unrolled,da4ml] [--json FILE] [--write-docs]

Designs (1-bit input, weights and activations, untrained, seeded):

- ``layer64``: one 64×64 binary layer with a sign activation, folded pe 8 ×
  simd 8 (64 cycles per frame, as TFC's layers 2 and 3);
- ``tfc-layer1``: TFC's first layer, 784→64, pe 16 × simd 49 (64 cycles);
- ``tfc``: the whole TFC-w1a1 (784-64-64-64-10, Brevitas' ``tfc_1w1a`` with
  its 1-bit input) at FINN's folding, pe 16/8/8/10, simd 49/8/8/8.

Tools (rows per design):

- ``folded``: ``bitwave compile`` with the folding above, into ``OUT/<design>``;
- ``unrolled``: ``bitwave compile --target-cycles 1`` (every layer an
  ``UnrolledMatVec``: one frame per cycle), into ``OUT/<design>-unrolled``;
- ``da4ml``: da4ml 0.6 (an optional bench dependency, ``pip install
  da4ml==0.6.0``; bitwave never imports it) given the very weights and
  thresholds of the unrolled compile's ``graph.txt``: its tracer turns
  ``(W·b >= c)`` per layer, with ``b`` the 0/1 bits of the bipolar vector and
  ``c`` the threshold moved into that domain, into a pipelined Verilog design
  (``latency_cutoff`` ``--da4ml-cutoff``); the last TFC layer outputs ``W·b``
  as 8-bit integers.  Its logic is checked against numpy on random vectors
  (``CombLogic.predict``), then wrapped as ``bitwave_top`` (same ports; the
  valid flag follows the pipeline through a shift register, ``sink.ready``
  is 1: da4ml's pipeline has no stall, so this row has no backpressure
  logic) into ``OUT/<design>-da4ml`` and built by the same flow.  Its Verilog is kept
  (``da4ml.key``: the weights' hash, the cutoff and da4ml's version), so a
  later run on the same weights skips the solve and reports its first time.

Every folder is built with ``bitwave build`` for the generic ECP5-85K target
(Yosys ``synth_ecp5``, nextpnr-ecp5 router2, probe wrapper); a folder whose
build plan has not changed is reused.  Per row: LUT4, CCU2C and LUT4-eq
(LUT4 + 2·CCU2C) of the accelerator alone, FF, DP16KD, fmax (routed),
what nextpnr placed and routed for (timing, or wire length alone, with the
static placer, for designs estimated above ``TIMING_DRIVEN_MAX_LUT``: the whole
unrolled TFC and its layer 1), frames/s at fmax, LUT4-eq per million frames/s, the tool time (compile or
da4ml's conversion + synthesis + place and route), and for da4ml rows the
ratios bitwave unrolled / da4ml of LUT4-eq and fmax.  A first line names the
commit, the time (UTC) and the load average when the table was printed (the
tool times move with the load).  FINN's published
TFC-w1a1 figure is printed as a quoted reference line, not measured here.
``--write-docs`` keeps every row measured into ``OUT`` (``OUT/peer-rows.json``,
the newest per design and tool, each with the commit and date of its run) and
writes them all into docs/boards.md and README.md (block ``bench:peer``), so
long builds can be run one design at a time.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bitwave.boards import build, get_target, target_folder
from bitwave.build_folder import BuildManifest, is_build_folder

ROOT = Path(__file__).resolve().parents[1]
TARGET = "ecp5-85k"
TOOLS = ("folded", "unrolled", "da4ml")
COLUMNS = ("design", "tool", "LUT4", "CCU2C", "LUT4-eq", "FF", "BRAM", "fmax MHz", "routed for",
           "cycles/frame", "frames/s", "LUT4-eq per M frames/s", "tool s")
RATIO_COLUMNS = ("design", "bitwave unrolled / da4ml LUT4-eq", "bitwave unrolled / da4ml fmax")
FINN_REFERENCE = ("FINN TFC-w1a1 (published, Pynq-Z1, not measured here): 958,413 frames/s "
                  "at 100 MHz, 61 % of its ideal")
UNROLLED = ["--target-cycles", "1"]


def designs() -> dict[str, tuple[str, list[str]]]:
    """name → (model spec for ``bitwave compile``, folding options)."""
    models = ROOT / "bench" / "boards_bench.py"
    return {
        "layer64": (f"{models}:binary_layer_64", ["--pe", "8", "--simd", "8"]),
        "tfc-layer1": (f"{models}:tfc_layer1", ["--pe", "16", "--simd", "49"]),
        "tfc": (f"{ROOT / 'tests' / 'e2e' / 'tfc_models.py'}:tfc_w1a1",
                ["--pe", "16,8,8,10", "--simd", "49,8,8,8"]),
    }


def compile_folder(folder: Path, model: str, options: list[str]) -> float:
    """``bitwave compile`` into ``folder`` unless it holds a build already; its seconds."""
    if is_build_folder(folder):
        return 0.0
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "bitwave.cli", "compile", model, "-o", str(folder),
                    *options], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return time.monotonic() - start


def measured_row(folder: Path, name: str, tool: str, seed: int, prepare_s: float) -> dict:
    """Build ``folder`` for the ECP5 target and read its accelerator's figures."""
    result = build(folder, TARGET, seed=seed, allow_timing_fail=True)
    r = result.report
    manifest = BuildManifest.load(folder)
    stat = json.loads((target_folder(folder, get_target(TARGET)) / "stat.json").read_text())
    cells = stat["modules"][f"\\{manifest.top}"]["num_cells_by_type"]
    cycles = manifest.cycles_per_frame
    frames = r.fmax_mhz * 1e6 / cycles if r.fmax_mhz else None
    return {"design": name, "tool": tool, "LUT4": cells.get("LUT4", 0),
            "CCU2C": cells.get("CCU2C", 0), "LUT4-eq": r.accelerator.lut,
            "FF": r.accelerator.ff, "BRAM": r.accelerator.bram, "fmax MHz": r.fmax_mhz,
            "routed for": "timing" if r.timing_driven else "wire length",
            "cycles/frame": cycles, "frames/s": None if frames is None else round(frames),
            "LUT4-eq per M frames/s": None if not frames else round(r.accelerator.lut
                                                                    / (frames / 1e6)),
            "tool s": round(prepare_s + r.build_seconds, 1)}


def bitwave_row(out: Path, name: str, tool: str, model: str, options: list[str],
                seed: int) -> dict:
    folder = out / (name if tool == "folded" else f"{name}-unrolled")
    compile_s = compile_folder(folder, model, options if tool == "folded" else UNROLLED)
    return measured_row(folder, name, f"bitwave {tool}", seed, compile_s)


# ── da4ml: the same weights and thresholds, its own adder graphs ──

def binary_layers(graph_text: str) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """Per MatVec of a compiled binary network: its ±1 weights and, when a sign
    threshold follows, ``c`` such that the layer's +1 outputs are ``W·b >= c``
    (``b`` the 0/1 bits of the bipolar input, ``x = 2b − 1``)."""
    from bitwave.ir import MatVec, MultiThreshold, parse_graph
    ops = list(parse_graph(graph_text))
    layers = []
    for k, op in enumerate(ops):
        if not isinstance(op, MatVec):
            continue
        w = np.asarray(op.weight.array, dtype=np.int64)
        bias = np.zeros(len(w), np.int64) if op.bias is None else np.asarray(op.bias.array)
        nxt = ops[k + 1] if k + 1 < len(ops) else None
        c = None
        if isinstance(nxt, MultiThreshold) and nxt.input == op.name:
            t = np.asarray(nxt.thresholds.array)[:, 0]
            # W·x + bias >= t  <=>  2·W·b − Σw + bias >= t  <=>  W·b >= ceil((t + Σw − bias)/2)
            c = -((-(t + w.sum(axis=1) - bias)) // 2)
        layers.append((w, c))
    return layers


def da4ml_design(layers, name: str, path: Path, cutoff: float):
    """Trace the layers with da4ml and write its pipelined Verilog; (files, latency, logic)."""
    from da4ml.codegen import RTLModel
    from da4ml.trace import FixedVariableArrayInput, comb_trace
    from da4ml.trace.ops import quantize
    x = FixedVariableArrayInput(layers[0][0].shape[1])
    v = quantize(x, 0, 1, 0)                       # 0/1 bits
    for w, c in layers:
        acc = v @ w.T
        v = acc >= c if c is not None else quantize(acc, 1, 7, 0)   # 8-bit signed W·b
    logic = comb_trace(x, v)
    model = RTLModel(logic, name, path=path, latency_cutoff=cutoff, print_latency=False)
    model.write()
    top = (path / "src" / f"{name}.v").read_text()
    registers = top.count(" <= ")                  # input, between stages, output
    files = sorted((path / "src").glob("*.v"))
    used = "".join(f.read_text() for f in files)
    # only the library modules the design instantiates (lookup_table.v reads a .mem file)
    files += [f for f in sorted((path / "src" / "static").glob("*.v")) if f"{f.stem} " in used
              or f"{f.stem} #" in used]
    return files, registers, logic


def _check_da4ml(logic, layers, rng) -> None:
    """da4ml's logic model against numpy on random vectors (RuntimeError if it differs)."""
    b = rng.integers(0, 2, size=(64, layers[0][0].shape[1]))
    want = b
    for w, c in layers:
        acc = want @ w.T
        want = (acc >= c).astype(np.int64) if c is not None else acc
    got = np.asarray(logic.predict(b.astype(np.float64)))
    if not np.array_equal(got.astype(np.int64), want):
        raise RuntimeError("da4ml's logic does not compute W·b >= c on random vectors")


def _adapter(core: str, manifest: BuildManifest, latency: int) -> str:
    """``bitwave_top`` around da4ml's pipeline: the same ports, valid through a shift register."""
    width = {p.name: p.width for p in manifest.ports}
    n_in, n_out = width["sink__payload"], width["source__payload"]
    return f"""
module bitwave_top(input clk, input rst, input sink__valid, output sink__ready,
                   input [{n_in - 1}:0] sink__payload, output source__valid,
                   input source__ready, output [{n_out - 1}:0] source__payload);
  reg [{latency - 1}:0] valid = 0;
  always @(posedge clk) valid <= rst ? {latency}'d0 : {{valid, sink__valid}};
  assign sink__ready = 1'b1;
  assign source__valid = valid[{latency - 1}];
  {core} core(.clk(clk), .model_inp(sink__payload), .model_out(source__payload));
endmodule
"""


def da4ml_row(out: Path, name: str, model: str, seed: int, cutoff: float) -> dict:
    source = out / f"{name}-unrolled"
    compile_folder(source, model, UNROLLED)
    folder = out / f"{name}-da4ml"
    start = time.monotonic()
    graph = (source / "graph.txt").read_text()
    manifest = BuildManifest.load(source)
    # da4ml's solve takes minutes to hours: keep its Verilog for the same weights and cutoff
    key = json.dumps({"graph": hashlib.sha256(graph.encode()).hexdigest(), "cutoff": cutoff,
                      "da4ml": importlib.metadata.version("da4ml")})
    stamp = folder / "da4ml.key"
    kept = json.loads(stamp.read_text()) if stamp.is_file() else {}
    if kept.get("key") == key and (folder / manifest.verilog).is_file():
        return measured_row(folder, name, "da4ml 0.6", seed, kept["seconds"])
    layers = binary_layers(graph)
    core = "da4ml_" + name.replace("-", "_")
    work = out / f"{name}-da4ml-src"
    shutil.rmtree(work, ignore_errors=True)
    files, latency, logic = da4ml_design(layers, core, work, cutoff)
    _check_da4ml(logic, layers, np.random.default_rng(seed))
    verilog = "\n".join(f.read_text() for f in files) + _adapter(core, manifest, latency)
    folder.mkdir(parents=True, exist_ok=True)
    for file in ("manifest.json", "graph.txt", "dataset.npz"):
        if (source / file).exists():
            shutil.copyfile(source / file, folder / file)
    if not (folder / manifest.verilog).exists() or (folder / manifest.verilog).read_text() != verilog:
        (folder / manifest.verilog).write_text(verilog)
    seconds = time.monotonic() - start
    stamp.write_text(json.dumps({"key": key, "seconds": round(seconds, 1)}) + "\n")
    return measured_row(folder, name, "da4ml 0.6", seed, seconds)


def remember_rows(out: Path, rows: list[dict]) -> list[dict]:
    """Merge this run's rows into ``out/peer-rows.json`` (one per design and tool, the
    newest wins) and return them all, in design and tool order."""
    path = out / "peer-rows.json"
    stored = {(r["design"], r["tool"]): r for r in
              (json.loads(path.read_text()) if path.is_file() else [])}
    stored.update({(r["design"], r["tool"]): r for r in rows})
    order = {name: k for k, name in enumerate(designs())}
    merged = sorted(stored.values(), key=lambda r: (order.get(r["design"], 99), r["tool"]))
    path.write_text(json.dumps(merged, indent=2) + "\n")
    return merged


def tables(rows: list[dict], columns, markdown) -> list[str]:
    """The rows, the unrolled/da4ml ratios when there are any, and FINN's quoted figure."""
    lines = [markdown(rows, columns), ""]
    if ratios(rows):
        lines += [markdown(ratios(rows), RATIO_COLUMNS), ""]
    return lines + [FINN_REFERENCE]


def ratios(rows: list[dict]) -> list[dict]:
    by = {(r["design"], r["tool"]): r for r in rows}
    out = []
    for (design, tool), r in by.items():
        ours = by.get((design, "bitwave unrolled"))
        if tool != "da4ml 0.6" or ours is None:
            continue
        fmax = (round(ours["fmax MHz"] / r["fmax MHz"], 2)
                if ours["fmax MHz"] and r["fmax MHz"] else None)
        out.append({RATIO_COLUMNS[0]: design,
                    RATIO_COLUMNS[1]: round(ours["LUT4-eq"] / r["LUT4-eq"], 2),
                    RATIO_COLUMNS[2]: fmax})
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder for the compiles and builds")
    parser.add_argument("--designs", default=",".join(designs()))
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--da4ml-cutoff", type=float, default=3.0,
                        help="da4ml's latency_cutoff: adder delay units per pipeline stage")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--write-docs", action="store_true",
                        help="also write the table of every row measured into OUT (this run's "
                             "and earlier runs', each with its commit) into docs/boards.md and "
                             "README.md (block bench:peer)")
    args = parser.parse_args(argv)
    from _docs import markdown, provenance, revision, write_block   # bench/ (sys.path[0] when run as a script; not when imported as a model file)
    caption = provenance()           # the code and load as the run starts
    measured = f"{revision()}, {time.strftime('%Y-%m-%d', time.gmtime())}"
    table = designs()
    tools = args.tools.split(",")
    for tool in tools:
        if tool not in TOOLS:
            parser.error(f"unknown tool {tool!r}; choose from {', '.join(TOOLS)}")
    have_da4ml = importlib.util.find_spec("da4ml") is not None
    rows = []
    for name in args.designs.split(","):
        if name not in table:
            parser.error(f"unknown design {name!r}; choose from {', '.join(table)}")
        model, folding = table[name]
        for tool in tools:
            if tool == "da4ml":
                if have_da4ml:
                    rows.append(da4ml_row(args.out, name, model, args.seed, args.da4ml_cutoff))
            else:
                rows.append(bitwave_row(args.out, name, tool, model, folding, seed=args.seed))
            print(f"{name} {tool}: done", file=sys.stderr)
    for row in rows:
        row["measured"] = measured
    text = [caption, ""] + tables(rows, COLUMNS, markdown)
    if "da4ml" in tools and not have_da4ml:
        text.insert(-1, "da4ml: not installed (pip install da4ml==0.6.0); its rows are skipped")
    print("\n".join(text))
    if args.json:
        args.json.write_text(json.dumps({"provenance": caption, "rows": rows,
                                         "ratios": ratios(rows)}, indent=2) + "\n")
    if args.write_docs:
        stored = remember_rows(args.out, rows)
        docs = ["Rows measured into one folder over one or more runs; `measured` names the "
                "commit and date of the run that printed each (a build whose plan had not "
                "changed is reused, with its own tool time).", ""]
        docs += tables(stored, COLUMNS + ("measured",), markdown)
        for page in (ROOT / "docs" / "boards.md", ROOT / "README.md"):
            write_block(page, "peer", "\n".join(docs))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
