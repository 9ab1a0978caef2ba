"""A model with its data, loading one from a ``path/file.py:function`` spec, and where its layers are defined."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import os
import sys
import sysconfig
import weakref
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..errors import FrontendError

__all__ = ["ModelBundle", "load_checkpoint", "load_model_spec", "record_sources", "source_location"]

# module -> "path/file.py:line" of the user's line that constructed it (see record_sources).
_LOCATIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_recording = 0                               # nesting depth of record_sources()
_library_file: dict[str, bool] = {}          # co_filename -> is it torch/brevitas/bitwave/stdlib code?


def _library_dirs() -> tuple[tuple[str, ...], str]:
    """The package folders of torch, Brevitas (and its examples, whose model builders a user
    calls), bitwave, and the standard library's."""
    import brevitas
    pkgs = [os.path.dirname(m.__file__) for m in (torch, brevitas, sys.modules[__name__.split(".")[0]])]
    examples = importlib.util.find_spec("brevitas_examples")
    if examples is not None and examples.origin:
        pkgs.append(os.path.dirname(examples.origin))
    return (tuple(os.path.join(os.path.realpath(p), "") for p in pkgs),
            os.path.join(os.path.realpath(sysconfig.get_paths()["stdlib"]), ""))


def _is_library(filename: str, dirs: tuple[tuple[str, ...], str]) -> bool:
    lib = _library_file.get(filename)
    if lib is None:
        pkgs, stdlib = dirs
        real = os.path.realpath(filename)
        lib = (filename.startswith("<frozen ") or real.startswith(pkgs)
               or (real.startswith(stdlib) and "-packages" + os.sep not in real[len(stdlib):]))
        _library_file[filename] = lib
    return lib


def _user_line(mod: nn.Module, dirs, cwd: str) -> str | None:
    """``file.py:line`` of the first frame outside torch, Brevitas, bitwave and the standard library.

    Frames of ``mod``'s own ``__init__`` (a user-defined nn.Module calling
    ``super().__init__()``) are skipped too: its location is where it is built.
    """
    frame = sys._getframe(2)
    while frame is not None:
        code = frame.f_code
        if not _is_library(code.co_filename, dirs) and not (
                code.co_name == "__init__" and code.co_varnames[:1] == ("self",)
                and frame.f_locals.get("self") is mod):
            path = os.path.abspath(code.co_filename)
            if path.startswith(cwd):
                path = os.path.relpath(path, cwd)
            return f"{path}:{frame.f_lineno}"
        frame = frame.f_back
    return None


def source_location(module: nn.Module) -> str | None:
    """Where ``module`` was constructed (``"path/file.py:line"``), if it was built inside :func:`record_sources`.

    The path is relative to the current directory when the file lies under it.
    """
    return _LOCATIONS.get(module)


@contextlib.contextmanager
def record_sources():
    """Remember the user's ``file.py:line`` of every ``torch.nn.Module`` constructed inside.

    Error messages then point at the line defining the layer at fault.
    :func:`load_model_spec` does this for the spec's file; use it (as a
    ``with`` block or a decorator) to build models in tests or notebooks::

        with record_sources():
            model = make_model()

    It wraps ``torch.nn.Module.__init__`` while it runs and restores it after.
    """
    global _recording
    if _recording:
        _recording += 1
        try:
            yield
        finally:
            _recording -= 1
        return
    original = nn.Module.__init__
    dirs, cwd = _library_dirs(), os.path.join(os.getcwd(), "")

    @functools.wraps(original)
    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        if self not in _LOCATIONS:
            where = _user_line(self, dirs, cwd)
            if where is not None:
                _LOCATIONS[self] = where

    nn.Module.__init__ = init
    _recording = 1
    try:
        yield
    finally:
        _recording = 0
        nn.Module.__init__ = original


def _numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


@dataclass
class ModelBundle:
    """A (quantised) model with the samples to compile, verify and score it on.

    ``inputs`` is ``(N, …)`` real-valued in the model's own layout (``(N, n)``,
    ``(N, C, L)``, ``(N, C, H, W)``); ``labels`` (N,) class indices or
    None; ``test_mask`` (N,) bool marks held-out samples (None: no split);
    ``float_model`` is an optional float twin to report the quantisation cost.
    """
    model: nn.Module
    inputs: np.ndarray
    labels: np.ndarray | None = None
    test_mask: np.ndarray | None = None
    name: str = "model"
    float_model: nn.Module | None = None

    def __post_init__(self):
        if not isinstance(self.model, nn.Module):
            raise FrontendError(f"ModelBundle: model must be a torch.nn.Module, not {type(self.model).__name__}")
        if self.float_model is not None and not isinstance(self.float_model, nn.Module):
            raise FrontendError("ModelBundle: float_model must be a torch.nn.Module or None, "
                                f"not {type(self.float_model).__name__}")
        x = _numpy(self.inputs)
        if x.ndim < 2 or x.shape[0] < 1 or 0 in x.shape or x.dtype.kind not in "fiub":
            raise FrontendError(f"ModelBundle: inputs must be a numeric batch (N, n) or (N, C, …), "
                                f"not {x.dtype} {x.shape}")
        self.inputs = x.astype(np.float32, copy=False)
        n = x.shape[0]
        if self.labels is not None:
            y = _numpy(self.labels)
            if y.shape != (n,):
                raise FrontendError(f"ModelBundle: labels must have shape ({n},), not {y.shape}")
            self.labels = y
        if self.test_mask is not None:
            m = _numpy(self.test_mask)
            if m.shape != (n,) or m.dtype != bool:
                raise FrontendError(f"ModelBundle: test_mask must be a bool array of shape ({n},), "
                                    f"not {m.dtype} {m.shape}")
            self.test_mask = m

    def held_out(self) -> tuple[np.ndarray, np.ndarray | None]:
        """The held-out samples (all samples when there is no split) and their labels."""
        m = self.test_mask if self.test_mask is not None else np.ones(len(self.inputs), bool)
        return self.inputs[m], None if self.labels is None else self.labels[m]


