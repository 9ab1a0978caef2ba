"""Test and training audio made in code: Karplus–Strong plucks and chords, exponential sine sweeps.

Nothing is downloaded.  Levels are peak volts at the stage's input, 20 mV to
0.4 V (a guitar pickup's range).  :func:`plucks` draws a sequence of single
notes and strummed chords at random pitches and levels from a seed, so the
training set (``TRAIN_SEED``) and the held-out set (``HELD_OUT_SEED``) are
different notes, reproducible bit for bit; :func:`sweeps` plays the same
exponential sweep at three levels.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

from ...errors import FrontendError

__all__ = ["SAMPLE_RATE", "LEVELS", "SWEEP_LEVELS", "TRAIN_SEED", "HELD_OUT_SEED",
           "pluck", "chord", "sweep", "plucks", "sweeps"]

SAMPLE_RATE = 48_000
#: Lowest and highest peak input level, volts.
LEVELS = (0.02, 0.4)
#: The three peak levels of the sweeps, volts.
SWEEP_LEVELS = (0.02, 0.1, 0.4)
TRAIN_SEED, HELD_OUT_SEED = 0, 1
#: Major, minor and power-chord shapes in semitones above the root.
_CHORDS = ((0, 4, 7, 12), (0, 3, 7, 12), (0, 7, 12))
_LOW_E = 82.41


def pluck(freq: float, seconds: float, rng: np.random.Generator, decay: float = 0.996, *,
          fs: int = SAMPLE_RATE) -> np.ndarray:
    """A Karplus–Strong plucked string: a noise burst one period long, fed back through an
    averaging (low-pass) delay line of one period, ``y[n] = x[n] + ρ/2·(y[n−N] + y[n−N−1])``.
    Peak 1."""
    return _karplus_strong(freq, int(seconds * fs), rng, decay, fs)


def _karplus_strong(freq: float, samples: int, rng: np.random.Generator, decay: float,
                    fs: int) -> np.ndarray:
    period = max(2, int(round(fs / freq)))
    burst = np.zeros(samples)
    burst[:period] = rng.uniform(-1, 1, period)
    feedback = np.zeros(period + 2)
    feedback[0], feedback[period], feedback[period + 1] = 1.0, -decay / 2, -decay / 2
    y = lfilter([1.0], feedback, burst)
    return y / max(1e-9, np.abs(y).max())


def chord(root: float, shape, seconds: float, rng: np.random.Generator, *,
          strum: float = 0.012, fs: int = SAMPLE_RATE) -> np.ndarray:
    """Plucks at ``root·2^(s/12)`` for each semitone ``s`` of ``shape``, each ``strum``
    seconds after the one below (a downstroke). Peak 1."""
    n = int(seconds * fs)
    out = np.zeros(n)
    for i, semis in enumerate(shape):
        start = min(n, int(round(i * strum * fs)))
        out[start:] += _karplus_strong(root * 2 ** (semis / 12), n - start, rng, 0.996, fs)
    return out / max(1e-9, np.abs(out).max())


def sweep(f0: float, f1: float, seconds: float, *, fs: int = SAMPLE_RATE) -> np.ndarray:
    """An exponential sine sweep from ``f0`` to ``f1`` Hz, with 10 ms fades. Peak 1."""
    t = np.arange(int(seconds * fs)) / fs
    k = np.log(f1 / f0) / seconds
    y = np.sin(2 * np.pi * f0 * (np.exp(k * t) - 1) / k)
    fade = np.minimum(1.0, np.minimum(t, seconds - t) / 0.01)
    return y * fade


def _check_seconds(owner: str, seconds) -> None:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds > 0:
        raise FrontendError(f"{owner}: seconds must be a positive number, not {seconds!r}")


def plucks(seconds: float, seed: int, *, fs: int = SAMPLE_RATE) -> np.ndarray:
    """Single notes (60 %) and strummed chords (40 %) from the guitar's range, each 0.25–1 s
    at a peak level log-uniform in :data:`LEVELS` volts, with 0–50 ms of silence between."""
    _check_seconds("plucks", seconds)
    rng = np.random.default_rng(seed)
    lo, hi = np.log(LEVELS[0]), np.log(LEVELS[1])
    parts, total, n = [], 0, int(seconds * fs)
    while total < n:
        length = float(rng.uniform(0.25, 1.0))
        if rng.random() < 0.6:
            part = pluck(_LOW_E * 2 ** (rng.integers(0, 36) / 12), length, rng, fs=fs)
        else:
            shape = _CHORDS[int(rng.integers(0, len(_CHORDS)))]
            part = chord(_LOW_E * 2 ** (rng.integers(0, 17) / 12), shape, length, rng, fs=fs)
        parts += [np.exp(rng.uniform(lo, hi)) * part, np.zeros(int(rng.integers(0, fs // 20)))]
        total += len(parts[-2]) + len(parts[-1])
    return np.concatenate(parts)[:n]


def sweeps(seconds_each: float = 1.0, *, f0: float = 40.0, f1: float = 16_000.0,
           fs: int = SAMPLE_RATE) -> np.ndarray:
    """One exponential sweep ``f0``→``f1`` at each of :data:`SWEEP_LEVELS`, 50 ms apart."""
    _check_seconds("sweeps", seconds_each)
    gap = np.zeros(fs // 20)
    one = sweep(f0, f1, seconds_each, fs=fs)
    return np.concatenate([p for level in SWEEP_LEVELS for p in (level * one, gap)])
