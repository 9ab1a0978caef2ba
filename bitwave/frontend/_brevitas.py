"""Import a Brevitas model: check it, export it to QONNX, read the QONNX.

Why through QONNX: ``torch.fx`` (and ``brevitas.fx``) tracing fails on
Brevitas 0.13 models, while ``brevitas.export.export_qonnx`` works offline and
gives the quantisers as explicit ``Quant`` nodes with their scales, zero-points
and bit widths.  QONNX is also what FINN, hls4ml and chisel4ml users already
have, so one reader (:func:`bitwave.frontend.import_qonnx`) serves both.

The export goes through ``torch.export`` (Brevitas' default on torch >= 2.9),
which refuses data-dependent control flow (``if x.sum() > 0:``) instead of
silently baking in one branch as the old TorchScript tracer did; that refusal
becomes a "model is not traceable" error here.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import os
import re
import tempfile

import numpy as np
import onnx
import torch
from torch import nn

from ..errors import FrontendError
from ..ir import Graph
from ._bundle import source_location
from ._qonnx import _INTERNAL_ATTRS, MAX_BIAS_BITS, MAX_BITS, import_qonnx, locate

__all__ = ["import_model", "SUPPORTED_MODULES"]


def _brevitas_layers():
    import brevitas.nn as qnn
    eltwise = (qnn.QuantEltwiseAdd,) if hasattr(qnn, "QuantEltwiseAdd") else ()
    return (qnn.QuantLinear, qnn.QuantConv1d, qnn.QuantConv2d, qnn.QuantReLU, qnn.QuantIdentity,
            qnn.QuantHardTanh, qnn.QuantSigmoid, qnn.QuantTanh, *eltwise)


#: Float modules that pass through as layout or fold into thresholds (batch-norm).
_PLAIN = (nn.BatchNorm1d, nn.BatchNorm2d, nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d,
          nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d,
          nn.Flatten, nn.Unflatten, nn.Dropout, nn.Identity)

SUPPORTED_MODULES = ("QuantLinear, QuantConv1d/2d, QuantReLU (max_val for ReLU6), QuantIdentity, "
                     "QuantHardTanh, QuantSigmoid, QuantTanh, QuantEltwiseAdd, BatchNorm1d/2d, MaxPool1d/2d, "
                     "AvgPool1d/2d, AdaptiveAvgPool1d/2d and AdaptiveMaxPool1d/2d (to size 1 or whole "
                     "windows), Flatten, Unflatten (before the input quantiser), Dropout, Identity, Sequential, "
                     "ModuleList, ModuleDict (and your own nn.Module classes combining them, residual adds "
                     "x + f(x) of two tensors of one scale included)")

#: Library modules with a more specific answer than "not supported".
_HINTS = {"TruncAvgPool2d": "its truncation is not supported; use nn.AvgPool2d (or MaxPool2d) followed by a "
                            "QuantIdentity, which requantises the average exactly",
          "QuantCat": "concatenation is not supported; bitwave joins two branches only by adding them "
                      "(QuantEltwiseAdd, or x + f(x) with one shared quantiser on both operands)"}

#: Float activation modules: (is it monotone, the quantised layer that replaces it).
_FLOAT_ACTIVATIONS = {
    "ReLU": (True, "QuantReLU"), "ReLU6": (True, "QuantReLU(max_val=6.0)"),
    "Hardtanh": (True, "QuantHardTanh"), "Sigmoid": (True, "QuantSigmoid"), "Tanh": (True, "QuantTanh"),
    "GELU": (False, None), "SiLU": (False, None), "Hardswish": (False, None), "Mish": (False, None),
}


def _float_activation(mod: nn.Module, where: str) -> FrontendError | None:
    """A one-line error for a float activation module, saying what to use instead."""
    name = type(mod).__name__
    if type(mod).__module__.split(".")[0] != "torch" or name not in _FLOAT_ACTIVATIONS:
        return None
    monotone, layer = _FLOAT_ACTIVATIONS[name]
    if monotone:
        return FrontendError(f"frontend: module {where} ({_class_name(mod)}) is a float activation; bitwave "
                             f"compiles quantised activations into thresholds: use {layer}")
    return FrontendError(f"frontend: module {where} ({_class_name(mod)}) is not monotone, so no thresholds "
                         "can represent it; bitwave compiles monotone quantised activations: use QuantReLU "
                         "(max_val for ReLU6), QuantSigmoid, QuantTanh or QuantHardTanh instead")

_PROXIES = (("weight_quant", "weight", MAX_BITS), ("input_quant", "input", MAX_BITS),
            ("output_quant", "output", MAX_BITS), ("act_quant", "activation", MAX_BITS),
            ("bias_quant", "bias", MAX_BIAS_BITS))


def _class_name(mod: nn.Module) -> str:
    """``torch.nn.LSTM`` rather than ``torch.nn.modules.rnn.LSTM``."""
    cls = type(mod)
    m = cls.__module__
    for pkg in ("torch.nn", "brevitas.nn"):
        if m.startswith(pkg + "."):
            return f"{pkg}.{cls.__qualname__}"
    return f"{m}.{cls.__qualname__}"


def _is_library_class(mod: nn.Module) -> bool:
    return type(mod).__module__.split(".")[0] in ("torch", "brevitas")


def _locations(model: nn.Module) -> dict[str, str]:
    """Module path ('' for the root) -> ``file.py:line`` where it was built, for the modules that know it."""
    found = {}
    for path, mod in model.named_modules():
        where = source_location(mod)
        if where is not None:
            found[path] = where
    return found


def _named(path: str, locations: dict[str, str]) -> str:
    """``fc2`` or ``fc2 at model.py:12`` (``<root>`` for the model itself)."""
    where = locate(locations, path) if path else locations.get("")
    return (path or "<root>") + (f" at {where}" if where else "")


def _check_modules(model: nn.Module, locations: dict[str, str]):
    """Reject unsupported layers, bad bit widths and batch-norms without statistics, up front."""
    layers = _brevitas_layers()
    leaves = layers + _PLAIN
    containers = (nn.Sequential, nn.ModuleList, nn.ModuleDict)

    def visit(mod: nn.Module, path: str):
        where = _named(path, locations)
        if type(mod).__name__ in _HINTS:   # before the leaves: TruncAvgPool2d is an AvgPool2d
            raise FrontendError(f"frontend: module {where} ({_class_name(mod)}): {_HINTS[type(mod).__name__]}")
        if isinstance(mod, layers):
            _check_bits(mod, where)
        elif isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
            if mod.running_mean is None or mod.running_var is None:
                raise FrontendError(f"frontend: module {where} ({type(mod).__name__}) has no running statistics "
                                    "(track_running_stats=False); bitwave needs them to fold the batch-norm")
        elif isinstance(mod, leaves):
            pass
        elif isinstance(mod, containers) or not _is_library_class(mod):
            for name, child in mod.named_children():
                visit(child, f"{path}.{name}" if path else name)
        else:
            raise _float_activation(mod, where) or FrontendError(
                f"frontend: module {where} ({_class_name(mod)}) is not supported; "
                f"supported: {SUPPORTED_MODULES}")

    visit(model, "")


def _check_bits(mod: nn.Module, where: str):
    for attr, role, limit in _PROXIES:
        proxy = getattr(mod, attr, None)
        if proxy is None or not getattr(proxy, "is_quant_enabled", False):
            continue
        if getattr(proxy, "requires_input_scale", False):
            continue  # known only during a forward pass; the QONNX reader checks it
        bits = float(proxy.bit_width())
        if not (bits == round(bits) and 1 <= bits <= limit):
            raise FrontendError(f"frontend: module {where} ({type(mod).__name__}): {role} bit width "
                                f"{bits:g} is not supported; use 1 to {limit} bits")


def _check_finite(model: nn.Module, locations: dict[str, str]):
    for kind, items in (("parameter", model.named_parameters()), ("buffer", model.named_buffers())):
        for name, t in items:
            if t.is_floating_point() and not torch.isfinite(t).all():
                # Name the user's layer, not the Brevitas quantiser inside it.
                parts = name.split(".")
                cut = next((i for i, p in enumerate(parts[:-1]) if p in _INTERNAL_ATTRS), len(parts) - 1)
                path, leaf = ".".join(parts[:cut]), ".".join(parts[cut:])
                bad = int((~torch.isfinite(t)).sum())
                raise FrontendError(f"frontend: module {_named(path, locations)}: {kind} {leaf} contains NaN or "
                                    f"Inf ({bad} of {t.numel()} values); fix or retrain the weights")


def _as_tensor(example_input) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(example_input) if not isinstance(example_input, torch.Tensor)
                        else example_input).detach().to(torch.float32)
    if x.ndim < 2 or x.shape[0] < 1:
        raise FrontendError(f"frontend: the example input must be a batch (N, features...), "
                            f"not shape {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise FrontendError("frontend: the example input contains NaN or Inf")
    return x


def _expects(mod: nn.Module, value: torch.Tensor) -> tuple[str, str, str] | None:
    """For a layer whose input ``value`` has the wrong shape: what it has (``in_features=64``),
    the input it expects (``(N, 64)``) and what it receives (``32 features``)."""
    from brevitas.nn import QuantConv1d
    if not hasattr(mod, "in_channels"):
        if value.shape[-1] == mod.in_features:
            return None
        return f"in_features={mod.in_features}", f"(N, {mod.in_features})", f"{value.shape[-1]} features"
    spatial = "L" if isinstance(mod, QuantConv1d) else "H, W"
    dims = 3 if isinstance(mod, QuantConv1d) else 4
    if value.ndim == dims and value.shape[1] == mod.in_channels:
        return None
    return (f"in_channels={mod.in_channels}", f"(N, {mod.in_channels}, {spatial})",
            f"shape {tuple(value.shape)}")


def _check_shapes(model: nn.Module, x: torch.Tensor, locations: dict[str, str]):
    """Run the model once; name the first linear or convolutional layer whose input shape is wrong."""
    from brevitas.nn import QuantConv1d, QuantConv2d, QuantLinear
    seen: list[str] = []

    def hook_for(path: str, mod: nn.Module):
        layer = f"{_named(path, locations)} ({type(mod).__name__})"

        def hook(_mod, args):
            wrong = _expects(mod, getattr(args[0], "value", args[0]))
            if wrong is not None:
                has, expect, got = wrong
                if not seen:
                    raise FrontendError(f"frontend: the example input has shape {tuple(x.shape)} but the model "
                                        f"expects {expect}: its first layer {layer} has {has}")
                raise FrontendError(f"frontend: layer {layer} has {has} but receives {got} from {seen[-1]}")
            seen.append(path)
        return hook

    handles = [m.register_forward_pre_hook(hook_for(p, m)) for p, m in model.named_modules()
               if isinstance(m, (QuantLinear, QuantConv1d, QuantConv2d))]
    training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(x)
    except FrontendError:
        raise
    except Exception as e:
        raise FrontendError(f"frontend: the model fails on the example input of shape "
                            f"{tuple(x.shape)}: {type(e).__name__}: {_first_line(e)}") from e
    finally:
        model.train(training)
        for h in handles:
            h.remove()


def _first_line(e: BaseException) -> str:
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    return lines[0] if lines else type(e).__name__


_CALL_SITE = re.compile(r'File "([^"]+)", line (\d+), in \w+\n\s*(.+)')


def _untraceable(e: BaseException) -> FrontendError | None:
    """A FrontendError if ``e`` is torch.export refusing data-dependent control flow."""
    text = str(e)
    chain = e
    while chain is not None and "data-dependent" not in text:
        chain = chain.__cause__ or chain.__context__
        text += "\n" + str(chain) if chain is not None else ""
    if "data-dependent" not in text and "GuardOnDataDependent" not in text:
        return None
    site = ""
    marker = text.find("The following call raised this error")
    m = _CALL_SITE.search(text, marker if marker >= 0 else 0)
    if m:
        site = f" at {os.path.basename(m.group(1))}:{m.group(2)} (`{m.group(3).strip()}`)"
    return FrontendError(f"frontend: model is not traceable: its forward() takes a Python decision "
                         f"from tensor values{site}; bitwave needs the same sequence of layers for every "
                         "input (remove the data-dependent control flow, or use torch.where)")


_NOISY_LOGGERS = (
    "torch.onnx._internal.exporter._registration",  # one line per missing torchvision op
    "torch.fx.experimental.symbolic_shapes",         # the data-dependent guard, which we report
)


@contextlib.contextmanager
def _quiet_export():
    """Keep the exporter's diagnostics off the terminal: failures become a FrontendError instead.

    torch.export prints the partial graph of a failed export straight to stderr.
    """
    loggers = [logging.getLogger(name) for name in _NOISY_LOGGERS]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def import_model(model: nn.Module, example_input, *, qonnx_path: str | os.PathLike | None = None) -> Graph:
    """Import a Brevitas model into an IR graph.

    ``example_input`` is a batch ``(N, ...)`` (tensor or array) of real
    inputs; it fixes the input shape.  The model is checked first (supported
    layers, bit widths, finite weights, shapes), then exported to QONNX in a
    temporary file (also written to ``qonnx_path`` if given) and read by
    :func:`import_qonnx`.  The model itself is not modified.  Modules built
    inside :func:`~bitwave.frontend.record_sources` (as :func:`load_model_spec`
    does) are named with their ``file.py:line`` in errors and in each op's ``src``.
    """
    from brevitas.export import export_qonnx

    if not isinstance(model, nn.Module):
        raise FrontendError(f"frontend: expected a torch.nn.Module, not {type(model).__name__}")
    locations = _locations(model)
    _check_modules(model, locations)
    _check_finite(model, locations)
    x = _as_tensor(example_input)
    _check_shapes(model, x, locations)
    with tempfile.TemporaryDirectory(prefix="bitwave-") as tmp:
        path = os.path.join(tmp, "model.onnx")
        try:
            with torch.no_grad(), _quiet_export():
                export_qonnx(model, input_t=x, export_path=path, dynamo=True, optimize=True, verbose=False)
        except Exception as e:
            err = _untraceable(e)
            if err is not None:
                raise err from e
            raise FrontendError(f"frontend: Brevitas' QONNX export failed: {type(e).__name__}: "
                                f"{_first_line(e)}") from e
        proto = onnx.load(path)
        if qonnx_path is not None:
            onnx.save(proto, os.fspath(qonnx_path))
    graph = import_qonnx(proto, label="frontend", locations=locations)
    n = math.prod(x.shape[1:])
    if graph.input.n != n:
        raise FrontendError(f"frontend: the imported graph reads {graph.input.n} features, "
                            f"the example input has {n}")
    return graph
