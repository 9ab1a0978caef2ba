"""Audio: the clipping-stage circuit to learn from, signals made in code, ESR, the hybrid model
(FIR → diode-clipper WDF at 2× → FIR, with a dry path) and its Conv1d baseline, and their training.

See ``docs/audio.md``.
"""

from ._circuit import ClippingStage, linear_response, simulate_stage
from ._fit import FitResult, FitSettings, fit, run
from ._graph import graph_output_volts, hybrid_graph
from ._hybrid import (BASELINE_CHECKPOINT, CHECKPOINT, ConvBaseline, HybridClipper, half_band,
                      parameter_count, pretrained, pretrained_baseline)
from ._metrics import PRE_EMPHASIS, aligned_esr, esr
from ._signals import (HELD_OUT_SEED, LEVELS, SAMPLE_RATE, SWEEP_LEVELS, TRAIN_SEED, chord, pluck,
                       plucks, sweep, sweeps)
from ._train import (BASELINE_FIT, HYBRID_FIT, TRAIN_SECONDS, train_baseline, train_hybrid,
                     training_pair)

__all__ = [
    "ClippingStage", "simulate_stage", "linear_response",
    "PRE_EMPHASIS", "esr", "aligned_esr",
    "SAMPLE_RATE", "LEVELS", "SWEEP_LEVELS", "TRAIN_SEED", "HELD_OUT_SEED",
    "pluck", "chord", "sweep", "plucks", "sweeps",
    "HybridClipper", "ConvBaseline", "half_band", "parameter_count", "CHECKPOINT", "pretrained",
    "BASELINE_CHECKPOINT", "pretrained_baseline",
    "FitSettings", "FitResult", "fit", "run", "hybrid_graph", "graph_output_volts",
    "TRAIN_SECONDS", "HYBRID_FIT", "BASELINE_FIT", "training_pair", "train_hybrid", "train_baseline",
]
