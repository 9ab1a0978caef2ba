"""The audio demo's steps: model, held-out audio, quantised graph, build, RTL run, files.

1. the hybrid: the shipped checkpoint, or trained again (``retrain``, with the
   baseline, as ``bench/audio_bench.py`` trains them);
2. held-out plucks (``HELD_OUT_SEED``, 2 s = 96,000 samples by default), the
   circuit's output for them (float64 simulation at 8×), the float model's
   output and, when a baseline is at hand, the baseline's;
3. the quantised integer graph of the hybrid, compiled into the build folder
   with the held-out plucks as its dataset;
4. the RTL run over every sample (Verilator), compared with the reference
   interpreter bit for bit, its output codes turned back into volts;
5. the WAVs, the plot and the ESR rows (also written to ``report.json``,
   section ``audio_demo``).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..build_folder import load_build
from ..compile import CompileOptions, compile_graph
from ..dataset import Dataset
from ..errors import FrontendError
from ..frontend.audio import (BASELINE_CHECKPOINT, CHECKPOINT, HELD_OUT_SEED, HybridClipper,
                              parameter_count, plucks, pretrained, pretrained_baseline, run,
                              simulate_stage, TRAIN_SECONDS, train_baseline, train_hybrid, training_pair)
from ..ir import Graph, Interpreter
from ..report import update_report
from ..verify import VerifyResult, verify_build
from ._outputs import DemoAudio, EsrRow, esr_rows, write_plot, write_wavs

__all__ = ["HELD_OUT_SECONDS", "DemoResult", "run_demo"]

#: Seconds of held-out plucks the demo plays (2 s = 96,000 samples at 48 kHz).
HELD_OUT_SECONDS = 2.0


@dataclass
class DemoResult:
    """What the demo made and measured; ``seconds`` is wall time per step."""

    audio: DemoAudio
    rows: list[EsrRow]
    verify: VerifyResult
    wavs: dict[str, Path]
    plot: Path
    retrained: bool
    baseline: str | None        # where the baseline's row came from, None if there is none
    seconds: dict[str, float]


def _models(retrain: bool, checkpoint: Path, baseline_checkpoint: Path, log):
    """The hybrid, the baseline (or None) and where the baseline came from."""
    if retrain:
        log(f"training the hybrid and the Conv1d baseline on {TRAIN_SECONDS:g} s of plucks "
            f"(as the bench does)")
        x, y = training_pair()
        hybrid, fit = train_hybrid(x, y)
        log(f"hybrid trained in {fit.cpu_seconds:.1f} CPU s")
        baseline, fit = train_baseline(x, y, latency=hybrid.latency)
        log(f"baseline trained in {fit.cpu_seconds:.1f} CPU s")
        return hybrid, baseline, "trained in this run"
    hybrid = pretrained(checkpoint)
    if not Path(baseline_checkpoint).is_file():
        log(f"no baseline checkpoint at {baseline_checkpoint}: the table has no baseline row "
            f"(--retrain trains one)")
        return hybrid, None, None
    return hybrid, pretrained_baseline(baseline_checkpoint), str(baseline_checkpoint)


def _quantised_graph(hybrid: HybridClipper) -> Graph:
    from ..frontend.audio import hybrid_graph
    return hybrid_graph(hybrid)


def run_demo(output: str | Path, *, retrain: bool = False, seconds: float = HELD_OUT_SECONDS,
             checkpoint: str | Path = CHECKPOINT,
             baseline_checkpoint: str | Path = BASELINE_CHECKPOINT,
             to_graph: Callable[[HybridClipper], Graph] | None = None,
             log: Callable[[str], None] = lambda s: None) -> DemoResult:
    """Run the audio demo into the build folder ``output`` (see the module's docstring).

    ``to_graph`` turns the trained hybrid into its quantised integer graph
    (default: :func:`bitwave.frontend.audio.hybrid_graph`).
    """
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not seconds > 0:
        raise FrontendError(f"demo audio: seconds of held-out audio must be positive, "
                            f"not {seconds!r}")
    output = Path(output)
    times: dict[str, float] = {}
    t = time.monotonic()

    def lap(step: str) -> None:
        nonlocal t
        now = time.monotonic()
        times[step] = now - t
        t = now

    hybrid, baseline, baseline_source = _models(retrain, Path(checkpoint),
                                                Path(baseline_checkpoint), log)
    lap("model")
    x = plucks(seconds, HELD_OUT_SEED)
    log(f"held-out plucks: {x.size} samples; simulating the circuit at 8×")
    reference = simulate_stage(x)
    float_out = run(hybrid, x)
    baseline_out = None if baseline is None else run(baseline, x)
    lap("audio")
    res = compile_graph((to_graph or _quantised_graph)(hybrid), output, CompileOptions(), dataset=Dataset(x[:, None]),
                        name="audio_hybrid", log=log)
    lap("compile")
    ver = verify_build(output, log=log)
    rtl = Interpreter(load_build(output).graph).finish(ver.outputs).ravel()
    lap("verify")
    audio = DemoAudio(x, reference, float_out, rtl, hybrid.latency)
    rows = esr_rows(audio, params=parameter_count(hybrid), baseline=baseline_out,
                    baseline_params=None if baseline is None else parameter_count(baseline))
    wavs = write_wavs(output, audio)
    plot = write_plot(output, audio, title=f"bitwave demo audio: {x.size} held-out samples, "
                                           f"{res.manifest.cycles_per_frame} cycles/sample")
    lap("files")
    update_report(output, "audio_demo", {
        "samples": int(x.size), "latency": hybrid.latency, "retrained": retrain,
        "baseline": baseline_source, "mismatches": ver.mismatches,
        "esr": [asdict(r) for r in rows], "seconds": times,
        "wavs": {k: p.name for k, p in wavs.items()}, "plot": plot.name})
    return DemoResult(audio, rows, ver, wavs, plot, retrain, baseline_source, times)
