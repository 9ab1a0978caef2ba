"""``quantise-wdf``: a trained float WDF becomes its bit-exact fixed-point form.

Every ``Wdf`` op still in float form (as the frontend imports a trainable
layer) gets wave, output and coefficient formats and a piecewise-linear diode
root table from :func:`quantise_wdf`: the word length is ``word_length`` if
given, else the shortest reaching ``target_snr_db`` against float64, else
:data:`~bitwave.ir.wdf.DEFAULT_WORD_LENGTH`.  The channels of one op share one
layout (the hardware runs them side by side), so they all get the longest
word length any channel needs and the finest table grid.  Ops already in fixed
form are left alone, so the pass may run twice.

The word-length search itself works on one :class:`~bitwave.ir.wdf.WdfTree`
(:func:`quantise_wdf`, :func:`with_table_grid`), measured by
:func:`fixed_snr_db` on a :func:`multitone`; the specification it produces and
its golden model live in :mod:`bitwave.ir.wdf`.
"""

from __future__ import annotations

import dataclasses
import math
import numpy as np

from ..errors import PassError
from ..ir import Fixed, Graph, Overflow, Rounding, Wdf, WdfLayout, verify
from ..ir.wdf import (DEFAULT_WORD_LENGTH, Capacitor, DiodePair, Inductor, Parallel, Probe,
                      ResistiveSource, Series, WdfFixed, WdfTree, diode_pair_reflect,
                      port_resistance, pwl_breakpoints, run_fixed, simulate)
from ._manager import Pass, note

__all__ = ["QuantiseWdf", "quantise_wdf", "with_table_grid", "fixed_snr_db", "multitone",
           "pwl_max_error"]


# ---------------------------------------------------------------------------------------------
# The word-length search for one clipper-class tree


def _clipper_parts(tree: WdfTree, owner: str):
    """(adaptor, source, reactive, probe port) of a clipper-class tree, or PassError."""
    t = tree.tree
    shape_ok = (isinstance(tree.root, DiodePair) and isinstance(t, (Series, Parallel))
                and {type(t.a), type(t.b)} in ({ResistiveSource, Capacitor},
                                                {ResistiveSource, Inductor}))
    if not shape_ok:
        raise PassError(f"{owner}: only clipper-class trees have a fixed-point form: a DiodePair "
                        f"root over Series or Parallel(ResistiveSource, Capacitor or Inductor); "
                        f"got {type(tree.root).__name__} over {type(t).__name__}")
    src, rea = (t.a, t.b) if isinstance(t.a, ResistiveSource) else (t.b, t.a)
    if tree.probe is None or tree.probe == tree.root.name:
        probe = Probe.ROOT
    elif tree.probe == src.name:
        probe = Probe.SOURCE
    elif tree.probe == rea.name:
        probe = Probe.REACTIVE
    else:
        raise PassError(f"{owner}: probe {tree.probe!r} names the adaptor; probe the root, the "
                        f"source or the reactance (for this adaptor they are the same port)")
    return t, src, rea, probe


def _pwl_table(root: DiodePair, Rp: float, wave: Fixed, grid: tuple[int, int, int]):
    a = pwl_breakpoints(*grid)
    b = diode_pair_reflect(a, Rp, root.Is, root.n * root.Vt)
    codes = np.clip(np.floor(b * 2.0 ** wave.frac_bits + 0.5), wave.min, wave.max)
    return tuple(int(c) for c in codes)


def pwl_max_error(root: DiodePair, Rp: float, range_log2: int, octaves: int,
                  segments_log2: int) -> float:
    """Largest error (volts) in ``b`` of the unquantised PWL root, at port resistance ``Rp``.

    Measured at each segment's midpoint, where a convex or concave curve's
    chord is farthest from it.
    """
    a = pwl_breakpoints(range_log2, octaves, segments_log2)
    Is, Vt = root.Is, root.n * root.Vt
    b = diode_pair_reflect(a, Rp, Is, Vt)
    exact = diode_pair_reflect(0.5 * (a[:-1] + a[1:]), Rp, Is, Vt)
    return float(np.max(np.abs(0.5 * (b[:-1] + b[1:]) - exact)))


def multitone(fs: float, n: int, *, peak: float = 1.0,
              freqs: tuple[float, ...] = (110.0, 440.0, 1230.0, 3150.0, 7070.0)) -> np.ndarray:
    """``n`` samples of equal-amplitude sines at ``freqs`` (Hz), scaled to ``peak`` volts.

    Fixed phases (a Schroeder-like quadratic law) keep the crest factor low and
    the signal reproducible.
    """
    t = np.arange(n) / fs
    k = np.arange(len(freqs))
    phases = np.pi * k * k / len(freqs)
    x = np.sum(np.sin(2 * np.pi * np.outer(freqs, t) + phases[:, None]), axis=0)
    return peak * x / np.max(np.abs(x))


