"""A Brevitas CNN end to end: ``bitwave compile`` of a Python model and ``bitwave verify``.

The default suite compiles a small untrained CNN (the digits CNN's layers with 4 and 8
channels, batch-norm statistics randomised so the thresholds are not trivial) on random
images; the trained digits CNN (the demo's model) runs with --runslow.
"""

import json
import textwrap
from pathlib import Path

import pytest

from bitwave.cli import main

ROOT = Path(__file__).resolve().parent.parent.parent

pytestmark = pytest.mark.sim

SMALL_CNN = textwrap.dedent(f'''
    import importlib.util, sys
    import numpy as np, torch
    from bitwave.frontend import ModelBundle

    spec = importlib.util.spec_from_file_location("digits_cnn_example",
                                                  "{ROOT / 'examples' / 'digits_cnn.py'}")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)

    def small_cnn():
        torch.manual_seed(0)
        model = example.quant_cnn(4, c1=4, c2=8)
        gen = torch.Generator().manual_seed(1)
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.3)
                m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
                m.weight.data.copy_(torch.randn(m.num_features, generator=gen))
                m.bias.data.copy_(torch.randn(m.num_features, generator=gen) * 0.2)
        model.eval()
        x = np.random.default_rng(2).random((48, 1, 8, 8)).astype(np.float32)
        return ModelBundle(model, x, name="small-cnn")
''')


def _run(argv, capsys) -> str:
    try:
        main([str(a) for a in argv])
    except SystemExit as e:
        assert e.code in (0, None), capsys.readouterr()
    return capsys.readouterr().out


def test_small_brevitas_cnn_compiles_and_verifies(tmp_path, capsys):
    (tmp_path / "small_cnn.py").write_text(SMALL_CNN)
    out = tmp_path / "build"
    _run(["compile", f"{tmp_path / 'small_cnn.py'}:small_cnn", "-o", out, "--target-cycles", "256"],
         capsys)
    text = _run(["verify", out, "--stall-in", "0.2", "--stall-out", "0.2"], capsys)
    assert "mismatches: 0" in text
    report = json.loads((out / "report.json").read_text())
    assert report["rtl"]["mismatches"] == 0 and report["rtl"]["frames"] == 48
    kinds = [layer["kind"] for layer in json.loads((out / "manifest.json").read_text())["layers"]]
    assert kinds == ["conv", "pool", "conv", "pool", "flatten", "matvec"]


@pytest.mark.slow
def test_trained_digits_cnn_beats_the_mlp_with_fewer_weight_bits(tmp_path, capsys):
    out = tmp_path / "cnn"
    text = _run(["demo", "--model", "cnn", "-o", out], capsys)
    assert "mismatches: 0" in text
    acc = json.loads((out / "report.json").read_text())["accuracy"]
    assert acc["model_argmax_differs"] == []
    # The MLP demo's quantised held-out accuracy is 97.78 % with 35,328 weight bits.
    assert acc["quantised"]["test"] > 0.9778
    layers = json.loads((out / "manifest.json").read_text())["layers"]
    assert sum(layer["weight_bits"] or 0 for layer in layers) < 35_328
