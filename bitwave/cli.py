"""``bitwave`` command line: compile · verify · demo · report · sweep (+ build · flash · boards · run).

Every command reports a :class:`~bitwave.errors.BitwaveError` as one line
``error: …`` on stderr and exits with status 1; a traceback only ever means a
bug in bitwave.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .errors import BitwaveError
from .report import load_report, pct

console = Console(stderr=True, highlight=False)
out = Console(highlight=False)


def _log(msg: str) -> None:
    console.print(f"[dim]·[/dim] {msg}")


def _parse_ints(text: str | None, what: str) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise click.BadParameter(f"{what} must be comma-separated integers, e.g. 16,8,8,10") from None


def _options(pipeline, target_cycles, target_fps, clock_mhz, pe, simd, multipliers=0):
    from .compile import CompileOptions
    return CompileOptions(pipeline=pipeline or "", target_cycles=target_cycles, target_fps=target_fps,
                          clock_mhz=clock_mhz, pe=_parse_ints(pe, "--pe"), simd=_parse_ints(simd, "--simd"),
                          multipliers=multipliers)


def _print_layers(manifest) -> None:
    t = Table(title="hardware layers")
    for col in ("layer", "shape", "in", "weights", "acc", "out", "pe/simd", "cycles", "est. LUT"):
        t.add_column(col)
    for L in manifest.layers:
        t.add_row(L.name, f"{L.rows}×{L.cols}", L.in_fmt, L.w_fmt, L.acc_fmt, L.out_fmt,
                  "-" if L.pe is None else f"{L.pe}/{L.simd}", str(L.cycles), str(L.estimate.lut))
    out.print(t)


def _print_verify(res, report: dict) -> None:
    acc = report.get("accuracy", {})
    for key, label in (("float", "float accuracy"), ("quantised", "quantised accuracy (reference)")):
        if key in acc:
            out.print(f"{label:34s} {pct(acc[key].get('all'))} all, {pct(acc[key].get('test'))} held-out")
    if res.accuracy:
        out.print(f"{'RTL accuracy (Verilator)':34s} {pct(res.accuracy.get('all'))} all, "
                  f"{pct(res.accuracy.get('test'))} held-out")
    out.print(f"frames: {res.frames}   cycles/frame: {res.cycles_per_frame:.1f} (ideal {res.ideal_cycles_per_frame})"
              f"   {res.cycles_per_second / 1e6:.2f} M cycles/s")
    out.print(f"mismatches: {res.mismatches}")
    if res.mismatches:
        out.print(f"first mismatch at sample {res.first_mismatch}; first differing layer: {res.first_bad_layer}")
        if res.waveform:
            out.print(f"waveform: {res.waveform}  (open: gtkwave {res.waveform})")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="bitwave")
def cli():
    """Compile quantised networks into verified open-FPGA accelerators."""


_compile_options = [
    click.option("-p", "--pipeline", default="", help="Extra passes before the default pipeline, e.g. 'svd-split{energy=0.01},quantise-1bit'."),
    click.option("--target-cycles", type=int, default=None, help="Cycles per frame to reach; picks pe/simd per layer (default: fully folded)."),
    click.option("--target-fps", type=float, default=None, help="Frames per second to reach at --clock-mhz."),
    click.option("--clock-mhz", type=float, default=100.0, show_default=True),
    click.option("--pe", default=None, help="Explicit pe per MatVec layer, comma-separated."),
    click.option("--simd", default=None, help="Explicit simd per MatVec layer, comma-separated."),
    click.option("--multipliers", type=click.IntRange(min=0), default=0, show_default=True,
                 help="18x18 hardware multipliers the pair terms of ±1-weight layers with an input "
                      "of up to 8 bits may use (ECP5's MULT18X18D: 156 on an LFE5U-85F). They save "
                      "LUTs on ECP5; elsewhere each becomes a soft multiplier. 0 keeps them in LUTs."),
]


def _with(options):
    def deco(f):
        for o in reversed(options):
            f = o(f)
        return f
    return deco


@cli.command("compile")
@click.argument("model")
@click.option("-o", "--output", "output", default="build", show_default=True, type=click.Path(file_okay=False))
@click.option("--data", default=None, help="An .npz with 'inputs' (and 'labels') to verify with (for .onnx models).")
@click.option("--print-between-passes", is_flag=True, help="Print the IR after every pass.")
@_with(_compile_options)
def compile_cmd(model, output, data, print_between_passes, pipeline, target_cycles, target_fps, clock_mhz, pe, simd,
                multipliers):
    """Compile MODEL (a QONNX .onnx file, or file.py:function returning a trained model and inputs)."""
    from .compile import compile_graph
    from .frontend import load_model
    m = load_model(model, data, log=_log)
    opts = _options(pipeline, target_cycles, target_fps, clock_mhz, pe, simd, multipliers)
    res = compile_graph(m.graph, output, opts, dataset=m.dataset, name=m.name, log=_log,
                        import_seconds=m.seconds, extra_files={"model.onnx": m.qonnx} if m.qonnx else None)
    if print_between_passes:
        for f in sorted((Path(output) / "ir").iterdir()):
            out.print(f"[bold]// {f.name}[/bold]")
            out.print(f.read_text(), markup=False)
    _print_layers(res.manifest)
    ecp5 = res.manifest.estimate_for("ecp5", True)
    if multipliers and ecp5.dsp:
        out.print(f"pair terms on {ecp5.dsp} multipliers: the estimate above is iCE40's (soft "
                  f"multipliers); on ECP5 with its MULT18X18Ds {ecp5.lut} LUT4-eq (report.md: "
                  f"every build plan)")
    acc = res.report.get("accuracy", {})
    for key in ("float", "quantised"):
        if key in acc:
            out.print(f"{key} accuracy: {pct(acc[key].get('all'))} all, {pct(acc[key].get('test'))} held-out")
    out.print(f"wrote {output}/ (Verilog, IR after each pass, report.md) in "
              f"{sum(res.seconds.values()):.1f} s")


@cli.command("verify")
@click.argument("build_dir", type=click.Path(file_okay=False))
@click.option("--stall-in", type=float, default=0.0, help="Probability of holding input valid low each cycle.")
@click.option("--stall-out", type=float, default=0.0, help="Probability of holding output ready low each cycle.")
@click.option("--seed", type=int, default=1)
@click.option("--cocotb", "use_cocotb", is_flag=True, help="Also run the cocotb backpressure testbench.")
@click.option("--energy", default=None, metavar="FAMILY",
              help="Also estimate the energy per frame with FAMILY's model (ice40up, ecp5); see docs/boards.md.")
@click.option("--clock-mhz", type=float, default=None, help="Clock for the energy estimate's static part.")
def verify_cmd(build_dir, stall_in, stall_out, seed, use_cocotb, energy, clock_mhz):
    """Co-simulate BUILD_DIR's Verilog against the reference interpreter on its dataset."""
    from .verify import verify_build
    res = verify_build(build_dir, stall_in=stall_in, stall_out=stall_out, seed=seed, log=_log, energy=energy,
                       clock_mhz=clock_mhz)
    report = load_report(build_dir)
    _print_verify(res, report)
    if energy:
        from .energy import EnergyEstimate
        out.print(EnergyEstimate(**report["energy"]).line(), markup=False)
    if use_cocotb:
        from .sim.cocotb_bench import run_cocotb
        c = run_cocotb(build_dir, log=_log)
        out.print(f"cocotb: {c['frames']} frames, stalls {c['rates']}, mismatches: {c['mismatches']}")
        if c["mismatches"]:
            sys.exit(1)
    if res.mismatches:
        sys.exit(1)


