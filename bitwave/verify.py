"""Co-simulation: the RTL against the reference interpreter, every sample, every output.

``verify_build`` builds the emitted Verilog with Verilator, streams the whole
dataset through it, frame by frame (optionally with random stalls on the input
valid and the output ready) and compares every output frame with the
interpreter's, bit for bit.  On a mismatch it finds the first layer whose output stream differs (each
layer is simulated on its own, fed with the reference stream of its input) and
writes a VCD waveform of the run up to the first failing sample.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

from .build_folder import TOP, BuildManifest, load_build
from .energy import get_model, measure_energy
from .errors import SimMismatchError
from .hdl import StreamFormat, emit_verilog
from .ir import Graph, Input, Interpreter, Output, quantise_input
from .lower import lower
from .report import update_report
from .sim import StreamSim

__all__ = ["VerifyResult", "verify_build", "build_sim", "simulate_graph", "localise_mismatch"]


@dataclass
class VerifyResult:
    frames: int
    mismatches: int
    first_mismatch: int | None
    cycles: int
    cycles_per_frame: float
    ideal_cycles_per_frame: int
    sim_seconds: float
    cycles_per_second: float
    build_seconds: float
    build_cached: bool
    stall_in: float
    stall_out: float
    accuracy: dict
    waveform: str | None = None
    first_bad_layer: str | None = None
    #: The RTL's output codes as it streamed them out, one row per frame (decoded from the
    #: output stream, in the graph's layout); left out of :meth:`as_dict` and the report.
    outputs: np.ndarray | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict:
        d = asdict(replace(self, outputs=None))      # not a deep copy of the outputs
        del d["outputs"]
        return d


def build_sim(build_dir: str | Path, manifest: BuildManifest, *, trace: bool = False,
              log_dir: Path | None = None) -> StreamSim:
    """The Verilator build (cached) of a build folder's Verilog, with the manifest's streams."""
    d = Path(build_dir)
    return StreamSim.build((d / manifest.verilog).read_text(), sink=manifest.sink,
                           source=manifest.source, top=manifest.top, trace=trace,
                           log_dir=log_dir)


def simulate_graph(graph: Graph, codes: np.ndarray, *, stall_in=0.0, stall_out=0.0, seed=1,
                   trace: Path | None = None, log_dir: Path | None = None,
                   on_line=None, multipliers: int = 0) -> tuple[np.ndarray, object, StreamSim]:
    """Lower ``graph`` (with ``multipliers``, see :func:`~bitwave.lower.plan`), build it and
    stream integer input codes through it; returns IR codes out."""
    low = lower(graph, multipliers)
    sim = StreamSim.build(emit_verilog(low.top, name=TOP), sink=low.sink, source=low.source,
                          top=TOP, trace=trace is not None, log_dir=log_dir, on_line=on_line)
    res = sim.run(low.sink.encode(_rows(codes)), stall_in=stall_in, stall_out=stall_out, seed=seed,
                  trace=trace)
    return low.source.decode(res.outputs), res, sim


def localise_mismatch(graph: Graph, codes: np.ndarray, sample: int) -> str | None:
    """Name the first layer whose RTL output differs from the reference on ``sample``.

    Each hardware layer is simulated alone, fed the reference values of its
    input, so a fault is pinned to one block even when later blocks mask it.
    The stream up to ``sample`` is replayed, not ``sample`` alone: a layer with
    state (``Wdf``) computes each frame from the ones before it.
    """
    interp = Interpreter(graph)
    values = interp.run(codes[:sample + 1], codes=True)
    for layer in lower(graph).layers:
        first = graph[layer.ops[0]]
        last = graph[layer.ops[-1]]
        if layer.kind == "add":       # a residual join reads two streams; its paths are checked
            continue
        src = first.input
        t_in = interp.types[src]
        shape = (t_in.channels,) + t_in.spatial if t_in.spatial else ()   # channels first
        sub = Graph((Input(src, n=t_in.n, fmt=t_in.fmt, scale=float(t_in.scales[0]), shape=shape),
                     *[graph[n] for n in layer.ops],
                     Output(f"{last.name}_out", input=last.name)))
        out, _, _ = simulate_graph(sub, values[src])
        if not np.array_equal(out, _rows(values[last.name])):
            return layer.name
    return None


def _rows(values) -> np.ndarray:
    """One row per sample: a channels-last image (H, W, C) flattens pixel by pixel, the
    order in which a stream carries its beats."""
    values = np.asarray(values)
    return values.reshape(len(values), -1)


def _frames(d: Path, values, what: str, port: StreamFormat) -> np.ndarray:
    """The graph's ``what`` (input or output codes) as rows of one frame of ``port`` each."""
    rows = _rows(values)
    if rows.shape[1] != port.frame_elems:
        raise SimMismatchError(f"{d}: the graph's {what} has {rows.shape[1]} elements but a frame of "
                               f"the design's {what} stream has {port.frame_elems} ({port.describe()}); "
                               "the build folder is inconsistent: recompile it")
    return rows


