# amaranth: UnusedElaboratable=no
"""The narrow multiplier of the WDF core: digit products summed by Horner's rule are exact."""

import random

import pytest
from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.sim import Simulator

from bitwave.hdl._wdf_serial import DIGIT, Mode, SerialMul, digit_count, partials


def test_digit_counts_and_order():
    assert digit_count(16, True) == 1 and digit_count(17, True) == 2
    assert digit_count(15, False) == 1 and digit_count(16, False) == 2
    # Most significant group first; a new group shifts, the rest of a group keeps.
    assert partials(24, True, 24) == [(1, 1, Mode.CLEAR), (0, 1, Mode.SHIFT), (1, 0, Mode.KEEP),
                                      (0, 0, Mode.SHIFT)]
    assert partials(15, False, 15) == [(0, 0, Mode.CLEAR)]


def _product(x_width, x_signed, y_width, pairs):
    """Run the program for each (x, y) in ``pairs`` in Amaranth's simulator; return the products."""
    m = Module()
    x = Signal(signed(x_width) if x_signed else unsigned(x_width))
    y = Signal(unsigned(y_width))
    ser = SerialMul(m, x_width + y_width + 1)
    prog = ser.program(x, x_width, x_signed, y, y_width)
    count = Signal(range(len(prog) + 1))
    for c, drive in enumerate(prog):
        with m.If(count == c):
            m.d.comb += drive
    with m.If(count != len(prog)):
        m.d.sync += count.eq(count + 1)
    results = []

    async def bench(ctx):
        for a, b in pairs:
            ctx.set(x, a)
            ctx.set(y, b)
            ctx.set(count, 0)
            for _ in range(len(prog)):
                await ctx.tick()
            results.append(ctx.get(ser.acc))

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return results


@pytest.mark.parametrize("x_width, x_signed, y_width", [(24, True, 24), (17, True, 31),
                                                        (16, True, 15), (15, False, 15),
                                                        (33, True, 8)])
def test_products_are_exact_at_the_extremes_and_at_random(x_width, x_signed, y_width):
    rng = random.Random(x_width * 100 + y_width)
    lo, hi = (-(1 << (x_width - 1)), (1 << (x_width - 1)) - 1) if x_signed \
        else (0, (1 << x_width) - 1)
    ys = [0, 1, (1 << y_width) - 1]
    pairs = [(a, b) for a in (lo, hi, 0, -1 if x_signed else 1) for b in ys]
    pairs += [(rng.randint(lo, hi), rng.randint(0, (1 << y_width) - 1)) for _ in range(20)]
    assert _product(x_width, x_signed, y_width, pairs) == [a * b for a, b in pairs]
    assert DIGIT == 15
