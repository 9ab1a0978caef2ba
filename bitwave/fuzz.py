"""Random-model fuzzing: the whole compiler against the reference interpreter.

``fuzz(n_models, seed)`` generates small random networks (depth 1–5, widths
1–100 including primes, bit-widths 1–8 signed and unsigned, Bipolar layers,
thresholds at extreme values, requantisation, stand-alone activations, low-rank
splits and binarisation through the real passes, random ``pe``/``simd``
divisors), compiles each one (passes → lowering → Verilog) and checks:

* **passes**: the graph before the exact passes (``streamline``,
  ``infer-bitwidths``, ``fold``) and the final graph give the same codes;
* **RTL**: the Verilator simulation of the lowered design gives the reference
  interpreter's codes on random and extreme inputs (all-max, all-min,
  alternating, random signs), with random stalls on input valid and output
  ready, with nothing lost and nothing duplicated.

Many designs share one Verilator build (:class:`~bitwave.sim.MultiStreamSim`),
so hundreds of models cost a few builds, not hundreds.

Every model ``i`` of a run with seed ``S`` is generated from its own random
stream ``(S, i)``: ``bitwave fuzz --seed S --first i --models 1`` rebuilds
exactly that model.  A failing model is shrunk (fewer layers, fewer elements,
narrower formats, less parallelism, fewer frames) while it still fails, and
reported as IR text with the failing inputs in comments.
"""

from __future__ import annotations

import dataclasses
import time
import traceback
import warnings
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
from amaranth.hdl import UnusedElaboratable

from .errors import BitwaveError
from .ir import (Affine, Bipolar, Graph, Input, Int, Interpreter, MatVec, MultiThreshold, Output,
                 Quant, Requant, int_format_for, print_graph, verify)
from .passes import PassManager, parse_pipeline
from .passes.bitwidths import InferBitwidths
from .passes.fold import divisors
from .lower import lower
from .sim._multi import MultiStreamSim

__all__ = ["FuzzConfig", "FuzzCase", "FuzzFailure", "FuzzReport", "fuzz", "run_cli", "generate_case",
           "compile_case", "frame_inputs", "minimise", "rtl_failures", "Verdict", "STALL_RATES"]

#: (input-valid stall, output-ready stall) probabilities the fuzzer cycles through.
STALL_RATES = ((0.0, 0.0), (0.3, 0.3), (0.7, 0.1), (0.1, 0.7))
_PRIMES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83,
           89, 97)


@dataclass(frozen=True)
class FuzzConfig:
    """Shape of the random models and of the run."""
    max_depth: int = 5            # MatVec layers per model (1..max_depth)
    max_width: int = 100
    random_frames: int = 16       # random input vectors per model (plus the extreme ones)
    max_pe_simd: int = 8          # multipliers per layer (pe·simd): Verilator build size
    max_comparators: int = 32     # threshold comparators per layer (pe·levels), when pe > 1
    max_cycles: int = 2048        # cycles per frame a layer may take if its area budget allows
    max_sim_cycles: int = 20_000  # per model: slow designs get fewer random frames
    batch: int = 100              # models per Verilator build, at most
    batch_design_cycles: int = 2_500_000   # designs × cycles per build (simulation time)
    opt: str = "-O0"              # C++ optimisation of the simulation builds (-O1: 6x slower builds)
    minimise_rounds: int = 12     # shrinking rounds per failure (one build per round)
    minimise_limit: int = 3       # failures to shrink per run (the rest are reported as found)


@dataclass
class FuzzCase:
    """One random model: the generated graph, the passes the user would ask for, and its compile."""
    seed: int
    index: int
    graph: Graph                       # as generated, before any pass
    user_pipeline: str                 # approximate passes (svd-split, quantise-1bit) or ""
    stall: tuple[float, float]
    pipeline: str = ""                 # every pass that ran, as pipeline text
    reference: Graph | None = None     # after the user passes: what the exact passes must preserve
    final: Graph | None = None         # after every pass: what is lowered, the golden model
    inputs: np.ndarray | None = None   # input codes: random and extreme vectors
    error: str | None = None           # compile failure (a finding: generated models are valid)

    @property
    def name(self) -> str:
        return f"seed {self.seed} model {self.index}"


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

    @property
    def models_per_minute(self) -> float:
        total = self.seconds.get("total", 0.0)
        return 60.0 * self.models / total if total > 0 else float("inf")

    def as_dict(self) -> dict:
        return {"seed": self.seed, "models": self.models, "frames": self.frames,
                "mismatches": self.mismatches, "builds": self.builds, "cached_builds": self.cached_builds,
                "seconds": self.seconds, "cycles": self.cycles,
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
                f"minimise {s.get('minimise', 0):.1f} s); {self.models_per_minute:.0f} models/min")


