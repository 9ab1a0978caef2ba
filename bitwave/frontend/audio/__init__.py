"""Audio: the clipping-stage circuit to learn from, signals made in code, ESR, the hybrid model
(FIR → diode-clipper WDF at 2× → FIR, with a dry path) and its Conv1d baseline, and their training.

See ``docs/audio.md``.
"""

from ._circuit import ClippingStage, linear_response, simulate_stage
from ._fit import FitResult, FitSettings, fit, run
from ._graph import graph_output_volts, hybrid_graph
from ._hybrid import CHECKPOINT, ConvBaseline, HybridClipper, half_band, parameter_count, pretrained
from ._metrics import PRE_EMPHASIS, aligned_esr, esr
from ._signals import (HELD_OUT_SEED, LEVELS, SAMPLE_RATE, SWEEP_LEVELS, TRAIN_SEED, chord, pluck,
                       plucks, sweep, sweeps)

__all__ = [
    "ClippingStage", "simulate_stage", "linear_response",
    "PRE_EMPHASIS", "esr", "aligned_esr",
    "SAMPLE_RATE", "LEVELS", "SWEEP_LEVELS", "TRAIN_SEED", "HELD_OUT_SEED",
    "pluck", "chord", "sweep", "plucks", "sweeps",
    "HybridClipper", "ConvBaseline", "half_band", "parameter_count", "CHECKPOINT", "pretrained",
    "FitSettings", "FitResult", "fit", "run", "hybrid_graph", "graph_output_volts",
]
