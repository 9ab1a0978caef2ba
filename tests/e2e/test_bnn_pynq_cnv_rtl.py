"""Brevitas' CNV-w1a1 (bnn_pynq, untrained with randomised batch-norm) at FINN's folding for
CNV-w1a1, compiled and verified in Verilator: bit-exact on 16 CIFAR-sized inputs and within
5 % of its ideal cycles per frame.  The Verilator build of the whole network takes many
minutes on 2 cores, so the test runs with --runslow."""

import json
from pathlib import Path

import pytest

from bitwave.cli import main

HERE = Path(__file__).resolve().parent

#: FINN's folding for CNV-w1a1 (pe, simd per matrix-vector layer: 6 convolutions, 3 dense).
FINN_PE = (16, 32, 16, 16, 4, 1, 1, 1, 5)
FINN_SIMD = (3, 32, 32, 32, 32, 32, 4, 8, 1)

pytestmark = [pytest.mark.sim, pytest.mark.slow]


def test_cnv_w1a1_at_finn_folding_is_bit_exact_and_at_its_ideal_rate(tmp_path, capsys):
    out = tmp_path / "cnv"
    argv = ["compile", f"{HERE / 'cnv_models.py'}:cnv_w1a1", "-o", out,
            "--pe", ",".join(map(str, FINN_PE)), "--simd", ",".join(map(str, FINN_SIMD))]
    for cmd in (argv, ["verify", out]):
        try:
            main([str(a) for a in cmd])
        except SystemExit as e:
            assert e.code in (0, None), capsys.readouterr()
    rtl = json.loads((out / "report.json").read_text())["rtl"]
    assert rtl["mismatches"] == 0 and rtl["frames"] == 16
    ideal = json.loads((out / "manifest.json").read_text())["cycles_per_frame"]
    assert ideal == 32768                          # the two 512-wide dense layers
    assert rtl["cycles_per_frame"] <= 1.05 * ideal, (rtl["cycles_per_frame"], ideal)
