"""Resource estimates of the WDF cores (iCE40 costs): :func:`estimate_wdf` for a bank of
clipper cores, :func:`estimate_wdf_micro` for the microcoded core of any tree."""

from ._resources import Estimate, Resources
from ._wdf_serial import narrow_acc_width

__all__ = ["estimate_wdf", "estimate_wdf_micro", "DSP_BUDGET"]


#: Calibration against Yosys ``synth_ice40`` + nextpnr of the clipper core (one channel):
#: 24-bit waves (root table in block RAM): 912 LUT4 and 6 DSPs with ``-dsp``, 2296 LUT4
#: without; 16-bit waves (table in LUTs): 739 LUT4 and 2 DSPs with ``-dsp``.
_LUT_PER_WAVE_BIT = 37          # datapath, clamps, muxes and sequencing, per wave bit
_LUT_PER_SOFT_PRODUCT_BIT = 1.4
_DSP_WIDTH, _DSP_MIN_SLICE = 16, 2      # SB_MAC16 operands; Yosys keeps thinner slices in LUTs
#: The narrow core's accumulator (adder and shift multiplexer) per bit, and its digit
#: multiplexers (calibrated against Yosys ``synth_ice40 -dsp``; see :func:`estimate_wdf`).
_NARROW_LUT_PER_ACC_BIT = 2
_NARROW_DIGIT_LUT = 64
#: DSP blocks of the smallest device with them that bitwave targets (iCE40UP5K).
DSP_BUDGET = 8
#: Calibration of the microcoded core against Yosys ``synth_ice40 -dsp`` (2026-11-30, 20-bit
#: I/O): the clipper (6 registers of 27 bits) 1236 LUT4, 219 FF, 6 SB_MAC16, 6 BRAM; a
#: three-deep tree (16 registers of 24 bits) 2151 LUT4, 491 FF, 6 SB_MAC16, 1 BRAM.  Fitted
#: exactly to those two: LUT4s per register bit (the six operand multiplexers and the write
#: enables) and per wave bit (adders, negations, clamps, the multiplier's operand muxes).
_MICRO_LUT_PER_REGISTER_BIT = 2.38
_MICRO_LUT_PER_WAVE_BIT = 30.9


def _dsp_slices(width):
    return width // _DSP_WIDTH + (width % _DSP_WIDTH >= _DSP_MIN_SLICE)


def estimate_wdf(params, model=None):
    """Estimate LUT4s, flip-flops, block RAMs and DSPs of a :class:`WdfBank` of cores with
    ``params`` (one :class:`WdfCoreParams` per channel; iCE40 costs).

    Per core, following :meth:`WdfCore.elaborate`: six wave-wide registers,
    the output, interpolation-fraction and curve registers; the datapath
    (adders, saturating clamps, the step multiplexers) at a measured cost per
    wave bit; the even and odd breakpoint values and the curvatures in block
    RAM or LUT ROM by Yosys' rule (:class:`~bitwave.hdl.CostModel`); the one
    shared multiplier (``wave_width + 3`` by the wider of the coefficient and
    the interpolation fraction, plus 2) and the curve's two (``Q`` by ``Q + 1``
    bits, curvature by ``Q + 1``).  Those go to SB_MAC16 DSPs, cut
    into 16-bit slices as Yosys' ``mul2dsp`` does, when the whole bank needs at
    most :data:`DSP_BUDGET` of them (then the board flow synthesises with
    ``-dsp``), else to soft multipliers.  Returns an :class:`Estimate`.
    """
    from ._estimate import ICE40
    model = model or ICE40
    cores = []
    for p in params:
        W, S = p.wave_width, max(p.root.segment_shift, 1)
        mults, table_lut, table_ff, bram, root_ff = _root_cost(p.root, model, shared_main=True)
        mults += ((W + 3, max(p.coeff.bit_length(), S) + 2),)
        lut = _LUT_PER_WAVE_BIT * W + table_lut + model.control_lut
        ff = 6 * W + p.out_width + root_ff + 8 + table_ff
        if p.narrow:
            # One 16 × 16 multiplier: the accumulator (its adder and 0/15-bit shift
            # multiplexer), the digit multiplexers in front of the multiplier, the registered
            # curvature product and the digit counter.
            acc = narrow_acc_width(p)
            mults = ((_DSP_WIDTH, _DSP_WIDTH),)
            lut += _NARROW_LUT_PER_ACC_BIT * acc + _NARROW_DIGIT_LUT
            ff += acc + p.root.curvature_width + p.root.curve_bits + 5
        cores.append((lut, ff, bram, mults))
    return _total(cores)


