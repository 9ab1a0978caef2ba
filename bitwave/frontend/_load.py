"""The MODEL argument of the command line: a QONNX file or ``file.py:function``, to a graph."""

from __future__ import annotations

import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..dataset import Dataset
from ..errors import BitwaveError, FrontendError
from ..ir import Graph
from ._brevitas import import_model
from ._bundle import ModelBundle, load_model_spec
from ._qonnx import import_qonnx
from ._wdf_import import import_wdf, is_wdf_model

__all__ = ["LoadedModel", "load_model"]


@dataclass
class LoadedModel:
    """An imported model: its graph, the samples to verify it with, and what it came from."""
    graph: Graph
    dataset: Dataset | None
    name: str
    seconds: float
    qonnx: bytes | None = None   # the QONNX export of a Python model, kept in the build folder


def load_model(model: str, data: str | None = None, *,
               log: Callable[[str], None] = lambda s: None) -> LoadedModel:
    """Import ``model`` (a QONNX ``.onnx`` file or ``file.py:function``).

    A Python model is exported to QONNX on the way in; those bytes come back as
    ``qonnx`` so the same model can be compiled from the file.  ``data`` (an
    ``.npz`` with ``inputs`` and optionally ``labels``) replaces the model's own samples; inputs
    are ``(N, …)`` in the model's layout (``(N, C, H, W)`` for an image model) or flat ``(N, n)``.
    """
    t0 = time.monotonic()
    qonnx = None
    ds = None
    if model.endswith(".onnx"):
        graph = import_qonnx(model)
        name = Path(model).stem
    else:
        bundle = load_model_spec(model)
        wdf = is_wdf_model(bundle.model)
        if wdf:
            log(f"importing {bundle.name}: a wave-digital-filter model, read directly")
            graph = import_wdf(bundle.model, bundle.inputs)
        else:
            log(f"importing {bundle.name} through Brevitas' QONNX export")
            with tempfile.TemporaryDirectory(prefix="bitwave-qonnx-") as tmp:
                graph = import_model(bundle.model, bundle.inputs[:1], qonnx_path=Path(tmp) / "model.onnx")
                qonnx = (Path(tmp) / "model.onnx").read_bytes()
        # A WDF layer runs on (batch, channels, time) audio, not on frames: no per-frame outputs.
        model_outputs = None if wdf else _outputs(bundle.model, bundle)
        ds = Dataset(bundle.inputs, bundle.labels, bundle.test_mask, _outputs(bundle.float_model, bundle),
                     model_outputs)
        name = bundle.name
    if data is not None:
        try:
            loaded = Dataset.load(data)
        except BitwaveError as e:   # "PATH: cannot read …", said of the option
            raise FrontendError(f"--data {e}") from None
        ds = Dataset(loaded.inputs, loaded.labels)
    if ds is not None:
        _check_inputs(ds.inputs, graph)
    return LoadedModel(graph, ds, name, time.monotonic() - t0, qonnx)


def _check_inputs(x: np.ndarray, graph: Graph):
    """Samples in the model's layout: ``(N, *Input.shape)``, or flat ``(N, n)`` in its C order; a
    model that flattens its input before quantising it (a flat ``Input``) reads any shape of n."""
    inp = graph.input
    shapes = [(inp.n,)] + ([tuple(inp.shape)] if len(inp.shape) > 1 else [])
    flat_ok = len(shapes) == 1 and x.ndim >= 2 and math.prod(x.shape[1:]) == inp.n
    if x.ndim < 2 or (tuple(x.shape[1:]) not in shapes and not flat_ok):
        expect = " or ".join(f"(N, {', '.join(map(str, s))})" for s in reversed(shapes))
        raise FrontendError(f"data: inputs have shape {x.shape}, the model expects {expect}")


def _outputs(model, bundle: ModelBundle) -> np.ndarray | None:
    """``model``'s outputs on the bundle's inputs (a Brevitas QuantTensor's real value)."""
    if model is None:
        return None
    with torch.no_grad():
        out = model(torch.as_tensor(bundle.inputs, dtype=torch.float32))
    out = np.asarray(getattr(out, "value", out).detach().numpy())
    # An image or signal output in the graph's order (channels last, flattened), as the reference gives it.
    return np.moveaxis(out, 1, -1).reshape(len(out), -1) if out.ndim > 2 else out
