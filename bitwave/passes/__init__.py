"""Passes: pure IR → IR rewrites, registered by name for pipelines like ``streamline,fold{target_cycles=64}``."""

from ._manager import PASSES, Pass, PassManager, format_pass, note, parse_pipeline
from ._default import DEFAULT_PIPELINE, default_passes
from .bitwidths import InferBitwidths
from .fold import Fold, choose_folding
from .quantise_1bit import Quantise1Bit
from .quantise_wdf import QuantiseWdf
from .stream import ToStream, signal_rows
from .streamline import Streamline
from .svd_split import SvdSplit, choose_rank

__all__ = ["DEFAULT_PIPELINE", "default_passes", "PASSES", "Pass", "PassManager", "format_pass", "note", "parse_pipeline",
           "Streamline", "Quantise1Bit", "SvdSplit", "choose_rank", "InferBitwidths", "Fold", "choose_folding",
           "QuantiseWdf", "ToStream", "signal_rows"]