def _root_cost(rt, model, *, shared_main: bool = False):
    """(multiplies, table LUTs, table FFs, block RAMs, datapath FFs) of a root table; with
    ``shared_main`` its main interpolation product runs on the caller's multiplier."""
    W, S, Q = rt.wave_width, max(rt.segment_shift, 1), max(rt.curve_bits, 1)
    mults = ((Q, Q + 1), (rt.curvature_width, Q + 1))
    if not shared_main:
        mults = ((W + 1, S + 1),) + mults
    table_lut = table_ff = bram = 0
    for words, width in rt.memories():
        blocks = min(-(-width // w) * -(-words // d) for d, w in model.bram_shapes)
        if blocks * model.bram_cost < words * width * model.rom_logic_cost_per_bit:
            bram += blocks
        else:
            per_bit = -(-words // model.rom_words_per_lut)
            table_lut += width * (per_bit + (per_bit - 1) * model.rom_mux_lut_per_block)
            table_ff += width
    return mults, table_lut, table_ff, bram, S + Q + W + 3


def _total(cores) -> Estimate:
    """The bank's estimate from per-core (LUT, FF, BRAM, multiplies): the multiplies go to DSPs
    when all of them fit :data:`DSP_BUDGET`, else to LUTs."""
    dsp = sum(_dsp_slices(a) * _dsp_slices(b) for *_, mults in cores for a, b in mults)
    use_dsp = dsp <= DSP_BUDGET
    parts = {}
    for i, (lut, ff, _, mults) in enumerate(cores):
        soft = 0 if use_dsp else sum(a * b for a, b in mults) * _LUT_PER_SOFT_PRODUCT_BIT
        parts[f"ch{i}"] = (round(lut + soft), ff)
    return Estimate(Resources(lut=sum(v[0] for v in parts.values()),
                              ff=sum(v[1] for v in parts.values()),
                              bram=sum(c[2] for c in cores), dsp=dsp if use_dsp else 0),
                    parts=parts)


def estimate_wdf_micro(params, model=None):
    """Estimate LUT4s, flip-flops, block RAMs and DSPs of one :class:`WdfMicroCore` built from
    ``params`` (a :class:`WdfMicroParams`; iCE40 costs).

    Following :meth:`WdfMicroCore.elaborate`: the register file (``registers ×
    wave_width`` flip-flops) read by six operand multiplexers, priced per
    register bit; the adders, negations and clamps per wave bit (both
    measured, see ``_MICRO_LUT_PER_REGISTER_BIT``); the one multiplier
    (``wave_width + 2`` by ``coeff_frac + 2`` bits, which also serves the root
    table's interpolation) and, with a root, the table's memories and its two
    small multiplies for the curvature term (:func:`_root_cost`).  Multiplies go to
    SB_MAC16 DSPs when they fit :data:`DSP_BUDGET`, else to LUTs.  Returns an
    :class:`Estimate`.
    """
    from ._estimate import ICE40
    model = model or ICE40
    W, N, steps = params.wave_width, params.registers, len(params.steps)
    mults = ((W + 2, params.coeff_frac + 2),)
    lut = (_MICRO_LUT_PER_REGISTER_BIT * N * W + _MICRO_LUT_PER_WAVE_BIT * W
           + model.control_lut)
    ff = N * W + params.out_width + steps.bit_length() + 2
    bram = 0
    if params.halves:
        root_mults, table_lut, table_ff, bram, root_ff = _root_cost(params.root, model,
                                                                    shared_main=True)
        mults += root_mults
        lut += table_lut
        ff += table_ff + root_ff
    return _total([(lut, ff, bram, mults)])
