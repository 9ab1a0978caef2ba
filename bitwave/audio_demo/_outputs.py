"""What ``bitwave demo audio`` leaves behind: WAV files, a plot, and the ESR table.

Every signal is float64 volts at 48 kHz.  A model's output ``n + latency``
models the circuit's output ``n`` (:func:`~bitwave.frontend.audio.aligned_esr`);
the files hold the outputs advanced by the latency (the last ``latency``
samples zero) so that all of them line up with the input and the reference
when played or overlaid.  The WAVs are 32-bit float, all scaled by one factor
(the largest peak of the four signals maps to 0.9 full scale) so their
loudness compares and the error file is as loud as the error really is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.table import Table
from scipy.io import wavfile
from scipy.signal import welch

from ..errors import FrontendError
from ..frontend.audio import PRE_EMPHASIS, SAMPLE_RATE, aligned_esr

__all__ = ["DemoAudio", "EsrRow", "WAV_FILES", "PLOT_FILE", "esr_rows", "esr_table",
           "write_wavs", "write_plot"]

#: Signal name → WAV file name.
WAV_FILES = {"input": "input.wav", "reference": "circuit_reference.wav",
             "float_model": "float_model.wav", "rtl": "rtl_output.wav", "error": "error_rtl.wav"}
PLOT_FILE = "audio_demo.png"
#: The loudest of the WAVs peaks at this fraction of full scale.
_HEADROOM = 0.9
#: The plot's waveform window: this long, starting this far before the reference's loudest sample.
_WINDOW_S, _WINDOW_LEAD_S = 0.02, 0.005


@dataclass(frozen=True)
class DemoAudio:
    """The demo's signals (volts, float64, all the same length): the input, the circuit's
    output (float64 simulation at 8×), the float model's and the RTL's outputs (not yet
    aligned: output ``n + latency`` models reference ``n``)."""

    input: np.ndarray
    reference: np.ndarray
    float_model: np.ndarray
    rtl: np.ndarray
    latency: int
    fs: int = SAMPLE_RATE

    def __post_init__(self):
        n = np.size(self.input)
        for name in ("input", "reference", "float_model", "rtl"):
            v = np.asarray(getattr(self, name), dtype=np.float64).ravel()
            if v.size != n:
                raise FrontendError(f"demo audio: {name} has {v.size} samples but the input {n}; "
                                    f"pass every signal for the same input")
            if not np.all(np.isfinite(v)):
                raise FrontendError(f"demo audio: {name} has non-finite samples; check the model")
            object.__setattr__(self, name, v)
        if isinstance(self.latency, bool) or not 0 <= self.latency < n:
            raise FrontendError(f"demo audio: latency {self.latency!r} must be a whole number of "
                                f"samples shorter than the signal ({n})")

    def aligned(self, name: str) -> np.ndarray:
        """Signal ``name`` advanced by the latency for a model output (zeros at the end)."""
        v = getattr(self, name)
        if name in ("input", "reference") or self.latency == 0:
            return v
        return np.concatenate([v[self.latency:], np.zeros(self.latency)])

    def error_of(self, name: str) -> np.ndarray:
        """Output ``name`` − reference, aligned (the last ``latency`` samples, which have no
        output, 0)."""
        e = self.aligned(name) - self.reference
        if self.latency:
            e[-self.latency:] = 0.0
        return e

    @property
    def error(self) -> np.ndarray:
        """RTL − reference, aligned."""
        return self.error_of("rtl")


@dataclass(frozen=True)
class EsrRow:
    """One model's plain and pre-emphasised ESR (ratios, not percent) against the reference."""

    model: str
    params: int | None
    plain: float
    pre_emphasised: float


def esr_rows(audio: DemoAudio, *, params: int, baseline: np.ndarray | None = None,
             baseline_params: int | None = None) -> list[EsrRow]:
    """The float model's, the RTL's and (if given, same latency) the baseline's ESR."""
    def row(model, out, n):
        return EsrRow(model, n, aligned_esr(audio.reference, out, audio.latency),
                      aligned_esr(audio.reference, out, audio.latency, PRE_EMPHASIS))

    rows = [row("hybrid, float", audio.float_model, params),
            row("hybrid, quantised RTL", audio.rtl, params)]
    if baseline is not None:
        rows.append(row("Conv1d baseline, float", baseline, baseline_params))
    return rows


