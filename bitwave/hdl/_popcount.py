"""Lane datapaths of the matrix-vector unit: compressor trees shaped for LUT4 fabrics,
and the pipeline-register helper and table placement rule they share with it.

A lane turns one cycle's ``simd`` products of one PE into one partial sum.
Three shapes, chosen by :class:`~bitwave.hdl.MatVecUnit` from the formats:

- **XNOR popcount** (1-bit weights and inputs): no product register; two
  XNORs and their 2-bit sum are one 4-input function of ``(w0, x0, w1, x1)``,
  so the first level costs one LUT per product. Sums of at most 4 bits
  (Yosys builds them in logic on ECP5, wider ones on carry chains) are
  registered level by level, then every two adder levels: unregistered,
  ABC merges the small counters into wide LUT5–LUT7 functions that cost
  about twice the LUT4s.
- **Signed pairs** (multi-bit inputs, ±1 weights): every PE sees the same
  input slice, so the sum ``x[2k] + x[2k+1]`` and difference
  ``x[2k] − x[2k+1]`` are computed once for all PEs.  A PE's pair term
  ``w0·x0 + w1·x1 = w0·(x0 + w0·w1·x1)`` is then one of them, negated when
  ``w0 = −1``: a mux and an inversion, one LUT per bit, for two products.
  The inversion is the ones' complement (``~v = −v − 1``); the missing ``+1``
  per negated term only depends on the weights, so the unit adds it to the
  row's initial accumulator value (:func:`pair_corrections`).
  The first ``mult_pairs`` pairs of each PE can go to hardware multipliers
  instead (:func:`multiplier_pair_width`): one 18 × 18 product holds a whole
  pair term in its middle bits, so those pairs need no shared sums and no
  pair-term LUTs.
- **Products** (everything else): a registered product per element and a
  balanced adder tree registered at every level.
"""

from amaranth.hdl import Cat, Const, Mux, Signal, Value

from ..errors import HdlError
from ._arith import add_pairs
from ._ecp5_mult import registered_mult18

__all__ = ["BRAM_MIN_BITS", "BRAM_MIN_WORDS", "rom_attrs", "Pipe", "LaneShape", "lane_stages",
           "tree_levels", "pair_corrections", "check_mult_pairs", "multiplier_pair_width", "xnor_lanes", "pair_lanes",
           "product_lanes", "COPY_ATTR"]

#: Adder levels between two registers once sums are carried (carry chains of
#: up to ~16 bits: two per 10 ns cycle on ECP5 with routing).
CARRY_LEVELS_PER_STAGE = 2
#: Levels of the XNOR popcount's tree (over registered pair sums) whose sums
#: Yosys builds in logic (at most 4 bits), each registered.
XNOR_LOGIC_LEVELS = 2
#: Pair lanes register their terms and their first adder level: the shared sums
#: travel to every PE (TFC's 8-bit first layer on ECP5: 6 ns of routing, then
#: the pair-term LUT and two adder levels: 90.7 MHz; with the first level
#: registered, routing and LUT and one adder: 99.7 MHz).
PAIR_LOGIC_LEVELS = 1
#: Registers pair lanes add before the pair terms when some pairs are on
#: multipliers: a copy of the packed input and the raw product (see pair_lanes).
MULT_PAIR_STAGES = 2
#: Groups of PEs sharing the first copy of a multiplier's packed input: a
#: register per PE and pair there too left the slice register driving 16 far
#: copies per bit (13.8 ns of routing in TFC's first layer).
MULT_COPY_GROUPS = 4


#: Wire attribute of a register that copies another one on purpose. Yosys merges
#: flip-flops with the same input unless the *cell* has ``keep``, which Amaranth
#: cannot set; ``bitwave build`` sets it on the flip-flops driving these wires.
COPY_ATTR = "bitwave_copy"

#: A table of at least this many bits and words goes to block RAM: as logic it
#: would cost about ``bits/16`` LUT4s (one LUT per 16 words and bit plus muxes),
#: more than the block it fills on ECP5 (DP16KD, 18 kbit) where Yosys' default
#: rule would keep 4 kbit in logic; iCE40 puts such tables in block RAM anyway.
BRAM_MIN_BITS = 2048
BRAM_MIN_WORDS = 32