# ---------------------------------------------------------------------------
# Generation

def _width(rng, cfg: FuzzConfig) -> int:
    """A vector width up to ``cfg.max_width``: primes, small widths and anything in between."""
    r = rng.random()
    if r < 0.2:
        return int(rng.choice([p for p in _PRIMES if p <= cfg.max_width] or [1]))
    if r < 0.5:
        return int(rng.integers(1, min(8, cfg.max_width) + 1))
    return int(rng.integers(1, cfg.max_width + 1))


def _int_fmt(rng) -> Int:
    """1–8 bits, signed or not; narrow formats more often (wide activations mean many
    threshold levels, which cost build time more than they find bugs)."""
    bits = int(rng.integers(1, 5)) if rng.random() < 0.75 else int(rng.integers(5, 9))
    return Int(bits, bool(rng.random() < 0.5))


def _act_fmt(rng):
    """An activation format.  A b-bit activation is 2^b - 1 threshold comparators per row,
    the biggest part of a layer's hardware, so wide ones are generated less often."""
    r = rng.random()
    if r < 0.2:
        return Bipolar()
    bits = int(rng.integers(1, 4)) if r < 0.76 else int(rng.integers(4, 6)) if r < 0.92 else int(rng.integers(6, 9))
    return Int(bits, bool(rng.random() < 0.5))


def _codes(rng, fmt, shape) -> np.ndarray:
    if isinstance(fmt, Bipolar):
        return rng.choice(np.array([-1, 1]), size=shape)
    return rng.integers(fmt.min, fmt.max + 1, size=shape)


def _weights(rng, fmt, rows, cols) -> np.ndarray:
    w = _codes(rng, fmt, (rows, cols))
    r = rng.random()
    if isinstance(fmt, Int) and r < 0.08:     # extreme weights: the accumulator bounds are reached
        w = np.full((rows, cols), fmt.max if rng.random() < 0.5 else fmt.min)
    elif isinstance(fmt, Int) and r < 0.16:
        w = np.where(rng.random((rows, cols)) < 0.5, fmt.min, fmt.max)
    return w


def _sample(graph_ops: list, rng, n: int = 64) -> np.ndarray:
    """Values of the last op of a partial chain on random input codes."""
    last = graph_ops[-1]
    g = Graph(tuple(graph_ops) + (Output("probe_out", input=last.name),))
    x = _codes(rng, graph_ops[0].fmt, (n, graph_ops[0].n))
    return Interpreter(g).run(x, codes=True)[last.name]


def _thresholds(rng, acc: np.ndarray, lo: np.ndarray, hi: np.ndarray, levels: int) -> np.ndarray:
    """Ascending thresholds per row: mostly where the accumulator lives, some at the extremes."""
    rows = acc.shape[1]
    t = np.empty((rows, levels), dtype=np.int64)
    for r in range(rows):
        for k in range(levels):
            u = rng.random()
            if u < 0.6:
                t[r, k] = int(rng.choice(acc[:, r])) + int(rng.integers(-1, 2))
            elif u < 0.75:
                t[r, k] = int(rng.integers(lo[r], hi[r] + 2))
            else:   # extreme: exactly at or beyond the reachable range, or far outside it
                t[r, k] = int(rng.choice([lo[r], lo[r] - 1, hi[r], hi[r] + 1,
                                          -(1 << 20), (1 << 20), -(1 << 40), (1 << 40)]))
    return np.sort(t, axis=1)


