# amaranth: UnusedElaboratable=no
"""MatVecUnit's credit scheme (row groups of two cycles or more): the pipeline has no
enable, and a row group begins only with room for its result, so a long-stalled
output stops the input without losing or duplicating anything."""

import numpy as np
import pytest

from bitwave.hdl import MatVecUnit
from bitwave.hdl._mvu_output import queue_depth
from frame_bench import run_frames
from hdl_bench import mvu_model, pack, random_inputs, unpack


@pytest.mark.parametrize("rows, cols, pe, simd", [(8, 12, 2, 3), (4, 8, 4, 4), (6, 6, 1, 2)])
def test_a_long_stalled_output_stops_the_input_and_loses_nothing(rows, cols, pe, simd):
    rng = np.random.default_rng([rows, cols, pe, simd])
    weights = rng.choice([-1, 1], size=(rows, cols))
    unit = MatVecUnit(weights=weights, in_width=1, in_signed=False, in_bipolar=True, w_width=1,
                      w_signed=False, w_bipolar=True, acc_width=8, pe=pe, simd=simd)
    assert unit.output_through_collector
    xs = [random_inputs(rng, cols, 1, False, True) for _ in range(16)]
    # The output is taken about one cycle in 20: the unit must stop taking vectors.
    result = run_frames(unit, [pack(x, 1, True) for x in xs], len(xs), p_out_stall=0.95,
                        seed=rows)
    got = [unpack(o, rows, unit.out_width, unit.out_signed) for o in result["outputs"]]
    assert got == [mvu_model(weights, x) for x in xs]
    # Taken but not yet out, at most: the output register, the collector, the
    # queue's row groups (fewer than the latency's stages allow) and the vector
    # being issued.
    ahead = [sum(1 for t in result["in_cycles"] if t <= out) - k - 1
             for k, out in enumerate(result["out_cycles"])]
    depth_bound = queue_depth(cols // simd, unit.latency)
    assert max(ahead) <= 3 + -(-depth_bound // (rows // pe)) < len(xs)


def test_the_fold_queue_covers_the_row_groups_in_flight():
    # one row group begun every 16 cycles, 12 stages to the collector: two in flight
    assert queue_depth(16, 12) == 3
    # row groups of two cycles behind 9 stages: six in flight
    assert queue_depth(2, 9) == 7
