"""Analytic resource model of :class:`MatVecUnit` for LUT4 fabrics (iCE40 and ECP5).

The model follows the generated structure part by part (see
:func:`estimate_mvu`); every constant it uses is a field of :class:`CostModel`
so that calibration against Yosys/nextpnr reports changes numbers in one place.
"""

from dataclasses import dataclass

from ..errors import HdlError
from ._mvu import _divisor_error
from ._mvu_output import queue_depth
from ._popcount import (BRAM_MIN_BITS, BRAM_MIN_WORDS, CARRY_LEVELS_PER_STAGE,
                        MULT_COPY_GROUPS, MULT_PAIR_STAGES, PAIR_LOGIC_LEVELS,
                        XNOR_LOGIC_LEVELS, LaneShape, _tree_registers, lane_stages, tree_levels)
from ._params import check_bool, check_int
from ._resources import Estimate, Resources

__all__ = ["CostModel", "ICE40", "ECP5", "estimate_mvu", "estimate_threshold", "dsp_products"]


@dataclass(frozen=True)
class CostModel:
    """Per-primitive costs of a LUT4 fabric: an iCE40 logic cell (one LUT4 + one FF +
    carry logic), or an ECP5 slice half (one LUT4 + one FF; a CCU2C is two LUT4s).

    Assumptions: adders and subtractors use the carry chain, one LUT per sum
    bit; a flip-flop with enable costs no LUT (SB_DFFE); a 2:1 mux in front of
    a flip-flop is one LUT; multipliers are soft, about two LUTs per
    partial-product bit, unless ``estimate_mvu(dsp=True)`` plans them in DSP
    blocks (see ``dsp_*``); a comparison with a
    constant takes about half a LUT per bit, with a variable one LUT per bit
    (carry chain); a LUT4 holds 16 one-bit ROM words, and a deeper LUT ROM
    needs a mux tree of about one more LUT per 16 words; a table of more than
    one word goes to block RAM when Yosys would put it there (see
    ``rom_logic_cost_per_bit``) or when MatVecUnit asks for it (``rom_style``,
    at least 2048 bits and 32 words).

    Checked against Yosys 0.50 (``python bench/boards_bench.py --calibrate
    [--family ecp5]``, last run in ``docs/boards.md``): on ECP5
    (``synth_ecp5 -nowidelut``, LUT4 + 2·CCU2C) LUT4 within 15 % on 9 of 11
    units, the two others multi-bit × multi-bit with few products per PE;
    ``tests/hdl/test_estimate.py`` holds iCE40 to 20 % on a 1-bit and a
    multi-bit unit. Place-and-route numbers may differ.
    """
    lut_per_adder_bit: float = 1.0
    lut_per_mux_bit: float = 1.0
    #: A soft multiplier (Yosys: partial products in LUTs, sums on carry chains):
    #: a registered 4 × 4-bit product takes 32 LUT4s on iCE40, 8 × 4 70; on ECP5
    #: 35 and 73 LUT4-eq.
    lut_per_product_bit: float = 2.0
    #: A product with a constant: shifts and adds, about one LUT per bit.
    lut_per_const_product_bit: float = 1.0
    lut_per_const_compare_bit: float = 0.5
    lut_per_compare_bit: float = 1.0
    #: A ``n``:1 mux tree: LUTs per bit and per extra input (``n − 1`` 2:1 muxes,
    #: some merged by ABC).
    lut_per_select_input: float = 1.0
    #: Selecting one of ``n`` slices of the offered input vector (an AND-OR with a
    #: one-hot select): LUTs per bit and per pair of slices, plus an OR tree of
    #: 4-input LUTs over the pairs.
    lut_per_select_pair: float = 1.0
    #: LUTs of an adder whose result has at most 4 bits, which Yosys builds in
    #: logic on ECP5 (index: result bits); wider adders use the carry chain.
    lut_per_logic_adder: tuple = (0, 1, 2, 3, 5)
    rom_words_per_lut: int = 16
    rom_mux_lut_per_block: float = 1.0
    #: Yosys' own choice between logic and block RAM for a ROM (memory_libmap):
    #: logic costs ``bits · rom_logic_cost_per_bit``, each block ``bram_cost``;
    #: block RAM wins only when strictly cheaper (defaults of Yosys ≥ 0.40 for
    #: ``synth_ice40``: 1/16 and 64, i.e. more than 1024 bits per block used).
    rom_logic_cost_per_bit: float = 1 / 16
    bram_cost: float = 64
    #: iCE40 EBR aspect ratios (depth, width) of one 4 kbit block.
    bram_shapes: tuple = ((256, 16), (512, 8), (1024, 4), (2048, 2))
    #: Counters, handshakes and pipeline valid/flag bits: a small constant.
    control_lut: int = 16
    control_ff: int = 16
    #: Which products Yosys puts in a DSP block when DSPs are allowed (its
    #: ``mul2dsp`` rule): both operands at least ``dsp_min_width`` and at most
    #: ``dsp_max_width`` bits, the product at least ``dsp_min_product`` bits.
    dsp_min_width: int = 2
    dsp_max_width: int = 16
    dsp_min_product: int = 11


