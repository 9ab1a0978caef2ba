"""Looking inside before splitting: the singular-value spectrum of every weight matrix.

``bitwave report BUILD`` calls :func:`write_spectrum`.  It reads the build's
imported graph (``ir/00-import.txt``: the graph ``svd-split`` sees, before any
pass) and, for every op with a 2-D weight matrix — a MatVec's ``weight``
(rows × cols) with its per-row ``wscale``; an op with a higher-dimensional
``weight`` (a convolution's out × in × kh × kw) reshaped to (rows, -1) —
computes

* the singular values s₁ ≥ s₂ ≥ … and the energy curve Σ_{i≤r} s_i² / Σ s_i²;
* the rank ``svd-split{energy=e}`` keeps for each e of :data:`ENERGIES` (the
  pass's own :func:`~bitwave.passes.choose_rank`: e is the fraction of Σ s²
  dropped) and whether that rank pays, ``r·(m+n) < κ·m·n`` with the pass's
  default κ — where it does not, ``svd-split`` keeps the layer whole;
* the stable rank ‖W‖_F² / ‖W‖₂² = Σ s_i² / s₁², a rank that counts only the
  directions carrying weight (≤ the rank, and insensitive to tiny s_i);
* the heavy-tail exponent α of the density of the eigenvalues λ_i = s_i² of
  WᵀW, as WeightWatcher measures it: a power law p(λ) ∝ λ^−α fitted by the
  ``powerlaw`` package (maximum likelihood, xmin chosen by the smallest
  Kolmogorov–Smirnov distance).  With fewer than :data:`MIN_EIGENVALUES`
  non-zero eigenvalues a fit says nothing, and the table says so instead.

It writes one PNG per layer to ``BUILD/spectrum/LAYER.png`` (spectrum, energy
curve, eigenvalue density with the fitted tail) and the figures into
``report.json``'s ``spectrum`` section, from which ``report.md`` renders the
per-layer rank table.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import BuildFolderError
from .ir import Graph, parse_graph
from .passes import SvdSplit, choose_rank
from .report import update_report

__all__ = ["ENERGIES", "MIN_EIGENVALUES", "PLOTS", "LayerSpectrum", "weight_matrix", "analyse",
           "analyse_graph", "plot_layer", "write_spectrum"]

#: The ``svd-split{energy=e}`` settings the table shows (e = fraction of Σ s² dropped: 0.01 keeps 99 %).
ENERGIES = (0.01, 0.05, 0.1, 0.2)
#: Fewest non-zero eigenvalues a power-law fit is made on.  WeightWatcher skips layers with fewer
#: than 10; here the fit also picks xmin from the same points, so twice that.
MIN_EIGENVALUES = 20
#: The build folder's subfolder holding the plots.
PLOTS = "spectrum"
IMPORTED = Path("ir") / "00-import.txt"
KAPPA = next(f.default for f in dataclasses.fields(SvdSplit) if f.name == "kappa")


@dataclass(frozen=True)
class LayerSpectrum:
    """The spectrum of one layer's weight matrix and what ``svd-split`` would make of it."""
    name: str
    rows: int
    cols: int
    singular_values: np.ndarray          # descending
    stable_rank: float
    ranks: dict[float, int]              # svd-split energy → rank kept
    pays: dict[float, bool]              # energy → r·(m+n) < κ·m·n (else the layer is kept whole)
    alpha: float | None = None           # power-law exponent of the eigenvalue tail (None: no fit)
    xmin: float | None = None            # where the fitted tail starts (an eigenvalue of WᵀW)
    tail: int | None = None              # eigenvalues ≥ xmin
    no_fit: str | None = None            # why there is no α

    @property
    def eigenvalues(self) -> np.ndarray:
        """The non-zero eigenvalues of WᵀW (s_i², numerical rank as numpy's ``matrix_rank``)."""
        s = self.singular_values
        tol = s[0] * max(self.rows, self.cols) * np.finfo(np.float64).eps if len(s) else 0.0
        return s[s > tol] ** 2

    def energy_curve(self) -> np.ndarray:
        """Σ_{i≤r} s_i² / Σ s_i² for r = 1 … min(rows, cols)."""
        e = np.cumsum(self.singular_values ** 2)
        return e / e[-1] if e[-1] > 0 else np.ones_like(e)

    def as_dict(self, plot: str | None = None) -> dict:
        """The JSON the report renders (energies as text keys, as JSON needs)."""
        return {"name": self.name, "rows": self.rows, "cols": self.cols,
                "stable_rank": round(self.stable_rank, 3),
                "ranks": {f"{e:g}": r for e, r in self.ranks.items()},
                "pays": {f"{e:g}": p for e, p in self.pays.items()},
                "alpha": None if self.alpha is None else round(self.alpha, 3),
                "xmin": None if self.xmin is None else float(f"{self.xmin:.4g}"),
                "tail": self.tail, "eigenvalues": len(self.eigenvalues), "no_fit": self.no_fit, "plot": plot}


