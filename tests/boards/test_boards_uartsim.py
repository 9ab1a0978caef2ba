"""The board's UART wrapper around a test accelerator in Verilator, seen from the serial line."""

import random

import pytest

from bitwave.boards import selftest_expected, write_selftest_build
from bitwave.boards._uartsim import simulate_uart

pytestmark = pytest.mark.sim


def _frames(rng, n, elems, width, signed):
    lo, hi = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if signed else (0, (1 << width) - 1)
    return [[rng.randint(lo, hi) for _ in range(elems)] for _ in range(n)]


def test_hundred_frames_through_the_serial_line(tmp_path):
    folder = write_selftest_build(tmp_path, elems=4, elem_width=8, addend=3)
    frames = _frames(random.Random(1), 100, 4, 8, False)
    frames[:2] = [[0, 0, 0, 0], [255, 255, 255, 255]]
    result = simulate_uart(folder, frames, divisor=8)
    assert not result.overrun
    assert result.outputs == selftest_expected(frames, 3)
    # 4 bytes in and 5 bytes out per frame, 10 bits of 8 clocks each, window of two frames.
    assert result.cycles < 100 * (4 + 5) * 80


def test_signed_odd_widths_and_odd_divisor(tmp_path):
    folder = write_selftest_build(tmp_path, elems=3, elem_width=5, signed=True, addend=-2)
    frames = _frames(random.Random(2), 100, 3, 5, True)
    result = simulate_uart(folder, frames, divisor=7)
    assert not result.overrun
    assert result.outputs == selftest_expected(frames, -2)


def test_too_many_frames_in_flight_is_flagged_as_overrun(tmp_path):
    """Results (5 bytes) are longer than frames (4 bytes): without a window the frames pile
    up (0.8 bytes more per frame), and once they overflow the receive FIFO (256 bytes)
    the UART overruns."""
    folder = write_selftest_build(tmp_path, elems=4, elem_width=8, addend=3)
    frames = _frames(random.Random(4), 400, 4, 8, False)
    result = simulate_uart(folder, frames, divisor=8, window=400)
    assert result.overrun
    assert len(result.outputs) < len(frames)


def test_icebreaker_divisor(tmp_path):
    """The divisor the iCEBreaker build uses (12 MHz / 115200 baud = 104 clocks per bit)."""
    folder = write_selftest_build(tmp_path, elems=4, elem_width=8, addend=3)
    frames = _frames(random.Random(5), 10, 4, 8, False)
    result = simulate_uart(folder, frames, divisor=104)
    assert not result.overrun
    assert result.outputs == selftest_expected(frames, 3)
