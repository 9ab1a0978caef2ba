# amaranth: UnusedElaboratable=no
"""Frames of several beats, end to end: StreamFormat's frame helpers, StreamSim with and
without stalls, verify_build, the cocotb bench, the UART wrapper and the build manifest, on
small hand-written designs (beats in → one beat out, one beat in → beats out, both chained)."""

import json
import random
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from bitwave.boards import simulate_uart
from bitwave.build_folder import TOP, BuildManifest, Port
from bitwave.dataset import Dataset
from bitwave.errors import HdlError, SimMismatchError
from bitwave.hdl import Chain, Resources, StreamFormat, emit_verilog, port_manifest
from bitwave.ir import Graph, Input, Int, MatVec, Output, print_graph
from bitwave.sim import MultiStreamSim, StreamSim
from bitwave.sim.cocotb_bench import run_cocotb
from bitwave.verify import verify_build

sim = pytest.mark.sim


class BeatSum(wiring.Component):
    """Frames of ``beats`` beats of ``elems`` signed elements in; one beat out, element j the sum
    of element j of every beat.  Takes a beat every cycle, so a frame every ``beats`` cycles."""

    def __init__(self, *, elems: int = 2, width: int = 4, beats: int = 3):
        self.sink_format = StreamFormat(elems, width, True, beats=beats)
        self.source_format = StreamFormat(elems, width + 2, True)
        self.cycles_per_frame, self.latency = beats, beats
        super().__init__({"sink": In(stream.Signature(self.sink_format.bits)),
                          "source": Out(stream.Signature(self.source_format.bits))})

    def elaborate(self, platform):
        m = Module()
        i, o = self.sink_format, self.source_format
        acc = [Signal(signed(o.width), name=f"acc{j}") for j in range(i.elems)]
        beat = Signal(range(i.beats))
        x = [self.sink.payload[j * i.width:(j + 1) * i.width].as_signed() for j in range(i.elems)]
        total = [(a + v)[:o.width] for a, v in zip(acc, x)]
        m.d.comb += self.sink.ready.eq(~self.source.valid | self.source.ready)
        with m.If(self.source.valid & self.source.ready):
            m.d.sync += self.source.valid.eq(0)
        with m.If(self.sink.valid & self.sink.ready):
            with m.If(beat == i.beats - 1):
                m.d.sync += [beat.eq(0), self.source.valid.eq(1), self.source.payload.eq(Cat(*total)),
                             *(a.eq(0) for a in acc)]
            with m.Else():
                m.d.sync += [beat.eq(beat + 1), *(a.eq(t) for a, t in zip(acc, total))]
        return m


class BeatSplit(wiring.Component):
    """One beat of ``2·half`` elements in; two beats out, its first half then its second.
    Sustains a frame every two cycles (the next beat is taken while the last goes out)."""

    def __init__(self, *, half: int = 2, width: int = 4):
        self.sink_format = StreamFormat(2 * half, width, True)
        self.source_format = StreamFormat(half, width, True, beats=2)
        self.cycles_per_frame, self.latency = 2, 1
        super().__init__({"sink": In(stream.Signature(self.sink_format.bits)),
                          "source": Out(stream.Signature(self.source_format.bits))})

    def elaborate(self, platform):
        m = Module()
        half = self.source_format.bits
        hold = Signal(2 * half)
        left = Signal(range(3))           # beats of the held frame still to send
        m.d.comb += [self.source.valid.eq(left != 0),
                     self.source.payload.eq(Mux(left == 2, hold[:half], hold[half:])),
                     self.sink.ready.eq((left == 0) | ((left == 1) & self.source.ready))]
        with m.If(self.source.valid & self.source.ready):
            m.d.sync += left.eq(left - 1)
        with m.If(self.sink.valid & self.sink.ready):
            m.d.sync += [hold.eq(self.sink.payload), left.eq(2)]
        return m


def sum_chain():
    """Frames of 3 beats of 2 elements in, their 2 sums out as 2 beats of 1 element."""
    chain = Chain([BeatSum(), BeatSplit(half=1, width=6)])
    chain.sink_format, chain.source_format = chain.stages[0].sink_format, chain.stages[-1].source_format
    return chain


def sums(frames, beats=3, elems=2):
    return np.asarray(frames).reshape(len(frames), beats, elems).sum(axis=1)


