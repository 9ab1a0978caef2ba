"""Folded matrix-vector unit (FINN-style MVAU) with an optional activation."""

from functools import cached_property
from types import SimpleNamespace

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import stream
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..errors import HdlError
from ._arith import balanced_sum, clamp_thresholds, requant_clip, requant_scale
from ._checked import CheckedComponent
from ._popcount import (LaneShape, Pipe, check_mult_pairs, lane_stages, pair_corrections,
                        pair_lanes, product_lanes, rom_attrs, xnor_lanes)
from ._mvu_input import SliceBuffer, select_slice
from ._mvu_output import credit_output, queue_depth, stall_output
from ._mvu_thresholds import sequential_thresholds
from ._params import (check_activation, check_bool, check_int, format_name, int_matrix, int_range,
                      int_vector, signed_bits)

__all__ = ["MatVecUnit"]


def _divisor_error(owner, name, value, dim_name, dim):
    divisors = ", ".join(str(d) for d in range(1, dim + 1) if dim % d == 0)
    return HdlError(f"{owner}: {name}={value} does not divide {dim_name}={dim}; "
                    f"choose a divisor of {dim} ({divisors})")


class MatVecUnit(CheckedComponent):
    """Matrix-vector unit: ``acc = W·x + bias`` per input vector, then an activation.

    One stream beat carries one whole vector, or one slice of ``simd`` elements
    when ``in_beats = cols/simd``; element ``i`` of a beat sits at bits
    ``[i*w, (i+1)*w)`` (two's complement when signed; for bipolar elements bit 1
    means +1 and bit 0 means -1).

    Folding: ``pe`` rows and ``simd`` columns are computed per cycle, so an
    input vector takes ``cycles_per_frame = (rows/pe)·(cols/simd)`` cycles. The
    next vector is accepted in the cycle of the current vector's last issue, so
    a continuously fed unit with a ready output reaches exactly that rate.

    Structure (every arrow is a register)::

        sink.payload (held by the source until the last slice is issued)
                 │ slice (simd elements, one-hot AND-OR select; or a read of
                 │ the two-bank slice buffer when in_beats > 1, see _mvu_input)
                 ▼                         weights ROM[addr] (sync read)
              slice reg ───────────────────────────► lanes (see _popcount) ─►
              accumulator ─► activation ─► fold collector ─► output register ─► source

    Lanes (:attr:`lane_shape`): an XNOR popcount compressor tree in 1-bit
    mode; shared pair sums and differences of the slice for ±1 weights on
    multi-bit inputs; otherwise registered products and an adder tree.

    With one beat per vector the unit keeps no copy of it: it reads ``simd``
    elements per cycle from ``sink.payload`` (a stream source holds it until
    the transfer) and accepts the vector with its last slice.

    What stops the unit when the output is not taken (see ``_mvu_output``):
    when a row group takes two cycles or more (:attr:`output_through_collector`),
    the pipeline registers have no enable; a row group begins only with a
    credit for an entry of a small fold queue before the collector, and a
    finished vector goes through the collector into the output register.
    Otherwise one enable advances every pipeline register and a finished
    vector that finds the output register taken waits in the collector and
    stops the pipeline. Either way ``sink.ready`` depends on registers only,
    never on ``source.ready``.

    Activation: thresholds are compared all at once (``L`` comparators per PE,
    two registers) unless a row takes more than ``L`` cycles (``cols/simd >
    L > 1``); then one comparator per PE walks through them from a table while
    the next row accumulates (``L + 1`` registers, see
    :attr:`sequential_thresholds`). Requantisation takes two registers.

    1-bit mode (``w_bipolar`` and ``in_bipolar``): products are ``XNOR(w, x)``
    bits and the accumulator counts them (popcount ``pc``); ``dot = 2·pc − cols``.
    With thresholds the comparison happens in popcount form,
    ``pc >= ceil((cols + T − bias)/2)``, so the accumulator stays
    ``bits_for(cols)`` wide.

    Parameters
    ----------
    weights : rows × cols integers (nested sequence or numpy array); -1/+1 when
        ``w_bipolar``.
    in_width, in_signed, in_bipolar : input element format (``in_signed`` is
        ignored when ``in_bipolar``).
    w_width, w_signed, w_bipolar : weight format (``w_signed`` ignored when
        ``w_bipolar``).
    acc_width : signed width of ``bias + W·x``; checked against the exact bound.
    bias : ``rows`` integers, or ``None`` for zeros.
    pe, simd : folding; must divide ``rows`` and ``cols``.
    thresholds : rows × L ascending integers: ``out = out_bias + #{k : acc >= T[k]}``.
    requant : ``(mult, shift, lo, hi)``:
        ``out = clip((acc·mult + round) >> shift, lo, hi)``, round = ``2**(shift-1)``
        (0 if ``shift == 0``), arithmetic shift.
    out_width, out_signed : output format (required with an activation; without
        one the output is the accumulator, ``signed(acc_width)``).
    out_bias : added to the threshold count.
    in_beats : beats per input vector: 1 (default), or ``cols/simd``, one slice per
        beat, written into a RAM of two vectors and read a slice per cycle (no
        multiplexer per input bit; one or two cycles more latency).
    mult_pairs : pair terms per PE on 18 × 18 multipliers (pair lanes only,
        inputs of at most 8 bits signed or 7 unsigned; see ``_popcount``).
    mult_block : those multipliers as ECP5 MULT18X18D blocks with their own
        registers (ECP5 only; simulators need ``MULT18X18D_MODEL``).

    Attributes
    ----------
    cycles_per_frame : int
        Cycles per input vector in steady state.
    latency : int
        Cycles from the first cycle an input vector is offered (``sink.valid``)
        to the first cycle its result is valid on ``source``, when the unit is
        idle and ``source.ready``; the vector is accepted
        ``cycles_per_frame - 1`` cycles after it is offered.
    weight_words : tuple of int
        Contents of the weight memory (depth ``cycles_per_frame``, width
        :attr:`weight_word_width`); word ``nf·(cols/simd) + sf`` holds
        ``w[nf·pe + p][sf·simd + s]`` at element ``p·simd + s``.
    """

    @classmethod
    def check(cls, *, weights, in_width, in_signed, in_bipolar=False, w_width, w_signed,
              w_bipolar=False, acc_width, bias=None, pe=1, simd=1, thresholds=None,
              out_width=None, out_signed=None, out_bias=0, requant=None, in_beats=1,
              mult_pairs=0, mult_block=False) -> dict:
        """The checked parameters (HdlError naming the parameter when one is unusable)."""
        owner = "MatVecUnit"
        p = SimpleNamespace()
        p.in_bipolar = check_bool(owner, "in_bipolar", in_bipolar)
        p.in_signed = check_bool(owner, "in_signed", in_signed)
        p.in_width = check_int(owner, "in_width", in_width, minimum=1)
        p.w_bipolar = check_bool(owner, "w_bipolar", w_bipolar)
        p.w_signed = check_bool(owner, "w_signed", w_signed)
        p.w_width = check_int(owner, "w_width", w_width, minimum=1)
        for prefix, bipolar, width in (("in", p.in_bipolar, p.in_width),
                                       ("w", p.w_bipolar, p.w_width)):
            if bipolar and width != 1:
                raise HdlError(f"{owner}: {prefix}_width must be 1 when {prefix}_bipolar=True, "
                               f"not {width}")

        p.weights = int_matrix(owner, "weights", weights)
        p.rows, p.cols = len(p.weights), len(p.weights[0])
        w_lo, w_hi = int_range(p.w_width, p.w_signed)
        for r, row in enumerate(p.weights):
            for c, w in enumerate(row):
                if p.w_bipolar and w not in (-1, 1):
                    raise HdlError(f"{owner}: weights[{r}][{c}] = {w} is not -1 or +1, as "
                                   f"w_bipolar=True requires")
                if not p.w_bipolar and not w_lo <= w <= w_hi:
                    raise HdlError(f"{owner}: weights[{r}][{c}] = {w} does not fit "
                                   f"{format_name(p.w_width, p.w_signed)}")

        p.pe = check_int(owner, "pe", pe, minimum=1)
        if p.rows % p.pe:
            raise _divisor_error(owner, "pe", p.pe, "rows", p.rows)
        p.simd = check_int(owner, "simd", simd, minimum=1)
        if p.cols % p.simd:
            raise _divisor_error(owner, "simd", p.simd, "cols", p.cols)

        p.in_beats = check_int(owner, "in_beats", in_beats, minimum=1)
        if p.in_beats not in (1, p.cols // p.simd):
            raise HdlError(f"{owner}: in_beats={p.in_beats} is neither 1 (the whole vector in "
                           f"one beat) nor cols/simd={p.cols // p.simd} (one slice per beat); "
                           f"use one of them")

        p.mult_pairs = check_int(owner, "mult_pairs", mult_pairs, minimum=0)
        p.mult_block = check_bool(owner, "mult_block", mult_block)
        check_mult_pairs(owner, p)

        p.bias = ((0,) * p.rows if bias is None
                     else int_vector(owner, "bias", bias, length=p.rows))

        # Exact range of sum_c w[r][c]*x[c] per row; each term's range contains 0,
        # so every partial sum of a row lies inside the row's range too.
        x_lo, x_hi = (-1, 1) if p.in_bipolar else int_range(p.in_width, p.in_signed)
        p._sum_ranges = tuple(
            (sum(min(w * x_lo, w * x_hi) for w in row), sum(max(w * x_lo, w * x_hi) for w in row))
            for row in p.weights)
        p.acc_width = check_int(owner, "acc_width", acc_width, minimum=1)
        acc_lo, acc_hi = int_range(p.acc_width, True)
        for r, ((lo, hi), b) in enumerate(zip(p._sum_ranges, p.bias)):
            if not acc_lo <= lo + b <= hi + b <= acc_hi:
                need = signed_bits(min(l + b for (l, _), b in zip(p._sum_ranges, p.bias)),
                                   max(h + b for (_, h), b in zip(p._sum_ranges, p.bias)))
                raise HdlError(f"{owner}: acc_width={p.acc_width} is too small: row {r} "
                               f"reaches {lo + b}..{hi + b}; use acc_width >= {need}")

        p.activation = check_activation(
            owner, rows=p.rows, thresholds=thresholds, requant=requant,
            out_width=out_width, out_signed=out_signed, out_bias=out_bias,
            passthrough_width=p.acc_width)
        p.thresholds = p.activation.thresholds
        p.requant = p.activation.requant
        p.out_width = p.activation.out_width
        p.out_signed = p.activation.out_signed
        p.out_bias = p.activation.out_bias
        return vars(p)

    def __init__(self, **_):
        self.cycles_per_frame = (self.rows // self.pe) * (self.cols // self.simd)
        self.weight_words = self._pack_weights()
        # The first slice is issued in the cycle the vector is offered and the last
        # cycles_per_frame - 1 cycles later; then it passes the slice register,
        # products, tree, accumulator, activation and the output register, and
        # shows on source the cycle after that last edge.
        self.latency = (self.cycles_per_frame + 2
                        + lane_stages(self.lane_shape, self.simd, self.mult_pairs)
                        + self.weight_register_stage + self.activation_stages
                        + self.output_through_collector + self.input_stages)

        super().__init__({
            "sink": In(stream.Signature(unsigned(self.cols // self.in_beats * self.in_width))),
            "source": Out(stream.Signature(unsigned(self.rows * self.out_width))),
        })

    @property
    def xnor(self):
        """Whether the dot product is computed as popcount(XNOR(w, x))."""
        return self.w_bipolar and self.in_bipolar

    @property
    def lane_shape(self):
        """How a PE sums its ``simd`` products per cycle (see :mod:`._popcount`):
        XNOR popcount in 1-bit mode; shared pair sums and differences for ±1
        weights on multi-bit inputs when several PEs share them; else products
        and an adder tree."""
        if self.xnor:
            return LaneShape.XNOR
        if self.w_bipolar and not self.in_bipolar and self.pe > 1 and self.simd > 1:
            return LaneShape.PAIRS
        return LaneShape.PRODUCTS

    @property
    def input_stages(self):
        """Cycles the slice buffer adds to the latency (``in_beats > 1``): a beat is
        written before its slice is read, and the read is registered before any
        logic unless the weights' register stage does it."""
        if self.in_beats == 1:
            return 0
        return 1 + (not self.weight_register_stage)

    @property
    def sequential_thresholds(self):
        """Whether the thresholds of a row are compared one per cycle, from a table.

        A row's accumulator result arrives every ``cols/simd`` cycles, so when
        that is more than the number of thresholds ``L``, one comparator per PE
        can walk through them while the next row accumulates: the table is read
        one threshold at a time (``rows/pe · L`` words of ``pe`` thresholds,
        block RAM when large) instead of ``L`` comparators per PE against a
        ``pe·L`` thresholds wide table.
        """
        if self.thresholds is None:
            return False
        levels = len(self.thresholds[0])
        return 1 < levels < self.cols // self.simd

    @property
    def activation_stages(self):
        if self.thresholds is not None:
            levels = len(self.thresholds[0])
            if self.sequential_thresholds:
                return levels + 1
            return 1 if levels == 1 else 2
        return 2 if self.requant is not None else 0

    @property
    def weight_word_width(self):
        """Bits of a weight-table word: ``pe·simd`` weights, then for multiplier
        pairs one inverted copy of each pair's second weight bit per PE."""
        return self.pe * (self.simd * self.w_width + self.mult_pairs)

    def _pack_weights(self):
        pe, simd, ww, mp = self.pe, self.simd, self.w_width, self.mult_pairs
        mask = (1 << ww) - 1
        words = []
        for nf in range(self.rows // pe):
            for sf in range(self.cols // simd):
                word = 0
                for p in range(pe):
                    row = self.weights[nf * pe + p][sf * simd:(sf + 1) * simd]
                    for s, w in enumerate(row):
                        bits = (w > 0) if self.w_bipolar else (w & mask)
                        if s < 2 * mp and s % 2 == 0:
                            bits ^= 1          # a multiplier pair's ~b0 (see pair_lanes)
                        word |= bits << ((p * simd + s) * ww)
                    for k in range(mp):        # and its ~b1
                        word |= (row[2 * k + 1] < 0) << (pe * simd * ww + p * mp + k)
                words.append(word)
        return tuple(words)

    @cached_property
    def _pair_slices(self):
        """Per row and slice, how far below the exact sum pair lanes leave it (see
        :func:`pair_corrections`); zeros otherwise."""
        if self.lane_shape != LaneShape.PAIRS:
            return [[0] for _ in range(self.rows)]
        offset = 1 << (self.in_width - 1) if self.in_signed else 0
        return pair_corrections(self.weights, self.simd, self.mult_pairs, offset)

    def _pair_offsets(self):
        """Per row, how far below the exact sum pair lanes leave the accumulator."""
        return [sum(row) for row in self._pair_slices]

    def _pair_spread(self):
        """Per row, the sums of the positive and of the negative slice offsets: a
        partial sum lies in ``[lo − up, hi − down]`` of the row's exact range."""
        return [(sum(k for k in row if k > 0), sum(k for k in row if k < 0))
                for row in self._pair_slices]

    def _accumulator_plan(self):
        """Shape of the accumulator, its per-row initial value and per-term scale.

        With one threshold per row the accumulator starts at minus the row's
        threshold in its domain (see :attr:`threshold_in_accumulator`). With
        more, it holds the raw sum (popcount in 1-bit mode; for pair lanes the
        sum less the row's offset) and bias and offset are folded into the
        thresholds. Otherwise it holds ``bias + W·x``
        exactly in ``acc_width`` bits (1-bit mode: start at ``bias − cols`` and
        add 2 per matching bit; pair lanes start the offset higher, so partial
        sums may exceed the final range by as much).
        """
        if self.threshold_in_accumulator:
            hw_thresholds, _ = self._hw_thresholds()
            lo, hi = (0, self.cols) if self.xnor else self._threshold_range()
            init = [-row[0] for row in hw_thresholds]
            return signed(signed_bits(lo + min(init), hi + max(init))), init, 1
        if self.xnor:
            if self.thresholds is None:
                return signed(self.acc_width), [b - self.cols for b in self.bias], 2
            return unsigned(self.cols.bit_length()), [0] * self.rows, 1
        offsets = self._pair_offsets()
        if self.thresholds is None:
            init = [b + k for b, k in zip(self.bias, offsets)]
            # acc = b + Σ x·w + (offsets of the slices still to come)
            lo = min(l + b + down for (l, _), b, (_, down)
                     in zip(self._sum_ranges, self.bias, self._pair_spread()))
            hi = max(h + b + up for (_, h), b, (up, _)
                     in zip(self._sum_ranges, self.bias, self._pair_spread()))
            return signed(max(self.acc_width, signed_bits(lo, hi))), init, 1
        lo, hi = self._threshold_range()
        return signed(signed_bits(lo, hi)), [0] * self.rows, 1

    def _threshold_range(self):
        """Range of the accumulator (and of every partial sum) with thresholds, not
        1-bit mode."""
        spread = self._pair_spread()
        lo = min(l - up for (l, _), (up, _) in zip(self._sum_ranges, spread))
        hi = max(h - down for (_, h), (_, down) in zip(self._sum_ranges, spread))
        return lo, hi

    def _hw_thresholds(self):
        """Thresholds in the accumulator's domain, clamped to its range, per row."""
        if self.xnor:
            lo, hi = 0, self.cols
            rows = [[-(-(self.cols + t - b) // 2) for t in row]
                    for row, b in zip(self.thresholds, self.bias)]
        else:
            lo, hi = self._threshold_range()
            rows = [[t - b - k for t in row]
                    for row, b, k in zip(self.thresholds, self.bias, self._pair_offsets())]
        return [clamp_thresholds(row, lo, hi) for row in rows], signed_bits(lo, hi + 1)

    @property
    def weights_in_block_ram(self):
        """Whether the weight table is big enough to be placed in block RAM
        (see :func:`~._popcount.rom_attrs`)."""
        return self.cycles_per_frame > 1 and bool(
            rom_attrs(self.cycles_per_frame, self.weight_word_width))

    @property
    def weight_register_stage(self):
        """Whether a register stage follows the weight table's read (block RAM, and
        lanes that would otherwise put logic right after it; pair lanes register
        the weights in their shared-sum stage)."""
        return self.weights_in_block_ram and self.lane_shape != LaneShape.PAIRS

    @property
    def threshold_in_accumulator(self):
        """Whether a single threshold per row is applied by starting the row's sum at
        ``−T`` (a table the accumulator already reads) and taking the sign:
        ``acc − T >= 0`` needs no comparator."""
        return self.thresholds is not None and len(self.thresholds[0]) == 1

    @property
    def output_through_collector(self):
        """Whether a finished vector reaches the output register only through the
        fold collector (one cycle later), so that the output register loads from
        one source and needs no multiplexer (one LUT per output bit), and the
        unit runs the credit scheme of ``_mvu_output`` (no pipeline enable).

        Only when a row group takes at least two cycles (``cols/simd >= 2``):
        the collector has then handed its vector on before the next fold
        arrives, and the unit never waits for it at full rate. Not with
        sequential thresholds, whose last stage is not a pipeline register.
        """
        return self.cols // self.simd >= 2 and not self.sequential_thresholds

    def elaborate(self, platform):
        m = Module()
        pe, simd = self.pe, self.simd
        nfold, sfold = self.rows // pe, self.cols // simd
        iw, ww, ow = self.in_width, self.w_width, self.out_width

        # In the stall scheme every pipeline register advances together when `adv`
        # is high; in the credit scheme they always do (see _mvu_output).
        credits = self.output_through_collector
        adv = Const(1) if credits else Signal()
        room = Signal(name="fold_room")      # a row group may begin (credit scheme)
        pipe = Pipe(enable=adv)

        register = pipe.reg

        def rom(name, words, width, addr):
            """Constant table with a synchronous read that advances with the pipeline:
            its data lines up with the stage after the one that drives `addr`."""
            if len(words) == 1:
                return Const(words[0], width)
            mem = Memory(shape=unsigned(width), depth=len(words), init=words,
                         attrs=rom_attrs(len(words), width))
            m.submodules[name] = mem
            port = mem.read_port()
            m.d.comb += [port.addr.eq(addr), port.en.eq(adv)]
            return port.data

        # ── issue: one slice of the input vector per cycle (see _mvu_input) ──
        # In one beat, the vector is read straight from `sink.payload` (a stream
        # source holds it until the transfer) and accepted with its last slice;
        # in one beat per slice, from the two-bank slice buffer.
        sf = Signal(range(sfold))
        nf = Signal(range(nfold))
        addr = Signal(range(self.cycles_per_frame))
        last_sf = sf == sfold - 1
        last_nf = nf == nfold - 1
        frame_end = last_sf & last_nf
        may_issue = room | (sf != 0) if credits else Const(1)
        if self.in_beats == 1:
            have = self.sink.valid
            m.d.comb += self.sink.ready.eq(adv & may_issue & frame_end)
        else:
            buffer = SliceBuffer(m, self.sink, adv, sf, sfold, simd * iw)
            have = buffer.have
        go = have & may_issue
        issue = adv & go
        if self.in_beats > 1:
            buffer.release(issue & frame_end)
        with m.If(issue):
            m.d.sync += [
                addr.eq(Mux(frame_end, 0, addr + 1)),
                sf.eq(Mux(last_sf, 0, sf + 1)),
                nf.eq(Mux(last_sf, Mux(last_nf, 0, nf + 1), nf)),
            ]

        tags = {"valid": go, "first": sf == 0, "last": last_sf, "nf": nf,
                "lastfold": last_nf, "addr": addr}
        pipe.push(tags, "s1")
        if self.in_beats == 1:
            x_slice = register(select_slice(m, self.sink.payload, issue, sfold, simd * iw),
                               "s1_x")
        else:
            x_slice = buffer.data       # a synchronous read: lines up with s1

        # ── lanes: Σ of simd products per PE and cycle (see _popcount) ──
        def element(word, index, width, is_signed):
            bits = word[index * width:(index + 1) * width]
            return bits.as_signed() if is_signed else bits

        def weights_at(addr_now, registered=False):
            word = rom("weights", self.weight_words, self.weight_word_width, addr_now)
            if registered:
                word = register(word, "w_word")
            mp, extra = self.mult_pairs, pe * simd * ww
            return [[element(word, p * simd + s, ww, self.w_signed and not self.w_bipolar)
                     for s in range(simd)] + [word[extra + p * mp + k] for k in range(mp)]
                    for p in range(pe)]

        def addr_for(stage):
            """The address whose synchronous read lands in ``pipe.stages[stage]``."""
            return addr if stage == 0 else pipe.stages[stage - 1]["addr"]

        shape = self.lane_shape
        extra = self.weight_register_stage
        if extra:
            # Block RAM data comes late (5.6 ns on ECP5): register it, and the slice
            # alongside, before any logic.
            ws = weights_at(addr, registered=True)
            x_slice = register(x_slice, "s2_x")
            pipe.advance("wreg")
        elif self.in_beats > 1:
            # so is the slice buffer's
            x_slice = register(x_slice, "s2_x")
            pipe.advance("xreg")
        x_stage = len(pipe.stages) - 1
        xs = [element(x_slice, s, iw, self.in_signed and not self.in_bipolar)
              for s in range(simd)]
        if shape == LaneShape.XNOR:
            partials = xnor_lanes(pipe, ws if extra else weights_at(addr_for(x_stage)), xs)
        elif shape == LaneShape.PAIRS:
            # The weights are read (or registered) one stage later, to meet the
            # shared pair sums.
            partials = pair_lanes(pipe, lambda: weights_at(addr_for(x_stage), registered=True)
                                  if self.weights_in_block_ram
                                  else weights_at(addr_for(x_stage + 1)), xs,
                                  mult_pairs=self.mult_pairs, in_signed=self.in_signed,
                                  mult_block=self.mult_block)
        else:
            def product(w, x):
                if self.w_bipolar:
                    return Mux(w, x, -x)
                if self.in_bipolar:
                    return Mux(x, w, -w)
                return x * w
            partials = product_lanes(pipe, ws if extra else weights_at(addr_for(x_stage)), xs,
                                     product)
        stages = pipe.stages

        # ── accumulator ──
        acc_shape, acc_init, scale = self._accumulator_plan()
        into_acc = stages[-1]
        before_acc = stages[-2]
        acc_width = acc_shape.width
        init_words = [sum((acc_init[f * pe + p] & ((1 << acc_width) - 1)) << (p * acc_width)
                          for p in range(pe)) for f in range(nfold)]
        init_table = (Const(init_words[0], pe * acc_width) if len(set(init_words)) == 1
                      else rom("acc_init", init_words, pe * acc_width, before_acc["nf"]))
        accs = []
        for p in range(pe):
            acc = Signal(acc_shape, name=f"acc{p}", reset_less=True)
            init = init_table[p * acc_width:(p + 1) * acc_width]
            init = init.as_signed() if acc_shape.signed else init
            with m.If(adv & into_acc["valid"]):
                m.d.sync += acc.eq(Mux(into_acc["first"], init, acc) + partials[p] * scale)
            accs.append(acc)
        pipe.push({"valid": into_acc["valid"] & into_acc["last"],
                   "nf": into_acc["nf"], "lastfold": into_acc["lastfold"]}, "acc")

        # ── activation ──
        out_shape = signed(ow) if self.out_signed else unsigned(ow)
        if self.thresholds is not None and self.sequential_thresholds:
            outs, final = sequential_thresholds(self, m, adv, accs, stages[-1], rom)
            stages.append(final)
        elif self.threshold_in_accumulator:
            outs = [register(Value.cast(self.out_bias + (acc >= 0)), f"out{p}")
                    for p, acc in enumerate(accs)]
            pipe.advance("act")
        elif self.thresholds is not None:
            hw_thresholds, tw = self._hw_thresholds()
            levels = len(self.thresholds[0])
            t_words = [sum((hw_thresholds[f * pe + p][k] & ((1 << tw) - 1))
                           << ((p * levels + k) * tw)
                           for p in range(pe) for k in range(levels))
                       for f in range(nfold)]
            t_table = rom("thresholds", t_words, pe * levels * tw, stages[-2]["nf"])
            compares = [[accs[p] >= t_table[(p * levels + k) * tw:(p * levels + k + 1) * tw]
                         .as_signed() for k in range(levels)] for p in range(pe)]
            if levels > 1:
                compares = [[register(c, f"cmp{p}_{k}") for k, c in enumerate(row)]
                            for p, row in enumerate(compares)]
                pipe.advance("cmp")
            outs = [register(Value.cast(self.out_bias + balanced_sum(row)), f"out{p}")
                    for p, row in enumerate(compares)]
            pipe.advance("act")
        elif self.requant is not None:
            mult, shift, lo, hi = self.requant
            scaled = [register(requant_scale(a, mult, shift), f"scaled{p}")
                      for p, a in enumerate(accs)]
            pipe.advance("scale")
            outs = [register(requant_clip(v, shift, lo, hi), f"out{p}")
                    for p, v in enumerate(scaled)]
            pipe.advance("act")
        else:
            outs = accs
        fold_parts = []
        for p, o in enumerate(outs):
            part = Signal(out_shape, name=f"fold{p}")
            m.d.comb += part.eq(o)
            fold_parts.append(part)
        fold = Cat(*fold_parts)
        final = stages[-1]

        # ── fold collector and output register (see _mvu_output) ──
        if credits:
            depth = queue_depth(sfold, len(stages))
            m.d.comb += room.eq(credit_output(m, self.source, final, fold, nfold, depth,
                                              issue & (sf == 0)))
        else:
            stall_output(m, self.source, adv, final, fold, nfold)

        m.d.comb += pipe.comb
        for name, block in pipe.blocks.items():
            m.submodules[name] = block
        with m.If(adv):
            m.d.sync += pipe.assigns
        return m
