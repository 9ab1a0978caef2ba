"""Guards that keep the package shape: who may import whom, no cycles, no oversized modules.

Data flows one way: frontend → ir → passes → lower → hdl → Verilog; sim,
verify and boards read the build folder.  A package may import only the
packages listed for it in ``ALLOWED`` (checked on every import statement,
including ones inside functions), the packages must form no import cycle,
and no module under ``bitwave/`` may grow past ``MAX_LINES``.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "bitwave"
MAX_LINES = 600

#: The parts of bitwave each part may import (besides itself).  A top-level module
#: (``compile.py``) is a part of its own, named like a package.
ALLOWED = {
    "errors": set(),
    "tools": {"errors"},
    "dataset": {"errors"},
    "ir": {"errors"},
    "hdl": {"errors"},
    "passes": {"ir", "errors"},
    "frontend": {"ir", "errors", "dataset"},
    "lower": {"ir", "hdl", "build_folder", "errors"},
    # The manifest alone needs no IR; load_build parses the final graph too.
    "build_folder": {"hdl", "dataset", "errors", "ir"},
    "report": {"build_folder", "errors"},
    # Reads the imported graph, ranks with svd-split's own rule, writes its report.json section.
    "spectrum": {"ir", "passes", "report", "errors"},
    "costs": {"ir", "lower", "passes", "errors"},
    "sim": {"hdl", "ir", "lower", "build_folder", "dataset", "tools", "errors"},
    "boards": {"hdl", "build_folder", "sim", "tools", "errors"},
    "compile": {"ir", "passes", "lower", "hdl", "costs", "report", "build_folder", "dataset", "errors"},
    "verify": {"ir", "lower", "hdl", "sim", "report", "build_folder", "dataset", "energy", "errors"},
    # Estimated energy per frame: counts activity in a Verilator run (sim), applies a family model.
    "energy": {"sim", "build_folder", "errors"},
    # The Dask client the long runs share (sweep, fuzz --scheduler).
    "cluster": {"errors"},
    "fuzz": {"ir", "passes", "lower", "hdl", "sim", "cluster", "errors"},
    "sweep": {"compile", "verify", "frontend", "cluster", "errors"},
    # bitwave demo audio: the audio frontend's model → compile → verify → WAVs, plot, ESR.
    "audio_demo": {"frontend", "compile", "verify", "build_folder", "dataset", "ir", "report",
                   "errors"},
    "cli": {"errors", "report", "build_folder", "compile", "verify", "frontend", "fuzz", "sim",
            "boards", "sweep", "spectrum", "energy", "audio_demo"},
    "__init__": {"errors"},
}


def part_of(path: Path) -> str:
    rel = path.relative_to(ROOT)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def imported_parts(path: Path, *, top_level_only: bool = False) -> set[str]:
    """The parts of bitwave that ``path`` imports."""
    tree = ast.parse(path.read_text(), filename=str(path))
    nodes = tree.body if top_level_only else ast.walk(tree)
    package = path.relative_to(ROOT.parent).with_suffix("").parts
    if path.name != "__init__.py":
        package = package[:-1]
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
                names = [module] if node.module else [f"{module}.{a.name}" for a in node.names]
            else:
                names = [node.module or ""]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "bitwave" and len(parts) > 1:
                found.add(parts[1])
    return found


def modules() -> list[Path]:
    return sorted(ROOT.rglob("*.py"))


def test_every_part_has_a_rule():
    assert {part_of(p) for p in modules()} <= set(ALLOWED)


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_follow_the_data_flow(path):
    part = part_of(path)
    wrong = imported_parts(path) - ALLOWED[part] - {part}
    assert not wrong, (f"{path.relative_to(ROOT.parent)} ({part}) imports {sorted(wrong)}; "
                       f"{part} may import only {sorted(ALLOWED[part])}")


def test_no_import_cycle_between_parts():
    graph: dict[str, set[str]] = {}
    for path in modules():
        part = part_of(path)
        graph.setdefault(part, set()).update(imported_parts(path, top_level_only=True) - {part})
    done, stack = set(), []

    def visit(node):
        if node in stack:
            cycle = stack[stack.index(node):] + [node]
            pytest.fail("import cycle: " + " → ".join(cycle))
        if node in done:
            return
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            visit(nxt)
        stack.pop()
        done.add(node)

    for node in sorted(graph):
        visit(node)


@pytest.mark.parametrize("package, forbidden", [("bitwave.hdl", "bitwave.ir"),
                                                ("bitwave.boards", "bitwave.ir"),
                                                ("bitwave.passes", "bitwave.hdl"),
                                                ("bitwave.ir", "amaranth")])
def test_importing_a_package_does_not_load_what_it_must_not_know(package, forbidden):
    code = (f"import sys, {package}; "
            f"bad = sorted(m for m in sys.modules if m == {forbidden!r} or m.startswith({forbidden!r} + '.')); "
            f"print(bad); sys.exit(1 if bad else 0)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, f"importing {package} loads {run.stdout.strip()} {run.stderr[-500:]}"


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_over_the_line_limit(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, (f"{path.relative_to(ROOT.parent)} has {lines} lines (limit {MAX_LINES}): "
                                f"split it by concern")
