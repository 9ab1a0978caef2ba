"""A tiny real sweep on Dask: local cluster, resume, a separately started cluster, the CLI."""

import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bitwave.sweep import load_spec, run_sweep, write_results

DIGITS = Path(__file__).resolve().parents[2] / "examples" / "digits.py"
# 4 points: 2 models (trained once each, cached), low-rank on and off, 16 cycles per frame.
SPEC = f'''model = "{DIGITS}:digits"
lut_budgets = [3000, 6000]
[params]
hidden = 16
bits = [2, 4]
[compile]
target_cycles = 16
energy = [0, 0.05]
'''

pytestmark = pytest.mark.sim

COMPARED = ("rtl_test", "rtl_all", "quant_test", "mismatches", "lut", "ff", "bram", "macs", "weight_bits",
            "cycles_per_frame", "fps", "error")


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    path = tmp_path_factory.mktemp("spec") / "tiny.toml"
    path.write_text(SPEC)
    return load_spec(path)


@pytest.fixture(scope="module")
def swept(spec, tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "out"
    t = time.monotonic()
    res = run_sweep(spec, out, workers=2)
    write_results(spec, res, out)
    print(f"tiny sweep: {len(res.rows)} points in {time.monotonic() - t:.1f} s")
    return out, res


def test_every_point_is_a_verified_row(spec, swept):
    out, res = swept
    assert len(res.rows) == 4 and len(res.computed) == 4 and not res.skipped
    for row, point in zip(res.rows, spec.points):
        assert row["point"] == point.key and row["error"] is None, row
        assert row["mismatches"] == 0 and row["frames"] == 1797
        assert row["rtl_test"] == row["quant_test"] and 50 < row["rtl_test"] <= 100
        assert row["lut"] > 0 and row["macs"] > 0 and row["weight_bits"] > 0
        assert row["cycles_per_frame"] == 16 and row["fps"] == pytest.approx(100e6 / 16)
        assert json.loads((out / "points" / point.key / "row.json").read_text()) == row
    low = [r for r in res.rows if r["energy"]]
    assert all("svd-split{energy=0.05}" in r["command"] for r in low)


def test_results_csv_report_and_plots(spec, swept):
    out, res = swept
    with open(out / "results.csv") as f:
        table = list(csv.DictReader(f))
    assert [r["point"] for r in table] == [p.key for p in spec.points]
    assert {"hidden", "bits", "rtl_test", "lut", "fps", "error", "command"} <= set(table[0])
    md = (out / "report.md").read_text()
    for words in ("Pareto front", "Best point per LUT4 budget", "| 3,000 |", "bitwave compile"):
        assert words in md
    for png in ("pareto_lut.png", "pareto_fps.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"


def test_rebuild_command_names_a_model_that_loads(spec, swept):
    from bitwave.frontend import load_model_spec
    out, res = swept
    row = res.rows[0]
    model = row["command"].split()[2]
    assert load_model_spec(model).name == "digits-w2a2-h16"


def test_resume_computes_only_the_missing_point(spec, swept):
    out, res = swept
    gone = spec.points[1].key
    shutil.rmtree(out / "points" / gone)
    again = run_sweep(spec, out, workers=2)
    assert again.computed == [gone]
    assert sorted(again.skipped) == sorted(p.key for p in spec.points if p.key != gone)
    for a, b in zip(again.rows, res.rows):
        assert {k: a[k] for k in COMPARED} == {k: b[k] for k in COMPARED}
    third = run_sweep(spec, out, workers=2)
    assert third.computed == [] and len(third.skipped) == 4


def test_a_failing_point_is_a_row_and_the_sweep_goes_on(tmp_path):
    (tmp_path / "s.toml").write_text(SPEC.replace("hidden = 16", "hidden = [16, -3]").replace(
        "bits = [2, 4]", "bits = 2").replace("energy = [0, 0.05]", "energy = 0"))
    spec = load_spec(tmp_path / "s.toml")
    res = run_sweep(spec, tmp_path / "out", workers=2)
    ok, bad = res.rows
    assert ok["error"] is None and ok["mismatches"] == 0
    assert bad["error"] and "\n" not in bad["error"] and res.failed == [bad["point"]]
    assert bad["error"].startswith(f"{tmp_path}/out/points/{bad['point']}/model.py:point: point() failed")
    write_results(spec, res, tmp_path / "out")
    assert "Failed points" in (tmp_path / "out" / "report.md").read_text()


def test_a_separately_started_cluster_gives_the_same_rows(spec, swept, tmp_path, dask_scheduler):
    _, res = swept
    other = run_sweep(spec, tmp_path / "out", scheduler=dask_scheduler)
    assert len(other.computed) == 4
    for a, b in zip(other.rows, res.rows):
        assert a["point"] == b["point"]
        assert {k: a[k] for k in COMPARED} == {k: b[k] for k in COMPARED}


def test_cli_sweep_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(f'model = "{DIGITS}:digits"\n[compile]\nfolding = 3\n')
    run = subprocess.run([sys.executable, "-m", "bitwave.cli", "sweep", str(bad), "-o", str(tmp_path / "o")],
                         capture_output=True, text=True, env={**os.environ, "COLUMNS": "300"})
    assert run.returncode == 1
    err = run.stderr.strip()
    assert err.startswith("error: ") and "\n" not in err and "compile.folding" in err
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    (tmp_path / "ok.toml").write_text(SPEC)
    run = subprocess.run([sys.executable, "-m", "bitwave.cli", "sweep", str(tmp_path / "ok.toml"), "-o",
                          str(tmp_path / "mine")], capture_output=True, text=True, env={**os.environ, "COLUMNS": "300"})
    assert run.returncode == 1 and run.stderr.strip().startswith("error: ") and "did not write" in run.stderr
    assert "\n" not in run.stderr.strip()
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"