def fixed_snr_db(spec: WdfFixed, tree: WdfTree, x: np.ndarray) -> float:
    """SNR (dB) of :func:`run_fixed` against the float64 :func:`simulate` on volts ``x``.

    Both see the same input: ``x`` quantised to ``spec.input``; the float model
    gets the dequantised values, so the figure counts only the filter's own
    fixed-point error (wave rounding, coefficient and PWL root).
    """
    inp = spec.input
    codes = np.clip(np.floor(np.asarray(x, dtype=np.float64) * 2.0 ** inp.frac_bits + 0.5),
                    inp.min, inp.max).astype(np.int64)
    ref = simulate(tree, codes * 2.0 ** -inp.frac_bits)
    got = run_fixed(spec, codes) * 2.0 ** -spec.output.frac_bits
    noise = np.sum((got - ref) ** 2)
    return float("inf") if noise == 0 else float(10 * np.log10(np.sum(ref ** 2) / noise))


def _spec_for(tree: WdfTree, word_length: int, int_bits: int, guard_bits: int,
              rounding: Rounding, overflow: Overflow, owner: str) -> WdfFixed:
    t, src, rea, probe = _clipper_parts(tree, owner)
    frac = word_length - int_bits
    if frac < 1:
        raise PassError(f"{owner}: word_length {word_length} leaves no fraction bits with "
                        f"int_bits={int_bits}; use at least {int_bits + 1}")
    io = Fixed(int_bits, frac, rounding=rounding, overflow=overflow)
    wave = Fixed(int_bits, frac + guard_bits, rounding=rounding, overflow=overflow)
    Rs, Rr = port_resistance(src, tree.fs), port_resistance(rea, tree.fs)
    series = isinstance(t, Series)
    gamma = Rs / (Rs + Rr) if series else Rr / (Rs + Rr)
    Rp = Rs + Rr if series else Rs * Rr / (Rs + Rr)
    coeff_frac = wave.width
    range_log2 = int_bits - 1
    # Zone 0 ends near the diode knee (≈ 10·n·Vt): below it b(a) is almost straight, above
    # it the curvature decays by octaves.  Segments per zone: the fewest whose PWL error
    # stays under a quarter of an output LSB, at most 2**9 per zone.
    Vt = tree.root.n * tree.root.Vt
    knee_log2 = min(range_log2, max(range_log2 - 10, round(math.log2(10 * Vt)),
                                    -wave.frac_bits))
    octaves = range_log2 - knee_log2 + 1
    # Segments narrower than one wave code are meaningless (and refused by WdfFixed).
    seg_log2 = min(3, range_log2 + wave.frac_bits - octaves + 1)
    while (seg_log2 < 9 and seg_log2 < range_log2 + wave.frac_bits - octaves + 1
           and pwl_max_error(tree.root, Rp, range_log2, octaves, seg_log2) > io.lsb / 4):
        seg_log2 += 1
    table = _pwl_table(tree.root, Rp, wave, (range_log2, octaves, seg_log2))
    return WdfFixed(series=series, inductor=isinstance(rea, Inductor), probe=probe,
                    input=io, wave=wave, output=io,
                    coeff=int(round(gamma * (1 << coeff_frac))), coeff_frac=coeff_frac,
                    table_range_log2=range_log2, table_octaves=octaves, segments_log2=seg_log2,
                    table=table, fs=tree.fs)


def with_table_grid(spec: WdfFixed, tree: WdfTree, octaves: int, segments_log2: int) -> WdfFixed:
    """``spec`` (made by :func:`quantise_wdf` for ``tree``) with its root table on another grid.

    For filters that must share one table layout (the channels of one IR op):
    a finer grid than the one chosen for ``tree`` only makes the table more accurate.
    """
    t, src, rea, _ = _clipper_parts(tree, "with_table_grid")
    Rs, Rr = port_resistance(src, tree.fs), port_resistance(rea, tree.fs)
    Rp = Rs + Rr if isinstance(t, Series) else Rs * Rr / (Rs + Rr)
    table = _pwl_table(tree.root, Rp, spec.wave, (spec.table_range_log2, octaves, segments_log2))
    return dataclasses.replace(spec, table_octaves=octaves, segments_log2=segments_log2,
                               table=table)


