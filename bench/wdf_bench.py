"""Throughput of the wave-digital-filter stack, measured on this machine.

Prints, for the diode clipper of REFERENCE.md:

* samples/s of the float64 reference (:func:`bitwave.ir.wdf.simulate`) and of
  the bit-exact golden model (:func:`bitwave.ir.wdf.run_fixed`);
* samples/s of the PyTorch layer, forward and forward+backward, for one long
  channel and for the same audio cut into chunks (the batch the training loop uses);
* the time to recover R and C from 2× off on a few seconds of audio;
* fixed-point SNR against float64 per word length;
* cycles per sample and latency of the hardware core (and, with Verilator, the
  cycles per sample measured on the emitted Verilog);
* fmax and resource use on the iCE40UP5K: the clipper model is compiled like
  any other (``bitwave compile``'s :func:`~bitwave.compile.compile_graph`) and
  placed and routed by the boards stage (YoWASP yosys + nextpnr-ice40, generic
  ``ice40-up5k`` target), with the multiplies in SB_MAC16 DSPs (the compiler's
  plan) and, with ``--soft``, also in LUTs; from fmax: the maximum sample rate
  ``fmax / cycles per sample`` and the real-time factor at 48 kHz.

    .venv/bin/python bench/wdf_bench.py [--quick] [--no-verilator] [--no-pnr] [--soft]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from bitwave.frontend.wdf_torch import DiodeClipper
from bitwave.ir.wdf import (Capacitor, DiodePair, Parallel, ResistiveSource, WdfTree, run_fixed,
                            simulate)
from bitwave.lower import lower_wdf
from bitwave.passes.quantise_wdf import fixed_snr_db, multitone, quantise_wdf

FS = 48_000.0
R, C = 2.2e3, 10e-9


def clipper() -> WdfTree:
    return WdfTree(DiodePair(2.52e-9, 45.3e-3),
                   Parallel(ResistiveSource(R), Capacitor(C, name="C")), FS, probe="C")


def rate(fn, samples: int, repeat: int = 3) -> float:
    """Samples per second of ``fn``, best of ``repeat`` calls (the machine is shared)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return samples / best


def bench_reference(n: int) -> None:
    x = multitone(FS, n, peak=2.0)
    sps = rate(lambda: simulate(clipper(), x), n)
    print(f"numpy reference (simulate, exact Newton root): {sps:12,.0f} samples/s")
    spec = quantise_wdf(clipper())
    codes = np.round(x * 2.0 ** spec.input.frac_bits).astype(np.int64)
    sps = rate(lambda: run_fixed(spec, codes), n)
    print(f"golden model (run_fixed, Q3.16 I/O):           {sps:12,.0f} samples/s")


def bench_torch(n: int) -> None:
    layer = DiodeClipper(trainable=("R", "C"))
    one = torch.tensor(multitone(FS, n, peak=2.0), dtype=torch.float32)[None, None]
    for label, x in (("1 × 1 channel", one), ("32 chunks", one.reshape(32, 1, -1))):
        sps = rate(lambda: layer(x), n)

        def fwd_bwd():
            layer.zero_grad()
            layer(x).square().mean().backward()
        sps_fb = rate(fwd_bwd, n)
        print(f"torch DiodeClipper, {label:14s} forward {sps:12,.0f} samples/s, "
              f"forward+backward {sps_fb:12,.0f} samples/s")


def bench_training(seconds_of_audio: float) -> None:
    chunks = 64
    per = int(FS * seconds_of_audio / chunks)
    rng = np.random.default_rng(0)
    x = np.stack([multitone(FS, per, peak=a, freqs=tuple(rng.uniform(80, 6000, 4)))
                  for a in np.linspace(0.3, 3.0, chunks)])
    target = np.stack([simulate(clipper(), row) for row in x])
    xt, yt = torch.tensor(x)[:, None], torch.tensor(target)[:, None]
    model = DiodeClipper(R=2 * R, C=C / 2, trainable=("R", "C"))
    opt = torch.optim.LBFGS(model.parameters(), max_iter=60, line_search_fn="strong_wolfe",
                            tolerance_grad=1e-14, tolerance_change=1e-16)
    evals = [0]

    def closure():
        opt.zero_grad()
        loss = torch.mean((model(xt) - yt) ** 2)
        loss.backward()
        evals[0] += 1
        return loss

    start = time.perf_counter()
    opt.step(closure)
    took = time.perf_counter() - start
    print(f"training from R, C 2× off on {seconds_of_audio:.1f} s of audio ({chunks} chunks): "
          f"{took:.1f} s, {evals[0]} forward+backward passes; "
          f"R error {abs(model.R.item() / R - 1):.1e}, C error {abs(model.C.item() / C - 1):.1e}")


