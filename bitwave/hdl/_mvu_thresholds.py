"""MatVecUnit's activation when a row takes longer than its thresholds: one
comparator per PE walks through them, one per cycle, from a table."""

from amaranth.hdl import Cat, Const, Mux, Signal, signed, unsigned

__all__ = ["sequential_thresholds"]


def sequential_thresholds(unit, m, adv, accs, done_acc, rom):
    """Count ``#{k : acc >= T[k]}`` one threshold per cycle; return (outs, tags).

    ``done_acc`` are the tags of the cycle in which ``accs`` hold a finished
    row. The row is copied into ``held``, then for ``k = 0 .. L-1`` the table
    word of (row group, k) is read (sync read: its data arrives one cycle
    later) and compared; the count is final ``L + 1`` cycles after the copy,
    before the next row group finishes (``cols/simd > L``).
    """
    pe, levels = unit.pe, len(unit.thresholds[0])
    hw_thresholds, tw = unit._hw_thresholds()
    kbits = (levels - 1).bit_length()
    words = []
    for f in range(unit.rows // pe):
        for k in range(1 << kbits):
            words.append(sum((hw_thresholds[f * pe + p][min(k, levels - 1)]
                              & ((1 << tw) - 1)) << (p * tw) for p in range(pe)))
    nf_held = Signal.like(done_acc["nf"], name="thr_nf")
    lastfold = Signal(name="thr_lastfold")
    k = Signal(range(levels + 1), name="thr_k")
    busy = Signal(name="thr_busy")
    done = Signal(name="thr_done")
    start = done_acc["valid"]
    t_addr = Mux(start, Cat(Const(0, kbits), done_acc["nf"]), Cat(k[:kbits], nf_held))
    t_word = rom("thresholds", words, pe * tw, t_addr)
    outs = []
    out_shape = signed(unit.out_width) if unit.out_signed else unsigned(unit.out_width)
    with m.If(adv):
        m.d.sync += done.eq(busy & (k == levels))
        with m.If(start):
            m.d.sync += [nf_held.eq(done_acc["nf"]), lastfold.eq(done_acc["lastfold"]),
                         k.eq(1), busy.eq(1)]
        with m.Elif(busy):
            m.d.sync += k.eq(k + 1)
            with m.If(k == levels):
                m.d.sync += busy.eq(0)
    for p, acc in enumerate(accs):
        held = Signal.like(acc, name=f"thr_held{p}")
        count = Signal(range(levels + 1), name=f"thr_count{p}")
        threshold = t_word[p * tw:(p + 1) * tw].as_signed()
        with m.If(adv):
            with m.If(start):
                m.d.sync += [held.eq(acc), count.eq(0)]
            with m.Elif(busy):
                m.d.sync += count.eq(count + (held >= threshold))
        out = Signal(out_shape, name=f"out{p}")
        m.d.comb += out.eq(unit.out_bias + count)
        outs.append(out)
    return outs, {"valid": done, "nf": nf_held, "lastfold": lastfold}
