"""The trained audio hybrid on the iCEBreaker's iCE40UP5K with the Pmod I2S2, measured here.

Compiles the shipped hybrid (``bitwave.frontend.audio.pretrained``, its
integer graph from ``hybrid_graph``) at ``--target-cycles`` per sample, then:

* verifies the RTL against the reference interpreter in Verilator on held-out
  plucks (``--samples``, default 2 s = 96,000 samples);
* runs the same samples through the board's I2S wrapper and the codec model in
  Verilator (the ADC words in, the DAC words out, compared with the
  interpreter's outputs at the wrapper's fixed latency);
* synthesises, places and routes the ``icebreaker-i2s`` target (Yosys +
  nextpnr-ice40) and prints the device utilisation, fmax, the real-time factor
  at 48 kHz (``fmax / (cycles per sample · 48,000)``) and the latency in
  samples (the model's own, the half-bands' group delay, plus the wrapper's
  frames).

    .venv/bin/python bench/audio_board_bench.py [--target-cycles 32] [--samples 96000] [-o DIR]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from bitwave.boards import build, i2s_expected_dac, simulate_i2s_build
from bitwave.boards._i2s import answer_frames
from bitwave.build_folder import BuildManifest
from bitwave.compile import CompileOptions, compile_graph
from bitwave.dataset import Dataset
from bitwave.frontend.audio import HELD_OUT_SEED, hybrid_graph, plucks, pretrained
from bitwave.ir import Interpreter, quantise_input
from bitwave.verify import verify_build

RATE = 48_000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target-cycles", type=int, default=32, help="cycles per sample (folding)")
    ap.add_argument("--samples", type=int, default=96_000, help="held-out samples to verify")
    ap.add_argument("-o", "--out", type=Path, default=None, help="build folder (default: temp)")
    args = ap.parse_args()
    print(f"audio board bench, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, load average "
          f"{' '.join(f'{v:.1f}' for v in os.getloadavg())} on {os.cpu_count()} cores")
    root = args.out or Path(tempfile.mkdtemp(prefix="bitwave-audio-board-"))
    folder = root / f"hybrid-{args.target_cycles}"

    model = pretrained()
    graph = hybrid_graph(model)
    x = plucks(args.samples / RATE, HELD_OUT_SEED).reshape(-1, 1).astype(np.float32)
    t = time.perf_counter()
    res = compile_graph(graph, folder, CompileOptions(target_cycles=args.target_cycles),
                        dataset=Dataset(x), name="hybrid")
    man = res.manifest
    print(f"compiled in {time.perf_counter() - t:.1f} s: {man.cycles_per_frame} cycles/sample, "
          f"pipeline latency {man.latency} cycles; estimate {man.estimate.lut} LUT4, "
          f"{man.estimate.ff} FF, {man.estimate.bram} BRAM")
    for layer in man.layers:
        print(f"  {layer.name:8s} {layer.kind:10s} cycles {layer.cycles:3d}  est. "
              f"{layer.estimate.lut:5d} LUT4 {layer.estimate.ff:5d} FF {layer.estimate.dsp} DSP")

    t = time.perf_counter()
    v = verify_build(folder)
    print(f"RTL vs interpreter: {v.frames} samples, mismatches: {v.mismatches}, "
          f"{v.cycles_per_frame:g} cycles/sample measured ({time.perf_counter() - t:.0f} s)")

    # The I2S wrapper: the 16-bit codes in the ADC words' top bits, the DAC words against the
    # interpreter's outputs at the wrapper's fixed latency.
    manifest = BuildManifest.load(folder)
    codes = quantise_input(res.graph.input, x)
    shift = 24 - manifest.sink.width
    left = codes[:, 0].astype(np.int64) << shift
    adc = np.stack([left, np.zeros_like(left)], axis=1)
    t = time.perf_counter()
    sim = simulate_i2s_build(folder, adc)
    want = i2s_expected_dac(manifest.source.encode(Interpreter(res.graph).device(x)), manifest)
    frames = answer_frames(manifest) + 1
    bad = int(np.sum(np.any(sim.dac != want, axis=1))) if sim.dac.shape == want.shape else -1
    print(f"I2S wrapper + codec model (Verilator): {len(adc)} samples, mismatches: {bad}, "
          f"bus errors {sim.bus_errors}, dropped {sim.dropped}, missed {sim.missed}, "
          f"overrun {sim.overrun}; {sim.cycles:,} cycles in {sim.seconds:.1f} s "
          f"({time.perf_counter() - t:.0f} s with the build)")

    t = time.perf_counter()
    rep = build(folder, "icebreaker-i2s").report
    dev, cap, acc = rep.device_used, rep.capacity, rep.accelerator
    print(f"iCE40UP5K (icebreaker-i2s), synthesis + place and route {time.perf_counter() - t:.0f} s:")
    print(f"  device: {dev.lut}/{cap.lut} logic cells ({100 * dev.lut / cap.lut:.0f} %), "
          f"{dev.bram}/{cap.bram} BRAM, {dev.dsp}/{cap.dsp} DSP; accelerator {acc.lut} LUT4, "
          f"{acc.ff} FF")
    cycles = man.cycles_per_frame
    print(f"  fmax {rep.fmax_mhz:.1f} MHz (board clock 12 MHz): real-time factor at 48 kHz "
          f"{rep.fmax_mhz * 1e6 / (cycles * RATE):.1f}× (fmax / {cycles} cycles/sample)")
    print(f"  latency: {model.latency} samples (the half-bands' group delay) + {frames} frames "
          f"(the I2S wrapper: the answer within {frames - 1} LRCK period, played one later) = "
          f"{model.latency + frames} samples")


if __name__ == "__main__":
    main()
