"""Passes: frozen dataclasses with a kebab-case name, typed options and a pure ``run``.

A pipeline is written as text, MLIR style: ``svd-split{energy=0.01},quantise-1bit``.
Option values are Python literals (numbers, strings, lists); each is checked
against the field's type when the pass is built.
"""

from __future__ import annotations

import ast
import dataclasses
import logging
import typing
from dataclasses import dataclass
from typing import Callable, ClassVar

from ..errors import BitwaveError, PassError
from ..ir import Graph, verify

__all__ = ["Pass", "PASSES", "parse_pipeline", "PassManager", "format_pass", "note"]

PASSES: dict[str, type["Pass"]] = {}

#: What passes decided and why (a layer skipped, an approximation made).  The
#: compile driver collects these records into the report; the CLI prints them.
log = logging.getLogger("bitwave.passes")


def note(pass_name: str, message: str) -> None:
    """Record a decision of a pass for the report."""
    log.info("%s: %s", pass_name, message)


@dataclass(frozen=True)
class Pass:
    """Base class of the passes: ``class Fold(Pass, name="fold"):`` with typed option
    fields and a ``run(graph) -> graph``.  A subclass becomes a frozen dataclass
    and is registered under ``name`` for pipeline text."""
    name: ClassVar[str] = ""

    def __init_subclass__(cls, *, name: str, **kwargs):
        super().__init_subclass__(**kwargs)
        if not name or name in PASSES:
            raise PassError(f"pass name {name!r} is empty or taken")
        cls.name = name
        dataclass(frozen=True)(cls)
        PASSES[name] = cls

    def run(self, graph: Graph) -> Graph:
        raise PassError(f"{self.name}: {type(self).__name__} defines no run(graph)")


def format_pass(p: Pass) -> str:
    """The pipeline text of one pass, with the options that differ from defaults."""
    opts = []
    for f in dataclasses.fields(p):
        v = getattr(p, f.name)
        if f.default is not dataclasses.MISSING and v == f.default:
            continue
        opts.append(f"{f.name}={v!r}")
    return p.name + ("{" + ",".join(opts) + "}" if opts else "")


def _split_top(text: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch in "{[(":
            depth += 1
        elif ch in "}])":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


def _coerce(pass_name: str, f: dataclasses.Field, value, hints):
    typ = hints[f.name]
    origin = typing.get_origin(typ)
    allowed = typing.get_args(typ) if origin in (typing.Union, getattr(__import__("types"), "UnionType")) else (typ,)
    for t in allowed:
        if t is type(None) and value is None:
            return None
        if t is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if t is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if t is bool and isinstance(value, bool):
            return value
        if t is str and isinstance(value, str):
            return value
        if typing.get_origin(t) is tuple and isinstance(value, (list, tuple)):
            return tuple(tuple(v) if isinstance(v, list) else v for v in value)
    raise PassError(f"{pass_name}: option {f.name}={value!r} must be of type {typ}")


def parse_pipeline(text: str) -> list[Pass]:
    """``'svd-split{energy=0.01},quantise-1bit'`` → pass objects (PassError on any mistake)."""
    passes = []
    for item in _split_top(text or ""):
        name, _, rest = item.partition("{")
        name = name.strip()
        cls = PASSES.get(name)
        if cls is None:
            raise PassError(f"pipeline: unknown pass {name!r}; known passes: {', '.join(sorted(PASSES))}")
        kwargs = {}
        if rest:
            if not rest.endswith("}"):
                raise PassError(f"pipeline: {item!r}: options must end with '}}'")
            hints = typing.get_type_hints(cls)
            fields = {f.name: f for f in dataclasses.fields(cls)}
            for opt in _split_top(rest[:-1]):
                key, eq, raw = opt.partition("=")
                key = key.strip()
                if not eq or key not in fields:
                    raise PassError(f"{name}: unknown option {key!r}; options: "
                                    f"{', '.join(fields) or '(none)'}")
                try:
                    value = ast.literal_eval(raw.strip())
                except (ValueError, SyntaxError):
                    value = raw.strip()   # a bare word is a string
                kwargs[key] = _coerce(name, fields[key], value, hints)
        try:
            passes.append(cls(**kwargs))
        except BitwaveError:
            raise
        except (TypeError, ValueError) as e:
            raise PassError(f"{name}: {e}") from None
    return passes


class PassManager:
    """Runs passes in order; verifies after each; names the passes that ran before a failure."""

    def __init__(self, passes: list[Pass], *, verify_each: bool = True,
                 after_each: Callable[[int, Pass, Graph], None] | None = None):
        self.passes = list(passes)
        self.verify_each = verify_each
        self.after_each = after_each

    def run(self, graph: Graph) -> Graph:
        done: list[str] = []
        for i, p in enumerate(self.passes):
            try:
                graph = p.run(graph)
                if self.verify_each:
                    verify(graph)
            except BitwaveError as e:
                ran = f" (after {', '.join(done)})" if done else ""
                raise type(e)(f"{e}\n  while running pass {format_pass(p)}{ran}") from None
            done.append(p.name)
            if self.after_each is not None:
                self.after_each(i, p, graph)
        return graph
