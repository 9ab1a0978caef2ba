"""The samples a design is verified with, as the build folder keeps them (``dataset.npz``)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from .errors import BuildFolderError

__all__ = ["Dataset"]


@dataclass
class Dataset:
    """Samples to verify with: real inputs (``(N, …)`` in the model's layout, channels first, or
    flat ``(N, n)``), optional labels, held-out mask, and the outputs of
    the float twin (``float_outputs``) and of the quantised PyTorch model itself (``model_outputs``)."""
    inputs: np.ndarray
    labels: np.ndarray | None = None
    test_mask: np.ndarray | None = None
    float_outputs: np.ndarray | None = None
    model_outputs: np.ndarray | None = None

    FILE = "dataset.npz"

    def save(self, path: Path) -> None:
        arrays = {k: v for k, v in self.__dict__.items() if v is not None}
        np.savez_compressed(path, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> "Dataset":
        """Read an .npz with an ``inputs`` array (and optionally the other fields)."""
        try:
            with np.load(path) as z:
                return cls(**{k: z[k] for k in z.files if k in {f.name for f in fields(cls)}})
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise BuildFolderError(f"{path}: cannot read an .npz with an 'inputs' array ({e})") from None

    def accuracy(self, scores: np.ndarray) -> dict:
        """Top-1 accuracy of ``scores`` (N, classes) on all samples and on the held-out ones."""
        ok = np.argmax(scores, axis=1) == self.labels[:len(scores)]
        out = {"all": float(ok.mean())}
        mask = None if self.test_mask is None else self.test_mask[:len(scores)]
        if mask is not None and mask.any():
            out["test"] = float(ok[mask].mean())
        return out
