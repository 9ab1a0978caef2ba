"""The digits MLP as built for the iCEBreaker, behind its UART wrapper, seen from the serial line."""

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bitwave.boards._uartsim import simulate_uart
from bitwave.cli import cli
from bitwave.build_folder import load_build
from bitwave.ir import Interpreter, quantise_input

pytestmark = pytest.mark.sim

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "digits.py"


def test_hundred_digits_frames_through_the_serial_line_match_the_reference(tmp_path):
    """Fully folded (the iCEBreaker build), 100 frames as 8N1 characters (≈40 s)."""
    build = tmp_path / "digits"
    run = CliRunner().invoke(cli, ["compile", f"{EXAMPLE}:digits", "-o", str(build),
                                   "--clock-mhz", "12"])
    assert run.exit_code == 0, run.output
    b = load_build(build)
    graph, ds = b.graph, b.dataset
    codes = quantise_input(graph.input, ds.inputs[:100])
    interp = Interpreter(graph)
    want = interp.output(codes, codes=True)
    frames = b.manifest.sink.encode(codes).tolist()
    result = simulate_uart(build, frames, divisor=8)
    assert not result.overrun
    got = b.manifest.source.decode(np.array(result.outputs))
    assert got.shape == want.shape == (100, 10)
    assert np.array_equal(got, want)
    # The classifier is right on these frames, so the comparison is not vacuous.
    assert (got.argmax(axis=1) == ds.labels[:100]).mean() > 0.9
