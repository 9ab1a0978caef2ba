"""A model holding the trainable DiodeClipper through ``bitwave compile`` and ``bitwave verify``,
and the frontend's refusals of WDF models it cannot build."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from bitwave.cli import main
from bitwave.errors import FrontendError
from bitwave.frontend import DiodeClipper, RCLowpass, import_wdf, is_wdf_model
from bitwave.ir import Int, Real, Wdf, verify

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "wdf_clipper.py"
AUDIO = np.zeros((16, 1))


def test_import_reads_the_trained_values():
    layer = DiodeClipper(2, R=[1e3, 4.7e3], C=22e-9)
    g = import_wdf(nn.Sequential(nn.Identity(), layer), np.zeros((16, 2)))
    op = g["wdf_1"]
    assert isinstance(op, Wdf) and not op.is_fixed and op.src == "1 (DiodeClipper)"
    np.testing.assert_allclose(op.R.array, [1e3, 4.7e3], rtol=1e-12)
    np.testing.assert_allclose(op.X.array, [22e-9] * 2, rtol=1e-12)
    t = verify(g)
    assert t["x"].fmt == Int(20) and t["x"].scales[0] == 2.0 ** -16 and t["wdf_1"].fmt == Real()
    assert is_wdf_model(nn.Sequential(layer)) and not is_wdf_model(nn.Linear(2, 2))


@pytest.mark.parametrize("model, inputs, message", [
    (RCLowpass(), AUDIO, "RCLowpass\\): the hardware WDF core needs a diode-pair root"),
    (nn.Sequential(DiodeClipper(), nn.Linear(4, 4)), AUDIO, "it also holds 1 \\(Linear\\)"),
    (nn.Sequential(DiodeClipper(), DiodeClipper()), AUDIO, "it holds 2 WDF layers"),
    (DiodeClipper(2), AUDIO, "has 2 channel\\(s\\); the inputs must be audio shaped "
                             "\\(samples, 2\\), not \\(16, 1\\)"),
])
def test_unsupported_models_are_refused(model, inputs, message):
    with pytest.raises(FrontendError, match=message):
        import_wdf(model, inputs)


def test_bad_word_length_is_refused():
    with pytest.raises(FrontendError, match="need 2 <= int_bits < word_length <= 40"):
        import_wdf(DiodeClipper(), AUDIO, word_length=4, int_bits=4)


@pytest.mark.sim
def test_compile_and_verify_the_example(tmp_path, capsys):
    torch.set_num_threads(1)
    out = tmp_path / "clipper"
    main(["compile", f"{EXAMPLE}:clipper", "-o", str(out)])
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["pipeline"][0] == "quantise-wdf"
    layer, = manifest["layers"]
    # The filter alone: no slower layer to hide more cycles behind, so the wide core.
    cycles = latency = 6
    assert (layer["kind"], layer["cycles"], layer["latency"]) == ("wdf", cycles, latency)
    assert manifest["cycles_per_frame"] == cycles and manifest["latency"] == latency
    main(["verify", str(out)])
    printed = capsys.readouterr().out
    assert "frames: 9600" in printed and "mismatches: 0" in printed
    report = (out / "report.md").read_text()
    # The filter's SNR on the audio the model was compiled with, not only on a test signal.
    snr = json.loads((out / "report.json").read_text())["accuracy"]["wdf_snr"]
    (name, measured), = snr.items()
    assert measured["samples"] == 9600 and 60 < measured["snr_db"] < 200
    assert f"WDF {name}: SNR against the float64 circuit **{measured['snr_db']:.1f} dB** on the " \
           f"model's own audio" in report
    assert (f"one audio sample per {cycles} cycles/sample" in report
            and f"latency {latency} cycles" in report)
