"""cocotb testbench of a bitwave build: random backpressure, golden model, checker.

This module runs inside the simulator (cocotb loads it by name); start it with
:func:`bitwave.sim.cocotb_bench.run_cocotb`, which builds the Verilog with
Verilator through cocotb's Python runner and passes a JSON configuration in
``$BITWAVE_COCOTB_CONFIG``.  The testbench is split as cocotb's own examples
are:

* :class:`StreamDriver` offers the input frames on ``sink`` beat by beat,
  holding ``valid`` low at random (probability ``p_in`` per cycle) and keeping
  a beat stable until it is taken;
* :class:`StreamMonitor` drives ``source.ready`` low at random (``p_out``),
  records every transferred beat and checks the stream rules (while ``valid``
  is high and ``ready`` low, ``valid`` must stay high and the payload must not
  change);
* :class:`GoldenModel` is the reference interpreter on the build's final graph;
* :class:`Checker` groups the beats into frames and compares, in order, what
  came out with what the model predicts: nothing lost, nothing duplicated,
  nothing reordered, every frame equal.

A handshake happens at a rising edge when ``valid`` and ``ready`` are both high;
both are sampled at the falling edge before it, when every combinational path
(including ready depending on valid) has settled.
"""

from __future__ import annotations

import json
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge

from ..build_folder import load_build
from ..ir import Interpreter, quantise_input
from ..hdl import StreamFormat

CONFIG_ENV = "BITWAVE_COCOTB_CONFIG"


class GoldenModel:
    """The reference interpreter on the build's final graph: input codes → expected wire values."""

    def __init__(self, graph, source: StreamFormat):
        self.interp = Interpreter(graph)
        self.source = source

    def predict(self, codes: np.ndarray) -> np.ndarray:
        return self.source.encode(self.interp.output(codes, codes=True))


class StreamDriver:
    """Offers frames on ``sink``, beat by beat, with random idle cycles; counts the beats sent."""

    def __init__(self, dut, port: StreamFormat, rng: random.Random):
        self.dut, self.port, self.rng = dut, port, rng
        self.sent = 0
        dut.sink__valid.value = 0

    async def send(self, frames, p_in: float) -> None:
        dut = self.dut
        for vec in self.port.split(frames):
            while p_in > 0 and self.rng.random() < p_in:
                dut.sink__valid.value = 0
                await RisingEdge(dut.clk)
            dut.sink__payload.value = self.port.pack_int(vec)
            dut.sink__valid.value = 1
            while True:
                await FallingEdge(dut.clk)
                taken = bool(dut.sink__ready.value)
                await RisingEdge(dut.clk)
                if taken:
                    break
            self.sent += 1
        dut.sink__valid.value = 0


@dataclass
class MonitorLog:
    outputs: list = field(default_factory=list)
    protocol_errors: list = field(default_factory=list)


class StreamMonitor:
    """Drives ``source.ready`` at random, records the beats transferred, checks the stream rules."""

    def __init__(self, dut, port: StreamFormat, rng: random.Random):
        self.dut, self.port, self.rng = dut, port, rng
        self.log = MonitorLog()
        self.p_out = 0.0
        self.cycle = 0
        self._held = None
        dut.source__ready.value = 0

    async def run(self) -> None:
        dut = self.dut
        while True:
            ready = not (self.p_out > 0 and self.rng.random() < self.p_out)
            dut.source__ready.value = int(ready)
            await FallingEdge(dut.clk)
            valid = bool(dut.source__valid.value)
            payload = int(dut.source__payload.value) if valid else None
            if self._held is not None:
                if not valid:
                    self.log.protocol_errors.append(f"cycle {self.cycle}: source.valid dropped "
                                                    "before the transfer")
                elif payload != self._held:
                    self.log.protocol_errors.append(f"cycle {self.cycle}: source.payload changed "
                                                    "while valid and not ready")
            self._held = payload if valid and not ready else None
            if valid and ready:
                self.log.outputs.append(self.port.unpack_int(payload))
            await RisingEdge(dut.clk)
            self.cycle += 1


@dataclass
class PhaseResult:
    p_in: float
    p_out: float
    frames: int
    wrong: int = 0
    lost: int = 0
    extra: int = 0
    first_mismatch: dict | None = None
    reordered: int = 0
    protocol_errors: int = 0
    cycles: int = 0
    seconds: float = 0.0

    @property
    def mismatches(self) -> int:
        return self.wrong + self.lost + self.extra + self.protocol_errors


