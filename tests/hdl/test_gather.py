# amaranth: UnusedElaboratable=no
"""Gather and Scatter against numpy models, with random stalls on both sides."""

import numpy as np
import pytest

from bitwave.errors import HdlError
from bitwave.hdl import Gather, Scatter, emit_verilog, estimate_gather, estimate_scatter
from frame_bench import run_frames
from hdl_bench import pack, unpack


def run_gather(vectors, p_stall, seed, *, beats, elems, width, order=None):
    unit = Gather(beats=beats, elems=elems, width=width, order=order)
    beats_in = [pack(beat, width) for v in vectors for beat in np.reshape(v, (beats, elems))]
    result = run_frames(unit, beats_in, len(vectors), p_in_stall=p_stall,
                        p_out_stall=p_stall, seed=seed)
    return unit, result, [unpack(o, beats * elems, width, False) for o in result["outputs"]]


@pytest.mark.parametrize("beats, elems, width, shuffle", [
    (4, 3, 4, True), (1, 2, 3, False), (6, 1, 1, True), (3, 2, 5, False),
])
def test_gather_matches_model_under_random_stalls(beats, elems, width, shuffle):
    rng = np.random.default_rng(beats)
    n = beats * elems
    order = rng.permutation(n) if shuffle else None
    vectors = rng.integers(0, 1 << width, size=(6, n))
    _, _, got = run_gather(vectors, 0.4, beats, beats=beats, elems=elems, width=width,
                           order=order)
    index = np.arange(n) if order is None else order
    assert got == [list(v[index]) for v in vectors]


def test_gather_flattens_a_pixel_stream_in_pytorch_order():
    """order[c·H·W + p] = p·C + c turns H·W pixel beats into torch's C·H·W flatten."""
    height, width, channels = 2, 3, 2
    order = [p * channels + c for c in range(channels) for p in range(height * width)]
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 16, size=(3, height, width, channels))
    _, _, got = run_gather([f.reshape(-1) for f in frames], 0.2, 0, beats=height * width,
                           elems=channels, width=4, order=order)
    assert got == [list(f.transpose(2, 0, 1).reshape(-1)) for f in frames]


def test_gather_takes_one_beat_per_cycle():
    vectors = np.arange(5 * 8).reshape(5, 8) % 16
    unit, result, got = run_gather(vectors, 0.0, 0, beats=4, elems=2, width=4)
    assert got == vectors.tolist()
    assert np.diff(result["in_cycles"]).tolist() == [1] * 19
    assert np.diff(result["out_cycles"]).tolist() == [unit.cycles_per_frame] * 4 == [4] * 4
    assert result["out_cycles"][0] - result["in_cycles"][0] == unit.latency == 4


@pytest.mark.parametrize("beats, elems, width", [(4, 3, 4), (1, 2, 3), (5, 1, 2)])
def test_scatter_matches_model_under_random_stalls(beats, elems, width):
    rng = np.random.default_rng(beats)
    vectors = rng.integers(0, 1 << width, size=(6, beats * elems))
    unit = Scatter(beats=beats, elems=elems, width=width)
    result = run_frames(unit, [pack(v, width) for v in vectors], 6 * beats, p_in_stall=0.4,
                        p_out_stall=0.4, seed=beats)
    got = [unpack(o, elems, width, False) for o in result["outputs"]]
    assert got == vectors.reshape(-1, elems).tolist()


def test_scatter_sends_one_beat_per_cycle():
    unit = Scatter(beats=3, elems=2, width=4)
    result = run_frames(unit, [pack(range(i, i + 6), 4) for i in range(4)], 12)
    assert np.diff(result["out_cycles"]).tolist() == [1] * 11
    # The second vector waits in the buffer's spare entry; then one vector per 3 cycles.
    assert np.diff(result["in_cycles"]).tolist() == [1] + [unit.cycles_per_frame] * 2 == [1, 3, 3]
    assert result["out_cycles"][0] - result["in_cycles"][0] == unit.latency == 1


@pytest.mark.parametrize("kwargs, message", [
    (dict(order=[0, 1, 2]), "Gather: order must have 4 entries (one per output), not 3"),
    (dict(order=[0, 1, 2, 4]), "Gather: order[3] = 4 is not an element index; collected "
                               "elements are numbered 0..3"),
    (dict(order=[0, 2, 1, 2]), "Gather: order must be a permutation, but element 2 appears "
                               "at order[1] and order[3]"),
    (dict(beats=0), "Gather: beats must be a positive integer, not 0"),
    (dict(width=True), "Gather: width must be an integer, not True"),
])
def test_gather_rejects_bad_parameters(kwargs, message):
    params = dict(beats=2, elems=2, width=4)
    params.update(kwargs)
    with pytest.raises(HdlError) as info:
        Gather(**params)
    assert str(info.value) == message


def test_scatter_rejects_bad_parameters():
    with pytest.raises(HdlError) as info:
        Scatter(beats=2, elems=0, width=4)
    assert str(info.value) == "Scatter: elems must be a positive integer, not 0"


def test_gather_and_scatter_emit_verilog_and_estimates():
    for unit in (Gather(beats=3, elems=2, width=4, order=[5, 4, 3, 2, 1, 0]),
                 Scatter(beats=3, elems=2, width=4)):
        assert "module bitwave_top" in emit_verilog(unit)
    gather = estimate_gather(beats=3, elems=2, width=4)
    scatter = estimate_scatter(beats=3, elems=2, width=4)
    # Slots and output register: two copies of the 24-bit vector; a buffer of two for scatter.
    assert gather.parts["slots"][1] == gather.parts["output register"][1] == 24
    assert scatter.parts["buffer"][1] == 48
    for est in (gather, scatter):
        assert est.resources.bram == 0
        assert est.resources.ff == round(sum(ff for _, ff in est.parts.values()))
