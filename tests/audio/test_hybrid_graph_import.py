"""The trained hybrid as one integer IR graph: its structure, its codes, and its audio against the
float model (the quantised graph may add at most 0.05 percentage points of ESR)."""

import numpy as np
import pytest
import torch

from bitwave.errors import FrontendError
from bitwave.frontend.audio import (HELD_OUT_SEED, PRE_EMPHASIS, HybridClipper, aligned_esr,
                                    graph_output_volts, hybrid_graph, plucks, pretrained, run,
                                    simulate_stage)
from bitwave.ir import Add, CausalConv, Concat, Requant, Wdf
from bitwave.passes import PassManager
from bitwave.passes.quantise_wdf import QuantiseWdf


def test_the_graph_holds_the_hybrids_parts_as_integer_ops():
    g = hybrid_graph(pretrained())
    kinds = {op.name: type(op) for op in g.ops}
    assert [n for n, k in kinds.items() if k is CausalConv] == ["pre", "up", "down", "post"]
    assert all(kinds[f"{n}_q"] is Requant for n in ("pre", "up", "down", "post"))
    clip = g["clip"]
    assert isinstance(clip, Wdf) and clip.oversample == 2 and clip.fs == 96_000.0
    # The half-band interpolator's odd phase is its centre tap alone (times the gain of 2).
    assert np.count_nonzero(g["up"].weight.array[1]) == 1
    # The decimator also takes the input (the dry path, one more column at the half-bands'
    # delay): the clipper's two phases and x side by side, of one scale.
    join = g["wet_dry"]
    assert isinstance(join, Concat) and (join.input, join.other) == ("clip_q", "x")
    down = g["down"].weight.array.reshape(g["down"].taps, 3)
    assert np.flatnonzero(down[:, 2]).tolist() == [0]      # tap 0: the oldest, lag 7
    types = g.types()
    assert types["clip_q"].scales[0] == types["x"].scales[0]
    # Every requantiser is a plain shift: the weights' and activations' scales are powers of two.
    for name in ("pre_q", "up_q", "down_q", "post_q"):
        assert g[name].mult == 1 or g[name].shift == 0


def test_the_dry_path_is_a_convolution_of_its_own_when_the_scales_differ():
    # A ±2 V input has one fraction bit fewer than the clipper's codes: no common scale.
    g = hybrid_graph(pretrained(), in_peak=2.0)
    kinds = {op.name: type(op) for op in g.ops}
    assert kinds["dry"] is CausalConv and kinds["mix"] is Add and "wet_dry" not in kinds


def test_the_quantised_graph_adds_at_most_five_hundredths_of_a_point_of_esr():
    model = pretrained()
    x = plucks(0.4, HELD_OUT_SEED)
    ref, float_out = simulate_stage(x), run(model, x)
    g = PassManager([QuantiseWdf()]).run(hybrid_graph(model))
    assert g["clip"].is_fixed and "clip_q" not in [op.name for op in g.ops]
    fixed_out = graph_output_volts(g, x)
    for pre in (0.0, PRE_EMPHASIS):
        f = aligned_esr(ref, float_out, model.latency, pre)
        q = aligned_esr(ref, fixed_out, model.latency, pre)
        assert q - f <= 0.0005, (pre, f, q)


def test_bad_models_and_settings_are_refused_by_name():
    with pytest.raises(FrontendError, match="expected a HybridClipper"):
        hybrid_graph(torch.nn.Linear(2, 2))
    with pytest.raises(FrontendError, match="act_bits must be an integer in"):
        hybrid_graph(HybridClipper(), act_bits=3)
    model = HybridClipper()
    with torch.no_grad():
        model.pre[3] = float("nan")
    with pytest.raises(FrontendError, match="pre \\(FIR\\) has weights that are not finite"):
        hybrid_graph(model)


def test_the_clipper_takes_one_multiplier_when_the_filters_leave_it_the_cycles(tmp_path):
    from bitwave.compile import CompileOptions, compile_graph
    g = hybrid_graph(pretrained())
    # At 32 cycles per sample the 64-tap filters take 32 anyway: the clipper's narrow core
    # (16 cycles per phase, one DSP) costs no rate.  At 16 it would, so the wide core (6 per
    # phase, 6 DSPs) stays.
    for target, cycles, dsp in ((32, 32, 1), (16, 12, 6)):
        result = compile_graph(g, tmp_path / str(target), CompileOptions(target_cycles=target))
        clip, = [layer for layer in result.manifest.layers if layer.name == "clip"]
        assert (clip.cycles, clip.estimate.dsp, result.manifest.cycles_per_frame) \
            == (cycles, dsp, target)
