"""The sweep SPEC: a small TOML file naming a model family and the points to try.

::

    model = "digits.py:digits"     # file.py:function, relative to this file
    clock_mhz = 100                # frames/s are reported at this clock
    lut_budgets = [2000, 5000]     # optional: the report's "best point per LUT budget"

    [params]                       # keyword arguments of the model function
    hidden = [16, 32, 64]          # a list is swept, a single value is fixed
    bits = [2, 4]
    seed = 0

    [compile]
    target_cycles = [64, "folded"] # --target-cycles; "folded" = fully folded
    energy = [0, 0.01]             # -p svd-split{energy=…}; 0 = no low-rank split
    pipeline = ""                  # more passes, run after the split (e.g. "quantise-1bit")

    [sample]                       # optional: a random sample of the grid instead of all of it
    count = 8
    seed = 1

Every point is content-addressed: :attr:`Point.key` hashes the model as
written, the bytes of its file, the point's parameters, the bitwave version
and bitwave's own source (:func:`source_digest`), so the same spec gives the
same keys and changing anything that changes the result, the compiler
included, gives a new key.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import random
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import bitwave

from ..errors import SweepError

__all__ = ["Spec", "Point", "load_spec", "parse_spec", "source_digest", "SOURCE_SUFFIXES"]

TOP_KEYS = {"model", "clock_mhz", "lut_budgets", "params", "compile", "sample"}
COMPILE_KEYS = {"target_cycles", "energy", "pipeline"}
SAMPLE_KEYS = {"count", "seed"}
FOLDED = "folded"
_BAD = object()   # what a value check returns for a value it does not allow
#: The files of bitwave's source a point's key covers: Python and the C++ simulation/board harnesses.
SOURCE_SUFFIXES = (".py", ".cpp", ".h")


def source_digest(root: str | Path) -> str:
    """SHA-256 over every :data:`SOURCE_SUFFIXES` file under ``root``: relative paths and bytes."""
    root = Path(root)
    files = sorted((p.relative_to(root).as_posix(), p) for p in root.rglob("*")
                   if p.suffix in SOURCE_SUFFIXES and p.is_file() and "__pycache__" not in p.parts)
    h = hashlib.sha256()
    for name, path in files:
        h.update(name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


@functools.cache
def _bitwave_source() -> str:
    """The installed bitwave's :func:`source_digest` (once per process)."""
    return source_digest(Path(bitwave.__file__).parent)


