"""The hybrid model and the Conv1d baseline: shapes, gradients, latency, training, the checkpoint."""

import numpy as np
import pytest
import torch

from bitwave.errors import FrontendError
from bitwave.frontend.audio import (HELD_OUT_SEED, ConvBaseline, FitSettings, HybridClipper,
                                    aligned_esr, fit, half_band, parameter_count, plucks,
                                    pretrained, run, simulate_stage)


def test_half_band_is_a_unity_gain_half_band():
    h = half_band(15)
    assert h.sum() == pytest.approx(1.0) and np.allclose(h, h[::-1])
    assert np.count_nonzero(h[1::2]) == 1 and h[7] == pytest.approx(0.5, abs=1e-3)
    with pytest.raises(FrontendError, match="taps must be 4k \\+ 3"):
        half_band(16)


def test_hybrid_has_133_parameters_and_shapes_and_gradients_flow_everywhere():
    model = HybridClipper()
    assert parameter_count(model) == 133 and model.latency == 7
    x = 0.1 * torch.randn(2, 1, 300, dtype=torch.float64)
    y = model(x)
    assert y.shape == (2, 1, 300) and y.dtype == torch.float64
    y.square().sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_dry_path_is_the_input_delayed_by_the_declared_latency():
    model = HybridClipper(half_band_taps=11)
    with torch.no_grad():
        model.pre.zero_()
        model.dry.fill_(0.5)
    x = torch.randn(1, 1, 64, dtype=torch.float64)
    y = model(x)
    assert model.latency == 5
    assert torch.allclose(y[..., 5:], 0.5 * x[..., :-5]) and torch.all(y[..., :5] == 0)


def test_baseline_sees_exactly_latency_samples_ahead():
    model = ConvBaseline(channels=4, latency=3)
    assert parameter_count(model) > 133
    x = torch.randn(1, 1, 200, dtype=torch.float64)
    x2 = x.clone()
    x2[..., 120] += 1.0
    with torch.no_grad():
        d = (model(x2) - model(x)).abs()[0, 0]
    # output n + 3 models target n: input 120 may change outputs from 120 on, i.e. targets from 117
    assert torch.all(d[:120] == 0) and d[120] > 0


def test_fit_lowers_the_loss_and_settings_are_checked():
    x = plucks(0.5, HELD_OUT_SEED)
    y = np.tanh(5 * x)          # a memoryless clipper: quick to learn
    model = ConvBaseline(channels=4, latency=0)
    result = fit(model, x, y, FitSettings(rounds=2, iterations=4, batch=4, segment=256))
    assert len(result.losses) == 2 and result.losses[-1] < result.losses[0]
    assert result.cpu_seconds > 0
    with pytest.raises(FrontendError, match="optimiser must be one of lbfgs, adam"):
        FitSettings(optimiser="sgd")
    with pytest.raises(FrontendError, match="longer than one segment"):
        fit(model, x[:100], y[:100])


def test_shipped_checkpoint_meets_the_float_targets_on_held_out_plucks():
    model = pretrained()
    x = plucks(1.5, HELD_OUT_SEED)
    y = simulate_stage(x)
    out = run(model, x)
    assert aligned_esr(y, out, model.latency) < 0.002            # plain ESR ≤ 0.2 %
    assert aligned_esr(y, out, model.latency, 0.85) < 0.01       # pre-emphasised ≤ 1 %


def test_missing_checkpoint_says_how_to_make_one(tmp_path):
    with pytest.raises(FrontendError, match="--save-checkpoint"):
        pretrained(tmp_path / "none.pt")
