"""The board CLI commands (bitwave.cli registers them): output and errors."""

import json
import os
import threading

import numpy as np
import pytest
from click.testing import CliRunner

from bitwave.boards import get_target, selftest_expected, target_folder, write_selftest_build
from bitwave.build_folder import BuildManifest
from bitwave.boards._cli import boards_cmd, flash_cmd, run_cmd
from bitwave.errors import BoardError


def test_boards_lists_every_target():
    result = CliRunner().invoke(boards_cmd, [], terminal_width=200)
    assert result.exit_code == 0
    for name in ("icebreaker", "ulx3s-85f", "orangecrab-25f", "ecp5-85k"):
        assert name in result.output
    assert "iCE40UP5K SG48" in result.output and "-b ulx3s" in result.output


def test_flash_errors_reach_the_caller_as_board_errors(tmp_path):
    write_selftest_build(tmp_path)
    result = CliRunner().invoke(flash_cmd, [str(tmp_path), "--board", "ulx3s-85f"])
    assert isinstance(result.exception, BoardError)
    assert "run `bitwave build" in str(result.exception)


def _serve_selftest(folder, master):
    manifest = BuildManifest.load(folder)
    n_in = manifest.sink.nbytes

    def serve():
        buf = b""
        while True:
            try:
                buf += os.read(master, 256)
            except OSError:
                return
            while len(buf) >= n_in:
                frame, buf = buf[:n_in], buf[n_in:]
                result = selftest_expected([manifest.sink.from_bytes(frame)])[0]
                os.write(master, manifest.source.to_bytes(result))
    threading.Thread(target=serve, daemon=True).start()


@pytest.fixture
def flashed(tmp_path):
    """A self-test build that looks built for the iCEBreaker, and a pty playing that board."""
    folder = write_selftest_build(tmp_path / "acc")
    target_dir = target_folder(folder, get_target("icebreaker"))
    target_dir.mkdir()
    (target_dir / "report.json").write_text(json.dumps({"io": "uart 115200 baud", "baud": 115200}))
    master, slave = os.openpty()
    _serve_selftest(folder, master)
    yield folder, os.ttyname(slave)
    os.close(slave)
    os.close(master)


def test_run_selftest(flashed):
    folder, port = flashed
    result = CliRunner().invoke(run_cmd, [str(folder), "--board", "icebreaker", "--port", port,
                                          "--frames", "50"])
    assert result.exit_code == 0, result.output
    assert "self-test passed: 50 frames round-tripped through icebreaker" in result.output


def test_run_with_input_and_output_files(flashed, tmp_path):
    folder, port = flashed
    frames = np.array([[1, 2, 3, 4], [250, 0, 7, 9]], dtype=np.int64)
    np.save(tmp_path / "in.npy", frames)
    result = CliRunner().invoke(run_cmd, [str(folder), "-b", "icebreaker", "-p", port,
                                          "--input", str(tmp_path / "in.npy"),
                                          "--output", str(tmp_path / "out.json")])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "out.json").read_text()) == [[4, 5, 6, 7], [253, 3, 10, 12]]


def test_run_needs_a_build(tmp_path):
    write_selftest_build(tmp_path)
    result = CliRunner().invoke(run_cmd, [str(tmp_path), "-b", "icebreaker", "-p", "/dev/null"])
    assert isinstance(result.exception, BoardError)
    assert "no report.json; run `bitwave build` first" in str(result.exception)