@cli.command("report")
@click.argument("build_dir", type=click.Path(file_okay=False))
def report_cmd(build_dir):
    """Print BUILD_DIR's report, with each layer's weight spectrum and the ranks svd-split would keep."""
    from .build_folder import BuildManifest
    from .spectrum import PLOTS, write_spectrum
    BuildManifest.load(build_dir)
    write_spectrum(build_dir)
    out.print((Path(build_dir) / "report.md").read_text(), markup=False, soft_wrap=True)
    out.print(f"spectrum plots: {Path(build_dir) / PLOTS}/; report: {Path(build_dir) / 'report.md'}")


@cli.command("demo")
@click.argument("which", required=False, type=click.Choice(["audio"]))
@click.option("-o", "--output", default=None, type=click.Path(file_okay=False),
              help="Build folder  [default: build/demo, build/demo-audio for audio]")
@click.option("--bits", type=click.Choice(["1", "2", "4"]), default="4", show_default=True,
              help="Weight and activation bits of the digits MLP (1: W1A1, XNOR-popcount).")
@click.option("--target-cycles", type=int, default=None,
              help="Folding target for the demo (cycles per frame)  [default: 64 for the MLP, "
                   "512 for the CNN]")
@click.option("--model", "kind", type=click.Choice(["mlp", "cnn", "audio"]), default="mlp",
              show_default=True,
              help="The digits MLP, the digits CNN (two 3×3 convolutions, max pooling; 4-bit), "
                   "or the audio hybrid (same as 'bitwave demo audio').")
