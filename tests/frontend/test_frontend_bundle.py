"""ModelBundle, load_model_spec, the QAT helpers and the digits example's cache."""

import importlib.util
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from bitwave.errors import FrontendError
from bitwave.frontend import ModelBundle, accuracy, load_model_spec, train_classifier

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path, body, name="spec.py"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(body))
    return p


def test_spec_returning_a_bundle(tmp_path):
    p = write(tmp_path, """
        import numpy as np, torch
        from bitwave.frontend import ModelBundle
        def make():
            return ModelBundle(torch.nn.Linear(3, 2), np.zeros((5, 3)), np.arange(5), name="lin")
    """)
    b = load_model_spec(f"{p}:make")
    assert isinstance(b, ModelBundle) and b.name == "lin" and b.inputs.dtype == np.float32


def test_spec_returning_tuples(tmp_path):
    p = write(tmp_path, """
        import torch
        def two():
            return torch.nn.Linear(3, 2), torch.ones(4, 3)
        def three():
            return torch.nn.Linear(3, 2), torch.ones(4, 3), torch.tensor([0, 1, 1, 0])
    """)
    two = load_model_spec(f"{p}:two")
    assert two.name == "two" and two.inputs.shape == (4, 3) and two.labels is None
    three = load_model_spec(f"{p}:three")
    assert isinstance(three.labels, np.ndarray) and three.labels.tolist() == [0, 1, 1, 0]


@pytest.mark.parametrize("body, spec, message", [
    ("def f(): return 42\n", "{p}:f", "{p}:f: f() returned int; expected a ModelBundle or a tuple (model, inputs[, labels])"),
    ("def f(): return 1, 2\n", "{p}:f", "f() returned tuple; expected a ModelBundle"),
    ("def make(): pass\ndef other(): pass\n", "{p}:nope", "has no function 'nope'; it defines: make, other"),
    ("1 / 0\n", "{p}:f", "importing {p} failed: ZeroDivisionError"),
    ("", "{p}", "expected 'path/file.py:function'"),
    ("", "{d}/missing.py:f", "no such file"),
])
def test_spec_errors(tmp_path, body, spec, message):
    p = write(tmp_path, body)
    fill = dict(p=p, d=tmp_path)
    with pytest.raises(FrontendError) as e:
        load_model_spec(spec.format(**fill))
    assert message.format(**fill) in str(e.value)


def test_bundle_validates_its_arrays():
    m = nn.Linear(3, 2)
    with pytest.raises(FrontendError, match=r"inputs must be a numeric batch \(N, n\) or \(N, C, …\), "
                                            r"not float64 \(3,\)"):
        ModelBundle(m, np.zeros(3))
    assert ModelBundle(m, np.zeros((4, 2, 3, 3))).inputs.shape == (4, 2, 3, 3)   # images stay images
    with pytest.raises(FrontendError, match=r"labels must have shape \(4,\)"):
        ModelBundle(m, np.zeros((4, 3)), np.zeros(5))
    with pytest.raises(FrontendError, match="test_mask must be a bool array"):
        ModelBundle(m, np.zeros((4, 3)), test_mask=np.array([0, 1, 0, 1]))
    with pytest.raises(FrontendError, match="model must be a torch.nn.Module"):
        ModelBundle("model", np.zeros((4, 3)))
    b = ModelBundle(m, np.arange(12).reshape(4, 3), np.arange(4), np.array([False, True, False, True]))
    X, y = b.held_out()
    assert X.tolist() == [[3, 4, 5], [9, 10, 11]] and y.tolist() == [1, 3]


def blobs(n=200, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    X = rng.normal(size=(n, 5)).astype(np.float32) + 2.5 * np.eye(3, 5)[y].astype(np.float32)
    return X, y


def small_net(seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 3))


def test_training_is_deterministic_and_learns():
    X, y = blobs()
    threads = torch.get_num_threads()
    a, b = small_net(1), small_net(1)
    la = train_classifier(a, X, y, epochs=5, lr=1e-2, seed=5, batch_size=32)
    lb = train_classifier(b, X, y, epochs=5, lr=1e-2, seed=5, batch_size=32)
    assert la == lb
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    assert la[-1] < 0.5 * la[0]
    assert accuracy(a, X, y) > 0.9 and not a.training
    assert torch.get_num_threads() == threads
    c = small_net(1)
    train_classifier(c, X, y, epochs=5, lr=1e-2, seed=6, batch_size=32, threads=2)
    assert not torch.equal(a[0].weight, c[0].weight)
    assert torch.get_num_threads() == threads


def test_accuracy_counts_argmax_hits():
    m = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        m.weight.copy_(torch.eye(2))
    X = np.array([[1, 0], [0, 1], [2, 1], [0, 3]], np.float32)
    assert accuracy(m, X, [0, 1, 1, 1]) == 0.75


def test_training_rejects_bad_arguments():
    with pytest.raises(FrontendError, match="X has 3 samples but y has 2"):
        train_classifier(small_net(0), np.zeros((3, 5)), [0, 1], epochs=1)
    with pytest.raises(FrontendError, match="must be positive"):
        train_classifier(small_net(0), np.zeros((3, 5)), [0, 1, 2], epochs=0)
    with pytest.raises(FrontendError, match="threads must be 1 or 2, not 8"):
        train_classifier(small_net(0), np.zeros((3, 5)), [0, 1, 2], threads=8)


def load_digits_example():
    spec = importlib.util.spec_from_file_location("example_digits_bundle", ROOT / "examples" / "digits.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_digits_example_bundle_and_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    digits = load_digits_example()
    monkeypatch.setattr(digits, "EPOCHS", 1)  # the cache mechanism, not the accuracy, is tested here
    first = digits.digits(bits=4, hidden=8, seed=0)
    files = list((tmp_path / "bitwave").glob("digits-w4a4-h8-s0-*.pt"))
    assert len(files) == 1
    t = time.perf_counter()
    second = digits.digits(bits=4, hidden=8, seed=0)
    assert time.perf_counter() - t < 5
    for a, b in ((first.model, second.model), (first.float_model, second.float_model)):
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    X, y = second.held_out()
    assert accuracy(first.model, X, y) == accuracy(second.model, X, y)
    assert second.inputs.shape == (1797, 64) and 0 <= second.inputs.min() and second.inputs.max() <= 1
    per_class, held = np.bincount(second.labels), np.bincount(second.labels[second.test_mask])
    assert second.test_mask.sum() == 450 and np.all(np.abs(held - per_class / 4) <= 1)  # stratified
    assert second.name == "digits-w4a4-h8"
    keys = {digits._cache_file(4, 8, 0), digits._cache_file(4, 8, 1), digits._cache_file(2, 8, 0)}
    monkeypatch.setattr(digits, "EPOCHS", 2)
    keys.add(digits._cache_file(4, 8, 0))
    assert len(keys) == 4 and files[0] in keys


@pytest.mark.slow
def test_digits_4bit_is_within_two_points_of_float():
    digits = load_digits_example()
    b = digits.digits()
    X, y = b.held_out()
    assert accuracy(b.model, X, y) >= accuracy(b.float_model, X, y) - 0.02
