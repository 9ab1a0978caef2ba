"""``report.md``: the build folder's facts rendered for a person.

Everything shown is read from the build manifest and ``report.json`` (which
compile, verify and the board flow each extend), so the Markdown can be
re-rendered at any time and never says anything the JSON does not.
"""

from __future__ import annotations

import json
from pathlib import Path

from .build_folder import BuildManifest

__all__ = ["write_report", "update_report", "load_report", "pct"]


def pct(x) -> str:
    return "-" if x is None else f"{100 * x:.2f} %"


def load_report(build_dir: Path) -> dict:
    """``report.json`` of a build folder (sections: accuracy, rtl, split, board, …); {} if none."""
    path = Path(build_dir) / "report.json"
    return json.loads(path.read_text()) if path.exists() else {}


def update_report(build_dir: Path, section: str, data: dict) -> dict:
    """Set ``report.json[section] = data`` and re-render ``report.md``."""
    report = load_report(build_dir)
    report[section] = data
    path = Path(build_dir) / "report.json"
    path.write_text(json.dumps(report, indent=2))
    write_report(build_dir)
    return report


def _weights_in(layer) -> str:
    """Where a matrix-vector layer keeps its weights, as the estimate planned it."""
    if layer.kind != "matvec":
        return "-"
    return "block RAM" if layer.weights_in_bram else "logic"


def _or_dash(value) -> str:
    return "-" if value is None else value