def _post_layer(rng, cfg: FuzzConfig, ops: list, name: str, last: bool) -> None:
    """Append MatVec [+ MultiThreshold | Requant] in the form streamlining produces."""
    src = ops[-1]
    types = Graph(tuple(ops) + (Output("probe_out", input=src.name),)).types()
    in_t = types[src.name]
    cols, rows = in_t.n, _width(rng, cfg)
    wfmt = Bipolar() if rng.random() < 0.25 else _int_fmt(rng)
    w = _weights(rng, wfmt, rows, cols)
    bias = rng.integers(-40, 41, size=rows) if rng.random() < 0.5 else None
    mv = MatVec(name, input=src.name, weight=w, wfmt=wfmt, wscale=1.0, bias=bias)
    ops.append(mv)
    acc = _sample(ops, rng)
    lo, hi = mv.bounds(in_t.fmt)
    r = rng.random()
    if r < 0.6 or (not last and r < 0.8):
        fmt = _act_fmt(rng)
        if isinstance(fmt, Bipolar):
            levels, out_bias = 1, 0
        else:
            levels = min(fmt.max - fmt.min, int(rng.choice([1, 1, 2, 3, 4, 7, 15])))
            out_bias = int(rng.integers(fmt.min, fmt.max - levels + 1))
        ops.append(MultiThreshold(f"{name}_act", input=name, fmt=fmt, out_bias=out_bias,
                                  thresholds=_thresholds(rng, acc, lo, hi, levels)))
    elif r < 0.85:
        fmt = _int_fmt(rng)
        peak = max(int(np.abs(acc).max()), 1)
        mult = int(rng.integers(1, 1 << int(rng.integers(1, 10))))
        want = (peak * mult).bit_length() - fmt.bits + 1
        shift = int(np.clip(want + rng.integers(-2, 3), 0, 40))
        ops.append(Requant(f"{name}_rq", input=name, mult=mult, shift=shift, fmt=fmt))
    if rng.random() < 0.15 and isinstance(_fmt_of(ops), Int):
        _standalone(rng, ops, f"{name}_post")


def _fmt_of(ops: list):
    """Format of the last op of a partial chain."""
    return Graph(tuple(ops) + (Output("probe_out", input=ops[-1].name),)).types()[ops[-1].name].fmt


