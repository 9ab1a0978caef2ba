"""RTL checks: many lowered designs per Verilator build, each against the reference interpreter."""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from amaranth.hdl import UnusedElaboratable

from ..ir import Graph, Interpreter
from ..lower import lower
from ..sim import MultiStreamSim
from ._generate import FuzzConfig, _describe_exception

__all__ = ["Verdict", "rtl_failures"]

@dataclass
class RtlJob:
    """One design to simulate: the golden graph (whose lowering, possibly mutated, is built),
    its input codes, its stall probabilities and the seed of its stall pattern."""
    golden: Graph
    inputs: np.ndarray
    stall: tuple[float, float]
    seed: int
    lowered: object = None
    error: str | None = None


def _lower_job(job: RtlJob, mutate) -> None:
    # When lowering fails, the units it made before the failure are never elaborated and
    # Amaranth warns about each one as it is freed (at the end of the except block).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)
        try:
            job.lowered = lower(mutate(job.golden) if mutate else job.golden)
        except Exception as e:   # noqa: BLE001 - any exception is a finding, reported as such
            job.error = _describe_exception(e)


@dataclass(frozen=True)
class Verdict:
    """Result of one RTL check: what went wrong (None if nothing) and which input frames failed."""
    message: str | None
    frames: tuple[int, ...] = ()


def rtl_failures(jobs: Sequence[RtlJob], cfg: FuzzConfig, *, mutate=None, stats: dict | None = None,
                 log: Callable[[str], None] = lambda s: None) -> list[Verdict]:
    """Simulate every job (in builds of ``cfg.batch`` designs); one :class:`Verdict` per job."""
    stats = stats if stats is not None else {}
    results: list[Verdict] = [Verdict(None)] * len(jobs)
    for job in jobs:
        if job.lowered is None and job.error is None:
            _lower_job(job, mutate)
    for i, job in enumerate(jobs):
        if job.error is not None:
            results[i] = Verdict(f"lowering failed: {job.error}", tuple(range(len(job.inputs))))
    for chunk in _batches([i for i, job in enumerate(jobs) if job.error is None], jobs, cfg):
        t0 = time.monotonic()
        sim = MultiStreamSim.build([jobs[i].lowered for i in chunk], opt=cfg.opt)
        stats["emit"] = stats.get("emit", 0.0) + sim.emit_seconds
        stats["build"] = stats.get("build", 0.0) + (time.monotonic() - t0 - sim.emit_seconds)
        stats["builds"] = stats.get("builds", 0) + 1
        stats["cached_builds"] = stats.get("cached_builds", 0) + int(sim.cached)
        log(f"built {len(chunk)} designs in {time.monotonic() - t0:.1f} s"
            + (" (cached)" if sim.cached else ""))
        # The hardware's codes: a last layer's float scale and bias stay on the host.
        golden = {i: Interpreter(jobs[i].golden).device(jobs[i].inputs, codes=True) for i in chunk}
        wire = [jobs[i].lowered.sink.encode(jobs[i].inputs) for i in chunk]
        outcomes, run = sim.run(wire, stall_in=[jobs[i].stall[0] for i in chunk],
                                stall_out=[jobs[i].stall[1] for i in chunk],
                                seeds=[jobs[i].seed for i in chunk])
        stats["simulate"] = stats.get("simulate", 0.0) + run["seconds"]
        stats["cycles"] = stats.get("cycles", 0) + run["cycles"]
        for i, out in zip(chunk, outcomes):
            results[i] = _compare(jobs[i], golden[i], out)
    return results


def _sim_cycles(job: RtlJob) -> int:
    """Expected cycles to stream a job's frames (stalls cost little next to a slow layer, but
    every beat of a frame may stall)."""
    low = job.lowered
    stall = 1.0 / max(0.05, (1 - job.stall[0]) * (1 - job.stall[1]))
    beats = max(low.sink.beats, low.source.beats)
    return int(len(job.inputs) * (low.cycles_per_frame + 2 * stall * beats) + (low.top.latency or 0) + 50)


def _batches(live: list[int], jobs: Sequence[RtlJob], cfg: FuzzConfig) -> list[list[int]]:
    """Group designs of similar simulation length: every cycle of a build evaluates all its
    designs until the slowest is done, so one slow design must not hold up a hundred fast ones."""
    order = sorted(live, key=lambda i: _sim_cycles(jobs[i]))
    batches: list[list[int]] = []
    for i in order:
        cur = batches[-1] if batches else None
        if (cur is not None and len(cur) < cfg.batch
                and _sim_cycles(jobs[i]) * (len(cur) + 1) <= cfg.batch_design_cycles):
            cur.append(i)
        else:
            batches.append([i])
    return batches


def _compare(job: RtlJob, want: np.ndarray, out) -> Verdict:
    n = len(job.inputs)
    got = job.lowered.source.decode(out.outputs)
    problems = []
    if out.received < n:
        problems.append(f"only {out.received} of {n} frames came out ({out.sent} went in)")
    if out.extra:
        problems.append(f"{out.extra} extra output beat(s) after the last frame")
    m = min(len(got), n)
    bad = np.nonzero(np.any(got[:m] != want[:m], axis=1))[0]
    if len(bad):
        f = int(bad[0])
        col = int(np.nonzero(got[f] != want[f])[0][0])
        problems.append(f"{len(bad)} of {n} frames differ; first: frame {f}, element {col}: "
                        f"RTL {int(got[f, col])}, reference {int(want[f, col])}")
    if not problems:
        return Verdict(None)
    # Lost or extra frames cannot be pinned to one input: then every frame counts.
    frames = tuple(int(b) for b in bad) if len(problems) == 1 and len(bad) else tuple(range(n))
    return Verdict("; ".join(problems), frames)


