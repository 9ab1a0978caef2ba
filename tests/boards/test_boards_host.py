"""The termios host client against a pseudo-terminal that plays the board."""

import os
import random
import threading

import pytest

from bitwave.boards import run_on_board, selftest_expected, write_selftest_build
from bitwave.build_folder import BuildManifest
from bitwave.errors import BoardError


class FakeBoard:
    """Answers each complete frame on a pty with the self-test result; tracks frames in flight."""

    def __init__(self, folder, *, answer=True):
        self.manifest = BuildManifest.load(folder)
        self.master, slave = os.openpty()
        self.port = os.ttyname(slave)
        self.slave = slave
        self.answer = answer
        self.max_pending = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        buf = b""
        n_in = self.manifest.sink.nbytes
        while True:
            try:
                data = os.read(self.master, 256)
            except OSError:
                return
            buf += data
            self.max_pending = max(self.max_pending, len(buf) // n_in)
            while len(buf) >= n_in and self.answer:
                frame, buf = buf[:n_in], buf[n_in:]
                result = selftest_expected([self.manifest.sink.from_bytes(frame)])[0]
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
