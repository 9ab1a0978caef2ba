"""The termios host client against a pseudo-terminal that plays the board."""

import os
import random
import threading

import pytest

from bitwave.boards import run_on_board, selftest_expected, write_selftest_build
from bitwave.build_folder import BuildManifest
from bitwave.errors import BoardError
from bitwave.hdl import Resources, StreamFormat


def selftest(frame):
    return selftest_expected([frame])[0]


class FakeBoard:
    """Answers each complete frame on a pty with ``model(frame)`` (by default the self-test
    result); tracks frames in flight."""

    def __init__(self, folder, *, answer=True, model=selftest):
        self.manifest = BuildManifest.load(folder)
        self.master, slave = os.openpty()
        self.port = os.ttyname(slave)
        self.slave = slave
        self.answer, self.model = answer, model
        self.max_pending = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        buf = b""
        n_in = self.manifest.sink.frame_nbytes
        while True:
            try:
                data = os.read(self.master, 256)
            except OSError:
                return
            buf += data
            self.max_pending = max(self.max_pending, len(buf) // n_in)
            while len(buf) >= n_in and self.answer:
                frame, buf = buf[:n_in], buf[n_in:]
                result = self.model(self.manifest.sink.from_bytes(frame))
                os.write(self.master, self.manifest.source.to_bytes(result))

    def close(self):
        os.close(self.slave)
        os.close(self.master)


@pytest.fixture
def folder(tmp_path):
    return write_selftest_build(tmp_path, elems=3, elem_width=7, signed=True)


def test_hundred_frames_round_trip(folder):
    board = FakeBoard(folder)
    rng = random.Random(3)
    frames = [[rng.randint(-64, 63) for _ in range(3)] for _ in range(100)]
    try:
        assert run_on_board(folder, board.port, frames) == selftest_expected(frames)
    finally:
        board.close()


def test_frames_of_several_beats_round_trip(tmp_path):
    """Frames of 3 beats of 2 elements go out whole; their 2 sums come back as 2 beats of 1."""
    (tmp_path / "bitwave_top.v").write_text("")
    BuildManifest(name="sums", sink=StreamFormat(2, 4, True, beats=3),
                  source=StreamFormat(1, 6, True, beats=2), ports=(), cycles_per_frame=3, latency=4,
                  pipeline=(), layers=(), estimate=Resources()).save(tmp_path)
    board = FakeBoard(tmp_path, model=lambda f: [f[0] + f[2] + f[4], f[1] + f[3] + f[5]])
    rng = random.Random(4)
    frames = [[rng.randint(-8, 7) for _ in range(6)] for _ in range(50)]
    try:
        assert run_on_board(tmp_path, board.port, frames) == [board.model(f) for f in frames]
        assert board.max_pending <= 2
    finally:
        board.close()


def test_silent_board_times_out_with_advice(folder):
    board = FakeBoard(folder, answer=False)
    try:
        with pytest.raises(BoardError, match=r"no answer from the board on .* after 0 of 5 results "
                                             r"\(0 bytes of the next\); is the bitstream loaded"):
            run_on_board(folder, board.port, [[1, 2, 3]] * 5, timeout=0.3)
        assert board.max_pending <= 2          # the window: never more than 2 frames ahead
    finally:
        board.close()


def test_port_errors(folder, tmp_path):
    with pytest.raises(BoardError, match=r"serial port /dev/ttyNOPE0 does not exist"):
        run_on_board(folder, "/dev/ttyNOPE0", [[0, 0, 0]])
    with pytest.raises(BoardError, match=r"^/dev/null is not a serial port$"):
        run_on_board(folder, "/dev/null", [[0, 0, 0]])
    with pytest.raises(BoardError, match=r"baud rate 123 is not supported"):
        run_on_board(folder, "/dev/null", [[0, 0, 0]], baud=123)
