"""The run cache: fingerprints, hits, misses, corrupt entries, first writer wins."""
from __future__ import annotations

import datetime
import json
import os

import pytest

from git_exp.data.hashing import HashInfo
from git_exp.data.runcache import RunCache
from git_exp.errors import ExpError

H1, H2 = "1" * 64, "2" * 64
CMD = ["python", "train.py", "--epochs", "3"]
DEPS = {"data/train.csv": H1, "train.py": H2}
PARAMS = {"lr": 0.1, "model": {"layers": [64, 32], "act": "relu"}}
OUTS = ["models/model.pkl", "metrics.json"]


def fp(**changes) -> str:
    args = {"cmd": CMD, "deps": DEPS, "params": PARAMS, "outs": OUTS}
    args.update(changes)
    return RunCache.fingerprint(**args)


def test_fingerprint_is_stable_and_ignores_mapping_and_outs_order():
    base = fp()
    assert len(base) == 64 and base == fp()
    assert base == fp(deps=dict(reversed(list(DEPS.items()))),
                      params={"model": {"act": "relu", "layers": [64, 32]}, "lr": 0.1},
                      outs=list(reversed(OUTS)))


@pytest.mark.parametrize("change", [
    {"cmd": ["python", "train.py", "3", "--epochs"]},
    {"deps": {**DEPS, "train.py": H1}},
    {"deps": {"data/train.csv": H1}},
    {"params": {**PARAMS, "lr": 0.01}},
    {"params": {**PARAMS, "model": {"layers": [32, 64], "act": "relu"}}},
    {"params": {**PARAMS, "lr": "0.1"}},
    {"outs": ["models/model.pkl"]},
])
def test_fingerprint_changes_with_every_input(change):
    assert fp(**change) != fp()


def test_fingerprint_tells_yaml_key_types_apart():
    assert fp(params={1: "a"}) != fp(params={"1": "a"})
    assert fp(params={"d": datetime.date(2024, 1, 2)}) != fp(params={"d": "2024-01-02"})


def test_miss_then_record_then_hit(tmp_path):
    rc = RunCache(str(tmp_path / "exp"))
    key = fp()
    assert rc.lookup(key) is None
    outs = {"models/model.pkl": HashInfo(H1, 10), "data/out": HashInfo(H2 + ".dir", 30, 3)}
    rc.record(key, outs)
    entry = rc.lookup(key)
    assert entry["outs"] == {p: i.to_dict() for p, i in outs.items()}
    assert datetime.datetime.fromisoformat(entry["created"]).tzinfo is not None
    path = tmp_path / "exp" / "runcache" / key[:2] / (key[2:] + ".json")
    assert path.is_file()
    assert os.listdir(path.parent) == [path.name]  # no temp file left behind


def test_first_writer_wins(tmp_path):
    rc = RunCache(str(tmp_path / "exp"))
    key = fp()
    rc.record(key, {"out": HashInfo(H1, 1)})
    rc.record(key, {"out": HashInfo(H2, 2)})
    assert rc.lookup(key)["outs"] == {"out": {"hash": H1, "size": 1}}
    assert len(os.listdir(tmp_path / "exp" / "runcache" / key[:2])) == 1


@pytest.mark.parametrize("content", [
    b"", b"{not json", b"\xff\xfe", b"[]",
    json.dumps({"outs": {"out": {"hash": "bad", "size": 1}}, "created": "x"}).encode(),
    json.dumps({"outs": {"out": {"hash": H1, "size": 1}}}).encode(),
    json.dumps({"outs": [], "created": "x"}).encode(),
])
def test_a_corrupt_entry_is_a_miss_and_is_replaced(tmp_path, content):
    rc = RunCache(str(tmp_path / "exp"))
    key = fp()
    path = tmp_path / "exp" / "runcache" / key[:2] / (key[2:] + ".json")
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    assert rc.lookup(key) is None
    rc.record(key, {"out": HashInfo(H1, 1)})
    assert rc.lookup(key)["outs"] == {"out": {"hash": H1, "size": 1}}


def test_malformed_fingerprint_is_refused(tmp_path):
    rc = RunCache(str(tmp_path / "exp"))
    with pytest.raises(ExpError, match="malformed run fingerprint"):
        rc.lookup("../../etc/passwd")
