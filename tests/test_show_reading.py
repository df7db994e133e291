"""Reading commits for `show`: cat-file batches, tree walks, the memo, value formats."""
from __future__ import annotations

import json

import pytest

from git_exp.repo import discover
from git_exp.git.catfile import CatFile, Trees, parse_commit, parse_tree
from git_exp.show.commits import CommitReader, iso_date, plain
from git_exp.show.memo import Memo
from git_exp.show.values import format_delta, format_value, plain_text, sort_key
from tests.test_show import at, commit_at, make_exp, metrics


def test_read_many_answers_in_order_across_chunks(committed):
    committed.gen({"a.txt": "A\n", "dir": {"b.txt": "B" * 100000}})
    head = committed.commit("files")
    specs = [f"{head}:a.txt", f"{head}:nope", f"{head}:dir/b.txt", "0" * 40, "x\ny"] * 700
    with CatFile(str(committed.path)) as objects:
        got = objects.read_many(specs)
    assert len(got) == len(specs)
    for i in range(0, len(specs), 5):
        a, missing, b, zero, newline = got[i:i + 5]
        assert a.type == "blob" and a.data == b"A\n"
        assert missing is None and zero is None and newline is None
        assert b.data == b"B" * 100000


def test_trees_resolve_nested_paths_level_by_level(committed):
    committed.gen({"eval": {"deep": {"m.json": "{}"}}, "p.yaml": "a: 1\n"})
    head = committed.commit("nested")
    tree = committed.git("rev-parse", f"{head}^{{tree}}").strip()
    with CatFile(str(committed.path)) as objects:
        trees = Trees(objects)
        found = trees.resolve([(tree, "eval/deep/m.json"), (tree, "p.yaml"), (tree, "eval"),
                               (tree, "eval/none.json"), (tree, "p.yaml/x"), (tree, "./p.yaml")])
    blob = committed.git("rev-parse", f"{head}:eval/deep/m.json").strip()
    assert found[0] == ("100644", blob)
    assert found[1][0] == "100644" and found[5] == found[1]
    assert found[2][0] == "40000"
    assert found[3] is None and found[4] is None


def test_parse_tree_and_commit_read_raw_objects():
    raw = b"100644 a b.txt\0" + bytes(range(20)) + b"40000 dir\0" + bytes(20)
    assert parse_tree(raw) == {"a b.txt": ("100644", bytes(range(20)).hex()), "dir": ("40000", "0" * 40)}
    commit = (b"tree " + b"1" * 40 + b"\nparent " + b"2" * 40 + b"\nparent " + b"3" * 40 +
              b"\nauthor A <a@x> 1 +0000\ncommitter C > D <c@x> 1704189600 -0130\n"
              b"gpgsig -----BEGIN PGP SIGNATURE-----\n stuff\n -----END PGP SIGNATURE-----\n"
              b"\nexp: x\n\nExp-Name: x\n")
    info = parse_commit(commit)
    assert info.tree == "1" * 40 and info.parents == ["2" * 40, "3" * 40]
    assert (info.committer_time, info.committer_tz) == (1704189600, "-0130")
    assert info.message == "exp: x\n\nExp-Name: x\n"
    assert iso_date(1704189600, "-0130") == "2024-01-02T08:30:00-01:30"
    assert iso_date(1704189600, "junk") == "2024-01-02T10:00:00+00:00"


def test_plain_makes_yaml_dates_json_text():
    import datetime
    assert plain({"d": datetime.date(2024, 1, 2), 2: [datetime.time(3, 4)], True: None}) == {
        "d": "2024-01-02", "2": ["03:04:00"], "true": None}


@pytest.mark.parametrize("value, precision, text", [
    (0.1, 5, "0.1"), (3.0, 5, "3.0"), (0.123456789, 3, "0.123"), (2.5e-7, 5, "2.5e-07"),
    (1e-7, 0, "1e-07"), (123456.0, 2, "123456.0"), (float("nan"), 5, "nan"), (0.1, None, "0.1"),
    (7, 2, "7"), (True, 2, "true"), (None, 2, "null"), ("a\nb", 2, "a b"),
    ([1, "x"], 2, '[1, "x"]'), ({"a": 1}, 2, '{"a": 1}'),
])
def test_format_value(value, precision, text):
    assert format_value(value, precision) == text


def test_deltas_and_exact_text():
    assert format_delta(0.8, 0.9, 5) == "+0.1"
    assert format_delta(1, 3) == "+2" and format_delta(3, 1) == "-2" and format_delta(2, 2) == "0"
    assert format_delta("a", 1) == "-" and format_delta(True, False) == "-"
    assert plain_text(0.1 + 0.2) == "0.30000000000000004" and plain_text(None) == ""
    assert sorted([3, "b", True, 1.5, "a", [1]], key=sort_key) == [1.5, 3, True, "a", "b", [1]]


def test_memo_keeps_entries_another_process_wrote_meanwhile(tmp_path):
    first, second = Memo(str(tmp_path)), Memo(str(tmp_path))
    first.get("ab" + "1" * 38)      # both have read the (empty) shard
    second.get("ab" + "2" * 38)
    first.put("ab" + "1" * 38, {"x": 1})
    first.save()
    second.put("ab" + "2" * 38, {"x": 2})
    second.save()
    shard = json.loads((tmp_path / "memo" / "commits-v1" / "ab.json").read_text())
    assert shard == {"ab" + "1" * 38: {"x": 1}, "ab" + "2" * 38: {"x": 2}}
    assert [p.name for p in (tmp_path / "memo" / "commits-v1").iterdir()] == ["ab.json"]


def test_reader_parses_each_distinct_blob_once(committed, monkeypatch):
    committed.gen({"exp.yaml": "stages:\n  t:\n    cmd: x\n    metrics: [metrics.json]\n",
                   "params.yaml": "lr: 1\n", "metrics.json": metrics(0.5)})
    commit_at(committed, "pipeline", 0)
    shas = [make_exp(committed, f"e{i}", {"metrics.json": metrics(0.5 + (i % 2) / 10)}, date=at(i))
            for i in range(6)]
    import git_exp.show.commits as commits
    calls = []
    real = commits.parse_values
    monkeypatch.setattr(commits, "parse_values", lambda text, path: calls.append(path) or real(text, path))
    with_memo = CommitReader(discover(str(committed.path)))
    datas = with_memo.read(shas)
    # 6 commits share one params.yaml blob and two metrics.json blobs: three parses.
    assert sorted(calls) == ["metrics.json", "metrics.json", "params.yaml"]
    assert [datas[s].metrics["metrics.json"]["acc"] for s in shas] == [0.5, 0.6] * 3
    calls.clear()
    again = CommitReader(discover(str(committed.path))).read(shas)
    assert calls == [] and again == datas    # all from the memo
