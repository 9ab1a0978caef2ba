"""A stream bench for units whose input and output beat counts differ (windows, gather).

One testbench process plays both neighbours cycle by cycle: it offers the next
input beat (holding it until taken) and raises ``source.ready``, each with a
random stall, and records every transfer. On the way it checks the stream
rules (a stalled output keeps ``valid`` and its payload) and that
``sink.ready``, ``source.valid`` and ``source.payload`` do not change when
this cycle's inputs are set, i.e. that they depend on registers only.
"""

import random

from amaranth.sim import Simulator


def run_frames(dut, payloads, n_out, *, p_in_stall=0.0, p_out_stall=0.0, seed=0,
               max_cycles=None):
    """Push ``payloads`` through ``dut`` until ``n_out`` outputs came out; return a dict
    with ``outputs`` and the cycles of every input (``in_cycles``) and output
    (``out_cycles``) transfer."""
    rng = random.Random(seed)
    if max_cycles is None:
        max_cycles = 20 * (len(payloads) + n_out + getattr(dut, "latency", 8)) + 100
    result = {"outputs": [], "in_cycles": [], "out_cycles": []}

    def outputs(ctx):
        return ctx.get(dut.sink.ready), ctx.get(dut.source.valid), ctx.get(dut.source.payload)

    async def bench(ctx):
        sent, offering, held = 0, False, None
        for cycle in range(max_cycles):
            before = outputs(ctx)
            if not offering and sent < len(payloads):
                offering = rng.random() >= p_in_stall
            ready = rng.random() >= p_out_stall
            ctx.set(dut.sink.valid, offering)
            ctx.set(dut.sink.payload, payloads[sent] if offering else 0)
            ctx.set(dut.source.ready, ready)
            in_ready, out_valid, out_payload = outputs(ctx)
            assert (in_ready, out_valid, out_payload) == before, \
                f"cycle {cycle}: sink.ready or the source depend on this cycle's inputs"
            if held is not None:
                assert out_valid, f"cycle {cycle}: source.valid dropped before the transfer"
                assert out_payload == held, f"cycle {cycle}: payload changed while stalled"
            held = out_payload if out_valid and not ready else None
            if offering and in_ready:
                result["in_cycles"].append(cycle)
                sent, offering = sent + 1, False
            if out_valid and ready:
                result["outputs"].append(out_payload)
                result["out_cycles"].append(cycle)
            await ctx.tick()
            if len(result["outputs"]) == n_out and sent == len(payloads):
                break
        else:
            raise AssertionError(f"only {len(result['outputs'])} of {n_out} outputs and "
                                 f"{sent} of {len(payloads)} inputs after {max_cycles} cycles")
        ctx.set(dut.sink.valid, 0)
        ctx.set(dut.source.ready, 1)
        for _ in range(getattr(dut, "cycles_per_frame", 1) + 8):
            assert not ctx.get(dut.source.valid), "an extra output appeared"
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return result
