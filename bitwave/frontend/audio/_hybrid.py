"""The hybrid audio model and its pure-convolution baseline, in float (PyTorch).

The hybrid follows the circuit's shape, so each part has a meaning and maps to
hardware directly (FIR taps, WDF element values, one gain)::

    x ─► pre FIR ─► ↑2 (half-band) ─► diode clipper WDF at 2·fs ─► ↓2 (half-band) ─► + ─► post FIR ─► y
    └──────────────────── dry gain, delayed by the half-bands' latency ──────────────┘

* pre-filter: a causal FIR at ``fs`` (in the circuit: the ground leg's
  high-pass current times the feedback resistance);
* the clipping stage: :class:`~bitwave.frontend.wdf_torch.DiodeClipper`
  (source resistance ``R`` into ``C`` in parallel with a diode pair; ``R``,
  ``C``, ``Is`` and ``Vt`` trainable) at twice the sample rate, between two
  fixed linear-phase half-band filters;
* a dry path (the op-amp's ``Vout = Vin + Vf``): the input times a trainable
  gain, delayed by the half-bands' group delay so both paths line up;
* post-filter: a causal FIR at ``fs`` (in the circuit: the tone shelf).

The half-bands' group delay is the model's latency, a whole number of samples
(:attr:`HybridClipper.latency`): output ``n + latency`` models target ``n``.

:class:`ConvBaseline` is the comparison: a float causal dilated ``Conv1d``
stack with tanh activations, given the same latency (it may look
``latency`` samples ahead too).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy.signal import firwin
from torch import nn

from ...errors import FrontendError
from ..wdf_torch import DiodeClipper
from ._signals import SAMPLE_RATE

__all__ = ["HybridClipper", "ConvBaseline", "half_band", "parameter_count", "CHECKPOINT",
           "BASELINE_CHECKPOINT", "pretrained", "pretrained_baseline"]

#: The hybrid trained by ``bench/audio_bench.py --save-checkpoint`` (a state dict, a few KB).
CHECKPOINT = Path(__file__).with_name("hybrid.pt")
#: The Conv1d baseline (Adam) trained by the same run.
BASELINE_CHECKPOINT = Path(__file__).with_name("baseline.pt")

#: Kaiser β of the half-band filters (passband droop is the post-filter's to correct).
_KAISER_BETA = 5.0


def half_band(taps: int) -> np.ndarray:
    """A linear-phase half-band low-pass of ``taps`` taps (``taps = 4k + 3``: every other tap
    but the centre is zero), unity gain at DC."""
    if isinstance(taps, bool) or not isinstance(taps, int) or taps < 3 or taps % 4 != 3:
        raise FrontendError(f"half_band: taps must be 4k + 3 (3, 7, 11, 15, ...) so the two "
                            f"filters' delay is a whole number of samples, not {taps!r}")
    h = firwin(taps, 0.5, window=("kaiser", _KAISER_BETA))
    h[1::2][np.arange(taps // 2) != taps // 4] = 0.0    # exact zeros, not ~1e-18
    return h / h.sum()


def _causal_fir(x: torch.Tensor, taps: torch.Tensor, stride: int = 1) -> torch.Tensor:
    """``y[n] = Σ_k taps[k]·x[n − k]`` over ``(batch, 1, time)`` (zeros before the start)."""
    return F.conv1d(F.pad(x, (taps.numel() - 1, 0)), taps.flip(0).view(1, 1, -1), stride=stride)


def _check_audio(owner: str, x) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 3 or x.shape[1] != 1:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise FrontendError(f"{owner}: input must be a tensor shaped (batch, 1, time), not {shape}")


class HybridClipper(nn.Module):
    """Pre FIR → diode clipper WDF at 2× between half-bands, plus a dry path → post FIR.

    ``pre_taps``/``post_taps``: FIR lengths; ``half_band_taps``: each half-band's
    length (``4k + 3``; latency ``(taps − 1)/2`` samples).  The FIRs start as a
    unit impulse and the WDF at :class:`DiodeClipper`'s generic values; nothing
    of the target circuit is built in.
    """

    def __init__(self, *, pre_taps: int = 64, post_taps: int = 64, half_band_taps: int = 15,
                 fs: float = SAMPLE_RATE):
        super().__init__()
        for name, n in (("pre_taps", pre_taps), ("post_taps", post_taps)):
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise FrontendError(f"HybridClipper: {name} must be a positive integer, not {n!r}")
        self.fs = float(fs)
        self.latency = (half_band_taps - 1) // 2
        self.register_buffer("half_band", torch.from_numpy(half_band(half_band_taps)))
        self.pre = nn.Parameter(F.one_hot(torch.tensor(0), pre_taps).double())
        self.post = nn.Parameter(F.one_hot(torch.tensor(0), post_taps).double())
        self.dry = nn.Parameter(torch.ones((), dtype=torch.float64))
        # Vt's lower bound is far below a diode's: the pre-filter's gain and Vt trade off
        # (scaling the WDF's input, Vt and Is together leaves its output's shape unchanged).
        self.clipper = DiodeClipper(1, fs=2 * self.fs, Vt_bounds=(1e-5, 0.25))

    def wet(self, x: torch.Tensor) -> torch.Tensor:
        """The clipping path alone: pre FIR, ↑2, WDF, ↓2 (``(batch, 1, time)`` in and out)."""
        u = _causal_fir(x, self.pre)
        up = torch.zeros(u.shape[0], 1, 2 * u.shape[2], dtype=u.dtype)
        up[..., ::2] = u
        v = self.clipper(_causal_fir(up, 2.0 * self.half_band))
        return _causal_fir(v, self.half_band, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_audio("HybridClipper", x)
        x = x.double()
        dry = F.pad(x, (self.latency, 0))[..., :x.shape[2]]
        return _causal_fir(self.dry * dry + self.wet(x), self.post)


class ConvBaseline(nn.Module):
    """A float causal dilated Conv1d stack: 1 → ``channels`` → … → 1, kernel ``kernel``,
    one layer per dilation, tanh between layers; output ``n`` sees inputs up to
    ``n + latency`` (it has the hybrid's latency to use)."""

    def __init__(self, *, channels: int = 8, kernel: int = 3, dilations=(1, 2, 4, 8, 16),
                 latency: int = 0):
        super().__init__()
        sizes = [1] + [channels] * (len(dilations) - 1) + [1]
        self.dilations, self.kernel, self.latency = tuple(dilations), kernel, latency
        self.convs = nn.ModuleList(nn.Conv1d(a, b, kernel, dilation=d).double()
                                   for a, b, d in zip(sizes, sizes[1:], dilations))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_audio("ConvBaseline", x)
        x = x.double()
        for i, (conv, d) in enumerate(zip(self.convs, self.dilations)):
            x = conv(F.pad(x, ((self.kernel - 1) * d, 0)))
            if i < len(self.convs) - 1:
                x = torch.tanh(x)
        return x


def parameter_count(model: nn.Module) -> int:
    """The number of trainable scalars."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def pretrained(path: Path | str = CHECKPOINT) -> HybridClipper:
    """The :class:`HybridClipper` (default sizes) with the trained weights saved at ``path``."""
    return _load(HybridClipper(), Path(path), "pretrained")


def pretrained_baseline(path: Path | str = BASELINE_CHECKPOINT) -> ConvBaseline:
    """The :class:`ConvBaseline` (default sizes, the hybrid's latency) saved at ``path``."""
    return _load(ConvBaseline(latency=HybridClipper().latency), Path(path), "pretrained_baseline")


def _load(model: nn.Module, path: Path, owner: str) -> nn.Module:
    if not path.is_file():
        raise FrontendError(f"{owner}: no checkpoint at {path}; train one with "
                            f"'python bench/audio_bench.py --save-checkpoint'")
    try:
        model.load_state_dict(torch.load(path, weights_only=True))
    except (RuntimeError, OSError, ValueError) as exc:
        raise FrontendError(f"{owner}: {path} is not a {type(model).__name__} state dict "
                            f"({str(exc).splitlines()[0]}); retrain it") from None
    return model.eval()
