"""The trained hybrid as one integer IR graph: its structure, its codes, and its audio against the
float model (the quantised graph may add at most 0.05 percentage points of ESR)."""

import numpy as np
import pytest
import torch

from bitwave.errors import FrontendError
from bitwave.frontend.audio import (HELD_OUT_SEED, PRE_EMPHASIS, HybridClipper, aligned_esr,
                                    graph_output_volts, hybrid_graph, plucks, pretrained, run,
                                    simulate_stage)
from bitwave.ir import CausalConv, Requant, Wdf
from bitwave.passes import PassManager
from bitwave.passes.quantise_wdf import QuantiseWdf


def test_the_graph_holds_the_hybrids_parts_as_integer_ops():
    g = hybrid_graph(pretrained())
    kinds = {op.name: type(op) for op in g.ops}
    assert [n for n, k in kinds.items() if k is CausalConv] == ["pre", "up", "down", "dry", "post"]
    assert all(kinds[f"{n}_q"] is Requant for n in ("pre", "up", "down", "dry", "post"))
    clip = g["clip"]
    assert isinstance(clip, Wdf) and clip.oversample == 2 and clip.fs == 96_000.0
    # The half-band interpolator's odd phase is its centre tap alone (times the gain of 2).
    assert np.count_nonzero(g["up"].weight.array[1]) == 1
    # Every requantiser is a plain shift: the weights' and activations' scales are powers of two.
    for name in ("pre_q", "up_q", "down_q", "dry_q", "post_q"):
        assert g[name].mult == 1 or g[name].shift == 0


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