def frames_of(fmt: StreamFormat, n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(fmt.lo, fmt.hi + 1, (n, fmt.frame_elems))


def write_build(folder, design, inputs):
    """A build folder around ``design`` (a :func:`sum_chain`): its Verilog, a manifest with
    multi-beat streams, and an IR graph computing the same sums as the golden model."""
    folder.mkdir()
    sink, source = design.sink_format, design.source_format
    weight = np.tile(np.eye(source.frame_elems, dtype=int), sink.beats)
    graph = Graph((Input("x", n=sink.frame_elems, fmt=Int(sink.width, True)),
                   MatVec("sum", input="x", weight=weight, wfmt=Int(2)),
                   Output("y", input="sum")))
    (folder / f"{TOP}.v").write_text(emit_verilog(design, name=TOP))
    (folder / "graph.txt").write_text(print_graph(graph))
    Dataset(np.asarray(inputs, dtype=float)).save(folder / Dataset.FILE)
    BuildManifest(name="sum-chain", sink=sink, source=source,
                  ports=tuple(Port(k, p["direction"], p["width"]) for k, p in port_manifest(design).items()),
                  cycles_per_frame=design.cycles_per_frame, latency=design.latency, pipeline=(), layers=(),
                  estimate=Resources()).save(folder)
    return folder


# StreamFormat: frames of beats


def test_frames_split_into_beats_in_row_major_order():
    fmt = StreamFormat(2, 4, True, beats=3)
    frames = np.arange(-6, 6).reshape(2, 6)
    assert (fmt.frame_elems, fmt.nbytes, fmt.frame_nbytes) == (6, 1, 3)
    assert fmt.split(frames).tolist() == [[-6, -5], [-4, -3], [-2, -1], [0, 1], [2, 3], [4, 5]]
    words = fmt.pack_words(frames)
    assert words.shape == (6, 1)
    assert words[1, 0] == (-4 & 15) | (-3 & 15) << 4            # frame 0, beat 1
    assert fmt.unpack_words(words).tolist() == frames.tolist()
    data = fmt.to_bytes(frames[1])
    assert data == bytes([0x10, 0x32, 0x54])                    # beat by beat, element 0 lowest
    assert fmt.from_bytes(data) == frames[1].tolist()
    assert fmt.describe() == "3 beats of 2 × 4 bit signed"
    assert StreamFormat(2, 4, True).describe() == "2 × 4 bit signed"


def test_frame_shape_errors_name_the_beats():
    fmt = StreamFormat(2, 4, True, beats=3)
    with pytest.raises(HdlError, match=r"^frame has 2 elements, the accelerator takes 6 \(3 beats of 2\)$"):
        fmt.to_bytes([1, 2])
    with pytest.raises(HdlError, match=r"^result frame has 2 bytes, expected 3$"):
        fmt.from_bytes(b"\0\0")
    with pytest.raises(HdlError, match=r"^\(4, 2\) is not whole frames of 3 beats of 2 elements$"):
        fmt.join(np.zeros((4, 2)))
    with pytest.raises(HdlError, match=r"^beat has 6 elements, the stream carries 2 per beat$"):
        fmt.pack_int(range(6))
    with pytest.raises(HdlError, match=r"^stream beats must be a positive integer, not 0$"):
        StreamFormat(2, 4, beats=0)


def test_manifest_keeps_beats_and_old_manifests_load_single_beat(tmp_path):
    folder = write_build(tmp_path / "b", sum_chain(), np.zeros((1, 6)))
    m = BuildManifest.load(folder)
    assert (m.sink.beats, m.source.beats) == (3, 2)
    assert json.loads((folder / "manifest.json").read_text())["sink"]["beats"] == 3
    m.save(folder)
    assert BuildManifest.load(folder) == m
    data = json.loads((folder / "manifest.json").read_text())
    for port in ("sink", "source"):
        del data[port]["beats"]
    (folder / "manifest.json").write_text(json.dumps(data))
    assert BuildManifest.load(folder).sink == StreamFormat(2, 4, True)


# StreamSim


@pytest.fixture(scope="module")
def beat_sum():
    d = BeatSum()
    return StreamSim.build(emit_verilog(d, name=TOP), sink=d.sink_format, source=d.source_format)


@pytest.fixture(scope="module")
def beat_split():
    d = BeatSplit()
    return StreamSim.build(emit_verilog(d, name=TOP), sink=d.sink_format, source=d.source_format)


@sim
@pytest.mark.parametrize("stalls", [(0.0, 0.0), (0.3, 0.3), (0.1, 0.7)])
def test_three_beats_in_one_beat_out(beat_sum, stalls):
    frames = frames_of(beat_sum.sink, 500, seed=1)
    res = beat_sum.run(frames, stall_in=stalls[0], stall_out=stalls[1], seed=3)
    np.testing.assert_array_equal(res.outputs, sums(frames))
    assert (res.sent, res.received, res.sent_beats, res.received_beats) == (500, 500, 1500, 500)
    assert len(res.stamps) == 500 and np.all(np.diff(res.stamps) > 0)
    if stalls == (0.0, 0.0):
        assert res.cycles_per_frame == 3


@sim
@pytest.mark.parametrize("stalls", [(0.0, 0.0), (0.3, 0.3), (0.1, 0.7)])
def test_one_beat_in_two_beats_out(beat_split, stalls):
    frames = frames_of(beat_split.sink, 500, seed=2)
    res = beat_split.run(frames, stall_in=stalls[0], stall_out=stalls[1], seed=4)
    np.testing.assert_array_equal(res.outputs, frames)
    assert (res.sent, res.received, res.sent_beats, res.received_beats) == (500, 500, 500, 1000)
    assert len(res.stamps) == 500
    if stalls == (0.0, 0.0):
        assert res.cycles_per_frame == 2       # the stamp of a frame is its last beat's


@sim
def test_missing_frames_are_counted_in_frames_and_beats(beat_sum):
    # Two beats per frame into a design that sums three: 3 frames in make 2 frames out.
    short = replace(beat_sum, sink=StreamFormat(2, 4, True, beats=2))
    with pytest.raises(SimMismatchError, match=r"^simulation: only 2 of 3 frames \(2 of 3 beats\) came out "
                                                r"after 200 cycles \(3 frames, 6 of 6 beats, went in\); "
                                                r"the design stalls or drops frames$"):
        short.run(np.zeros((3, 4)), max_cycles=200)
    with pytest.raises(SimMismatchError, match=r"sink takes \(N, 6\) input codes \(3 beats of 2\), "
                                                r"not an array of shape \(2, 2\)"):
        beat_sum.run(np.zeros((2, 2)))


@sim
def test_multi_stream_sim_moves_each_designs_frames_in_its_own_beats():
    """Beats in → one out, one in → beats out, both chained, and a design's frame count in
    one build, each with its own stalls: whole frames out, counts in frames and beats."""
    designs = [BeatSum(), BeatSplit(), sum_chain()]
    sim = MultiStreamSim.build([SimpleNamespace(top=d, sink=d.sink_format, source=d.source_format)
                                for d in designs])
    xs = [frames_of(d.sink_format, n, seed=n) for d, n in zip(designs, (40, 25, 31))]
    outs, _ = sim.run(xs, stall_in=[0.0, 0.3, 0.5], stall_out=[0.4, 0.0, 0.3], seeds=[1, 2, 3])
    for x, want, out, d in zip(xs, (sums(xs[0]), xs[1], sums(xs[2])), outs, designs):
        np.testing.assert_array_equal(out.outputs, want)
        assert (out.sent, out.received, out.extra) == (len(x), len(x), 0)
        assert (out.sent_beats, out.received_beats) == (len(x) * d.sink_format.beats,
                                                         len(x) * d.source_format.beats)
    with pytest.raises(SimMismatchError, match=r"design 0 takes \(N, 6\) input codes \(3 beats of 2\), "
                                                r"not an array of shape \(2, 2\)"):
        sim.run([np.zeros((2, 2)), xs[1], xs[2]])


# build folder: verify, cocotb, UART


@pytest.fixture(scope="module")
def chain_build(tmp_path_factory):
    inputs = frames_of(StreamFormat(2, 4, True, beats=3), 64, seed=5)
    return write_build(tmp_path_factory.mktemp("multibeat") / "b", sum_chain(), inputs)


@sim
def test_verify_build_streams_whole_frames(chain_build):
    res = verify_build(chain_build, stall_in=0.2, stall_out=0.4, waveform_on_mismatch=False)
    assert (res.frames, res.mismatches) == (64, 0)


@sim
def test_cocotb_bench_checks_frames_of_beats(chain_build):
    summary = run_cocotb(chain_build, rates=((0.0, 0.0), (0.3, 0.3), (0.1, 0.7)), frames=24)
    assert summary["mismatches"] == 0, json.dumps(summary["per_rate"], indent=1)
    assert summary["frames"] == 3 * 24


@sim
def test_uart_sends_and_receives_every_beat_of_a_frame(chain_build):
    frames = frames_of(StreamFormat(2, 4, True, beats=3), 40, seed=6)
    result = simulate_uart(chain_build, frames.tolist(), divisor=8)
    assert not result.overrun
    assert result.outputs == sums(frames).tolist()

