"""Sliding windows over a pixel stream (convolution, pooling) and over a sample stream.

Both units keep a delay line of past beats and read the window from fixed
positions of it (taps). Long stretches between taps live in
:class:`~amaranth.lib.memory.Memory` rings (block RAM), short ones in
flip-flops; :func:`plan_delay` decides which, :func:`build_delay` builds it.
"""

from collections import Counter
from dataclasses import dataclass

from amaranth.hdl import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..errors import HdlError
from ._checked import CheckedComponent
from ._estimate import ICE40, _bits, _result
from ._gather import SkidBuffer, counter_cost, skid_cost
from ._params import check_bool, check_int, format_name, int_range

__all__ = ["SlidingWindow", "TemporalWindow", "estimate_sliding_window",
           "estimate_temporal_window"]

#: Cost of one RAM bit built from flip-flops in Yosys' memory_libmap (its
#: ``-logic-cost-ram`` default); a block costs ``CostModel.bram_cost``.
RAM_LOGIC_COST_PER_BIT = 1.0

#: LUT4s per bit of the sliding window's position and schedule counters: an
#: incrementer, a load/wrap mux and the copy into the tail schedule (fitted to
#: Yosys ``synth_ice40`` on 8×8 and 32×32 frames, 2×2 and 3×3 kernels: ±20 %).
LUT_PER_CONTROL_BIT = 3


