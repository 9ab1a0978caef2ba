"""The host side of the UART link: send frames to a flashed board, collect its results.

Talks to the serial port with ``termios`` directly (POSIX only; no pyserial
needed).  The UART has no flow control, so the client keeps at most
``window`` frames in flight; two is always safe for the wrapper's buffering
(one result being sent while the next frame arrives).
"""

from __future__ import annotations

import os
import select
import termios
import time
from pathlib import Path
from typing import Sequence

from ..errors import BoardError
from ..build_folder import BuildManifest

__all__ = ["run_on_board", "open_serial"]


def open_serial(port: str, baud: int) -> int:
    """Open ``port`` raw 8N1 without flow control at ``baud``; return the file descriptor."""
    speed = getattr(termios, f"B{baud}", None)
    if speed is None:
        raise BoardError(f"baud rate {baud} is not supported by this host's serial driver")
    try:
        fd = os.open(port, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise BoardError(f"serial port {port} does not exist; is the board plugged in? "
                         f"(look for /dev/ttyUSB* or /dev/ttyACM*)") from None
    except PermissionError:
        raise BoardError(f"no permission to open {port}; add yourself to the group that owns "
                         f"it (often `dialout`) and log in again") from None
    try:
        attrs = termios.tcgetattr(fd)
    except termios.error:
        os.close(fd)
        raise BoardError(f"{port} is not a serial port") from None
    iflag, oflag, cflag, lflag, _, _, cc = attrs
    iflag = 0                                            # no parity check, no XON/XOFF, no CR maps
    oflag = 0                                            # no output processing
    cflag = (cflag & ~(termios.CSIZE | termios.PARENB | termios.CSTOPB | termios.CRTSCTS)
             | termios.CS8 | termios.CREAD | termios.CLOCAL)
    lflag = 0                                            # raw: no echo, no line editing, no signals
    cc = list(cc)
    cc[termios.VMIN], cc[termios.VTIME] = 0, 0
    termios.tcsetattr(fd, termios.TCSANOW, [iflag, oflag, cflag, lflag, speed, speed, cc])
    termios.tcflush(fd, termios.TCIOFLUSH)
    return fd


def run_on_board(build_dir: Path | str, port: str, frames: Sequence[Sequence[int]], *,
                 baud: int = 115200, window: int = 2, timeout: float = 2.0) -> list[list[int]]:
    """Send ``frames`` (each a list of ``sink.frame_elems`` integers) to the board; return its
    results (each ``source.frame_elems`` integers).

    Raises BoardError when the port cannot be used or the board stops
    answering for ``timeout`` seconds (wrong port, wrong baud, not flashed).
    """
    if window < 1:
        raise BoardError(f"window must be at least 1, not {window}")
    manifest = BuildManifest.load(build_dir)
    payload = [manifest.sink.to_bytes(frame) for frame in frames]
    out_bytes = manifest.source.frame_nbytes
    fd = open_serial(port, baud)
    try:
        # The wrapper drops a partial frame after 1000 idle bit times: wait that
        # long so a frame cut short by an earlier client cannot shift ours.
        time.sleep(1000 / baud + 0.005)
        termios.tcflush(fd, termios.TCIFLUSH)
        received = bytearray()
        sent = 0
        last_progress = time.monotonic()
        while len(received) < len(payload) * out_bytes:
            done = len(received) // out_bytes
            while sent < len(payload) and sent < done + window:
                data = payload[sent]
                while data:
                    _, writable, _ = select.select([], [fd], [], timeout)
                    if not writable:
                        raise BoardError(f"{port}: cannot write (is it a working serial port?)")
                    data = data[os.write(fd, data):]
                sent += 1
            readable, _, _ = select.select([fd], [], [], 0.05)
            if readable:
                chunk = os.read(fd, 4096)
                if chunk:
                    received += chunk
                    last_progress = time.monotonic()
                    continue
            if time.monotonic() - last_progress > timeout:
                raise BoardError(
                    f"no answer from the board on {port} after {done} of {len(payload)} results "
                    f"({len(received) % out_bytes} bytes of the next); is the bitstream loaded "
                    f"(`bitwave flash`), is {port} the board's UART, and is it {baud} baud?")
        return [manifest.source.from_bytes(bytes(received[i * out_bytes:(i + 1) * out_bytes]))
                for i in range(len(payload))]
    finally:
        os.close(fd)
