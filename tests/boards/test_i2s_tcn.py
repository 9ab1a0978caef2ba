"""Issue 14's acceptance: two seconds of audio (96,000 samples at 48 kHz) through the board's I2S
wrapper around the compiled TCN of ``examples/tcn.py``, in Verilator against the codec model,
equal to the reference interpreter sample for sample."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from bitwave.boards import i2s_expected_dac, i2s_inputs, simulate_i2s_build
from bitwave.build_folder import BuildManifest
from bitwave.compile import CompileOptions, compile_graph
from bitwave.dataset import Dataset
from bitwave.frontend import import_model
from bitwave.ir import Interpreter, quantise_input

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tcn.py"
SAMPLES = 96_000

pytestmark = [pytest.mark.sim, pytest.mark.slow]


def _load_example():
    spec = importlib.util.spec_from_file_location("bitwave_example_tcn", EXAMPLE)
    module = sys.modules.setdefault(spec.name, importlib.util.module_from_spec(spec))
    if not hasattr(module, "tcn"):
        spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("target_cycles,latency", [(8, 2), (None, 4)])
def test_two_seconds_of_audio_through_the_codec_equal_the_reference(tmp_path, target_cycles,
                                                                    latency):
    """At 8 cycles per sample the TCN answers within a period; fully folded (192 cycles per
    sample, 488 of latency) it gets three, and the DAC plays each answer four frames late."""
    ex = _load_example()
    bundle = ex.tcn(seconds=SAMPLES / ex.SAMPLE_RATE)
    signal = bundle.inputs
    res = compile_graph(import_model(bundle.model, signal), tmp_path / "tcn",
                        CompileOptions(stream=True, target_cycles=target_cycles), dataset=Dataset(signal),
                        name="tcn")
    manifest = BuildManifest.load(res.out_dir)
    rows = signal[0].T                                       # one row per sample
    codes = quantise_input(res.graph.input, rows)
    assert codes.shape == (SAMPLES, 1) and manifest.sink.width <= 24

    # The 8-bit codes in the ADC words' top bits, noise below them (the bridge cuts it off),
    # noise on the right channel (a mono model reads the left one).
    rng = np.random.default_rng(0)
    shift = 24 - manifest.sink.width
    left = (codes[:, 0].astype(np.int64) << shift) | rng.integers(0, 1 << shift, size=SAMPLES)
    adc = np.stack([left, rng.integers(-(1 << 23), 1 << 23, size=SAMPLES)], axis=1)
    assert np.array_equal(i2s_inputs(adc, manifest), manifest.sink.encode(codes))

    result = simulate_i2s_build(res.out_dir, adc)
    want = Interpreter(res.graph).device(rows)
    expected = i2s_expected_dac(manifest.source.encode(want), manifest)
    assert result.bus_errors == 0 and (result.dropped, result.missed, result.overrun) == (0, 0, False)
    assert result.dac.shape == (SAMPLES + latency, 2)
    mismatches = int(np.sum(np.any(result.dac != expected, axis=1)))
    print(f"I2S TCN (target {target_cycles}): {SAMPLES} samples, latency {latency} frames, {result.cycles} cycles in {result.seconds:.1f} s "
          f"({result.cycles_per_second / 1e6:.2f} M cycles/s), {mismatches} mismatches")
    assert mismatches == 0
