"""One graph of quantised temporal convolutions around a fixed-point WDF clipper, the shape of
the audio hybrid: pre-filter (causal conv + power-of-two quantiser) → diode clipper per
channel, with a dry path added back (residual add) → post-filter (causal conv); and its
oversampled and long-window pieces.  The interpreter carries every op's state across the
batch (one stream in time order), and the RTL equals it sample for sample."""

import numpy as np
import pytest

from bitwave.compile import CompileOptions, compile_graph
from bitwave.dataset import Dataset
from bitwave.lower import plan
from bitwave.errors import VerifyError
from bitwave.ir import (Add, CausalConv, Graph, Input, Int, Interpreter, MultiThreshold, Output, Quant,
                        Requant, Wdf, verify)
from bitwave.ir import wdf as wdf_models
from bitwave.passes import PassManager
from bitwave.passes.quantise_wdf import QuantiseWdf
from bitwave.verify import verify_build

C = 2              # channels through the clipper
PRE_FRAC = 6       # the pre-filter quantiser's scale is 2**-6: read by the WDF as fixed point


def hybrid_graph(seed: int = 0) -> Graph:
    rng = np.random.default_rng(seed)
    head = (
        Input("x", n=1, fmt=Int(8, True), scale=2.0 ** -7),
        CausalConv("pre", input="x", weight=rng.integers(-3, 4, (C, 3)), wfmt=Int(3, True), taps=3),
        MultiThreshold("pre_q", input="pre", thresholds=np.sort(rng.integers(-200, 200, (C, 255)), axis=1),
                       fmt=Int(8, True), out_bias=-128, scale=2.0 ** -PRE_FRAC),
        Wdf("clip", input="pre_q", R=[2.2e3, 4.7e3], X=[10e-9, 22e-9], Is=[2.52e-9] * C, Vt=[45.3e-3] * C))
    fixed = PassManager([QuantiseWdf()]).run(Graph(head + (Output("y", input="clip"),)))
    out_frac = fixed["clip"].layout.out.frac_bits
    return Graph(fixed.ops[:-1] + (
        # wet (2**-out_frac) + dry (2**-PRE_FRAC): the dry codes times 2**(out_frac - PRE_FRAC)
        Add("mix", input="clip", other="pre_q", mult_a=1, mult_b=2 ** (out_frac - PRE_FRAC)),
        CausalConv("post", input="mix", weight=rng.integers(-3, 4, (1, 2 * C)), wfmt=Int(3, True), taps=2),
        Output("y", input="post")))


def audio(n: int) -> np.ndarray:
    t = np.arange(n) / 48_000
    return (0.6 * np.sin(2 * np.pi * 220 * t) * np.exp(-3 * t) + 0.3 * np.sin(2 * np.pi * 1250 * t))[:, None]


def test_the_interpreter_runs_the_clipper_between_the_filters():
    g = hybrid_graph()
    x = audio(600)
    it = Interpreter(g)
    values = it.run(x)
    codes = values["pre_q"]
    spec = g["clip"].specs(g["clip"].input_format(g.types()["pre_q"]))
    want = np.stack([wdf_models.run_fixed(s, codes[:, c].astype(np.int64)) for c, s in enumerate(spec)], 1)
    assert np.array_equal(values["clip"], want)          # each channel's clipper, state kept over time
    assert np.array_equal(values["mix"], want + codes * g["mix"].mult_b)
    # The post-filter is causal: a sample's output depends only on the samples before it.
    assert np.array_equal(Interpreter(g).output(x[:300]), it.output(x)[:300])


@pytest.mark.sim
def test_the_hybrid_streams_through_the_rtl_sample_for_sample(tmp_path):
    g = hybrid_graph()
    out = tmp_path / "hybrid"
    compile_graph(g, out, CompileOptions(), dataset=Dataset(audio(4000).astype(np.float32)))
    result = verify_build(out)
    assert result.frames == 4000 and result.mismatches == 0
    assert result.cycles_per_frame == result.ideal_cycles_per_frame


def oversampled_graph() -> Graph:
    """x → a 2-phase interpolator (CausalConv 1→2) → Wdf at 2× → Quant (fused by quantise-wdf)
    → a 2-phase decimator (CausalConv 2→1) → y."""
    return Graph((
        Input("x", n=1, fmt=Int(8, True), scale=2.0 ** -7),
        CausalConv("up", input="x", weight=[[1, 3], [2, 2]], wfmt=Int(3, True), taps=2),
        Requant("up_q", input="up", mult=1, shift=0, fmt=Int(12, True), scale=2.0 ** -8),
        Wdf("clip", input="up_q", R=[2.2e3], X=[10e-9], Is=[2.52e-9], Vt=[45.3e-3], fs=96_000.0,
            oversample=2),
        Quant("clip_q", input="clip", fmt=Int(16, True), scale=2.0 ** -15),
        CausalConv("down", input="clip_q", weight=[[1, 2, 3, 1]], wfmt=Int(3, True), taps=2),
        Output("y", input="down")))


