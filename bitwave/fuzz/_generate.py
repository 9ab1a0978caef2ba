"""Random models: generation, the passes each one goes through, and its input frames."""

from __future__ import annotations

import traceback
from dataclasses import dataclass

import numpy as np

from ..errors import BitwaveError
from ..ir import Bipolar, Graph, Input, Int, Interpreter, MatVec, MultiThreshold, Output
from ..passes import DEFAULT_PIPELINE, PassManager, parse_pipeline
from ..passes.fold import divisors
from . import _layers as L
from ._networks import causal, cnn, residual

__all__ = ["FuzzConfig", "FuzzCase", "KINDS", "STALL_RATES", "case_kind", "generate_case", "compile_case",
           "frame_inputs"]

# The default pipeline up to its last pass, fold: the fuzzer chooses the fold itself (random
# pe/simd within a budget), which needs the streamlined graph.
_BEFORE_FOLD = ",".join(DEFAULT_PIPELINE[:-1])

#: (input-valid stall, output-ready stall) probabilities the fuzzer cycles through.
STALL_RATES = ((0.0, 0.0), (0.3, 0.3), (0.7, 0.1), (0.1, 0.7))

#: The kinds of model the fuzzer makes (see :func:`generate_case`).
KINDS = ("mlp", "cnn", "residual", "causal")


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
    mix: tuple[float, ...] = (0.5, 0.28, 0.14, 0.08)   # probability of each of KINDS

    def __post_init__(self):
        if len(self.mix) != len(KINDS) or min(self.mix) < 0 or not np.isclose(sum(self.mix), 1.0):
            raise BitwaveError(f"FuzzConfig: mix must be {len(KINDS)} probabilities summing to 1, one "
                             f"per kind {KINDS}, not {self.mix!r}")


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
    kind: str = "mlp"                  # one of KINDS

    @property
    def name(self) -> str:
        return f"seed {self.seed} model {self.index}"


def _mlp(rng, cfg: FuzzConfig) -> tuple[list, list[str]]:
    """A chain of dense layers (depth 1–5, widths 1–100) and the user passes to run on it."""
    depth = 1 + min(int(rng.choice([0, 0, 1, 1, 2, 2, 3, 4])), cfg.max_depth - 1)
    # Most models are small (build time grows with size; most bugs show small); some are
    # medium and some use the full width range.
    size = rng.random()
    max_width = min(cfg.max_width, 16 if size < 0.7 else 40 if size < 0.9 else cfg.max_width)
    in_fmt = Bipolar() if rng.random() < 0.15 else L.int_fmt(rng)
    ops: list = [Input("x", n=L.width(rng, max_width), fmt=in_fmt, scale=float(rng.uniform(0.01, 1.0)))]
    pre = rng.random() < 0.4
    if pre:
        for i in range(depth):
            last = i == depth - 1
            L.pre_layer(rng, ops, L.dense(rng, max_width, ops[-1].name, L.type_of(ops), f"fc{i}", True), last)
        return ops, _user_passes(rng)
    if isinstance(in_fmt, Int) and rng.random() < 0.1:
        L.standalone(rng, ops, "x_act")
    for i in range(depth):
        L.post_layer(rng, ops, L.dense(rng, max_width, ops[-1].name, L.type_of(ops), f"fc{i}", False),
                     last=i == depth - 1)
    return ops, []


def _user_passes(rng, binary_activations: bool = True) -> list[str]:
    """svd-split and quantise-1bit, each sometimes.  ``binary_activations`` False: never
    binarise activations (quantise-1bit would make codes that a padded convolution or an
    average pooling after them refuses; the graph would be invalid, not the compiler wrong)."""
    user = []
    if rng.random() < 0.35:
        rank = int(rng.integers(1, 9))
        user.append(f"svd-split{{rank={rank},kappa={float(rng.choice([0.8, 100.0]))}}}")
    if rng.random() < 0.25:
        user.append(f"quantise-1bit{{activations={bool(rng.random() < 0.5) and binary_activations},"
                    f"keep_first={bool(rng.random() < 0.5)}}}")
    return user


_NETWORKS = {"cnn": cnn, "residual": residual, "causal": causal}