def bench_fixed(n: int) -> None:
    x = multitone(FS, n)
    parts = []
    for wl in (12, 16, 20, 24):
        spec = quantise_wdf(clipper(), word_length=wl)
        parts.append(f"{wl} b (Q{spec.output.int_bits - 1}.{spec.output.frac_bits}, "
                     f"{len(spec.table)}-entry root) {fixed_snr_db(spec, clipper(), x):6.1f} dB")
    print("fixed-point SNR vs float64 (1 V multitone): " + "; ".join(parts))


def bench_hardware(verilator: bool) -> None:
    spec = quantise_wdf(clipper())
    core = lower_wdf(spec)
    print(f"hardware WdfCore (Q3.16 I/O, {spec.wave.width}-bit waves): "
          f"{core.cycles_per_sample} cycles/sample, latency {core.latency} cycles, "
          f"root table {len(spec.table)} × {spec.wave.width} = {core.table_bits} bits; "
          f"48 kHz needs a clock of at least {core.cycles_per_sample * FS / 1e6:.3f} MHz")
    if verilator:
        from bitwave.hdl._emit import emit_verilog
        from bitwave.sim import PortSpec, StreamSim
        sim = StreamSim.build(emit_verilog(core, name="wdf_top"), top="wdf_top",
                              in_port=PortSpec(1, spec.input.width, True),
                              out_port=PortSpec(1, spec.output.width, True))
        x = np.round(multitone(FS, 48_000, peak=2.0) * 2.0 ** 16).astype(np.int64)
        result = sim.run(x[:, None])
        exact = np.array_equal(result.outputs[:, 0], run_fixed(spec, x))
        print(f"  Verilator, 48 000 samples: {result.cycles_per_frame:g} cycles/sample measured, "
              f"{result.cycles_per_second:,.0f} cycles/s simulated, bit-exact: {exact}")


def bench_fmax(out: Path, soft: bool) -> None:
    """Compile the clipper model, place and route it on the iCE40UP5K, print fmax and rates."""
    from torch import nn

    from bitwave.boards import build
    from bitwave.compile import CompileOptions, compile_graph
    from bitwave.dataset import Dataset
    from bitwave.frontend import import_wdf

    audio = multitone(FS, 480, peak=2.0)[:, None]
    graph = import_wdf(nn.Sequential(DiodeClipper()), audio)
    for dsp in ((None, False) if soft else (None,)):
        folder = out / ("clipper-soft" if dsp is False else "clipper")
        compiled = compile_graph(graph, folder, CompileOptions(), dataset=Dataset(audio),
                                 name="clipper")
        layer = compiled.lowered.layers[0]
        cycles, est = layer.cycles, layer.estimate
        if dsp is None:
            print(f"compiled clipper: {cycles} cycles/sample, latency {layer.latency} cycles; "
                  f"estimate {est.lut} LUT4, {est.ff} FF, {est.bram} BRAM, {est.dsp} DSP")
        start = time.perf_counter()
        rep = build(folder, "ice40-up5k", dsp=dsp).report
        acc, dev, cap = rep.accelerator, rep.device_used, rep.capacity
        label = "multiplies in LUTs" if dsp is False else "as planned (DSPs)"
        rate_hz = rep.fmax_mhz * 1e6 / cycles
        print(f"  iCE40UP5K, {label}: fmax {rep.fmax_mhz:.1f} MHz; accelerator {acc.lut} LUT4, "
              f"{acc.ff} FF, {acc.bram} BRAM, {acc.dsp} DSP (device {dev.lut}/{cap.lut} logic "
              f"cells, {dev.bram}/{cap.bram} BRAM, {dev.dsp}/{cap.dsp} DSP); synthesis and "
              f"place-and-route {time.perf_counter() - start:.0f} s")
        print(f"    max sample rate {rate_hz / 1e6:.2f} MHz (fmax / {cycles} cycles/sample), "
              f"real-time factor at 48 kHz: {rate_hz / FS:.1f}×")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter signals")
    parser.add_argument("--no-verilator", action="store_true", help="skip the Verilator run")
    parser.add_argument("--no-pnr", action="store_true",
                        help="skip synthesis and place-and-route (fmax)")
    parser.add_argument("--soft", action="store_true",
                        help="also place and route with the multiplies in LUTs")
    parser.add_argument("--out", type=Path, default=Path("build/wdf_bench"),
                        help="folder for the compiled clipper and its board builds")
    args = parser.parse_args()
    n = 9_600 if args.quick else 48_000
    torch.set_num_threads(1)
    bench_reference(n)
    bench_torch(n)
    bench_training(1.0 if args.quick else 3.0)
    bench_fixed(4_800)
    bench_hardware(not args.no_verilator)
    if not args.no_pnr:
        bench_fmax(args.out / "clipper", args.soft)


if __name__ == "__main__":
    main()