def weight_matrix(op) -> np.ndarray | None:
    """``op``'s real weight matrix (rows, -1), or None for an op without a weight of ≥ 2 dimensions.

    The integer codes times ``wscale`` (one scale, or one per row), as ``svd-split`` factors them.
    """
    weight = getattr(op, "weight", None)
    array = getattr(weight, "array", None)
    if array is None or array.ndim < 2:
        return None
    w = array.reshape(array.shape[0], -1).astype(np.float64)
    scale = getattr(getattr(op, "wscale", None), "array", None)
    if scale is not None:
        w = w * np.broadcast_to(np.asarray(scale, dtype=np.float64).reshape(-1), (w.shape[0],))[:, None]
    return w


def _power_law(eigenvalues: np.ndarray) -> tuple[float | None, float | None, int | None, str | None]:
    """(alpha, xmin, tail, None), or (None, None, None, why) when no fit can be made."""
    n = len(eigenvalues)
    if n < MIN_EIGENVALUES:
        return None, None, None, f"{n} eigenvalues: too few for a power-law fit (needs {MIN_EIGENVALUES})"
    if np.ptp(eigenvalues) <= 1e-12 * eigenvalues.max():
        return None, None, None, "all eigenvalues equal: no tail to fit"
    import powerlaw
    # powerlaw warns about its optimiser's starting point and divides by zero on
    # degenerate candidate xmins; the fit it returns is the one with the smallest KS distance.
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        fit = powerlaw.Fit(eigenvalues, verbose=False)
    alpha, xmin = float(fit.power_law.alpha), float(fit.power_law.xmin)
    if not (np.isfinite(alpha) and np.isfinite(xmin)):
        return None, None, None, "the power-law fit did not converge"
    return alpha, xmin, int(np.sum(eigenvalues >= xmin)), None


def analyse(name: str, w: np.ndarray) -> LayerSpectrum:
    """The spectrum of one weight matrix ``w`` (rows × cols)."""
    w = np.asarray(w, dtype=np.float64)
    if w.ndim != 2 or not w.size:
        raise ValueError(f"{name}: weight must be a non-empty 2-D matrix, not shape {w.shape}")
    m, n = w.shape
    s = np.linalg.svd(w, compute_uv=False)
    total = float(np.sum(s ** 2))
    stable = total / float(s[0] ** 2) if s[0] > 0 else 0.0
    ranks = {e: choose_rank(s, e) for e in ENERGIES}
    pays = {e: r * (m + n) < KAPPA * m * n for e, r in ranks.items()}
    spectrum = LayerSpectrum(name, m, n, s, stable, ranks, pays)
    alpha, xmin, tail, why = _power_law(spectrum.eigenvalues)
    return dataclasses.replace(spectrum, alpha=alpha, xmin=xmin, tail=tail, no_fit=why)


def analyse_graph(graph: Graph) -> list[LayerSpectrum]:
    """One :class:`LayerSpectrum` per op with a weight matrix, in graph order."""
    out = []
    for op in graph.ops:
        w = weight_matrix(op)
        if w is not None:
            out.append(analyse(op.name, w))
    return out