def bram_blocks(model, words, width):
    """iCE40 4-kbit blocks of a ``words`` × ``width`` RAM (best aspect ratio)."""
    return min(-(-width // w) * -(-words // d) for d, w in model.bram_shapes)


def _in_bram(words, width):
    """Whether Yosys would put a ``words`` × ``width`` RAM into block RAM on iCE40."""
    return (words > 1 and bram_blocks(ICE40, words, width) * ICE40.bram_cost
            < words * width * RAM_LOGIC_COST_PER_BIT)


@dataclass(frozen=True)
class DelayPlan:
    """Where a delay line of ``width``-bit beats keeps its values.

    After each shift, offset ``o`` holds the beat shifted in ``o`` shifts
    before the newest (offset 0). ``offsets`` are the tapped offsets
    (ascending), each a register. ``gaps`` are the untapped runs between them
    as ``(after, depth)``: ``depth`` positions following offset ``after``
    (``-1``: the input). Gaps of a depth in ``memories`` share one Memory ring
    of ``depth + 1`` words (a word holds all of them, see :func:`build_delay`);
    other gaps are flip-flops.
    """
    offsets: tuple
    gaps: tuple
    memories: tuple
    width: int

    def memory_gaps(self, depth):
        return [after for after, d in self.gaps if d == depth]

    def after_memory(self, offset):
        """Whether the value at ``offset`` passed through a memory (which reset does not clear)."""
        return any(after < offset for after, d in self.gaps if d in self.memories)

    @property
    def register_bits(self):
        """Flip-flops: tap registers and flip-flop gaps (a memory's read register is in the RAM)."""
        in_memory = sum(d in self.memories for _, d in self.gaps)
        in_gaps = sum(d for _, d in self.gaps if d not in self.memories)
        return (len(self.offsets) - in_memory + in_gaps) * self.width

    def blocks(self, model):
        return sum(bram_blocks(model, d + 1, len(self.memory_gaps(d)) * self.width)
                   for d in self.memories)

    def cost(self, model):
        """(LUT, FF) around the storage: the flip-flops, and per ring two pointers
        (carry-chain incrementers) and the bypass Yosys adds (a register and a 2:1 mux
        per bit, an address compare), see :func:`build_delay`."""
        lut, ff = 0, self.register_bits
        for depth in self.memories:
            bits = _bits(depth + 1)
            width = len(self.memory_gaps(depth)) * self.width
            lut += 2 * bits * model.lut_per_adder_bit + width * model.lut_per_mux_bit + bits
            ff += 2 * bits + width + 1
        return lut, ff


def plan_delay(offsets, width):
    """The :class:`DelayPlan` of a delay line tapped at ``offsets`` (each ≥ 0).

    A run of untapped positions goes to memory when Yosys would map the shared
    ring to block RAM on iCE40 (cheaper than flip-flops there); a shorter run
    is a shift register, which is what a RAM in flip-flops would cost anyway,
    without its read multiplexer.
    """
    offsets = tuple(sorted(set(offsets)))
    gaps, previous = [], -1
    for offset in offsets:
        if offset - previous > 1:
            gaps.append((previous, offset - previous - 1))
        previous = offset
    counts = Counter(depth for _, depth in gaps)
    memories = tuple(sorted(d for d, n in counts.items() if _in_bram(d + 1, n * width)))
    return DelayPlan(offsets, tuple(gaps), memories, width)


def build_delay(m, plan, data, shift, name):
    """Build ``plan`` fed by ``data``, advancing when ``shift``; ``{offset: value}`` of its taps."""
    width = plan.width
    gap_end = {after: after + depth + 1 for after, depth in plan.gaps}
    values = {-1: data}
    writes = []
    for depth in plan.memories:
        afters = plan.memory_gaps(depth)
        # One word more than the gap: each shift reads the word the next shift
        # overwrites (written `depth` shifts ago), never the one being written.
        # Yosys cannot see that and wraps the iCE40 RAM (whose read during a
        # write is undefined) in soft logic; for a transparent port it is a
        # write-data register and a bypass mux, for an old-data one twice that.
        mem = Memory(shape=unsigned(len(afters) * width), depth=depth + 1, init=[])
        m.submodules[f"{name}_ring{depth}"] = mem
        write = mem.write_port()
        read = mem.read_port(transparent_for=(write,))
        for port, init in ((write, 0), (read, 1)):
            pointer = Signal(range(depth + 1), init=init, name=f"{name}_pointer{depth}")
            with m.If(shift):
                m.d.sync += pointer.eq(Mux(pointer == depth, 0, pointer + 1))
            m.d.comb += [port.addr.eq(pointer), port.en.eq(shift)]
        for i, after in enumerate(afters):
            values[gap_end[after]] = read.data[i * width:(i + 1) * width]
        writes.append((write, afters))

    previous = -1
    for offset in plan.offsets:
        if offset not in values:
            source = values[previous]
            for position in range(previous + 1, offset + 1):
                register = Signal(width, name=f"{name}_at{position}")
                with m.If(shift):
                    m.d.sync += register.eq(source)
                source = register
            values[offset] = source
        previous = offset
    for write, afters in writes:
        m.d.comb += write.data.eq(Cat(*(values[after] for after in afters)))
    return values


def _int_tuple(owner, name, value, names, *, minimum):
    """A tuple of ``len(names)`` integers ≥ ``minimum``, e.g. ``kernel=(kh, kw)``."""
    what = "positive" if minimum == 1 else "non-negative"
    shape = f"({', '.join(names)})"
    if (isinstance(value, (str, bytes)) or not hasattr(value, "__len__")
            or len(value) != len(names)):
        raise HdlError(f"{owner}: {name} must be a tuple {shape} of {what} integers, "
                       f"not {value!r}")
    return tuple(check_int(owner, f"{name} {n}", v, minimum=minimum)
                 for n, v in zip(names, value))


def _valid_range(count, step, shift, size):
    """The outputs ``o`` in ``range(count)`` whose input index ``o·step + shift`` lies in
    ``[0, size)``, as ``(first, last)``; ``None`` if there are none."""
    inside = [o for o in range(count) if 0 <= o * step + shift < size]
    return (inside[0], inside[-1]) if inside else None


@dataclass(frozen=True)
class WindowGeometry:
    """The schedule of a :class:`SlidingWindow` (see its docstring for the terms).

    ``row_width`` is the virtual row (input width plus idle steps); window
    ``(oy, ox)`` is emitted at step ``first_emit + oy·sh·row_width + ox·sw``
    of its frame: ``col_jump = sw`` steps after its left neighbour, or
    ``row_jump`` steps after the last window of the row before.
    ``last_step`` is the step of the frame's last pixel; ``tail`` the steps
    after it until the frame's last window. The next frame may start once
    ``tail`` steps remaining are at most ``start_limit`` (``gap`` idle steps).
    ``offsets[ky][kx]`` is the delay-line offset of tap ``(ky, kx)``;
    ``rows[ky]`` (``cols[kx]``) is the range of ``oy`` (``ox``) for which it is
    inside the image, ``None`` if never.
    """
    out_height: int
    out_width: int
    row_width: int
    first_emit: int
    col_jump: int
    row_jump: int
    last_step: int
    tail: int
    start_limit: int
    gap: int
    offsets: tuple
    rows: tuple
    cols: tuple

    @property
    def cycles_per_frame(self):
        return self.last_step + 1 + self.gap


def _geometry(height, width, kernel, stride, padding, dilation):
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    top, bottom, left, right = padding
    ho = (height + top + bottom - dh * (kh - 1) - 1) // sh + 1
    wo = (width + left + right - dw * (kw - 1) - 1) // sw + 1
    # One window per step: the last window of a row must come before the
    # first of the next, which needs sh·row_width > (wo − 1)·sw.
    row_width = max(width, (wo - 1) * sw // sh + 1)
    first = ((kh - 1) * dh - top) * row_width + (kw - 1) * dw - left
    last = first + (ho - 1) * sh * row_width + (wo - 1) * sw
    last_step = (height - 1) * row_width + width - 1
    tail = max(0, last - last_step)
    start_limit = min(first, last_step)
    return WindowGeometry(
        out_height=ho, out_width=wo, row_width=row_width, first_emit=first, col_jump=sw,
        row_jump=sh * row_width - (wo - 1) * sw, last_step=last_step, tail=tail,
        start_limit=start_limit, gap=max(0, tail - start_limit),
        offsets=tuple(tuple((kh - 1 - ky) * dh * row_width + (kw - 1 - kx) * dw
                            for kx in range(kw)) for ky in range(kh)),
        rows=tuple(_valid_range(ho, sh, ky * dh - top, height) for ky in range(kh)),
        cols=tuple(_valid_range(wo, sw, kx * dw - left, width) for kx in range(kw)))


class _Schedule:
    """Which window a frame emits next: ``wait`` steps ahead, at ``(oy, ox)``."""

    def __init__(self, name, geometry, *, active):
        g = geometry
        self.geometry = g
        self.active = Signal(name=f"{name}_active", init=active)
        self.wait = Signal(range(_wait_states(g)), name=f"{name}_wait", init=g.first_emit)
        self.oy = Signal(range(g.out_height), name=f"{name}_oy")
        self.ox = Signal(range(g.out_width), name=f"{name}_ox")

    @property
    def due(self):
        return self.active & (self.wait == 0)

    def fields(self):
        return [self.active, self.wait, self.oy, self.ox]

    def advanced(self, m, name, emit):
        """A schedule of comb signals: this one after a step that emits when ``emit``."""
        g = self.geometry
        nxt = _Schedule(name, g, active=0)
        m.d.comb += [a.eq(b) for a, b in zip(nxt.fields(), self.fields())]
        m.d.comb += nxt.wait.eq(self.wait - 1)
        with m.If(emit):
            with m.If(self.ox == g.out_width - 1):
                m.d.comb += [nxt.ox.eq(0), nxt.wait.eq(g.row_jump - 1)]
                with m.If(self.oy == g.out_height - 1):
                    m.d.comb += nxt.active.eq(0)
                with m.Else():
                    m.d.comb += nxt.oy.eq(self.oy + 1)
            with m.Else():
                m.d.comb += [nxt.ox.eq(self.ox + 1), nxt.wait.eq(g.col_jump - 1)]
        return nxt

    def load(self, other):
        return [a.eq(b) for a, b in zip(self.fields(), other.fields())]

    def restart(self):
        return [self.active.eq(1), self.wait.eq(self.geometry.first_emit),
                self.oy.eq(0), self.ox.eq(0)]


def _wait_states(g):
    return max(g.first_emit, g.row_jump, g.col_jump) + 1


def _masked_taps(g):
    """The taps ``(ky, kx)`` that some window takes from the padding."""
    return [(ky, kx) for ky, rows in enumerate(g.rows) for kx, cols in enumerate(g.cols)
            if _maskable(rows, g.out_height) or _maskable(cols, g.out_width)]


def _inside(index, valid):
    """``index`` lies in the inclusive range ``valid`` (``None``: never)."""
    return Const(0) if valid is None else (index >= valid[0]) & (index <= valid[1])


def _maskable(valid, count):
    return valid != (0, count - 1)


class SlidingWindow(CheckedComponent):
    """The windows of a convolution or pooling over a pixel stream, one window per beat.

    In: ``beats_in = height·width`` beats per frame, one pixel each (``channels``
    elements of ``elem_width`` bits, channel ``c`` at element ``c``), row-major.
    Out: ``beats_out = out_height·out_width`` beats per frame, row-major; a
    window holds ``kh·kw·channels`` elements, element ``(ky·kw + kx)·channels +
    c`` being channel ``c`` of input pixel ``(oy·sh − top + ky·dh, ox·sw − left
    + kx·dw)``, or ``pad_code`` where that lies outside the image.
    ``out_height = (height + top + bottom − dh·(kh − 1) − 1)//sh + 1``, likewise
    ``out_width``. Frames follow each other without limit.

    Structure: every *step* shifts one beat into a delay line tapped at the
    window positions, so that after the step that shifts in the pixel under the
    window's bottom-right tap the whole window sits in the taps (rows in
    between are Memory rings, see :func:`plan_delay`). Padding is never
    shifted in: a tap outside the image is replaced by ``pad_code`` when the
    window is copied to the output register. Most steps take an input pixel;
    steps at the end of a row (when ``row_width > width``, only for padding
    wider than the kernel's reach) and after a frame's last pixel (for windows
    that reach into the bottom or right padding) are idle. The windows of a
    frame's bottom rows are emitted while the next frame's first pixels come
    in; only when they cannot be (``gap`` of :class:`WindowGeometry`) does the
    next frame wait.

    With both sides always ready a frame takes
    ``cycles_per_frame = (height − 1)·row_width + width + gap`` cycles: exactly
    ``height·width`` for unpadded and "same" padded convolutions, and pooling
    without padding. ``row_width > width`` only when ``left + right`` exceeds
    the kernel's reach (a row has more windows than pixels), and ``gap ≤
    bottom·row_width + right`` (one row plus one for 2×2 pooling with stride 2
    and padding 1).
    ``latency = first_emit + 3``: cycles from the transfer of a frame's first
    pixel to its first window on ``source`` (input buffer, steps to the first
    window, output register), when the unit is idle and ``source`` ready.

    ``sink.ready`` and ``source.valid`` are registers (a :class:`SkidBuffer` at
    the input). Padding may be at most the kernel's reach on each side
    (``top ≤ dh·(kh − 1)`` …); more would give windows of padding only.
    """

    @classmethod
    def check(cls, *, height, width, channels, elem_width, signed, kernel, stride=(1, 1),
              padding=(0, 0, 0, 0), dilation=(1, 1), pad_code=0) -> dict:
        """The checked parameters (HdlError naming the parameter when one is unusable)."""
        owner = "SlidingWindow"
        height = check_int(owner, "height", height, minimum=1)
        width = check_int(owner, "width", width, minimum=1)
        channels = check_int(owner, "channels", channels, minimum=1)
        elem_width = check_int(owner, "elem_width", elem_width, minimum=1)
        signed = check_bool(owner, "signed", signed)
        kernel = _int_tuple(owner, "kernel", kernel, ("kh", "kw"), minimum=1)
        stride = _int_tuple(owner, "stride", stride, ("sh", "sw"), minimum=1)
        dilation = _int_tuple(owner, "dilation", dilation, ("dh", "dw"), minimum=1)
        padding = _int_tuple(owner, "padding", padding, ("top", "bottom", "left", "right"),
                             minimum=0)
        pad_code = check_int(owner, "pad_code", pad_code)
        lo, hi = int_range(elem_width, signed)
        if not lo <= pad_code <= hi:
            raise HdlError(f"{owner}: pad_code={pad_code} does not fit the elements' "
                           f"{format_name(elem_width, signed)}; pass a code in {lo}..{hi}")
        reach_h = (kernel[0] - 1) * dilation[0]
        reach_w = (kernel[1] - 1) * dilation[1]
        for side, pad, reach, what in zip(("top", "bottom", "left", "right"), padding,
                                          (reach_h, reach_h, reach_w, reach_w),
                                          ("(kh - 1)·dh", "(kh - 1)·dh", "(kw - 1)·dw",
                                           "(kw - 1)·dw")):
            if pad > reach:
                raise HdlError(f"{owner}: padding {side}={pad} exceeds the kernel's reach "
                               f"{what} = {reach}, so some windows would hold padding only; "
                               f"pad at most {reach} on that side")
        for name, size, pads, reach in (("height", height, padding[0] + padding[1], reach_h),
                                        ("width", width, padding[2] + padding[3], reach_w)):
            if size + pads <= reach:
                raise HdlError(f"{owner}: the kernel spans {reach + 1} but the padded {name} "
                               f"is only {size + pads}; use a smaller kernel or dilation, "
                               f"or more padding")
        geometry = _geometry(height, width, kernel, stride, padding, dilation)
        delay = plan_delay([o for row in geometry.offsets for o in row],
                           channels * elem_width)
        return dict(height=height, width=width, channels=channels, elem_width=elem_width,
                    signed=signed, kernel=kernel, stride=stride, padding=padding,
                    dilation=dilation, pad_code=pad_code, geometry=geometry, delay=delay,
                    out_height=geometry.out_height, out_width=geometry.out_width,
                    beats_in=height * width,
                    beats_out=geometry.out_height * geometry.out_width)

    def __init__(self, **_):
        self.cycles_per_frame = self.geometry.cycles_per_frame
        self.latency = self.geometry.first_emit + 3
        kh, kw = self.kernel
        pixel = self.channels * self.elem_width
        super().__init__({"sink": In(stream.Signature(unsigned(pixel))),
                          "source": Out(stream.Signature(unsigned(kh * kw * pixel)))})

    def elaborate(self, platform):
        m = Module()
        g = self.geometry
        kh, kw = self.kernel
        height, width = self.height, self.width
        m.submodules.input = buffer = SkidBuffer(self.channels * self.elem_width)
        wiring.connect(m, wiring.flipped(self.sink), buffer.sink)

        # The step of the current frame ("head"): virtual row and column.
        hy = Signal(range(height))
        hx = Signal(range(g.row_width))
        at_start = (hy == 0) & (hx == 0)
        at_end = (hy == height - 1) & (hx == width - 1)
        is_pixel = hx < width
        # The previous frame's windows still to come after its last pixel ("tail").
        head = _Schedule("head", g, active=1)
        tail = _Schedule("tail", g, active=0)
        if g.gap:
            tail_left = Signal(range(g.tail + 1))
            start_ok = tail_left <= g.start_limit
        else:
            start_ok = 1

        emit_q = Signal()
        out_free = ~self.source.valid | self.source.ready
        can_step = ~emit_q | out_free
        head_go = can_step & Mux(is_pixel, buffer.source.valid & (~at_start | start_ok), 1)
        tail_only = can_step & at_start & tail.active & ~head_go
        step = head_go | tail_only
        m.d.comb += buffer.source.ready.eq(head_go & is_pixel)
        taps = build_delay(m, self.delay, buffer.source.payload, step, "line")

        head_emit = head_go & head.due
        tail_emit = tail.due
        head_next = head.advanced(m, "head_next", head_emit)
        tail_next = tail.advanced(m, "tail_next", tail_emit)
        with m.If(step):
            m.d.sync += tail.load(tail_next)
            if g.gap:
                with m.If(tail_left != 0):
                    m.d.sync += tail_left.eq(tail_left - 1)
        with m.If(head_go):
            with m.If(at_end):
                m.d.sync += [*head.restart(), *tail.load(head_next), hy.eq(0), hx.eq(0)]
                if g.gap:
                    m.d.sync += tail_left.eq(g.tail)
            with m.Else():
                m.d.sync += head.load(head_next)
                with m.If(hx == g.row_width - 1):
                    m.d.sync += [hx.eq(0), hy.eq(hy + 1)]
                with m.Else():
                    m.d.sync += hx.eq(hx + 1)

        # Which taps of the emitted window are inside the image, registered with it.
        oy = Mux(tail_emit, tail.oy, head.oy)
        ox = Mux(tail_emit, tail.ox, head.ox)
        row_ok = {ky: Signal(name=f"row_ok{ky}") for ky, rows in enumerate(g.rows)
                  if _maskable(rows, g.out_height)}
        col_ok = {kx: Signal(name=f"col_ok{kx}") for kx, cols in enumerate(g.cols)
                  if _maskable(cols, g.out_width)}
        with m.If(step):
            m.d.sync += emit_q.eq(head_emit | tail_emit)
            m.d.sync += [ok.eq(_inside(oy, g.rows[ky])) for ky, ok in row_ok.items()]
            m.d.sync += [ok.eq(_inside(ox, g.cols[kx])) for kx, ok in col_ok.items()]
        with m.Elif(out_free):
            m.d.sync += emit_q.eq(0)

        pad = Const(sum((self.pad_code % (1 << self.elem_width)) << (c * self.elem_width)
                        for c in range(self.channels)), self.channels * self.elem_width)
        window = []
        for ky in range(kh):
            for kx in range(kw):
                tap = taps[g.offsets[ky][kx]]
                inside = [ok[k] for ok, k in ((row_ok, ky), (col_ok, kx)) if k in ok]
                if inside:
                    tap = Mux(Cat(*inside).all(), tap, pad)
                window.append(tap)
        with m.If(out_free):
            m.d.sync += self.source.valid.eq(emit_q)
            with m.If(emit_q):
                m.d.sync += self.source.payload.eq(Cat(*window))
        return m


class TemporalWindow(CheckedComponent):
    """A causal window over an endless stream of samples (no frames).

    Each input beat (sample ``t``: ``channels`` elements) gives exactly one
    output beat of ``taps·channels`` elements: tap ``j`` (0 = oldest) holds
    ``x[t − (taps − 1 − j)·dilation]``, at elements ``j·channels + c``; samples
    before the first (``x[t < 0]``) are 0, also after a reset. The history of
    ``(taps − 1)·dilation`` samples is a delay line (:func:`plan_delay`: a
    Memory ring for long gaps, flip-flops otherwise); when a Memory is used, a
    count of the samples since reset zeroes the taps that reach before them.

    One sample per cycle: ``cycles_per_frame = 1``; ``latency = 2`` (input
    buffer, output register). ``sink.ready`` and ``source.valid`` are
    registers.
    """

    @classmethod
    def check(cls, *, channels, elem_width, signed, taps, dilation=1) -> dict:
        """The checked parameters (HdlError naming the parameter when one is unusable)."""
        owner = "TemporalWindow"
        channels = check_int(owner, "channels", channels, minimum=1)
        elem_width = check_int(owner, "elem_width", elem_width, minimum=1)
        signed = check_bool(owner, "signed", signed)
        taps = check_int(owner, "taps", taps, minimum=1)
        dilation = check_int(owner, "dilation", dilation, minimum=1)
        # Taps are read before the shift that takes sample t, hence one offset less.
        delay = plan_delay([(taps - 1 - j) * dilation - 1 for j in range(taps - 1)],
                           channels * elem_width)
        return dict(channels=channels, elem_width=elem_width, signed=signed, taps=taps,
                    dilation=dilation, delay=delay)

    def __init__(self, **_):
        self.cycles_per_frame = 1
        self.latency = 2
        sample = self.channels * self.elem_width
        super().__init__({"sink": In(stream.Signature(unsigned(sample))),
                          "source": Out(stream.Signature(unsigned(self.taps * sample)))})

    def elaborate(self, platform):
        m = Module()
        taps, dilation = self.taps, self.dilation
        m.submodules.input = buffer = SkidBuffer(self.channels * self.elem_width)
        wiring.connect(m, wiring.flipped(self.sink), buffer.sink)
        out_free = ~self.source.valid | self.source.ready
        take = buffer.source.valid & out_free
        m.d.comb += buffer.source.ready.eq(out_free)
        values = build_delay(m, self.delay, buffer.source.payload, take, "history")

        history = (taps - 1) * dilation
        if self.delay.memories:
            seen = Signal(range(history + 1))
            with m.If(take & (seen != history)):
                m.d.sync += seen.eq(seen + 1)
        window = []
        for j in range(taps):
            back = (taps - 1 - j) * dilation
            value = values[back - 1]
            if back and self.delay.after_memory(back - 1):
                value = Mux(seen >= back, value, 0)
            window.append(value)
        with m.If(out_free):
            m.d.sync += [self.source.valid.eq(buffer.source.valid),
                         self.source.payload.eq(Cat(*window))]
        return m


def _delay_parts(model, delay, input_width, output_bits):
    """Parts shared by both window units: input buffer, delay line, output register."""
    return {"input buffer": skid_cost(model, input_width),
            "delay line": delay.cost(model),
            "output register": (0, output_bits)}


def estimate_sliding_window(*, model=ICE40, **params):
    """Estimate LUT4s, flip-flops and block RAMs of a :class:`SlidingWindow`.

    Takes the unit's parameters. Parts: the input :class:`SkidBuffer`; the
    delay line (tap registers and short gaps in flip-flops; the rows between
    kernel rows in block RAM when :func:`plan_delay` puts them there, priced
    with ``model.bram_shapes``, plus their pointers and bypass, see
    :meth:`DelayPlan.cost`); the output register; the padding (a 2:1 mux per
    bit of each tap that some window takes from the padding); and the control:
    ``model.control_lut`` for the handshakes plus ``LUT_PER_CONTROL_BIT`` per
    bit of the step position, the two emission schedules and the tail count,
    whose flip-flops are counted exactly with the mask and valid flags.
    """
    p = SlidingWindow.check(**params)
    g, delay = p["geometry"], p["delay"]
    kh, kw = p["kernel"]
    pixel = p["channels"] * p["elem_width"]
    parts = _delay_parts(model, delay, pixel, kh * kw * pixel)
    parts["padding"] = (len(_masked_taps(g)) * pixel * model.lut_per_mux_bit, 0)
    states = [p["height"], g.row_width, g.tail + 1 if g.gap else 1,
              *2 * [2, g.out_height, g.out_width, _wait_states(g)]]
    bits = sum(_bits(n) for n in states)
    masks = sum(_maskable(r, g.out_height) for r in g.rows) + sum(
        _maskable(c, g.out_width) for c in g.cols)
    parts["control"] = (model.control_lut + LUT_PER_CONTROL_BIT * bits, bits + masks + 2)
    return _result(parts, bram=delay.blocks(model), weights_in_bram=False)


def estimate_temporal_window(*, model=ICE40, **params):
    """Estimate LUT4s, flip-flops and block RAMs of a :class:`TemporalWindow`.

    Takes the unit's parameters. Parts: the input :class:`SkidBuffer`, the
    delay line (as in :func:`estimate_sliding_window`), the output register,
    the handshakes (``model.control_lut``) and, with a ring, the sample count
    and a zeroing gate per bit of each tap read through it ("warm-up").
    """
    p = TemporalWindow.check(**params)
    delay, taps, dilation = p["delay"], p["taps"], p["dilation"]
    sample = p["channels"] * p["elem_width"]
    parts = _delay_parts(model, delay, sample, taps * sample)
    gated = sum(delay.after_memory((taps - 1 - j) * dilation - 1) for j in range(taps - 1))
    count_lut, count_ff = counter_cost(model, (taps - 1) * dilation + 1)
    parts["warm-up"] = ((gated * sample + count_lut, count_ff) if delay.memories else (0, 0))
    parts["control"] = (model.control_lut, 1)
    return _result(parts, bram=delay.blocks(model), weights_in_bram=False)
