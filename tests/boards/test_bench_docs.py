"""bench/_docs.py: the benches write their tables into the docs between markers."""

import pytest


def test_write_block_replaces_only_its_block(tmp_path, bench_module):
    docs = bench_module("_docs")
    page = tmp_path / "page.md"
    page.write_text("intro\n<!-- bench:boards -->\nold\n<!-- /bench:boards -->\n"
                    "<!-- bench:peer -->\nkeep\n<!-- /bench:peer -->\nend\n")
    table = docs.markdown([{"a": 1, "b": None}, {"a": 2, "b": "x"}], ("a", "b"))
    docs.write_block(page, "boards", "caption\n\n" + table)
    text = page.read_text()
    assert text == ("intro\n<!-- bench:boards -->\ncaption\n\n| a | b |\n|---|---|\n| 1 |  |\n"
                    "| 2 | x |\n<!-- /bench:boards -->\n<!-- bench:peer -->\nkeep\n"
                    "<!-- /bench:peer -->\nend\n")
    docs.write_block(page, "boards", "again")         # idempotent on its own block
    assert "again" in page.read_text() and "caption" not in page.read_text()
    with pytest.raises(ValueError, match="no block <!-- bench:energy -->"):
        docs.write_block(page, "energy", "x")


def test_provenance_names_commit_time_and_load(bench_module):
    line = bench_module("_docs").provenance()
    assert line.startswith("commit ") and " UTC, load average " in line and "cores" in line