def plot_layer(layer: LayerSpectrum, path: Path) -> Path:
    """Three panels: singular values with the ranks kept, energy curve, eigenvalue density with α."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    s = layer.singular_values
    idx = np.arange(1, len(s) + 1)
    fig, (a, b, c) = plt.subplots(1, 3, figsize=(13, 3.8), dpi=100)
    a.semilogy(idx, np.where(s > 0, s, np.nan), "o-", ms=3, color="C0")
    b.plot(idx, layer.energy_curve(), "o-", ms=3, color="C0")
    for k, e in enumerate(ENERGIES):
        r, colour = layer.ranks[e], f"C{k + 1}"
        label = f"energy={e:g}: rank {r}" + ("" if layer.pays[e] else " (kept whole)")
        a.axvline(r, ls="--", lw=1, color=colour, label=label)
        b.axhline(1 - e, ls=":", lw=1, color=colour)
        b.plot([r], [layer.energy_curve()[r - 1]], "s", color=colour)
    a.set(title=f"{layer.name} ({layer.rows}×{layer.cols}): singular values", xlabel="i", ylabel="$s_i$")
    a.text(0.98, 0.98, f"stable rank {layer.stable_rank:.2f}", transform=a.transAxes, ha="right", va="top")
    a.legend(loc="lower left", fontsize=8)
    b.set(title="energy kept by rank r", xlabel="r", ylabel=r"$\sum_{i\leq r} s_i^2 / \sum_i s_i^2$", ylim=(0, 1.02))
    lam = layer.eigenvalues
    if len(lam) > 1 and np.ptp(lam) > 0:
        bins = np.geomspace(lam.min(), lam.max(), max(6, min(30, len(lam) // 3)))
        c.hist(lam, bins=bins, density=True, color="0.6", label="eigenvalues of WᵀW")
        c.set_xscale("log")
        c.set_yscale("log")
    if layer.alpha is not None:
        x = np.geomspace(layer.xmin, lam.max(), 50)
        density = (layer.tail / len(lam)) * (layer.alpha - 1) / layer.xmin * (x / layer.xmin) ** -layer.alpha
        c.plot(x, density, "--", color="C3", label=f"power law α={layer.alpha:.2f}, xmin={layer.xmin:.3g}")
        c.axvline(layer.xmin, ls=":", color="C3")
    else:
        c.text(0.5, 0.5, layer.no_fit.replace(": ", ":\n", 1), transform=c.transAxes, ha="center",
               va="center", fontsize=9, bbox={"facecolor": "white", "edgecolor": "0.7"})
    c.set(title="eigenvalue density (heavy tail)", xlabel=r"$\lambda = s_i^2$", ylabel="density")
    if c.get_legend_handles_labels()[0]:
        c.legend(loc="lower left", fontsize=8)
    for ax in (a, b, c):
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def write_spectrum(build_dir: str | Path) -> list[LayerSpectrum]:
    """Analyse a build folder's layers, write ``spectrum/LAYER.png`` and report.json's ``spectrum``."""
    d = Path(build_dir)
    source = d / IMPORTED if (d / IMPORTED).is_file() else d / "graph.txt"
    if not source.is_file():
        raise BuildFolderError(f"{d}: no {IMPORTED} or graph.txt; is it a build folder? "
                               f"(make one with `bitwave compile`)")
    layers = analyse_graph(parse_graph(source.read_text()))
    (d / PLOTS).mkdir(exist_ok=True)
    entries = [layer.as_dict(plot=str(plot_layer(layer, d / PLOTS / f"{layer.name}.png").relative_to(d)))
               for layer in layers]
    update_report(d, "spectrum", {"source": str(source.relative_to(d)), "energies": [f"{e:g}" for e in ENERGIES],
                                  "kappa": KAPPA, "min_eigenvalues": MIN_EIGENVALUES, "layers": entries})
    return layers
