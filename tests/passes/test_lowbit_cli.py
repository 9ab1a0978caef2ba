"""svd-split and quantise-1bit from the command line, and what the compile report says about a split."""

import subprocess
import sys
from pathlib import Path

import pytest

from bitwave.build_folder import BuildManifest
from bitwave.compile import CompileOptions, compile_graph

sys.path.insert(0, str(Path(__file__).parent))   # the suite imports test files by path only
from test_lowbit_passes import mlp  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
BITWAVE = str(Path(sys.executable).parent / "bitwave")


@pytest.mark.sim
def test_cli_svd_split_then_quantise_1bit_verifies_bit_exactly(tmp_path):
    out = tmp_path / "build"
    run = subprocess.run([BITWAVE, "compile", f"{ROOT}/examples/digits.py:digits", "-o", str(out),
                          "-p", "svd-split{energy=0.01},quantise-1bit"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "quantise-1bit: fc2: 64×64 weights binarised" in run.stderr
    manifest = BuildManifest.load(out)
    assert manifest.pipeline[:2] == ("svd-split{energy=0.01}", "quantise-1bit")
    run = subprocess.run([BITWAVE, "verify", str(out)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "frames: 1797" in run.stdout and "mismatches: 0" in run.stdout


def test_report_shows_costs_before_and_after_the_split(tmp_path):
    g = mlp(seed=3, n=32, h=32, wbits=8)
    res = compile_graph(g, tmp_path / "b", CompileOptions(pipeline="svd-split{rank=4,layers=['fc0','fc1']}"))
    split = res.report["split"]
    before, after = split["before"], split["after"]
    # fc0 and fc1, 32×32 (8-bit), each become 4×32 and 32×4 (8-bit factors); fc2 is 3×32
    assert before["macs"] - after["macs"] == 2 * (32 * 32 - 2 * 4 * 32)
    assert before["weight_bits"] - after["weight_bits"] == 8 * 2 * (32 * 32 - 2 * 4 * 32)
    assert before["cycles_per_frame"] == 32 * 32 and after["cycles_per_frame"] == 4 * 32
    assert after["lut"] != before["lut"]
    manifest = res.manifest
    layers = {L.name: L for L in manifest.layers}
    assert layers["fc1_v"].macs == 4 * 32 and layers["fc1"].weight_bits == 32 * 4 * 8
    assert manifest.macs == after["macs"]
    text = (tmp_path / "b" / "report.md").read_text()
    assert "## Low-rank split: before → after" in text
    assert f"| without svd-split | {before['macs']} | {before['weight_bits']} |" in text
    assert "split" not in compile_graph(g, tmp_path / "c").report


def _bench(name):
    sys.path.insert(0, str(ROOT / "bench"))
    return __import__(name)


@pytest.mark.slow
@pytest.mark.sim
@pytest.mark.parametrize("width", [64, 256, 1024])
def test_digits_1bit_verifies_over_all_samples(width, tmp_path):
    row = _bench("onebit_bench").digits_row(width, 1024, tmp_path)
    assert row["frames"] == 1797 and row["mismatches"] == 0
    assert row["cycles_per_frame"] == row["ideal_cycles_per_frame"] == 1024


@pytest.mark.slow
@pytest.mark.sim
def test_tfc_w1a1_reaches_64_cycles_per_frame(tmp_path):
    row = _bench("onebit_bench").tfc_row(200, tmp_path)
    assert row["mismatches"] == 0 and row["ideal_cycles_per_frame"] == 64
    assert abs(row["cycles_per_frame"] - 64) <= 0.05 * 64


@pytest.mark.slow
@pytest.mark.sim
@pytest.mark.parametrize("training", ["plain", "SVD-trained"])
def test_lowrank_digits_verifies_over_all_samples(training, tmp_path):
    bench = _bench("lowrank_bench")
    if training == "plain":
        bundle = bench.load_module(ROOT / "examples" / "digits.py", "digits").digits(4, 256)
    else:
        bundle = bench.load_module(ROOT / "examples" / "digits_lowrank.py", "digits_lowrank").digits_lowrank(0.05)
    row = bench.row(bundle, 0.05, training, tmp_path)
    assert row["frames"] == 1797 and row["mismatches"] == 0
