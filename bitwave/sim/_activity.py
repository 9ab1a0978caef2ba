"""Switching activity of a stream design, counted in Verilator, per signal class.

:func:`measure_activity` builds the design with Verilator's ``--coverage-toggle``
(every bit of every named signal gets a counter of its 0→1 and 1→0 changes)
and streams frames through it with no stalls (``activity_harness.cpp``); the
counters are zeroed after reset. Each signal is then put in a class by reading
the emitted Verilog, which Amaranth (through Yosys) writes regularly:

- **flip-flop**: a signal assigned with ``<=``, which that Verilog does only in
  ``always @(posedge clk)`` blocks;
- **memory read**: a synchronous read ``q <= mem[addr]`` of a ``reg [..] mem [..]``
  array (a block RAM or ROM; its output register ``q`` is part of the block, so it
  is in neither class above). Verilator does not count toggles inside arrays, so before building, each
  such read gets a one-bit register that flips on every cycle the read is enabled
  (``bwact_read$N``); its toggles are the number of reads;
- **combinational**: every other signal bit (wires, ``always @*`` results, ports).

Verilator evaluates once per clock edge, so glitches (a combinational output
that changes more than once within a cycle) are not counted. Signals named with
a leading underscore are counted too (``--coverage-underscore``). Verilator
5.048 counts the toggles of a signal wider than 64 bits cumulatively over its
32-bit words; :func:`parse_toggles` undoes that (``_unwind_wide``). Combinational RTL
signals are not LUT outputs one for one: :class:`Activity` keeps the toggle
rate per bit so that a model can scale it by a LUT count.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from ..errors import SimMismatchError, ToolchainError
from ..hdl import StreamFormat
from ..tools import run_tool
from ._build import verilate
from ._verilator import verilator_argv

__all__ = ["Activity", "MemoryReads", "classify_signals", "instrument_reads", "measure_activity",
           "parse_toggles", "read_registers"]

READ_PREFIX = "bwact_read$"

_MODULE = re.compile(r"^module\s+(\\\S+|\w+)", re.M)
_NONBLOCKING = re.compile(r"^\s*(\\\S+|[A-Za-z_][\w$]*)\s*(?:\[[^\]]*\])?\s*<=", re.M)
_MEMORY = re.compile(r"^\s*reg\s*(?:\[(\d+):(\d+)\])?\s*(\\\S+|[A-Za-z_][\w$]*)\s*\[\d+:\d+\]\s*;", re.M)
# always @(posedge clk) [begin if (EN) begin] Q <= MEM[ADDR];   (the enable is optional)
_SYNC_READ = re.compile(r"always @\(posedge clk\)\s*(?:begin\s*)?(?:if \((?P<en>[^;]*?)\) begin\s*)?"
                        r"(?P<q>\\\S+|[A-Za-z_][\w$]*)\s*<=\s*(?P<mem>\\\S+|[A-Za-z_][\w$]*)\[[^;]*\];"
                        r"(?:\s*end\b)*")


@dataclass(frozen=True)
class MemoryReads:
    """The reads of one memory read port during the run."""
    module: str
    memory: str
    width: int          # bits per word
    reads: int


@dataclass(frozen=True)
class Activity:
    """Toggles counted over ``frames`` frames (``cycles`` cycles) of a no-stall run."""
    frames: int
    cycles: int
    ff_bits: int
    ff_toggles: int
    comb_bits: int
    comb_toggles: int
    reads: tuple[MemoryReads, ...]

    @property
    def cycles_per_frame(self) -> float:
        return self.cycles / self.frames

    @property
    def comb_rate(self) -> float:
        """Toggles per combinational bit per cycle."""
        return self.comb_toggles / (self.comb_bits * self.cycles) if self.comb_bits and self.cycles else 0.0

    @property
    def ff_rate(self) -> float:
        """Toggles per flip-flop bit per cycle."""
        return self.ff_toggles / (self.ff_bits * self.cycles) if self.ff_bits and self.cycles else 0.0

    def per_frame(self) -> dict:
        """Toggles and reads per frame (the figures a report shows)."""
        return {"ff_toggles": self.ff_toggles / self.frames, "comb_toggles": self.comb_toggles / self.frames,
                "memory_reads": sum(r.reads for r in self.reads) / self.frames,
                "memory_read_bits": sum(r.reads * r.width for r in self.reads) / self.frames}


def _modules(verilog: str) -> list[tuple[str, str]]:
    """(module name, its text) for every module of ``verilog``; escaped names lose their backslash."""
    starts = [(m.start(), m.group(1).lstrip("\\")) for m in _MODULE.finditer(verilog)]
    return [(name, verilog[s:(starts[i + 1][0] if i + 1 < len(starts) else len(verilog))])
            for i, (s, name) in enumerate(starts)]


def classify_signals(verilog: str) -> dict[str, set[str]]:
    """The flip-flop signal names of each module (names as written, escapes removed)."""
    return {mod: {m.group(1).lstrip("\\") for m in _NONBLOCKING.finditer(text)} for mod, text in _modules(verilog)}


def read_registers(verilog: str) -> dict[str, set[str]]:
    """The output registers of each module's synchronous memory reads."""
    return {mod: {m.group("q").lstrip("\\") for m in _SYNC_READ.finditer(text)} for mod, text in _modules(verilog)}


