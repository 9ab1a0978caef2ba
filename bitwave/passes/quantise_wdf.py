"""``quantise-wdf``: a trained float WDF becomes its bit-exact fixed-point form.

Every ``Wdf`` op still in float form (as the frontend imports a trainable
layer) gets wave, output and coefficient formats and a piecewise-quadratic
diode root table from :func:`quantise_wdf`: the word length is ``word_length`` if
given, else the shortest reaching ``target_snr_db`` against float64, else
:data:`~bitwave.ir.wdf.DEFAULT_WORD_LENGTH`.  The channels of one op share one
layout (the hardware runs them side by side), so they all get the longest
word length any channel needs and the finest table grid.  Ops already in fixed
form are left alone, so the pass may run twice.  A float ``Wdf`` read only by a
``Quant`` to signed power-of-two-scaled codes (how a graph asks for the codes the
layers after the filter read) gets that ``Quant``'s format as its output format
and the ``Quant`` goes: the fixed-point filter produces those codes itself.

The word-length search itself works on one :class:`~bitwave.ir.wdf.WdfTree`
(:func:`quantise_wdf`, :func:`with_table_grid`), measured by
:func:`fixed_snr_db` on :func:`plucked_notes`; the specification it produces and
its golden model live in :mod:`bitwave.ir.wdf`.
"""

from __future__ import annotations

import dataclasses
import math
import numpy as np

from ..errors import PassError
from ..ir import Fixed, Graph, Int, Overflow, Quant, Rounding, Wdf, WdfLayout, verify
from ..ir.wdf import (DEFAULT_WORD_LENGTH, AsymmetricDiodePair, Capacitor, Diode, DiodePair, Inductor, Parallel, Probe,
                      Inverter, ResistiveSource, Series, WdfFixed, WdfProgram, WdfTree,
                      asymmetric_pair_reflect, compile_tree, diode_pair_reflect, run_program,
                      diode_reflect, port_resistance, pwl_breakpoints, run_fixed, simulate)
from ._manager import Pass, note

__all__ = ["QuantiseWdf", "quantise_wdf", "quantise_tree", "with_table_grid", "fixed_snr_db", "snr_db", "multitone",
           "plucked_notes", "root_table_error"]


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


