# amaranth: UnusedElaboratable=no
"""SerialWindow: each sample's causal window, as slices of ``per_beat`` taps oldest first, against
numpy, with random stalls on both sides; its rate; its estimate."""

import numpy as np
import pytest

from bitwave.errors import HdlError
from bitwave.hdl import SerialWindow, estimate_serial_window
from frame_bench import run_frames
from hdl_bench import pack, random_inputs, unpack


def windows(samples, taps, dilation):
    """Tap j of sample t is sample t − (taps − 1 − j)·dilation (zeros before the first)."""
    history = (taps - 1) * dilation
    padded = np.concatenate([np.zeros((history, samples.shape[1]), dtype=samples.dtype), samples])
    return [padded[t + dilation * np.arange(taps)].reshape(-1) for t in range(len(samples))]


@pytest.mark.parametrize("channels, elem_width, signed, taps, dilation, per_beat", [
    (1, 16, True, 24, 1, 2),
    (1, 8, False, 8, 1, 1),
    (2, 5, True, 6, 3, 3),
    (1, 4, True, 1, 1, 1),
])
def test_serial_window_matches_numpy_under_random_stalls(channels, elem_width, signed, taps,
                                                         dilation, per_beat):
    unit = SerialWindow(channels=channels, elem_width=elem_width, signed=signed, taps=taps,
                        dilation=dilation, per_beat=per_beat)
    rng = np.random.default_rng(taps)
    n = 30
    samples = random_inputs(rng, n * channels, elem_width, signed).reshape(n, channels)
    result = run_frames(unit, [pack(s, elem_width) for s in samples], n * unit.beats,
                        p_in_stall=0.3, p_out_stall=0.3, seed=taps)
    got = [unpack(o, per_beat * channels, elem_width, signed) for o in result["outputs"]]
    want = [list(w[b * per_beat * channels:(b + 1) * per_beat * channels])
            for w in windows(samples, taps, dilation) for b in range(unit.beats)]
    assert got == want


def test_serial_window_gives_one_beat_per_cycle_without_gaps_between_samples():
    unit = SerialWindow(channels=1, elem_width=8, signed=False, taps=8, per_beat=2)
    result = run_frames(unit, [pack([i], 8) for i in range(10)], 40)
    assert np.diff(result["out_cycles"]).tolist() == [1] * 39
    assert unit.cycles_per_frame == unit.beats == 4


def test_serial_window_refuses_a_slice_that_does_not_divide_the_taps():
    with pytest.raises(HdlError, match="per_beat=3 must divide taps=8"):
        SerialWindow(channels=1, elem_width=8, signed=False, taps=8, per_beat=3)


def test_serial_window_keeps_its_history_in_block_ram():
    est = estimate_serial_window(channels=1, elem_width=16, signed=True, taps=64, per_beat=2)
    assert est.resources.bram == 2 and est.resources.ff < 100
