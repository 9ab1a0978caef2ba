# amaranth: UnusedElaboratable=no
"""The UART and byte/vector bridge components, in Amaranth's simulator against Python models."""

import random

import pytest
from amaranth.hdl import Module
from amaranth.sim import Simulator

from bitwave.errors import HdlError
from bitwave.hdl._uart import (BytesToVector, UARTReceiver, UARTStreamBridge, UARTTransmitter,
                               VectorToBytes, frame_bytes)


def _run(dut, testbench, *, deadline=200_000):
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run_until(deadline * 1e-6)


async def _send_line(ctx, rx, byte, divisor, *, stop=1):
    """Drive one 8N1 character onto ``rx``, one bit per ``divisor`` clocks."""
    for level in [0] + [(byte >> i) & 1 for i in range(8)] + [stop]:
        ctx.set(rx, level)
        await ctx.tick().repeat(divisor)


async def _collect(ctx, stream, count, *, stall=None, limit=100_000):
    got = []
    for _ in range(limit):
        ready = 1 if stall is None else int(stall())
        ctx.set(stream.ready, ready)
        await ctx.delay(1e-9)
        if ready and ctx.get(stream.valid):
            got.append(ctx.get(stream.payload))
            if len(got) == count:
                ctx.set(stream.ready, 0)
                return got
        await ctx.tick()
    raise AssertionError(f"only {len(got)} of {count} items arrived: {got}")


@pytest.mark.parametrize("divisor", [4, 5, 13])
def test_transmitter_to_receiver_loopback(divisor):
    data = [0x00, 0xFF, 0x55, 0xAA, 0x01, 0x80] + random.Random(divisor).choices(range(256), k=10)
    tx = UARTTransmitter(divisor=divisor)
    rx = UARTReceiver(divisor=divisor)
    m2 = Module()
    m2.submodules.tx = tx
    m2.submodules.rx = rx
    m2.d.comb += [rx.rx.eq(tx.tx), rx.source.ready.eq(1)]
    arrived = []

    async def sender(ctx):
        for byte in data:
            ctx.set(tx.sink.payload, byte)
            ctx.set(tx.sink.valid, 1)
            await ctx.tick().until(tx.sink.ready)
            ctx.set(tx.sink.valid, 0)
        await ctx.tick().repeat(12 * divisor)
        assert ctx.get(rx.overrun) == 0

    async def monitor(ctx):
        async for _, _, valid, payload in ctx.tick().sample(rx.source.valid, rx.source.payload):
            if valid:
                arrived.append(payload)

    sim = Simulator(m2)
    sim.add_clock(1e-6)
    sim.add_testbench(sender)
    sim.add_process(monitor)
    sim.run()
    assert arrived == data


def test_transmitter_bit_timing():
    """Start bit, 8 data bits LSB first, stop bit, each exactly ``divisor`` clocks."""
    divisor = 6
    dut = UARTTransmitter(divisor=divisor)
    levels = []

    async def testbench(ctx):
        ctx.set(dut.sink.payload, 0b1011_0010)
        ctx.set(dut.sink.valid, 1)
        await ctx.tick()
        ctx.set(dut.sink.valid, 0)
        for _ in range(11 * divisor):
            levels.append(ctx.get(dut.tx))
            await ctx.tick()

    _run(dut, testbench)
    bits = [0, 0, 1, 0, 0, 1, 1, 0, 1, 1]
    assert levels[:10 * divisor] == [b for b in bits for _ in range(divisor)]
    assert levels[10 * divisor:] == [1] * divisor


def test_receiver_drops_glitch_and_framing_error():
    divisor = 8
    dut = UARTReceiver(divisor=divisor)

    async def testbench(ctx):
        ctx.set(dut.source.ready, 1)
        await ctx.tick().repeat(5)
        ctx.set(dut.rx, 0)                       # a 2-clock glitch is not a start bit
        await ctx.tick().repeat(2)
        ctx.set(dut.rx, 1)
        await ctx.tick().repeat(3 * divisor)
        await _send_line(ctx, dut.rx, 0x3C, divisor, stop=0)   # framing error
        ctx.set(dut.rx, 1)
        await ctx.tick().repeat(3 * divisor)
        await _send_line(ctx, dut.rx, 0xC3, divisor)
        await ctx.tick().repeat(divisor)

    seen = []

    async def monitor(ctx):
        async for _, _, valid, payload in ctx.tick().sample(dut.source.valid, dut.source.payload):
            if valid:
                seen.append(payload)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.add_process(monitor)
    sim.run()
    assert seen == [0xC3]


