"""A diode clipper from circuit to Verilog: describe, simulate, fit, quantise, build, check.

    .venv/bin/python examples/wdf_clipper.py [--out wdf_clipper.v]

or through the compiler, with :func:`clipper` as the model (a trained
``nn.Sequential(DiodeClipper)`` and its audio, one sample per frame)::

    .venv/bin/bitwave compile examples/wdf_clipper.py:clipper -o build/clipper
    .venv/bin/bitwave verify build/clipper

1. The circuit as data (REFERENCE.md's clipper: 2.2 kΩ into 10 nF across two
   antiparallel diodes) and its float64 simulation.
2. Fit R and C of a PyTorch model of the same circuit to that audio, starting 2× off.
3. Fixed point: the word length for a 90 dB target, checked against float64.
4. The hardware core for it, simulated in Amaranth against the golden model,
   and its Verilog.
"""

import argparse
from pathlib import Path

import numpy as np
import torch
from amaranth.sim import Simulator

from torch import nn

from bitwave.frontend import ModelBundle
from bitwave.frontend.wdf_torch import DiodeClipper
from bitwave.hdl._emit import emit_verilog
from bitwave.ir.wdf import (Capacitor, DiodePair, Parallel, ResistiveSource, WdfTree, run_fixed,
                            simulate)
from bitwave.lower import lower_wdf
from bitwave.passes.quantise_wdf import fixed_snr_db, multitone, quantise_wdf

FS = 48_000.0


def reference_circuit() -> WdfTree:
    """REFERENCE.md's clipper: 2.2 kΩ into 10 nF across two antiparallel diodes."""
    return WdfTree(root=DiodePair(Is=2.52e-9, Vt=45.3e-3),
                   tree=Parallel(ResistiveSource(2.2e3), Capacitor(10e-9, name="C")),
                   fs=FS, probe="C")


def fit_clipper(x: np.ndarray, y: np.ndarray) -> DiodeClipper:
    """A DiodeClipper whose R and C (starting 2× off) are fitted to audio ``x`` → ``y``."""
    xt = torch.tensor(x.reshape(8, -1))[:, None]
    yt = torch.tensor(y.reshape(8, -1))[:, None]
    model = DiodeClipper(R=4.4e3, C=5e-9, trainable=("R", "C"))
    opt = torch.optim.LBFGS(model.parameters(), max_iter=60, line_search_fn="strong_wolfe",
                            tolerance_grad=1e-14, tolerance_change=1e-16)

    def closure():
        opt.zero_grad()
        loss = torch.mean((model(xt) - yt) ** 2)
        loss.backward()
        return loss

    opt.step(closure)
    return model


def clipper() -> ModelBundle:
    """MODEL spec for ``bitwave compile``: the fitted clipper and 0.2 s of test audio.

    The audio is a 2 V-peak multitone then a 20 Hz–20 kHz sweep, shaped
    ``(samples, 1)``: one frame per sample, in time order (the filter's state
    runs from frame to frame).
    """
    torch.set_num_threads(1)
    tree = reference_circuit()
    train = multitone(FS, 4800, peak=2.0)
    chunks = train.reshape(8, -1)
    model = fit_clipper(train, np.concatenate([simulate(tree, c) for c in chunks]))
    t = np.arange(4800) / FS
    sweep = 1.5 * np.sin(2 * np.pi * 20.0 * 4800 / FS / np.log(1000.0)
                         * (np.exp(np.log(1000.0) * t / t[-1]) - 1.0))
    audio = np.concatenate([multitone(FS, 4800, peak=2.0, freqs=(150.0, 620.0, 2900.0)), sweep])
    return ModelBundle(nn.Sequential(model), audio[:, None], name="clipper")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("wdf_clipper.v"))
    args = parser.parse_args()

    # 1. Circuit and reference simulation.
    tree = reference_circuit()
    x = multitone(FS, 4800, peak=2.0)
    y = simulate(tree, x)
    print(f"reference: 2 V-peak multitone in, output peak {np.max(np.abs(y)):.3f} V")

    # 2. Fit a trainable model (R, C start 2× off) to chunks of reference audio.
    model = fit_clipper(x, np.concatenate([simulate(tree, c) for c in x.reshape(8, -1)]))
    print(f"fitted: R = {model.R.item():.1f} Ω, C = {model.C.item() * 1e9:.4f} nF")

    # 3. Fixed point for a 90 dB target.
    spec = quantise_wdf(tree, target_snr_db=90.0)
    print(f"fixed point: I/O {spec.output}, waves {spec.wave}, root table of "
          f"{len(spec.table)} entries; SNR {fixed_snr_db(spec, tree, x):.1f} dB")

    # 4. Hardware: Amaranth simulation against the golden model, then Verilog.
    core = lower_wdf(spec)
    codes = np.round(x[:200] * 2.0 ** spec.input.frac_bits).astype(np.int64)
    got = []

    async def bench(ctx):
        ctx.set(core.source.ready, 1)
        for v in codes.tolist():
            ctx.set(core.sink.payload, v)
            ctx.set(core.sink.valid, 1)
            await ctx.tick().until(core.sink.ready)
            ctx.set(core.sink.valid, 0)
            while not ctx.get(core.source.valid):
                await ctx.tick()
            got.append(ctx.get(core.source.payload))
            await ctx.tick()

    sim = Simulator(core)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    exact = np.array_equal(got, run_fixed(spec, codes))
    print(f"hardware: {core.cycles_per_sample} cycles/sample, bit-exact on 200 samples: {exact}")
    args.out.write_text(emit_verilog(core, name="wdf_clipper"))
    print(f"Verilog written to {args.out}")


if __name__ == "__main__":
    main()
