"""Throughput of the wave-digital-filter stack, measured on this machine.

Prints, for the diode clipper of REFERENCE.md:

* samples/s of the float64 reference (:func:`bitwave.ir.wdf.simulate`) and of
  the bit-exact golden model (:func:`bitwave.ir.wdf.run_fixed`);
* samples/s of the PyTorch layer, forward and forward+backward, for one long
  channel and for the same audio cut into chunks (the batch the training loop uses);
* the time to recover R and C from 2× off on a few seconds of audio;
* fixed-point SNR against float64 per word length on held-out plucked notes
  (and the multitone), rounding to nearest and magnitude truncation, and the
  root table's size and error, piecewise-quadratic against chords;
* cycles per sample and latency of the clipper core (and, with Verilator, the
  cycles per sample measured on the emitted Verilog);
* for trees of every element, adaptor and root kind: steps, cycles per sample,
  estimated resources of the microcoded core and SNR against float64 (with
  Verilator, the deepest one run bit for bit against its golden model);
* fmax and resource use on the iCE40UP5K: the clipper model is compiled like
  any other (``bitwave compile``'s :func:`~bitwave.compile.compile_graph`) and
  placed and routed by the boards stage (YoWASP yosys + nextpnr-ice40, generic
  ``ice40-up5k`` target), with the multiplies in SB_MAC16 DSPs (the compiler's
  plan) and, with ``--soft``, also in LUTs; from fmax: the maximum sample rate
  ``fmax / cycles per sample`` and the real-time factor at 48 kHz.

    .venv/bin/python bench/wdf_bench.py [--quick] [--no-verilator] [--no-pnr] [--soft]
                                        [--only speed|fixed|hardware|trees|fmax]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from bitwave.frontend.wdf_torch import DiodeClipper
from bitwave.hdl._wdf_estimate import estimate_wdf_micro
from bitwave.ir import Rounding
from bitwave.ir.wdf import (AsymmetricDiodePair, Capacitor, Diode, DiodePair, IdealSource, Inductor, Inverter, Open,
                            Parallel, ResistiveSource, Resistor, Series, Short, WdfTree,
                            port_resistance, run_fixed, run_program, simulate)
from bitwave.lower import lower_wdf
from bitwave.lower._wdf import lower_wdf_program, wdf_micro_params
from bitwave.passes.quantise_wdf import (fixed_snr_db, multitone, plucked_notes, quantise_tree,
                                         quantise_wdf, root_table_error)

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
    print(f"golden model (run_fixed, 20-bit I/O):          {sps:12,.0f} samples/s")


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
    held_out, tone = plucked_notes(FS, n, seed=1), multitone(FS, n)
    tree = clipper()
    Rp = port_resistance(tree.tree, FS)
    print(f"fixed-point SNR vs float64, clipper ({n} samples of held-out plucked notes, seed 1; "
          f"1 V multitone):")
    for wl in (12, 16, 20, 24):
        spec = quantise_wdf(tree, word_length=wl)
        mag = quantise_wdf(tree, word_length=wl, rounding=Rounding.MAGNITUDE)
        grid = (spec.table_range_log2, spec.table_octaves, spec.segments_log2)
        quad = root_table_error(tree.root, Rp, *grid)
        chord = root_table_error(tree.root, Rp, *grid, quadratic=False)
        print(f"  {wl} b (in {spec.input}, out {spec.output}, waves {spec.wave}): nearest "
              f"{fixed_snr_db(spec, tree, held_out):6.1f} dB (multitone "
              f"{fixed_snr_db(spec, tree, tone):6.1f}), magnitude truncation "
              f"{fixed_snr_db(mag, tree, held_out):6.1f} dB; root {len(spec.table)} entries "
              f"({spec.table_octaves} zones of 2**{spec.segments_log2}), error {quad:.1e} V "
              f"(chords on the same grid {chord:.1e} V)")


def trees() -> dict:
    """Trees of every element, adaptor and root kind (the tests' set)."""
    L = 10e-3
    return {
        "clipper": clipper(),
        "rc-open": WdfTree(Open(), Parallel(ResistiveSource(R), Capacitor(C, name="C")), FS,
                           probe="C"),
        "rlc-ideal": WdfTree(IdealSource(), Series(Resistor(R), Parallel(
            Capacitor(C, name="C"), Inductor(L))), FS, probe="C"),
        "diode": WdfTree(Diode(2.52e-9, 45.3e-3, name="d"),
                         Parallel(ResistiveSource(R), Capacitor(C)), FS, probe="d"),
        "asymmetric": WdfTree(AsymmetricDiodePair(2.52e-9, 25.85e-3, 1e-18, 25.85e-3, n=1.752,
                                                  n2=1.9, name="d"),
                              Parallel(ResistiveSource(R), Capacitor(C)), FS, probe="d"),
        "resistor-root": WdfTree(Resistor(1e3), Series(ResistiveSource(R), Parallel(
            Capacitor(C), Inductor(1e-3, name="L"))), FS, probe="L"),
        "short": WdfTree(Short(), Series(ResistiveSource(R), Series(
            Capacitor(C, name="C"), Inductor(1e-3))), FS, probe="C"),
        "deep": WdfTree(DiodePair(2.52e-9, 45.3e-3),
                        Series(Parallel(ResistiveSource(R), Capacitor(C)),
                               Series(Parallel(Inductor(L), Resistor(4.7e3, name="r2")),
                                      Inverter(Parallel(Capacitor(47e-9), Resistor(1e4))))),
                        FS, probe="r2"),
    }


def bench_trees(n: int, verilator: bool) -> None:
    held_out = plucked_notes(FS, n, seed=1)
    print(f"microcoded core (WdfMicroCore), 20-bit I/O; SNR vs float64 on {n} held-out samples:")
    for name, tree in trees().items():
        prog = quantise_tree(tree)
        params = wdf_micro_params(prog)
        est = estimate_wdf_micro(params).resources
        codes = np.clip(np.round(held_out * 2.0 ** prog.input.frac_bits), prog.input.min,
                        prog.input.max).astype(np.int64)
        err = np.max(np.abs(run_program(prog, codes) * 2.0 ** -prog.output.frac_bits
                            - simulate(tree, codes * 2.0 ** -prog.input.frac_bits)))
        print(f"  {name:14s} {len(prog.steps):2d} steps, {prog.registers:2d} registers, "
              f"{params.cycles_per_sample:2d} cycles/sample; estimate {est.lut} LUT4, {est.ff} FF, "
              f"{est.bram} BRAM, {est.dsp} DSP; SNR {fixed_snr_db(prog, tree, held_out):6.1f} dB "
              f"(out {prog.output}), max error {err * 2.0 ** prog.output.frac_bits:.2f} LSB")
    if verilator:
        from bitwave.hdl import StreamFormat
        from bitwave.hdl._emit import emit_verilog
        from bitwave.sim import StreamSim
        prog = quantise_tree(trees()["deep"])
        core = lower_wdf_program(prog)
        sim = StreamSim.build(emit_verilog(core, name="wdf_micro"), top="wdf_micro",
                              sink=StreamFormat(1, prog.input.width, True),
                              source=StreamFormat(1, prog.output.width, True))
        x = np.round(plucked_notes(FS, 48_000, seed=2) * 2.0 ** prog.input.frac_bits)
        x = x.astype(np.int64)
        result = sim.run(x[:, None])
        exact = np.array_equal(result.outputs[:, 0], run_program(prog, x))
        print(f"  Verilator, deep tree, 48 000 samples: {result.cycles_per_frame:g} cycles/sample "
              f"measured, bit-exact: {exact}")


def bench_hardware(verilator: bool) -> None:
    spec = quantise_wdf(clipper())
    core = lower_wdf(spec)
    print(f"hardware WdfCore (in {spec.input}, out {spec.output}, {spec.wave.width}-bit waves): "
          f"{core.cycles_per_sample} cycles/sample, latency {core.latency} cycles, "
          f"root table {len(spec.table)} × {spec.wave.width} = {core.table_bits} bits; "
          f"48 kHz needs a clock of at least {core.cycles_per_sample * FS / 1e6:.3f} MHz")
    if verilator:
        from bitwave.hdl import StreamFormat
        from bitwave.hdl._emit import emit_verilog
        from bitwave.sim import StreamSim
        sim = StreamSim.build(emit_verilog(core, name="wdf_top"), top="wdf_top",
                              sink=StreamFormat(1, spec.input.width, True),
                              source=StreamFormat(1, spec.output.width, True))
        x = np.round(plucked_notes(FS, 48_000, seed=2) * 2.0 ** 16).astype(np.int64)
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
    parser.add_argument("--only", choices=("speed", "fixed", "hardware", "trees", "fmax"),
                        help="run one part (speed: reference, torch and training rates; fmax: "
                             "synthesis and place-and-route)")
    parser.add_argument("--out", type=Path, default=Path("build/wdf_bench"),
                        help="folder for the compiled clipper and its board builds")
    args = parser.parse_args()
    n = 9_600 if args.quick else 48_000
    torch.set_num_threads(1)
    part = args.only
    if part in (None, "speed"):
        bench_reference(n)
        bench_torch(n)
        bench_training(1.0 if args.quick else 3.0)
    if part in (None, "fixed"):
        bench_fixed(9_600)
    if part in (None, "hardware"):
        bench_hardware(not args.no_verilator)
    if part in (None, "trees"):
        bench_trees(9_600, not args.no_verilator)
    if part == "fmax" or (part is None and not args.no_pnr):
        bench_fmax(args.out / "clipper", args.soft)


if __name__ == "__main__":
    main()
