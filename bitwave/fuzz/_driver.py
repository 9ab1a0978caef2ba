"""The fuzzing run: generate, compile, check, shrink failures, report; ``bitwave fuzz``."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..ir import Graph, Interpreter, parse_graph, print_graph
from ..lower import lower
from ..passes import DEFAULT_PIPELINE, PassManager, default_passes, parse_pipeline
from ._check import RtlJob, _lower_job, rtl_failures
from ._generate import FuzzCase, FuzzConfig, _pass_mismatch, compile_case, generate_case
from ._shrink import _annotated, minimise

__all__ = ["FuzzFailure", "FuzzReport", "fuzz", "fuzz_on_cluster", "run_cli"]

@dataclass
class FuzzFailure:
    """A model on which the compiler and the reference interpreter disagree."""
    seed: int
    index: int
    kind: str                 # "compile", "passes" or "rtl"
    detail: str
    pipeline: str
    model: str                # IR text of the failing graph, with the failing inputs as comments
    minimised: str | None     # the same after shrinking (None when not shrunk)
    rounds: int = 0
    minimised_graph: Graph | None = None
    minimised_inputs: np.ndarray | None = None   # input codes of the minimised graph

    @property
    def reproduce(self) -> str:
        return f"bitwave fuzz --seed {self.seed} --first {self.index} --models 1"

    def describe(self) -> str:
        text = [f"FAIL {self.kind}: seed {self.seed} model {self.index}: {self.detail}",
                f"  reproduce: {self.reproduce}", f"  pipeline: {self.pipeline}"]
        if self.minimised is not None:
            text += [f"  minimised model ({self.rounds} shrinking rounds):",
                     *("    " + ln for ln in self.minimised.splitlines())]
        else:
            text += ["  model:", *("    " + ln for ln in self.model.splitlines())]
        return "\n".join(text)


@dataclass
class FuzzReport:
    seed: int
    models: int
    frames: int = 0
    mismatches: int = 0              # models that failed any check
    failures: list[FuzzFailure] = field(default_factory=list)
    builds: int = 0
    cached_builds: int = 0
    seconds: dict = field(default_factory=dict)
    cycles: int = 0
    workers: int = 0                 # Dask workers the models were spread over (0: this process)

    @property
    def models_per_minute(self) -> float:
        total = self.seconds.get("total", 0.0)
        return 60.0 * self.models / total if total > 0 else float("inf")

    def as_dict(self) -> dict:
        return {"seed": self.seed, "models": self.models, "frames": self.frames,
                "mismatches": self.mismatches, "builds": self.builds, "cached_builds": self.cached_builds,
                "seconds": self.seconds, "cycles": self.cycles, "workers": self.workers,
                "models_per_minute": round(self.models_per_minute, 1),
                "failures": [{"seed": f.seed, "model": f.index, "kind": f.kind, "detail": f.detail,
                              "reproduce": f.reproduce, "pipeline": f.pipeline, "model_ir": f.model,
                              "minimised_ir": f.minimised, "rounds": f.rounds} for f in self.failures]}

    def summary(self) -> str:
        s = self.seconds
        return (f"fuzz seed {self.seed}: {self.models} models, {self.frames} frames, "
                f"mismatches: {self.mismatches}; {self.builds} Verilator builds "
                f"({self.cached_builds} cached); {s.get('total', 0):.1f} s total "
                f"(generate+compile {s.get('compile', 0):.1f} s, emit {s.get('emit', 0):.1f} s, "
                f"build {s.get('build', 0):.1f} s, simulate {s.get('simulate', 0):.1f} s, "
                f"minimise {s.get('minimise', 0):.1f} s"
                + (f", stages summed over {self.workers} Dask workers" if self.workers else "")
                + f"); {self.models_per_minute:.0f} models/min")


def fuzz(n_models: int, seed: int, *, first: int = 0, cfg: FuzzConfig = FuzzConfig(),
         mutate: Callable[[Graph], Graph] | None = None, minimise_failures: bool = True,
         log: Callable[[str], None] = lambda s: None) -> FuzzReport:
    """Generate, compile and check ``n_models`` random models (numbers ``first`` …).

    ``mutate``, for fault-injection tests only, changes each graph just before
    it is lowered to hardware while the golden model stays the original, as a
    bug in lowering would.
    """
    t_start = time.monotonic()
    report = FuzzReport(seed=seed, models=n_models)
    stats: dict = {}
    t0 = time.monotonic()
    cases = [compile_case(generate_case(seed, first + i, cfg), cfg) for i in range(n_models)]
    report.frames = sum(len(c.inputs) for c in cases)
    failed: dict[int, tuple[str, str]] = {}
    for c in cases:
        if c.error:
            failed[c.index] = ("compile", c.error)
            continue
        msg = _pass_mismatch(c)
        if msg:
            failed[c.index] = ("passes", msg)
    jobs, job_case = [], []
    for c in cases:
        if c.index in failed:
            continue
        jobs.append(RtlJob(c.final, c.inputs, c.stall, seed=c.seed * 1_000_003 + c.index))
        job_case.append(c)
    for job in jobs:
        _lower_job(job, mutate)
    stats["compile"] = time.monotonic() - t0
    log(f"generated and compiled {n_models} models ({report.frames} frames) in {stats['compile']:.1f} s")
    for c, verdict in zip(job_case, rtl_failures(jobs, cfg, mutate=mutate, stats=stats, log=log)):
        if verdict.message:
            failed[c.index] = ("rtl", verdict.message)
    t_min = time.monotonic()
    by_index = {c.index: c for c in cases}
    shrunk = 0
    # Shrink wrong outputs before crashes, and each distinct crash message only once.
    seen: set[str] = set()
    order = sorted(failed.items(), key=lambda kv: (kv[1][0] != "rtl" or kv[1][1].startswith("lowering"),
                                                    kv[0]))
    for index, (kind, detail) in order:
        c = by_index[index]
        graph = c.final if kind == "rtl" else c.graph
        x = c.inputs
        failing = np.arange(len(x))
        minimised, rounds, g, xs = None, 0, None, None
        signature = f"{kind}: {detail}" if "frames" not in detail else f"{kind}: {index}"
        if minimise_failures and shrunk < cfg.minimise_limit and signature not in seen:
            seen.add(signature)
            shrunk += 1
            log(f"{c.name}: {kind} failure; shrinking")
            check = _rtl_checker(cfg, mutate, c) if kind == "rtl" else _python_checker(kind, c, cfg)
            g, xs, bad, rounds = minimise(graph, x, check, rounds=cfg.minimise_rounds, log=log)
            failing = bad if len(bad) else failing
            how = (f"stalls: in {c.stall[0]}, out {c.stall[1]}; lowered as it is (pe, simd, acc above)"
                   if kind == "rtl" else
                   f"passes: {c.user_pipeline + ',' if c.user_pipeline else ''}{','.join(DEFAULT_PIPELINE)}")
            minimised = _annotated(g, xs, bad, [f"minimised from {c.name} ({kind}: {detail})", how])
        model = _annotated(graph, x, failing if kind != "rtl" else np.arange(0),
                           [f"{c.name} ({kind}: {detail})", f"pipeline: {c.pipeline or c.user_pipeline}"])
        report.failures.append(FuzzFailure(c.seed, index, kind, detail, c.pipeline or c.user_pipeline,
                                           model, minimised, rounds, g, xs))
    report.failures.sort(key=lambda f: f.index)
    stats["minimise"] = time.monotonic() - t_min
    report.mismatches = len(failed)
    report.builds = stats.get("builds", 0)
    report.cached_builds = stats.get("cached_builds", 0)
    report.cycles = stats.get("cycles", 0)
    stats["total"] = time.monotonic() - t_start
    report.seconds = {k: round(v, 2) for k, v in stats.items()
                      if k in ("compile", "emit", "build", "simulate", "minimise", "total")}
    return report


def _rtl_checker(cfg: FuzzConfig, mutate, case: FuzzCase):
    seed = case.seed * 1_000_003 + case.index

    def failing_of(examples):
        jobs = [RtlJob(g, xs, case.stall, seed) for g, xs in examples]
        return [list(v.frames) for v in rtl_failures(jobs, cfg, mutate=mutate)]
    return failing_of


def _python_checker(kind: str, case: FuzzCase, cfg: FuzzConfig):
    """Shrinking predicate for compile and pass failures (no simulation needed)."""
    def one(g: Graph, xs: np.ndarray) -> list[int]:
        c = FuzzCase(case.seed, case.index, g, case.user_pipeline, case.stall)
        try:
            reference = PassManager(parse_pipeline(c.user_pipeline)).run(g)
            final = PassManager(default_passes(reference)).run(reference)
            if kind == "compile":
                lower(final)
                return []
        except Exception:   # noqa: BLE001
            return list(range(len(xs))) if kind == "compile" else []
        if kind == "compile":
            return []
        c.reference, c.final, c.inputs = reference, final, xs
        if not Interpreter(reference).types[reference.output.name].fmt.is_integer:
            return []
        want = Interpreter(reference).output(xs, codes=True)
        got = Interpreter(final).output(xs, codes=True)
        return list(np.nonzero(np.any(want != got, axis=1))[0])
    return lambda examples: [one(g, xs) for g, xs in examples]


def _fuzz_chunk(n_models: int, seed: int, first: int, cfg: FuzzConfig, minimise_failures: bool):
    """One Dask task: ``fuzz`` of models ``first`` … ``first + n_models - 1``.

    Graphs travel as IR text (the report's ``minimised_graph`` s), since a
    graph's constants do not pickle.
    """
    report = fuzz(n_models, seed, first=first, cfg=cfg, minimise_failures=minimise_failures)
    texts = {f.index: print_graph(f.minimised_graph) for f in report.failures if f.minimised_graph is not None}
    report.failures = [dataclasses.replace(f, minimised_graph=None) for f in report.failures]
    return report, texts


def fuzz_on_cluster(n_models: int, seed: int, *, scheduler: str | None = None, workers: int | None = None,
                    first: int = 0, cfg: FuzzConfig = FuzzConfig(), minimise_failures: bool = True,
                    chunk: int | None = None, log: Callable[[str], None] = lambda s: None) -> FuzzReport:
    """:func:`fuzz` with the models spread over a Dask cluster, ``chunk`` models per task.

    ``scheduler`` as for ``bitwave sweep`` (an address or a scheduler file; None:
    a local cluster of ``workers`` processes).  A task is a run of ``chunk``
    (default ``cfg.batch``, one Verilator build's worth) consecutive models; since
    every model comes from its own random stream, the models and verdicts are
    those of one :func:`fuzz` run.  Each task shrinks up to ``cfg.minimise_limit``
    of its own failures.  Stage times are summed over the tasks; ``total`` is
    the wall time.
    """
    from distributed import as_completed

    from ..cluster import dask_client
    t0 = time.monotonic()
    chunk = chunk or cfg.batch
    starts = range(first, first + n_models, chunk)
    parts: list[FuzzReport] = []
    with dask_client(scheduler, workers) as client:
        log(f"{n_models} models in {len(starts)} Dask tasks of up to {chunk}")
        futures = [client.submit(_fuzz_chunk, min(chunk, first + n_models - s), seed, s, cfg, minimise_failures,
                                 key=f"fuzz-{seed}-{s}-{chunk}", pure=False) for s in starts]
        for done, fut in enumerate(as_completed(futures), 1):
            part, texts = fut.result()
            part.failures = [dataclasses.replace(f, minimised_graph=parse_graph(texts[f.index]))
                             if f.index in texts else f for f in part.failures]
            parts.append(part)
            models = sum(p.models for p in parts)
            log(f"{done}/{len(futures)} tasks, {models} models, {sum(p.mismatches for p in parts)} mismatches, "
                f"{60 * models / (time.monotonic() - t0):.0f} models/min")
        n_workers = len(client.scheduler_info().get("workers", {}))
    report = FuzzReport(seed=seed, models=n_models, workers=n_workers)
    for p in parts:
        report.frames += p.frames
        report.mismatches += p.mismatches
        report.failures += p.failures
        report.builds += p.builds
        report.cached_builds += p.cached_builds
        report.cycles += p.cycles
        for k, v in p.seconds.items():
            report.seconds[k] = round(report.seconds.get(k, 0.0) + v, 2)
    report.failures.sort(key=lambda f: f.index)
    report.seconds["total"] = round(time.monotonic() - t0, 2)
    return report


def run_cli(*, models: int, seed: int, first: int = 0, minimise: bool = True, json_path=None,
            scheduler: str | None = None, workers: int | None = None, log: Callable[[str], None] = print,
            echo: Callable[[str], None] = print) -> int:
    """``bitwave fuzz``: run (here, over a local Dask cluster of ``workers`` processes, or over
    the Dask cluster at ``scheduler``), print every failure and the summary; exit status 1 on
    any failure."""
    if scheduler is None and workers is None:
        report = fuzz(models, seed, first=first, minimise_failures=minimise, log=log)
    else:
        report = fuzz_on_cluster(models, seed, scheduler=scheduler, workers=workers, first=first,
                                 minimise_failures=minimise, log=log)
    for f in report.failures:
        echo(f.describe())
    echo(report.summary())
    if json_path:
        import json
        from pathlib import Path
        Path(json_path).write_text(json.dumps(report.as_dict(), indent=2))
    return 1 if report.mismatches else 0
