"""``bitwave fuzz --scheduler``: random models spread over a separately started Dask cluster
(a scheduler and two worker processes, started and stopped by the ``dask_scheduler`` fixture)."""

import json

import pytest

from bitwave.cli import main
from bitwave.fuzz import FuzzConfig, compile_case, fuzz_on_cluster, generate_case

pytestmark = pytest.mark.sim

SEED = 1
MODELS = 6


def test_models_spread_over_two_workers_have_no_mismatch(dask_scheduler):
    report = fuzz_on_cluster(MODELS, SEED, scheduler=dask_scheduler, chunk=3)
    assert report.mismatches == 0, "\n\n".join(f.describe() for f in report.failures) + "\n" + report.summary()
    assert report.workers == 2 and report.models == MODELS
    # The same models as a run in one process: every model comes from its own random stream.
    cfg = FuzzConfig()
    assert report.frames == sum(len(compile_case(generate_case(SEED, i, cfg), cfg).inputs) for i in range(MODELS))
    assert report.builds >= 2 and report.seconds["total"] > 0    # at least one Verilator build per task
    assert "stages summed over 2 Dask workers" in report.summary()


def test_cli_fuzz_with_a_scheduler(dask_scheduler, tmp_path, capsys):
    # Models 0-2 are the first task above: the same designs, so their Verilator build is cached.
    try:
        main(["fuzz", "--models", "3", "--seed", str(SEED), "--scheduler", dask_scheduler,
              "--json", str(tmp_path / "fuzz.json")])
    except SystemExit as e:
        assert e.code in (0, None), capsys.readouterr()
    text = capsys.readouterr().out
    assert "mismatches: 0" in text and "models/min" in text
    data = json.loads((tmp_path / "fuzz.json").read_text())
    assert data["models"] == 3 and data["mismatches"] == 0 and data["workers"] == 2


def test_cli_fuzz_on_a_local_cluster(tmp_path, capsys):
    # --workers starts (and stops) a local cluster of its own; models 0-2 as above, cached.
    try:
        main(["fuzz", "--models", "3", "--seed", str(SEED), "--workers", "1",
              "--json", str(tmp_path / "fuzz.json")])
    except SystemExit as e:
        assert e.code in (0, None), capsys.readouterr()
    data = json.loads((tmp_path / "fuzz.json").read_text())
    assert data["models"] == 3 and data["mismatches"] == 0 and data["workers"] == 1
