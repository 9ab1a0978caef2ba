"""Small quantisation-aware-training helpers (CPU, deterministic, two threads)."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import nn

from ..errors import FrontendError

__all__ = ["train_classifier", "accuracy"]


def _tensor(x, dtype) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x).to(dtype)


def train_classifier(model: nn.Module, X, y, *, epochs: int = 60, lr: float = 1e-2, seed: int = 0,
                     batch_size: int = 64, weight_decay: float = 0.0, threads: int = 1,
                     regulariser: Callable[[], torch.Tensor] | None = None) -> list[float]:
    """Train ``model`` with Adam and cross-entropy (cosine learning-rate decay); returns the loss per epoch.

    Deterministic for a given ``seed``: the batch order comes from a seeded
    generator and torch's global seed is set (for dropout and Brevitas' own
    state).  Runs on ``threads`` threads (at most 2: the machines are shared),
    restoring the previous count afterwards.  One thread is the default because
    it is the fastest for small models: three epochs of the digits MLP took
    0.7 s on one thread and 3.6-15 s on two, whose workers spin-wait for each
    other when other jobs hold the cores.  ``regulariser()``, if given, is added
    to every batch's loss (e.g. :func:`bitwave.frontend.lowrank.svd_regulariser`).
    Leaves the model in eval mode.
    """
    if epochs < 1 or batch_size < 1 or lr <= 0:
        raise FrontendError(f"train_classifier: epochs, batch_size and lr must be positive, not {epochs}, "
                            f"{batch_size}, {lr}; pass e.g. epochs=60, batch_size=64, lr=1e-2")
    if threads not in (1, 2):
        raise FrontendError(f"train_classifier: threads must be 1 or 2, not {threads!r}; the machines are "
                            "shared, so leave it at 1 (the fastest for small models) or pass 2")
    X, y = _tensor(X, torch.float32), _tensor(y, torch.long)
    if len(X) != len(y):
        raise FrontendError(f"train_classifier: X has {len(X)} samples but y has {len(y)}; "
                            "pass one label per sample (y of shape (N,))")
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
        loss_fn = nn.CrossEntropyLoss()
        losses = []
        model.train()
        for _ in range(epochs):
            order = torch.randperm(len(X), generator=gen)
            total = 0.0
            for start in range(0, len(X), batch_size):
                idx = order[start:start + batch_size]
                if len(idx) < 2 and len(X) > 1:  # batch-norm needs two samples
                    continue
                opt.zero_grad()
                loss = loss_fn(model(X[idx]), y[idx])
                if regulariser is not None:
                    loss = loss + regulariser()
                loss.backward()
                opt.step()
                total += loss.item() * len(idx)
            sched.step()
            losses.append(total / len(X))
        return losses
    finally:
        model.eval()
        torch.set_num_threads(previous)


def accuracy(model: nn.Module, X, y) -> float:
    """Fraction of samples whose arg-max output is the label (model in eval mode, no grad)."""
    X, y = _tensor(X, torch.float32), _tensor(y, torch.long)
    training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return float((model(X).argmax(dim=1) == y).float().mean())
    finally:
        model.train(training)
