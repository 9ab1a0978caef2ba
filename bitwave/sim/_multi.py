"""Many independent stream designs in one Verilator build, driven by one C++ harness.

A Verilator build costs tens of seconds, most of it compiling Verilator's own
runtime (``verilated.cpp``) and the harness, not the design.  The fuzzer needs
hundreds of small designs, so :class:`MultiStreamSim` puts K of them side by
side in one Amaranth wrapper (``m{k}_sink``/``m{k}_source`` per design), emits
one Verilog file and builds one harness (``multi_harness.cpp``) that streams
every design's own inputs through it at the same time, each with its own random stalls on input
valid and output ready.  Per design it reports the outputs, how many frames
came out and how many extra beats appeared after the last expected one
(a duplicated frame), so "nothing lost, nothing duplicated" is checked too.

A design's frame may be several beats (``StreamFormat.beats``, a pixel per
beat), on each side its own: as :class:`~bitwave.sim.StreamSim` does for one
design, :meth:`MultiStreamSim.run` splits each design's frames into beats, the
harness moves beats only, and the output beats are grouped into frames again.

Builds stay cheap because :func:`~bitwave.sim._build.verilate` reuses
Verilator's compiled runtime and caches whole builds by content.
"""

from __future__ import annotations

import json
import struct
import tempfile
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Sequence

import numpy as np
from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..errors import SimMismatchError
from ..hdl import StreamFormat, emit_verilog
from ..tools import run_tool
from ._build import verilate
from ._verilator import verilator_argv

__all__ = ["MultiStreamSim", "StreamOutcome", "MULTI_TOP"]

MULTI_TOP = "bitwave_multi"

# Verilator flags shared by every multi build; the C++ optimisation level is the
# main build-time/run-time trade-off (fuzz designs are small and run briefly).
# -fno-merge-cond: that one optimisation took two thirds of the verilation time of a
# 20-design bundle (20 s of 30 s) and barely changes the simulation speed.
_VERILATOR_FLAGS = ["-O3", "-fno-merge-cond", "--x-assign", "fast",
                    "--x-initial", "fast", "--noassert", "-Wno-fatal", "-Wno-lint", "-Wno-style"]


def _payload_shape(component, port):
    return component.signature.members[port].signature.members["payload"].shape


class _Bundle(wiring.Component):
    """K stream components side by side, with ports ``m{k}_sink`` and ``m{k}_source``."""

    def __init__(self, units):
        self.units = tuple(units)
        members = {}
        for k, unit in enumerate(self.units):
            members[f"m{k}_sink"] = In(stream.Signature(_payload_shape(unit, "sink")))
            members[f"m{k}_source"] = Out(stream.Signature(_payload_shape(unit, "source")))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        for k, unit in enumerate(self.units):
            m.submodules[f"m{k}"] = unit
            wiring.connect(m, wiring.flipped(getattr(self, f"m{k}_sink")), unit.sink)
            wiring.connect(m, unit.source, wiring.flipped(getattr(self, f"m{k}_source")))
        return m


def _designs_header(ports: Sequence[tuple[StreamFormat, StreamFormat]]) -> str:
    """multi_harness.cpp's per-build header: how many designs, their payload words, and
    BW_DESIGNS(X), which names every design's ports at compile time."""
    return (f"#define BW_K {len(ports)}\n"
            f"#define BW_IN_WORDS {', '.join(str(i.words) for i, _ in ports)}\n"
            f"#define BW_OUT_WORDS {', '.join(str(o.words) for _, o in ports)}\n"
            f"#define BW_DESIGNS(X) {' '.join(f'X({k})' for k in range(len(ports)))}\n")


@dataclass(frozen=True)
class StreamOutcome:
    """What came out of one design of a multi run; counts are in frames, except the beat counts."""
    outputs: np.ndarray      # (received, source.frame_elems) int64, in order of arrival
    sent: int                # whole frames the design accepted
    received: int            # whole expected frames that came out (at most the number sent in)
    extra: int               # output beats beyond the expected number (duplicates)
    done_cycle: int          # cycle of the last expected output beat (0 if it never came)
    sent_beats: int = 0
    received_beats: int = 0


