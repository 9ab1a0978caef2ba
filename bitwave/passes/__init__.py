"""Passes: pure IR → IR rewrites, registered by name for pipelines like ``streamline,fold{target_cycles=64}``."""

from ._manager import PASSES, Pass, PassManager, format_pass, note, parse_pipeline, register
from .bitwidths import InferBitwidths, accumulator_format
from .fold import Fold, choose_folding
from .lower_wdf import lower_wdf, wdf_core_params
from .quantise_1bit import Quantise1Bit
from .quantise_wdf import QuantiseWdf
from .streamline import Streamline
from .svd_split import SvdSplit, choose_rank

__all__ = ["PASSES", "Pass", "PassManager", "format_pass", "note", "parse_pipeline", "register",
           "Streamline", "Quantise1Bit", "SvdSplit", "choose_rank", "InferBitwidths", "accumulator_format", "Fold", "choose_folding",
           "QuantiseWdf", "lower_wdf", "wdf_core_params"]
