"""run_tool's log is written as the tool runs, not only when it ends."""

import sys

import pytest

from bitwave.errors import ToolchainError
from bitwave.tools import run_tool


def test_log_holds_each_line_while_the_tool_still_runs(tmp_path):
    log = tmp_path / "tool.log"
    seen = []
    script = "import time; [print('line', i, flush=True) or time.sleep(0.05) for i in range(3)]"
    run = run_tool("python", [sys.executable, "-c", script], cwd=tmp_path, log=log,
                   on_line=lambda line: seen.append(log.read_text()))
    # when line i arrives, the log already holds the command and lines 0..i
    assert [text.count("line ") for text in seen] == [1, 2, 3]
    assert seen[0].startswith("$ ")
    assert log.read_text().splitlines()[1:] == ["line 0", "line 1", "line 2"]
    assert run.output == "line 0\nline 1\nline 2\n"


def test_a_failing_tool_leaves_its_whole_log_and_names_it(tmp_path):
    log = tmp_path / "fail.log"
    with pytest.raises(ToolchainError, match="fail.log"):
        run_tool("python", [sys.executable, "-c", "print('before'); raise SystemExit(3)"],
                 cwd=tmp_path, log=log)
    assert "before" in log.read_text()
