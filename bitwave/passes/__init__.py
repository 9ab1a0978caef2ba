"""Passes: pure IR → IR rewrites, registered by name for pipelines like ``streamline,fold{target_cycles=64}``."""

from ._manager import PASSES, Pass, PassManager, format_pass, parse_pipeline, register
from .bitwidths import InferBitwidths, accumulator_format
from .fold import Fold, choose_folding
from .streamline import Streamline

__all__ = ["PASSES", "Pass", "PassManager", "format_pass", "parse_pipeline", "register",
           "Streamline", "InferBitwidths", "accumulator_format", "Fold", "choose_folding"]