ICE40 = CostModel()

#: ECP5 (LUT4-eq = LUT4 + 2·CCU2C, synthesised with ``synth_ecp5 -nowidelut`` as
#: the board flow does): the same LUT4 fabric costs, 18 kbit DP16KD blocks
#: (Yosys' memory_libmap cost 128 each) instead of 4 kbit EBRs.
ECP5 = CostModel(bram_cost=128, bram_shapes=((512, 36), (1024, 18), (2048, 9), (4096, 4),
                                             (8192, 2), (16384, 1)),
                 lut_per_product_bit=2.2, dsp_max_width=18, dsp_min_product=0)


def dsp_products(model, in_width, w_width):
    """True when Yosys would map an ``in_width`` × ``w_width`` product to a DSP block."""
    return (model.dsp_min_width <= min(in_width, w_width)
            and max(in_width, w_width) <= model.dsp_max_width
            and in_width + w_width >= model.dsp_min_product)


def _bits(n):
    """Bits of a counter over ``n`` states."""
    return max(n - 1, 0).bit_length()


def _blocks(model, words, width):
    """Block RAMs of a ``words`` × ``width`` memory. One narrower than a block's port
    is folded into it (Yosys' memory_libmap reads w // width words at once and
    selects one), so 4096 × 1 bits fill one block."""
    return min(-(-width // w) * -(-words // d) if width >= w
               else -(-words // (d * (w // width))) for d, w in model.bram_shapes)


def _table(model, words, width):
    """(lut, ff, bram, in_bram) of a read-only table with a registered read port."""
    if words <= 1 or width == 0:
        return 0, 0, 0, False
    blocks = _blocks(model, words, width)
    if (blocks * model.bram_cost < words * width * model.rom_logic_cost_per_bit
            or (words * width >= BRAM_MIN_BITS and words >= BRAM_MIN_WORDS)):
        return 0, 0, blocks, True
    blocks = -(-words // model.rom_words_per_lut)
    luts_per_bit = blocks + (blocks - 1) * model.rom_mux_lut_per_block
    return width * luts_per_bit, width, 0, False


def _adder_tree(model, terms, width):
    """(lut, ff) of a balanced tree over ``terms`` values of ``width`` bits, every level
    registered (odd terms pass through a register)."""
    lut = ff = 0
    for _ in range(tree_levels(terms)):
        width += 1
        adders, passed = terms // 2, terms % 2
        lut += adders * width * model.lut_per_adder_bit
        ff += adders * width + passed * (width - 1)
        terms = adders + passed
    return lut, ff


def estimate_mvu(*, rows, cols, pe, simd, in_width, w_width, acc_width, n_thresholds,
                 out_width, bipolar, in_beats=1, model=ICE40, dsp=False, mult_pairs=0):
    """Estimate LUT4s, flip-flops, block RAMs and DSP blocks of one :class:`MatVecUnit`.

    ``bipolar`` means 1-bit mode (XNOR-popcount, ``in_width = w_width = 1``);
    ``n_thresholds`` is thresholds per row (0: no activation, and then
    ``out_width`` should be ``acc_width``). Requantisation is not modelled.
    Mixed modes (one side bipolar) are priced as a multi-bit unit.

    Parts, in pipeline order, with ``NF = rows/pe``, ``SF = cols/simd``:

    - input select: a ``SF``:1 mux per slice bit (the unit reads the offered vector,
      it keeps no copy); slice register: ``simd·in_width`` FFs; or, with
      ``in_beats = SF`` (one slice per beat), a slice buffer of two banks of
      ``SF`` slices (block RAM from 2048 bits, else LUT RAM at 16 bits per LUT
      and a bank mux per bit) and its write and bank control;
    - weights: ``NF·SF`` words × ``pe·simd·w_width`` bits, BRAM or LUT ROM
      (see :class:`CostModel`), constants when ``NF·SF == 1``;
    - products: ``pe·simd`` XNOR LUTs, or ``in_width·w_width``-LUT soft multipliers,
      each registered; with ``dsp`` (the build allows DSP blocks) a product that
      Yosys maps to one (:func:`dsp_products`) is a DSP block and no LUTs;
      ±1 weights on multi-bit inputs: shared pair sums and differences and a
      LUT per pair-term bit; ``mult_pairs`` pairs per PE instead on an 18 × 18
      multiplier each (a DSP block with ``dsp`` where Yosys maps the product to
      one, else a soft multiplier), with a copy of its packed input per PE;
    - adder tree per PE, every level registered;
    - accumulator per PE: adder plus init mux, ``acc_width`` FFs (popcount width in
      1-bit mode with thresholds);
    - thresholds: when ``1 < n_thresholds < SF`` one comparator per PE against a
      table of ``NF·2^ceil(log2 n_thresholds)`` words read one threshold per cycle,
      a held accumulator and a counter; otherwise ``n_thresholds`` comparators
      per PE (against constants when ``NF == 1``, else against a table), count,
      output register;
    - fold collector ``rows·out_width`` FFs, output register ``rows·out_width``
      FFs plus a mux LUT per bit;
    - fold queue (row groups of two cycles or more): a few ``pe·out_width`` entries
      and a credit counter;
    - control: constants of the model.

    Returns an :class:`Estimate` whose ``parts`` map each part to its ``(lut, ff)``;
    the totals are rounded.
    """
    owner = "estimate_mvu"
    rows = check_int(owner, "rows", rows, minimum=1)
    cols = check_int(owner, "cols", cols, minimum=1)
    pe = check_int(owner, "pe", pe, minimum=1)
    simd = check_int(owner, "simd", simd, minimum=1)
    if rows % pe:
        raise _divisor_error(owner, "pe", pe, "rows", rows)
    if cols % simd:
        raise _divisor_error(owner, "simd", simd, "cols", cols)
    in_width = check_int(owner, "in_width", in_width, minimum=1)
    w_width = check_int(owner, "w_width", w_width, minimum=1)
    acc_width = check_int(owner, "acc_width", acc_width, minimum=1)
    n_thresholds = check_int(owner, "n_thresholds", n_thresholds, minimum=0)
    out_width = check_int(owner, "out_width", out_width, minimum=1)
    bipolar = check_bool(owner, "bipolar", bipolar)
    in_beats = check_int(owner, "in_beats", in_beats, minimum=1)
    dsp = check_bool(owner, "dsp", dsp)
    mult_pairs = check_int(owner, "mult_pairs", mult_pairs, minimum=0)
    if in_beats not in (1, cols // simd):
        raise HdlError(f"{owner}: in_beats={in_beats} is neither 1 nor cols/simd={cols // simd}")
    if bipolar and (in_width, w_width) != (1, 1):
        raise HdlError(f"{owner}: bipolar=True needs in_width=1 and w_width=1, "
                       f"not {in_width} and {w_width}")

    nf, sf = rows // pe, cols // simd
    parts = {}
    dsp_blocks = 0
    pairs = -(-sf // 2) if sf > 1 else 0
    select = pairs * model.lut_per_select_pair + -(-(pairs - 1) // 3) if pairs else 0
    slice_bram = 0
    if in_beats == 1:
        parts["input select"] = (simd * in_width * select, sf if sf > 1 else 0)
    else:
        words, width = 2 << _bits(sf), simd * in_width
        control = (2 * _bits(sf) + 4, _bits(sf) + 3)
        if words * width >= BRAM_MIN_BITS:
            slice_bram = _blocks(model, words, width)
            parts["slice buffer"] = control
        else:
            parts["slice buffer"] = (control[0] + width * (-(-words // 16) + 1), control[1])
    parts["slice register"] = (0, simd * in_width)

    w_lut, w_ff, w_bram, weights_in_bram = _table(model, nf * sf,
                                                  pe * (simd * w_width + mult_pairs))
    halves, odd = simd // 2, simd % 2
    # ±1 weights (a 1-bit weight that is not bipolar would be 0/1: rare) on
    # shared pair sums and differences
    pairs = not bipolar and w_width == 1 and in_width > 1 and pe > 1 and simd > 1
    if nf * sf >= BRAM_MIN_WORDS and nf * sf * pe * simd * w_width >= BRAM_MIN_BITS:
        # in block RAM by request: the read data is registered (with the slice,
        # except in pair lanes)
        w_ff += pe * (simd * w_width + mult_pairs) + (0 if pairs else simd * in_width)
    parts["weights"] = (w_lut, w_ff)

    if bipolar:
        # XNOR pairs and their 2-bit sums, registered; then sums in logic up to 4 bits
        parts["products"] = (pe * (2 * halves + odd), pe * (2 * halves + odd))
        parts["adder tree"] = _scaled(pe, _lane_tree(model, halves + odd, 2,
                                                     XNOR_LOGIC_LEVELS))
    elif pairs:
        # the shared sums and differences, then one LUT per bit of a pair term
        lut_pairs = halves - mult_pairs
        shared = 2 * lut_pairs * (in_width + 1) * model.lut_per_adder_bit
        shared_ff = 2 * lut_pairs * (in_width + 1) + odd * (in_width + 1)
        terms = lut_pairs * (in_width + 2) + odd * (in_width + 1)    # each registered
        parts["products"] = (shared + pe * terms, shared_ff + pe * terms)
        if mult_pairs:
            # A: 2·in_width + 2 bits (signed input), B: in_width + 4
            a_bits, b_bits = 2 * in_width + 2, in_width + 4
            in_dsp = dsp and dsp_products(model, a_bits, b_bits)
            soft = 0 if in_dsp else a_bits * b_bits * model.lut_per_product_bit
            dsp_blocks = pe * mult_pairs if in_dsp else 0
            # a copy of A per group of PEs, then (in the block or not) per PE and
            # pair a copy of A, B and the product, and the product's field and
            # borrow; the LUT terms' shared sums and weight bits wait as long
            late = MULT_PAIR_STAGES * (shared_ff + pe * (simd - 2 * mult_pairs))
            fabric = 0 if in_dsp else a_bits + b_bits + in_width + 3
            parts["multiplier pairs"] = (
                pe * mult_pairs * soft,
                late + min(MULT_COPY_GROUPS, pe) * mult_pairs * a_bits
                + pe * mult_pairs * (fabric + in_width + 3))
        parts["adder tree"] = _scaled(pe, _lane_tree(model, halves + odd, in_width + 2,
                                                     PAIR_LOGIC_LEVELS))
    else:
        term_width = in_width + w_width
        in_dsp = dsp and dsp_products(model, in_width, w_width)
        term_lut = 0 if in_dsp else in_width * w_width * model.lut_per_product_bit
        parts["products"] = (pe * simd * term_lut, pe * simd * term_width)
        dsp_blocks = pe * simd if in_dsp else 0
        parts["adder tree"] = _scaled(pe, _adder_tree(model, simd, term_width))

    # one threshold: the sum starts at -T (a table of NF words when NF > 1)
    internal = (cols.bit_length() + (n_thresholds == 1) if bipolar and n_thresholds
                else acc_width)
    acc_lut = internal * (model.lut_per_adder_bit + (model.lut_per_mux_bit if sf > 1 else 0))
    parts["accumulator"] = (pe * acc_lut, pe * internal)

    t_bram = 0
    if n_thresholds == 1:
        t_lut, t_ff, t_bram, _ = _table(model, nf, pe * internal)
        parts["thresholds"] = (t_lut, t_ff + pe * out_width)
    elif n_thresholds:
        t_width = internal + 1
        count_bits = _bits(n_thresholds + 1)
        if 1 < n_thresholds < sf:
            # One comparator per PE walks through the row's thresholds (MatVecUnit's
            # sequential_thresholds): a table of nf·2^ceil(log2 L) words of pe thresholds.
            t_lut, t_ff, t_bram, _ = _table(model, nf << _bits(n_thresholds),
                                            pe * t_width)
            per_pe_lut = t_width * model.lut_per_compare_bit + count_bits
            per_pe_ff = internal + count_bits
            control = 2 * _bits(n_thresholds + 1) + _bits(nf)
            parts["thresholds"] = (t_lut + pe * per_pe_lut + control,
                                   t_ff + pe * per_pe_ff + control)
        else:
            t_lut, t_ff, t_bram, _ = _table(model, nf, pe * n_thresholds * t_width)
            per_bit = model.lut_per_compare_bit if nf > 1 else model.lut_per_const_compare_bit
            lane_lut, lane_ff = _compare_lane(model, n_thresholds, t_width, out_width, per_bit)
            parts["thresholds"] = (t_lut + pe * lane_lut, t_ff + pe * lane_ff)
    parts["collector"] = (0, rows * out_width)
    # loaded from the collector only (no mux) when a row group takes two cycles or more,
    # except under sequential thresholds (the stall scheme: from the collector or the
    # vector shifting into it)
    muxed = sf == 1 or 1 < n_thresholds < sf
    parts["output register"] = (rows * out_width * model.lut_per_mux_bit if muxed else 0,
                                rows * out_width)
    if sf > 1 and not 1 < n_thresholds < sf:
        # the credit scheme's fold queue (MatVecUnit's _mvu_output): about as many
        # stages as the lanes' registers, the slice, accumulator and activation
        shape = (LaneShape.XNOR if bipolar else LaneShape.PAIRS if pairs
                 else LaneShape.PRODUCTS)
        stages = lane_stages(shape, simd, mult_pairs) + 3 + (n_thresholds > 1)
        entries, width = queue_depth(sf, stages), pe * out_width + 1
        parts["fold queue"] = (width + _bits(entries) * 4, entries * width + 2 * _bits(entries))
    parts["control"] = (model.control_lut + 2 * (_bits(sf) + _bits(nf) + _bits(nf * sf)),
                        model.control_ff + _bits(sf) + _bits(nf) + _bits(nf * sf))

    return _result(parts, bram=w_bram + t_bram + slice_bram, weights_in_bram=weights_in_bram,
                   dsp=dsp_blocks)


def _scaled(n, cost):
    return n * cost[0], n * cost[1]


def _lane_tree(model, terms, width, logic_levels):
    """(lut, ff) of one lane's sum tree (bitwave/hdl/_popcount.py) over ``terms``
    values of ``width`` bits: sums of at most 4 bits in logic, wider ones on the
    carry chain; registers after the first ``logic_levels`` levels, then every
    ``CARRY_LEVELS_PER_STAGE`` levels."""
    levels = tree_levels(terms)
    marks = _tree_registers(levels, logic_levels, CARRY_LEVELS_PER_STAGE)
    lut = ff = 0
    for level in range(1, levels + 1):
        width += 1
        adders, terms = terms // 2, terms // 2 + terms % 2
        if width < len(model.lut_per_logic_adder):
            lut += adders * model.lut_per_logic_adder[width]
        else:
            lut += adders * width * model.lut_per_adder_bit
        if level in marks:
            ff += terms * width
    return lut, ff


def _compare_lane(model, n_thresholds, t_width, out_width, per_bit):
    """(LUT, FF) of one lane comparing against all ``n_thresholds`` at once: the
    comparators, the count of passed thresholds and the registered output."""
    compare = n_thresholds * t_width * per_bit
    count_lut = _adder_tree(model, n_thresholds, 1)[0]
    cmp_ff = n_thresholds if n_thresholds > 1 else 0
    return compare + count_lut, cmp_ff + out_width


def _result(parts, *, bram, weights_in_bram, dsp=0):
    return Estimate(Resources(lut=round(sum(lut for lut, _ in parts.values())),
                              ff=round(sum(ff for _, ff in parts.values())), bram=bram,
                              dsp=dsp),
                    parts=parts, weights_in_bram=weights_in_bram)


def estimate_threshold(*, n, in_width, n_thresholds, out_width, model=ICE40):
    """Estimate LUT4s and flip-flops of a stand-alone :class:`ThresholdUnit`.

    All ``n`` elements are handled in one beat: per element ``n_thresholds``
    comparators against constants (one for a requantisation), the count of
    passed thresholds and a registered output. Returns an :class:`Estimate` as
    :func:`estimate_mvu` does.
    """
    owner = "estimate_threshold"
    n = check_int(owner, "n", n, minimum=1)
    in_width = check_int(owner, "in_width", in_width, minimum=1)
    n_thresholds = check_int(owner, "n_thresholds", n_thresholds, minimum=1)
    out_width = check_int(owner, "out_width", out_width, minimum=1)
    lane_lut, lane_ff = _compare_lane(model, n_thresholds, in_width + 1, out_width,
                                      model.lut_per_const_compare_bit)
    parts = {"thresholds": (n * lane_lut, n * lane_ff),
             "control": (model.control_lut, model.control_ff)}
    return _result(parts, bram=0, weights_in_bram=False)
