"""Frontend: Brevitas models and QONNX files into IR graphs, plus QAT helpers."""

from ._brevitas import SUPPORTED_MODULES, import_model
from ._bundle import ModelBundle, load_checkpoint, load_model_spec, record_sources, source_location
from ._load import LoadedModel, load_model
from ._qonnx import MAX_BIAS_BITS, MAX_BITS, import_qonnx
from ._train import accuracy, train_classifier
from ._wdf_import import import_wdf, is_wdf_model
from .wdf_torch import DiodeClipper, RCLowpass
from .binary import ACTIVATIONS, binarize

__all__ = [
    "import_model", "import_qonnx", "ModelBundle", "load_checkpoint", "load_model_spec", "record_sources",
    "source_location", "train_classifier", "accuracy",
    "SUPPORTED_MODULES", "MAX_BITS", "MAX_BIAS_BITS", "binarize", "ACTIVATIONS",
    "DiodeClipper", "RCLowpass", "import_wdf", "is_wdf_model", "LoadedModel", "load_model",
]
