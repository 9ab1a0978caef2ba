"""manifest.json reading and the UART frame encoding (element i at bits [i·w, (i+1)·w))."""

import json

import pytest
from hypothesis import given, strategies as st

from bitwave.boards import StreamFormat, load_manifest, pack_frame, unpack_frame, write_selftest_build
from bitwave.errors import BoardError


def test_selftest_build_manifest(tmp_path):
    write_selftest_build(tmp_path, elems=3, elem_width=5, signed=True, addend=-2)
    m = load_manifest(tmp_path)
    assert m.sink == StreamFormat(3, 5, True)
    assert m.source == StreamFormat(3, 6, True)
    assert (m.sink.width, m.sink.nbytes, m.source.nbytes) == (15, 2, 3)
    assert m.biggest_layer().name == "add-2"
    assert "module bitwave_top(" in m.verilog.read_text()


def test_manifest_errors(tmp_path):
    with pytest.raises(BoardError, match="no manifest.json; is this a folder written by"):
        load_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text("{nope")
    with pytest.raises(BoardError, match="not valid JSON"):
        load_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"verilog": "x.v"}))
    with pytest.raises(BoardError, match="Verilog file 'x.v' is missing"):
        load_manifest(tmp_path)
    (tmp_path / "x.v").write_text("module bitwave_top; endmodule")
    (tmp_path / "manifest.json").write_text(json.dumps(
        {"verilog": "x.v", "sink": {"elems": 2, "elem_width": 0, "signed": False},
         "source": {"elems": 1, "elem_width": 1, "signed": False}}))
    with pytest.raises(BoardError, match="'sink': stream elem_width must be a positive integer, not 0"):
        load_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"verilog": "x.v", "sink": {"elems": 2}}))
    with pytest.raises(BoardError, match="'sink' needs elems, elem_width and signed"):
        load_manifest(tmp_path)


def test_layout_is_little_endian_element_zero_lowest():
    fmt = StreamFormat(elems=3, elem_width=4, signed=False)
    assert pack_frame([0x1, 0x2, 0x3], fmt) == bytes([0x21, 0x03])
    signed = StreamFormat(elems=2, elem_width=3, signed=True)
    assert pack_frame([-1, 2], signed) == bytes([0b010111])
    assert unpack_frame(bytes([0b010111]), signed) == [-1, 2]


def test_pack_rejects_out_of_range():
    with pytest.raises(BoardError, match=r"element 1 = 8 does not fit signed 4-bit \[-8, 7\]"):
        pack_frame([0, 8], StreamFormat(2, 4, True))
    with pytest.raises(BoardError, match="frame has 1 elements, the accelerator takes 2"):
        pack_frame([0], StreamFormat(2, 4, True))


@given(st.data(), st.integers(1, 9), st.integers(1, 13), st.booleans())
def test_pack_unpack_round_trip(data, elems, width, signed):
    fmt = StreamFormat(elems, width, signed)
    lo, hi = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if signed else (0, (1 << width) - 1)
    values = data.draw(st.lists(st.integers(lo, hi), min_size=elems, max_size=elems))
    packed = pack_frame(values, fmt)
    assert len(packed) == fmt.nbytes
    assert unpack_frame(packed, fmt) == values
