"""Scalar arithmetic on the raw input before the first quantiser (bnn_pynq's ``2·x − 1``) is
part of converting a sample to input codes: ``Input.pre``, applied in float32 as the model does."""

import numpy as np
import pytest
import torch
from torch import nn

import brevitas.nn as qnn

from bitwave.errors import FrontendError, VerifyError
from bitwave.frontend import import_model
from bitwave.ir import (Arith, Bipolar, Graph, Input, InputStep, Int, Interpreter, MatVec, Output,
                        parse_graph, print_graph, quantise_input)
from bitwave.compile import compile_graph


class Scaled(nn.Module):
    """``pre(x)`` on the raw input, then an input quantiser and one layer."""

    def __init__(self, pre, bits=4):
        super().__init__()
        self.pre = pre
        self.quant_in = qnn.QuantIdentity(bit_width=bits, return_quant_tensor=False)
        self.fc = qnn.QuantLinear(6, 3, bias=False)

    def forward(self, x):
        return self.fc(self.quant_in(self.pre(x)))

    def input_codes(self, x):
        with torch.no_grad():
            y = self.quant_in(self.pre(torch.from_numpy(x)))
            return np.rint(y.numpy().astype(np.float64) / float(self.quant_in.act_quant.scale())).astype(int)


@pytest.mark.parametrize("pre, steps", [
    (lambda x: 2.0 * x - torch.tensor([1.0]), [(Arith.MUL, 2.0), (Arith.ADD, -1.0)]),
    (lambda x: x / 3.0 + 0.25, [(Arith.DIV, 3.0), (Arith.ADD, 0.25)]),
    (lambda x: 1.0 - x, [(Arith.MUL, -1.0), (Arith.ADD, 1.0)]),
], ids=["2x-1", "x/3+0.25", "1-x"])
def test_input_steps_give_the_models_own_codes(pre, steps):
    torch.manual_seed(0)
    model = Scaled(pre).eval()
    x = np.random.default_rng(0).uniform(-3, 3, size=(500, 6)).astype(np.float32)
    graph = import_model(model, x[:4])
    assert graph.input.pre == tuple(InputStep(a, b) for a, b in steps)
    codes = quantise_input(graph.input, x)
    assert len(np.unique(codes)) > 4 and np.array_equal(codes, model.input_codes(x))
    it = Interpreter(graph)
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    assert np.allclose(it.real(graph.output.name, it.output(x)), want, rtol=1e-5, atol=1e-6)


def test_per_feature_arithmetic_on_the_raw_input_is_refused():
    model = Scaled(lambda x: x * torch.arange(1.0, 7.0)).eval()
    with pytest.raises(FrontendError, match=r"a per-feature Mul \(shape \[6\]\) on the raw model input is "
                                            r"not supported; only scalar arithmetic \(e.g. 2·x − 1\)"):
        import_model(model, torch.zeros(2, 6))


def test_input_pre_and_narrow_round_trip_and_are_checked():
    g = Graph((Input("x", n=2, fmt=Int(2), scale=0.5, narrow=True,
                     pre=(InputStep(Arith.MUL, 2.0), InputStep(Arith.ADD, -1.0))), Output("o", input="x")))
    text = print_graph(g)
    assert ("x = Input(n=2, fmt=Int(2, True), scale=0.5, pre=[InputStep(op=Arith.MUL, value=2.0), "
            "InputStep(op=Arith.ADD, value=-1.0)], narrow=True)") in text
    assert parse_graph(text) == g
    # float32 as the model: 2·0.3 − 1 = −0.4 → −0.8 rounds to −1; narrow stops at −1, not −2.
    assert quantise_input(g.input, np.array([[0.3, -5.0]])).tolist() == [[-1, -1]]
    with pytest.raises(VerifyError, match="op must be an Arith"):
        InputStep("mul", 2.0)
    with pytest.raises(VerifyError, match="value must be a finite float32 number, not 0.1"):
        InputStep(Arith.MUL, 0.1)
    with pytest.raises(VerifyError, match="narrow needs a signed Int of at least 2 bits, not bipolar"):
        Input("x", n=1, fmt=Bipolar(), narrow=True)


def test_report_states_the_input_conversion(tmp_path):
    pre = (InputStep(Arith.MUL, 2.0), InputStep(Arith.ADD, -1.0))
    g = Graph((Input("x", n=2, fmt=Bipolar(), pre=pre),
               MatVec("fc", input="x", weight=np.array([[1, -1]]), wfmt=Bipolar()), Output("o", input="fc")))
    line = "Input conversion (host, float32 as the model): y = x · 2 − 1, then sign (−1/+1)."
    assert g.input.conversion() == line
    assert Input("x", n=2, fmt=Int(8), scale=0.25).conversion() == (
        "Input conversion (host): y = x, then round(y / 0.25) clipped to i8.")
    compile_graph(g, tmp_path / "b")
    assert line in (tmp_path / "b" / "report.md").read_text()
