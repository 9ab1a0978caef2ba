"""The audio TCN of ``examples/tcn.py`` streamed through its RTL, measured on this machine.

Trains (or loads from the cache) the causal dilated QuantConv1d TCN, imports it
from Brevitas' QONNX export, compiles it as a stream (``CompileOptions(stream=True)``,
i.e. ``bitwave compile --stream``/``-p to-stream``) at each folding asked for, and
streams the held-out signal through the Verilator build with ``verify_build``.
Prints, per folding:

* samples streamed and mismatches against the reference interpreter;
* cycles per sample, measured and the folding's ideal, and whether every
  sample went in and came out one per step;
* simulated samples per second (Verilator on this machine);
* the real-time factor at 48 kHz for a 100 MHz clock (``100 MHz / cycles per
  sample / 48 kHz``);
* the lowering's estimate of LUT4s, flip-flops, block RAMs and DSPs;

and the model's error-to-signal ratio on the held-out signal, plain and
pre-emphasised (1 − 0.85 z⁻¹): the float twin, the quantised Brevitas model and
the integer reference (which the RTL equals when mismatches are 0).

    .venv/bin/python bench/tcn_bench.py [--seconds 3] [--target-cycles 8,0]

``--target-cycles 0`` is the fully folded design (one multiplier per layer).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bitwave.compile import CompileOptions, compile_graph
from bitwave.dataset import Dataset
from bitwave.frontend import import_model
from bitwave.ir import Interpreter, quantise_input
from bitwave.verify import verify_build

ROOT = Path(__file__).resolve().parent.parent
CLOCK_HZ = 100e6


def example():
    spec = importlib.util.spec_from_file_location("bitwave_example_tcn", ROOT / "examples" / "tcn.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def stream(graph, signal: np.ndarray, target: int | None, folder: Path) -> dict:
    """Compile ``graph`` as a stream at ``target`` cycles per sample and verify it on ``signal``."""
    t = time.perf_counter()
    res = compile_graph(graph, folder, CompileOptions(stream=True, target_cycles=target),
                        dataset=Dataset(signal), name="tcn")
    compile_s = time.perf_counter() - t
    v = verify_build(folder)
    it = Interpreter(res.graph)
    rows = signal[0].T
    real = it.real(res.graph.output.name, it.output(quantise_input(res.graph.input, rows), codes=True))
    return dict(result=res, verify=v, compile_s=compile_s, real=real[:, 0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=3.0, help="held-out signal length at 48 kHz")
    ap.add_argument("--target-cycles", default="8,0",
                    help="foldings to build, cycles per sample, comma-separated (0: fully folded)")
    args = ap.parse_args()
    ex = example()

    t = time.perf_counter()
    qmodel, fmodel = ex.trained()
    print(f"model: {ex.CausalTCN.__name__} 1-{ex.CHANNELS}-{ex.CHANNELS}-{ex.CHANNELS}-1, kernel "
          f"{ex.KERNEL}, dilations {ex.DILATIONS}, {ex.BITS}-bit weights and activations "
          f"(trained or loaded in {time.perf_counter() - t:.1f} s)")
    x = ex.test_signal(args.seconds)
    y = ex.effect(x)
    signal = x[None, None]
    graph = import_model(qmodel, signal)

    outputs = {"float twin": ex.run(fmodel, x), "quantised (Brevitas)": ex.run(qmodel, x)}
    for target in (int(v) for v in args.target_cycles.split(",")):
        with tempfile.TemporaryDirectory(prefix="tcn-bench-") as tmp:
            r = stream(graph, signal, target or None, Path(tmp) / "tcn")
        v, low = r["verify"], r["result"].lowered
        cps = v.cycles_per_frame
        est = low.resources
        outputs["reference = RTL"] = r["real"]
        print(f"\nfolding {'fully folded' if not target else f'target {target} cycles/sample'} "
              f"(pe/simd per layer: {', '.join(f'{L.pe}/{L.simd}' for L in low.layers)}), "
              f"compiled in {r['compile_s']:.1f} s, Verilator build {v.build_seconds:.1f} s"
              f"{' (cached)' if v.build_cached else ''}")
        print(f"  samples:               {v.frames:,}")
        print(f"  mismatches:            {v.mismatches}")
        print(f"  cycles per sample:     {cps:g} measured, {v.ideal_cycles_per_frame} ideal "
              f"(one sample in and one out every {cps:g} cycles)")
        print(f"  simulated samples/s:   {v.frames / v.sim_seconds:,.0f} "
              f"({v.cycles_per_second / 1e6:.1f} M cycles/s)")
        print(f"  real-time factor:      {CLOCK_HZ / cps / ex.SAMPLE_RATE:,.0f}× at 48 kHz, 100 MHz clock")
        print(f"  estimate:              {est.lut:,} LUT4, {est.ff:,} FF, {est.bram} BRAM, {est.dsp} DSP")
    print(f"\nESR on {len(x):,} held-out samples ({len(x) / ex.SAMPLE_RATE:g} s): plain, pre-emphasised")
    for label, out in outputs.items():
        print(f"  {label:22s} {100 * ex.esr(y, out):6.2f} %  {100 * ex.esr(y, out, 0.85):6.2f} %")


if __name__ == "__main__":
    main()
