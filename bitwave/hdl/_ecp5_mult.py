"""ECP5's 18 × 18 multiplier block (``MULT18X18D``) with its own registers.

Yosys maps a product onto a MULT18X18D but leaves its input and output
registers unused, so a product between fabric registers has the block's
3.9 ns plus the routing to and from wherever the placer put the block: with
144 of an 85F's 156 blocks in use (TFC's 8-bit first layer with pair terms on
multipliers), up to about 3.5 ns each way, 87–100 MHz.  Instantiated with its
input and output registers, the routes to and from the block each get a
cycle of their own.

The block is a vendor primitive: synthesis for ECP5 knows it, other
families do not, and simulators get :data:`MULT18X18D_MODEL`, a behavioural
model of the configuration used here (see ``bitwave.sim``).
"""

from amaranth.hdl import ClockSignal, Const, Instance, Signal, signed

__all__ = ["ECP5_MULT", "registered_mult18", "uses_ecp5_mult", "MULT18X18D_MODEL"]

ECP5_MULT = "MULT18X18D"


def uses_ecp5_mult(verilog: bytes) -> bool:
    """Whether the Verilog instantiates :data:`ECP5_MULT` (``MULT18X18D #(...) name (...)``)."""
    return f"{ECP5_MULT} ".encode() in verilog


def registered_mult18(a, b, enable, name):
    """``a · b`` for signed operands of at most 18 bits, with registers at the block's
    inputs and output: returns ``(block, assignments, product)``, the product being
    that of the operands of two ``enable`` cycles ago, as 36 signed bits."""
    a18, b18 = Signal(signed(18), name=f"{name}_a"), Signal(signed(18), name=f"{name}_b")
    p = Signal(36, name=f"{name}_p")
    ports = {f"i_{port}{i}": value[i] for port, value in (("A", a18), ("B", b18)) for i in range(18)}
    ports.update({f"i_C{i}": Const(0) for i in range(18)})
    ports.update({f"o_P{i}": p[i] for i in range(36)})
    block = Instance(
        ECP5_MULT,
        p_REG_INPUTA_CLK="CLK0", p_REG_INPUTB_CLK="CLK0", p_REG_OUTPUT_CLK="CLK0",
        p_REG_PIPELINE_CLK="NONE", p_REG_INPUTC_CLK="NONE", p_GSR="DISABLED",
        p_RESETMODE="SYNC", p_CLK0_DIV="ENABLED", p_SOURCEB_MODE="B_SHIFT",
        p_MULT_BYPASS="DISABLED",
        i_CLK0=ClockSignal(), i_CE0=enable, i_RST0=Const(0),
        i_SIGNEDA=Const(1), i_SIGNEDB=Const(1), i_SOURCEA=Const(0), i_SOURCEB=Const(0),
        **ports)
    return block, [a18.eq(a), b18.eq(b)], p.as_signed()


def _model():
    a = ", ".join(f"A{i}" for i in range(18))
    b = ", ".join(f"B{i}" for i in range(18))
    c = ", ".join(f"C{i}" for i in range(18))
    p = ", ".join(f"P{i}" for i in range(36))
    params = "\n".join(f'    parameter {name} = "{value}";' for name, value in (
        ("REG_INPUTA_CLK", "NONE"), ("REG_INPUTB_CLK", "NONE"), ("REG_INPUTC_CLK", "NONE"),
        ("REG_PIPELINE_CLK", "NONE"), ("REG_OUTPUT_CLK", "NONE"), ("GSR", "ENABLED"),
        ("RESETMODE", "SYNC"), ("CLK0_DIV", "ENABLED"), ("SOURCEB_MODE", "B_SHIFT"),
        ("MULT_BYPASS", "DISABLED")))
    return f"""// bitwave's behavioural model of ECP5's MULT18X18D, for simulation only:
// P = A * B (signed or unsigned per SIGNEDA/SIGNEDB), each of the input, pipeline
// and output registers present when its REG_*_CLK is "CLK0" (clocked by CLK0,
// enabled by CE0, synchronous reset RST0). Cascade, C, shift and other clocks are
// not modelled; bitwave instantiates the block only in this configuration.
/* verilator lint_off UNUSEDSIGNAL */
/* verilator lint_off UNUSEDPARAM */
module {ECP5_MULT}({a}, {b}, {c}, SIGNEDA, SIGNEDB, SOURCEA, SOURCEB, CLK0, CE0, RST0, {p});
{params}
    input {a}, {b}, {c}, SIGNEDA, SIGNEDB, SOURCEA, SOURCEB, CLK0, CE0, RST0;
    output {p};
    wire [17:0] a_in = {{{", ".join(f"A{i}" for i in reversed(range(18)))}}};
    wire [17:0] b_in = {{{", ".join(f"B{i}" for i in reversed(range(18)))}}};
    reg [17:0] a_reg = 18'd0, b_reg = 18'd0;
    reg sa_reg = 1'b0, sb_reg = 1'b0;
    always @(posedge CLK0) if (RST0) begin a_reg <= 18'd0; sa_reg <= 1'b0; end
                           else if (CE0) begin a_reg <= a_in; sa_reg <= SIGNEDA; end
    always @(posedge CLK0) if (RST0) begin b_reg <= 18'd0; sb_reg <= 1'b0; end
                           else if (CE0) begin b_reg <= b_in; sb_reg <= SIGNEDB; end
    wire [17:0] a = REG_INPUTA_CLK == "NONE" ? a_in : a_reg;
    wire [17:0] b = REG_INPUTB_CLK == "NONE" ? b_in : b_reg;
    wire sa = REG_INPUTA_CLK == "NONE" ? SIGNEDA : sa_reg;
    wire sb = REG_INPUTB_CLK == "NONE" ? SIGNEDB : sb_reg;
    wire [35:0] product = $signed({{sa & a[17], a}}) * $signed({{sb & b[17], b}});
    reg [35:0] pipe_reg = 36'd0, out_reg = 36'd0;
    always @(posedge CLK0) if (RST0) pipe_reg <= 36'd0; else if (CE0) pipe_reg <= product;
    wire [35:0] piped = REG_PIPELINE_CLK == "NONE" ? product : pipe_reg;
    always @(posedge CLK0) if (RST0) out_reg <= 36'd0; else if (CE0) out_reg <= piped;
    wire [35:0] result = REG_OUTPUT_CLK == "NONE" ? piped : out_reg;
    assign {{{", ".join(f"P{i}" for i in reversed(range(36)))}}} = result;
endmodule
/* verilator lint_on UNUSEDPARAM */
/* verilator lint_on UNUSEDSIGNAL */
"""


#: Verilog model of :data:`ECP5_MULT` for simulators (never for synthesis, where it
#: would replace the block).
MULT18X18D_MODEL = _model()