def esr_table(rows: list[EsrRow], *, title: str) -> Table:
    """A rich table of ``rows`` in percent, and the RTL's difference from the float model in
    percentage points (rows 0 and 1)."""
    t = Table(title=title, caption=f"pre-emphasis: 1 − {PRE_EMPHASIS}·z⁻¹ on both signals; "
                                   f"pp: percentage points")
    for col in ("model", "params", "ESR", "pre-emphasised ESR"):
        t.add_column(col, justify="left" if col == "model" else "right")
    for r in rows:
        t.add_row(r.model, "-" if r.params is None else str(r.params), f"{100 * r.plain:.4f} %",
                  f"{100 * r.pre_emphasised:.4f} %")
    if len(rows) >= 2:
        f, q = rows[0], rows[1]
        t.add_row("RTL − float", "", f"{100 * (q.plain - f.plain):+.4f} pp",
                  f"{100 * (q.pre_emphasised - f.pre_emphasised):+.4f} pp")
    return t


def write_wavs(folder: str | Path, audio: DemoAudio) -> dict[str, Path]:
    """The five WAVs (32-bit float, one common scale) in ``folder``; returns name → path."""
    folder = Path(folder)
    signals = {name: audio.aligned(name) for name in WAV_FILES if name != "error"}
    signals["error"] = audio.error
    peak = max(float(np.abs(v).max()) for v in signals.values())
    scale = _HEADROOM / peak if peak > 0 else 1.0
    paths = {}
    for name, v in signals.items():
        paths[name] = folder / WAV_FILES[name]
        wavfile.write(paths[name], audio.fs, (scale * v).astype(np.float32))
    return paths


def write_plot(folder: str | Path, audio: DemoAudio, *, title: str = "") -> Path:
    """A PNG: a short window of the waveforms, the spectra, and the RTL's error over time."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fs, n = audio.fs, audio.input.size
    width = min(n, int(_WINDOW_S * fs))
    start = int(np.clip(np.argmax(np.abs(audio.reference)) - _WINDOW_LEAD_S * fs, 0, n - width))
    window = slice(start, start + width)
    t_ms = 1e3 * np.arange(start, start + width) / fs
    curves = (("input", audio.input, "0.6"), ("circuit reference", audio.reference, "k"),
              ("float model", audio.aligned("float_model"), "C0"),
              ("quantised RTL", audio.aligned("rtl"), "C3"))
    fig, (wave, spec, err) = plt.subplots(3, 1, figsize=(8, 8.5))
    for label, v, colour in curves:
        wave.plot(t_ms, v[window], color=colour, lw=1.0, label=label,
                  ls="--" if label == "quantised RTL" else "-")
    wave.set(xlabel="time (ms)", ylabel="volts", title="waveforms (outputs aligned at the latency)")
    wave.legend(loc="upper right", fontsize="small")
    seg = min(n, 4096)
    differences = (("error (RTL − reference)", audio.error, "C1"),
                   ("RTL − float model", audio.aligned("rtl") - audio.aligned("float_model"), "C2"))
    for label, v, colour in curves[1:] + differences:
        f, p = welch(v, fs=fs, nperseg=seg)
        spec.semilogx(f[1:], 10 * np.log10(p[1:] + 1e-30), color=colour, lw=1.0, label=label)
    spec.set(xlabel="frequency (Hz)", ylabel="dB re 1 V²/Hz", title="spectra (Welch)")
    spec.legend(loc="lower left", fontsize="small")
    t_s = np.arange(n) / fs
    err.plot(t_s, audio.error_of("float_model"), color="C0", lw=0.6,
             label="float model − reference")
    err.plot(t_s, audio.error, color="C3", lw=0.6, label="RTL − reference")
    err.set(xlabel="time (s)", ylabel="volts", title="error")
    err.legend(loc="upper right", fontsize="small")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(folder) / PLOT_FILE
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
