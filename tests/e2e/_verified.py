"""``bitwave verify`` of a build folder, run in-process, that must report no mismatch."""

import json

from bitwave.cli import main


def assert_verifies(build, frames: int, capsys) -> dict:
    """Run ``bitwave verify build``; it must succeed with ``mismatches: 0`` on ``frames`` frames."""
    capsys.readouterr()
    try:
        main(["verify", str(build)])
    except SystemExit as e:
        assert e.code in (0, None)
    assert "mismatches: 0" in capsys.readouterr().out
    rtl = json.loads((build / "report.json").read_text())["rtl"]
    assert rtl["mismatches"] == 0 and rtl["frames"] == frames
    return rtl


def load_sibling(name: str):
    """A helper module next to this file (the tests run with --import-mode=importlib)."""
    import importlib.util
    from pathlib import Path
    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parent / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
