"""Issue 2 end to end: the digits MLP from a Python file and from its QONNX export,
through ``bitwave compile`` and ``bitwave verify``, and the compile-time errors a user
meets first (unsupported layer, wrong input shape, corrupt file)."""

import json
from pathlib import Path

import numpy as np
import pytest

from bitwave.cli import main
from bitwave.build_folder import BuildManifest, load_build
from bitwave.ir import Graph, parse_graph, print_graph, quantise_input
from bitwave.verify import build_sim

ROOT = Path(__file__).resolve().parent.parent.parent
DIGITS = f"{ROOT / 'examples' / 'digits.py'}:digits"

pytestmark = pytest.mark.sim


def run(argv, capsys) -> str:
    """Run the CLI in-process; it must succeed; return stdout."""
    try:
        main([str(a) for a in argv])
    except SystemExit as e:
        assert e.code in (0, None), capsys.readouterr()
    return capsys.readouterr().out


def fails(argv, capsys) -> str:
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in argv])
    assert e.value.code != 0
    err = capsys.readouterr().err
    assert "Traceback" not in err
    errors = [ln for ln in err.splitlines() if ln.lower().startswith("error: ")]
    assert len(errors) == 1, err
    return errors[0]


def without_src(path: Path) -> str:
    graph = parse_graph(path.read_text())
    return print_graph(Graph(tuple(op.replace(src="") for op in graph.ops)))


def rtl_outputs(build: Path) -> np.ndarray:
    """Stream the build's whole dataset through its Verilog; IR output codes."""
    b = load_build(build)
    codes = quantise_input(b.graph.input, b.dataset.inputs)
    res = build_sim(build, b.manifest).run(b.manifest.sink.encode(codes))
    return b.manifest.source.decode(res.outputs)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """digits 4-bit compiled from the Python file at 64 cycles per frame."""
    out = tmp_path_factory.mktemp("e2e") / "digits"
    main(["compile", DIGITS, "-o", str(out), "--target-cycles", "64"])
    return out


def test_python_model_compiles_and_verifies_bit_exact(built, capsys):
    text = run(["verify", built], capsys)
    assert "mismatches: 0" in text
    report = json.loads((built / "report.json").read_text())
    acc, rtl = report["accuracy"], report["rtl"]
    assert rtl["mismatches"] == 0 and rtl["frames"] == 1797
    # 4-bit QAT within 2 points of float on the held-out split, and the RTL agrees with the reference.
    assert acc["quantised"]["test"] >= acc["float"]["test"] - 0.02
    assert rtl["accuracy"]["all"] == acc["quantised"]["all"]
    # The reference decides as the Brevitas model itself does, on every sample.
    assert acc["model_argmax_differs"] == []
    assert BuildManifest.load(built).cycles_per_frame == 64
    assert {"bitwave_top.v", "model.onnx", "report.md", "graph.txt"} <= {p.name for p in built.iterdir()}
    assert len(list((built / "ir").glob("*.txt"))) == 4


def test_qonnx_export_compiles_to_the_same_behaviour(built, tmp_path, capsys):
    again = tmp_path / "from-onnx"
    run(["compile", built / "model.onnx", "--data", built / "dataset.npz", "-o", again,
         "--target-cycles", "64"], capsys)
    # The same graph; only the Python model knows the file:line of each layer (op src).
    assert without_src(again / "graph.txt") == without_src(built / "graph.txt")
    a, b = rtl_outputs(built), rtl_outputs(again)
    assert a.shape == (1797, 10) and np.array_equal(a, b)


LSTM_MODEL = '''
import torch
from torch import nn
from brevitas.nn import QuantIdentity, QuantLinear


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.inp = QuantIdentity(bit_width=8, return_quant_tensor=True)
        self.rnn = nn.LSTM(8, 8)
        self.fc = QuantLinear(8, 4, bias=False, weight_bit_width=4)

    def forward(self, x):
        return self.fc(self.rnn(self.inp(x))[0])


def model():
    return Net().eval(), torch.zeros(4, 8).numpy()
'''


def test_unsupported_layer_is_one_error_line(tmp_path, capsys):
    (tmp_path / "lstm.py").write_text(LSTM_MODEL)
    line = fails(["compile", f"{tmp_path / 'lstm.py'}:model", "-o", tmp_path / "out"], capsys)
    assert "rnn" in line and "LSTM" in line and "not supported" in line
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.tmp-*"))


def test_wrong_input_shape_and_corrupt_onnx(built, tmp_path, capsys):
    np.savez(tmp_path / "bad.npz", inputs=np.zeros((5, 63)))
    line = fails(["compile", built / "model.onnx", "--data", tmp_path / "bad.npz", "-o", tmp_path / "a"],
                 capsys)
    assert "(5, 63)" in line and "(N, 64)" in line
    raw = (built / "model.onnx").read_bytes()
    (tmp_path / "cut.onnx").write_bytes(raw[:len(raw) // 3])
    line = fails(["compile", tmp_path / "cut.onnx", "-o", tmp_path / "b"], capsys)
    assert "cut.onnx" in line and "not a valid ONNX model" in line
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
