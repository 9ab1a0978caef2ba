"""Import a model made of the trainable WDF layers (:mod:`bitwave.frontend.wdf_torch`).

Such a model is not a Brevitas network: it has no quantisers to export, and
its state runs from one sample to the next.  It is read directly: the
layer's trained component values become a float-form IR ``Wdf`` op (the
``quantise-wdf`` pass then chooses its fixed-point formats), the audio input
an ``Input`` of fixed-point codes.

A frame of the IR is one sample of every channel, so the dataset is the audio
itself, ``(samples, channels)``, in time order.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import FrontendError
from ..ir import Graph, Input, Int, Output, Wdf, verify
from ..ir.wdf import DEFAULT_WORD_LENGTH, Probe
from ._bundle import source_location
from .wdf_torch import DiodeClipper, RCLowpass

__all__ = ["is_wdf_model", "import_wdf"]

_WDF_LAYERS = (DiodeClipper, RCLowpass)
_PASSIVE = (nn.Identity, nn.Dropout)


def _layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The model's leaf modules in order, with their paths (containers opened)."""
    if isinstance(model, _WDF_LAYERS) or not isinstance(model, nn.Sequential):
        return [("", model)]
    out = []
    for name, child in model.named_children():
        out += [(f"{name}.{p}" if p else name, m) for p, m in _layers(child)]
    return out


def is_wdf_model(model: nn.Module) -> bool:
    """Does ``model`` hold a trainable WDF layer (so it goes through :func:`import_wdf`)?"""
    return any(isinstance(m, _WDF_LAYERS) for m in model.modules())


def _the_layer(model: nn.Module) -> tuple[str, DiodeClipper]:
    layers = [(p, m) for p, m in _layers(model) if not isinstance(m, _PASSIVE)]
    wdfs = [(p, m) for p, m in layers if isinstance(m, _WDF_LAYERS)]
    others = [f"{p or '<root>'} ({type(m).__name__})" for p, m in layers
              if not isinstance(m, _WDF_LAYERS)]
    if others or len(wdfs) != 1:
        raise FrontendError(
            "frontend: a WDF model must be one DiodeClipper, alone or in an nn.Sequential "
            "(with nn.Identity/nn.Dropout around it); "
            + (f"it also holds {', '.join(others)}" if others
               else f"it holds {len(wdfs)} WDF layers") + "; compile other layers separately")
    path, layer = wdfs[0]
    if isinstance(layer, RCLowpass):
        raise FrontendError(f"frontend: module {path or '<root>'} (RCLowpass): the hardware WDF "
                            f"core needs a diode-pair root; an RC lowpass has no fixed-point "
                            f"form yet. Use DiodeClipper, or compile the lowpass as a linear layer")
    return path, layer


def import_wdf(model: nn.Module, inputs, *, word_length: int = DEFAULT_WORD_LENGTH,
               int_bits: int = 4) -> Graph:
    """IR graph of a WDF model: ``Input`` (audio codes) → float ``Wdf`` → ``Output``.

    The input is quantised to ``word_length``-bit codes with ``int_bits``
    integer bits (sign included; 20 and 4 give Q3.16, ±8 V). ``inputs`` is
    ``(samples, channels)`` audio; it is checked, not stored.
    """
    path, layer = _the_layer(model)
    loc = source_location(layer)
    where = (path or "<root>") + (f" at {loc}" if loc else "")
    for what, v in (("word_length", word_length), ("int_bits", int_bits)):
        if isinstance(v, bool) or not isinstance(v, int):
            raise FrontendError(f"frontend: {what} must be an integer, not {v!r}")
    if not 2 <= int_bits < word_length <= 40:
        raise FrontendError(f"frontend: need 2 <= int_bits < word_length <= 40, not "
                            f"int_bits={int_bits}, word_length={word_length}")
    x = torch.as_tensor(inputs)
    if x.dim() != 2 or x.shape[1] != layer.channels:
        raise FrontendError(f"frontend: module {where} (DiodeClipper) has {layer.channels} "
                            f"channel(s); the inputs must be audio shaped (samples, "
                            f"{layer.channels}), not {tuple(x.shape)}")
    with torch.no_grad():
        values = {k: getattr(layer, k).detach().double().numpy() for k in ("R", "C", "Is", "Vt")}
    for k, v in values.items():
        if not all(math.isfinite(float(e)) and e > 0 for e in v):
            raise FrontendError(f"frontend: module {where} (DiodeClipper): {k} = {v.tolist()} "
                                f"is not positive and finite; retrain the layer")
    name = "wdf" + ("_" + path.replace(".", "_") if path else "")
    frac = word_length - int_bits
    ops = (Input("x", n=layer.channels, fmt=Int(word_length, True), scale=2.0 ** -frac,
                 src="input"),
           Wdf(name, input="x", R=values["R"], X=values["C"], Is=values["Is"], Vt=values["Vt"],
               fs=layer.fs, probe=Probe.REACTIVE,
               src=f"{path or '<root>'} (DiodeClipper)" + (f", {loc}" if loc else "")),
           Output("y", input=name))
    graph = Graph(ops)
    verify(graph)
    return graph

