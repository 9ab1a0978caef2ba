"""The build folder: what ``bitwave compile`` writes and every later step reads.

A build folder holds ``bitwave_top.v``, ``manifest.json`` (this module's
:class:`BuildManifest`: stream formats with their beats per frame, ports,
layers, resources, latency), ``graph.txt`` (the final IR, the golden model
``verify`` re-reads), ``dataset.npz`` (:class:`~bitwave.dataset.Dataset`),
the IR after every pass and the reports.
The manifest is written and read through :class:`BuildManifest` only, so a
field has one name and one type everywhere.  Boards read the manifest alone
and never the IR: this module needs :mod:`bitwave.ir` only in
:func:`load_build`, which also parses the graph.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import tempfile
import threading
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from .dataset import Dataset
from .errors import BuildFolderError, HdlError
from .hdl import Resources, StreamFormat

__all__ = ["MANIFEST", "TOP", "GENERATOR", "Port", "Layer", "BuildManifest", "Dataset", "Build",
           "load_build", "is_build_folder", "check_output_dir", "staging"]

MANIFEST = "manifest.json"
TOP = "bitwave_top"
GENERATOR = "bitwave"


@dataclass(frozen=True)
class Port:
    """One port of the emitted top module."""
    name: str
    direction: str   # "input" or "output"
    width: int


@dataclass(frozen=True)
class Layer:
    """One hardware block: its shape, formats (as the IR prints them), folding and cost."""
    name: str
    kind: str
    ops: tuple[str, ...]
    rows: int
    cols: int
    pe: int | None      # None: not a folded unit (a board self-test block)
    simd: int | None
    cycles: int
    in_fmt: str = "-"
    w_fmt: str = "-"
    acc_fmt: str = "-"
    out_fmt: str = "-"
    estimate: Resources = Resources()
    #: The estimate for other build plans where it differs from ``estimate``
    #: (iCE40 without DSPs): keys ``ice40-dsp``, ``ecp5``, ``ecp5-dsp``.
    estimates: dict[str, Resources] = field(default_factory=dict)
    weights_in_bram: bool = False
    src: str = ""
    latency: int | None = None
    macs: int | None = None
    weight_bits: int | None = None

    def estimate_for(self, family: str, dsp: bool) -> Resources:
        """This layer's estimate for a build on ``family`` (``ice40``, ``ecp5``) with or
        without DSP blocks."""
        return self.estimates.get(f"{family}-dsp" if dsp else family, self.estimate)


@dataclass(frozen=True)
class BuildManifest:
    """What a compiled design is: its top module, streams, ports, layers and costs."""
    name: str
    sink: StreamFormat
    source: StreamFormat
    ports: tuple[Port, ...]
    cycles_per_frame: int
    latency: int | None
    pipeline: tuple[str, ...]
    layers: tuple[Layer, ...]
    estimate: Resources
    macs: int = 0
    weight_bits: int = 0
    top: str = TOP
    verilog: str = f"{TOP}.v"
    generator: str = GENERATOR
    selftest_addend: int | None = None   # a board self-test build (AddConstant), not a compiled model

    def estimate_for(self, family: str, dsp: bool) -> Resources:
        """The whole design's estimate for a build on ``family`` (``ice40``, ``ecp5``) with or
        without DSP blocks (manifests from before per-family estimates: ``estimate``)."""
        if not self.layers:
            return self.estimate
        return Resources.total(layer.estimate_for(family, dsp) for layer in self.layers)

    def biggest_layer(self, resource: str = "lut") -> Layer | None:
        """The layer with the largest estimate of ``resource`` (the one to fold first)."""
        if not self.layers:
            return None
        return max(self.layers, key=lambda layer: getattr(layer.estimate, resource))

    def save(self, folder: str | Path) -> Path:
        """Write ``folder/manifest.json``."""
        path = Path(folder) / MANIFEST
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, folder: str | Path) -> "BuildManifest":
        """Read and check ``folder/manifest.json`` (BuildFolderError says what is wrong and what to do)."""
        folder = Path(folder)
        path = folder / MANIFEST
        if not path.is_file():
            raise BuildFolderError(f"{folder}: not a bitwave build folder (no {MANIFEST}); "
                                   f"run `bitwave compile` first")
        try:
            data = json.loads(path.read_text())
            if not isinstance(data, dict) or data.get("generator") != GENERATOR:
                raise ValueError("not written by bitwave")
            manifest = cls(
                **{f.name: data[f.name] for f in fields(cls)
                   if f.name in data and f.name not in _TYPED},
                # Manifests from before multi-beat frames have no "beats": StreamFormat's default, 1.
                sink=StreamFormat(**data["sink"]), source=StreamFormat(**data["source"]),
                ports=tuple(Port(**p) for p in data["ports"]),
                pipeline=tuple(data["pipeline"]),
                layers=tuple(_layer(layer) for layer in data["layers"]),
                estimate=Resources(**data["estimate"]))
        except (ValueError, KeyError, TypeError, AttributeError, HdlError) as e:
            # HdlError: a stream format that does not validate
            raise BuildFolderError(f"{path}: corrupt manifest ({type(e).__name__}: {e}); "
                                   f"recompile with `bitwave compile`") from None
        if not (folder / manifest.verilog).is_file():
            raise BuildFolderError(f"{path}: Verilog file {manifest.verilog!r} is missing from {folder}; "
                                   f"recompile with `bitwave compile`")
        return manifest


_TYPED = {"sink", "source", "ports", "pipeline", "layers", "estimate"}


def _layer(data: dict) -> Layer:
    return Layer(**dict(data, ops=tuple(data["ops"]), estimate=Resources(**data["estimate"]),
                        estimates={k: Resources(**v) for k, v in data.get("estimates", {}).items()}))


def is_build_folder(folder: str | Path) -> bool:
    """True when ``folder`` holds a manifest that bitwave wrote (so bitwave may replace it)."""
    try:
        return json.loads((Path(folder) / MANIFEST).read_text()).get("generator") == GENERATOR
    except (OSError, ValueError, AttributeError):
        return False


@dataclass
class Build:
    """A build folder read back: its manifest, final graph and dataset (None if it has none)."""
    folder: Path
    manifest: BuildManifest
    graph: object
    dataset: Dataset | None

    @property
    def verilog(self) -> str:
        return (self.folder / self.manifest.verilog).read_text()


def load_build(folder: str | Path) -> Build:
    """Manifest, final graph and dataset of a build folder (BuildFolderError if it is not one)."""
    from .ir import parse_graph   # here, not at the top: boards read manifests without the IR
    folder = Path(folder)
    manifest = BuildManifest.load(folder)
    graph = parse_graph((folder / "graph.txt").read_text())
    ds = Dataset.load(folder / Dataset.FILE) if (folder / Dataset.FILE).exists() else None
    return Build(folder, manifest, graph, ds)


def check_output_dir(out_dir: Path) -> None:
    """Refuse a folder holding files bitwave did not write (never delete a user's files)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise BuildFolderError(f"output: {out_dir} exists and is not a folder; choose another path")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not is_build_folder(out_dir):
        names = sorted(p.name for p in out_dir.iterdir())
        raise BuildFolderError(
            f"output: {out_dir} already holds files bitwave did not write ({', '.join(names[:3])}"
            f"{', …' if len(names) > 3 else ''}); choose an empty or new folder")


def _stale_tmp(out_dir: Path):
    """Temporary siblings ``.NAME.tmp-PID-*`` of ``out_dir`` whose process is gone."""
    for path in out_dir.parent.glob(f".{out_dir.name}.tmp-*"):
        pid = path.name[len(f".{out_dir.name}.tmp-"):].partition("-")[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            yield path
        except PermissionError:   # alive, someone else's
            pass


def _terminate(signum, frame):
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def staging(out_dir: str | Path):
    """Write a folder atomically: yields a temporary sibling, renamed to ``out_dir`` at the end.

    On any failure, and on SIGTERM (turned into ``SystemExit`` meanwhile when
    nothing else handles it), the temporary folder is removed, so nothing
    half-written is ever left; temporary folders of killed runs (SIGKILL, power
    loss) are removed by the next run.  The folder gets the permissions the
    umask allows, as a plain ``mkdir`` would.  An existing ``out_dir`` is
    replaced only if bitwave wrote it (:func:`check_output_dir`).
    """
    out_dir = Path(out_dir)
    check_output_dir(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    for stale in _stale_tmp(out_dir):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-{os.getpid()}-", dir=out_dir.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)
    catch = (threading.current_thread() is threading.main_thread()
             and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL)
    if catch:
        signal.signal(signal.SIGTERM, _terminate)
    try:
        yield tmp
        if out_dir.exists():
            shutil.rmtree(out_dir)   # only reached when check_output_dir found our own build
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        if catch:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