@dataclass
class MultiStreamSim:
    """One Verilator build holding K independent ``sink``→``source`` designs."""
    exe: Path
    ports: list[tuple[StreamFormat, StreamFormat]]
    build_seconds: float
    emit_seconds: float
    cached: bool

    @classmethod
    def build(cls, designs: Sequence, *, opt: str = "-O1", jobs: int = 2,
              log_dir: Path | None = None, on_line=None) -> "MultiStreamSim":
        """Build ``designs`` (objects with ``top``, ``sink`` and ``source``, e.g.
        :class:`~bitwave.lower.Lowered`) into one simulator; cached by content hash."""
        if not designs:
            raise SimMismatchError("MultiStreamSim.build: no designs to build; pass at least one "
                                   "object with top, sink and source")
        ports = [(d.sink, d.source) for d in designs]
        t0 = time.monotonic()
        verilog = emit_verilog(_Bundle([d.top for d in designs]), name=MULTI_TOP)
        emit_seconds = time.monotonic() - t0
        here = resources.files(__package__)
        built = verilate("multi", {f"{MULTI_TOP}.v": verilog, "multi_designs.h": _designs_header(ports)},
                         [here / "harness_io.h", here / "multi_harness.cpp"], top=MULTI_TOP,
                         flags=_VERILATOR_FLAGS, verilator=verilator_argv(), jobs=jobs,
                         make_flags=[f"OPT_FAST={opt}", f"OPT_SLOW={opt}", f"OPT_GLOBAL={opt}"],
                         log_dir=log_dir, on_line=on_line)
        return cls(built.exe, ports, built.seconds, emit_seconds, built.cached)

    def run(self, inputs: Sequence[np.ndarray], *, stall_in: float | Sequence[float] = 0.0,
            stall_out: float | Sequence[float] = 0.0, seeds: int | Sequence[int] = 1,
            max_cycles: int | None = None, drain: int = 256) -> tuple[list[StreamOutcome], dict]:
        """Stream ``inputs[k]`` (N_k × ``sink.frame_elems`` integers as on the wire, one row
        per frame) through design k as N_k·``sink.beats`` beats; wait for N_k·``source.beats``.

        Each design has its own stall probabilities and its own stall random
        generator (seeded by ``seeds[k]``), so its stall pattern does not depend
        on which other designs share the build.  After the last expected output
        every design is clocked ``drain`` more cycles with ready high; an output
        then counts as ``extra``.  Returns one :class:`StreamOutcome` per design
        (whole output frames; a frame cut short is left out) and run statistics.
        """
        k = len(self.ports)
        if len(inputs) != k:
            raise SimMismatchError(f"MultiStreamSim.run: {len(inputs)} input sets for {k} designs; "
                                   "pass one (N, frame_elems) array per design, in build order")

        def per_design(v):
            return [v] * k if np.isscalar(v) else list(v)

        p_in, p_out, seeds = per_design(stall_in), per_design(stall_out), per_design(seeds)
        arrays = []
        for i, (x, (in_port, _)) in enumerate(zip(inputs, self.ports)):
            x = np.asarray(x, dtype=np.int64)
            if x.ndim != 2 or x.shape[1] != in_port.frame_elems:
                beats = "" if in_port.beats == 1 else f" ({in_port.beats} beats of {in_port.elems})"
                raise SimMismatchError(f"MultiStreamSim.run: design {i} takes (N, {in_port.frame_elems}) "
                                       f"input codes{beats}, not an array of shape {x.shape}; pass one "
                                       "row per frame")
            arrays.append(x)
        if max_cycles is None:
            max_cycles = 100_000 + 100_000 * max(len(x) for x in arrays)
        header = b"".join(struct.pack("<QQQdd", len(x) * i.beats, len(x) * o.beats, int(s), float(a),
                                      float(b))
                          for x, (i, o), s, a, b in zip(arrays, self.ports, seeds, p_in, p_out))
        with tempfile.TemporaryDirectory(prefix="bitwave-multi-") as tmp:
            fin, fout = Path(tmp) / "in.bin", Path(tmp) / "out.bin"
            with open(fin, "wb") as f:
                f.write(header)
                for x, (in_port, _) in zip(arrays, self.ports):
                    if len(x):
                        f.write(in_port.pack_words(x).astype("<u4").tobytes())
            start = time.monotonic()
            res = run_tool("simulation", [self.exe, fin, fout, max_cycles, drain])
            seconds = time.monotonic() - start
            raw = fout.read_bytes()
        heads = np.frombuffer(raw[:32 * k], dtype="<u8").reshape(k, 4)
        pos = 32 * k
        outcomes = []
        for (sent, recv, extra, done), (in_port, out_port) in zip(heads.tolist(), self.ports):
            nbytes = recv * out_port.words * 4
            words = np.frombuffer(raw[pos:pos + nbytes], dtype="<u4").reshape(recv, out_port.words)
            pos += nbytes
            frames = recv // out_port.beats
            outputs = (out_port.unpack_words(words[:frames * out_port.beats]) if frames
                       else np.zeros((0, out_port.frame_elems), np.int64))
            outcomes.append(StreamOutcome(outputs, sent // in_port.beats, frames, int(extra), int(done),
                                          int(sent), int(recv)))
        if pos != len(raw):
            raise SimMismatchError(f"simulation: the harness wrote {len(raw)} bytes, expected {pos}")
        stats = dict(json.loads(res.output.strip().splitlines()[-1]), seconds=seconds)
        return outcomes, stats
