"""Residual blocks (``x + f(x)``): a forked stream, a FIFO on the skip path, an elementwise adder.

A stream carries one pixel (``elems`` channels) per beat; the branch ``f`` and
the skip path see the same beats, and the adder pairs their results beat by
beat. :class:`StreamFifo` is the skip path's buffer, :class:`Residual` the
whole block; :func:`estimate_residual` and :func:`estimate_fifo` price what
they add to the stages inside.
"""

from fractions import Fraction

from amaranth.hdl import Cat, Module, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from ..errors import HdlError
from ._chain import Chain, _payload_shape
from ._checked import CheckedComponent
from ._estimate import ICE40, _bits, _result
from ._gather import SkidBuffer, counter_cost, skid_cost
from ._params import check_bool, check_int, format_name, int_range, signed_bits
from ._window import _in_bram, bram_blocks

__all__ = ["StreamFifo", "Residual", "estimate_fifo", "estimate_residual"]

#: The smallest FIFO that passes one beat per cycle: SyncFIFOBuffered's ring of
#: ``depth − 1`` words signals "full" one cycle late, so a ring of one word
#: alternates between taking and giving.
FULL_RATE_DEPTH = 3
#: Cycles from a beat offered to an empty FIFO of more than one beat to that beat on its source.
FIFO_LATENCY = 2


def _check_fifo(owner, elems, width, depth):
    return (check_int(owner, "elems", elems, minimum=1),
            check_int(owner, "width", width, minimum=1),
            check_int(owner, "depth", depth, minimum=1))


