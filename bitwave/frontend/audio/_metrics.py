"""Audio error measures: the error-to-signal ratio (ESR), plain or pre-emphasised, at a declared latency.

``ESR = Σ(y − ŷ)² / Σ y²`` with ``y`` the target.  Pre-emphasis filters both
signals with ``1 − 0.85·z⁻¹`` first, which weights the error by frequency the
way the ear does more than plain ESR (the usual measure of audio models; say
which one a figure is).  A model with a fixed delay of ``latency`` samples is
compared as ``output[n + latency]`` against ``target[n]``.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

from ...errors import FrontendError

__all__ = ["PRE_EMPHASIS", "esr", "aligned_esr"]

#: The pre-emphasis coefficient of the usual pre-emphasised ESR, ``1 − 0.85·z⁻¹``.
PRE_EMPHASIS = 0.85


def esr(target, output, pre_emphasis: float = 0.0) -> float:
    """Error-to-signal ratio Σ(y − ŷ)² / Σ y², plain or after the pre-emphasis
    filter ``1 − pre_emphasis·z⁻¹`` on both signals (0.85 is the usual one)."""
    y, y_hat = (lfilter([1.0, -pre_emphasis], [1.0], np.ravel(v).astype(np.float64))
                for v in (target, output))
    if y.shape != y_hat.shape:
        raise FrontendError(f"esr: target has {y.size} samples but output {y_hat.size}; "
                            f"compare signals of the same length")
    energy = float(np.sum(y ** 2))
    if energy == 0.0:
        raise FrontendError("esr: the target is silent (zero energy), so the ratio is undefined; "
                            "measure on a signal with content")
    return float(np.sum((y - y_hat) ** 2) / energy)


def aligned_esr(target, output, latency: int = 0, pre_emphasis: float = 0.0) -> float:
    """:func:`esr` of ``output[n + latency]`` against ``target[n]`` (the last ``latency``
    target samples have no output to compare with and are left out)."""
    if isinstance(latency, bool) or not isinstance(latency, (int, np.integer)) or latency < 0:
        raise FrontendError(f"aligned_esr: latency must be a non-negative integer number of "
                            f"samples, not {latency!r}")
    target, output = np.ravel(target), np.ravel(output)
    if target.size != output.size:
        raise FrontendError(f"aligned_esr: target has {target.size} samples but output "
                            f"{output.size}; pass the model's output for the same input")
    if latency >= target.size:
        raise FrontendError(f"aligned_esr: latency {latency} is not shorter than the signal "
                            f"({target.size} samples)")
    return esr(target[:target.size - latency], output[latency:], pre_emphasis)