def case_kind(seed: int, index: int, cfg: FuzzConfig = FuzzConfig()) -> str:
    """The kind (one of :data:`KINDS`, in the proportions ``cfg.mix``) of model ``index`` of a
    run with ``seed``, without generating it: it comes from a random stream of its own, so
    every MLP is the one the fuzzer made with that number before it made other kinds."""
    return KINDS[int(np.random.default_rng([seed, index, 2]).choice(len(KINDS), p=cfg.mix))]


def generate_case(seed: int, index: int, cfg: FuzzConfig = FuzzConfig()) -> FuzzCase:
    """The random model number ``index`` of a run with ``seed`` (deterministic)."""
    kind = case_kind(seed, index, cfg)
    rng = np.random.default_rng([seed, index])
    if kind == "mlp":
        ops, user = _mlp(rng, cfg)
    else:
        pre = rng.random() < 0.4
        ops = _NETWORKS[kind](rng, min(cfg.max_width, 16), pre)
        user = _user_passes(rng, binary_activations=False) if pre and kind == "cnn" else []
    ops.append(Output("y", input=ops[-1].name))
    stall = STALL_RATES[int(rng.integers(len(STALL_RATES)))]
    return FuzzCase(seed, index, Graph(tuple(ops)), ",".join(user), stall, kind=kind)


def _choose_fold(rng, graph: Graph, cfg: FuzzConfig) -> str:
    """Random pe/simd divisors per MatVec within an area budget (Verilator build time grows
    with the number of multipliers and comparators) and, where possible, a cycle budget
    (a convolution runs once per output position; its groups' zeros are multipliers too)."""
    pes, simds = [], []
    types = graph.types()
    for op in graph.ops:
        if not isinstance(op, MatVec):
            continue
        readers = graph.consumers(op.name)
        levels = readers[0].levels if len(readers) == 1 and isinstance(readers[0], MultiThreshold) else 2
        spread = getattr(op, "groups", 1)
        positions = types[op.name].positions
        feasible = [(p, s) for p in divisors(op.rows) for s in divisors(op.cols)
                    if p * s * spread <= cfg.max_pe_simd and (p == 1 or p * levels <= cfg.max_comparators)]
        if not feasible:    # a wide grouped convolution: one row, one window column per group
            feasible = [(1, 1)]
        fast = [(p, s) for p, s in feasible if positions * (op.rows // p) * (op.cols // s) <= cfg.max_cycles]
        if fast:
            p, s = fast[int(rng.integers(len(fast)))]
        else:
            p, s = min(feasible, key=lambda ps: (op.rows // ps[0]) * (op.cols // ps[1]))
        pes.append(p)
        simds.append(s)
    return f"fold{{pe={pes},simd={simds}}}"


def _cycles_per_frame(graph: Graph) -> int:
    """About the cycles a frame takes: the slowest layer, or the beats of the largest tensor."""
    types = graph.types()
    return max([op.cycles * types[op.name].positions for op in graph.ops if isinstance(op, MatVec)]
               + [t.positions for t in types.values()])


def frame_inputs(fmt, n: int, rng, random_frames: int) -> np.ndarray:
    """Random input codes plus the extreme vectors: all-max, all-min, alternating, random signs."""
    lo, hi = fmt.min, fmt.max
    alt = np.arange(n) % 2
    rows = [np.full(n, hi), np.full(n, lo), np.where(alt, lo, hi), np.where(alt, hi, lo),
            np.where(rng.random(n) < 0.5, lo, hi), np.where(rng.random(n) < 0.5, lo, hi)]
    if lo < 0 < hi and not isinstance(fmt, Bipolar):
        rows.append(np.zeros(n, dtype=np.int64))
    x = np.concatenate([L.codes(rng, fmt, (random_frames, n)), np.array(rows, dtype=np.int64)])
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
        # A causal stream is one sample per frame and needs many to leave its start.
        most = cfg.random_frames * (4 if case.kind == "causal" else 1)
        frames = int(np.clip(cfg.max_sim_cycles // (_cycles_per_frame(case.final) + 4) - 7, 2, most))
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


