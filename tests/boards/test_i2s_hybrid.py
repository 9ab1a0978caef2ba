"""The trained audio hybrid (pre-filter → clipper WDF at 2× → decimator with the dry path →
post-filter) through the board's I2S wrapper and the codec model in Verilator: two seconds of
held-out plucks, every DAC word equal to the reference interpreter's output at the wrapper's
fixed latency."""

import numpy as np
import pytest

from bitwave.boards import i2s_expected_dac, simulate_i2s_build
from bitwave.boards._i2s import answer_frames
from bitwave.build_folder import BuildManifest
from bitwave.compile import CompileOptions, compile_graph
from bitwave.dataset import Dataset
from bitwave.frontend.audio import HELD_OUT_SEED, hybrid_graph, plucks, pretrained
from bitwave.ir import Interpreter, quantise_input

SAMPLES = 96_000

pytestmark = [pytest.mark.sim, pytest.mark.slow]


def test_two_seconds_of_the_hybrid_through_the_codec_equal_the_reference(tmp_path):
    x = plucks(SAMPLES / 48_000, HELD_OUT_SEED).reshape(-1, 1).astype(np.float32)
    res = compile_graph(hybrid_graph(pretrained()), tmp_path / "hybrid",
                        CompileOptions(target_cycles=32), dataset=Dataset(x[:100]), name="hybrid")
    manifest = BuildManifest.load(res.out_dir)
    codes = quantise_input(res.graph.input, x)
    # The 16-bit codes in the top bits of the 24-bit ADC words; silence on the right channel.
    left = codes[:, 0].astype(np.int64) << (24 - manifest.sink.width)
    result = simulate_i2s_build(res.out_dir, np.stack([left, np.zeros_like(left)], axis=1))
    want = i2s_expected_dac(manifest.source.encode(Interpreter(res.graph).device(x)), manifest)
    assert result.bus_errors == 0 and (result.dropped, result.missed, result.overrun) == (0, 0, False)
    # 32 cycles per sample and the pipeline's latency answer within one LRCK period (256 clocks).
    assert answer_frames(manifest) == 1 and result.dac.shape == want.shape == (SAMPLES + 2, 2)
    assert int(np.sum(np.any(result.dac != want, axis=1))) == 0
