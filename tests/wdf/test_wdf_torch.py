"""The PyTorch WDF layers: equal to the float64 reference, exact gradients, trainable."""

import time

import numpy as np
import pytest
import torch

from bitwave.errors import FrontendError
from bitwave.frontend.wdf_torch import DiodeClipper, RCLowpass, wdf_recurrence
from bitwave.ir.wdf import Capacitor, DiodePair, Open, Parallel, ResistiveSource, WdfTree, simulate
from bitwave.passes.quantise_wdf import multitone

FS = 48_000.0
R, C, IS, VT = 2.2e3, 10e-9, 2.52e-9, 45.3e-3


def reference(x, *, R=R, C=C, Is=IS, Vt=VT, diode=True):
    root = DiodePair(Is, Vt) if diode else Open()
    return simulate(WdfTree(root, Parallel(ResistiveSource(R), Capacitor(C, name="C")), FS,
                            probe="C"), x)


def test_forward_equals_reference():
    x = multitone(FS, 2400, peak=2.0)
    xt = torch.tensor(x)[None, None]
    assert np.max(np.abs(DiodeClipper()(xt)[0, 0].detach().numpy() - reference(x))) <= 1e-12
    assert np.max(np.abs(RCLowpass()(xt)[0, 0].detach().numpy()
                         - reference(x, diode=False))) <= 1e-12


def test_channels_are_independent_like_a_depthwise_conv():
    Rs, Cs = [1e3, 2.2e3, 4.7e3], [4.7e-9, 10e-9, 22e-9]
    layer = DiodeClipper(3, R=Rs, C=Cs, Is=[1e-9, 2.52e-9, 5e-9], Vt=[0.03, 0.0453, 0.06])
    x = np.stack([multitone(FS, 600, peak=a) for a in (0.5, 1.0, 2.0, 3.0)])  # batch 4
    y = layer(torch.tensor(x)[:, None, :].expand(4, 3, 600).contiguous()).detach().numpy()
    for c in range(3):
        for b in range(4):
            ref = reference(x[b], R=Rs[c], C=Cs[c], Is=layer.Is[c].item(), Vt=layer.Vt[c].item())
            assert np.max(np.abs(y[b, c] - ref)) <= 1e-12


def test_state_carries_across_chunks():
    x = torch.tensor(multitone(FS, 1000, peak=2.0))[None, None]
    layer = DiodeClipper()
    whole = layer(x)
    first, s = layer(x[..., :400], return_state=True)
    second = layer(x[..., 400:], s)
    torch.testing.assert_close(torch.cat([first, second], -1), whole, rtol=0, atol=1e-14)


def test_gradients_match_finite_differences():
    x = torch.tensor(multitone(FS, 40, peak=2.0))[None].repeat(2, 1).requires_grad_()
    gamma = torch.tensor([0.3, 0.35], dtype=torch.float64, requires_grad=True)
    log_k = torch.log(torch.tensor([2 * 700 * 2.5e-9, 2 * 600 * 1e-8],
                                   dtype=torch.float64)).requires_grad_()
    log_vt = torch.log(torch.tensor([0.045, 0.03], dtype=torch.float64)).requires_grad_()
    s0 = torch.tensor([0.1, -0.2], dtype=torch.float64, requires_grad=True)

    def diode(x, g, lk, lv, s0):
        return wdf_recurrence(x, g, lk.exp(), lv.exp(), s0, diode=True)

    def linear(x, g, s0):
        one = torch.ones(2, dtype=torch.float64)
        return wdf_recurrence(x, g, one, one, s0, diode=False)

    assert torch.autograd.gradcheck(diode, (x, gamma, log_k, log_vt, s0), eps=1e-7, atol=1e-6,
                                    rtol=1e-5)
    assert torch.autograd.gradcheck(linear, (x, gamma, s0), eps=1e-6, atol=1e-6)


