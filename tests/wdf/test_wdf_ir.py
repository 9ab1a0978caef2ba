# amaranth: UnusedElaboratable=no
"""The IR ``Wdf`` op: construction rules, text form, interpreter semantics (stateful, in time
order), the quantise-wdf pass and the lowering to a bank of WdfCores."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from amaranth.sim import Simulator

from bitwave.errors import PassError, VerifyError
from bitwave.hdl import WdfBank
from bitwave.ir import (Fixed, Graph, Input, Int, Interpreter, Output, Real, Rounding, Wdf,
                        parse_graph, print_graph, verify)
from bitwave.ir.wdf import Probe, run_fixed, simulate
from bitwave.passes import PassManager, parse_pipeline
from bitwave.lower import lower
from bitwave.passes.quantise_wdf import QuantiseWdf, multitone

FS = 48_000.0
GOLDEN = Path(__file__).parent.parent / "golden" / "quantise_wdf_tiny.txt"


def clipper_graph(channels=1, R=2.2e3, bits=20, frac=16, **kw):
    R = np.broadcast_to(np.asarray(R, dtype=float), (channels,))
    return Graph((Input("x", n=channels, fmt=Int(bits), scale=2.0 ** -frac),
                  Wdf("clip", input="x", R=R, X=[10e-9] * channels, Is=[2.52e-9] * channels,
                      Vt=[45.3e-3] * channels, fs=FS, **kw),
                  Output("y", input="clip")))


def audio(n, channels=1, peak=2.0):
    return np.stack([multitone(FS, n, peak=peak * (1 - 0.2 * c)) for c in range(channels)], axis=1)


def test_float_form_is_the_float64_reference():
    g = clipper_graph()
    assert verify(g)["clip"].fmt == Real()
    x = audio(600)
    codes = np.rint(x * 2.0 ** 16)
    y = Interpreter(g).output(x)
    tree = g["clip"].trees()[0]
    np.testing.assert_array_equal(y[:, 0], simulate(tree, codes[:, 0] * 2.0 ** -16))


def test_fixed_form_is_run_fixed_per_channel():
    g = QuantiseWdf().run(clipper_graph(channels=2, R=[2.2e3, 6.8e3]))
    op = g["clip"]
    t = verify(g)
    assert t["clip"].fmt == Int(20) and t["clip"].scales[0] == 2.0 ** -19   # Q0.19: under 1 V
    codes = np.rint(audio(800, 2) * 2.0 ** 16).astype(np.int64)
    y = Interpreter(g).output(codes, codes=True)
    for c, spec in enumerate(op.specs(Fixed(4, 16))):
        np.testing.assert_array_equal(y[:, c], run_fixed(spec, codes[:, c]))
    assert not np.array_equal(y[:, 0], y[:, 1])


def test_state_carries_from_row_to_row():
    # The batch is one stream: the second half run on its own starts from rest and differs.
    g = QuantiseWdf().run(clipper_graph())
    codes = np.rint(audio(400) * 2.0 ** 16).astype(np.int64)
    interp = Interpreter(g)
    whole = interp.output(codes, codes=True)
    np.testing.assert_array_equal(whole[:200], interp.output(codes[:200], codes=True))
    assert not np.array_equal(whole[200:], interp.output(codes[200:], codes=True))


def test_text_round_trip_both_forms():
    g = clipper_graph(channels=2, R=[1e3, 3.3e3], series=True, probe=Probe.ROOT)
    assert parse_graph(print_graph(g)) == g
    q = QuantiseWdf(word_length=12).run(g)
    assert parse_graph(print_graph(q)) == q


def test_text_refuses_unknown_probe_and_positional_layout():
    text = print_graph(clipper_graph())
    with pytest.raises(VerifyError, match=r"parse: line 3: Probe has no member 'ANODE'; known: ROOT"):
        parse_graph(text.replace("Probe.REACTIVE", "Probe.ANODE"))
    with pytest.raises(VerifyError, match=r"parse: line 3: WdfLayout takes keyword arguments only"):
        parse_graph(text.replace("layout=None", "layout=WdfLayout(1)"))


def test_golden_text():
    g = PassManager(parse_pipeline("quantise-wdf{word_length=8}")).run(
        clipper_graph(bits=8, frac=4))
    assert print_graph(g) == GOLDEN.read_text()


def test_quantise_pass_shares_one_layout_between_channels():
    # Different Vt move the diode knee, so the channels alone would get different table grids.
    g = Graph((Input("x", n=2, fmt=Int(20), scale=2.0 ** -16),
               Wdf("clip", input="x", R=[2.2e3, 2.2e3], X=[10e-9, 47e-9], Is=[2.52e-9, 1e-12],
                   Vt=[45.3e-3, 0.2]),
               Output("y", input="clip")))
    q = QuantiseWdf().run(g)["clip"]
    assert q.layout.table.shape[0] == 2 and len({s.output for s in q.specs(Fixed(4, 16))}) == 1
    assert QuantiseWdf().run(QuantiseWdf().run(g)) == QuantiseWdf().run(g)   # runs twice


def test_quantise_pass_rounding_option():
    q = PassManager(parse_pipeline("quantise-wdf{word_length=16,rounding=magnitude}")).run(
        clipper_graph(bits=16, frac=12))["clip"]
    assert q.layout.wave.rounding is Rounding.MAGNITUDE
    with pytest.raises(PassError, match=r"quantise-wdf: rounding must be one of \['nearest', "
                                        r"'truncate', 'magnitude'\], not 'up'"):
        parse_pipeline("quantise-wdf{rounding=up}")


def test_quantise_pass_target_snr_picks_the_word_length():
    short = QuantiseWdf(target_snr_db=60.0).run(clipper_graph())["clip"]
    long = QuantiseWdf(target_snr_db=90.0).run(clipper_graph())["clip"]
    assert short.layout.out.width < long.layout.out.width
    with pytest.raises(PassError, match="give target_snr_db or word_length, not both"):
        parse_pipeline("quantise-wdf{word_length=16,target_snr_db=80}")


@pytest.mark.parametrize("change, message", [
    (dict(R=[2.2e3, 1e3]), "R, X, Is and Vt must have one value per channel each"),
    (dict(Vt=[-1.0]), "Vt must be a non-empty 1-D list of positive values"),
    (dict(probe="reactance"), r"probe must be a Probe \(Probe.ROOT, Probe.SOURCE or "
                              r"Probe.REACTIVE\), not 'reactance'"),
    (dict(fs=0.0), "fs must be a positive sample rate"),
    (dict(layout=Fixed(4, 20)), "layout must be a WdfLayout \\(fixed form\\) or None"),
])
def test_bad_ops_are_refused(change, message):
    fields = dict(input="x", R=[2.2e3], X=[10e-9], Is=[2.52e-9], Vt=[45.3e-3])
    fields.update(change)
    with pytest.raises(VerifyError, match=f"wdf: op clip: {message}"):
        Wdf("clip", **fields)


def test_fixed_form_needs_power_of_two_input_scale():
    q = QuantiseWdf().run(clipper_graph())
    bad = Graph((Input("x", n=1, fmt=Int(20), scale=1e-4), q["clip"], q["y"]))
    with pytest.raises(VerifyError, match="one power-of-two scale"):
        verify(bad)
    with pytest.raises(VerifyError, match="input has 2 elements, the filter has 1 channels"):
        verify(Graph((Input("x", n=2, fmt=Int(20), scale=2.0 ** -16), q["clip"], q["y"])))


def test_table_out_of_wave_range_is_refused():
    op = QuantiseWdf().run(clipper_graph())["clip"]
    table = op.layout.table.array.copy()
    table[0, 5] = 1 << 30
    with pytest.raises(VerifyError, match=r"wdf: op clip: WdfFixed: table\[5\] must be an integer"):
        op.replace(layout=dataclasses.replace(op.layout, table=table))


def test_lowering_needs_the_fixed_form():
    with pytest.raises(PassError, match="still in float form; run the quantise-wdf pass"):
        lower(clipper_graph())


def test_lowered_bank_matches_the_interpreter():
    g = QuantiseWdf(word_length=14).run(clipper_graph(channels=2, R=[2.2e3, 1e3], bits=14,
                                                      frac=10))
    low = lower(g)
    layer, = low.layers
    assert isinstance(low.top.stages[0], WdfBank)
    # The filter alone: no slower layer to hide more cycles behind, so the wide core.
    cycles = latency = 6
    assert (layer.kind, layer.cycles, layer.latency, low.top.latency) == ("wdf", cycles, latency,
                                                                          latency)
    assert layer.estimate.bram >= 0 and layer.estimate.lut > 0
    codes = np.rint(audio(40, 2, peak=3.0) * 2.0 ** 10).astype(np.int64)
    want = Interpreter(g).output(codes, codes=True)
    top, w = low.top, low.sink.width
    got = []

    async def bench(ctx):
        ctx.set(top.source.ready, 1)
        for row in codes.tolist():
            ctx.set(top.sink.payload, sum((v & ((1 << w) - 1)) << (c * w) for c, v in enumerate(row)))
            ctx.set(top.sink.valid, 1)
            await ctx.tick().until(top.sink.ready)
            ctx.set(top.sink.valid, 0)
            *_, payload = await ctx.tick().sample(top.source.payload).until(top.source.valid)
            ow = low.source.width
            got.append([((payload >> (c * ow)) & ((1 << ow) - 1)) for c in range(2)])

    sim = Simulator(top)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    ow = low.source.width
    got = np.array(got)
    got = np.where(got >= 1 << (ow - 1), got - (1 << ow), got)
    np.testing.assert_array_equal(got, want)