def test_receiver_overrun_keeps_first_byte():
    divisor = 4
    dut = UARTReceiver(divisor=divisor)

    async def testbench(ctx):
        await _send_line(ctx, dut.rx, 0x12, divisor)
        await _send_line(ctx, dut.rx, 0x34, divisor)
        await ctx.tick().repeat(divisor)
        assert ctx.get(dut.overrun) == 1
        assert ctx.get(dut.source.valid) == 1
        assert ctx.get(dut.source.payload) == 0x12

    _run(dut, testbench)


@pytest.mark.parametrize("width", [1, 8, 12, 24, 37])
def test_bytes_to_vector_and_back_with_stalls(width):
    rng = random.Random(width)
    vectors = [rng.getrandbits(width) for _ in range(20)]
    nbytes = frame_bytes(width)
    m = Module()
    m.submodules.unpack = unpack = BytesToVector(width=width)
    m.submodules.pack = pack = VectorToBytes(width=width)
    m.d.comb += [pack.sink.payload.eq(unpack.source.payload),
                 pack.sink.valid.eq(unpack.source.valid),
                 unpack.source.ready.eq(pack.sink.ready)]
    got = []

    async def producer(ctx):
        for v in vectors:
            for i in range(nbytes):
                while rng.random() < 0.3:
                    ctx.set(unpack.sink.valid, 0)
                    await ctx.tick()
                ctx.set(unpack.sink.payload, (v >> (8 * i)) & 0xFF)
                ctx.set(unpack.sink.valid, 1)
                await ctx.tick().until(unpack.sink.ready)
            ctx.set(unpack.sink.valid, 0)

    async def consumer(ctx):
        got.extend(await _collect(ctx, pack.source, len(vectors) * nbytes,
                                  stall=lambda: rng.random() < 0.6))

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    sim.run()
    back = [sum(got[k * nbytes + i] << (8 * i) for i in range(nbytes)) for k in range(len(vectors))]
    assert back == vectors


def _feed(dut, schedule):
    """Bytes into a BytesToVector, each followed by ``gap`` idle cycles; returns the vectors
    that came out and the level of ``abort`` in every cycle."""
    out, aborts = [], []

    async def testbench(ctx):
        ctx.set(dut.source.ready, 1)
        for byte, gap in schedule:
            ctx.set(dut.sink.payload, byte)
            ctx.set(dut.sink.valid, 1)
            await ctx.tick()
            ctx.set(dut.sink.valid, 0)
            for _ in range(gap):
                if ctx.get(dut.source.valid):
                    out.append(ctx.get(dut.source.payload))
                aborts.append(ctx.get(dut.abort))
                await ctx.tick()

    _run(dut, testbench)
    return out, aborts


def test_bytes_to_vector_timeout_resynchronises():
    # A lone byte, then a full frame.
    out, aborts = _feed(BytesToVector(width=16, timeout=10), [(0xEE, 30), (0x34, 1), (0x12, 4)])
    assert out == [0x1234]
    assert not any(aborts)             # no vector of the dropped frame had gone out


def test_bytes_to_vector_drops_a_frame_of_beats_cut_short_and_aborts():
    """Two of three beats, a pause, then a whole frame: ``abort`` says the partial frame's
    beats had gone out (so the accelerator gets reset); the whole frame comes out intact."""
    out, aborts = _feed(BytesToVector(width=8, beats=3, timeout=10),
                        [(0xA1, 1), (0xA2, 30), (0x01, 1), (0x02, 1), (0x03, 5)])
    assert out == [0xA1, 0xA2, 0x01, 0x02, 0x03]
    assert sum(aborts) == 1


def test_bridge_ports():
    bridge = UARTStreamBridge(divisor=104, in_width=20, out_width=9)
    assert len(bridge.source.payload) == 20
    assert len(bridge.sink.payload) == 9


@pytest.mark.parametrize("cls,kwargs,message", [
    (UARTReceiver, {"divisor": 3}, "divisor must be an integer >= 4, not 3"),
    (UARTTransmitter, {"divisor": 10.5}, "divisor must be an integer >= 4, not 10.5"),
    (BytesToVector, {"width": 0}, "width must be an integer >= 1, not 0"),
    (VectorToBytes, {"width": True}, "width must be an integer >= 1, not True"),
    (BytesToVector, {"width": 8, "beats": 0}, "beats must be an integer >= 1, not 0"),
])
def test_parameters_are_validated(cls, kwargs, message):
    with pytest.raises(HdlError, match=f"^{message}$"):
        cls(**kwargs)