def _curvatures(f, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per segment, four times the gap between ``f`` and the chord at the midpoint (volts)."""
    return 4.0 * (f(0.5 * (a[:-1] + a[1:])) - 0.5 * (b[:-1] + b[1:]))


def _halves(root, Rp: float) -> list:
    """``b`` of the root as functions of ``|a|`` (volts), one per table half."""
    Is, Vt = root.Is, root.n * root.Vt
    if isinstance(root, DiodePair):
        return [lambda m: diode_pair_reflect(m, Rp, Is, Vt)]
    if isinstance(root, AsymmetricDiodePair):
        args = (Rp, Is, Vt, root.Is2, root.n2 * root.Vt2)
        return [lambda m: asymmetric_pair_reflect(m, *args),
                lambda m: asymmetric_pair_reflect(-m, *args)]
    return [lambda m: diode_reflect(m, Rp, Is, Vt), lambda m: diode_reflect(-m, Rp, Is, Vt)]


def _root_table(root, Rp: float, wave: Fixed, grid: tuple[int, int, int]):
    """The root table (per half: values, then curvatures; see ``bitwave.ir.wdf._fixed_root``)
    of a diode pair (one half, odd symmetry) or a single diode or an asymmetric pair (two halves), in codes."""
    a = pwl_breakpoints(*grid)
    volts = []
    for f in _halves(root, Rp):
        b = f(a)
        volts += [b, _curvatures(f, a, b)]
    codes = np.clip(np.floor(np.concatenate(volts) * 2.0 ** wave.frac_bits + 0.5),
                    wave.min, wave.max)
    return tuple(int(c) for c in codes)


def root_table_error(root, Rp: float, range_log2: int, octaves: int,
                     segments_log2: int, *, quadratic: bool = True) -> float:
    """Largest error (volts) in ``b`` of the unquantised root table, at port resistance ``Rp``.

    ``root`` is a DiodePair, a Diode or an AsymmetricDiodePair.  Sampled at nine points inside every
    segment of every half; ``quadratic=False`` measures the plain
    piecewise-linear table (the chords) on the same grid.
    """
    a = pwl_breakpoints(range_log2, octaves, segments_log2)
    worst = 0.0
    for f in _halves(root, Rp):
        b = f(a)
        c = _curvatures(f, a, b) if quadratic else np.zeros(len(a) - 1)
        for u in np.linspace(0.1, 0.9, 9):
            approx = b[:-1] + u * (b[1:] - b[:-1]) + c * u * (1 - u)
            exact = f(a[:-1] + u * (a[1:] - a[:-1]))
            worst = max(worst, float(np.max(np.abs(approx - exact))))
    return worst


def _table_grid(root, Rp: float, wave: Fixed, int_bits: int, lsb: float) -> tuple[int, int, int]:
    """(range_log2, octaves, segments_log2) of the root table: zone 0 ends near the diode's knee
    (≈ 10·n·Vt), below which b(a) is almost straight; above it the curvature decays by octaves.
    Segments per zone: the fewest (2**2 to 2**9) whose error stays under ``lsb / 4``."""
    range_log2 = int_bits - 1
    Vt = min(root.n * root.Vt, getattr(root, "n2", 1.0) * getattr(root, "Vt2", math.inf))
    knee_log2 = min(range_log2, max(range_log2 - 10, round(math.log2(10 * Vt)),
                                    -wave.frac_bits))
    octaves = range_log2 - knee_log2 + 1
    # Segments narrower than one wave code are meaningless (and refused by WdfFixed).
    most = min(9, range_log2 + wave.frac_bits - octaves + 1)
    seg_log2 = min(2, most)
    while (seg_log2 < most
           and root_table_error(root, Rp, range_log2, octaves, seg_log2) > lsb / 4):
        seg_log2 += 1
    return range_log2, octaves, seg_log2


def plucked_notes(fs: float, n: int, *, seed: int = 0, peak: float = 3.0) -> np.ndarray:
    """``n`` samples of Karplus–Strong plucked notes (E2 to D#5) at random levels up to ``peak`` V.

    Each note is a one-period noise burst recirculated through a delay line of
    one period with a two-tap average (a string losing its highs as it rings),
    lasting 0.1–0.4 s; levels are uniform in ``[0.1, 1]·peak``.  Signals of
    different ``seed`` are independent: the word-length search uses seed 0, the
    tests and benchmarks hold out another seed.
    """
    from scipy.signal import lfilter
    rng = np.random.default_rng(seed)
    parts, total = [], 0
    while total < n:
        period = max(2, int(round(fs / (82.41 * 2.0 ** (rng.integers(0, 36) / 12)))))
        burst = np.zeros(int(rng.uniform(0.1, 0.4) * fs))
        burst[:period] = rng.uniform(-1.0, 1.0, period)
        loop = np.zeros(period + 2)
        loop[0], loop[period], loop[period + 1] = 1.0, -0.498, -0.498
        note = lfilter([1.0], loop, burst)
        parts.append(rng.uniform(0.1, 1.0) * peak * note / np.max(np.abs(note)))
        total += len(note)
    return np.concatenate(parts)[:n]


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


def fixed_snr_db(spec: WdfFixed | WdfProgram, tree: WdfTree, x: np.ndarray) -> float:
    """SNR (dB) of :func:`run_fixed` (or :func:`run_program`) against the float64
    :func:`simulate` on volts ``x``.

    Both see the same input: ``x`` quantised to ``spec.input``; the float model
    gets the dequantised values, so the figure counts only the filter's own
    fixed-point error (wave rounding, coefficient and root table).
    """
    inp = spec.input
    codes = np.clip(np.floor(np.asarray(x, dtype=np.float64) * 2.0 ** inp.frac_bits + 0.5),
                    inp.min, inp.max).astype(np.int64)
    ref = simulate(tree, codes * 2.0 ** -inp.frac_bits)
    run = run_program if isinstance(spec, WdfProgram) else run_fixed
    return snr_db(ref, run(spec, codes) * 2.0 ** -spec.output.frac_bits)


def snr_db(ref: np.ndarray, got: np.ndarray) -> float:
    """SNR (dB) of ``got`` against ``ref`` (inf when they are equal)."""
    noise = np.sum((got - ref) ** 2)
    return float("inf") if noise == 0 else float(10 * np.log10(np.sum(ref ** 2) / noise))


def _probe_shares_root_voltage(tree: WdfTree) -> bool:
    """Is the probed port's voltage ± the root's (only parallel adaptors and inverters between)?"""
    if tree.probe is None or tree.probe == tree.root.name:
        return True

    def path(node):
        if node.name == tree.probe:
            return True
        if isinstance(node, Parallel):
            return path(node.a) or path(node.b)
        return isinstance(node, Inverter) and path(node.child)
    return path(tree.tree)


def _output_int_bits(tree: WdfTree, int_bits: int) -> int:
    """Integer bits (sign included) of the output: fewer than the input's where the probed
    voltage is provably bounded.

    A diode pair's voltage at the largest incident wave the waves can carry
    bounds the root's port voltage, and parallel adaptors give their ports that
    voltage; any other probe keeps the input's range.
    """
    if not (isinstance(tree.root, DiodePair) and _probe_shares_root_voltage(tree)):
        return int_bits
    a = 2.0 ** (int_bits - 1)
    root, Rp = tree.root, port_resistance(tree.tree, tree.fs)
    v = 0.5 * (a + diode_pair_reflect(a, Rp, root.Is, root.n * root.Vt))
    return min(int_bits, max(1, math.floor(math.log2(v)) + 2))


def _formats(tree: WdfTree, word_length: int, int_bits: int, guard_bits: int,
             rounding: Rounding, overflow: Overflow, owner: str,
             out_int_bits: int | None = None) -> tuple[Fixed, Fixed, Fixed]:
    """(input, output, wave) formats (see :func:`quantise_wdf`)."""
    if word_length <= int_bits:
        raise PassError(f"{owner}: word_length {word_length} leaves no fraction bits with "
                        f"int_bits={int_bits}; use at least {int_bits + 1}")
    if out_int_bits is None:
        out_int_bits = _output_int_bits(tree, int_bits)
    io = Fixed(int_bits, word_length - int_bits, rounding=rounding, overflow=overflow)
    out = Fixed(out_int_bits, word_length - out_int_bits, rounding=rounding, overflow=overflow)
    wave = Fixed(int_bits, out.frac_bits + guard_bits, rounding=rounding, overflow=overflow)
    return io, out, wave


def _spec_for(tree: WdfTree, word_length: int, int_bits: int, guard_bits: int,
              rounding: Rounding, overflow: Overflow, owner: str,
              out_int_bits: int | None = None) -> WdfFixed:
    t, src, rea, probe = _clipper_parts(tree, owner)
    io, out, wave = _formats(tree, word_length, int_bits, guard_bits, rounding, overflow, owner,
                             out_int_bits)
    series = isinstance(t, Series)
    Rp = port_resistance(t, tree.fs)
    Rs, Rr = port_resistance(src, tree.fs), port_resistance(rea, tree.fs)
    gamma = Rs / (Rs + Rr) if series else Rr / (Rs + Rr)
    coeff_frac = wave.width
    range_log2, octaves, seg_log2 = grid = _table_grid(tree.root, Rp, wave, int_bits, out.lsb)
    table = _root_table(tree.root, Rp, wave, grid)
    return WdfFixed(series=series, inductor=isinstance(rea, Inductor), probe=probe,
                    input=io, wave=wave, output=out,
                    coeff=int(round(gamma * (1 << coeff_frac))), coeff_frac=coeff_frac,
                    table_range_log2=range_log2, table_octaves=octaves, segments_log2=seg_log2,
                    table=table, fs=tree.fs)


def with_table_grid(spec: WdfFixed, tree: WdfTree, octaves: int, segments_log2: int) -> WdfFixed:
    """``spec`` (made by :func:`quantise_wdf` for ``tree``) with its root table on another grid.

    For filters that must share one table layout (the channels of one IR op):
    a finer grid than the one chosen for ``tree`` only makes the table more accurate.
    """
    t, _, _, _ = _clipper_parts(tree, "with_table_grid")
    table = _root_table(tree.root, port_resistance(t, tree.fs), spec.wave,
                        (spec.table_range_log2, octaves, segments_log2))
    return dataclasses.replace(spec, table_octaves=octaves, segments_log2=segments_log2,
                               table=table)


def quantise_wdf(tree: WdfTree, *, target_snr_db: float | None = None,
                 word_length: int | None = None, int_bits: int = 4, guard_bits: int = 4,
                 rounding: Rounding = Rounding.NEAREST, overflow: Overflow = Overflow.SATURATE,
                 test_signal: np.ndarray | None = None) -> WdfFixed:
    """Fixed-point form of a clipper-class ``tree``.

    ``word_length`` is the width of the input and output samples.  The input
    has ``int_bits`` integer bits, sign included (20 with ``int_bits=4`` is
    Q3.16); the output as few as the probed voltage provably needs (a diode
    pair's voltage, also seen through parallel adaptors, stays under 1 V for
    the usual diodes, so the clipper's output is Q0.19 at 20 bits), else
    ``int_bits``.  Waves inside carry ``guard_bits`` more fraction bits than the
    output, so the filter's own rounding stays below the output's.
    ``target_snr_db`` instead picks the shortest word length (12–32 bits) whose
    measured SNR against float64 (:func:`fixed_snr_db` on ``test_signal``,
    default 0.2 s of 3 V-peak :func:`plucked_notes`, seed 0) reaches the
    target.  Neither: :data:`~bitwave.ir.wdf.DEFAULT_WORD_LENGTH`.  The adaptor
    coefficient gets as many fraction bits as the waves are wide; the root
    table gets octave zones from the diode's knee up and the fewest segments
    per zone (2**2 to 2**9) whose interpolation error is below a quarter of an
    output LSB.  ``rounding`` applies to every product and conversion:
    ``Rounding.MAGNITUDE`` (toward zero) costs SNR but never adds energy, so
    the filter stays passive.
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
    x = plucked_notes(tree.fs, int(tree.fs / 5)) if test_signal is None else test_signal
    best = None
    for wl in range(max(12, int_bits + 1), 33):
        spec = _spec_for(tree, wl, int_bits, guard_bits, rounding, overflow, owner)
        snr = fixed_snr_db(spec, tree, x)
        best = (wl, snr)
        if snr >= target_snr_db:
            return spec
    raise PassError(f"{owner}: no word length up to 32 bits reaches {target_snr_db} dB "
                    f"(32 bits: {best[1]:.1f} dB, limited by the root table of at most "
                    f"2**9 segments per zone); lower the target")


def quantise_tree(tree: WdfTree, *, word_length: int = DEFAULT_WORD_LENGTH, int_bits: int = 4,
                  guard_bits: int = 4, rounding: Rounding = Rounding.NEAREST,
                  overflow: Overflow = Overflow.SATURATE) -> WdfProgram:
    """Fixed-point form of any ``tree`` as a :class:`~bitwave.ir.wdf.WdfProgram`.

    Formats as :func:`quantise_wdf` chooses them (input Q(int_bits−1).f of
    ``word_length`` bits, the output narrowed where a diode pair bounds the
    probed voltage, waves ``guard_bits`` finer than the output, coefficients as
    many fraction bits as the waves are wide); a diode or diode-pair root gets
    the piecewise-quadratic table :func:`quantise_wdf` would build for it.
    """
    owner = "quantise_tree"
    if not isinstance(tree, WdfTree):
        raise PassError(f"{owner}: expected a WdfTree, not {type(tree).__name__}")
    for what, value, lo, hi in (("word_length", word_length, 4, 40), ("int_bits", int_bits, 2, 16),
                                ("guard_bits", guard_bits, 0, 16)):
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise PassError(f"{owner}: {what} must be an integer in [{lo}, {hi}], not {value!r}")
    io, out, wave = _formats(tree, word_length, int_bits, guard_bits, rounding, overflow, owner)
    grid, table = (0, 1, 0), ()
    if isinstance(tree.root, (Diode, DiodePair, AsymmetricDiodePair)):
        Rp = port_resistance(tree.tree, tree.fs)
        grid = _table_grid(tree.root, Rp, wave, int_bits, out.lsb)
        table = _root_table(tree.root, Rp, wave, grid)
    return compile_tree(tree, input=io, wave=wave, output=out, coeff_frac=wave.width,
                        table_grid=grid, table=table)


# ---------------------------------------------------------------------------------------------
# The pass


def _output_quant(graph: Graph, op: Wdf) -> Quant | None:
    """The ``Quant`` that alone reads float ``op`` when it asks for fixed-point codes the filter
    can produce itself (signed Int, one power-of-two scale ``2**-f``, ``f >= 0``, at least
    one integer bit): the pass then makes that the filter's output format and drops it."""
    readers = graph.consumers(op.name)
    if len(readers) != 1 or not isinstance(readers[0], Quant):
        return None
    q = readers[0]
    scales = np.unique(q.scale.array)
    f = -math.log2(float(scales[0])) if len(scales) == 1 else math.nan
    fits = (q.act is None and not q.narrow and isinstance(q.fmt, Int) and q.fmt.signed
            and f == round(f) and 0 <= f < q.fmt.width and q.fmt.width <= 40)
    return q if fits else None


def _rewired(op, renamed: dict):
    """``op`` reading the new names of the ops it read."""
    fields = {k: renamed[getattr(op, k)] for k in ("input", "other")
              if getattr(op, k, None) in renamed}
    return op.replace(**fields) if fields else op


class QuantiseWdf(Pass, name="quantise-wdf"):
    """Fixed-point formats and root tables for float ``Wdf`` ops (see the module docstring)."""
    target_snr_db: float | None = None
    word_length: int | None = None
    int_bits: int = 4
    guard_bits: int = 4
    #: ``nearest``, ``truncate`` or ``magnitude`` (toward zero: passive, ~6 dB less SNR).
    rounding: str = "nearest"

    def __post_init__(self):
        if self.target_snr_db is not None and self.word_length is not None:
            raise PassError("quantise-wdf: give target_snr_db or word_length, not both")
        known = [r.value for r in Rounding]
        if self.rounding not in known:
            raise PassError(f"quantise-wdf: rounding must be one of {known}, not "
                            f"{self.rounding!r}")

    def run(self, graph: Graph) -> Graph:
        verify(graph)
        ops, renamed = [], {}
        for op in graph.ops:
            if isinstance(op, Wdf) and not op.is_fixed:
                quant = _output_quant(graph, op)
                op = self._quantise(op, quant)
                if quant is not None:
                    renamed[quant.name] = op.name
            elif op.name in renamed:
                continue
            ops.append(_rewired(op, renamed))
        return Graph(tuple(ops))

    def _quantise(self, op: Wdf, quant: Quant | None) -> Wdf:
        trees = op.trees()
        rounding = Rounding(self.rounding)
        opts = dict(int_bits=self.int_bits, guard_bits=self.guard_bits, rounding=rounding)
        try:
            if quant is not None:
                width, frac = quant.fmt.width, -round(math.log2(float(quant.scale.array.flat[0])))
                specs = [_spec_for(t, width, self.int_bits, self.guard_bits, rounding,
                                   Overflow.SATURATE, "quantise_wdf", out_int_bits=width - frac)
                         for t in trees]
            else:
                specs = [quantise_wdf(t, target_snr_db=self.target_snr_db,
                                      word_length=self.word_length, **opts) for t in trees]
            width = max(s.output.width for s in specs)
            out_int = max(s.output.int_bits for s in specs)
            specs = [s if (s.output.width, s.output.int_bits) == (width, out_int)
                     else _spec_for(t, width, self.int_bits, self.guard_bits, rounding,
                                    Overflow.SATURATE, "quantise_wdf", out_int_bits=out_int)
                     for s, t in zip(specs, trees)]
            octaves = max(s.table_octaves for s in specs)
            seg = max(s.segments_log2 for s in specs)
            specs = [s if (s.table_octaves, s.segments_log2) == (octaves, seg)
                     else with_table_grid(s, t, octaves, seg) for s, t in zip(specs, trees)]
        except PassError as e:
            raise PassError(f"quantise-wdf: {op.where}: {e}") from None
        first = specs[0]
        test = plucked_notes(op.fs, int(op.fs / 10), seed=1)
        snr = min(fixed_snr_db(s, t, test) for s, t in zip(specs, trees))
        note(self.name, f"{op.where}: {op.channels} channel(s), output {first.output}, waves "
                        f"{first.wave}, root table {len(first.table)} entries "
                        f"({first.table_octaves} zones of 2**{first.segments_log2} segments, "
                        f"values and curvatures); SNR vs float64 {snr:.1f} dB (plucked notes, "
                        f"worst channel)")
        return op.replace(layout=WdfLayout(
            wave=first.wave, out=first.output,
            coeff=np.array([s.coeff for s in specs], dtype=np.int64),
            coeff_frac=first.coeff_frac, table_range_log2=first.table_range_log2,
            table_octaves=octaves, segments_log2=seg,
            table=np.array([s.table for s in specs], dtype=np.int64)))
