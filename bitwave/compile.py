"""The compile driver: graph → passes → hardware → build folder.

A build folder is self-contained: the Verilog, a manifest of its ports and
formats, the IR text after every pass, the final IR (``graph.txt``, which is
what ``bitwave verify`` re-reads as the golden model), the dataset to verify
with, and ``report.json``/``report.md``.  It is written into a temporary
sibling folder and renamed into place at the end, so a failure never leaves a
half-written build; an existing folder is replaced only if bitwave wrote it.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

from .build_folder import TOP, BuildManifest, Port, staging
from .costs import hardware_costs, split_comparison
from .dataset import Dataset
from .hdl import emit_verilog, port_manifest
from .ir import Graph, Interpreter, Wdf, print_graph, verify
from .lower import Lowered, lower
from .passes import Fold, PassManager, ToStream, default_passes, format_pass, parse_pipeline, signal_rows
from .ir.wdf import simulate
from .passes.quantise_wdf import snr_db
from .report import write_report

__all__ = ["CompileOptions", "CompileResult", "compile_graph"]


@dataclass(frozen=True)
class CompileOptions:
    """What ``bitwave compile`` takes besides the model."""
    pipeline: str = ""                 # user passes, run before the default ones
    target_cycles: int | None = None   # folding target (cycles per frame); None = fully folded
    target_fps: float | None = None
    clock_mhz: float = 100.0
    pe: tuple[int, ...] | None = None  # explicit folding, one entry per MatVec
    simd: tuple[int, ...] | None = None
    stream: bool = False               # to-stream first: a causal Conv1d network, one sample per step
    multipliers: int = 0               # 18x18 multipliers pair terms may use (lower.plan)

    def passes(self, graph: Graph | None = None):
        """User passes, then the default pipeline (``quantise-wdf`` first when ``graph`` has a Wdf op)."""
        fold = Fold(target_cycles=self.target_cycles, target_fps=self.target_fps,
                    clock_mhz=self.clock_mhz, pe=self.pe, simd=self.simd)
        return [*([ToStream()] if self.stream else []), *parse_pipeline(self.pipeline),
                *default_passes(graph, fold)]


@dataclass
class CompileResult:
    out_dir: Path
    graph: Graph
    lowered: Lowered
    manifest: BuildManifest
    seconds: dict = field(default_factory=dict)
    report: dict = field(default_factory=dict)


class _NoteHandler(logging.Handler):
    """Collects what passes decided (``bitwave.passes`` log records) for the report."""

    def __init__(self, notes: list[str], echo: Callable[[str], None]):
        super().__init__(logging.INFO)
        self.notes, self.echo = notes, echo

    def emit(self, record):
        msg = record.getMessage()
        self.notes.append(msg)
        self.echo(msg)


def _manifest(name: str, lowered: Lowered, passes: list, costs: dict) -> BuildManifest:
    return BuildManifest(
        name=name, sink=lowered.sink, source=lowered.source,
        ports=tuple(Port(n, p["direction"], p["width"]) for n, p in port_manifest(lowered.top).items()),
        cycles_per_frame=lowered.cycles_per_frame, latency=lowered.top.latency,
        pipeline=tuple(format_pass(p) for p in passes), layers=tuple(replace(layer, **costs["per_layer"].get(layer.name, {})) for layer in lowered.layers),
        estimate=lowered.resources, macs=costs["macs"], weight_bits=costs["weight_bits"])


def compile_graph(graph: Graph, out_dir: str | Path, options: CompileOptions = CompileOptions(), *,
                  dataset: Dataset | None = None, name: str = "model",
                  log: Callable[[str], None] = lambda s: None,
                  import_seconds: float = 0.0,
                  extra_files: dict[str, bytes] | None = None) -> CompileResult:
    """Run the pipeline on ``graph``, lower and emit Verilog, write the build folder.

    ``extra_files`` (name → bytes) are written into the folder too, e.g. the
    ``model.onnx`` a Python model was exported to.
    """
    out_dir = Path(out_dir)
    with staging(out_dir) as tmp:
        t0 = time.monotonic()
        verify(graph)
        (tmp / "ir").mkdir()
        (tmp / "ir" / "00-import.txt").write_text(print_graph(graph))
        passes = options.passes(graph)
        between = [graph]
        reference = graph
        if any(isinstance(p, ToStream) for p in passes):   # see _as_stream
            reference, dataset = ToStream().run(graph), _as_stream(dataset, graph.input.shape[0])

        def after(i, p, g):
            between.append(g)
            (tmp / "ir" / f"{i + 1:02d}-{p.name}.txt").write_text(print_graph(g))
            log(f"pass {format_pass(p)}: {len(g)} ops")

        notes: list[str] = []
        handler = _NoteHandler(notes, log)
        pass_log = logging.getLogger("bitwave.passes")
        pass_log.addHandler(handler)
        pass_log.setLevel(logging.INFO)
        try:
            final = PassManager(passes, after_each=after).run(graph)
        finally:
            pass_log.removeHandler(handler)
        t_pass = time.monotonic() - t0
        lowered = lower(final, options.multipliers)
        verilog = emit_verilog(lowered.top, name=TOP)
        t_hdl = time.monotonic() - t0 - t_pass
        (tmp / f"{TOP}.v").write_text(verilog)
        (tmp / "graph.txt").write_text(print_graph(final))
        seconds = {"import": round(import_seconds, 3), "passes": round(t_pass, 3),
                   "hdl": round(t_hdl, 3)}
        accuracy = {}
        if dataset is not None:
            dataset.save(tmp / Dataset.FILE)
            it = Interpreter(final)
            values = it.run(dataset.inputs)
            accuracy = _reference_accuracy(reference, it, values, dataset)
            accuracy.update(_wdf_snr(it, values))
        costs = hardware_costs(final, lowered)
        manifest = _manifest(name, lowered, passes, costs)
        for fname, data in (extra_files or {}).items():
            (tmp / fname).write_bytes(data)
        manifest.save(tmp)
        report = {"name": name, "compile_seconds": seconds, "accuracy": accuracy, "notes": notes,
                  "input_conversion": final.input.conversion(),
                  "output_conversion": final.output_conversion()}
        split = split_comparison(between, passes, costs)
        if split is not None:
            report["split"] = split
        (tmp / "report.json").write_text(json.dumps(report, indent=2))
        write_report(tmp)
    return CompileResult(out_dir, final, lowered, manifest, seconds, report)


def _as_stream(ds: Dataset | None, channels: int) -> Dataset | None:
    """A dataset of frames (N, C, T) for a graph that ``to-stream`` makes one sample in, one out:
    the frames played one after the other as one signal of rows (N·T, C).  Labels and model
    outputs are per frame, so a stream has none."""
    return None if ds is None else Dataset(signal_rows(ds.inputs, channels))


#: At most this many of the dataset's rows go through the float64 WDF reference.
WDF_SNR_SAMPLES = 96_000


def _wdf_snr(it: Interpreter, values: dict) -> dict:
    """``{"wdf_snr": {op: {"snr_db", "samples"}}}``: each fixed-point ``Wdf`` op of the final graph
    (``it``'s; ``values`` its run on the dataset) against the float64 circuit on the audio that
    reached it (the first :data:`WDF_SNR_SAMPLES` rows; worst channel), so the figure is the
    model's own, not a test signal's."""
    wdfs = [op for op in it.graph.ops if isinstance(op, Wdf) and op.is_fixed]
    if not wdfs:
        return {}
    out = {}
    for op in wdfs:
        k, n = op.oversample, op.channels
        x = it.real(op.input, values[op.input][:WDF_SNR_SAMPLES]).reshape(-1, k, n)
        y = it.real(op.name, values[op.name][:WDF_SNR_SAMPLES]).reshape(-1, k, n)
        snr = min(snr_db(simulate(tree, x[:, :, c].reshape(-1)), y[:, :, c].reshape(-1))
                  for c, tree in enumerate(op.trees()))
        out[op.name] = {"snr_db": round(snr, 2), "samples": int(x.shape[0] * k)}
    return {"wdf_snr": out}


def _reference_accuracy(imported: Graph, ref: Interpreter, values: dict, ds: Dataset) -> dict:
    """Accuracy of the float model, of the imported quantised graph and of the final integer graph
    (``ref``'s, ``values`` its run on the dataset)."""
    acc = {}
    final = ref.graph
    real = ref.real(final.output.name, values[final.output.name])
    if ds.labels is not None:
        if ds.float_outputs is not None:
            acc["float"] = ds.accuracy(ds.float_outputs)
        acc["quantised"] = ds.accuracy(real)
    imp = Interpreter(imported)
    imp_real = imp.real(imported.output.name, imp.output(ds.inputs))
    acc["streamline_max_abs_diff"] = float(np.abs(imp_real - real).max())
    if ds.model_outputs is not None and real.ndim == 2 and real.shape[1] > 1:
        # The reference must decide as the PyTorch model does, not only as the RTL does.
        differ = np.argmax(ds.model_outputs, axis=1) != np.argmax(real, axis=1)
        acc["model_argmax_differs"] = [int(i) for i in np.nonzero(differ)[0]]
    return acc
