# amaranth: UnusedElaboratable=no
"""The XNOR-popcount unit in Amaranth's simulator against a numpy popcount model, for several
pe/simd, and the clear rejection of a simd that does not divide the width (HDL, IR, fold)."""

import numpy as np
import pytest

from bitwave.errors import HdlError, PassError, VerifyError
from bitwave.hdl import MatVecUnit
from bitwave.ir import Bipolar, Graph, Input, MatVec, Output
from bitwave.passes import Fold
from hdl_bench import pack, stream, unpack


def popcount_model(weights, x, thresholds):
    """1 iff 2·popcount(XNOR(w, x)) − n >= T (bits: 1 = +1), written from REFERENCE.md."""
    wb, xb = weights > 0, np.asarray(x) > 0
    pc = np.sum(~(wb ^ xb), axis=1)
    dot = 2 * pc - weights.shape[1]
    assert np.array_equal(dot, weights @ np.asarray(x))
    return (dot >= np.asarray(thresholds)[:, 0]).astype(int).tolist()


@pytest.mark.parametrize("rows, cols, pe, simd", [
    (8, 32, 2, 8), (4, 12, 4, 3), (6, 10, 3, 5), (5, 7, 5, 7), (4, 9, 1, 1),
])
def test_xnor_unit_matches_popcount_model(rows, cols, pe, simd):
    rng = np.random.default_rng([rows, cols, pe, simd])
    weights = rng.choice([-1, 1], size=(rows, cols))
    thresholds = rng.integers(-cols, cols + 1, size=(rows, 1))
    unit = MatVecUnit(weights=weights, in_width=1, in_signed=False, in_bipolar=True, w_width=1,
                      w_signed=False, w_bipolar=True, acc_width=cols.bit_length() + 1, pe=pe, simd=simd,
                      thresholds=thresholds, out_width=1, out_signed=False)
    assert unit.xnor and unit.cycles_per_frame == (rows // pe) * (cols // simd)
    xs = [rng.choice([-1, 1], size=cols) for _ in range(8)]
    result = stream(unit, [pack(x, 1, True) for x in xs], p_in_stall=0.2, p_out_stall=0.2, seed=3)
    got = [unpack(o, rows, 1, False) for o in result["outputs"]]
    assert got == [popcount_model(weights, x, thresholds) for x in xs]


def test_xnor_unit_rejects_simd_not_dividing_the_width():
    with pytest.raises(HdlError) as info:
        MatVecUnit(weights=np.ones((4, 10), dtype=int), in_width=1, in_signed=False, in_bipolar=True,
                   w_width=1, w_signed=False, w_bipolar=True, acc_width=5, simd=4)
    assert str(info.value) == ("MatVecUnit: simd=4 does not divide cols=10; choose a divisor of 10 "
                               "(1, 2, 5, 10)")


def test_ir_and_fold_reject_simd_not_dividing_the_width():
    with pytest.raises(VerifyError, match=r"matvec: op fc: simd=4 does not divide cols=10"):
        MatVec("fc", input="x", weight=np.ones((4, 10), dtype=int), wfmt=Bipolar(), simd=4)
    g = Graph((Input("x", n=10, fmt=Bipolar()),
               MatVec("fc", input="x", weight=np.ones((4, 10), dtype=int), wfmt=Bipolar()),
               Output("o", input="fc")))
    with pytest.raises(PassError, match=r"simd=4 must divide cols=10; .* of 10: \[1, 2, 5, 10\]"):
        Fold(pe=(1,), simd=(4,)).run(g)
