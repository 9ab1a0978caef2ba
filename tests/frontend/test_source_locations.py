"""Errors about a layer point at the user's line that defines it (``file.py:line``)."""

import textwrap
from collections import OrderedDict
from pathlib import Path

import brevitas.nn as qnn
import numpy as np
import pytest
import torch
from torch import nn

from bitwave.cli import main
from bitwave.errors import FrontendError, PassError
from bitwave.frontend import import_model, load_model_spec, record_sources, source_location
from bitwave.ir import MatVec, MultiThreshold
from bitwave.passes import Fold, InferBitwidths, PassManager, Streamline

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().relative_to(ROOT).as_posix()   # as printed: relative to the checkout


def line_of(path: Path, tag: str) -> int:
    """The 1-based number of the first line of ``path`` that contains ``tag`` (and does not look it up)."""
    hits = [i for i, line in enumerate(path.read_text().splitlines(), 1)
            if tag in line and "here(" not in line and "line_of(" not in line]
    assert hits, tag
    return hits[0]


def here(tag: str) -> str:
    return f"{HERE}:{line_of(ROOT / HERE, tag)}"


def rejects(model, x, *words) -> str:
    with pytest.raises(FrontendError) as e:
        import_model(model, x)
    msg = str(e.value)
    assert "\n" not in msg
    for w in words:
        assert w in msg, (w, msg)
    return msg


@pytest.fixture
def at_root(monkeypatch):
    monkeypatch.chdir(ROOT)   # paths under the current directory are printed relative to it


# -- the digits example, through load_model_spec ---------------------------------------------

@pytest.fixture(scope="module")
def digits_graph():
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT)
        bundle = load_model_spec("examples/digits.py:digits")
        return import_model(bundle.model, bundle.inputs[:1])


def digits_line(layer: str) -> str:
    """Where quant_mlp() in examples/digits.py defines ``layer`` (the first definition in the file)."""
    tag = '("%s", ' % layer
    return f"examples/digits.py:{line_of(ROOT / 'examples' / 'digits.py', tag)}"


def test_digits_ops_carry_module_path_and_line(digits_graph):
    assert digits_graph["fc2"].src == f"fc2, {digits_line('fc2')}"
    assert digits_graph["bn1"].src == f"bn1, {digits_line('bn1')}"
    assert digits_graph["quant_in"].src == f"quant_in, {digits_line('quant_in')}"
    streamlined = Streamline().run(digits_graph)
    # The MultiThreshold replacing act1 keeps act1's src; the MatVec keeps fc1's.
    assert isinstance(streamlined["act1"], MultiThreshold)
    assert streamlined["act1"].src == f"act1, {digits_line('act1')}"
    assert isinstance(streamlined["fc1"], MatVec) and streamlined["fc1"].src == f"fc1, {digits_line('fc1')}"


def test_fold_error_names_the_line_of_fc2(digits_graph):
    passes = PassManager([Streamline(), InferBitwidths(), Fold(pe=(64, 7, 5), simd=(1, 1, 1))])
    with pytest.raises(PassError) as e:
        passes.run(digits_graph)
    first = str(e.value).splitlines()[0]
    assert first.startswith(f"fold: op fc2 (fc2, {digits_line('fc2')}): pe=7 must divide rows=64"), first


def test_cli_error_line_names_the_line_of_fc2(at_root, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["compile", "examples/digits.py:digits", "-o", str(tmp_path / "x"),
              "--pe", "64,7,5", "--simd", "1,1,1"])
    assert e.value.code == 1
    err = capsys.readouterr().err
    errors = [ln for ln in err.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in err, err
    assert f"op fc2 (fc2, {digits_line('fc2')})" in errors[0], errors[0]


# -- models built in Python, inside record_sources() -------------------------------------------

def small_mlp():
    return nn.Sequential(OrderedDict([
        ("quant_in", qnn.QuantIdentity(bit_width=8, return_quant_tensor=True)),
        ("fc1", qnn.QuantLinear(8, 6, bias=False, weight_bit_width=4)),        # tag: fc1
        ("act1", qnn.QuantReLU(bit_width=4, return_quant_tensor=True)),
        ("fc2", qnn.QuantLinear(6, 3, bias=False, weight_bit_width=4)),        # tag: fc2
    ]))


def test_nan_weight_names_the_line_in_this_file():
    with record_sources():
        model = small_mlp()
    with torch.no_grad():
        model.fc2.weight[1, 2] = float("nan")
    rejects(model, torch.zeros(2, 8),
            f"frontend: module fc2 at {here('# tag: fc2')}: parameter weight contains NaN or Inf (1 of 18 values)")


@record_sources()
def bad_bits():
    return nn.Sequential(qnn.QuantIdentity(bit_width=8),
                         qnn.QuantLinear(8, 4, bias=False, weight_bit_width=17))   # tag: 17 bits


def test_bad_bit_width_names_the_line_with_record_sources_as_a_decorator():
    rejects(bad_bits(), torch.zeros(2, 8),
            f"frontend: module 1 at {here('# tag: 17 bits')} (QuantLinear): weight bit width 17 is not supported")


class WithLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.quant = qnn.QuantIdentity(bit_width=8)
        self.rnn = nn.LSTM(8, 8)    # tag: lstm

    def forward(self, x):
        return self.rnn(self.quant(x))[0]


def test_unsupported_layer_and_own_module_class_name_their_lines():
    with record_sources():
        model = WithLSTM()   # tag: root
    assert source_location(model) == here("# tag: root")   # where it is built, not its super().__init__()
    rejects(model, torch.zeros(2, 8), f"frontend: module rnn at {here('# tag: lstm')} (torch.nn.LSTM) "
                                      "is not supported")


def test_wrong_input_width_names_the_line_of_the_first_layer():
    with record_sources():
        model = small_mlp()
    rejects(model, torch.zeros(2, 5), f"its first layer fc1 at {here('# tag: fc1')} (QuantLinear) has in_features=8")


def test_qonnx_reader_errors_name_the_line_too():
    with record_sources():
        model = nn.Sequential(OrderedDict([
            ("fc1", qnn.QuantLinear(8, 3, bias=False)),   # tag: unquantised input
        ]))
    rejects(model, torch.zeros(2, 8), f"module fc1 at {here('# tag: unquantised input')})",
            "reads the unquantised model input")


def test_a_spec_file_outside_the_current_directory_is_named_by_its_absolute_path(tmp_path):
    spec = tmp_path / "m.py"
    spec.write_text(textwrap.dedent("""\
        import brevitas.nn as qnn
        import numpy as np
        from torch import nn

        def model():
            net = nn.Sequential(qnn.QuantIdentity(bit_width=8),
                                qnn.QuantLinear(4, 2, bias=False, weight_bit_width=0))
            return net, np.zeros((3, 4), np.float32)
        """))
    bundle = load_model_spec(f"{spec}:model")
    rejects(bundle.model, bundle.inputs, f"module 1 at {spec}:7 (QuantLinear): weight bit width 0")


def test_recording_is_scoped_and_restores_torch():
    init = nn.Module.__init__
    with pytest.raises(RuntimeError), record_sources():
        with record_sources():   # nested: still recording, restored only by the outer one
            inner = nn.Linear(2, 2)   # tag: nested
        assert nn.Module.__init__ is not init
        raise RuntimeError("boom")
    assert nn.Module.__init__ is init
    assert source_location(inner) == here("# tag: nested")
    assert source_location(nn.Linear(2, 2)) is None
    graph_src = import_model(small_mlp(), np.zeros((2, 8), np.float32))["fc1"].src
    assert graph_src == "fc1"   # unrecorded models keep today's src
