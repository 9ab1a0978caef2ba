"""A dense first layer takes the model input in ``simd``-wide slices, one per beat (its slice
buffer instead of a whole-vector multiplexer): the plan's input stream says so, and the RTL
streams the slices bit for bit with stalls at the layer's rate; a first layer that shares its
input with another path, or is fully parallel, reads whole vectors."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from bitwave.ir import Add, Graph, Input, Int, MatVec, MultiThreshold, Output
from bitwave.lower import plan
from bitwave.passes import InferBitwidths

_SPEC = importlib.util.spec_from_file_location("_verified", Path(__file__).resolve().parent / "_verified.py")
_verified = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_verified)


def mlp(rng, *, pe=2, simd=3, n=12):
    return InferBitwidths().run(Graph((
        Input("x", n=n, fmt=Int(5, True)),
        MatVec("m0", input="x", weight=rng.integers(-3, 4, (4, n)), wfmt=Int(3, True), pe=pe, simd=simd),
        MultiThreshold("a0", input="m0", thresholds=np.sort(rng.integers(-40, 40, (4, 3)), axis=1),
                       fmt=Int(2, False)),
        MatVec("m1", input="a0", weight=rng.integers(-3, 4, (3, 4)), wfmt=Int(3, True), simd=2),
        Output("y", input="m1"))))


def test_the_input_stream_carries_one_slice_per_beat():
    g = mlp(np.random.default_rng(0))
    sink = plan(g).sink
    assert (sink.elems, sink.width, sink.beats) == (3, 5, 4)
    assert plan(mlp(np.random.default_rng(0), simd=12)).sink.beats == 1     # one slice: one beat


def test_a_shared_or_fully_parallel_first_layer_reads_whole_vectors():
    rng = np.random.default_rng(1)
    g = mlp(rng)
    forked = Graph(g.ops[:3] + (
        MatVec("s", input="x", weight=rng.integers(-3, 4, (4, 12)), wfmt=Int(3, True), pe=2, simd=3),
        MultiThreshold("sa", input="s", thresholds=np.sort(rng.integers(-40, 40, (4, 3)), axis=1),
                       fmt=Int(2, False)),
        Add("j", input="a0", other="sa"), Output("y", input="j")))
    assert plan(forked).sink.beats == 1
    assert plan(mlp(rng, pe=4, simd=12)).sink.beats == 1


@pytest.mark.parametrize("pe, simd", [(2, 3), (1, 4), (4, 2)])
def test_sliced_input_is_bit_exact_in_rtl(pe, simd):
    rng = np.random.default_rng(pe * 10 + simd)
    _verified.assert_rtl_equals_reference(mlp(rng, pe=pe, simd=simd), rng, "matvec", frames=40, count=2)
