# amaranth: UnusedElaboratable=no
"""Chains of units against numpy, and Verilog emission."""

import numpy as np
import pytest

from bitwave.errors import HdlError
from bitwave.hdl import Chain, MatVecUnit, ThresholdUnit, emit_verilog, port_manifest
from hdl_bench import activation_model, mvu_model, pack, random_inputs, stream, unpack


def _bnn(seed):
    """8-bit input → bipolar layer with sign thresholds → XNOR layer (raw dot) → requant."""
    rng = np.random.default_rng(seed)
    w1 = rng.choice([-1, 1], size=(8, 6))
    t1 = rng.integers(-40, 40, size=(8, 1))
    w2 = rng.choice([-1, 1], size=(4, 8))
    b2 = rng.integers(-3, 4, size=4)
    requant = (3, 2, -4, 3)
    stages = [
        MatVecUnit(weights=w1, in_width=8, in_signed=True, w_width=1, w_signed=False,
                   w_bipolar=True, acc_width=12, pe=2, simd=3, thresholds=t1, out_width=1,
                   out_signed=False),
        MatVecUnit(weights=w2, in_width=1, in_signed=False, in_bipolar=True, w_width=1,
                   w_signed=False, w_bipolar=True, acc_width=6, bias=b2, pe=2, simd=4),
        ThresholdUnit(n=4, in_width=6, in_signed=True, requant=requant, out_width=3,
                      out_signed=True),
    ]

    def model(x):
        h = mvu_model(w1, x, thresholds=t1)
        h = [2 * v - 1 for v in h]          # threshold bit 1/0 is the bipolar value +1/-1
        return activation_model(mvu_model(w2, h, bias=b2), requant=requant)

    return stages, model


def test_chain_of_three_matches_model_under_random_stalls():
    stages, model = _bnn(0)
    chain = Chain(stages)
    rng = np.random.default_rng(1)
    xs = [random_inputs(rng, 6, 8, True) for _ in range(12)]
    result = stream(chain, [pack(x, 8) for x in xs], p_in_stall=0.3, p_out_stall=0.4, seed=2)
    assert [unpack(o, 4, 3, True) for o in result["outputs"]] == [model(x) for x in xs]


def test_chain_rate_is_its_slowest_stage_and_latency_adds_up():
    stages, model = _bnn(3)
    chain = Chain(stages)
    assert chain.cycles_per_frame == max(s.cycles_per_frame for s in stages) == 8
    assert chain.latency == sum(s.latency for s in stages)
    rng = np.random.default_rng(4)
    xs = [random_inputs(rng, 6, 8, True) for _ in range(6)]
    result = stream(chain, [pack(x, 8) for x in xs])
    assert np.diff(result["output_cycles"]).tolist() == [8] * 5
    assert result["output_cycles"][0] - result["offer_cycles"][0] == chain.latency
    assert [unpack(o, 4, 3, True) for o in result["outputs"]] == [model(x) for x in xs]


def test_chain_of_two_low_rank_factors():
    # W ≈ A·B as two multi-bit units; the integer product is exact.
    rng = np.random.default_rng(5)
    b = rng.integers(-2, 2, size=(2, 6))
    a = rng.integers(-2, 2, size=(4, 2))
    chain = Chain([
        MatVecUnit(weights=b, in_width=3, in_signed=False, w_width=2, w_signed=True,
                   acc_width=8, simd=3),
        MatVecUnit(weights=a, in_width=8, in_signed=True, w_width=2, w_signed=True,
                   acc_width=11, pe=2, simd=2),
    ])
    xs = [random_inputs(rng, 6, 3, False) for _ in range(8)]
    result = stream(chain, [pack(x, 3) for x in xs], p_in_stall=0.2, p_out_stall=0.2, seed=6)
    want = [(a @ b @ np.asarray(x)).tolist() for x in xs]
    assert [unpack(o, 4, 11, True) for o in result["outputs"]] == want


def test_chain_rejects_mismatched_payloads():
    first = MatVecUnit(weights=[[1, 1]], in_width=2, in_signed=False, w_width=2,
                       w_signed=False, acc_width=5)
    second = ThresholdUnit(n=1, in_width=4, in_signed=True, thresholds=[[0]], out_width=1,
                           out_signed=False)
    with pytest.raises(HdlError) as info:
        Chain([first, second])
    assert str(info.value) == ("Chain: stage 0 (MatVecUnit) produces payload unsigned(5) but "
                               "stage 1 (ThresholdUnit) expects unsigned(4); their vector "
                               "formats must match")


@pytest.mark.parametrize("stages, message", [
    ([], "Chain: stages must contain at least one component"),
    ("abc", "Chain: stages must be a list of components, not 'abc'"),
    ([object()], "Chain: stage 0 (object) must be a component with an In stream member "
                 "'sink' and an Out stream member 'source'"),
])
def test_chain_rejects_bad_stages(stages, message):
    with pytest.raises(HdlError) as info:
        Chain(stages)
    assert str(info.value) == message


def test_emit_verilog_names_the_top_and_the_stream_ports():
    stages, _ = _bnn(0)
    chain = Chain(stages)
    text = emit_verilog(chain)
    assert "module bitwave_top(" in text
    manifest = port_manifest(chain)
    assert manifest == {
        "clk": {"direction": "input", "width": 1},
        "rst": {"direction": "input", "width": 1},
        "sink__payload": {"direction": "input", "width": 48},
        "sink__valid": {"direction": "input", "width": 1},
        "sink__ready": {"direction": "output", "width": 1},
        "source__payload": {"direction": "output", "width": 12},
        "source__valid": {"direction": "output", "width": 1},
        "source__ready": {"direction": "input", "width": 1},
    }
    for name, port in manifest.items():
        kind = port["direction"]
        width = "" if port["width"] == 1 else f"[{port['width'] - 1}:0] "
        assert f"  {kind} {width}{name};" in text
    assert "src =" not in text                  # no source paths: the text is cacheable


def test_emit_verilog_rejects_bad_arguments():
    with pytest.raises(HdlError, match=r"^emit_verilog: name must be a Verilog identifier, "
                                       r"not '1top'$"):
        emit_verilog(ThresholdUnit(n=1, in_width=1, in_signed=False, thresholds=[[1]],
                                   out_width=1, out_signed=False), name="1top")
    with pytest.raises(HdlError, match=r"^port_manifest: component must be an amaranth "
                                       r"wiring.Component, not 3$"):
        port_manifest(3)
