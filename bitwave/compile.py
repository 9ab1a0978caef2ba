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
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .costs import hardware_costs, split_comparison
from .errors import BitwaveError
from .hdl import emit_verilog, port_manifest
from .ir import Graph, Interpreter, Wdf, parse_graph, print_graph, quantise_input, verify
from .passes import Fold, PassManager, default_passes, format_pass, parse_pipeline
from .lower import Lowered, lower
from .report import write_report

__all__ = ["CompileOptions", "CompileResult", "Dataset", "compile_graph", "prepare_output_dir",
           "load_build", "MANIFEST", "OutputDirError"]

MANIFEST = "manifest.json"
GENERATOR = "bitwave"
TOP = "bitwave_top"


class OutputDirError(BitwaveError):
    """The output folder cannot be used without touching files bitwave did not write."""


@dataclass(frozen=True)
class CompileOptions:
    """What ``bitwave compile`` takes besides the model."""
    pipeline: str = ""                 # user passes, run before the default ones
    target_cycles: int | None = None   # folding target (cycles per frame); None = fully folded
    target_fps: float | None = None
    clock_mhz: float = 100.0
    pe: tuple[int, ...] | None = None  # explicit folding, one entry per MatVec
    simd: tuple[int, ...] | None = None

    def passes(self, graph: Graph | None = None):
        """User passes, then the default pipeline (``quantise-wdf`` first when ``graph`` has a Wdf op)."""
        fold = Fold(target_cycles=self.target_cycles, target_fps=self.target_fps,
                    clock_mhz=self.clock_mhz, pe=self.pe, simd=self.simd)
        return [*parse_pipeline(self.pipeline), *default_passes(graph, fold)]


@dataclass
class Dataset:
    """Samples to verify with: real inputs, optional labels/held-out mask/float-model outputs."""
    inputs: np.ndarray
    labels: np.ndarray | None = None
    test_mask: np.ndarray | None = None
    float_outputs: np.ndarray | None = None

    def save(self, path: Path) -> None:
        arrays = {"inputs": self.inputs}
        for k in ("labels", "test_mask", "float_outputs"):
            if getattr(self, k) is not None:
                arrays[k] = getattr(self, k)
        np.savez_compressed(path, **arrays)

    @classmethod
    def load(cls, path: Path) -> "Dataset":
        with np.load(path) as z:
            return cls(**{k: z[k] for k in z.files})


@dataclass
class CompileResult:
    out_dir: Path
    graph: Graph
    lowered: Lowered
    seconds: dict = field(default_factory=dict)
    report: dict = field(default_factory=dict)