def instrument_reads(verilog: str) -> tuple[str, dict[str, tuple[str, str, int]]]:
    """``verilog`` with a read counter beside every synchronous memory read.

    Returns the new text and, for each counter, (module, memory, word width).
    The counter is a one-bit register that flips on each enabled read; nothing reads it,
    so the design's behaviour is unchanged.
    """
    out, counters = [], {}
    for mod, text in _modules(verilog):
        widths = {m.group(3).lstrip("\\"): (int(m.group(1)) - int(m.group(2)) + 1 if m.group(1) else 1)
                  for m in _MEMORY.finditer(text)}
        pieces, last = [], 0
        for m in _SYNC_READ.finditer(text):
            mem = m.group("mem").lstrip("\\")
            if mem not in widths:
                continue
            name = f"{READ_PREFIX}{len(counters)}"
            counters[name] = (mod, mem, widths[mem])
            en = m.group("en")
            flip = f"\\{name} <= ~\\{name} ;"
            pieces += [text[last:m.end()],
                       f"\n  reg \\{name}  = 1'h0;\n  always @(posedge clk) "
                       + (f"if ({en}) {flip}\n" if en else f"{flip}\n")]
            last = m.end()
        out.append("".join(pieces) + text[last:])
    head = verilog[:_MODULE.search(verilog).start()] if _MODULE.search(verilog) else ""
    return head + "".join(out), counters


# One coverage point: 'key\x02value' fields joined by \x01; the count follows the quoted text.
_POINT = re.compile(r"^C '(?P<keys>[^']*)' (?P<count>\d+)$", re.M)


def _unwind_wide(counts: dict[str, int]) -> dict[str, int]:
    """Undo Verilator 5.048's toggle counts of a signal wider than 64 bits (held in 32-bit words):
    it credits a change of bit b of word k to bit b of word k and of every later word, so a
    counter holds the sum over its word and the words below. The differences are the changes.
    A negative difference means Verilator counts differently now: fail rather than guess."""
    found = {k: re.fullmatch(r"[^\[]*\[(\d+)\]", k) for k in counts}
    bit = {int(m.group(1)): k for k, m in found.items() if m}
    if len(bit) != len(counts) or max(bit) < 64:
        return counts
    out = {k: counts[k] - (counts[bit[i - 32]] if i >= 32 and i - 32 in bit else 0) for i, k in bit.items()}
    if min(out.values()) < 0:
        raise ToolchainError("activity: Verilator's toggle counts of a signal wider than 64 bits no longer "
                             "add up word by word as Verilator 5.048's do; bitwave.sim._activity._unwind_wide "
                             "must be checked against tests/sim/test_activity.py for this Verilator")
    return out