def rom_attrs(words, width):
    """Memory attributes of a constant table of ``words`` × ``width`` bits."""
    if words * width >= BRAM_MIN_BITS and words >= BRAM_MIN_WORDS:
        return {"rom_style": "block"}
    return {}


class Pipe:
    """The pipeline registers (advanced together: by one enable, or every cycle)
    and, per stage, the tags (valid, first, last, row group, …) that travel with
    the data."""

    def __init__(self, enable=None):
        self.assigns = []
        self.comb = []
        self.stages = []
        self.inputs = []
        self.enable = Const(1) if enable is None else enable   # what advances the registers
        self.blocks = {}        # name: vendor block (its registers advance with ``enable``)

    def reg(self, value, name, *, reset=False, copy=False):
        """A register of ``value``. Data registers have no reset (``reset_less``): a
        reset net to every pipeline flip-flop was TFC-w1a1's critical path on
        ECP5 (10 ns of routing); the valid tags that qualify them are reset.
        ``copy``: one of several registers of the same value, each placed near
        its own consumers (marked with :data:`COPY_ATTR` for synthesis)."""
        value = Value.cast(value)
        reg = Signal(value.shape(), name=name, reset_less=not reset,
                     attrs={COPY_ATTR: 1} if copy else {})
        self.assigns.append(reg.eq(value))
        return reg

    def push(self, tags, name):
        """Register ``tags`` as the next stage's tags (with reset); ``inputs[-1]``
        keeps what they are loaded from."""
        self.inputs.append(dict(tags))
        self.stages.append({k: self.reg(v, f"{name}_{k}", reset=True)
                            for k, v in tags.items()})

    def advance(self, name):
        """The data moved one register on: the tags follow."""
        self.push(self.stages[-1], name)


class LaneShape:
    XNOR = "xnor"
    PAIRS = "pairs"
    PRODUCTS = "products"


def tree_levels(n):
    """Levels of a balanced adder tree over ``n`` terms (``ceil(log2(n))``)."""
    return (n - 1).bit_length()


def _tree_registers(levels, logic, every):
    """Levels (1-based) after which a sum tree of ``levels`` levels is registered:
    each of the first ``logic`` levels, then every ``every`` levels, and the last."""
    if levels == 0:
        return []
    marks = set(range(1, min(logic, levels) + 1))
    marks |= set(range(logic + every, levels + 1, every))
    marks.add(levels)
    return sorted(marks)