@dataclass(frozen=True)
class Point:
    """One design to build: model keyword arguments and compile settings."""
    model: str                      # file.py:function as written in the spec
    model_path: str                 # absolute path of the file
    model_digest: str               # sha256 of the file's bytes
    params: tuple[tuple[str, object], ...]
    target_cycles: int | None       # None = fully folded
    energy: float                   # 0 = no svd-split
    pipeline: str
    clock_mhz: float
    # Read once, when the spec is parsed: a key computed on a worker (in a row) must equal the
    # driver's even if the source tree changes meanwhile.
    bitwave_source: str             # source_digest of the installed bitwave

    @property
    def function(self) -> str:
        return self.model.rpartition(":")[2]

    @property
    def kwargs(self) -> dict:
        return dict(self.params)

    @property
    def passes(self) -> str:
        """The ``-p`` pipeline of this point."""
        split = [f"svd-split{{energy={self.energy:g}}}"] if self.energy else []
        return ",".join(split + ([self.pipeline] if self.pipeline else []))

    def identity(self) -> dict:
        """Everything that decides this point's result (what :attr:`key` hashes)."""
        return {"model": self.model, "model_sha256": self.model_digest, "params": dict(self.params),
                "target_cycles": self.target_cycles, "energy": self.energy, "pipeline": self.pipeline,
                "clock_mhz": self.clock_mhz, "bitwave": bitwave.__version__,
                "bitwave_source": self.bitwave_source}

    @property
    def key(self) -> str:
        text = json.dumps(self.identity(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def label(self) -> str:
        """Short human name, e.g. ``hidden=16 bits=4 cycles=64 energy=0.01``."""
        cyc = FOLDED if self.target_cycles is None else str(self.target_cycles)
        parts = [f"{k}={v}" for k, v in self.params] + [f"cycles={cyc}"]
        if self.energy:
            parts.append(f"energy={self.energy:g}")
        return " ".join(parts)


@dataclass(frozen=True)
class Spec:
    path: Path
    points: tuple[Point, ...]
    clock_mhz: float = 100.0
    lut_budgets: tuple[int, ...] = ()
    swept: tuple[str, ...] = field(default=())   # names of the parameters that vary


def load_spec(path: str | Path) -> Spec:
    """Read and check a SPEC file; a :class:`SweepError` names the bad key and what is allowed."""
    path = Path(path)
    if not path.is_file():
        raise SweepError(f"{path}: no such spec file")
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise SweepError(f"{path}: not valid TOML ({e})") from None
    return parse_spec(data, path)


def _fail(path: Path, key: str, msg: str):
    raise SweepError(f"{path}: {key}: {msg}")


def _table(data: dict, name: str, allowed: set[str], path: Path) -> dict:
    value = data.get(name, {})
    if not isinstance(value, dict):
        _fail(path, name, "must be a table ([" + name + "])")
    unknown = sorted(set(value) - allowed)
    if unknown:
        _fail(path, f"{name}.{unknown[0]}", f"unknown key; allowed: {', '.join(sorted(allowed))}")
    return value


def _values(value, key: str, path: Path, check) -> list:
    values = value if isinstance(value, list) else [value]
    if not values:
        _fail(path, key, "an empty list sweeps nothing; give at least one value")
    out = []
    for v in values:
        ok = check(v)
        if ok is _BAD:
            _fail(path, key, f"bad value {v!r}; {check.__doc__}")
        out.append(ok)
    return out


def _cycles(v):
    """allowed: a positive integer or "folded\""""
    if v == FOLDED:
        return None
    if isinstance(v, int) and not isinstance(v, bool) and v > 0:
        return v
    return _BAD


def _energy(v):
    """allowed: a number 0 <= energy < 1 (0 = no low-rank split)"""
    if isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v < 1:
        return float(v)
    return _BAD


def _param(v):
    """allowed: integers, floats, strings or booleans"""
    return v if isinstance(v, (int, float, str, bool)) else _BAD


def _model(data: dict, path: Path) -> tuple[str, Path]:
    model = data.get("model")
    if not isinstance(model, str) or ":" not in model or model.endswith(":"):
        _fail(path, "model", "required: 'file.py:function' (the file relative to the spec)")
    file = Path(model.rpartition(":")[0])
    file = file if file.is_absolute() else path.parent / file
    if not file.is_file():
        _fail(path, "model", f"no such file {str(file)!r}")
    return model, file.resolve()


def parse_spec(data: dict, path: str | Path = Path("spec.toml")) -> Spec:
    """The points of a parsed SPEC (a TOML document as a dict)."""
    path = Path(path)
    unknown = sorted(set(data) - TOP_KEYS)
    if unknown:
        _fail(path, unknown[0], f"unknown key; allowed: {', '.join(sorted(TOP_KEYS))}")
    model, file = _model(data, path)
    clock = data.get("clock_mhz", 100.0)
    if isinstance(clock, bool) or not isinstance(clock, (int, float)) or clock <= 0:
        _fail(path, "clock_mhz", "must be a positive number (MHz)")
    budgets = data.get("lut_budgets", [])
    if not isinstance(budgets, list) or not all(isinstance(b, int) and b > 0 for b in budgets):
        _fail(path, "lut_budgets", "must be a list of positive integers (LUT4)")
    params = _table(data, "params", set(_table_keys(data.get("params"))), path)
    comp = _table(data, "compile", COMPILE_KEYS, path)
    sample = _table(data, "sample", SAMPLE_KEYS, path)
    axes = {f"params.{k}": _values(v, f"params.{k}", path, _param) for k, v in params.items()}
    axes["compile.target_cycles"] = _values(comp.get("target_cycles", FOLDED), "compile.target_cycles",
                                            path, _cycles)
    axes["compile.energy"] = _values(comp.get("energy", 0), "compile.energy", path, _energy)
    pipeline = comp.get("pipeline", "")
    if not isinstance(pipeline, str):
        _fail(path, "compile.pipeline", "must be a string of passes, e.g. \"quantise-1bit\"")
    digest = hashlib.sha256(file.read_bytes()).hexdigest()
    names = list(axes)
    combos = list(itertools.product(*axes.values()))
    if sample:
        count, seed = sample.get("count"), sample.get("seed", 0)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            _fail(path, "sample.count", "must be a positive integer (points to draw from the grid)")
        if not isinstance(seed, int) or isinstance(seed, bool):
            _fail(path, "sample.seed", "must be an integer")
        combos = random.Random(seed).sample(combos, min(count, len(combos)))
    points, source = [], _bitwave_source()
    for combo in combos:
        values = dict(zip(names, combo))
        points.append(Point(
            model=model, model_path=str(file), model_digest=digest,
            params=tuple((k.split(".", 1)[1], v) for k, v in values.items() if k.startswith("params.")),
            target_cycles=values["compile.target_cycles"], energy=values["compile.energy"],
            pipeline=pipeline, clock_mhz=float(clock), bitwave_source=source))
    swept = tuple(n.split(".", 1)[1] for n in names if len(axes[n]) > 1)
    return Spec(path, tuple(points), float(clock), tuple(budgets), swept)


def _table_keys(value) -> list[str]:
    """Any parameter name is allowed in [params] (they are the model function's keyword arguments)."""
    return list(value) if isinstance(value, dict) else []
