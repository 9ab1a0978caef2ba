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
- **Products** (everything else): a registered product per element and a
  balanced adder tree registered at every level.
"""

from amaranth.hdl import Cat, Const, Mux, Signal, Value

from ._arith import add_pairs

__all__ = ["BRAM_MIN_BITS", "BRAM_MIN_WORDS", "rom_attrs", "Pipe", "LaneShape", "lane_stages",
           "tree_levels", "pair_corrections", "xnor_lanes", "pair_lanes", "product_lanes"]

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

    def __init__(self):
        self.assigns = []
        self.comb = []
        self.stages = []
        self.inputs = []

    def reg(self, value, name, *, reset=False):
        """A register of ``value``. Data registers have no reset (``reset_less``): a
        reset net to every pipeline flip-flop was TFC-w1a1's critical path on
        ECP5 (10 ns of routing); the valid tags that qualify them are reset."""
        value = Value.cast(value)
        reg = Signal(value.shape(), name=name, reset_less=not reset)
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


def lane_stages(shape, simd):
    """Pipeline registers between the slice register and the accumulator input."""
    if shape == LaneShape.XNOR:
        levels = tree_levels(simd // 2 + simd % 2)
        return 1 + len(_tree_registers(levels, XNOR_LOGIC_LEVELS, CARRY_LEVELS_PER_STAGE))
    if shape == LaneShape.PAIRS:
        levels = tree_levels(-(-simd // 2))
        # the shared sum/difference register, the pair terms' register, then the tree
        marks = _tree_registers(levels, PAIR_LOGIC_LEVELS, CARRY_LEVELS_PER_STAGE)
        return 2 + len(marks)
    return 1 + tree_levels(simd)


def _sum_tree(pipe, lanes, logic, every, name, *, register_single=True):
    """Add each lane's terms in a balanced tree, registering after the planned levels
    (a single term is registered as it is when ``register_single``).

    Every sum is a kept wire: otherwise Yosys (``alumacc``) merges the tree
    into one multi-operand adder and builds it from full adders, two LUT4s per
    bit and level, instead of one carry-chain adder per pair of terms.
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


def pair_corrections(weights, simd):
    """Per row: how many of its pair (or single) terms :func:`pair_lanes` negates,
    i.e. the ``+1`` each ones' complement leaves out.  A term is negated when
    the weight of its first element (an even position in the slice) is −1."""
    return [sum(1 for c, w in enumerate(row) if (c % simd) % 2 == 0 and w < 0)
            for row in weights]


def _as_signed(value):
    value = Value.cast(value)
    return value if value.shape().signed else Cat(value, Const(0, 1)).as_signed()


def pair_lanes(pipe, ws_later, xs):
    """``Σ w·x`` per PE for ±1 weights (bit 1 = +1) minus the row's pair corrections.

    ``xs`` are the slice register's elements; ``ws_later`` gives the weight bits
    one stage later (``ws_later()`` is called after the shared register), as
    ``[p][s]`` bits.
    """
    shared = []
    for s in range(0, len(xs) - 1, 2):
        shared.append((pipe.reg(xs[s] + xs[s + 1], f"psum{s // 2}"),
                       pipe.reg(xs[s] - xs[s + 1], f"pdiff{s // 2}")))
    # signed, so that ~ is the ones' complement -v - 1 for unsigned inputs too
    single = pipe.reg(_as_signed(xs[-1]), "psingle") if len(xs) % 2 else None
    pipe.advance("pairs")
    ws = ws_later()
    lanes = []
    for p, row in enumerate(ws):
        terms = []
        for k, (total, diff) in enumerate(shared):
            w0, w1 = row[2 * k], row[2 * k + 1]
            chosen = Mux(w0 ^ w1, diff, total)
            terms.append(Mux(w0, chosen, ~chosen))
        if single is not None:
            terms.append(Mux(row[-1], single, ~single))
        # registered: the shared sums travel to every PE (6.6 ns of routing on
        # ECP5 in TFC's 8-bit first layer), too far for a LUT and an adder after
        lanes.append([pipe.reg(t, f"pterm{p}_{k}") for k, t in enumerate(terms)])
    pipe.advance("pterms")
    return _sum_tree(pipe, lanes, PAIR_LOGIC_LEVELS, CARRY_LEVELS_PER_STAGE, "pt",
                     register_single=False)


def product_lanes(pipe, ws, xs, product):
    """``Σ product(w, x)`` per PE: each product registered, then a tree registered
    at every level."""
    lanes = [[pipe.reg(product(w, x), f"prod{p}_{s}") for s, (w, x) in enumerate(zip(row, xs))]
             for p, row in enumerate(ws)]
    pipe.advance("prod")
    return _sum_tree(pipe, lanes, 0, 1, "tree", register_single=False)