def _standalone(rng, ops: list, name: str) -> None:
    """A MultiThreshold or Requant on an Int tensor, not after a MatVec (a ThresholdUnit)."""
    x = _sample(ops, rng)
    fmt_in = _fmt_of(ops)
    lo = np.full(x.shape[1], fmt_in.min)
    hi = np.full(x.shape[1], fmt_in.max)
    if rng.random() < 0.6:
        fmt = _act_fmt(rng)
        if isinstance(fmt, Bipolar):
            levels, out_bias = 1, 0
        else:   # every element has its own comparators here: keep n·levels small
            levels = int(rng.integers(1, max(1, min(fmt.max - fmt.min, 15, 64 // x.shape[1])) + 1))
            out_bias = int(rng.integers(fmt.min, fmt.max - levels + 1))
        ops.append(MultiThreshold(name, input=ops[-1].name, fmt=fmt, out_bias=out_bias,
                                  thresholds=_thresholds(rng, x, lo, hi, levels)))
    else:
        fmt = _int_fmt(rng)
        peak = max(abs(fmt_in.min), abs(fmt_in.max), 1)
        mult = int(rng.integers(1, 64))
        shift = int(np.clip((peak * mult).bit_length() - fmt.bits + rng.integers(-1, 3), 0, 40))
        ops.append(Requant(name, input=ops[-1].name, mult=mult, shift=shift, fmt=fmt))


def _pre_layer(rng, cfg: FuzzConfig, ops: list, name: str, last: bool) -> None:
    """Append MatVec → [Affine] → Quant (or a last layer with a real output), as a frontend imports."""
    src = ops[-1]
    types = Graph(tuple(ops) + (Output("probe_out", input=src.name),)).types()
    cols, rows = types[src.name].n, _width(rng, cfg)
    wfmt = Bipolar() if rng.random() < 0.2 else _int_fmt(rng)
    w = _weights(rng, wfmt, rows, cols)
    wscale = rng.uniform(0.01, 0.2, size=rows) if rng.random() < 0.5 else float(rng.uniform(0.01, 0.2))
    ops.append(MatVec(name, input=src.name, weight=w, wfmt=wfmt, wscale=wscale))
    if last and rng.random() < 0.35:
        if rng.random() < 0.6:
            ops.append(Affine(f"{name}_bias", input=name, mul=np.ones(rows),
                              add=rng.normal(0, 1, size=rows)))
        return
    if rng.random() < 0.8:
        mul = rng.normal(0, 1, size=rows)
        mul[rng.random(rows) < 0.05] = 0.0
        ops.append(Affine(f"{name}_bn", input=name, mul=mul, add=rng.normal(0, 0.5, size=rows)))
    real = _sample(ops, rng)
    fmt = _act_fmt(rng)
    spread = float(np.percentile(real, 99) - np.percentile(real, 1)) or 1.0
    levels = 2 if isinstance(fmt, Bipolar) else fmt.max - fmt.min + 1
    scale = spread / levels * float(rng.uniform(0.5, 2.0))
    ops.append(Quant(f"{name}_q", input=ops[-1].name, fmt=fmt, scale=max(scale, 1e-6)))


def generate_case(seed: int, index: int, cfg: FuzzConfig = FuzzConfig()) -> FuzzCase:
    """The random model number ``index`` of a run with ``seed`` (deterministic)."""
    rng = np.random.default_rng([seed, index])
    depth = 1 + min(int(rng.choice([0, 0, 1, 1, 2, 2, 3, 4])), cfg.max_depth - 1)
    # Most models are small (build time grows with size; most bugs show small); some are
    # medium and some use the full width range.
    size = rng.random()
    cfg = dataclasses.replace(cfg, max_width=min(cfg.max_width, 16 if size < 0.7 else
                                                 40 if size < 0.9 else cfg.max_width))
    in_fmt = Bipolar() if rng.random() < 0.15 else _int_fmt(rng)
    ops: list = [Input("x", n=_width(rng, cfg), fmt=in_fmt, scale=float(rng.uniform(0.01, 1.0)))]
    pre = rng.random() < 0.4
    user = []
    if pre:
        for i in range(depth):
            _pre_layer(rng, cfg, ops, f"fc{i}", last=i == depth - 1)
        if rng.random() < 0.35:
            rank = int(rng.integers(1, 9))
            user.append(f"svd-split{{rank={rank},kappa={float(rng.choice([0.8, 100.0]))}}}")
        if rng.random() < 0.25:
            user.append(f"quantise-1bit{{activations={bool(rng.random() < 0.5)},"
                        f"keep_first={bool(rng.random() < 0.5)}}}")
    else:
        if isinstance(in_fmt, Int) and rng.random() < 0.1:
            _standalone(rng, ops, "x_act")
        for i in range(depth):
            _post_layer(rng, cfg, ops, f"fc{i}", last=i == depth - 1)
    ops.append(Output("y", input=ops[-1].name))
    stall = STALL_RATES[int(rng.integers(len(STALL_RATES)))]
    return FuzzCase(seed, index, Graph(tuple(ops)), ",".join(user), stall)


def _choose_fold(rng, graph: Graph, cfg: FuzzConfig) -> str:
    """Random pe/simd divisors per MatVec within an area budget (Verilator build time grows
    with the number of multipliers and comparators) and, where possible, a cycle budget."""
    pes, simds = [], []
    ops = graph.ops
    for i, op in enumerate(ops):
        if not isinstance(op, MatVec):
            continue
        nxt = ops[i + 1]
        levels = nxt.levels if isinstance(nxt, MultiThreshold) else 2
        feasible = [(p, s) for p in divisors(op.rows) for s in divisors(op.cols)
                    if p * s <= cfg.max_pe_simd and (p == 1 or p * levels <= cfg.max_comparators)]
        fast = [(p, s) for p, s in feasible if (op.rows // p) * (op.cols // s) <= cfg.max_cycles]
        if fast:
            p, s = fast[int(rng.integers(len(fast)))]
        else:
            p, s = min(feasible, key=lambda ps: (op.rows // ps[0]) * (op.cols // ps[1]))
        pes.append(p)
        simds.append(s)
    return f"fold{{pe={pes},simd={simds}}}"


def frame_inputs(fmt, n: int, rng, random_frames: int) -> np.ndarray:
    """Random input codes plus the extreme vectors: all-max, all-min, alternating, random signs."""
    lo, hi = fmt.min, fmt.max
    alt = np.arange(n) % 2
    rows = [np.full(n, hi), np.full(n, lo), np.where(alt, lo, hi), np.where(alt, hi, lo),
            np.where(rng.random(n) < 0.5, lo, hi), np.where(rng.random(n) < 0.5, lo, hi)]
    if lo < 0 < hi and not isinstance(fmt, Bipolar):
        rows.append(np.zeros(n, dtype=np.int64))
    x = np.concatenate([_codes(rng, fmt, (random_frames, n)), np.array(rows, dtype=np.int64)])
    return x[rng.permutation(len(x))]


def compile_case(case: FuzzCase, cfg: FuzzConfig = FuzzConfig()) -> FuzzCase:
    """Run the case's passes (user passes, streamline, infer-bitwidths, a random fold)."""
    rng = np.random.default_rng([case.seed, case.index, 1])
    frames = cfg.random_frames
    try:
        reference = PassManager(parse_pipeline(case.user_pipeline)).run(case.graph)
        streamlined = PassManager(parse_pipeline("streamline,infer-bitwidths")).run(reference)
        fold = _choose_fold(rng, streamlined, cfg)
        case.final = PassManager(parse_pipeline(fold)).run(streamlined)
        case.reference = reference
        case.pipeline = ",".join(p for p in (case.user_pipeline, "streamline,infer-bitwidths", fold) if p)
        # A slow design (a wide prime-sized layer cannot be folded finely) gets fewer random
        # frames, never fewer extreme ones, so that it does not hold up its whole build.
        cpf = max([op.cycles for op in case.final.ops if isinstance(op, MatVec)] + [1])
        frames = int(np.clip(cfg.max_sim_cycles // (cpf + 4) - 7, 2, cfg.random_frames))
    except Exception as e:   # noqa: BLE001 - any exception on a valid model is a finding
        case.error = _describe_exception(e)
    case.inputs = frame_inputs(case.graph.input.fmt, case.graph.input.n, rng, frames)
    return case


def _describe_exception(e: BaseException) -> str:
    kind = "" if isinstance(e, BitwaveError) else " (not a BitwaveError: a crash)"
    frame = traceback.extract_tb(e.__traceback__)[-1] if e.__traceback__ else None
    where = f" at {frame.filename.rsplit('/', 2)[-1]}:{frame.lineno}" if frame else ""
    return f"{type(e).__name__}{kind}{where}: {str(e).splitlines()[0] if str(e) else ''}"


def _pass_mismatch(case: FuzzCase) -> str | None:
    """Exact passes must not change any code of an integer-valued output."""
    ref_out = Interpreter(case.reference)
    ref_t = ref_out.types[case.reference.output.name]
    if not ref_t.fmt.is_integer:
        return None   # a real-valued output (last layer's float bias) is compared in reports
    want = ref_out.output(case.inputs, codes=True)
    got = Interpreter(case.final).output(case.inputs, codes=True)
    bad = np.nonzero(np.any(want != got, axis=1))[0]
    if len(bad):
        return (f"streamline/infer-bitwidths/fold changed the output on {len(bad)} of "
                f"{len(case.inputs)} inputs (first: input {bad[0]})")
    return None


# ---------------------------------------------------------------------------
# RTL checks, many designs per build

@dataclass
class _Job:
    """One design to simulate: the golden graph (whose lowering, possibly mutated, is built),
    its input codes, its stall probabilities and the seed of its stall pattern."""
    golden: Graph
    inputs: np.ndarray
    stall: tuple[float, float]
    seed: int
    lowered: object = None
    error: str | None = None


def _lower_job(job: _Job, mutate) -> None:
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


def rtl_failures(jobs: Sequence[_Job], cfg: FuzzConfig, *, mutate=None, stats: dict | None = None,
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
        golden = {i: Interpreter(jobs[i].golden).output(jobs[i].inputs, codes=True) for i in chunk}
        wire = [jobs[i].lowered.sink.encode(jobs[i].inputs) for i in chunk]
        outcomes, run = sim.run(wire, stall_in=[jobs[i].stall[0] for i in chunk],
                                stall_out=[jobs[i].stall[1] for i in chunk],
                                seeds=[jobs[i].seed for i in chunk])
        stats["simulate"] = stats.get("simulate", 0.0) + run["seconds"]
        stats["cycles"] = stats.get("cycles", 0) + run["cycles"]
        for i, out in zip(chunk, outcomes):
            results[i] = _compare(jobs[i], golden[i], out)
    return results


def _sim_cycles(job: _Job) -> int:
    """Expected cycles to stream a job's frames (stalls cost little next to a slow layer)."""
    low = job.lowered
    stall = 1.0 / max(0.05, (1 - job.stall[0]) * (1 - job.stall[1]))
    return int(len(job.inputs) * (low.cycles_per_frame + 2 * stall) + (low.top.latency or 0) + 50)


def _batches(live: list[int], jobs: Sequence[_Job], cfg: FuzzConfig) -> list[list[int]]:
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


def _compare(job: _Job, want: np.ndarray, out) -> Verdict:
    n = len(job.inputs)
    got = job.lowered.source.decode(out.outputs)
    problems = []
    if out.received < n:
        problems.append(f"only {out.received} of {n} frames came out ({out.sent} went in)")
    if out.extra:
        problems.append(f"{out.extra} extra output(s) after the last frame")
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


# ---------------------------------------------------------------------------
# Shrinking

def _segments(graph: Graph) -> list[list[int]]:
    """Op indices sharing one element indexing: a producer (Input/MatVec) and the
    element-wise ops after it; the next MatVec (or the Output) consumes the segment."""
    segs: list[list[int]] = []
    for i, op in enumerate(graph.ops):
        if isinstance(op, (Input, MatVec)):
            segs.append([i])
        elif not isinstance(op, Output):
            segs[-1].append(i)
    return segs


def _largest_divisor_at_most(n: int, limit: int) -> int:
    return max(d for d in divisors(n) if d <= limit)


def _slice_vec(c, keep, n_old):
    a = np.asarray(c.array if hasattr(c, "array") else c)
    return a[keep] if a.ndim == 1 and a.shape[0] == n_old and n_old > 1 else a


def _drop_elements(graph: Graph, seg: list[int], keep: np.ndarray, x: np.ndarray):
    """Keep only elements ``keep`` of a segment; returns (graph, inputs)."""
    ops = list(graph.ops)
    head = ops[seg[0]]
    n_old = head.n if isinstance(head, Input) else head.rows
    if isinstance(head, Input):
        ops[seg[0]] = head.replace(n=len(keep))
        x = x[:, keep]
    else:
        ops[seg[0]] = head.replace(weight=head.weight.array[keep], wscale=head.wscale.array[keep],
                                   bias=None if head.bias is None else head.bias.array[keep],
                                   pe=_largest_divisor_at_most(len(keep), head.pe))
    for i in seg[1:]:
        op = ops[i]
        if isinstance(op, MultiThreshold):
            ops[i] = op.replace(thresholds=op.thresholds.array[keep], scale=_slice_vec(op.scale, keep, n_old))
        elif isinstance(op, Requant):
            ops[i] = op.replace(scale=_slice_vec(op.scale, keep, n_old))
        elif isinstance(op, Affine):
            ops[i] = op.replace(mul=op.mul.array[keep], add=op.add.array[keep])
        elif isinstance(op, Quant):
            ops[i] = op.replace(scale=_slice_vec(op.scale, keep, n_old))
    nxt = seg[-1] + 1
    if isinstance(ops[nxt], MatVec):
        mv = ops[nxt]
        ops[nxt] = mv.replace(weight=mv.weight.array[:, keep],
                              simd=_largest_divisor_at_most(len(keep), mv.simd))
    return Graph(tuple(ops)), x


def _truncate(graph: Graph, upto: int) -> Graph:
    """Keep ops [0, upto] and end the graph there."""
    ops = list(graph.ops[:upto + 1])
    return Graph(tuple(ops) + (Output(graph.output.name, input=ops[-1].name),))


def _drop_leading(graph: Graph, start: int, x: np.ndarray):
    """Start the graph at op index ``start`` (a MatVec): the value it reads becomes the input."""
    interp = Interpreter(graph)
    op = graph.ops[start]
    t = interp.types[op.input]
    if not isinstance(t.fmt, (Int, Bipolar)):
        return None
    inp = Input(op.input, n=t.n, fmt=t.fmt, scale=float(abs(t.scales[0])) or 1.0)
    return Graph((inp,) + tuple(graph.ops[start:])), interp.run(x, codes=True)[op.input]


def _size(graph: Graph, x: np.ndarray) -> int:
    """How big a failing example is (what shrinking minimises)."""
    total = 64 * sum(isinstance(op, (MatVec, MultiThreshold, Requant)) for op in graph.ops)
    for op in graph.ops:
        if isinstance(op, MatVec):
            total += op.rows * op.cols * (1 if isinstance(op.wfmt, Bipolar) else op.wfmt.bits)
            total += op.pe + op.simd + (0 if op.bias is None else op.rows)
        elif isinstance(op, MultiThreshold):
            total += op.thresholds.array.size
        elif isinstance(op, Input):
            total += op.n * op.fmt.width
        elif isinstance(op, Requant):
            total += op.fmt.bits + op.shift
    return total + 4 * len(x)


def _narrow(fmt: Int) -> Int | None:
    return Int(fmt.bits - 1, fmt.signed) if fmt.bits > 1 else None


def _candidates(graph: Graph, x: np.ndarray, failing: np.ndarray):
    """Smaller variants of a failing example: (graph, inputs) pairs, biggest steps first."""
    out = []

    def add(make):
        # A shrinking step that makes no valid graph is simply not a candidate.
        try:
            cand = make()
        except (BitwaveError, ValueError, IndexError):
            return
        if cand is not None:
            out.append(cand)

    if len(x) > 1 and len(failing):
        add(lambda: (graph, x[failing[:1]]))
        if len(x) > 2:
            add(lambda: (graph, x[: int(failing[0]) + 1]))
    ops = list(graph.ops)
    # A MatVec followed by a threshold or requant is one hardware layer: never cut between them.
    layer_ends = [i for i in range(1, len(ops) - 1)
                  if not (isinstance(ops[i], MatVec) and isinstance(ops[i + 1], (MultiThreshold, Requant)))]
    for end in layer_ends[:-1]:
        add(lambda end=end: (_truncate(graph, end), x))
    for i, op in enumerate(ops):
        if i > 1 and isinstance(op, MatVec):
            add(lambda i=i: _drop_leading(graph, i, x))
    halves = []
    for seg in _segments(graph):
        head = ops[seg[0]]
        n = head.n if isinstance(head, Input) else head.rows
        if n > 1:
            idx = np.arange(n)
            halves.append((seg, idx[: n // 2]))
            add(lambda seg=seg, keep=idx[: n // 2]: _drop_elements(graph, seg, keep, x))
            add(lambda seg=seg, keep=idx[n // 2:]: _drop_elements(graph, seg, keep, x))
            if n <= 6:
                for j in range(n):
                    add(lambda seg=seg, keep=np.delete(idx, j): _drop_elements(graph, seg, keep, x))
    if len(halves) > 1:   # halve every segment at once: shrinks wide models in few rounds
        def halve_all():
            g, xs = graph, x
            for seg, keep in halves:
                g, xs = _drop_elements(g, seg, keep, xs)
            return g, xs
        add(halve_all)
        out.insert(0, out.pop())
    inp = graph.input
    if isinstance(inp.fmt, Int) and _narrow(inp.fmt):
        fmt = _narrow(inp.fmt)
        add(lambda: (Graph((inp.replace(fmt=fmt),) + tuple(ops[1:])), np.clip(x, fmt.min, fmt.max)))
    for i, op in enumerate(ops):
        def with_op(new, i=i):
            return Graph(tuple(ops[:i]) + (new,) + tuple(ops[i + 1:])), x
        if isinstance(op, MatVec):
            if op.pe > 1:
                add(lambda op=op, w=with_op: w(op.replace(pe=1)))
            if op.simd > 1:
                add(lambda op=op, w=with_op: w(op.replace(simd=1)))
            if op.bias is not None:
                add(lambda op=op, w=with_op: w(op.replace(bias=None)))
            if isinstance(op.wfmt, Int) and _narrow(op.wfmt):
                f = _narrow(op.wfmt)
                add(lambda op=op, w=with_op, f=f: w(op.replace(wfmt=f, weight=np.clip(op.weight.array,
                                                                                      f.min, f.max))))
        elif isinstance(op, MultiThreshold) and op.levels > 1:
            keep = op.levels // 2
            fmt = op.fmt if isinstance(op.fmt, Bipolar) else int_format_for(op.out_bias, op.out_bias + keep)
            if isinstance(op.fmt, Int) and op.fmt.signed and not fmt.signed:
                fmt = Int(fmt.bits + 1, True)
            add(lambda op=op, w=with_op, keep=keep, fmt=fmt:
                w(op.replace(thresholds=op.thresholds.array[:, :keep], fmt=fmt)))
        elif isinstance(op, Requant) and _narrow(op.fmt):
            add(lambda op=op, w=with_op: w(op.replace(fmt=_narrow(op.fmt))))
    return out


def _valid(graph: Graph) -> Graph | None:
    try:
        g = InferBitwidths().run(graph) if any(isinstance(op, MatVec) and op.acc is not None
                                               for op in graph.ops) else graph
        verify(g)
        return g
    except (BitwaveError, ValueError, IndexError):
        return None


def minimise(graph: Graph, x: np.ndarray, failing_of: Callable[[list], list], *,
             rounds: int = 12, log: Callable[[str], None] = lambda s: None):
    """Shrink a failing (graph, inputs) while ``failing_of`` still reports it failing.

    ``failing_of`` takes a list of (graph, inputs) and returns, per example, the
    indices of the failing inputs (empty: it passes).  Each round evaluates every
    candidate at once (one build for RTL checks) and keeps the smallest failing one.
    Returns (graph, inputs, failing indices, rounds used).
    """
    failing = np.asarray(failing_of([(graph, x)])[0])
    if not len(failing):
        return graph, x, failing, 0
    used = 0
    for used in range(1, rounds + 1):
        cands = []
        for g, xs in _candidates(graph, x, failing):
            g = _valid(g)
            if g is not None and len(xs):
                cands.append((g, xs))
        if not cands:
            break
        results = failing_of(cands)
        best = None
        for (g, xs), bad in zip(cands, results):
            if len(bad) and (best is None or _size(g, xs) < _size(best[0], best[1])):
                best = (g, xs, np.asarray(bad))
        if best is None or _size(best[0], best[1]) >= _size(graph, x):
            break
        graph, x, failing = best
        log(f"shrinking round {used}: size {_size(graph, x)}, {len(graph)} ops, {len(x)} frames")
    return graph, x, failing, used


def _annotated(graph: Graph, x: np.ndarray, failing: np.ndarray, header: list[str]) -> str:
    lines = [f"# {h}" for h in header]
    for f in list(failing)[:4]:
        lines.append(f"# failing input (codes): {x[int(f)].tolist()}")
    return "\n".join(lines) + "\n" + print_graph(graph)


# ---------------------------------------------------------------------------
# The driver

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
        jobs.append(_Job(c.final, c.inputs, c.stall, seed=c.seed * 1_000_003 + c.index))
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
                   f"passes: {c.user_pipeline + ',' if c.user_pipeline else ''}streamline,infer-bitwidths,fold")
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
        jobs = [_Job(g, xs, case.stall, seed) for g, xs in examples]
        return [list(v.frames) for v in rtl_failures(jobs, cfg, mutate=mutate)]
    return failing_of


def _python_checker(kind: str, case: FuzzCase, cfg: FuzzConfig):
    """Shrinking predicate for compile and pass failures (no simulation needed)."""
    def one(g: Graph, xs: np.ndarray) -> list[int]:
        c = FuzzCase(case.seed, case.index, g, case.user_pipeline, case.stall)
        try:
            reference = PassManager(parse_pipeline(c.user_pipeline)).run(g)
            final = PassManager(parse_pipeline("streamline,infer-bitwidths,fold")).run(reference)
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


def run_cli(*, models: int, seed: int, first: int = 0, minimise: bool = True, json_path=None,
            log: Callable[[str], None] = print, echo: Callable[[str], None] = print) -> int:
    """``bitwave fuzz``: run, print every failure and the summary; exit status 1 on any failure."""
    report = fuzz(models, seed, first=first, minimise_failures=minimise, log=log)
    for f in report.failures:
        echo(f.describe())
    echo(report.summary())
    if json_path:
        import json
        from pathlib import Path
        Path(json_path).write_text(json.dumps(report.as_dict(), indent=2))
    return 1 if report.mismatches else 0
