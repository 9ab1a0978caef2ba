"""The vector-stream format: what one beat of a stream between two units carries.

One type serves every place a stream's payload is packed or read: the
Verilator and cocotb harnesses, the UART wrapper and its host client, the
build manifest.  A beat carries ``elems`` elements of ``width`` bits, element
0 in the lowest bits (two's complement when ``signed``).  A ``bipolar`` stream
carries the codes -1/+1 of a 1-bit layer as the bits 0/1: :meth:`encode` and
:meth:`decode` map between codes and the integers on the wire.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..errors import HdlError
from ._params import int_range

__all__ = ["StreamFormat"]


@dataclass(frozen=True)
class StreamFormat:
    """``elems`` elements of ``width`` bits per beat; ``bipolar`` codes -1/+1 travel as 0/1."""
    elems: int
    width: int
    signed: bool = False
    bipolar: bool = False

    def __post_init__(self):
        for name in ("elems", "width"):
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
        """Payload bits of one beat."""
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
    def lo(self) -> int:
        return int_range(self.width, self.signed)[0]

    @property
    def hi(self) -> int:
        return int_range(self.width, self.signed)[1]

    def describe(self) -> str:
        """``64 × 8 bit signed``: how reports name the stream."""
        return f"{self.elems} × {self.width} bit{' signed' if self.signed else ''}"

    def as_dict(self) -> dict:
        return asdict(self)

    # codes <-> wire values

    def encode(self, codes):
        """Codes of the layer's format → the integers on the wire (bipolar -1/+1 → 0/1)."""
        return (np.asarray(codes) + 1) // 2 if self.bipolar else codes

    def decode(self, values):
        """Integers on the wire → codes (bipolar 0/1 → -1/+1)."""
        return 2 * np.asarray(values) - 1 if self.bipolar else values

    # wire values <-> payload

    def _check_range(self, values: np.ndarray) -> None:
        if values.size and (values.min() < self.lo or values.max() > self.hi):
            bad = np.argwhere((values < self.lo) | (values > self.hi))[0]
            i = int(bad[-1])
            raise HdlError(f"element {i} = {int(values[tuple(bad)])} does not fit "
                           f"{'signed' if self.signed else 'unsigned'} {self.width}-bit [{self.lo}, {self.hi}]")

    def _check_elems(self, n: int) -> None:
        if n != self.elems:
            raise HdlError(f"frame has {n} elements, the accelerator takes {self.elems}")

    def pack_words(self, values) -> np.ndarray:
        """(N, elems) wire values → (N, words) little-endian uint32 payload words."""
        v = np.asarray(values, dtype=np.int64)
        if v.ndim != 2:
            raise HdlError(f"stream values must have shape (N, {self.elems}), not {v.shape}")
        self._check_elems(v.shape[1])
        self._check_range(v)
        n = v.shape[0]
        u = v.astype(np.uint64) & np.uint64((1 << self.width) - 1)
        bits = ((u[:, :, None] >> np.arange(self.width, dtype=np.uint64)) & np.uint64(1)).astype(np.uint8)
        bits = bits.reshape(n, self.bits)
        pad = self.words * 32 - self.bits
        if pad:
            bits = np.concatenate([bits, np.zeros((n, pad), np.uint8)], axis=1)
        return np.packbits(bits, axis=1, bitorder="little").view("<u4").reshape(n, self.words)

    def unpack_words(self, words) -> np.ndarray:
        """(N, words) uint32 → (N, elems) int64 wire values, sign-extended when signed."""
        w = np.ascontiguousarray(words, dtype="<u4")
        n = w.shape[0]
        bits = np.unpackbits(w.view(np.uint8).reshape(n, -1), axis=1, bitorder="little")[:, :self.bits]
        bits = bits.reshape(n, self.elems, self.width).astype(np.int64)
        v = (bits << np.arange(self.width, dtype=np.int64)).sum(axis=2)
        if self.signed:
            v = np.where(v >= (1 << (self.width - 1)), v - (1 << self.width), v)
        return v

    def pack_int(self, vector) -> int:
        """One beat's wire values → its payload as one integer."""
        v = np.asarray(vector, dtype=np.int64).reshape(-1)
        self._check_elems(len(v))
        self._check_range(v)
        mask = (1 << self.width) - 1
        word = 0
        for i, value in enumerate(v):
            word |= (int(value) & mask) << (i * self.width)
        return word

    def unpack_int(self, word: int) -> list[int]:
        """One beat's payload integer → its wire values."""
        mask = (1 << self.width) - 1
        out = []
        for i in range(self.elems):
            value = (int(word) >> (i * self.width)) & mask
            if self.signed and value >> (self.width - 1):
                value -= 1 << self.width
            out.append(value)
        return out

    def to_bytes(self, vector) -> bytes:
        """One beat → its little-endian bytes (what the UART carries)."""
        return self.pack_int(vector).to_bytes(self.nbytes, "little")

    def from_bytes(self, data: bytes) -> list[int]:
        """Little-endian bytes of one beat → its wire values."""
        if len(data) != self.nbytes:
            raise HdlError(f"result frame has {len(data)} bytes, expected {self.nbytes}")
        return self.unpack_int(int.from_bytes(data, "little"))