class StreamFifo(CheckedComponent):
    """A first-in first-out buffer of ``depth`` beats of ``elems`` elements of ``width`` bits.

    Elements are bits only (no sign, no arithmetic): beats come out as they
    went in, in order. Built on :class:`amaranth.lib.fifo.SyncFIFOBuffered`: a
    ring of ``depth − 1`` words in a :class:`~amaranth.lib.memory.Memory` with
    a synchronous read port (block RAM when Yosys finds that cheaper, see
    :func:`estimate_fifo`) whose read register is ``source.payload``.
    ``sink.ready`` ("ring not full"), ``source.valid`` and ``source.payload``
    depend on registers only.

    ``latency``: a beat offered to an empty FIFO is on ``source`` 2 cycles
    later (1 when ``depth == 1``). ``cycles_per_frame`` (cycles per beat) is
    1 from ``depth ≥ 3`` on; a FIFO of 1 or 2 beats passes one beat every other
    cycle.
    """

    @classmethod
    def check(cls, *, elems, width, depth) -> dict:
        """The checked parameters (HdlError naming the parameter when one is unusable)."""
        elems, width, depth = _check_fifo("StreamFifo", elems, width, depth)
        return dict(elems=elems, width=width, depth=depth)

    def __init__(self, **_):
        self.cycles_per_frame = 1 if self.depth >= FULL_RATE_DEPTH else 2
        self.latency = FIFO_LATENCY if self.depth > 1 else 1
        beat = unsigned(self.elems * self.width)
        super().__init__({"sink": In(stream.Signature(beat)),
                          "source": Out(stream.Signature(beat))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.fifo = fifo = SyncFIFOBuffered(width=self.elems * self.width,
                                                     depth=self.depth)
        m.d.comb += [fifo.w_data.eq(self.sink.payload), fifo.w_en.eq(self.sink.valid),
                     self.sink.ready.eq(fifo.w_rdy),
                     self.source.payload.eq(fifo.r_data), self.source.valid.eq(fifo.r_rdy),
                     fifo.r_en.eq(self.source.ready)]
        return m


def _check_adder(owner, *, elems, a_width, a_signed, b_width, b_signed, mult_a, mult_b,
                 out_width, out_signed) -> dict:
    """The adder's checked parameters (HdlError when the output format misses a sum)."""
    p = dict(elems=check_int(owner, "elems", elems, minimum=1),
             a_width=check_int(owner, "a_width", a_width, minimum=1),
             a_signed=check_bool(owner, "a_signed", a_signed),
             b_width=check_int(owner, "b_width", b_width, minimum=1),
             b_signed=check_bool(owner, "b_signed", b_signed),
             mult_a=check_int(owner, "mult_a", mult_a, minimum=1),
             mult_b=check_int(owner, "mult_b", mult_b, minimum=1),
             out_width=check_int(owner, "out_width", out_width, minimum=1),
             out_signed=check_bool(owner, "out_signed", out_signed))
    (a_lo, a_hi), (b_lo, b_hi) = (int_range(p["a_width"], p["a_signed"]),
                                  int_range(p["b_width"], p["b_signed"]))
    lo = a_lo * p["mult_a"] + b_lo * p["mult_b"]
    hi = a_hi * p["mult_a"] + b_hi * p["mult_b"]
    out_lo, out_hi = int_range(p["out_width"], p["out_signed"])
    if not out_lo <= lo <= hi <= out_hi:
        if p["out_signed"] or lo < 0:
            fix = f"use out_signed=True and out_width >= {signed_bits(lo, hi)}"
        else:
            fix = f"use out_width >= {hi.bit_length()}"
        raise HdlError(f"{owner}: sums a·{p['mult_a']} + b·{p['mult_b']} of "
                       f"a {format_name(p['a_width'], p['a_signed'])} and "
                       f"b {format_name(p['b_width'], p['b_signed'])} reach {lo}..{hi}, which "
                       f"does not fit {format_name(p['out_width'], p['out_signed'])}; {fix}")
    return p


def _check_join(owner, *, join, elems, b_elems, b_first, **formats) -> dict:
    """The checked parameters of an add (``b_elems`` None or ``elems``) or a concatenation."""
    if join == "add":
        if b_elems not in (None, elems):
            raise HdlError(f"{owner}: an add pairs elements one to one; b_elems must equal elems "
                           f"({elems}), not {b_elems}")
        p = _check_adder(owner, elems=elems, **formats)
        p["b_elems"], p["b_first"], p["join"] = p["elems"], False, join
        return p
    if join != "concat":
        raise HdlError(f"{owner}: join must be 'add' or 'concat', not {join!r}")
    if (formats.pop("mult_a"), formats.pop("mult_b")) != (1, 1):
        raise HdlError(f"{owner}: a concatenation has no multipliers; leave mult_a and mult_b at 1")
    p = _check_concat(owner, elems=elems, b_elems=elems if b_elems is None else b_elems, **formats)
    p["b_first"], p["join"] = check_bool(owner, "b_first", b_first), join
    return p


def _check_concat(owner, *, elems, b_elems, a_width, a_signed, b_width, b_signed, out_width,
                  out_signed) -> dict:
    """The concatenation's checked parameters (HdlError when the output format misses an operand)."""
    p = dict(elems=check_int(owner, "elems", elems, minimum=1),
             b_elems=check_int(owner, "b_elems", b_elems, minimum=1),
             a_width=check_int(owner, "a_width", a_width, minimum=1),
             a_signed=check_bool(owner, "a_signed", a_signed),
             b_width=check_int(owner, "b_width", b_width, minimum=1),
             b_signed=check_bool(owner, "b_signed", b_signed),
             out_width=check_int(owner, "out_width", out_width, minimum=1),
             out_signed=check_bool(owner, "out_signed", out_signed), mult_a=1, mult_b=1)
    out_lo, out_hi = int_range(p["out_width"], p["out_signed"])
    for side in "ab":
        lo, hi = int_range(p[f"{side}_width"], p[f"{side}_signed"])
        if not out_lo <= lo <= hi <= out_hi:
            raise HdlError(f"{owner}: {side} elements ({format_name(p[f'{side}_width'], p[f'{side}_signed'])}) "
                           f"do not fit the output {format_name(p['out_width'], p['out_signed'])}; "
                           f"use out_width >= {signed_bits(lo, hi) if p['out_signed'] else hi.bit_length()}")
    return p


class _Join(wiring.Component):
    """Two streams into one, a pair of beats per cycle, ``out = combine(a, b)``.

    A pair is taken only when both ``sink_a`` and ``sink_b`` offer a beat; the
    result goes through a :class:`SkidBuffer`, so both sinks' ``ready`` and the
    source depend on registers and on the other sink's ``valid`` only, never
    on ``source.ready``. ``latency`` 1 once both beats are there.
    """

    def __init__(self, p, a_elems, b_elems, out_elems):
        self.p, self.out_elems = p, out_elems
        super().__init__({
            "sink_a": In(stream.Signature(unsigned(a_elems * p["a_width"]))),
            "sink_b": In(stream.Signature(unsigned(b_elems * p["b_width"]))),
            "source": Out(stream.Signature(unsigned(out_elems * p["out_width"]))),
        })

    def _element(self, side, i, mult=1):
        width, signed = self.p[f"{side}_width"], self.p[f"{side}_signed"]
        value = getattr(self, f"sink_{side}").payload[i * width:(i + 1) * width]
        return (value.as_signed() if signed else value) * mult

    def elaborate(self, platform):
        m = Module()
        ow = self.p["out_width"]
        m.submodules.output = out = SkidBuffer(self.out_elems * ow)
        # Every element fits out_width (checked): widened (by its own sign) or cut to out_width bits.
        elements = [Signal(ow, name=f"out_{i}") for i in range(self.out_elems)]
        m.d.comb += [e.eq(v) for e, v in zip(elements, self.combine())]
        m.d.comb += [out.sink.payload.eq(Cat(*elements)),
                     out.sink.valid.eq(self.sink_a.valid & self.sink_b.valid),
                     self.sink_a.ready.eq(out.sink.ready & self.sink_b.valid),
                     self.sink_b.ready.eq(out.sink.ready & self.sink_a.valid)]
        wiring.connect(m, out.source, wiring.flipped(self.source))
        return m


class _ElementwiseAdd(_Join):
    """``out[c] = a[c]·mult_a + b[c]·mult_b``."""

    def __init__(self, p):
        super().__init__(p, p["elems"], p["elems"], p["elems"])

    def combine(self):
        return [self._element("a", i, self.p["mult_a"]) + self._element("b", i, self.p["mult_b"])
                for i in range(self.p["elems"])]


class _Concatenate(_Join):
    """``out = a ++ b`` (or ``b ++ a`` when ``b_first``): the elements of both beats, widened."""

    def __init__(self, p):
        super().__init__(p, p["elems"], p["b_elems"], p["elems"] + p["b_elems"])

    def combine(self):
        a = [self._element("a", i) for i in range(self.p["elems"])]
        b = [self._element("b", i) for i in range(self.p["b_elems"])]
        return b + a if self.p["b_first"] else a + b


def _check_path(owner, name, stages, *, allow_empty):
    """The stages of one path as a tuple (HdlError in Chain's words, naming the path)."""
    if allow_empty and isinstance(stages, (list, tuple)) and not stages:
        return ()
    try:
        return Chain.check(stages)["stages"]
    except HdlError as error:
        raise HdlError(f"{owner}: {name}: {str(error).removeprefix('Chain: ')}") from None


def _payload_bits(stage, port):
    return _payload_shape(stage, port).width


def _beat_ratio(stages):
    """Output beats per input beat of a path: the product over stages stating
    ``beats_in``/``beats_out`` (a window with stride); others keep the count."""
    ratio = Fraction(1)
    for stage in stages:
        if hasattr(stage, "beats_in") and hasattr(stage, "beats_out"):
            ratio *= Fraction(stage.beats_out, stage.beats_in)
    return ratio


def _path_timing(stages):
    """(cycles_per_frame, latency) of a path's stages as a Chain states them; (1, 0) if empty."""
    if not stages:
        return 1, 0
    rates = [getattr(s, "cycles_per_frame", None) for s in stages]
    latencies = [getattr(s, "latency", None) for s in stages]
    return (None if None in rates else max(rates),
            None if None in latencies else sum(latencies))


class Residual(CheckedComponent):
    """A residual block: ``out[c] = f(x)[c]·mult_a + g(x)[c]·mult_b`` for every beat ``x``.

    ``branch`` (``f``, at least one stage) and ``skip`` (``g``, may be empty:
    the identity) are lists of stage components chained as by :class:`Chain`
    (each with an ``In`` stream ``sink`` and an ``Out`` stream ``source``).
    Structure::

        sink ─► fork ─┬─► branch stages ─────────────────────────► a ─┐
                      │                                               ├─► adder ─► source
                      └─► skip stages ─► StreamFifo(fifo_depth) ─► b ─┘

    The fork offers each input beat to both paths and accepts it once both
    took it (a flag per path remembers which one already did, so no beat is
    lost or doubled under any stall pattern); the adder takes a pair of beats
    only when both paths offer one. ``a`` is an element of the branch's output
    (``a_width`` bits, two's complement when ``a_signed``), ``b`` one of the
    skip path's (or of the input, when ``skip`` is empty); ``mult_a`` and
    ``mult_b`` are positive constants; ``out_width``/``out_signed`` must hold
    every sum (checked). Both paths must keep the number of beats (a stage
    with ``beats_in``/``beats_out``, like a strided window, must be matched
    on the other path).

    **Deadlock rule — the caller sizes the FIFO.** The fork stops while the
    FIFO is full, and the adder waits for the branch. If the branch emits its
    ``k``-th result only after it took in ``N(k)`` beats, then while it waits
    for beat ``N(k)`` the FIFO holds beats ``k .. N(k) − 1`` (the fork hands
    beat ``N(k)`` to the branch alone): the block runs when ``fifo_depth ≥
    max_k (N(k) − k)`` and, with an empty skip path, stops for good
    otherwise (skip stages hold a few beats more). For a 3×3 "same"
    convolution over ``W``-pixel rows (a :class:`SlidingWindow` with padding
    1 first) ``N(1) = W + 2`` (the first window needs pixel ``(1, 1)``), so
    ``fifo_depth ≥ W + 1``. To also keep the branch's rate, the FIFO must hold
    the beats that enter while a result travels through the branch's
    pipeline: ``fifo_depth ≥ branch latency − skip latency + 1`` at one beat
    per cycle (a window unit's latency already counts its ``N(1)`` steps);
    between the two bounds the block runs, slower. ``fifo_depth ≥ 3`` always.

    Attributes: ``cycles_per_frame`` is the largest stated by a stage of
    either path (the FIFO and adder take a beat per cycle), ``None`` if a stage
    states none; ``latency = max(branch latency, skip latency + FIFO latency
    (2)) + 1`` — cycles from the first offer of a beat to its sum on
    ``source`` when the block is idle and ``source`` ready — or ``None`` when a
    stage states none. ``sink.ready`` depends on the stages' ``sink.ready``
    and the fork's flags, ``source.valid`` and ``source.payload`` on
    registers only.
    """

    @classmethod
    def check(cls, *, branch, skip=(), fifo_depth, elems, a_width, a_signed, b_width, b_signed,
              mult_a=1, mult_b=1, out_width, out_signed, join="add", b_elems=None,
              b_first=False) -> dict:
        """The checked parameters (HdlError naming the parameter when one is unusable)."""
        owner = "Residual"
        p = _check_join(owner, join=join, elems=elems, b_elems=b_elems, a_width=a_width,
                        a_signed=a_signed, b_width=b_width, b_signed=b_signed, mult_a=mult_a,
                        mult_b=mult_b, out_width=out_width, out_signed=out_signed, b_first=b_first)
        p["fifo_depth"] = _check_fifo_depth(owner, fifo_depth)
        p["branch"] = _check_path(owner, "branch", branch, allow_empty=False)
        p["skip"] = _check_path(owner, "skip", skip, allow_empty=True)
        b_elems, b_count = p["b_elems"], "b_elems" if join == "concat" else "elems"
        into_branch = _payload_bits(p["branch"][0], "sink")
        into_skip = (_payload_bits(p["skip"][0], "sink") if p["skip"]
                     else b_elems * p["b_width"])
        if into_branch != into_skip:
            skip_name = ("the skip path" if p["skip"]
                         else f"the skip path (identity, {b_count}·b_width = {b_elems}·{p['b_width']})")
            raise HdlError(f"{owner}: the branch takes {into_branch}-bit beats but {skip_name} "
                           f"takes {into_skip}-bit beats; both paths see the same input")
        for side, path, name in (("a", p["branch"], "the branch"),
                                 ("b", p["skip"], "the skip path")):
            if side == "b" and not path:
                continue
            got, width = _payload_bits(path[-1], "source"), p[f"{side}_width"]
            n, count = (p["elems"], "elems") if side == "a" else (b_elems, b_count)
            if got != n * width:
                raise HdlError(f"{owner}: {name} emits {got}-bit beats but {count}·{side}_width = "
                               f"{n}·{width} = {n * width}; pass the element format "
                               f"of its output as {side}_width")
        ratios = _beat_ratio(p["branch"]), _beat_ratio(p["skip"])
        if ratios[0] != ratios[1]:
            raise HdlError(f"{owner}: the branch emits {ratios[0]} beats per input beat but the "
                           f"skip path {ratios[1]}; the adder pairs beats one to one, so a "
                           f"window with stride on one path needs the same on the other")
        return p

    def __init__(self, **_):
        branch_rate, branch_latency = _path_timing(self.branch)
        skip_rate, skip_latency = _path_timing(self.skip)
        self.cycles_per_frame = (None if None in (branch_rate, skip_rate)
                                 else max(branch_rate, skip_rate))
        self.latency = (None if None in (branch_latency, skip_latency)
                        else max(branch_latency, skip_latency + FIFO_LATENCY) + 1)
        super().__init__({
            "sink": In(stream.Signature(unsigned(_payload_bits(self.branch[0], "sink")))),
            "source": Out(stream.Signature(unsigned(self.out_elems * self.out_width))),
        })

    @property
    def out_elems(self) -> int:
        """Elements per output beat: ``elems`` for an add, ``elems + b_elems`` for a concatenation."""
        return self.elems + (self.b_elems if self.join == "concat" else 0)

    def elaborate(self, platform):
        m = Module()
        m.submodules.branch = branch = Chain(self.branch)
        m.submodules.skip_fifo = fifo = StreamFifo(elems=self.b_elems, width=self.b_width,
                                                   depth=self.fifo_depth)
        joiner = _Concatenate if self.join == "concat" else _ElementwiseAdd
        m.submodules.adder = adder = joiner({k: getattr(self, k) for k in (
            "elems", "b_elems", "b_first", "a_width", "a_signed", "b_width", "b_signed", "mult_a",
            "mult_b", "out_width", "out_signed")})
        if self.skip:
            m.submodules.skip = skip = Chain(self.skip)
            wiring.connect(m, skip.source, fifo.sink)
            skip_sink = skip.sink
        else:
            skip_sink = fifo.sink
        wiring.connect(m, branch.source, adder.sink_a)
        wiring.connect(m, fifo.source, adder.sink_b)
        wiring.connect(m, adder.source, wiring.flipped(self.source))

        # Which path already took the beat on offer (the other one did not yet).
        taken = {"branch": Signal(name="taken_branch"), "skip": Signal(name="taken_skip")}
        paths = {"branch": branch.sink, "skip": skip_sink}
        m.d.comb += self.sink.ready.eq(
            (branch.sink.ready | taken["branch"]) & (skip_sink.ready | taken["skip"]))
        for name, path in paths.items():
            m.d.comb += [path.payload.eq(self.sink.payload),
                         path.valid.eq(self.sink.valid & ~taken[name])]
        with m.If(self.sink.valid & self.sink.ready):
            m.d.sync += [flag.eq(0) for flag in taken.values()]
        with m.Else():
            m.d.sync += [taken[name].eq(taken[name] | (path.valid & path.ready))
                         for name, path in paths.items()]
        return m


def _check_fifo_depth(owner, depth):
    depth = check_int(owner, "fifo_depth", depth, minimum=1)
    if depth < FULL_RATE_DEPTH:
        raise HdlError(f"{owner}: fifo_depth must be at least {FULL_RATE_DEPTH}, not {depth}: "
                       f"a smaller FIFO passes a beat only every other cycle")
    return depth


def estimate_fifo(*, elems, width, depth, model=ICE40):
    """Estimate LUT4s, flip-flops and block RAMs of a :class:`StreamFifo`.

    Parts: the ring of ``depth − 1`` words of ``elems·width`` bits and its
    read register. In block RAM when Yosys would put it there (as for the
    window units' line buffers, priced with ``model.bram_shapes``); Yosys then
    keeps a read of the word being written returning the old word with logic
    outside the block (about two registers and a 2:1 mux per bit, the address
    kept and compared), priced as the ring. Otherwise flip-flops with a
    ``depth − 1``:1 read mux (``lut_per_select_input`` per bit and extra
    word), a write decoder (a LUT per word) and an ``elems·width``-bit read
    register. Control: write and read pointers, the level and the output flag,
    with their comparisons against constants (no model constant: that is all
    the control there is).

    Against Yosys 0.70 ``synth_ice40`` on nine FIFOs (3 to 200 beats of 4 to 32
    bits, six in block RAM): block RAMs exact, flip-flops within 10 %, LUT4s
    within 25 % (low by 10 to 25 % with block RAM).
    """
    elems, width, depth = _check_fifo("estimate_fifo", elems, width, depth)
    bits, words = elems * width, depth - 1
    address = _bits(words)
    in_bram = _in_bram(words, bits)
    if in_bram:
        parts = {"ring": (bits * model.lut_per_mux_bit + address, 2 * bits + address)}
    else:
        read_mux = bits * max(words - 1, 0) * model.lut_per_select_input
        write_decoder = words if words > 1 else 0
        parts = {"ring": (read_mux + write_decoder, words * bits + bits)}
    counters = [counter_cost(model, words), counter_cost(model, words),
                counter_cost(model, depth)]
    compares = (2 * address + 2 * _bits(depth)) * model.lut_per_const_compare_bit
    parts["control"] = (compares + sum(lut for lut, _ in counters),
                        1 + sum(ff for _, ff in counters))
    return _result(parts, bram=bram_blocks(model, words, bits) if in_bram else 0,
                   weights_in_bram=False)


def _constant_product_lut(model, width, mult):
    """LUTs of ``x·mult`` for a ``width``-bit ``x`` and constant ``mult ≥ 1``: one adder
    per extra set bit of ``mult`` (shifts are wiring)."""
    return (bin(mult).count("1") - 1) * (width + _bits(mult + 1)) * model.lut_per_adder_bit


def estimate_residual(*, elems, fifo_depth, a_width, a_signed, b_width, b_signed, mult_a=1,
                      mult_b=1, out_width, out_signed, join="add", b_elems=None, b_first=False,
                      model=ICE40):
    """Estimate what a :class:`Residual` adds to its stages (LUT4s, flip-flops, block RAMs).

    Takes the block's parameters without ``branch`` and ``skip``: the caller
    adds the stages' own estimates. Parts: the fork (a flag per path and the
    ready/valid gating, a few LUTs); the skip FIFO (:func:`estimate_fifo` of
    ``fifo_depth`` beats of ``b_elems·b_width`` bits); for an add, per element one
    ``out_width``-bit carry-chain adder plus one per extra set bit of each
    multiplier (powers of two are wiring; a concatenation is wiring only),
    and the two-entry output buffer (:class:`SkidBuffer`). The adder and its
    buffer measured within 20 % of Yosys 0.70 ``synth_ice40`` (LUT4 and FF,
    three formats with multipliers 1 to 5).
    """
    owner = "estimate_residual"
    p = _check_join(owner, join=join, elems=elems, b_elems=b_elems, b_first=b_first,
                    a_width=a_width, a_signed=a_signed, b_width=b_width, b_signed=b_signed,
                    mult_a=mult_a, mult_b=mult_b, out_width=out_width, out_signed=out_signed)
    fifo = estimate_fifo(elems=p["b_elems"], width=p["b_width"],
                         depth=_check_fifo_depth(owner, fifo_depth), model=model)
    if join == "add":
        per_elem = (p["out_width"] * model.lut_per_adder_bit
                    + _constant_product_lut(model, p["a_width"], p["mult_a"])
                    + _constant_product_lut(model, p["b_width"], p["mult_b"]))
        out_elems = p["elems"]
    else:
        per_elem, out_elems = 0, p["elems"] + p["b_elems"]
    parts = {"fork": (4, 2),
             "skip fifo": (fifo.resources.lut, fifo.resources.ff),
             "adder": (p["elems"] * per_elem, 0),
             "output buffer": skid_cost(model, out_elems * p["out_width"])}
    return _result(parts, bram=fifo.resources.bram, weights_in_bram=False)