@click.option("--retrain", is_flag=True,
              help="Audio: train the hybrid and the baseline again instead of loading the "
                   "shipped checkpoints.")
def demo_cmd(which, output, bits, target_cycles, kind, retrain):
    """Train the digits MLP or CNN (QAT), compile it, verify the RTL on all 1,797 samples.

    'bitwave demo audio': the hybrid audio clipper from its checkpoint (or --retrain) to
    verified RTL over 2 s of held-out plucks; writes WAVs, a plot and an ESR table."""
    if which == "audio" or kind == "audio":
        if bits != "4" or target_cycles is not None:
            raise click.UsageError("the audio demo takes no --bits or --target-cycles")
        _demo_audio(output or "build/demo-audio", retrain)
        return
    if retrain:
        raise click.UsageError("--retrain is for the audio demo ('bitwave demo audio --retrain'); "
                               "the digits demos always train")
    output = output or "build/demo"
    from .compile import CompileOptions, compile_graph
    from .frontend import load_model
    from .verify import verify_build
    t0 = time.monotonic()
    bits = int(bits)
    examples = Path(__file__).resolve().parent.parent / "examples"
    example = examples / ("digits_1bit.py" if bits == 1 else "digits.py")
    function = "digits" if bits == 4 else f"digits_{bits}bit"
    if kind == "cnn":
        if bits != 4:
            raise click.UsageError("--model cnn is the 4-bit digits CNN; leave --bits at 4")
        example, function = examples / "digits_cnn.py", "digits_cnn"
    if target_cycles is None:
        target_cycles = 512 if kind == "cnn" else 64
    with console.status(f"training the {bits}-bit digits {kind.upper()} with Brevitas "
                        "(cached after the first run)"):
        m = load_model(f"{example}:{function}", log=_log)
    _log(f"model ready in {time.monotonic() - t0:.1f} s")
    with console.status("compiling: passes, lowering, Verilog"):
        res = compile_graph(m.graph, output, CompileOptions(target_cycles=target_cycles), dataset=m.dataset,
                            name=m.name, log=_log, import_seconds=m.seconds,
                            extra_files={"model.onnx": m.qonnx})
    _print_layers(res.manifest)
    with console.status("verifying: Verilator build and co-simulation of every sample"):
        res = verify_build(output, log=_log)
    report = load_report(output)
    _print_verify(res, report)
    out.print(f"total {time.monotonic() - t0:.1f} s; report: {output}/report.md")
    if res.mismatches:
        sys.exit(1)