def verify_build(build_dir: str | Path, *, stall_in: float = 0.0, stall_out: float = 0.0, seed: int = 1,
                 limit: int | None = None, log: Callable[[str], None] = lambda s: None,
                 waveform_on_mismatch: bool = True, energy: str | None = None, energy_frames: int = 200,
                 clock_mhz: float | None = None) -> VerifyResult:
    """Co-simulate a build folder over its dataset; updates its report; returns the result.

    With ``energy`` (a family of :data:`bitwave.energy.MODELS`), also counts the switching
    activity of the first ``energy_frames`` frames (the dataset repeated if shorter) and
    writes the estimated energy per frame into the report (section ``energy``)."""
    d = Path(build_dir)
    if energy:
        get_model(energy)           # an unknown family fails before the simulation, not after
    build = load_build(d)
    manifest, graph, ds = build.manifest, build.graph, build.dataset
    if ds is None:
        raise SimMismatchError(f"{d}: no dataset.npz to verify with; compile with example inputs")
    inputs = ds.inputs if limit is None else ds.inputs[:limit]
    codes = quantise_input(graph.input, inputs)
    interp = Interpreter(graph)
    ref = interp.device(codes, codes=True)
    frames, expected = _frames(d, codes, "input", manifest.sink), _frames(d, ref, "output", manifest.source)
    log("building the Verilog with Verilator (cached after the first build)")
    sim = build_sim(d, manifest, log_dir=d)
    log(f"streaming {len(codes)} frames through the RTL"
        + (f" with stalls in={stall_in} out={stall_out}" if stall_in or stall_out else ""))
    res = sim.run(sim.sink.encode(frames), stall_in=stall_in, stall_out=stall_out, seed=seed)
    rtl = sim.source.decode(res.outputs)
    bad = np.nonzero(np.any(rtl != expected, axis=1))[0]
    accuracy = {}
    if ds.labels is not None:
        accuracy = ds.accuracy(interp.finish(rtl.reshape(ref.shape)))
    result = VerifyResult(
        frames=len(codes), mismatches=int(len(bad)), first_mismatch=int(bad[0]) if len(bad) else None,
        cycles=res.cycles, cycles_per_frame=res.cycles_per_frame,
        ideal_cycles_per_frame=manifest.cycles_per_frame, sim_seconds=res.seconds,
        cycles_per_second=res.cycles_per_second, build_seconds=sim.build_seconds,
        build_cached=sim.cached, stall_in=stall_in, stall_out=stall_out, accuracy=accuracy,
        outputs=rtl)
    if len(bad) and waveform_on_mismatch:
        first = int(bad[0])
        log(f"mismatch at sample {first}: locating the first differing layer and writing a waveform")
        result.first_bad_layer = localise_mismatch(graph, codes, first)
        wave = d / "waves" / "mismatch.vcd"
        wave.parent.mkdir(exist_ok=True)
        traced = build_sim(d, manifest, trace=True, log_dir=d)
        traced.run(sim.sink.encode(frames[:first + 1]), stall_in=stall_in, stall_out=stall_out,
                   seed=seed, trace=wave.resolve())
        result.waveform = str(wave)
    update_report(d, "rtl", result.as_dict())
    if energy:
        log(f"counting switching activity over {energy_frames} frames ({energy} energy model)")
        wires = sim.sink.encode(frames)        # a short dataset is repeated: the pipeline's filling is then amortised
        est = measure_energy(d, manifest, np.resize(wires, (energy_frames, wires.shape[1])), energy,
                             clock_mhz=clock_mhz)
        update_report(d, "energy", est.as_dict())
    return result
