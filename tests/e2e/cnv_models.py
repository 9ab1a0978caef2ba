"""Brevitas' own bnn_pynq CNV models (``brevitas_examples.bnn_pynq``), untrained, as
``file.py:function`` specs for ``bitwave compile``: weights from Brevitas' own
initialisation and batch-norm statistics randomised (seeded, :func:`tfc_models.randomise_batchnorm`)
so that the thresholds are not trivial; CIFAR-sized samples ``(N, 3, 32, 32)`` with pixels
in [0, 1] (the models' forward computes ``2·x − 1`` before the input quantiser)."""

import importlib.util
from pathlib import Path

import numpy as np
import torch

from bitwave.frontend import ModelBundle

_SPEC = importlib.util.spec_from_file_location("_tfc_models", Path(__file__).resolve().parent / "tfc_models.py")
tfc_models = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(tfc_models)


def cnv(name: str, seed: int = 0, frames: int = 16):
    from brevitas_examples.bnn_pynq.models import model_with_cfg
    torch.manual_seed(seed)
    model, _ = model_with_cfg(name, pretrained=False)
    tfc_models.randomise_batchnorm(model)
    x = np.random.default_rng(seed).uniform(0, 1, size=(frames, 3, 32, 32)).astype(np.float32)
    return ModelBundle(model.eval(), x, name=name.replace("_", "-"))


def cnv_w1a1():
    return cnv("cnv_1w1a")


def cnv_w2a2():
    return cnv("cnv_2w2a")
