"""How MatVecUnit gets the slice of the input vector it issues in a cycle.

Two ways, chosen by ``in_beats``:

- **one beat per vector** (``in_beats = 1``): the unit keeps no copy; the
  source holds the vector until the unit takes it with its last slice, and
  :func:`select_slice` picks this cycle's ``simd`` elements out of it with an
  AND-OR over the slices and a one-hot select register.  On a LUT4 fabric
  that is about 11 LUTs per slice bit for 16 slices, the biggest part of a
  wide multi-bit first layer (TFC's 784 × 8-bit input: about 4,300 LUT4s);
  no placement of the bits avoids it, since every lane input must see each
  of the ``cols/simd`` slices in turn.
- **one beat per slice** (``in_beats = cols/simd``): :class:`SliceBuffer`
  writes beat ``b`` of a frame into word ``b`` of one of two banks of a
  RAM and reads slice ``sf`` as word ``sf``: a RAM read instead of a
  multiplexer per bit.  The two banks let the next vector arrive while the
  current one is processed, and a slice can be issued as soon as its beat
  is in, so the rate stays ``(rows/pe)·(cols/simd)`` cycles per vector.
"""

from amaranth.hdl import Cat, Mux, Signal, unsigned
from amaranth.lib.memory import Memory

from ._popcount import BRAM_MIN_BITS

__all__ = ["select_slice", "SliceBuffer", "slice_buffer_attrs"]


def select_slice(m, payload, issue, sfold, width):
    """The slice of ``payload`` (``sfold`` slices of ``width`` bits) that this
    cycle issues; a one-hot register rotates with every issued slice (``issue``)."""
    if sfold == 1:
        return payload
    hot = Signal(sfold, init=1, name="slice_hot")
    with m.If(issue):
        m.d.sync += hot.eq(hot.rotate_left(1))
    slices = [payload[k * width:(k + 1) * width] & hot[k].replicate(width)
              for k in range(sfold)]
    while len(slices) > 1:
        slices = [slices[i] | slices[i + 1] if i + 1 < len(slices) else slices[i]
                  for i in range(0, len(slices), 2)]
    return slices[0]


def slice_buffer_attrs(sfold, width):
    """Memory attributes of the two banks of ``sfold`` words of ``width`` bits: block
    RAM from :data:`BRAM_MIN_BITS` bits on, where distributed RAM would take
    about a LUT per 16 bits plus its write decoding and a bank mux per bit."""
    words = 2 << max(sfold - 1, 0).bit_length()
    return {"ram_style": "block"} if words * width >= BRAM_MIN_BITS else {}


class SliceBuffer:
    """Two banks of ``sfold`` slices, written one beat per cycle from ``sink`` and read
    one slice per issued cycle.

    ``have`` (to issue slice ``sf`` now) is high when the bank being read is
    complete, or when it is the bank being written and beat ``sf`` is in (the
    first row group of a vector can start before its last beat arrives).
    ``data`` is the slice read in the cycle ``adv`` was high with ``sf``
    issued; it shows one cycle later (synchronous read), like the weight
    table's.  ``sink.ready`` is a register: the bank being written is free.
    """

    def __init__(self, m, sink, adv, sf, sfold, width):
        depth_bits = max(sfold - 1, 0).bit_length()
        mem = Memory(shape=unsigned(width), depth=2 << depth_bits, init=[],
                     attrs=slice_buffer_attrs(sfold, width))
        m.submodules.slice_buffer = mem
        write, read = mem.write_port(), mem.read_port()

        wbank, rbank = Signal(name="in_wbank"), Signal(name="in_rbank")
        wbeat = Signal(range(sfold), name="in_wbeat")
        full = [Signal(name=f"in_full{b}") for b in range(2)]
        wfull = Mux(wbank, full[1], full[0])
        m.d.comb += sink.ready.eq(~wfull)
        take = sink.valid & ~wfull
        last_beat = wbeat == sfold - 1
        m.d.comb += [write.addr.eq(Cat(wbeat[:depth_bits], wbank)), write.data.eq(sink.payload),
                     write.en.eq(take)]
        with m.If(take):
            m.d.sync += wbeat.eq(Mux(last_beat, 0, wbeat + 1))
            with m.If(last_beat):
                m.d.sync += wbank.eq(~wbank)

        rfull = Mux(rbank, full[1], full[0])
        self.have = rfull | ((rbank == wbank) & (sf < wbeat))
        m.d.comb += [read.addr.eq(Cat(sf[:depth_bits], rbank)), read.en.eq(adv)]
        self.data = read.data
        self._m, self._full, self._take, self._last_beat = m, full, take, last_beat
        self._wbank, self._rbank = wbank, rbank

    def release(self, done):
        """``done``: the unit issues the last slice of the vector now; its bank is free
        from the next cycle on and reading moves to the other bank.  (The two
        banks' flags are set and cleared apart: a bank is written only when it
        is not full, and released only when it is.)"""
        m = self._m
        for b, flag in enumerate(self._full):
            filled = self._take & self._last_beat & (self._wbank == b)
            freed = done & (self._rbank == b)
            with m.If(filled):
                m.d.sync += flag.eq(1)
            with m.Elif(freed):
                m.d.sync += flag.eq(0)
        with m.If(done):
            m.d.sync += self._rbank.eq(~self._rbank)
