"""The probe wrapper's input: every bit a register of its own that keeps changing."""

from amaranth.hdl import Fragment, Module, Mux, Signal
from amaranth.sim import Simulator

from bitwave.boards._wrap import probe_payload


def _run(width: int, cycles: int) -> list[int]:
    m = Module()
    lfsr = Signal(32, init=1)
    m.d.sync += lfsr.eq(Mux(lfsr[0], (lfsr >> 1) ^ 0x80200003, lfsr >> 1))
    payload = probe_payload(m, width, lfsr)
    seen = []

    async def bench(ctx):
        for _ in range(cycles):
            seen.append(ctx.get(payload))
            await ctx.tick()

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return seen


def test_wide_input_is_a_register_per_bit_that_keeps_every_bit_moving():
    width = 100
    seen = _run(width, 200)
    assert len(set(seen)) > 190
    assert all(v != 0 for v in seen[1:])
    toggled = 0
    for a, b in zip(seen, seen[1:]):
        toggled |= a ^ b
    assert toggled == (1 << width) - 1          # no bit stuck


def test_narrow_input_is_the_lfsr_itself():
    m = Module()
    lfsr = Signal(32)
    payload = probe_payload(m, 20, lfsr)
    assert len(payload) == 20 and repr(payload) == repr(lfsr[:20])
    assert not Fragment.get(m, None).statements       # no registers added
