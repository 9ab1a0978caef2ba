"""Shared helpers of the HDL tests: vector packing, a numpy model, a stream bench."""

import random

import numpy as np
from amaranth.sim import Simulator


def pack(values, width, bipolar=False):
    """One stream payload: element i at bits [i*width, (i+1)*width)."""
    word, mask = 0, (1 << width) - 1
    for i, v in enumerate(values):
        bits = (1 if v > 0 else 0) if bipolar else (int(v) & mask)
        word |= bits << (i * width)
    return word


def unpack(word, n, width, signed):
    out = []
    for i in range(n):
        v = (word >> (i * width)) & ((1 << width) - 1)
        if signed and v >> (width - 1):
            v -= 1 << width
        out.append(v)
    return out


def random_inputs(rng, n, width, signed, bipolar=False):
    if bipolar:
        return rng.choice([-1, 1], size=n)
    lo, hi = (-(1 << (width - 1)), 1 << (width - 1)) if signed else (0, 1 << width)
    return rng.integers(lo, hi, size=n)


def activation_model(acc, *, thresholds=None, requant=None, out_bias=0):
    """Reference semantics written from the spec, independent of the generators."""
    acc = [int(a) for a in acc]
    if thresholds is not None:
        return [out_bias + sum(a >= int(t) for t in row) for a, row in zip(acc, thresholds)]
    if requant is not None:
        mult, shift, lo, hi = requant
        rnd = (1 << (shift - 1)) if shift > 0 else 0
        # Python's >> on ints is floor division by 2**shift.
        return [min(max((a * mult + rnd) >> shift, lo), hi) for a in acc]
    return acc


def mvu_model(weights, x, *, bias=None, **activation):
    w = np.asarray(weights, dtype=object)
    acc = w.dot(np.asarray(x, dtype=object))
    if bias is not None:
        acc = acc + np.asarray(bias, dtype=object)
    return activation_model(acc, **activation)


def stream(dut, payloads, *, p_in_stall=0.0, p_out_stall=0.0, seed=0, max_cycles=None):
    """Push ``payloads`` through ``dut`` with random stalls; return a dict with
    ``outputs`` (in order), ``offer_cycles`` (first cycle of ``sink.valid``),
    ``accept_cycles`` and ``output_cycles``.

    Checks the stream rules on the way: the source payload must not change
    while ``valid & ~ready``, and valid must not drop before the transfer.
    """
    rng = random.Random(seed)
    period = getattr(dut, "cycles_per_frame", 1) + getattr(dut, "latency", 8)
    if max_cycles is None:
        max_cycles = 20 * (len(payloads) + 2) * period
    result = {"outputs": [], "offer_cycles": [], "accept_cycles": [], "output_cycles": []}

    async def driver(ctx):
        cycle = 0
        for payload in payloads:
            while rng.random() < p_in_stall:
                ctx.set(dut.sink.valid, 0)
                await ctx.tick()
                cycle += 1
            ctx.set(dut.sink.payload, payload)
            ctx.set(dut.sink.valid, 1)
            result["offer_cycles"].append(cycle)
            while True:
                _, _, ready = await ctx.tick().sample(dut.sink.ready)
                cycle += 1
                if ready:
                    result["accept_cycles"].append(cycle - 1)
                    break
        ctx.set(dut.sink.valid, 0)

    async def monitor(ctx):
        held = None
        for cycle in range(max_cycles):
            ready = rng.random() >= p_out_stall
            ctx.set(dut.source.ready, ready)
            _, _, valid, payload = await ctx.tick().sample(dut.source.valid, dut.source.payload)
            if held is not None:
                assert valid, f"cycle {cycle}: source.valid dropped before the transfer"
                assert payload == held, f"cycle {cycle}: payload changed while stalled"
            held = None
            if valid and ready:
                result["outputs"].append(payload)
                result["output_cycles"].append(cycle)
                if len(result["outputs"]) == len(payloads):
                    break
            elif valid:
                held = payload
        else:
            raise AssertionError(f"only {len(result['outputs'])} of {len(payloads)} outputs "
                                 f"after {max_cycles} cycles")
        # Nothing extra may come out afterwards.
        ctx.set(dut.source.ready, 1)
        for _ in range(period + 2):
            _, _, valid = await ctx.tick().sample(dut.source.valid)
            assert not valid, "an extra output appeared"

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(driver)
    sim.add_testbench(monitor)
    sim.run()
    return result
