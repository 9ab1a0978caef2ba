"""Graphs travel between processes (Dask workers of ``bitwave sweep`` and ``bitwave fuzz``):
pickling gives back an equal graph whose constants are still immutable."""

import pickle

import numpy as np
import pytest

from bitwave.ir import Graph, Input, Int, MatVec, MultiThreshold, Output


def test_a_graph_survives_pickling():
    rng = np.random.default_rng(3)
    g = Graph((Input("x", n=4, fmt=Int(4, False), scale=0.25),
               MatVec("fc", input="x", weight=rng.integers(-3, 4, (3, 4)), wfmt=Int(3), wscale=[0.5, 1.0, 2.0]),
               MultiThreshold("act", input="fc", thresholds=np.sort(rng.integers(-9, 9, (3, 3)), axis=1),
                              fmt=Int(2, False)),
               Output("y", input="act")))
    back = pickle.loads(pickle.dumps(g))
    assert back == g and hash(back["fc"].weight) == hash(g["fc"].weight)
    assert back["fc"].weight.array.dtype == np.int64 and back["fc"].wscale.array.dtype == np.float64
    with pytest.raises(ValueError):
        back["fc"].weight.array[0, 0] = 1          # still read-only
