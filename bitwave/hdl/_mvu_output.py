"""How MatVecUnit's finished row folds reach its output, and what stops the unit.

Row folds (``pe`` outputs) shift into the fold collector; a finished vector
moves from the collector into the output register. Two schemes:

- **stall** (:func:`stall_output`, a row group of one cycle, or sequential
  thresholds): every pipeline register advances with one enable ``adv``,
  lowered by a register (``full``) when a finished vector finds the output
  register taken and the collector must keep it;
- **credits** (:func:`credit_output`, a row group of two cycles or more): the
  pipeline has no enable at all (a register's contents only matter when its
  valid tag says so), and instead the unit issues a row group only when
  there is room for its result: a small fold queue in front of the
  collector, with one credit per entry. A fold goes straight into the
  collector when the queue is empty and the collector free, so the latency
  is the stall scheme's. Without an enable there is no net from one
  flip-flop to every pipeline flip-flop, which on ECP5 was TFC-w1a1's
  critical path (9.9 ns of routing to about 4,000 clock enables).
"""

from amaranth.hdl import Cat, Mux, Signal
from amaranth.lib.fifo import SyncFIFO

__all__ = ["queue_depth", "credit_output", "stall_output"]


def queue_depth(sfold, stages):
    """Entries of the fold queue that keep a unit at full rate: the row groups begun
    but not yet in the collector, one begun every ``sfold`` cycles and each
    taking ``sfold + stages`` cycles from its first slice to the collector, and
    one more for the cycle the returned credit takes."""
    return -(-(sfold + stages + 1) // sfold) + 1


def _move_to_output(m, source, waiting, collect, main, main_valid):
    """``collect → main`` when a finished vector waits and the output register is free
    or being taken; returns that condition."""
    move = waiting & (~main_valid | source.ready)
    with m.If(move):
        m.d.sync += [main.eq(collect), main_valid.eq(1)]
    with m.Elif(source.ready):
        m.d.sync += main_valid.eq(0)
    return move


def _shift_in(collect, fold, nfold):
    return Cat(collect[len(fold):], fold) if nfold > 1 else fold


def credit_output(m, source, final, fold, nfold, depth, begin):
    """The fold queue, collector and output register of the credit scheme.

    ``final`` are the tags of the stage that shows ``fold``; ``begin`` is high
    when the unit issues the first slice of a row group. Returns ``may_begin``,
    a register-driven signal: a row group may begin now.
    """
    width = len(fold)
    collect = Signal(width * nfold, reset_less=True, name="collect")
    main = Signal(width * nfold, reset_less=True, name="out_main")
    main_valid, waiting = Signal(name="out_valid"), Signal(name="collect_waiting")
    m.d.comb += [source.valid.eq(main_valid), source.payload.eq(main)]
    move = _move_to_output(m, source, waiting, collect, main, main_valid)

    m.submodules.fold_queue = queue = SyncFIFO(width=width + 1, depth=depth)
    arriving = Cat(fold, final["lastfold"])
    free = ~waiting | move
    direct = final["valid"] & ~queue.r_rdy & free
    entering = direct | (queue.r_rdy & free)
    entry = Mux(queue.r_rdy, queue.r_data, arriving)
    m.d.comb += [queue.w_data.eq(arriving), queue.w_en.eq(final["valid"] & ~direct),
                 queue.r_en.eq(free)]
    with m.If(entering):
        m.d.sync += collect.eq(_shift_in(collect, entry[:width], nfold))
    m.d.sync += waiting.eq(Mux(entering & entry[width], 1, Mux(move, 0, waiting)))

    credits = Signal(range(depth + 1), init=depth, name="fold_credits")
    m.d.sync += credits.eq(credits - begin + entering)
    return credits != 0


def stall_output(m, source, adv, final, fold, nfold):
    """The collector and output register of the stall scheme; drives ``adv``.

    Row folds shift into the collector as the pipeline advances; the finished
    vector goes straight to the output register when that is free (or being
    taken). Otherwise it waits in the collector and ``full`` stops the
    pipeline: ``full`` is a register, so no combinational path runs from
    ``source.ready`` upstream, and the collector doubles as the output
    register's second entry.
    """
    width = len(fold)
    collect = Signal(width * nfold, reset_less=True, name="collect")
    vector = _shift_in(collect, fold, nfold)
    with m.If(adv & final["valid"]):
        m.d.sync += collect.eq(vector)
    push = final["valid"] & final["lastfold"]
    main, main_valid = Signal(len(vector), reset_less=True, name="out_main"), Signal()
    m.d.comb += [source.valid.eq(main_valid), source.payload.eq(main)]
    full = Signal()
    m.d.comb += adv.eq(~full)
    with m.If(full):
        with m.If(source.ready):
            m.d.sync += [main.eq(collect), full.eq(0)]
    with m.Elif(push):
        with m.If(~main_valid | source.ready):
            m.d.sync += [main.eq(vector), main_valid.eq(1)]
        with m.Else():
            m.d.sync += full.eq(1)
    with m.Elif(source.ready):
        m.d.sync += main_valid.eq(0)
