"""The sweep SPEC: parsing, one-line errors naming the key, content-addressed points."""

import pickle
from pathlib import Path

import pytest

from bitwave.errors import SweepError
from bitwave.sweep import load_spec, parse_spec

DIGITS = str(Path(__file__).resolve().parents[2] / "examples" / "digits.py")


def spec(**over):
    data = {"model": f"{DIGITS}:digits", "params": {"hidden": [16, 32], "bits": [2, 4], "seed": 0},
            "compile": {"target_cycles": [16, "folded"], "energy": [0, 0.01]}}
    data.update(over)
    return parse_spec(data, Path("s.toml"))


def test_grid_is_the_product_of_the_lists():
    s = spec()
    assert len(s.points) == 2 * 2 * 2 * 2
    assert set(s.swept) == {"hidden", "bits", "target_cycles", "energy"}
    p = s.points[0]
    assert p.kwargs == {"hidden": 16, "bits": 2, "seed": 0}
    assert p.target_cycles == 16 and p.energy == 0.0 and p.passes == ""
    low = [q for q in s.points if q.energy]
    assert low and all(q.passes == "svd-split{energy=0.01}" for q in low)
    assert {q.target_cycles for q in s.points} == {16, None}


def test_sample_draws_a_reproducible_subset():
    a = spec(sample={"count": 5, "seed": 3})
    b = spec(sample={"count": 5, "seed": 3})
    assert len(a.points) == 5 and [p.key for p in a.points] == [p.key for p in b.points]
    assert {p.key for p in a.points} <= {p.key for p in spec().points}


def test_same_spec_same_keys_changed_parameter_new_key():
    keys = [p.key for p in spec().points]
    assert keys == [p.key for p in spec().points]
    assert len(set(keys)) == len(keys)
    other = spec(params={"hidden": [16, 32], "bits": [2, 4], "seed": 1})
    assert not set(keys) & {p.key for p in other.points}
    clock = spec(clock_mhz=50)
    assert not set(keys) & {p.key for p in clock.points}


def test_key_does_not_depend_on_where_the_spec_is_read_from(tmp_path):
    text = f'model = "{DIGITS}:digits"\n[params]\nhidden = 16\n'
    (tmp_path / "a.toml").write_text(text)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "b.toml").write_text(text)
    assert load_spec(tmp_path / "a.toml").points[0].key == load_spec(tmp_path / "b" / "b.toml").points[0].key


def test_shipped_example_spec_has_at_least_24_points():
    root = Path(DIGITS).parents[1]
    s = load_spec(root / "examples" / "sweep_digits.toml")
    assert len(s.points) >= 24


@pytest.mark.parametrize("over, words", [
    ({"model": "digits.py"}, ["model", "file.py:function"]),
    ({"model": "nope.py:f"}, ["model", "no such file"]),
    ({"colour": 1}, ["colour", "unknown key", "allowed", "params"]),
    ({"compile": {"target_cycles": [0]}}, ["compile.target_cycles", "positive integer", "folded"]),
    ({"compile": {"energy": [1.5]}}, ["compile.energy", "0 <= energy < 1"]),
    ({"compile": {"folding": 3}}, ["compile.folding", "unknown key", "target_cycles"]),
    ({"compile": {"pipeline": 3}}, ["compile.pipeline", "string"]),
    ({"params": {"hidden": []}}, ["params.hidden", "empty list"]),
    ({"params": {"hidden": [{"a": 1}]}}, ["params.hidden", "bad value"]),
    ({"params": 3}, ["params", "table"]),
    ({"sample": {"count": 0}}, ["sample.count", "positive integer"]),
    ({"clock_mhz": -1}, ["clock_mhz", "positive"]),
    ({"lut_budgets": [1, "x"]}, ["lut_budgets", "positive integers"]),
])
def test_malformed_spec_names_the_key_and_what_is_allowed(over, words):
    with pytest.raises(SweepError) as e:
        spec(**over)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("s.toml: ")
    for w in words:
        assert w in msg


def test_bad_toml_and_missing_file_are_one_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("model = \n")
    with pytest.raises(SweepError, match="not valid TOML"):
        load_spec(bad)
    with pytest.raises(SweepError, match="no such spec file"):
        load_spec(tmp_path / "missing.toml")


def test_source_digest_covers_python_and_harness_files_only(tmp_path):
    from bitwave.sweep import source_digest
    (tmp_path / "sim").mkdir()
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "sim" / "harness.cpp").write_text("int main() {}\n")
    first = source_digest(tmp_path)
    assert first == source_digest(tmp_path)
    for unrelated in ("__pycache__/a.cpython-311.pyc", "notes.txt", "sim/a.o"):
        (tmp_path / unrelated).write_bytes(b"anything")
    assert source_digest(tmp_path) == first
    seen = {first}
    for change in (lambda: (tmp_path / "a.py").write_text("x = 2\n"),
                   lambda: (tmp_path / "sim" / "harness.cpp").write_text("int main() { return 1; }\n"),
                   lambda: (tmp_path / "sim" / "harness.h").write_text("#pragma once\n"),
                   lambda: (tmp_path / "a.py").rename(tmp_path / "b.py")):
        change()
        digest = source_digest(tmp_path)
        assert digest not in seen
        seen.add(digest)


def test_key_changes_with_bitwaves_own_source(monkeypatch):
    import bitwave
    from bitwave.sweep import _spec, source_digest
    points = spec().points
    keys = [p.key for p in points]
    installed = source_digest(Path(bitwave.__file__).parent)
    assert points[0].identity()["bitwave_source"] == installed
    monkeypatch.setattr(_spec, "_bitwave_source", lambda: "0" * 64)
    changed = [p.key for p in spec().points]
    assert not set(keys) & set(changed) and len(set(changed)) == len(changed)
    # A point keeps the digest it was parsed with: a worker computing its key (for its row)
    # agrees with the driver even when the source changed in between.
    assert [pickle.loads(pickle.dumps(p)).key for p in points] == keys