def test_works_inside_a_model_in_float32():
    model = torch.nn.Sequential(torch.nn.Conv1d(1, 2, 3, padding=1), DiodeClipper(2),
                                torch.nn.Conv1d(2, 1, 1))
    x = torch.randn(3, 1, 256)
    y = model(x)
    assert y.shape == (3, 1, 256) and y.dtype == torch.float32
    y.square().mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.all(torch.isfinite(p.grad)), name
    assert {n for n, _ in model[1].named_parameters()} == {"_R.raw", "_C.raw", "_Is.raw", "_Vt.raw"}


def test_parameters_stay_inside_bounds():
    layer = DiodeClipper(R_bounds=(100.0, 1e4), trainable=("R",))
    with torch.no_grad():
        layer._R.raw.fill_(1e3)
    assert layer.R.item() == pytest.approx(1e4, rel=1e-12)
    with torch.no_grad():
        layer._R.raw.fill_(-1e3)
    assert layer.R.item() == pytest.approx(100.0, rel=1e-12)
    assert [n for n, _ in layer.named_parameters()] == ["_R.raw"]


def test_training_recovers_R_and_C():
    # 0.5 s of audio from the float64 reference circuit, cut into 16 chunks of 30 ms at
    # amplitudes from 0.3 V (almost linear) to 3 V (hard clipping): the linear part fixes
    # R·C, the clipping fixes R.  Start 2× off in both directions; L-BFGS.
    rng = np.random.default_rng(0)
    x = np.stack([multitone(FS, 1500, peak=a, freqs=tuple(rng.uniform(80, 6000, 4)))
                  for a in np.linspace(0.3, 3.0, 16)])
    y = np.stack([reference(row) for row in x])
    xt, yt = torch.tensor(x)[:, None], torch.tensor(y)[:, None]
    for R0, C0 in ((2 * R, C / 2), (R / 2, 2 * C)):
        model = DiodeClipper(R=R0, C=C0, trainable=("R", "C"))
        opt = torch.optim.LBFGS(model.parameters(), max_iter=60, line_search_fn="strong_wolfe",
                                tolerance_grad=1e-14, tolerance_change=1e-16)

        def closure():
            opt.zero_grad()
            loss = torch.mean((model(xt) - yt) ** 2)
            loss.backward()
            return loss

        start = time.perf_counter()
        opt.step(closure)
        seconds = time.perf_counter() - start
        assert abs(model.R.item() / R - 1) < 0.01, (R0, model.R.item())
        assert abs(model.C.item() / C - 1) < 0.01, (C0, model.C.item())
        assert seconds < 60


def test_rc_lowpass_learns_its_time_constant():
    x = torch.randn(4, 1, 800, dtype=torch.float64)
    target = RCLowpass(R=R, C=C)(x).detach()
    model = RCLowpass(R=R, C=C / 2, trainable=("C",))
    opt = torch.optim.LBFGS(model.parameters(), max_iter=40, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.mean((model(x) - target) ** 2)
        loss.backward()
        return loss

    opt.step(closure)
    assert model.C.item() == pytest.approx(C, rel=1e-4)


def test_validation_messages():
    with pytest.raises(FrontendError, match=r"^DiodeClipper: input must be a tensor shaped "
                                            r"\(batch, 2, time\), not \(4, 100\)$"):
        DiodeClipper(2)(torch.zeros(4, 100))
    with pytest.raises(FrontendError, match=r"^DiodeClipper: R = \[5.0\] must lie strictly "
                                            r"inside its bounds"):
        DiodeClipper(R=5.0)
    with pytest.raises(FrontendError, match=r"^RCLowpass: C needs 1 or 2 values"):
        RCLowpass(2, C=[1e-9, 2e-9, 3e-9])
    with pytest.raises(FrontendError, match=r"^RCLowpass: channels must be a positive integer"):
        RCLowpass(0)
    with pytest.raises(FrontendError, match=r"^DiodeClipper: state must be shaped \(1, 1\)"):
        DiodeClipper()(torch.zeros(1, 1, 10), torch.zeros(2))