def test_an_oversampled_wdf_runs_its_phases_in_time_order_and_takes_the_quant_as_its_output():
    g = PassManager([QuantiseWdf()]).run(oversampled_graph())
    assert "clip_q" not in [op.name for op in g.ops] and g["down"].input == "clip"
    clip = g["clip"]
    assert (clip.layout.out.width, clip.layout.out.frac_bits) == (16, 15)
    values = Interpreter(g).run(audio(500))
    up = values["up_q"]                                   # (rows, 2 phases)
    spec, = clip.specs(clip.input_format(g.types()["up_q"]))
    want = wdf_models.run_fixed(spec, up.reshape(-1).astype(np.int64)).reshape(-1, 2)
    assert np.array_equal(values["clip"], want)           # phase 0 then phase 1, state carried
    with pytest.raises(VerifyError, match="the filter has 1 channels × 3 phases"):
        verify(Graph(oversampled_graph().ops[:3] + (
            Wdf("clip", input="up_q", R=[1e3], X=[1e-8], Is=[1e-9], Vt=[0.05], oversample=3),
            Output("y", input="clip"))))


@pytest.mark.sim
def test_an_oversampled_wdf_streams_through_the_rtl_sample_for_sample(tmp_path):
    out = tmp_path / "os2"
    compile_graph(oversampled_graph(), out, CompileOptions(),
                  dataset=Dataset(audio(1500).astype(np.float32)))
    result = verify_build(out)
    assert result.frames == 1500 and result.mismatches == 0


def long_fir_graph() -> Graph:
    """A 16-tap FIR of 12-bit samples: its window (192 bits) comes from a RAM ring, two taps a beat."""
    rng = np.random.default_rng(3)
    return Graph((
        Input("x", n=1, fmt=Int(12, True), scale=2.0 ** -11),
        CausalConv("fir", input="x", weight=rng.integers(-200, 200, (1, 16)), wfmt=Int(9, True),
                   taps=16, simd=2),
        Requant("fir_q", input="fir", mult=1, shift=8, fmt=Int(16, True), scale=2.0 ** -11),
        Output("y", input="fir_q")))


@pytest.mark.sim
def test_a_long_fir_takes_its_window_in_slices_and_equals_the_interpreter(tmp_path):
    g = long_fir_graph()
    stages = [make() for make in plan(g).stages]
    assert type(stages[0]).__name__ == "SerialWindow" and stages[0].beats == 8
    out = tmp_path / "fir"
    compile_graph(g, out, CompileOptions(pe=(1,), simd=(2,)), dataset=Dataset(audio(600).astype(np.float32)))
    result = verify_build(out, stall_in=0.2, stall_out=0.2)
    assert result.frames == 600 and result.mismatches == 0


def decimator_graph() -> Graph:
    """A 2-phase interpolator then an 8-lag decimator over its two 16-bit phases: the
    decimator's window (256 bits) comes from a RAM ring one channel a beat (simd 1 < 2)."""
    rng = np.random.default_rng(5)
    return Graph((
        Input("x", n=1, fmt=Int(12, True), scale=2.0 ** -11),
        CausalConv("up", input="x", weight=rng.integers(-100, 100, (2, 2)), wfmt=Int(8, True), taps=2),
        Requant("up_q", input="up", mult=1, shift=2, fmt=Int(16, True), scale=2.0 ** -13),
        CausalConv("down", input="up_q", weight=rng.integers(-200, 200, (1, 16)), wfmt=Int(9, True),
                   taps=8, simd=1),
        Requant("down_q", input="down", mult=1, shift=8, fmt=Int(16, True), scale=2.0 ** -13),
        Output("y", input="down_q")))


def test_a_two_channel_window_at_simd_1_comes_one_channel_a_beat_in_tap_major_order():
    makes = plan(decimator_graph()).stages           # constructors: nothing is built
    names = [make.func.__name__ for make in makes]
    window, mvu = makes[names.index("SerialWindow")], makes[names.index("SerialWindow") + 1]
    assert window.keywords["parts"] == 2 and window.keywords.get("per_beat", 1) == 1
    assert mvu.func.__name__ == "MatVecUnit"
    assert (mvu.keywords["simd"], mvu.keywords["in_beats"]) == (1, 16)
    # The unit's slice s is column s = tap·2 + channel, as the window's beat s (same columns).
    assert np.array_equal(mvu.keywords["weights"], decimator_graph()["down"].weight.array)


@pytest.mark.sim
def test_a_two_channel_window_at_simd_1_equals_the_interpreter_in_rtl(tmp_path):
    out = tmp_path / "dec"
    compile_graph(decimator_graph(), out, CompileOptions(pe=(1, 1), simd=(1, 1)),
                  dataset=Dataset(audio(600).astype(np.float32)))
    result = verify_build(out, stall_in=0.2, stall_out=0.2)
    assert result.frames == 600 and result.mismatches == 0
