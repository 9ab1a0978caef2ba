"""``quantise-wdf``: a trained float WDF becomes its bit-exact fixed-point form.

Every ``Wdf`` op still in float form (as the frontend imports a trainable
layer) gets wave, output and coefficient formats and a piecewise-linear diode
root table from :func:`bitwave.ir.wdf.quantise_wdf`: the word length is
``word_length`` if given, else the shortest reaching ``target_snr_db`` against
float64, else :data:`~bitwave.ir.wdf.DEFAULT_WORD_LENGTH`.  The channels of one
op share one layout (the hardware runs them side by side), so they all get the
longest word length any channel needs and the finest table grid.  Ops already
in fixed form are left alone, so the pass may run twice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import PassError
from ..ir import Graph, Wdf, verify
from ..ir.wdf import fixed_snr_db, multitone, quantise_wdf, with_table_grid
from ._manager import Pass, note, register

__all__ = ["QuantiseWdf"]


@register
@dataclass(frozen=True)
class QuantiseWdf(Pass):
    """Fixed-point formats and root tables for float ``Wdf`` ops (see the module docstring)."""
    name = "quantise-wdf"
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
        return op.replace(wave=first.wave, out=first.output,
                          coeff=np.array([s.coeff for s in specs], dtype=np.int64),
                          coeff_frac=first.coeff_frac, table_range_log2=first.table_range_log2,
                          table_octaves=octaves, segments_log2=seg,
                          table=np.array([s.table for s in specs], dtype=np.int64))
