"""The trained :class:`HybridClipper` as one integer IR graph, ready for ``compile_graph``.

Every part of the float model becomes ops the compiler already knows, one
sample per row (the stream's time step)::

    x ─► pre (CausalConv 1→1) ─► up (CausalConv 1→2: the half-band interpolator's two phases)
      ─► clip (Wdf, oversample 2: both phases through the clipper in time order)
      ─► wet+dry (Concat: the two phases and x) ─► down (CausalConv 3→1) ─► post (CausalConv 1→1) ─► y
    x ──────────────────────────────────────┘

``down`` is the half-band decimator over the clipper's two phases plus the dry
gain on the input at the half-bands' delay (one more column of the same
convolution): the wet and dry paths mix inside one accumulator, with one
rounding, no adder stage and no multiplier of their own.  The input and the
clipper's output codes have the same scale at the default word lengths; when
they do not, the dry path is a convolution of its own added to the wet one.

Each convolution is followed by a ``Requant`` to the next stage's codes.
Weights are signed integers with a power-of-two scale (the largest magnitude
uses the ``weight_bits``), activations ``act_bits``-bit codes with a
power-of-two scale chosen from a bound on the stage's peak, so every
``Requant`` is an exact shift (round half up).  The clipper stays in float
form, read by one ``Quant`` to ``wdf_bits``-bit codes: the ``quantise-wdf``
pass gives the fixed-point filter that output format and drops the ``Quant``.

The graph's real output is the model's output at the model's latency
(:attr:`HybridClipper.latency` samples): ``Interpreter(graph).output(x)``
times the output scale (:func:`graph_output_volts`).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ...errors import FrontendError
from ...ir import Add, CausalConv, Concat, Graph, Input, Int, Interpreter, Output, Quant, Requant, Wdf, verify
from ...ir.wdf import Probe
from ._hybrid import HybridClipper

__all__ = ["hybrid_graph", "graph_output_volts"]


def _check_bits(**bits) -> None:
    for name, (v, lo, hi) in bits.items():
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise FrontendError(f"hybrid_graph: {name} must be an integer in [{lo}, {hi}], "
                                f"not {v!r}")


def _weights(w: np.ndarray, bits: int, where: str) -> tuple[np.ndarray, int]:
    """Integer codes of ``w`` and their fraction bits ``k`` (``w ≈ codes·2**-k``): the largest
    magnitude gets the most of ``bits`` (sign included) a power-of-two scale allows."""
    peak = float(np.max(np.abs(w)))
    if not np.all(np.isfinite(w)):
        raise FrontendError(f"hybrid_graph: {where} has weights that are not finite; retrain")
    if peak == 0.0:
        return np.zeros(w.shape, dtype=np.int64), 0
    k = math.floor(math.log2(((1 << (bits - 1)) - 1) / peak))
    return np.round(w * 2.0 ** k).astype(np.int64), k


def _frac_for(peak: float, bits: int) -> int:
    """Fraction bits of ``bits``-bit signed codes whose range holds ``peak`` (volts)."""
    int_bits = max(1, math.floor(math.log2(peak)) + 2) if peak > 0 else 1
    return bits - int_bits


class _Builder:
    """Appends a convolution and its requantiser per stage, tracking each value's fraction bits
    and peak bound."""

    def __init__(self, x_frac: int, x_peak: float, weight_bits: int, act_bits: int):
        self.ops, self.weight_bits, self.act_bits = [], weight_bits, act_bits
        self.frac, self.peak = {"x": x_frac}, {"x": x_peak}

    def conv(self, name: str, src: str, weight: np.ndarray, taps: int, *, bits: int | None = None,
             frac: int | None = None, what: str) -> str:
        """``src`` → CausalConv ``name`` (float ``weight``, shaped as CausalConv's) → Requant
        ``name_q`` to ``bits``-bit codes (default ``act_bits``) with ``frac`` fraction bits
        (default: from the bound on the output's peak)."""
        codes, k = _weights(weight, self.weight_bits, what)
        wq = codes * 2.0 ** -k
        c_in = weight.shape[1] // taps
        # The peak of a source may be one bound per channel (a concatenation's).
        peak = float(np.max((np.abs(wq).reshape(len(wq), taps, c_in)
                             * np.asarray(self.peak[src])).sum(axis=(1, 2))))
        bits = bits or self.act_bits
        frac = _frac_for(peak, bits) if frac is None else frac
        shift = self.frac[src] + k - frac
        self.ops += [
            CausalConv(name, input=src, weight=codes, wfmt=Int(self.weight_bits, True),
                       wscale=2.0 ** -k, taps=taps, src=what),
            Requant(f"{name}_q", input=name, mult=1 << max(0, -shift), shift=max(0, shift),
                    fmt=Int(bits, True), scale=2.0 ** -frac, src=what)]
        self.frac[f"{name}_q"], self.peak[f"{name}_q"] = frac, min(peak, 2.0 ** (bits - 1 - frac))
        self.peak[name] = peak
        return f"{name}_q"


def _lags_to_taps(h_by_lag: np.ndarray) -> np.ndarray:
    """A CausalConv weight row (tap 0 = oldest) from coefficients by lag (lag 0 = newest)."""
    return np.asarray(h_by_lag, dtype=np.float64)[::-1]


def hybrid_graph(model: HybridClipper, *, in_bits: int = 16, in_peak: float = 1.0,
                 weight_bits: int = 12, act_bits: int = 16, wdf_bits: int = 16,
                 out_bits: int = 24) -> Graph:
    """The integer IR graph of a trained ``model`` (see the module docstring).

    ``in_bits``-bit input codes cover ±``in_peak`` volts (rounded up to a power
    of two); ``weight_bits`` per FIR/half-band coefficient (sign included);
    ``act_bits`` per sample between the stages (the clipper's input too), their
    integer bits from a bound on each stage's peak;
    ``wdf_bits`` per clipper output sample; ``out_bits`` per output sample.
    """
    if not isinstance(model, HybridClipper):
        raise FrontendError(f"hybrid_graph: expected a HybridClipper, not {type(model).__name__}")
    _check_bits(in_bits=(in_bits, 4, 32), weight_bits=(weight_bits, 2, 24),
                act_bits=(act_bits, 8, 32), wdf_bits=(wdf_bits, 8, 32), out_bits=(out_bits, 8, 32))
    if not (isinstance(in_peak, (int, float)) and math.isfinite(in_peak) and in_peak > 0):
        raise FrontendError(f"hybrid_graph: in_peak must be a positive number of volts, "
                            f"not {in_peak!r}")
    with torch.no_grad():
        pre, post = model.pre.detach().numpy(), model.post.detach().numpy()
        dry, hb = float(model.dry), model.half_band.detach().numpy()
        clip = {k: getattr(model.clipper, k).detach().double().numpy() for k in ("R", "C", "Is", "Vt")}
    for k, v in clip.items():
        if not np.all(np.isfinite(v)) or np.any(v <= 0):
            raise FrontendError(f"hybrid_graph: the clipper's {k} = {v.tolist()} is not positive "
                                f"and finite; retrain the model")
    x_frac = _frac_for(in_peak * (1 - 2.0 ** -in_bits), in_bits)
    b = _Builder(x_frac, 2.0 ** (in_bits - 1 - x_frac), weight_bits, act_bits)
    b.ops.append(Input("x", n=1, fmt=Int(in_bits, True), scale=2.0 ** -x_frac, src="input (volts)"))

    u = b.conv("pre", "x", _lags_to_taps(pre)[None, :], len(pre), what="pre (FIR)")
    # Half-band interpolator by 2 as two phases per input sample: phase p at lag l is 2·h[2l + p].
    lags = (len(hb) + 1) // 2
    h2 = np.concatenate([2.0 * hb, [0.0]])
    up = np.stack([_lags_to_taps(h2[p::2][:lags]) for p in (0, 1)])
    u2 = b.conv("up", u, up, lags, what="up (half-band, 2 phases)")
    b.ops += [Wdf("clip", input=u2, R=clip["R"], X=clip["C"], Is=clip["Is"], Vt=clip["Vt"],
                  fs=2 * model.fs, probe=Probe.REACTIVE, oversample=2, src="clipper (DiodeClipper)")]
    # The clipper's voltage is bounded by the diode pair: v = Vt·asinh(i / 2Is), i <= peak / R.
    v_peak = float(np.max(clip["Vt"] * np.arcsinh(b.peak[u2] / (clip["R"] * 2 * clip["Is"]))))
    v_frac = min(_frac_for(v_peak, wdf_bits), wdf_bits - 1)
    b.ops.append(Quant("clip_q", input="clip", fmt=Int(wdf_bits, True), scale=2.0 ** -v_frac,
                       src="clipper output codes"))
    b.frac["clip_q"], b.peak["clip_q"] = v_frac, v_peak
    # Half-band decimator over the two phases: lag L takes h[2L] (phase 0) and h[2L − 1] (phase 1);
    # the dry gain on the input at lag ``latency`` (the wet path's delay).
    taps = max(lags, model.latency + 1)
    down = np.zeros((taps, 3))
    for k, h in enumerate(hb):
        down[(k + 1) // 2, k % 2] = h
    down[model.latency, 2] = dry
    if b.frac["clip_q"] == b.frac["x"]:
        b.ops.append(Concat("wet_dry", input="clip_q", other="x", src="clipper phases + input"))
        b.frac["wet_dry"] = b.frac["x"]
        b.peak["wet_dry"] = [b.peak["clip_q"]] * 2 + [b.peak["x"]]
        # The mix as the one accumulator: a bit more than the wet path's codes, as an adder gives.
        mix = b.conv("down", "wet_dry", down[::-1].reshape(1, -1), taps, bits=act_bits + 1,
                     what="down (half-band) + dry gain")
    else:
        w = b.conv("down", "clip_q", down[::-1, :2].reshape(1, -1), taps, what="down (half-band)")
        d = b.conv("dry", "x", down[::-1, 2][None, :], taps, frac=b.frac[w], what="dry gain")
        b.ops.append(Add("mix", input=w, other=d, src="wet + dry"))
        b.frac["mix"], b.peak["mix"] = b.frac[w], b.peak[w] + b.peak[d]
        mix = "mix"
    y = b.conv("post", mix, _lags_to_taps(post)[None, :], len(post), bits=out_bits,
               what="post (FIR)")
    b.ops.append(Output("y", input=y))
    graph = Graph(tuple(b.ops))
    verify(graph)
    return graph


def graph_output_volts(graph: Graph, x: np.ndarray) -> np.ndarray:
    """The graph's output in volts on audio ``x`` (volts, one stream in time order)."""
    x = np.asarray(x, dtype=np.float64).reshape(-1, 1)
    it = Interpreter(graph)
    codes = it.output(x)
    return it.types[graph.output.name].real(codes).reshape(-1)
