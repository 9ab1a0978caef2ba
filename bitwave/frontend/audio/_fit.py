"""Training an audio model from input/output audio only, and running it on a whole signal.

Training cuts the pair of signals into random segments (truncated
backpropagation through time: every segment starts from rest, and its first
``warmup`` samples only settle the filters' and the WDF's state, they are not
scored), and minimises the sum of the plain and the pre-emphasised ESR of a
batch.  The model's output ``n + latency`` is scored against target ``n``.

Two optimisers: L-BFGS on a few fixed batches (the default: the hybrid's 133
parameters have very different scales — FIR taps that must grow from 1 to
tens, log-scale element values — and Adam from a unit-impulse start was far
from converged after the same CPU time), and Adam on a fresh batch per step
(the usual choice for convolution nets; the bench trains the baseline both
ways).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ...errors import FrontendError
from ._metrics import PRE_EMPHASIS

__all__ = ["FitSettings", "FitResult", "fit", "run"]


_OPTIMISERS = ("lbfgs", "adam")


@dataclass(frozen=True)
class FitSettings:
    """How to train.

    ``optimiser="lbfgs"``: ``rounds`` rounds, each drawing a fresh batch of
    ``batch`` segments and running ``iterations`` L-BFGS iterations on it
    (strong-Wolfe line search; ``lr`` 1).  ``optimiser="adam"``:
    ``rounds·iterations`` Adam steps, each on a fresh batch, cosine decay from
    ``lr``.  A segment is ``warmup`` unscored samples then ``segment`` scored ones.
    """

    optimiser: str = "lbfgs"
    rounds: int = 3
    iterations: int = 50
    batch: int = 32
    segment: int = 2048
    warmup: int = 128
    lr: float = 1.0
    seed: int = 0

    def __post_init__(self):
        if self.optimiser not in _OPTIMISERS:
            raise FrontendError(f"FitSettings: optimiser must be one of {', '.join(_OPTIMISERS)}, "
                                f"not {self.optimiser!r}")
        for name in ("rounds", "iterations", "batch", "segment"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise FrontendError(f"FitSettings: {name} must be a positive integer, not {v!r}")
        if isinstance(self.warmup, bool) or not isinstance(self.warmup, int) or self.warmup < 0:
            raise FrontendError(f"FitSettings: warmup must be a non-negative integer, "
                                f"not {self.warmup!r}")
        if not self.lr > 0:
            raise FrontendError(f"FitSettings: lr must be positive, not {self.lr!r}")


@dataclass(frozen=True)
class FitResult:
    """The batch loss at the start of every round (L-BFGS) or step (Adam), and the CPU seconds."""

    losses: tuple[float, ...]
    cpu_seconds: float


def _esr_loss(target: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    def ratio(t, o):
        return torch.sum((t - o) ** 2) / torch.sum(t ** 2).clamp_min(1e-12)

    def emphasise(v):
        return v[..., 1:] - PRE_EMPHASIS * v[..., :-1]

    return ratio(target, out) + ratio(emphasise(target), emphasise(out))


class _Batches:
    """Random aligned (input, target) segments of two signals, for a model of ``latency``."""

    def __init__(self, x, y, settings: FitSettings, latency: int):
        self.x, self.y, self.s, self.latency = x, y, settings, latency
        self.span = settings.warmup + settings.segment + latency
        if x.shape != y.shape or x.ndim != 1 or x.size <= self.span:
            raise FrontendError(f"fit: input and target must be 1-D signals of the same length, "
                                f"longer than one segment ({self.span} samples); got {x.shape} "
                                f"and {y.shape}")
        self.rng = np.random.default_rng(settings.seed)

    def draw(self) -> tuple[torch.Tensor, torch.Tensor]:
        w, n = self.s.warmup, self.s.segment
        starts = self.rng.integers(0, self.x.size - self.span, size=self.s.batch)
        xb = np.stack([self.x[a:a + self.span] for a in starts])[:, None]
        yb = np.stack([self.y[a + w:a + w + n] for a in starts])[:, None]
        return torch.from_numpy(xb), torch.from_numpy(yb)

    def loss(self, model: nn.Module, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        return _esr_loss(yb, model(xb)[..., self.s.warmup + self.latency:])


def fit(model: nn.Module, x: np.ndarray, y: np.ndarray, settings: FitSettings = FitSettings()
        ) -> FitResult:
    """Train ``model`` (input ``(batch, 1, time)``, attribute ``latency``) to map ``x`` to ``y``."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    batches = _Batches(x, y, settings, int(getattr(model, "latency", 0)))
    previous = torch.get_num_threads()
    torch.set_num_threads(1)      # the fastest for models this small, and the cores are shared
    start = time.process_time()
    losses = []
    try:
        torch.manual_seed(settings.seed)
        model.train()
        lbfgs = settings.optimiser == "lbfgs"
        passes = settings.rounds if lbfgs else settings.rounds * settings.iterations
        if not lbfgs:
            opt = torch.optim.Adam(model.parameters(), lr=settings.lr)
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, passes)
        for _ in range(passes):
            xb, yb = batches.draw()
            if lbfgs:     # a fresh curvature history for each new batch
                opt = torch.optim.LBFGS(model.parameters(), lr=settings.lr,
                                        max_iter=settings.iterations, history_size=20,
                                        line_search_fn="strong_wolfe", tolerance_grad=1e-12,
                                        tolerance_change=1e-14)

            def closure():
                opt.zero_grad()
                loss = batches.loss(model, xb, yb)
                loss.backward()
                return loss

            losses.append(float(opt.step(closure).detach()))
            if not lbfgs:
                sched.step()
    finally:
        torch.set_num_threads(previous)
        model.eval()
    return FitResult(tuple(losses), time.process_time() - start)


def run(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """``model``'s output on one whole signal ``x`` (T,), from rest, as float64 (T,)."""
    with torch.no_grad():
        out = model(torch.as_tensor(np.asarray(x, dtype=np.float64))[None, None])
    return out[0, 0].numpy()
