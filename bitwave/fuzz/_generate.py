"""Random models: generation, the passes each one goes through, and its input frames."""

from __future__ import annotations

import dataclasses
import traceback
from dataclasses import dataclass

import numpy as np

from ..errors import BitwaveError
from ..ir import (Affine, Bipolar, Graph, Input, Int, Interpreter, MatVec, MultiThreshold, Output,
                  Quant, Requant)
from ..passes import DEFAULT_PIPELINE, PassManager, parse_pipeline
from ..passes.fold import divisors

__all__ = ["FuzzConfig", "FuzzCase", "STALL_RATES", "generate_case", "compile_case", "frame_inputs"]

# The default pipeline up to its last pass, fold: the fuzzer chooses the fold itself (random
# pe/simd within a budget), which needs the streamlined graph.
_BEFORE_FOLD = ",".join(DEFAULT_PIPELINE[:-1])

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
    """Run the case's passes: the user passes, then the default pipeline with a random fold."""
    rng = np.random.default_rng([case.seed, case.index, 1])
    frames = cfg.random_frames
    try:
        reference = PassManager(parse_pipeline(case.user_pipeline)).run(case.graph)
        streamlined = PassManager(parse_pipeline(_BEFORE_FOLD)).run(reference)
        fold = _choose_fold(rng, streamlined, cfg)
        case.final = PassManager(parse_pipeline(fold)).run(streamlined)
        case.reference = reference
        case.pipeline = ",".join(p for p in (case.user_pipeline, _BEFORE_FOLD, fold) if p)
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
        return (f"{'/'.join(DEFAULT_PIPELINE)} changed the output on {len(bad)} of "
                f"{len(case.inputs)} inputs (first: input {bad[0]})")
    return None