def _table(header: list[str], rows: list[list]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out


def _spectrum(sp: dict) -> list[str]:
    """The per-layer rank table ``bitwave report`` adds (bitwave.spectrum computes it)."""
    energies = sp["energies"]
    rows = [[L["name"], f"{L['rows']}×{L['cols']}", L["stable_rank"],
             *(f"{L['ranks'][e]}" + ("" if L["pays"][e] else " (kept whole)") for e in energies),
             L["no_fit"] if L["alpha"] is None else f"{L['alpha']:.2f} (xmin {L['xmin']:.3g}, "
                                                    f"tail {L['tail']} of {L['eigenvalues']})",
             f"[{L['plot']}]({L['plot']})" if L.get("plot") else "-"] for L in sp["layers"]]
    return ["## Weight spectra (looking inside before svd-split)", "",
            f"Singular values of each weight matrix in `{sp['source']}`. A rank column is the rank "
            f"`svd-split{{energy=e}}` keeps (the smallest r with Σ_{{i≤r}} s_i² ≥ (1−e)·Σ s_i²); "
            f"'kept whole' where r·(rows+cols) ≥ κ·rows·cols (κ={sp['kappa']:g}), so the split would not pay. "
            "Stable rank = ‖W‖_F² / ‖W‖₂². α is the power-law exponent of the eigenvalue density of WᵀW "
            "fitted by `powerlaw` (WeightWatcher's measure: about 2–6 for well-trained layers, larger "
            "towards random).", "",
            *_table(["layer", "shape", "stable rank", *(f"rank at e={e}" for e in energies),
                     "α (heavy tail)", "plot"], rows), "",
            *(f"![{L['name']} spectrum]({L['plot']})" for L in sp["layers"] if L.get("plot")), ""]


def write_report(build_dir: Path) -> None:
    d = Path(build_dir)
    manifest = BuildManifest.load(d)
    report = load_report(d)
    lines = [f"# bitwave build: {manifest.name}", ""]
    lines += [f"Pipeline: `{','.join(manifest.pipeline)}`", "",
              f"Input stream: {manifest.sink.describe()}; output stream: {manifest.source.describe()}.", ""]
    for key in ("input_conversion", "output_conversion"):
        if report.get(key):
            lines += [report[key], ""]
    lines += ["## Layers", ""]
    rows = []
    for L in manifest.layers:
        e = L.estimate
        rows.append([L.name, f"{L.rows}×{L.cols}", L.in_fmt, L.w_fmt, L.acc_fmt, L.out_fmt,
                     "-" if L.pe is None else f"{L.pe}/{L.simd}", L.cycles, _or_dash(L.macs), _or_dash(L.weight_bits),
                     e.lut, e.ff, e.bram, _weights_in(L)])
    t = manifest.estimate
    rows.append(["**total**", "", "", "", "", "", "", f"{manifest.cycles_per_frame} (slowest)",
                 manifest.macs, manifest.weight_bits, t.lut, t.ff, t.bram, ""])
    lines += _table(["layer", "shape", "in", "weights", "acc", "out", "pe/simd", "cycles/frame",
                     "MACs", "weight bits", "est. LUT", "est. FF", "est. BRAM", "weights in"], rows)
    lines += ["", "The estimates above are for iCE40 (matrix products in LUTs). Per build plan "
              "(`bitwave build` picks the plan; see docs/boards.md):", ""]
    lines += _table(["build plan", "est. LUT4", "est. FF", "est. BRAM", "est. DSP"],
                    [[label, r.lut, r.ff, r.bram, r.dsp] for label, r in (
                        ("iCE40", manifest.estimate_for("ice40", False)),
                        ("iCE40 with DSPs", manifest.estimate_for("ice40", True)),
                        ("ECP5 (LUT4 + 2·CCU2C)", manifest.estimate_for("ecp5", False)),
                        ("ECP5 with DSPs", manifest.estimate_for("ecp5", True)))])
    lines += ["", f"Latency (idle pipeline): {manifest.latency} cycles.", ""]
    lines += [f"WDF layer {L.name}: one audio sample per {L.cycles} cycles/sample (throughput)"
              + (f", latency {L.latency} cycles (sample in to sample out)." if L.latency is not None
                 else " (all its oversampled phases).")
              for L in manifest.layers if L.kind == "wdf"]
    if any(L.kind == "wdf" for L in manifest.layers):
        lines.append("")
    split = report.get("split")
    if split:
        b, a = split["before"], split["after"]
        lines += ["## Low-rank split: before → after", ""]
        lines += _table(["", "MACs", "weight bits", "est. LUT", "est. FF", "est. BRAM", "cycles/frame"],
                        [[label, c["macs"], c["weight_bits"], c.get("lut"), c.get("ff"), c.get("bram"),
                          c["cycles_per_frame"]] for label, c in (("without svd-split", b),
                                                                  ("with svd-split", a))]) + [""]
    if report.get("spectrum"):
        lines += _spectrum(report["spectrum"])
    acc = report.get("accuracy") or {}
    rtl = report.get("rtl") or {}
    if acc or rtl:
        lines += ["## Accuracy", ""]
        rows = []
        for key, label in (("float", "float model"), ("quantised", "quantised (reference interpreter)")):
            if key in acc:
                rows.append([label, pct(acc[key].get("all")), pct(acc[key].get("test"))])
        if "accuracy" in rtl:
            rows.append(["RTL (Verilator)", pct(rtl["accuracy"].get("all")), pct(rtl["accuracy"].get("test"))])
        if rows:
            lines += _table(["model", "all samples", "held-out"], rows) + [""]
        for name, w in (acc.get("wdf_snr") or {}).items():
            lines += [f"WDF {name}: SNR against the float64 circuit **{w['snr_db']:.1f} dB** on the "
                      f"model's own audio ({w['samples']} samples of the dataset as they reach it, "
                      f"worst channel).", ""]
        if "streamline_max_abs_diff" in acc:
            lines += [f"Imported vs streamlined graph, largest output difference: "
                      f"{acc['streamline_max_abs_diff']:.3g} (real units).", ""]
        if "model_argmax_differs" in acc:
            differ = acc["model_argmax_differs"]
            lines += [f"PyTorch model vs reference interpreter: the predicted class differs on "
                      f"{len(differ)} sample(s)" + (f": {', '.join(map(str, differ))}." if differ else "."),
                      ""]
    if rtl:
        lines += ["## RTL verification", "",
                  f"- frames: {rtl['frames']}, **mismatches: {rtl['mismatches']}**"
                  + (f" (first at sample {rtl['first_mismatch']})" if rtl.get("first_mismatch") is not None else ""),
                  f"- cycles per frame: {rtl['cycles_per_frame']:.1f} measured vs {rtl['ideal_cycles_per_frame']} ideal",
                  f"- simulation: {rtl['cycles']} cycles in {rtl['sim_seconds']:.2f} s "
                  f"({rtl['cycles_per_second'] / 1e6:.2f} M cycles/s); Verilator build {rtl['build_seconds']:.1f} s"
                  f"{' (cached)' if rtl.get('build_cached') else ''}",
                  f"- stalls: input {rtl['stall_in']}, output {rtl['stall_out']}"]
        if rtl.get("waveform"):
            lines.append(f"- waveform: `{rtl['waveform']}` (open with `gtkwave {rtl['waveform']}`)")
        if rtl.get("first_bad_layer"):
            lines.append(f"- first layer whose stream differs: {rtl['first_bad_layer']}")
        lines.append("")
    en = report.get("energy")
    if en:
        lines += ["## Energy (estimate)", "",
                  f"- **{en['nj_per_frame']:.2f} nJ/frame, estimated** ({en['family']} model, {en['clock_mhz']:g} MHz): "
                  f"clock {en['clock_nj']:.2f}, LUT outputs {en['lut_nj']:.2f}, flip-flops {en['ff_nj']:.2f}, "
                  f"static {en['static_nj']:.2f} nJ; beside {en['luts']} LUTs (estimate) and "
                  f"{en['clock_mhz'] * 1e6 / (rtl.get('cycles_per_frame') or en['cycles_per_frame']):.0f} frames/s",
                  f"- activity over {en['frames_measured']} frames: {en['lut_toggles_per_frame']:.0f} LUT and "
                  f"{en['ff_toggles_per_frame']:.0f} flip-flop toggles/frame; {en['memory_reads_per_frame']:.0f} "
                  "block-RAM reads/frame (not costed)", f"- {en['model']} (docs/boards.md, 'Energy (estimated)')", ""]
    if report.get("notes"):
        lines += ["## Pass notes", ""] + [f"- {n}" for n in report["notes"]] + [""]
    cs = report.get("compile_seconds")
    if cs:
        lines += ["## Times", "", ", ".join(f"{k}: {v:.2f} s" for k, v in cs.items()), ""]
    board = report.get("board")
    if board:
        lines += ["## Board", "", "```", json.dumps(board, indent=2), "```", ""]
    (d / "report.md").write_text("\n".join(lines))
