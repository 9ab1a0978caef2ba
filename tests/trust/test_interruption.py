"""Runs that survive interruption and repeat exactly: no half-written build folder after
SIGTERM, stale temporary folders of killed runs cleaned, the umask honoured, QAT repeatable."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from bitwave.compile import compile_graph
from bitwave.frontend import train_classifier
from bitwave.ir import Graph, Input, Int, MatVec, Output

ROOT = Path(__file__).resolve().parents[2]
BITWAVE = str(Path(sys.executable).parent / "bitwave")


def tiny_graph() -> Graph:
    w = np.random.default_rng(0).integers(-3, 4, (3, 4))
    return Graph((Input("x", n=4, fmt=Int(4, True)), MatVec("fc", input="x", weight=w, wfmt=Int(3)),
                  Output("y", input="fc")))


def temporaries(out: Path) -> list[Path]:
    return list(out.parent.glob(f".{out.name}.tmp-*"))


def test_sigterm_during_compile_leaves_no_temporary_folder(tmp_path):
    out = tmp_path / "digits"
    # Fully unrolled, the digits MLP takes tens of seconds to emit: time to be interrupted.
    proc = subprocess.Popen([BITWAVE, "compile", f"{ROOT}/examples/digits.py:digits", "-o", str(out),
                             "--target-cycles", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.monotonic() + 300
        while not temporaries(out):
            assert proc.poll() is None, f"compile ended before it could be interrupted: {proc.stderr.read()}"
            assert time.monotonic() < deadline, "no temporary build folder appeared"
            time.sleep(0.02)
        time.sleep(0.5)   # into the passes and lowering
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    finally:
        proc.kill()
    assert code == 128 + signal.SIGTERM
    assert "Traceback" not in proc.stderr.read()
    assert not temporaries(out) and not out.exists()


def test_a_later_run_removes_temporary_folders_of_killed_runs(tmp_path):
    out = tmp_path / "b"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    stale = tmp_path / f".b.tmp-{dead}-x1y2"
    stale.mkdir()
    (stale / "bitwave_top.v").write_text("// half written")
    alive = tmp_path / f".b.tmp-{os.getpid()}-z3"   # a run still going: left alone
    alive.mkdir()
    compile_graph(tiny_graph(), out)
    assert not stale.exists() and alive.exists()
    assert (out / "bitwave_top.v").exists()


def test_build_folder_honours_the_umask(tmp_path):
    for umask, mode in ((0o022, 0o755), (0o027, 0o750)):
        old = os.umask(umask)
        try:
            compile_graph(tiny_graph(), tmp_path / f"u{umask:o}")
        finally:
            os.umask(old)
        assert (tmp_path / f"u{umask:o}").stat().st_mode & 0o777 == mode


def test_training_repeats_bit_for_bit():
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(96, 8)).astype(np.float32), rng.integers(0, 3, 96)

    def trained():
        torch.manual_seed(5)
        model = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3))
        train_classifier(model, X, y, epochs=3, seed=5, batch_size=16)
        return model.state_dict()

    a, b = trained(), trained()
    assert all(torch.equal(a[k], b[k]) for k in a)
