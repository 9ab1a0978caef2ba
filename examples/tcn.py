"""TCN: a causal dilated QuantConv1d network that learns a tone-filtered distortion, sample by sample.

    bitwave compile examples/tcn.py:tcn -p to-stream   # one sample in, one sample out
    python examples/tcn.py                             # train, print the held-out ESR

The effect to learn is a one-pole low-pass (``TONE_HZ``) into a soft clipper,
``y = tanh(DRIVE · lowpass(x))``, at 48 kHz.  The audio is synthesised in code,
never downloaded: Karplus–Strong plucked-string notes and exponential sine
sweeps (``bitwave.frontend.audio``'s ``pluck`` and ``sweep``) at random pitches
and levels, separated by short silences.

The network is four causal ``QuantConv1d`` layers, 1 → 8 → 8 → 8 → 1 channels,
kernel 3, dilations 1, 2, 4, 8 (a receptive field of 31 samples, 0.65 ms):
an 8-bit input quantiser, 4-bit weights, batch-norm and a 4-bit ReLU after
each hidden layer (streamlining folds them into thresholds), an integer bias
on the last.  Each convolution pads ``(kernel − 1)·dilation`` zeros on the left
only (``F.pad``), so output ``t`` sees inputs up to ``t``: the network trained
on frames runs as a stream (``to-stream``) with the same outputs.

Trained weights are cached in ``$XDG_CACHE_HOME/bitwave`` (or
``~/.cache/bitwave``) like the digits examples'; training both the quantised
model and its float twin takes about 35 s of CPU time on one thread (600
Adam steps each), longer in wall time when the machine is shared.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy.signal import lfilter
from torch import nn

from bitwave.frontend import ModelBundle
from bitwave.frontend.audio import esr, pluck, sweep

SAMPLE_RATE = 48_000
TONE_HZ = 2_000.0
DRIVE = 3.0
KERNEL = 3
DILATIONS = (1, 2, 4, 8)
CHANNELS = 8
BITS = 4
STEPS = 600
BATCH = 16
FRAME = 1024
LR = 5e-3
TRAIN_SECONDS = 20.0
TRAIN_SEED, TEST_SEED = 0, 1


def _cache():
    """``cache_dir`` and ``train_or_load`` of the digits example next to this file."""
    name = "bitwave_example_digits"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("digits.py"))
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


# -- audio ---------------------------------------------------------------------
def synth_signal(seconds: float, seed: int) -> np.ndarray:
    """Plucked notes and sine sweeps at random pitches and levels in [-1, 1], float32."""
    rng = np.random.default_rng(seed)
    parts, total = [], 0
    while total < seconds * SAMPLE_RATE:
        if rng.random() < 0.7:
            part = pluck(float(82.4 * 2 ** (rng.integers(0, 36) / 12)), float(rng.uniform(0.2, 0.8)), rng)
        else:
            part = sweep(float(rng.uniform(40, 200)), float(rng.uniform(2e3, 16e3)),
                         float(rng.uniform(0.2, 0.6)))
        parts += [float(rng.uniform(0.05, 1.0)) * part, np.zeros(int(rng.integers(0, 2400)))]
        total += len(parts[-2]) + len(parts[-1])
    return np.concatenate(parts)[:int(seconds * SAMPLE_RATE)].astype(np.float32)


def effect(x: np.ndarray) -> np.ndarray:
    """The target: a one-pole low-pass at ``TONE_HZ`` into ``tanh(DRIVE · ·)``."""
    a = np.exp(-2 * np.pi * TONE_HZ / SAMPLE_RATE)
    return np.tanh(DRIVE * lfilter([1 - a], [1, -a], x)).astype(np.float32)


# -- models --------------------------------------------------------------------
class CausalTCN(nn.Module):
    """Causal dilated Conv1d layers on ``(N, 1, T)``; ``quant=False`` gives the float twin."""

    def __init__(self, quant: bool = True, channels: int = CHANNELS, bits: int = BITS):
        super().__init__()
        import brevitas.nn as qnn
        from brevitas.quant import Int32Bias

        sizes = [1] + [channels] * (len(DILATIONS) - 1) + [1]
        last = len(DILATIONS) - 1
        self.quant_in = qnn.QuantIdentity(bit_width=8, return_quant_tensor=True) if quant else nn.Identity()
        convs, norms, acts = [], [], []
        for i, (c_in, c_out) in enumerate(zip(sizes, sizes[1:])):
            if quant:
                extra = dict(bias=True, bias_quant=Int32Bias) if i == last else dict(bias=False)
                convs.append(qnn.QuantConv1d(c_in, c_out, KERNEL, dilation=DILATIONS[i],
                                             weight_bit_width=bits, **extra))
            else:
                convs.append(nn.Conv1d(c_in, c_out, KERNEL, dilation=DILATIONS[i], bias=i == last))
            if i < last:
                norms.append(nn.BatchNorm1d(c_out))
                acts.append(qnn.QuantReLU(bit_width=bits, return_quant_tensor=True) if quant else nn.ReLU())
        self.convs, self.norms, self.acts = nn.ModuleList(convs), nn.ModuleList(norms), nn.ModuleList(acts)

    def forward(self, x):
        x = self.quant_in(x)
        for i, conv in enumerate(self.convs):
            x = conv(F.pad(x, ((KERNEL - 1) * DILATIONS[i], 0)))
            if i < len(self.norms):
                x = self.acts[i](self.norms[i](x))
        return x


def train(model: nn.Module, x: np.ndarray, y: np.ndarray, *, seed: int = 0) -> list[float]:
    """Adam on the mean squared error of random frames of (x, y); cosine learning-rate decay."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)      # the fastest for a model this small (the cores are shared)
    try:
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        opt = torch.optim.Adam(model.parameters(), lr=LR)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, STEPS)
        losses = []
        model.train()
        for _ in range(STEPS):
            starts = rng.integers(0, len(x) - FRAME, size=BATCH)
            xb = torch.as_tensor(np.stack([x[s:s + FRAME] for s in starts])[:, None])
            yb = torch.as_tensor(np.stack([y[s:s + FRAME] for s in starts])[:, None])
            out = model(xb)
            loss = F.mse_loss(getattr(out, "value", out), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
    finally:
        torch.set_num_threads(previous)
        model.eval()
    return losses


def _cache_file(seed: int) -> Path:
    """Keyed by what the weights depend on: the data, the model, the training and their settings."""
    h = hashlib.sha256()
    for part in (pluck, sweep, synth_signal, effect, CausalTCN, train):
        h.update(inspect.getsource(part).encode())
    h.update(repr((SAMPLE_RATE, TONE_HZ, DRIVE, KERNEL, DILATIONS, CHANNELS, BITS, STEPS, BATCH, FRAME,
                   LR, TRAIN_SECONDS, TRAIN_SEED, seed, torch.__version__)).encode())
    return _cache().cache_dir() / f"tcn-w{BITS}a{BITS}-s{seed}-{h.hexdigest()[:16]}.pt"


def trained(seed: int = 0) -> tuple[CausalTCN, CausalTCN]:
    """The quantised TCN and its float twin, trained on :func:`synth_signal` (cached)."""
    torch.manual_seed(seed)
    qmodel = CausalTCN(quant=True)
    torch.manual_seed(seed)
    fmodel = CausalTCN(quant=False)

    def fit():
        x = synth_signal(TRAIN_SECONDS, TRAIN_SEED)
        y = effect(x)
        for model in (qmodel, fmodel):
            train(model, x, y, seed=seed)

    _cache().train_or_load(_cache_file(seed), {"quant": qmodel, "float": fmodel}, fit)
    return qmodel, fmodel


def run(model: nn.Module, signal: np.ndarray) -> np.ndarray:
    """``model``'s output on one whole signal (T,), as (T,)."""
    with torch.no_grad():
        out = model(torch.as_tensor(signal, dtype=torch.float32)[None, None])
    return getattr(out, "value", out)[0, 0].numpy()


def test_signal(seconds: float = 3.0) -> np.ndarray:
    """A held-out signal (another seed than training) of ``seconds`` at 48 kHz."""
    return synth_signal(seconds, TEST_SEED)


def tcn(seconds: float = 3.0, seed: int = 0) -> ModelBundle:
    """The trained TCN with one held-out signal of ``seconds`` as its input, shaped (1, 1, T).

    Compiled as a stream, the signal goes through the hardware one sample per step."""
    qmodel, fmodel = trained(seed)
    signal = test_signal(seconds)
    return ModelBundle(qmodel, signal[None, None], name=f"tcn-w{BITS}a{BITS}", float_model=fmodel)


def main() -> None:
    t = time.perf_counter()
    qmodel, fmodel = trained()
    took = time.perf_counter() - t
    x = test_signal()
    y = effect(x)
    print(f"tcn: held-out ESR float {100 * esr(y, run(fmodel, x)):.2f} %, quantised "
          f"{100 * esr(y, run(qmodel, x)):.2f} % ({len(x)} samples; trained or loaded in {took:.1f} s)")


if __name__ == "__main__":
    main()