def _demo_audio(output: str, retrain: bool) -> None:
    import os

    from .audio_demo import esr_table, run_demo
    t0 = time.monotonic()
    with console.status("audio demo: model, held-out audio, compile, RTL run"):
        res = run_demo(output, retrain=retrain, log=_log)
    v = res.verify
    a = res.audio
    out.print(esr_table(res.rows, title=f"ESR on {a.input.size / a.fs:g} s of held-out plucks "
                                        f"({a.input.size} samples), latency {a.latency}"))
    if res.baseline is None:
        out.print("baseline: no checkpoint (bench/audio_bench.py --save-checkpoint, or --retrain)")
    out.print(f"frames: {v.frames}   cycles/sample: {v.cycles_per_frame:.1f} "
              f"(ideal {v.ideal_cycles_per_frame})   {v.cycles_per_second / 1e6:.2f} M cycles/s")
    out.print(f"mismatches: {v.mismatches}")
    files = ", ".join(p.name for p in (*res.wavs.values(), res.plot))
    steps = ", ".join(f"{k} {s:.1f}" for k, s in res.seconds.items())
    out.print(f"wrote {output}/: {files}")
    load = os.getloadavg()[0]
    out.print(f"total {time.monotonic() - t0:.1f} s ({steps}) on {os.cpu_count()} cores, load "
              f"average {load:.1f} at the end; report: {output}/report.md")
    if v.mismatches:
        sys.exit(1)


@cli.command("fuzz")
@click.option("--models", type=click.IntRange(min=1), default=200, show_default=True,
              help="Random models to generate, compile and check.")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--first", type=click.IntRange(min=0), default=0, show_default=True,
              help="Number of the first model; --first I --models 1 rebuilds model I of a run.")
@click.option("--no-minimise", is_flag=True, help="Report failing models without shrinking them.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Also write the report (failures with their IR text) as JSON.")
@click.option("--scheduler", default=None,
              help="Spread the models over the running Dask cluster at this address (tcp://host:port) "
                   "or scheduler file; default: all in this process.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Spread the models over a local Dask cluster of this many worker processes "
                   "(one per core is a good choice); default: all in this process.")
def fuzz_cmd(models, seed, first, no_minimise, json_path, scheduler, workers):
    """Compile random models; check passes and RTL against the reference interpreter."""
    from .fuzz import run_cli
    code = run_cli(models=models, seed=seed, first=first, minimise=not no_minimise, json_path=json_path,
                   scheduler=scheduler, workers=workers, log=_log, echo=lambda s: out.print(s, markup=False, soft_wrap=True))
    if code:
        sys.exit(code)


@cli.command("sweep")
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("-o", "--output", default="sweep", show_default=True, type=click.Path(file_okay=False),
              help="Sweep folder: points/<hash>/ (one per point), results.csv, report.md, Pareto plots.")
@click.option("--scheduler", default=None,
              help="Address (tcp://host:port) or scheduler file of a running Dask cluster; default: a local one.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes of the local cluster (default: one per core).")
def sweep_cmd(spec, output, scheduler, workers):
    """Build and verify every point of SPEC (TOML) on Dask; finished points are skipped on a re-run."""
    from .sweep import check_output, load_spec, run_sweep, write_results
    from .sweep._progress import rich_progress
    s = load_spec(spec)
    check_output(Path(output))
    _log(f"{len(s.points)} points; " + (f"scheduler {scheduler}" if scheduler else "local Dask cluster"))
    with rich_progress(console) as progress:
        res = run_sweep(s, output, scheduler=scheduler, workers=workers, progress=progress)
    csv_path, md_path = write_results(s, res, output)
    out.print(f"{len(res.computed)} points computed, {len(res.skipped)} read from earlier runs, "
              f"{len(res.failed)} failed, in {res.seconds:.1f} s; wrote {csv_path} and {md_path}")
    if res.failed:
        sys.exit(1)


def _register_optional():
    """Board commands live with the board stage."""
    try:
        from .boards import _cli as boards_cli
    except ImportError:
        return
    for name in ("build_cmd", "flash_cmd", "boards_cmd", "run_cmd"):
        cmd = getattr(boards_cli, name, None)
        if cmd is not None:
            cli.add_command(cmd)


_register_optional()


def main(argv=None) -> None:
    try:
        cli.main(args=argv, standalone_mode=False)
    except click.exceptions.Abort:
        console.print("aborted")
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except BitwaveError as e:
        console.print(Text.assemble(("error: ", "bold red"), str(e)), soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        console.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