def parse_toggles(coverage: str) -> dict[tuple[str, str], tuple[int, int]]:
    """(module, signal) → (bits, toggles) from a Verilator ``coverage.dat`` of toggle points."""
    found: dict[tuple[str, str], dict[str, int]] = {}
    for m in _POINT.finditer(coverage):
        fields = dict(f.split("\x02", 1) for f in m.group("keys").split("\x01") if "\x02" in f)
        page = fields.get("page", "")
        if not page.startswith("v_toggle/"):
            continue
        module = page.split("/", 1)[1]
        # The point's name is 'signal[bit]:0->1' (or without [bit] for one-bit signals).
        sig_bit = fields.get("o", "").rsplit(":", 1)[0]
        sig = re.sub(r"(\[\d+\])+$", "", sig_bit)       # mem[3][5] is a bit of memory mem
        bits = found.setdefault((module, sig), {})
        bits[sig_bit] = bits.get(sig_bit, 0) + int(m.group("count"))
    return {k: (len(b), sum(_unwind_wide(b).values())) for k, b in found.items()}


def _demangle(name: str) -> str:
    """A signal name as the Verilog spells it: Verilator writes a character that is not a letter,
    digit or lone underscore as ``__0XX`` (its hex code), e.g. ``sink___05Fpayload``."""
    return re.sub(r"__0([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), name)


def _ports(verilog: str) -> dict[str, set[str]]:
    """The port names of each module (a submodule's ports are the nets of its parent)."""
    return {mod: {p.strip().lstrip("\\").strip() for p in text[text.index("(") + 1:text.index(");")].split(",")}
            for mod, text in _modules(verilog)}


def measure_activity(verilog: str, words: np.ndarray, *, sink: StreamFormat, source: StreamFormat,
                     frames: int, top: str = "bitwave_top", log_dir: Path | None = None) -> Activity:
    """Stream ``frames`` frames (``words``: their beats packed by ``sink.pack_words``) through the
    design with toggle counting on; returns the run's toggles per class."""
    instrumented, counters = instrument_reads(verilog)
    flops, ports, outs = classify_signals(verilog), _ports(verilog), read_registers(verilog)
    arrays = {mod: {m.group(3).lstrip("\\") for m in _MEMORY.finditer(text)} for mod, text in _modules(verilog)}
    flags = ["-O3", "--x-assign", "fast", "--x-initial", "fast", "--noassert", "-Wno-fatal", "-Wno-lint",
             "-Wno-style", "--coverage-toggle", "--coverage-underscore", "--coverage-max-width", "100000"]
    config = f"#define BW_IN_WORDS {sink.words}\n#define BW_OUT_WORDS {source.words}\n"
    here = resources.files(__package__)
    built = verilate("verilator-activity", {f"{top}.v": instrumented, "harness_config.h": config},
                     [here / "harness_io.h", here / "activity_harness.cpp"], top=top, flags=flags,
                     verilator=verilator_argv(), log_dir=log_dir)
    with tempfile.TemporaryDirectory(prefix="bitwave-activity-") as tmp:
        fin, cov = Path(tmp) / "in.bin", Path(tmp) / "coverage.dat"
        np.ascontiguousarray(words, dtype="<u4").tofile(fin)
        run = run_tool("activity simulation",
                       [built.exe, fin, frames * sink.beats, frames * source.beats, cov])
        stats = json.loads(run.output.strip().splitlines()[-1])
        toggles = parse_toggles(cov.read_text(errors="replace"))
    if stats["received"] < frames * source.beats:
        raise SimMismatchError(f"activity run: only {stats['received']} of {frames * source.beats} output beats "
                               f"came out in {stats['cycles']} cycles; run `bitwave verify` on the build first")
    reads = {name: 0 for name in counters}
    ff_bits = ff_tog = comb_bits = comb_tog = 0
    for (module, sig), (bits, count) in toggles.items():
        sig = _demangle(sig)
        if sig in reads:
            reads[sig] += count
        elif sig in outs.get(module, ()) or sig in arrays.get(module, ()):
            continue                                # a block RAM's contents and output register
        elif sig in flops.get(module, ()):
            ff_bits, ff_tog = ff_bits + bits, ff_tog + count
        elif sig not in ports.get(module, ()):     # a port is a net counted where it is driven
            comb_bits, comb_tog = comb_bits + bits, comb_tog + count
    return Activity(frames=frames, cycles=int(stats["cycles"]), ff_bits=ff_bits, ff_toggles=ff_tog,
                    comb_bits=comb_bits, comb_toggles=comb_tog,
                    reads=tuple(MemoryReads(*counters[k], reads=v) for k, v in reads.items()))
