"""How the audio models are trained, in one place for the bench and ``bitwave demo audio``.

The training set is :data:`TRAIN_SECONDS` of plucks drawn from ``TRAIN_SEED``
through the simulated circuit at 8×.  The hybrid is trained with L-BFGS
(:data:`HYBRID_FIT`), the Conv1d baseline with Adam (:data:`BASELINE_FIT`),
each from ``torch.manual_seed(0)``, so a run reproduces the shipped
checkpoints on the same machine.
"""

from __future__ import annotations

import numpy as np
import torch

from ._circuit import simulate_stage
from ._fit import FitResult, FitSettings, fit
from ._hybrid import ConvBaseline, HybridClipper
from ._signals import TRAIN_SEED, plucks

__all__ = ["TRAIN_SECONDS", "HYBRID_FIT", "BASELINE_FIT", "training_pair", "train_hybrid",
           "train_baseline"]

#: Seconds of training plucks.
TRAIN_SECONDS = 20.0
#: The hybrid's training: three batches of 32 segments, 50 L-BFGS iterations each.
HYBRID_FIT = FitSettings(rounds=3, iterations=50)
#: The baseline's training: 600 Adam steps on a fresh batch each, learning rate 0.005.
BASELINE_FIT = FitSettings(optimiser="adam", rounds=1, iterations=600, lr=0.005)


def training_pair(seconds: float = TRAIN_SECONDS) -> tuple[np.ndarray, np.ndarray]:
    """The training plucks (``TRAIN_SEED``) and the circuit's output for them, float64 (T,)."""
    x = plucks(seconds, TRAIN_SEED)
    return x, simulate_stage(x)


def train_hybrid(x: np.ndarray, y: np.ndarray, settings: FitSettings = HYBRID_FIT
                 ) -> tuple[HybridClipper, FitResult]:
    """A :class:`HybridClipper` (default sizes, seeded) trained to map ``x`` to ``y``."""
    torch.manual_seed(0)
    model = HybridClipper()
    return model, fit(model, x, y, settings)


def train_baseline(x: np.ndarray, y: np.ndarray, settings: FitSettings = BASELINE_FIT, *,
                   latency: int) -> tuple[ConvBaseline, FitResult]:
    """A :class:`ConvBaseline` (default sizes, seeded, ``latency`` samples of look-ahead)
    trained to map ``x`` to ``y``."""
    torch.manual_seed(0)
    model = ConvBaseline(latency=latency)
    return model, fit(model, x, y, settings)
