"""``fold``: choose per-layer parallelism (``pe`` rows, ``simd`` columns).

A MatVec takes (rows/pe)·(cols/simd) cycles per vector; a convolution takes
that per output position, so a frame costs positions·(rows/pe)·(cols/simd).  With no option every
layer is fully folded (pe = simd = 1: smallest, slowest).  With
``target_cycles`` (or ``target_fps`` at ``clock_mhz``) each layer gets the
cheapest (pe, simd) — fewest parallel multipliers, then fewest pe, since
every pe costs a comparator bank — that meets the target; ``pe``/``simd``
lists set them explicitly, one entry per MatVec in order (FINN style).
"""

from __future__ import annotations

from ..errors import PassError
from ..ir import Graph, MatVec, verify
from ._manager import Pass

__all__ = ["Fold", "divisors", "choose_folding"]


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def choose_folding(rows: int, cols: int, target_cycles: int) -> tuple[int, int]:
    """Cheapest (pe, simd) with (rows/pe)·(cols/simd) <= target_cycles."""
    best = None
    for pe in divisors(rows):
        for simd in divisors(cols):
            if (rows // pe) * (cols // simd) <= target_cycles:
                key = (pe * simd, pe)
                if best is None or key < best[0]:
                    best = (key, pe, simd)
    if best is None:   # target below one cycle: fully parallel is the best we can do
        return rows, cols
    return best[1], best[2]


class Fold(Pass, name="fold"):
    """Set pe/simd per MatVec from a throughput target or explicit lists."""
    target_cycles: int | None = None
    target_fps: float | None = None
    clock_mhz: float = 100.0
    pe: tuple[int, ...] | None = None
    simd: tuple[int, ...] | None = None

    def __post_init__(self):
        if self.target_cycles is not None and self.target_cycles < 1:
            raise PassError(f"fold: target_cycles must be >= 1, not {self.target_cycles}")
        if self.target_fps is not None and self.target_fps <= 0:
            raise PassError(f"fold: target_fps must be positive, not {self.target_fps}")
        if (self.pe is None) != (self.simd is None):
            raise PassError("fold: give both pe and simd lists, or neither")

    def run(self, graph: Graph) -> Graph:
        mvs = [op for op in graph.ops if isinstance(op, MatVec)]
        if self.pe is not None:
            if len(self.pe) != len(mvs) or len(self.simd) != len(mvs):
                raise PassError(f"fold: pe/simd lists have {len(self.pe)}/{len(self.simd)} entries "
                                f"but the graph has {len(mvs)} MatVec layers "
                                f"({', '.join(op.name for op in mvs)})")
            choice = {op.name: (p, s) for op, p, s in zip(mvs, self.pe, self.simd)}
            for op in mvs:
                p, s = choice[op.name]
                if op.rows % p or op.cols % s:
                    raise PassError(f"fold: {op.where}: pe={p} must divide rows={op.rows} and "
                                    f"simd={s} must divide cols={op.cols}; divisors of {op.rows}: "
                                    f"{divisors(op.rows)}, of {op.cols}: {divisors(op.cols)}")
        else:
            target = self.target_cycles
            if self.target_fps is not None:
                target = max(1, int(self.clock_mhz * 1e6 // self.target_fps))
            types = verify(graph)
            # A convolution runs its MatVec once per output position (a CausalConv once per
            # sample, which is its frame).
            per = {op.name: None if target is None else max(1, target // types[op.name].positions)
                   for op in mvs}
            choice = {op.name: ((1, 1) if per[op.name] is None
                                else choose_folding(op.rows, op.cols, per[op.name]))
                      for op in mvs}
        return Graph(tuple(op.replace(pe=choice[op.name][0], simd=choice[op.name][1])
                           if isinstance(op, MatVec) else op for op in graph.ops))