class Checker:
    """Compares received frames with the model's, in order; classifies what went wrong."""

    @classmethod
    def check_beats(cls, expected: np.ndarray, beats: list, port: StreamFormat, result: PhaseResult) -> None:
        """:meth:`check` on ``beats`` of ``port`` grouped into frames; a frame cut short
        counts as lost, or as extra when it comes after the expected ones."""
        whole = len(beats) - len(beats) % port.beats
        frames = port.join(np.array(beats[:whole], dtype=np.int64).reshape(-1, port.elems)).tolist()
        cls.check(expected, frames, result)
        if whole < len(beats) and len(frames) >= len(expected):
            result.extra += 1

    @staticmethod
    def check(expected: np.ndarray, received: list, result: PhaseResult) -> None:
        n = len(expected)
        got = np.array(received[:n], dtype=np.int64).reshape(-1, expected.shape[1])
        result.lost = max(0, n - len(received))
        result.extra = max(0, len(received) - n)
        rows = [tuple(r) for r in expected.tolist()]
        for i, out in enumerate(got.tolist()):
            if tuple(out) == rows[i]:
                continue
            result.wrong += 1
            # An output equal to another frame's expected value means frames were
            # dropped, duplicated or swapped rather than computed wrongly.
            if any(tuple(out) == rows[j] for j in range(max(0, i - 8), min(n, i + 9)) if j != i):
                result.reordered += 1
            if result.first_mismatch is None:
                result.first_mismatch = {"frame": i, "expected": list(rows[i]), "got": out}


@cocotb.test()
async def stream_with_backpressure(dut):
    """Every frame of the configured subset, at every stall rate: exact outputs, in order."""
    cfg = json.loads(Path(os.environ[CONFIG_ENV]).read_text())
    build = load_build(cfg["build_dir"])
    manifest, graph, ds = build.manifest, build.graph, build.dataset
    in_port, out_port = manifest.sink, manifest.source
    codes = quantise_input(graph.input, ds.inputs[:cfg["frames"]])
    model = GoldenModel(graph, out_port)
    expected = model.predict(codes)
    wire_in = in_port.encode(codes)

    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    driver = StreamDriver(dut, in_port, random.Random(cfg["seed"]))
    monitor = StreamMonitor(dut, out_port, random.Random(cfg["seed"] + 1))
    for _ in range(4):
        await RisingEdge(dut.clk)
    dut.rst.value = 0
    cocotb.start_soon(monitor.run())

    per_frame = manifest.cycles_per_frame + 2 * max(in_port.beats, out_port.beats)
    latency = manifest.latency or 0
    results = []
    for p_in, p_out in cfg["rates"]:
        phase = PhaseResult(p_in, p_out, len(codes))
        monitor.p_out = p_out
        monitor.log.outputs = []
        errors_before = len(monitor.log.protocol_errors)
        start_cycle, t0 = monitor.cycle, time.monotonic()
        # Generous budget: every frame may wait for both stalls; then drain with ready high.
        budget = int((len(codes) + 4) * per_frame / max(1e-3, (1 - p_in) * (1 - p_out)) * 3
                     + 4 * latency + 1000)
        send = cocotb.start_soon(driver.send(wire_in, p_in))
        while len(monitor.log.outputs) < len(codes) * out_port.beats and monitor.cycle - start_cycle < budget:
            await RisingEdge(dut.clk)
        send.cancel()
        dut.sink__valid.value = 0
        monitor.p_out = 0.0
        for _ in range(latency + per_frame + 16):   # anything still coming out is a duplicate
            await RisingEdge(dut.clk)
        Checker.check_beats(expected, monitor.log.outputs, out_port, phase)
        phase.protocol_errors = len(monitor.log.protocol_errors) - errors_before
        phase.cycles = monitor.cycle - start_cycle
        phase.seconds = time.monotonic() - t0
        results.append(phase)
        dut._log.info(f"stalls in={p_in} out={p_out}: {phase.frames} frames, {phase.cycles} cycles, "
                      f"mismatches {phase.mismatches} (wrong {phase.wrong}, lost {phase.lost}, "
                      f"extra {phase.extra}, protocol {phase.protocol_errors})")

    summary = {
        "frames": sum(r.frames for r in results),
        "rates": [[r.p_in, r.p_out] for r in results],
        "mismatches": sum(r.mismatches for r in results),
        "cycles": sum(r.cycles for r in results),
        "seconds": sum(r.seconds for r in results),
        "protocol_errors": monitor.log.protocol_errors[:10],
        "per_rate": [dict(r.__dict__, mismatches=r.mismatches) for r in results],
    }
    Path(cfg["result"]).write_text(json.dumps(summary, indent=2))
    assert summary["mismatches"] == 0, f"{summary['mismatches']} mismatches; see {cfg['result']}"
