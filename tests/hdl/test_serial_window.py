# amaranth: UnusedElaboratable=no
"""SerialWindow: each sample's causal window, as slices of ``per_beat`` taps (or of one tap's
``channels/parts`` elements) oldest first, against numpy, with random stalls on both sides; its
rate; its refusals; its estimate."""

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


@pytest.mark.parametrize("channels, elem_width, signed, taps, dilation, per_beat, parts", [
    (1, 16, True, 24, 1, 2, 1),
    (1, 8, False, 8, 1, 1, 1),
    (2, 5, True, 6, 3, 3, 1),
    (1, 4, True, 1, 1, 1, 1),
    (2, 16, True, 8, 1, 1, 2),
    (3, 6, False, 5, 2, 1, 3),
    (4, 7, True, 4, 1, 1, 2),
])
def test_serial_window_matches_numpy_under_random_stalls(channels, elem_width, signed, taps,
                                                         dilation, per_beat, parts):
    unit = SerialWindow(channels=channels, elem_width=elem_width, signed=signed, taps=taps,
                        dilation=dilation, per_beat=per_beat, parts=parts)
    assert unit.beats == taps // per_beat * parts
    rng = np.random.default_rng(taps)
    n = 30
    samples = random_inputs(rng, n * channels, elem_width, signed).reshape(n, channels)
    result = run_frames(unit, [pack(s, elem_width) for s in samples], n * unit.beats,
                        p_in_stall=0.3, p_out_stall=0.3, seed=taps)
    elems = per_beat * channels // parts     # a window is tap-major, so a beat is consecutive
    got = [unpack(o, elems, elem_width, signed) for o in result["outputs"]]
    want = [list(w[b * elems:(b + 1) * elems])
            for w in windows(samples, taps, dilation) for b in range(unit.beats)]
    assert got == want


@pytest.mark.parametrize("channels, per_beat, parts, beats", [(1, 2, 1, 4), (2, 1, 2, 16)])
def test_serial_window_gives_one_beat_per_cycle_without_gaps_between_samples(channels, per_beat,
                                                                               parts, beats):
    unit = SerialWindow(channels=channels, elem_width=8, signed=False, taps=8, per_beat=per_beat,
                        parts=parts)
    result = run_frames(unit, [pack([i] * channels, 8) for i in range(10)], 10 * beats)
    assert np.diff(result["out_cycles"]).tolist() == [1] * (10 * beats - 1)
    assert unit.cycles_per_frame == unit.beats == beats


def test_serial_window_refuses_a_slice_that_does_not_divide_the_taps():
    with pytest.raises(HdlError, match="per_beat=3 must divide taps=8"):
        SerialWindow(channels=1, elem_width=8, signed=False, taps=8, per_beat=3)


def test_serial_window_refuses_parts_that_do_not_divide_the_channels():
    with pytest.raises(HdlError, match="parts=2 must divide channels=3"):
        SerialWindow(channels=3, elem_width=8, signed=False, taps=8, parts=2)


def test_serial_window_refuses_parts_with_several_taps_a_beat():
    with pytest.raises(HdlError, match="parts=2 needs per_beat=1, not 2"):
        SerialWindow(channels=2, elem_width=8, signed=False, taps=8, per_beat=2, parts=2)


def test_serial_window_keeps_its_history_in_block_ram():
    est = estimate_serial_window(channels=1, elem_width=16, signed=True, taps=64, per_beat=2)
    assert est.resources.bram == 2 and est.resources.ff < 100
