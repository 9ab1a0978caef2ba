# amaranth: UnusedElaboratable=no
"""ThresholdUnit against the activation model, with random stalls."""

import numpy as np
import pytest

from bitwave.errors import HdlError
from bitwave.hdl import ThresholdUnit
from hdl_bench import activation_model, pack, random_inputs, stream, unpack


@pytest.mark.parametrize("in_width, in_signed", [(4, True), (5, False)])
@pytest.mark.parametrize("activation", ["thresholds", "requant"])
def test_threshold_unit_matches_model_under_random_stalls(in_width, in_signed, activation):
    rng = np.random.default_rng(in_width)
    n = 5
    if activation == "thresholds":
        kwargs = dict(thresholds=np.sort(rng.integers(-40, 40, size=(n, 4)), axis=1),
                      out_width=3, out_signed=True, out_bias=-2)
        model = dict(thresholds=kwargs["thresholds"], out_bias=-2)
    else:
        kwargs = dict(requant=(-3, 3, -5, 6), out_width=4, out_signed=True)
        model = dict(requant=kwargs["requant"])
    unit = ThresholdUnit(n=n, in_width=in_width, in_signed=in_signed, **kwargs)
    xs = [random_inputs(rng, n, in_width, in_signed) for _ in range(40)]
    result = stream(unit, [pack(x, in_width) for x in xs], p_in_stall=0.3, p_out_stall=0.4,
                    seed=in_width)
    got = [unpack(o, n, unit.out_width, unit.out_signed) for o in result["outputs"]]
    assert got == [activation_model(x, **model) for x in xs]


def test_threshold_unit_takes_one_vector_per_cycle():
    unit = ThresholdUnit(n=2, in_width=3, in_signed=False, thresholds=[[2], [5]],
                         out_width=1, out_signed=False)
    xs = [[i % 8, (3 * i) % 8] for i in range(12)]
    result = stream(unit, [pack(x, 3) for x in xs])
    assert np.diff(result["output_cycles"]).tolist() == [1] * 11
    assert result["output_cycles"][0] - result["accept_cycles"][0] == unit.latency == 1
    got = [unpack(o, 2, 1, False) for o in result["outputs"]]
    assert got == [activation_model(x, thresholds=[[2], [5]]) for x in xs]


@pytest.mark.parametrize("kwargs, message", [
    (dict(), "ThresholdUnit: pass exactly one of thresholds and requant"),
    (dict(thresholds=[[0]] * 3), "ThresholdUnit: thresholds must have 4 rows (one per output), "
                                 "not 3"),
    (dict(thresholds=[[1, 0]] * 4), "ThresholdUnit: thresholds row 0 must be ascending, "
                                    "not [1, 0]"),
    (dict(thresholds=[[0]] * 4, out_bias=2), "ThresholdUnit: outputs out_bias..out_bias+1 = "
     "2..3 do not fit unsigned(1); widen out_width or change out_bias"),
    (dict(requant=(1, 0, 0, 1), out_bias=1), "ThresholdUnit: out_bias applies to thresholds "
                                             "only; pass out_bias=0 with requant, not 1"),
    (dict(thresholds=[[0]] * 4, n=0), "ThresholdUnit: n must be a positive integer, not 0"),
])
def test_threshold_unit_rejects_bad_parameters(kwargs, message):
    params = dict(n=4, in_width=4, in_signed=True, out_width=1, out_signed=False)
    params.update(kwargs)
    with pytest.raises(HdlError) as info:
        ThresholdUnit(**params)
    assert str(info.value) == message
