"""A tiny known accelerator, written as a build folder, to check boards without a model.

``bitwave build`` and ``bitwave run`` on it check the whole path — synthesis,
place and route, the UART wrapper, the serial link — with a result anyone can
compute by hand: every element plus a constant.
"""

from __future__ import annotations

from pathlib import Path

from amaranth.back import verilog
from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..build_folder import BuildManifest, Layer, Port
from ..errors import BoardError
from ..hdl import Resources, StreamFormat, port_manifest

__all__ = ["AddConstant", "write_selftest_build", "selftest_expected"]


class AddConstant(wiring.Component):
    """``source[i] = sink[i] + addend``, one vector per beat, one register stage.

    Output elements are one bit wider than input elements so nothing overflows.
    """

    def __init__(self, *, elems: int, elem_width: int, signed: bool = False, addend: int = 1):
        if elems < 1 or elem_width < 1:
            raise BoardError(f"AddConstant needs elems >= 1 and elem_width >= 1, "
                             f"not {elems} and {elem_width}")
        self.elems, self.elem_width, self.signed, self.addend = elems, elem_width, signed, addend
        super().__init__({
            "sink": In(stream.Signature(elems * elem_width)),
            "source": Out(stream.Signature(elems * (elem_width + 1))),
        })

    def elaborate(self, platform):
        m = Module()
        shape_out = (signed if self.signed else unsigned)(self.elem_width + 1)
        m.d.comb += self.sink.ready.eq(~self.source.valid | self.source.ready)
        with m.If(self.source.valid & self.source.ready):
            m.d.sync += self.source.valid.eq(0)
        with m.If(self.sink.valid & self.sink.ready):
            m.d.sync += self.source.valid.eq(1)
            for i in range(self.elems):
                x = self.sink.payload[i * self.elem_width:(i + 1) * self.elem_width]
                x = x.as_signed() if self.signed else x.as_unsigned()
                y = Signal(shape_out, name=f"y{i}")
                m.d.comb += y.eq(x + self.addend)
                w = self.elem_width + 1
                m.d.sync += self.source.payload[i * w:(i + 1) * w].eq(y)
        return m


def write_selftest_build(folder: Path | str, *, elems: int = 4, elem_width: int = 8,
                         signed: bool = False, addend: int = 3) -> Path:
    """Write ``bitwave_top.v`` and ``manifest.json`` for an :class:`AddConstant` accelerator."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    comp = AddConstant(elems=elems, elem_width=elem_width, signed=signed, addend=addend)
    (folder / "bitwave_top.v").write_text(verilog.convert(comp, name="bitwave_top"))
    # A rough analytic estimate (one LUT4 and one FF per output bit), kept honest
    # by the measured numbers next to it in the report.
    bits_out = elems * (elem_width + 1)
    estimate = Resources(lut=bits_out, ff=bits_out + 1)
    sink = StreamFormat(elems, elem_width, signed)
    layer = Layer(name=f"add{addend}", kind="add-constant", ops=(), rows=elems, cols=1, pe=None,
                  simd=None, cycles=1, estimate=estimate, latency=1)
    BuildManifest(name=f"selftest-add{addend}", sink=sink,
                  source=StreamFormat(elems, elem_width + 1, signed),
                  ports=tuple(Port(n, p["direction"], p["width"]) for n, p in port_manifest(comp).items()),
                  cycles_per_frame=1, latency=1, pipeline=(), layers=(layer,), estimate=estimate,
                  selftest_addend=addend).save(folder)
    return folder


def selftest_expected(frames, addend: int = 3) -> list[list[int]]:
    """What the self-test accelerator returns for ``frames``."""
    return [[int(x) + addend for x in frame] for frame in frames]
