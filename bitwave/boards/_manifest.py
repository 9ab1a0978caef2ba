"""The build folder that ``bitwave compile`` writes, as boards sees it.

Boards never look at the IR: they read ``manifest.json`` (stream formats,
per-layer resource estimates) and wrap ``bitwave_top.v`` as a black box.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from ..errors import BoardError

__all__ = ["StreamFormat", "LayerEstimate", "Manifest", "load_manifest",
           "pack_frame", "unpack_frame"]

RESOURCES = ("lut", "ff", "bram", "dsp")


@dataclass(frozen=True)
class StreamFormat:
    """One vector per stream beat: ``elems`` elements of ``elem_width`` bits, element 0 lowest."""
    elems: int
    elem_width: int
    signed: bool

    def __post_init__(self):
        for name in ("elems", "elem_width"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise BoardError(f"stream {name} must be a positive integer, not {value!r}")
        if not isinstance(self.signed, bool):
            raise BoardError(f"stream signed must be true or false, not {self.signed!r}")

    @property
    def width(self) -> int:
        return self.elems * self.elem_width

    @property
    def nbytes(self) -> int:
        """Bytes per vector on the UART."""
        return (self.width + 7) // 8


@dataclass(frozen=True)
class LayerEstimate:
    name: str
    estimate: dict[str, int]
    pe: int | None = None
    simd: int | None = None


@dataclass(frozen=True)
class Manifest:
    folder: Path
    top: str
    verilog: Path
    sink: StreamFormat
    source: StreamFormat
    layers: tuple[LayerEstimate, ...]
    estimate: dict[str, int]

    def biggest_layer(self, resource: str = "lut") -> LayerEstimate | None:
        """The layer with the largest estimate of ``resource`` (the one to fold first)."""
        if not self.layers:
            return None
        return max(self.layers, key=lambda layer: layer.estimate.get(resource, 0))


def _stream(data: dict, key: str, path: Path) -> StreamFormat:
    try:
        spec = data[key]
        # `bitwave compile` names the element width "width"; "elem_width" is the documented name.
        width = spec["elem_width"] if "elem_width" in spec else spec["width"]
        return StreamFormat(elems=spec["elems"], elem_width=width, signed=spec["signed"])
    except (KeyError, TypeError) as exc:
        raise BoardError(f"{path}: '{key}' needs elems, elem_width and signed ({exc!r} missing); "
                         f"rerun `bitwave compile`") from None
    except BoardError as exc:
        raise BoardError(f"{path}: '{key}': {exc}") from None


def _estimate(value, where: str, path: Path) -> dict[str, int]:
    if not isinstance(value, dict):
        raise BoardError(f"{path}: {where} estimate must be an object with {', '.join(RESOURCES)}")
    return {k: int(value[k]) for k in RESOURCES if k in value}


def load_manifest(build_dir: Path | str) -> Manifest:
    """Read and check ``build_dir/manifest.json``; BoardError says what is wrong."""
    folder = Path(build_dir)
    path = folder / "manifest.json"
    if not path.is_file():
        raise BoardError(f"{folder}: no manifest.json; is this a folder written by "
                         f"`bitwave compile`?")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise BoardError(f"{path}: not valid JSON ({exc}); rerun `bitwave compile`") from None
    top = data.get("top", "bitwave_top")
    if top != "bitwave_top":
        raise BoardError(f"{path}: top module is {top!r}; boards expect 'bitwave_top'")
    verilog = folder / data.get("verilog", "bitwave_top.v")
    if not verilog.is_file():
        raise BoardError(f"{path}: Verilog file {verilog.name!r} is missing from {folder}")
    layers = tuple(
        LayerEstimate(name=str(layer.get("name", f"layer{i}")),
                      estimate=_estimate(layer.get("estimate", {}), f"layer {i}", path),
                      pe=layer.get("pe"), simd=layer.get("simd"))
        for i, layer in enumerate(data.get("layers", [])))
    estimate = data.get("estimate")
    if estimate is None:
        estimate = {k: sum(layer.estimate.get(k, 0) for layer in layers) for k in RESOURCES}
    return Manifest(folder=folder, top=top, verilog=verilog,
                    sink=_stream(data, "sink", path), source=_stream(data, "source", path),
                    layers=layers, estimate=_estimate(estimate, "total", path))


def pack_frame(values: Sequence[int], fmt: StreamFormat) -> bytes:
    """One vector → its UART bytes (element i at bits [i·w, (i+1)·w), little-endian)."""
    if len(values) != fmt.elems:
        raise BoardError(f"frame has {len(values)} elements, the accelerator takes {fmt.elems}")
    lo, hi = ((-(1 << (fmt.elem_width - 1)), (1 << (fmt.elem_width - 1)) - 1) if fmt.signed
              else (0, (1 << fmt.elem_width) - 1))
    word = 0
    mask = (1 << fmt.elem_width) - 1
    for i, value in enumerate(values):
        value = int(value)
        if not lo <= value <= hi:
            raise BoardError(f"element {i} = {value} does not fit "
                             f"{'signed' if fmt.signed else 'unsigned'} {fmt.elem_width}-bit "
                             f"[{lo}, {hi}]")
        word |= (value & mask) << (i * fmt.elem_width)
    return word.to_bytes(fmt.nbytes, "little")


def unpack_frame(data: bytes, fmt: StreamFormat) -> list[int]:
    """UART bytes of one vector → its elements (sign-extended when the stream is signed)."""
    if len(data) != fmt.nbytes:
        raise BoardError(f"result frame has {len(data)} bytes, expected {fmt.nbytes}")
    word = int.from_bytes(data, "little")
    mask = (1 << fmt.elem_width) - 1
    out = []
    for i in range(fmt.elems):
        value = (word >> (i * fmt.elem_width)) & mask
        if fmt.signed and value >> (fmt.elem_width - 1):
            value -= 1 << fmt.elem_width
        out.append(value)
    return out


def frames_to_bytes(frames: Iterable[Sequence[int]], fmt: StreamFormat) -> bytes:
    return b"".join(pack_frame(frame, fmt) for frame in frames)
