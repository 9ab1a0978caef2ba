"""The stream format: what one frame of a stream between two units carries, beat by beat.

One type serves every place a stream's payload is packed or read: the
Verilator and cocotb harnesses, the UART wrapper and its host client, the
build manifest.  A frame is ``beats`` consecutive beats; a beat carries
``elems`` elements of ``width`` bits, element 0 in the lowest bits (two's
complement when ``signed``).  Beat ``b`` of a frame holds the frame's
elements ``[b·elems, (b+1)·elems)``: an image streamed pixel by pixel is
``beats = H·W`` beats of ``elems = C`` channels.  A ``bipolar`` stream
carries the codes -1/+1 of a 1-bit layer as the bits 0/1: :meth:`encode` and
:meth:`decode` map between codes and the integers on the wire.

The frame-level helpers take frames as rows of ``frame_elems`` values and
give (or take) one row per beat, ``beats`` rows per frame, in order.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..errors import HdlError
from ._params import int_range

__all__ = ["StreamFormat"]


@dataclass(frozen=True)
class StreamFormat:
    """A frame of ``beats`` beats of ``elems`` elements of ``width`` bits; ``bipolar`` codes
    -1/+1 travel as 0/1."""
    elems: int
    width: int
    signed: bool = False
    bipolar: bool = False
    beats: int = 1

    def __post_init__(self):
        for name in ("elems", "width", "beats"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise HdlError(f"stream {name} must be a positive integer, not {value!r}")
        for name in ("signed", "bipolar"):
            if not isinstance(getattr(self, name), bool):
                raise HdlError(f"stream {name} must be true or false, not {getattr(self, name)!r}")
        if self.bipolar and (self.width != 1 or self.signed):
            raise HdlError("a bipolar stream carries unsigned 1-bit elements")

    @property
    def bits(self) -> int:
        """Payload bits of one beat (the width of the ``payload`` port)."""
        return self.elems * self.width

    @property
    def words(self) -> int:
        """32-bit words of one beat (the Verilator harnesses' unit)."""
        return (self.bits + 31) // 32

    @property
    def nbytes(self) -> int:
        """Bytes of one beat (the UART's unit)."""
        return (self.bits + 7) // 8

    @property
    def frame_elems(self) -> int:
        """Elements of one frame: ``beats · elems``."""
        return self.beats * self.elems

    @property
    def frame_nbytes(self) -> int:
        """Bytes of one frame on the UART: ``beats · nbytes``."""
        return self.beats * self.nbytes

    @property
    def lo(self) -> int:
        return int_range(self.width, self.signed)[0]

    @property
    def hi(self) -> int:
        return int_range(self.width, self.signed)[1]

    def describe(self) -> str:
        """``64 × 8 bit signed``, or ``49 beats of 3 × 8 bit``: how reports name the stream."""
        beat = f"{self.elems} × {self.width} bit{' signed' if self.signed else ''}"
        return beat if self.beats == 1 else f"{self.beats} beats of {beat}"

    def as_dict(self) -> dict:
        return asdict(self)

    # codes <-> wire values (element by element: any shape)

    def encode(self, codes):
        """Codes of the layer's format → the integers on the wire (bipolar -1/+1 → 0/1)."""
        return (np.asarray(codes) + 1) // 2 if self.bipolar else codes

    def decode(self, values):
        """Integers on the wire → codes (bipolar 0/1 → -1/+1)."""
        return 2 * np.asarray(values) - 1 if self.bipolar else values

    # frames <-> beats

    def _frame_error(self, n: int) -> HdlError:
        takes = (f"{self.elems}" if self.beats == 1
                 else f"{self.frame_elems} ({self.beats} beats of {self.elems})")
        return HdlError(f"frame has {n} elements, the accelerator takes {takes}")

    def split(self, frames) -> np.ndarray:
        """(N, frame_elems) frames → (N·beats, elems) beats, beat b of frame n in row n·beats + b."""
        v = np.asarray(frames, dtype=np.int64)
        if v.ndim != 2:
            raise HdlError(f"stream values must have shape (N, {self.frame_elems}), not {v.shape}")
        if v.shape[1] != self.frame_elems:
            raise self._frame_error(v.shape[1])
        return v.reshape(-1, self.elems)

    def join(self, beats) -> np.ndarray:
        """(N·beats, elems) beats → (N, frame_elems) frames (the inverse of :meth:`split`)."""
        v = np.asarray(beats)
        if v.ndim != 2 or v.shape[1] != self.elems or len(v) % self.beats:
            raise HdlError(f"{v.shape} is not whole frames of {self.beats} beats of {self.elems} elements")
        return v.reshape(-1, self.frame_elems)

    # wire values <-> payload

    def _check_range(self, values: np.ndarray) -> None:
        if values.size and (values.min() < self.lo or values.max() > self.hi):
            bad = np.argwhere((values < self.lo) | (values > self.hi))[0]
            i = int(bad[-1])
            raise HdlError(f"element {i} = {int(values[tuple(bad)])} does not fit "
                           f"{'signed' if self.signed else 'unsigned'} {self.width}-bit [{self.lo}, {self.hi}]")

    def pack_words(self, frames) -> np.ndarray:
        """(N, frame_elems) wire values → (N·beats, words) little-endian uint32 words, one row per beat."""
        v = self.split(frames)
        self._check_range(v.reshape(-1, self.frame_elems))
        n = v.shape[0]
        u = v.astype(np.uint64) & np.uint64((1 << self.width) - 1)
        bits = ((u[:, :, None] >> np.arange(self.width, dtype=np.uint64)) & np.uint64(1)).astype(np.uint8)
        bits = bits.reshape(n, self.bits)
        pad = self.words * 32 - self.bits
        if pad:
            bits = np.concatenate([bits, np.zeros((n, pad), np.uint8)], axis=1)
        return np.packbits(bits, axis=1, bitorder="little").view("<u4").reshape(n, self.words)

    def unpack_words(self, words) -> np.ndarray:
        """(N·beats, words) uint32 → (N, frame_elems) int64 wire values, sign-extended when signed."""
        w = np.ascontiguousarray(words, dtype="<u4")
        n = w.shape[0]
        raw = w.view(np.uint8).reshape(n, 4 * w.shape[1])
        bits = np.unpackbits(raw, axis=1, bitorder="little")[:, :self.bits]
        bits = bits.reshape(n, self.elems, self.width).astype(np.int64)
        v = (bits << np.arange(self.width, dtype=np.int64)).sum(axis=2)
        if self.signed:
            v = np.where(v >= (1 << (self.width - 1)), v - (1 << self.width), v)
        return self.join(v)

    def pack_int(self, beat) -> int:
        """One beat's ``elems`` wire values → its payload as one integer."""
        v = np.asarray(beat, dtype=np.int64).reshape(-1)
        if len(v) != self.elems:
            raise HdlError(f"beat has {len(v)} elements, the stream carries {self.elems} per beat")
        self._check_range(v)
        mask = (1 << self.width) - 1
        word = 0
        for i, value in enumerate(v):
            word |= (int(value) & mask) << (i * self.width)
        return word

    def unpack_int(self, word: int) -> list[int]:
        """One beat's payload integer → its ``elems`` wire values."""
        mask = (1 << self.width) - 1
        out = []
        for i in range(self.elems):
            value = (int(word) >> (i * self.width)) & mask
            if self.signed and value >> (self.width - 1):
                value -= 1 << self.width
            out.append(value)
        return out

    def to_bytes(self, frame) -> bytes:
        """One frame → its bytes as the UART carries them: beat by beat, each little-endian."""
        beats = self.split(np.asarray(frame, dtype=np.int64).reshape(1, -1))
        self._check_range(beats.reshape(-1))
        return b"".join(self.pack_int(beat).to_bytes(self.nbytes, "little") for beat in beats)

    def from_bytes(self, data: bytes) -> list[int]:
        """The bytes of one frame (``frame_nbytes``) → its ``frame_elems`` wire values."""
        if len(data) != self.frame_nbytes:
            raise HdlError(f"result frame has {len(data)} bytes, expected {self.frame_nbytes}")
        return [value for b in range(self.beats)
                for value in self.unpack_int(int.from_bytes(data[b * self.nbytes:(b + 1) * self.nbytes],
                                                            "little"))]
