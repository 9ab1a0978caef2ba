"""The build manifest as boards read it, and the UART frame encoding (element i at bits [i·w, (i+1)·w))."""

import json

import pytest
from hypothesis import given, strategies as st

from bitwave.boards import write_selftest_build
from bitwave.build_folder import BuildManifest
from bitwave.errors import BuildFolderError, HdlError
from bitwave.hdl import StreamFormat


def test_selftest_build_manifest(tmp_path):
    write_selftest_build(tmp_path, elems=3, elem_width=5, signed=True, addend=-2)
    m = BuildManifest.load(tmp_path)
    assert m.sink == StreamFormat(3, 5, True)
    assert m.source == StreamFormat(3, 6, True)
    assert (m.sink.bits, m.sink.nbytes, m.source.nbytes) == (15, 2, 3)
    assert m.biggest_layer().name == "add-2"
    assert m.selftest_addend == -2
    assert "module bitwave_top(" in (tmp_path / m.verilog).read_text()


def test_manifest_errors(tmp_path):
    with pytest.raises(BuildFolderError, match="not a bitwave build folder"):
        BuildManifest.load(tmp_path)
    (tmp_path / "manifest.json").write_text("{nope")
    with pytest.raises(BuildFolderError, match="corrupt manifest"):
        BuildManifest.load(tmp_path)
    write_selftest_build(tmp_path)
    data = json.loads((tmp_path / "manifest.json").read_text())
    (tmp_path / "manifest.json").write_text(json.dumps(dict(data, verilog="x.v")))
    with pytest.raises(BuildFolderError, match="Verilog file 'x.v' is missing"):
        BuildManifest.load(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps(dict(data, sink=dict(data["sink"], width=0))))
    with pytest.raises(BuildFolderError, match="stream width must be a positive integer, not 0"):
        BuildManifest.load(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps(dict(data, sink={"elems": 2})))
    with pytest.raises(BuildFolderError, match="corrupt manifest"):
        BuildManifest.load(tmp_path)


def test_manifest_round_trips(tmp_path):
    write_selftest_build(tmp_path, elems=2, elem_width=3)
    m = BuildManifest.load(tmp_path)
    m.save(tmp_path)
    assert BuildManifest.load(tmp_path) == m


def test_layout_is_little_endian_element_zero_lowest():
    fmt = StreamFormat(elems=3, width=4, signed=False)
    assert fmt.to_bytes([0x1, 0x2, 0x3]) == bytes([0x21, 0x03])
    signed = StreamFormat(elems=2, width=3, signed=True)
    assert signed.to_bytes([-1, 2]) == bytes([0b010111])
    assert signed.from_bytes(bytes([0b010111])) == [-1, 2]


def test_pack_rejects_out_of_range():
    with pytest.raises(HdlError, match=r"element 1 = 8 does not fit signed 4-bit \[-8, 7\]"):
        StreamFormat(2, 4, True).to_bytes([0, 8])
    with pytest.raises(HdlError, match="frame has 1 elements, the accelerator takes 2"):
        StreamFormat(2, 4, True).to_bytes([0])


@given(st.data(), st.integers(1, 9), st.integers(1, 13), st.booleans())
def test_pack_unpack_round_trip(data, elems, width, signed):
    fmt = StreamFormat(elems, width, signed)
    values = data.draw(st.lists(st.integers(fmt.lo, fmt.hi), min_size=elems, max_size=elems))
    packed = fmt.to_bytes(values)
    assert len(packed) == fmt.nbytes
    assert fmt.from_bytes(packed) == values
    words = fmt.pack_words([values])
    assert fmt.unpack_words(words).tolist() == [values]