def prepare_output_dir(out_dir: Path) -> None:
    """Refuse a folder holding files bitwave did not write (never delete a user's files)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputDirError(f"output: {out_dir} exists and is not a folder; choose another path")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        manifest = out_dir / MANIFEST
        ours = False
        if manifest.exists():
            try:
                ours = json.loads(manifest.read_text()).get("generator") == GENERATOR
            except (OSError, ValueError):
                ours = False
        if not ours:
            names = sorted(p.name for p in out_dir.iterdir())[:3]
            raise OutputDirError(
                f"output: {out_dir} already holds files bitwave did not write ({', '.join(names)}"
                f"{', …' if len(list(out_dir.iterdir())) > 3 else ''}); choose an empty or new folder")


class _NoteHandler(logging.Handler):
    """Collects what passes decided (``bitwave.passes`` log records) for the report."""

    def __init__(self, notes: list[str], echo: Callable[[str], None]):
        super().__init__(logging.INFO)
        self.notes, self.echo = notes, echo

    def emit(self, record):
        msg = record.getMessage()
        self.notes.append(msg)
        self.echo(msg)


def _accuracy(scores: np.ndarray, labels: np.ndarray, mask: np.ndarray | None) -> dict:
    pred = np.argmax(scores, axis=1)
    ok = pred == labels
    out = {"all": float(ok.mean())}
    if mask is not None and mask.any():
        out["test"] = float(ok[mask].mean())
    return out


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
    prepare_output_dir(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        t0 = time.monotonic()
        verify(graph)
        (tmp / "ir").mkdir()
        (tmp / "ir" / "00-import.txt").write_text(print_graph(graph))
        passes = options.passes(graph)

        def after(i, p, g):
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
        lowered = lower(final)
        verilog = emit_verilog(lowered.top, name=TOP)
        t_hdl = time.monotonic() - t0 - t_pass
        (tmp / f"{TOP}.v").write_text(verilog)
        (tmp / "graph.txt").write_text(print_graph(final))
        seconds = {"import": round(import_seconds, 3), "passes": round(t_pass, 3),
                   "hdl": round(t_hdl, 3)}
        accuracy = {}
        if dataset is not None:
            dataset.save(tmp / "dataset.npz")
            accuracy = _reference_accuracy(graph, final, dataset)
        costs = hardware_costs(final, lowered)
        manifest = {
            "generator": GENERATOR, "name": name, "top": TOP, "verilog": f"{TOP}.v",
            "sink": lowered.sink.as_dict(), "source": lowered.source.as_dict(),
            "ports": port_manifest(lowered.top),
            "cycles_per_frame": lowered.cycles_per_frame, "latency": lowered.top.latency,
            "pipeline": [format_pass(p) for p in passes],
            "layers": [dict(_layer_dict(layer), **costs["per_layer"].get(layer.name, {}))
                       for layer in lowered.layers],
            "estimate": lowered.resources.as_dict(),
            "macs": costs["macs"], "weight_bits": costs["weight_bits"],
        }
        for fname, data in (extra_files or {}).items():
            (tmp / fname).write_bytes(data)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
        report = {"name": name, "compile_seconds": seconds, "accuracy": accuracy, "notes": notes}
        split = split_comparison(graph, passes, costs)
        if split is not None:
            report["split"] = split
        (tmp / "report.json").write_text(json.dumps(report, indent=2))
        write_report(tmp)
        if out_dir.exists():
            shutil.rmtree(out_dir)   # only reached when prepare_output_dir found our own build
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return CompileResult(out_dir, final, lowered, seconds, report)


def _layer_dict(layer) -> dict:
    est = layer.estimate
    return dict(layer.__dict__, ops=list(layer.ops),
                estimate=dict(est.resources.as_dict(), weights_in_bram=est.weights_in_bram, parts=est.parts))


def _reference_accuracy(imported: Graph, final: Graph, ds: Dataset) -> dict:
    """Accuracy of the float model, of the imported quantised graph and of the final integer graph."""
    acc = {}
    ref = Interpreter(final)
    out = ref.output(ds.inputs)
    real = ref.real(final.output.name, out)
    if ds.labels is not None:
        if ds.float_outputs is not None:
            acc["float"] = _accuracy(ds.float_outputs, ds.labels, ds.test_mask)
        acc["quantised"] = _accuracy(real, ds.labels, ds.test_mask)
    imp = Interpreter(imported)
    imp_real = imp.real(imported.output.name, imp.output(ds.inputs))
    acc["streamline_max_abs_diff"] = float(np.abs(imp_real - real).max())
    return acc


def load_build(build_dir: str | Path) -> tuple[dict, Graph, Dataset | None]:
    """Manifest, final graph and dataset of a build folder (BitwaveError if it is not one)."""
    d = Path(build_dir)
    mf = d / MANIFEST
    if not mf.exists():
        raise OutputDirError(f"{d}: not a bitwave build folder (no {MANIFEST}); run `bitwave compile` first")
    try:
        manifest = json.loads(mf.read_text())
    except ValueError as e:
        raise OutputDirError(f"{mf}: corrupt manifest ({e}); recompile") from None
    graph = parse_graph((d / "graph.txt").read_text())
    ds = Dataset.load(d / "dataset.npz") if (d / "dataset.npz").exists() else None
    return manifest, graph, ds