def load_model_spec(spec: str) -> ModelBundle:
    """Import ``path/file.py`` and call ``function()`` from a ``"path/file.py:function"`` spec.

    The function returns a :class:`ModelBundle` or a tuple ``(model, inputs[, labels])``.
    Modules built while the file is imported and the function runs remember
    their ``file.py:line`` (:func:`record_sources`) for error messages.
    """
    path, sep, func = str(spec).rpartition(":")
    if not sep or not path or not func:
        raise FrontendError(f"{spec}: expected 'path/file.py:function'")
    if not os.path.isfile(path):
        raise FrontendError(f"{spec}: no such file {path!r}")
    digest = hashlib.sha1(os.path.abspath(path).encode()).hexdigest()[:10]
    mod_name = f"bitwave_spec_{digest}"
    loader_spec = importlib.util.spec_from_file_location(mod_name, path)
    if loader_spec is None or loader_spec.loader is None:
        raise FrontendError(f"{spec}: {path!r} is not a Python file")
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[mod_name] = module  # so dataclasses and pickling inside the file work
    try:
        with record_sources():
            loader_spec.loader.exec_module(module)
    except Exception as e:
        sys.modules.pop(mod_name, None)
        raise FrontendError(f"{spec}: importing {path} failed: {type(e).__name__}: {e}") from e
    fn = getattr(module, func, None)
    if not callable(fn):
        found = sorted(k for k, v in vars(module).items()
                       if callable(v) and getattr(v, "__module__", None) == mod_name and not k.startswith("_"))
        raise FrontendError(f"{spec}: {path} has no function {func!r}; it defines: "
                            f"{', '.join(found) or 'no public functions'}")
    try:
        with record_sources():
            result = fn()
    except FrontendError:
        raise
    except Exception as e:
        # Point at the user's own line (the deepest frame in their file), not into a library.
        where, tb = "", e.__traceback__
        while tb is not None:
            if os.path.abspath(tb.tb_frame.f_code.co_filename) == os.path.abspath(path):
                where = f" at {path}:{tb.tb_lineno}"
            tb = tb.tb_next
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise FrontendError(f"{spec}: {func}() failed{where}: {type(e).__name__}: {first}") from e
    if isinstance(result, ModelBundle):
        return result
    if (isinstance(result, tuple) and len(result) in (2, 3) and isinstance(result[0], nn.Module)):
        return ModelBundle(result[0], _numpy(result[1]), None if len(result) == 2 else result[2], name=func)
    raise FrontendError(f"{spec}: {func}() returned {type(result).__name__}; expected a ModelBundle "
                        "or a tuple (model, inputs[, labels])")


def load_checkpoint(model: nn.Module, path: str | os.PathLike) -> nn.Module:
    """Load a ``state_dict`` checkpoint (``torch.save``) into ``model``; returns ``model``.

    Every way a checkpoint can be wrong ends in a :class:`FrontendError` naming
    the file: missing, truncated or not a PyTorch file, not a state dict, keys
    missing or unexpected, tensors of the wrong shape, NaN or Inf values.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FrontendError(f"{path}: no such checkpoint file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:   # torch raises RuntimeError, EOFError, UnpicklingError, … by cause
        raise FrontendError(f"{path}: not a readable PyTorch checkpoint, truncated or corrupt "
                            f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); "
                            "save it again with torch.save(model.state_dict(), path)") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise FrontendError(f"{path}: holds a {type(state).__name__}, not a state dict of tensors; "
                            "save it with torch.save(model.state_dict(), path)")
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing[:5])}{' …' if len(missing) > 5 else ''}")
        if unexpected:
            parts.append(f"unexpected {', '.join(unexpected[:5])}{' …' if len(unexpected) > 5 else ''}")
        raise FrontendError(f"{path}: does not fit {type(model).__name__}: {'; '.join(parts)}")
    for key, value in state.items():
        if tuple(value.shape) != tuple(own[key].shape):
            raise FrontendError(f"{path}: {key} has shape {tuple(value.shape)}, the model's is "
                                f"{tuple(own[key].shape)}")
        if value.is_floating_point() and not torch.isfinite(value).all():
            raise FrontendError(f"{path}: {key} contains NaN or Inf")
    model.load_state_dict(state)
    return model