def quantise_wdf(tree: WdfTree, *, target_snr_db: float | None = None,
                 word_length: int | None = None, int_bits: int = 4, guard_bits: int = 4,
                 rounding: Rounding = Rounding.NEAREST, overflow: Overflow = Overflow.SATURATE,
                 test_signal: np.ndarray | None = None) -> WdfFixed:
    """Fixed-point form of a clipper-class ``tree``.

    ``word_length`` is the width of the input and output samples (``int_bits``
    of them integer bits, sign included: 20 with ``int_bits=4`` is Q3.16);
    waves inside carry ``guard_bits`` more fraction bits, so the filter's own
    rounding stays below the output's.  ``target_snr_db`` instead picks the
    shortest word length (12–32 bits) whose measured SNR against float64
    (:func:`fixed_snr_db` on ``test_signal``, default 0.1 s of a 1 V-peak
    :func:`multitone`) reaches the target.  Neither:
    :data:`~bitwave.ir.wdf.DEFAULT_WORD_LENGTH`.  The adaptor coefficient gets as many
    fraction bits as the waves are wide; the PWL root gets octave zones from
    the diode's knee up and the fewest segments per zone (2**3 to 2**9) whose
    error is below a quarter of an output LSB.
    """
    owner = "quantise_wdf"
    if not isinstance(tree, WdfTree):
        raise PassError(f"{owner}: expected a WdfTree, not {type(tree).__name__}")
    if target_snr_db is not None and word_length is not None:
        raise PassError(f"{owner}: give target_snr_db or word_length, not both")
    if isinstance(int_bits, bool) or not isinstance(int_bits, int) or not 2 <= int_bits <= 16:
        raise PassError(f"{owner}: int_bits must be an integer in [2, 16], not {int_bits!r}")
    if isinstance(guard_bits, bool) or not isinstance(guard_bits, int) or not 0 <= guard_bits <= 16:
        raise PassError(f"{owner}: guard_bits must be an integer in [0, 16], not {guard_bits!r}")
    if word_length is not None:
        if isinstance(word_length, bool) or not isinstance(word_length, int) or not 4 <= word_length <= 40:
            raise PassError(f"{owner}: word_length must be an integer in [4, 40], "
                            f"not {word_length!r}")
        return _spec_for(tree, word_length, int_bits, guard_bits, rounding, overflow, owner)
    if target_snr_db is None:
        return _spec_for(tree, DEFAULT_WORD_LENGTH, int_bits, guard_bits, rounding, overflow, owner)
    if not isinstance(target_snr_db, (int, float)) or not 0 < target_snr_db < 200:
        raise PassError(f"{owner}: target_snr_db must be a number in (0, 200), "
                        f"not {target_snr_db!r}")
    x = multitone(tree.fs, int(tree.fs / 10)) if test_signal is None else test_signal
    best = None
    for wl in range(max(12, int_bits + 1), 33):
        spec = _spec_for(tree, wl, int_bits, guard_bits, rounding, overflow, owner)
        snr = fixed_snr_db(spec, tree, x)
        best = (wl, snr)
        if snr >= target_snr_db:
            return spec
    raise PassError(f"{owner}: no word length up to 32 bits reaches {target_snr_db} dB "
                    f"(32 bits: {best[1]:.1f} dB, limited by the PWL root table of at most "
                    f"2**9 segments per zone); lower the target")


# ---------------------------------------------------------------------------------------------
# The pass


class QuantiseWdf(Pass, name="quantise-wdf"):
    """Fixed-point formats and root tables for float ``Wdf`` ops (see the module docstring)."""
    target_snr_db: float | None = None
    word_length: int | None = None
    int_bits: int = 4
    guard_bits: int = 4

    def __post_init__(self):
        if self.target_snr_db is not None and self.word_length is not None:
            raise PassError("quantise-wdf: give target_snr_db or word_length, not both")

    def run(self, graph: Graph) -> Graph:
        verify(graph)
        return Graph(tuple(self._quantise(op) if isinstance(op, Wdf) and not op.is_fixed else op
                           for op in graph.ops))

    def _quantise(self, op: Wdf) -> Wdf:
        trees = op.trees()
        opts = dict(int_bits=self.int_bits, guard_bits=self.guard_bits)
        try:
            specs = [quantise_wdf(t, target_snr_db=self.target_snr_db,
                                  word_length=self.word_length, **opts) for t in trees]
            width = max(s.output.width for s in specs)
            specs = [s if s.output.width == width else quantise_wdf(t, word_length=width, **opts)
                     for s, t in zip(specs, trees)]
            octaves = max(s.table_octaves for s in specs)
            seg = max(s.segments_log2 for s in specs)
            specs = [s if (s.table_octaves, s.segments_log2) == (octaves, seg)
                     else with_table_grid(s, t, octaves, seg) for s, t in zip(specs, trees)]
        except PassError as e:
            raise PassError(f"quantise-wdf: {op.where}: {e}") from None
        first = specs[0]
        test = multitone(op.fs, int(op.fs / 10))
        snr = min(fixed_snr_db(s, t, test) for s, t in zip(specs, trees))
        note(self.name, f"{op.where}: {op.channels} channel(s), output {first.output}, waves "
                        f"{first.wave}, root table {len(first.table)} entries "
                        f"({first.table_octaves} zones of 2**{first.segments_log2}); "
                        f"SNR vs float64 {snr:.1f} dB (1 V multitone, worst channel)")
        return op.replace(layout=WdfLayout(
            wave=first.wave, out=first.output,
            coeff=np.array([s.coeff for s in specs], dtype=np.int64),
            coeff_frac=first.coeff_frac, table_range_log2=first.table_range_log2,
            table_octaves=octaves, segments_log2=seg,
            table=np.array([s.table for s in specs], dtype=np.int64)))
