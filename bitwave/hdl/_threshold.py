"""Elementwise activation (multi-threshold or requantisation) on a whole vector."""

from amaranth.hdl import Cat, Module, Signal, signed, unsigned
from amaranth.lib import stream
from amaranth.lib.wiring import In, Out

from ._arith import clamp_thresholds, count_at_least, requant_clip, requant_scale
from ._checked import CheckedComponent
from ._params import check_activation, check_bool, check_int, int_range

__all__ = ["ThresholdUnit"]


class ThresholdUnit(CheckedComponent):
    """Apply one activation to each of the ``n`` elements of a vector.

    For a MultiThreshold or Requant that does not follow a matrix-vector unit.
    Semantics are those of :class:`MatVecUnit`'s activation with ``acc`` being
    the input element: ``thresholds`` (n × L, ascending rows) give
    ``out = out_bias + #{k : x >= T[k]}``; ``requant = (mult, shift, lo, hi)``
    gives ``clip((x·mult + round) >> shift, lo, hi)``. Exactly one of them.

    One register stage: the activation is combinational between ``sink`` and
    the output register; ``sink.ready = ~source.valid | source.ready``, so it
    sustains one vector per cycle. ``latency`` is 1, ``cycles_per_frame`` 1.
    """

    @classmethod
    def check(cls, *, n, in_width, in_signed, thresholds=None, out_width, out_signed,
              out_bias=0, requant=None) -> dict:
        """The checked parameters (HdlError naming the parameter when one is unusable)."""
        owner = "ThresholdUnit"
        n = check_int(owner, "n", n, minimum=1)
        in_width = check_int(owner, "in_width", in_width, minimum=1)
        in_signed = check_bool(owner, "in_signed", in_signed)
        activation = check_activation(
            owner, rows=n, thresholds=thresholds, requant=requant, out_width=out_width,
            out_signed=out_signed, out_bias=out_bias, passthrough_width=None)
        return dict(n=n, in_width=in_width, in_signed=in_signed, activation=activation,
                    thresholds=activation.thresholds, requant=activation.requant,
                    out_width=activation.out_width, out_signed=activation.out_signed,
                    out_bias=activation.out_bias)

    def __init__(self, **_):
        self.cycles_per_frame = 1
        self.latency = 1
        super().__init__({
            "sink": In(stream.Signature(unsigned(self.n * self.in_width))),
            "source": Out(stream.Signature(unsigned(self.n * self.out_width))),
        })

    def elaborate(self, platform):
        m = Module()
        iw, ow = self.in_width, self.out_width
        in_lo, in_hi = int_range(iw, self.in_signed)
        out_shape = signed(ow) if self.out_signed else unsigned(ow)
        outs = []
        for i in range(self.n):
            x = self.sink.payload[i * iw:(i + 1) * iw]
            x = x.as_signed() if self.in_signed else x
            if self.thresholds is not None:
                value = self.out_bias + count_at_least(
                    x, clamp_thresholds(self.thresholds[i], in_lo, in_hi))
            else:
                mult, shift, lo, hi = self.requant
                value = requant_clip(requant_scale(x, mult, shift), shift, lo, hi)
            out = Signal(out_shape, name=f"out{i}")
            m.d.comb += out.eq(value)
            outs.append(out)

        m.d.comb += self.sink.ready.eq(~self.source.valid | self.source.ready)
        with m.If(self.sink.ready):
            m.d.sync += [self.source.valid.eq(self.sink.valid),
                         self.source.payload.eq(Cat(*outs))]
        return m
