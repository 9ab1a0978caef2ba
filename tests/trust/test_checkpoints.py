"""Checkpoint files and user model functions that fail: clear FrontendErrors, one CLI line."""

import pytest
import torch
from torch import nn

from bitwave.cli import main
from bitwave.errors import FrontendError
from bitwave.frontend import load_checkpoint


def net():
    return nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))


@pytest.fixture
def good(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "good.pt"
    torch.save(net().state_dict(), path)
    return path


def test_good_checkpoint_loads(good):
    m = load_checkpoint(net(), good)
    assert torch.equal(m[0].weight, torch.load(good)["0.weight"])


@pytest.mark.parametrize("damage, words", [
    (lambda p: p.write_bytes(p.read_bytes()[:200]), ["truncated or corrupt"]),
    (lambda p: p.write_bytes(b"\x00garbage" * 50), ["not a readable PyTorch checkpoint"]),
    (lambda p: torch.save([1, 2, 3], p), ["holds a list, not a state dict"]),
    (lambda p: torch.save({"0.weight": torch.zeros(3, 4)}, p), ["does not fit Sequential", "missing 0.bias"]),
    (lambda p: torch.save(dict(net().state_dict(), **{"0.weight": torch.zeros(5, 4)}), p),
     ["0.weight has shape (5, 4), the model's is (3, 4)"]),
    (lambda p: torch.save(dict(net().state_dict(), **{"2.bias": torch.tensor([0.0, float("nan")])}), p),
     ["2.bias contains NaN or Inf"]),
], ids=["truncated", "garbage", "not-a-dict", "missing-keys", "wrong-shape", "nan"])
def test_bad_checkpoint_is_a_frontend_error_naming_the_file(good, damage, words):
    damage(good)
    with pytest.raises(FrontendError) as e:
        load_checkpoint(net(), good)
    assert str(e.value).startswith(str(good)) and all(w in str(e.value) for w in words), str(e.value)


def test_missing_checkpoint(tmp_path):
    with pytest.raises(FrontendError, match="no such checkpoint file"):
        load_checkpoint(net(), tmp_path / "nope.pt")


def test_cli_model_function_with_a_corrupt_checkpoint(tmp_path, capsys):
    """A user's model function that loads a broken checkpoint: one error line naming file and line."""
    (tmp_path / "bad.pt").write_bytes(b"PK\x03\x04 truncated")
    (tmp_path / "m.py").write_text(
        "import torch\n"
        "from torch import nn\n"
        "def model():\n"
        f"    state = torch.load({str(tmp_path / 'bad.pt')!r})\n"
        "    return nn.Linear(2, 2), torch.zeros(1, 2)\n")
    with pytest.raises(SystemExit) as e:
        main(["compile", f"{tmp_path / 'm.py'}:model", "-o", str(tmp_path / "out")])
    assert e.value.code != 0
    err = capsys.readouterr().err
    assert "Traceback" not in err
    (line,) = [ln for ln in err.splitlines() if ln.startswith("error: ")]
    assert "m.py:model: model() failed at" in line and "m.py:4" in line
    assert not (tmp_path / "out").exists()