def lane_stages(shape, simd, mult_pairs=0):
    """Pipeline registers between the slice register and the accumulator input."""
    if shape == LaneShape.XNOR:
        levels = tree_levels(simd // 2 + simd % 2)
        return 1 + len(_tree_registers(levels, XNOR_LOGIC_LEVELS, CARRY_LEVELS_PER_STAGE))
    if shape == LaneShape.PAIRS:
        levels = tree_levels(-(-simd // 2))
        # the shared sum/difference register, the pair terms' register, then the tree
        # (MULT_PAIR_STAGES more before the pair terms with multipliers: pair_lanes)
        marks = _tree_registers(levels, PAIR_LOGIC_LEVELS, CARRY_LEVELS_PER_STAGE)
        return 2 + (MULT_PAIR_STAGES if mult_pairs else 0) + len(marks)
    return 1 + tree_levels(simd)


def _sum_tree(pipe, lanes, logic, every, name, *, register_single=True, carries=None):
    """Add each lane's terms in a balanced tree, registering after the planned levels
    (a single term is registered as it is when ``register_single``).

    Every sum is a kept wire: otherwise Yosys (``alumacc``) merges the tree
    into one multi-operand adder and builds it from full adders, two LUT4s per
    bit and level, instead of one carry-chain adder per pair of terms.
    ``carries[p]`` maps a first-level adder ``i`` (terms ``2i`` and ``2i + 1``)
    of lane ``p`` to a 1-bit value it adds too: its carry-in, no extra LUT. The
    caller guarantees the three still fit the two terms' sum width.
    """
    levels = tree_levels(len(lanes[0]))
    marks = _tree_registers(levels, logic, every)
    if not marks and register_single:
        lanes = [[pipe.reg(row[0], f"{name}_{p}")] for p, row in enumerate(lanes)]
        pipe.advance(name)
    for level in range(1, levels + 1):
        summed = []
        for p, row in enumerate(lanes):
            sums = []
            for i, term in enumerate(add_pairs(row)):
                if level == 1 and carries and i in carries[p]:
                    # the caller's terms leave room for it: no wider sum, no wider tree
                    shape = Value.cast(term).shape()
                    term = (term + carries[p][i])[:shape.width]
                    term = term.as_signed() if shape.signed else term
                if level in marks:
                    sums.append(pipe.reg(term, f"{name}{level}_{p}_{i}"))
                else:
                    wire, assign = _kept(term, f"{name}{level}_{p}_{i}_sum")
                    pipe.comb.append(assign)
                    sums.append(wire)
            summed.append(sums)
        lanes = summed
        if level in marks:
            pipe.advance(f"{name}{level}")
    return [row[0] for row in lanes]


def _kept(value, name):
    """``value`` on a wire Yosys keeps: ABC must produce it as it is, so a small
    counter stays the one-LUT-per-output-bit function it was written as instead
    of being merged into wider (LUT5/LUT6) functions of its inputs."""
    wire = Signal(Value.cast(value).shape(), name=name, attrs={"keep": 1})
    return wire, wire.eq(value)


def xnor_lanes(pipe, ws, xs):
    """Popcount of ``XNOR(ws[p][s], xs[s])`` per PE ``p`` (1-bit values).

    Level 1: each pair of XNORs and their 2-bit sum, one LUT4 per output bit
    of ``(w0, x0, w1, x1)``; level 2: two pair sums into a 3-bit sum, again
    one LUT4 per bit (4 inputs each). Both are registered: ABC would otherwise
    merge the levels into wide (LUT5–LUT7) functions that cost twice the LUT4s.
    """
    pairs = []
    for p, row in enumerate(ws):
        pairs.append([pipe.reg(~(row[s] ^ xs[s]) + ~(row[s + 1] ^ xs[s + 1]),
                               f"pc{p}_pair{s // 2}")
                      for s in range(0, len(xs) - 1, 2)])
        if len(xs) % 2:
            pairs[-1].append(pipe.reg(~(row[-1] ^ xs[-1]), f"pc{p}_single"))
    pipe.advance("pc_pairs")
    return _sum_tree(pipe, pairs, XNOR_LOGIC_LEVELS, CARRY_LEVELS_PER_STAGE, "pc",
                     register_single=False)


def pair_corrections(weights, simd, mult_pairs=0, offset=0):
    """Per row, per slice: how far below the exact sum :func:`pair_lanes` leaves it.

    A LUT pair (or single) term is negated by a ones' complement when the weight
    of its first element (an even position in the slice) is −1, leaving out
    ``+1``.  A multiplier pair's term is ``w0·x0 + w1·x1 + offset·w0`` (see
    :func:`multiplier_pair_width`), ``offset·w0`` *above* the exact sum.
    """
    rows = []
    for row in weights:
        slices = []
        for start in range(0, len(row), simd):
            k = 0
            for s in range(0, simd, 2):
                w0 = row[start + s]
                if s < 2 * mult_pairs:
                    k -= offset * w0
                elif w0 < 0:
                    k += 1
            slices.append(k)
        rows.append(slices)
    return rows


def check_mult_pairs(owner, p):
    """Raise HdlError unless ``p.mult_pairs`` (and ``p.mult_block``) suit the checked
    unit parameters ``p``."""
    if not p.mult_pairs:
        if p.mult_block:
            raise HdlError(f"{owner}: mult_block=True needs mult_pairs > 0 (the pair terms it "
                           f"would compute)")
        return
    pairs = -(-p.simd // 2)
    if not (p.w_bipolar and not p.in_bipolar and p.pe > 1 and p.simd > 1):
        raise HdlError(f"{owner}: mult_pairs={p.mult_pairs} needs ±1 weights (w_bipolar), a "
                       f"multi-bit input and pe, simd > 1 (pair lanes); use mult_pairs=0")
    if multiplier_pair_width(p.in_width, p.in_signed) is None:
        kind = "signed" if p.in_signed else "unsigned"
        raise HdlError(f"{owner}: mult_pairs needs an input of at most 8 bits signed or 7 "
                       f"unsigned to fit an 18 × 18 multiplier, not {p.in_width} bits {kind}; "
                       f"use mult_pairs=0")
    if p.mult_pairs > pairs // 2:
        raise HdlError(f"{owner}: mult_pairs={p.mult_pairs} is more than half of the {pairs} "
                       f"pair terms of simd={p.simd}; use at most {pairs // 2}")


def multiplier_pair_width(in_width, in_signed):
    """Field width ``K`` of a pair term on an 18 × 18 multiplier, or None when the
    input format does not fit one.

    With ``u0 = x0 + 2^(w−1)`` (``x0`` offset to unsigned by inverting its sign
    bit; no offset for unsigned inputs), ``A = u0 + 2^K·x1`` (a concatenation,
    ``2w + 2`` bits) and ``B = w1 + 2^K·w0`` (±1 weights), the product is
    ``L + 2^K·M + 2^(2K)·H`` with ``L = u0·w1`` and
    ``M = u0·w0 + x1·w1 = w0·x0 + w1·x1 + 2^(w−1)·w0``.  ``K = w + 2`` keeps
    ``|L| < 2^(K−1)``, so bits ``K…2K−1`` hold ``M`` less the borrow of a
    negative ``L``, and that borrow is bit ``K − 1``: ``M = P[K:2K] + P[K−1]``
    (signed), exact for every input.  The constant ``2^(w−1)·w0`` goes into the
    row's start value like the ones' complements.  Both operands must be signed
    18-bit values: ``A`` is ``2w + 2`` bits (one more when unsigned).
    """
    k = in_width + 2
    a_bits = k + in_width + (0 if in_signed else 1)
    return k if a_bits <= 18 else None


def _as_signed(value):
    value = Value.cast(value)
    return value if value.shape().signed else Cat(value, Const(0, 1)).as_signed()


def pair_lanes(pipe, ws_later, xs, *, mult_pairs=0, in_signed=True, mult_block=False):
    """``Σ w·x`` per PE for ±1 weights (bit 1 = +1) minus the row's pair corrections.

    ``xs`` are the slice register's elements; ``ws_later`` gives the weight bits
    one stage later (``ws_later()`` is called after the shared register), as
    ``[p][s]`` bits.

    With ``mult_pairs``, the first ``mult_pairs`` pairs of every PE are products
    of an 18 × 18 multiplier (:func:`multiplier_pair_width`); for those the
    weight bits are stored as ``[p][2k] = ~b0``, ``[p][2k + 1] = b1`` and
    ``[p][simd + k] = ~b1``, so the operand ``B`` needs no inverter.  Each
    multiplier term enters a first-level adder with a LUT term and brings its
    borrow bit as that adder's carry-in.  With ``mult_block`` each product is
    ECP5's MULT18X18D with its own input and output registers
    (:mod:`._ecp5_mult`); otherwise a product between fabric registers, which
    any tool maps (Yosys onto a MULT18X18D, unregistered: 87–100 MHz in TFC's
    first layer, against 108 with the block's registers).
    """
    simd = len(xs)
    field = multiplier_pair_width(Value.cast(xs[0]).shape().width, in_signed) if mult_pairs else 0
    packed = []
    for k in range(mult_pairs):
        x0, x1 = Value.cast(xs[2 * k]).as_unsigned(), Value.cast(xs[2 * k + 1])
        width = len(x0)
        u0 = Cat(x0[:width - 1], ~x0[width - 1]) if in_signed else x0
        a = Cat(u0, Const(0, field - width), x1.as_unsigned())
        packed.append(a.as_signed() if in_signed else a)
    shared = []
    for s in range(2 * mult_pairs, simd - 1, 2):
        shared.append((pipe.reg(xs[s] + xs[s + 1], f"psum{s // 2}"),
                       pipe.reg(xs[s] - xs[s + 1], f"pdiff{s // 2}")))
    # signed, so that ~ is the ones' complement -v - 1 for unsigned inputs too
    single = pipe.reg(_as_signed(xs[-1]), "psingle") if simd % 2 else None
    pipe.advance("pairs")
    ws = ws_later()
    products = []
    if mult_pairs:
        # A multiplier lands wherever the die has one free (TFC's first layer fills
        # 144 of an 85F's 156), up to half the die from the slice register and
        # from its PE: its packed input passes a copy per group of PEs (one
        # register for all took 11.7 ns of routing), then one per multiplier
        # (the block's input register), and its product a register at the
        # multiplier (the block's output register) and one near the PE. The
        # LUT terms wait as long, before their LUT: shared sums and weight bits.
        groups = [[pipe.reg(a, f"pmul{k}_group{g}", copy=True) for k, a in enumerate(packed)]
                  for g in range(min(MULT_COPY_GROUPS, len(ws)))]     # line up with `shared`

        def b_operand(nb0, b1, nb1):
            """``B = w1 + 2^K·w0`` from the stored bits ``~b0``, ``b1``, ``~b1``."""
            return Cat(Const(1, 1), nb1.replicate(field - 1), b1, nb0).as_signed()

        def field_and_borrow(product):
            """The product's bits K..2K−1 and, below them, the borrow (bit K − 1)."""
            return product[field - 1:2 * field]

        for p, row in enumerate(ws):
            products.append([])
            for k, a in enumerate(groups[p * len(groups) // len(ws)]):
                bits = (row[2 * k], row[2 * k + 1], row[simd + k])
                if mult_block:
                    block, assigns, product = registered_mult18(a, b_operand(*bits), pipe.enable,
                                                                f"pmblock{p}_{k}")
                    pipe.blocks[f"pmblock{p}_{k}"] = block
                    pipe.comb += assigns
                    products[p].append(field_and_borrow(product))
                else:
                    a_copy = pipe.reg(a, f"pmul{p}_{k}", copy=True)
                    # the weight bits only: a register of the constant 1 would be one
                    # flip-flop (opt_merge) driving all 144 multipliers
                    b = b_operand(*(pipe.reg(bit, f"pmw{p}_{k}_{i}")
                                    for i, bit in enumerate(bits)))
                    products[p].append(pipe.reg(field_and_borrow(a_copy * b),
                                                f"pmprod{p}_{k}"))
        for stage in range(MULT_PAIR_STAGES):
            shared = [(pipe.reg(total, f"psum{k}_late{stage}"),
                       pipe.reg(diff, f"pdiff{k}_late{stage}"))
                      for k, (total, diff) in enumerate(shared)]
            single = pipe.reg(single, f"psingle_late{stage}") if single is not None else None
            ws = [[pipe.reg(bit, f"w{p}_{s}_late{stage}") if s >= 2 * mult_pairs else None
                   for s, bit in enumerate(row[:simd])] for p, row in enumerate(ws)]
            pipe.advance(f"pairs_late{stage}")
    lanes, carries = [], []
    for p, row in enumerate(ws):
        lut_terms = []
        for k, (total, diff) in enumerate(shared):
            w0, w1 = row[2 * (mult_pairs + k)], row[2 * (mult_pairs + k) + 1]
            chosen = Mux(w0 ^ w1, diff, total)
            lut_terms.append(Mux(w0, chosen, ~chosen))
        if single is not None:
            lut_terms.append(Mux(row[simd - 1], single, ~single))
        # registered: the shared sums travel to every PE (6.6 ns of routing on
        # ECP5 in TFC's 8-bit first layer), too far for a LUT and an adder after
        lut_terms = [pipe.reg(t, f"pterm{p}_{k}") for k, t in enumerate(lut_terms)]
        mult_terms, borrows = [], {}
        for k, product in enumerate(products[p] if mult_pairs else ()):
            product = pipe.reg(product, f"pmterm{p}_{k}")
            mult_terms.append(product[1:].as_signed())
            borrows[k] = product[0]
        # each multiplier term first meets a LUT term (``mult_pairs`` is at most
        # half the terms), in adder k, whose carry-in takes the borrow; as
        # |M| < 2^(K−1), term + borrow + LUT term fit the two terms' sum width
        terms = []
        for k, term in enumerate(mult_terms):
            terms += [term, lut_terms[k]]
        lanes.append(terms + lut_terms[len(mult_terms):])
        carries.append(borrows)
    pipe.advance("pterms")
    return _sum_tree(pipe, lanes, PAIR_LOGIC_LEVELS, CARRY_LEVELS_PER_STAGE, "pt",
                     register_single=False, carries=carries if mult_pairs else None)


def product_lanes(pipe, ws, xs, product):
    """``Σ product(w, x)`` per PE: each product registered, then a tree registered
    at every level."""
    lanes = [[pipe.reg(product(w, x), f"prod{p}_{s}") for s, (w, x) in enumerate(zip(row, xs))]
             for p, row in enumerate(ws)]
    pipe.advance("prod")
    return _sum_tree(pipe, lanes, 0, 1, "tree", register_single=False)
