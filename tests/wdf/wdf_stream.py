"""The stream bench the WDF core tests share: samples through a core in Amaranth's simulator."""

import random

import numpy as np
from amaranth.sim import Simulator


def run_core(dut, samples, *, p_in_stall=0.0, p_out_stall=0.0, seed=0):
    """Stream ``samples`` through ``dut``; return (outputs, accept cycles, output cycles).

    Checks on the way that the output payload holds steady while valid and not taken.
    """
    rng = random.Random(seed)
    outputs, accepted, emitted = [], [], []
    limit = 30 * (len(samples) + 4) * dut.cycles_per_sample

    async def driver(ctx):
        cycle = 0
        for x in samples:
            while rng.random() < p_in_stall:
                ctx.set(dut.sink.valid, 0)
                await ctx.tick()
                cycle += 1
            ctx.set(dut.sink.payload, int(x))
            ctx.set(dut.sink.valid, 1)
            while True:
                _, _, ready = await ctx.tick().sample(dut.sink.ready)
                cycle += 1
                if ready:
                    accepted.append(cycle - 1)
                    break
        ctx.set(dut.sink.valid, 0)

    async def monitor(ctx):
        held, cycle = None, 0
        while len(outputs) < len(samples):
            assert cycle < limit, f"only {len(outputs)} of {len(samples)} outputs after {cycle} cycles"
            ready = rng.random() >= p_out_stall
            ctx.set(dut.source.ready, ready)
            _, _, valid, payload = await ctx.tick().sample(dut.source.valid, dut.source.payload)
            cycle += 1
            if valid:
                assert held is None or held == payload, "payload changed while waiting"
                if ready:
                    outputs.append(payload)
                    emitted.append(cycle - 1)
                    held = None
                else:
                    held = payload

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(driver)
    sim.add_testbench(monitor)
    sim.run()
    return np.array(outputs, dtype=np.int64), accepted, emitted
