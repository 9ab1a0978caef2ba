"""Residual blocks written in Brevitas (``tests/e2e/residual_models.py``) through ``bitwave compile``
and ``bitwave verify``: the add the QONNX reader imports becomes a residual stage whose Verilog
equals the reference bit for bit."""

import importlib.util
import json
from pathlib import Path

import pytest

from bitwave.cli import main

HERE = Path(__file__).resolve().parent
_SPEC = importlib.util.spec_from_file_location("_verified", HERE / "_verified.py")
_verified = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_verified)

pytestmark = pytest.mark.sim

# Per model: the layers of the build; the add joins the block's two paths (its branch holds the
# second matvec or conv; QuantEltwiseAdd's input quantiser on each path is a multithreshold).
KINDS = {"residual_mlp": ["matvec", "matvec", "add", "multithreshold", "matvec"],
         "residual_cnn": ["conv", "conv", "add", "multithreshold", "pool", "flatten", "matvec"],
         "residual_mlp_eltwise": ["matvec", "multithreshold", "matvec", "multithreshold", "add",
                                  "multithreshold", "multithreshold", "matvec"]}


@pytest.mark.parametrize("fn", [pytest.param(k, marks=pytest.mark.slow) if k.endswith("eltwise") else k
                                for k in KINDS])
def test_residual_block_compiles_and_verifies(fn, tmp_path, capsys):
    out = tmp_path / fn
    main(["compile", f"{HERE / 'residual_models.py'}:{fn}", "-o", str(out)])
    graph = (out / "graph.txt").read_text()
    assert graph.count("Add(") == 1 and "Affine(" not in graph
    layers = json.loads((out / "manifest.json").read_text())["layers"]
    assert [layer["kind"] for layer in layers] == KINDS[fn]
    _verified.assert_verifies(out, 32, capsys)
