"""Hashing files and directories, and the stat memo that avoids re-hashing."""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import time

import pytest

from git_exp.data.hashing import (CHUNK_SIZE, HashInfo, ManifestEntry, hash_file, hash_path,
                                  is_valid_hash, manifest_bytes, manifest_bytes_of, parse_manifest)
from git_exp.data.state import StateMemo
from git_exp.errors import ExpError

H1 = "a" * 64
H2 = "0123456789abcdef" * 4


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def age(path, seconds=3600):
    """Make PATH look written SECONDS ago, old enough for the memo to trust."""
    t = time.time() - seconds
    os.utime(path, (t, t))


# -- files and hashes ------------------------------------------------------

def test_hash_file_streams_across_chunk_boundaries(tmp_path):
    data = os.urandom(CHUNK_SIZE * 2 + 17)
    (tmp_path / "f").write_bytes(data)
    assert hash_file(str(tmp_path / "f")) == sha(data)
    (tmp_path / "empty").write_bytes(b"")
    assert hash_file(str(tmp_path / "empty")) == sha(b"")


@pytest.mark.parametrize("text,ok", [
    (H1, True), (H1 + ".dir", True), (H1.upper(), False), (H1[:-1], False),
    (H1 + "0", False), (H1 + ".dir\n", False), (H1 + "\n", False), ("", False),
    (H1 + ".DIR", False), (None, False), ("g" * 64, False)])
def test_is_valid_hash(text, ok):
    assert is_valid_hash(text) is ok


def test_hash_info_round_trip_and_validation():
    f = HashInfo(H1, 10)
    d = HashInfo(H2 + ".dir", 30, 3)
    assert not f.is_dir and d.is_dir
    assert f.to_dict() == {"hash": H1, "size": 10}
    assert HashInfo.from_dict(f.to_dict()) == f
    assert HashInfo.from_dict(d.to_dict()) == d
    assert HashInfo.from_dict({"hash": H1, "size": 1, "nfiles": None, "future": 1}) == HashInfo(H1, 1)


@pytest.mark.parametrize("bad,words", [
    ({"hash": "xyz", "size": 1}, "'xyz' is not a sha256 hash"),
    ({"hash": H1, "size": -1}, "size '-1'"),
    ({"hash": H1, "size": "10"}, "size '10'"),
    ({"hash": H1, "size": True}, "size 'True'"),
    ({"hash": H1 + ".dir", "size": 1}, "nfiles 'None'"),
    ({"hash": H1, "size": 1, "nfiles": 2}, "nfiles is set"),
    ({"size": 1}, "missing hash"),
    (["not", "a", "dict"], "expected a mapping"),
])
def test_hash_info_from_dict_rejects(bad, words):
    with pytest.raises(ExpError) as exc:
        HashInfo.from_dict(bad, where="data.exp")
    assert exc.value.message.startswith("data.exp: bad hash info: ")
    assert words in exc.value.message


# -- manifests -------------------------------------------------------------

def test_manifest_bytes_are_canonical():
    a = ManifestEntry("b/x", H1, 1, False)
    b = ManifestEntry("a", H2, 2, True)
    data = manifest_bytes([a, b])
    assert data == manifest_bytes([b, a])
    assert data == (b'[{"exec":true,"hash":"' + H2.encode() + b'","path":"a","size":2},'
                    b'{"exec":false,"hash":"' + H1.encode() + b'","path":"b/x","size":1}]')
    assert parse_manifest(data) == [b, a]


def test_manifest_round_trips_names_that_are_not_utf8():
    name = os.fsdecode(b"caf\xe9")  # latin-1 bytes: a surrogate escape in Python
    e = ManifestEntry(name, H1, 0, False)
    assert parse_manifest(manifest_bytes([e])) == [e]


def entry(**kw):
    row = {"path": "a", "hash": H1, "size": 1, "exec": False}
    row.update(kw)
    return row


@pytest.mark.parametrize("rows,words", [
    ([entry(path="../evil")], "'..' in path"),
    ([entry(path="a/../../evil")], "'..' in path"),
    ([entry(path="/etc/passwd")], "absolute path"),
    ([entry(path="a//b")], "in path"),
    ([entry(path="./a")], "'.' in path"),
    ([entry(path="")], "empty path"),
    ([entry(path="x/.git/hooks/pre-commit")], "'.git' in path"),
    ([entry(path=".GIT/config")], "'.git' in path"),
    ([entry(hash="nothex")], "is not a file hash"),
    ([entry(hash=H1 + ".dir")], "is not a file hash"),
    ([entry(size=-4)], "bad size"),
    ([entry(exec="yes")], "bad exec flag"),
    ([entry(), entry()], "duplicate path"),
    ([entry(path="a"), entry(path="a/b")], "both a file and a directory"),
    ([{"path": "a", "hash": H1}], "expected keys"),
    ({"path": "a"}, "not a JSON list"),
])
def test_parse_manifest_refuses_bad_entries(rows, words):
    with pytest.raises(ExpError) as exc:
        parse_manifest(json.dumps(rows).encode())
    assert words in exc.value.message


# Rows the all-at-once pass (hashing._checked_at_once) must leave to the
# row-by-row check, beyond the refusals above: the edges of each rule.
TRICKY = [
    [entry(path="a/")], [entry(path="a/.")], [entry(path="a/..")], [entry(path=".Git")], [entry(path="a/.gIT/b")],
    [entry(path="a\0b")], [entry(path="\0")], [entry(path="/")], [entry(path="a\n/.git")],
    [entry(hash="A" * 64)], [entry(hash="a" * 63)], [entry(hash="a" * 65)], [entry(hash="a" * 63 + "\n")],
    [entry(hash="g" * 64)], [entry(hash=64)], [entry(hash=None)], [entry(hash="a" * 60 + ".dir")],
    [entry(size=True)], [entry(size=1.0)], [entry(size="1")], [entry(exec=0)], [entry(exec=None)],
    [entry(path="b"), entry(path="a"), entry(path="b")], [entry(path="a/b/c"), entry(path="a/b")],
    [dict(entry(), extra=1)], [[1, 2, 3, 4]], ["abcd"], [entry(), None],
]


@pytest.mark.parametrize("rows", TRICKY)
def test_the_fast_manifest_check_never_passes_what_the_row_by_row_check_refuses(rows):
    from git_exp.data.hashing import _checked_at_once, _checked_one_by_one
    with pytest.raises(ExpError):   # every list above is refused...
        _checked_one_by_one(rows)
    assert _checked_at_once(rows) is None   # ...and the fast pass leaves it to that check
    with pytest.raises(ExpError, match="corrupt directory manifest"):
        parse_manifest(json.dumps(rows).encode())


def test_the_fast_manifest_check_agrees_with_the_row_by_row_check_on_random_manifests():
    import random
    from git_exp.data.hashing import _checked_at_once, _checked_one_by_one
    parts = ["a", "b", "B", ".", "..", "...", "", ".git", ".GIT", ".gitx", "x.git", "\u00e9", "a b", "\n"]
    rng = random.Random(20)
    accepted = refused = 0
    for _ in range(3000):
        rows = []
        for _ in range(rng.randint(0, 4)):
            path = "/".join(rng.choice(parts) for _ in range(rng.randint(1, 3)))
            h = rng.choice([H1, H2, H2.upper(), H1 + ".dir", H1[:-1]])
            rows.append({"path": path, "hash": h, "size": rng.choice([0, 3, -1, True]),
                         "exec": rng.choice([False, True, 1])})
        try:
            slow = _checked_one_by_one(rows)
        except ExpError:
            slow = None
        fast = _checked_at_once(rows)
        if fast is not None:
            assert slow is not None and [ManifestEntry(*f) for f in fast] == slow, rows
            accepted += 1
        refused += slow is None
    assert accepted > 100 and refused > 100   # both sides of every rule were met


def test_parse_manifest_takes_the_fast_way_for_a_plain_manifest_and_agrees_with_the_slow_one():
    from git_exp.data.hashing import _checked_at_once, _checked_one_by_one
    entries = [ManifestEntry(f"d{i % 7}/sub/f{i}", H2 if i % 2 else H1, i, i % 3 == 0) for i in range(500)]
    data = manifest_bytes(entries)
    rows = json.loads(data)
    assert _checked_at_once(rows) is not None
    assert parse_manifest(data) == _checked_one_by_one(rows) == sorted(entries, key=lambda e: e.relpath)
    odd = manifest_bytes(entries + [ManifestEntry("d\u00e9/f", H1, 1, False)])  # a non-ASCII name
    assert _checked_at_once(json.loads(odd)) is None                      # left to the slow way,
    assert len(parse_manifest(odd)) == 501                                # which accepts it


def test_parse_manifest_refuses_garbage():
    with pytest.raises(ExpError, match="corrupt directory manifest"):
        parse_manifest(b"\x00\xffnot json")


# -- hash_path -------------------------------------------------------------

def test_hash_path_of_a_file(tmp_path):
    (tmp_path / "f").write_bytes(b"content")
    info, entries = hash_path(str(tmp_path / "f"))
    assert info == HashInfo(sha(b"content"), 7) and entries is None


def test_hash_path_of_a_directory_is_the_hash_of_its_manifest(tmp_path):
    d = tmp_path / "d"
    (d / "sub" / "deeper").mkdir(parents=True)
    (d / "empty-dir").mkdir()
    (d / "a.txt").write_bytes(b"A")
    (d / "sub" / "run.sh").write_bytes(b"#!/bin/sh\n")
    (d / "sub" / "run.sh").chmod(0o755)
    (d / "sub" / "deeper" / "z").write_bytes(b"")
    info, entries = hash_path(str(d))
    assert entries == [ManifestEntry("a.txt", sha(b"A"), 1, False),
                       ManifestEntry("sub/deeper/z", sha(b""), 0, False),
                       ManifestEntry("sub/run.sh", sha(b"#!/bin/sh\n"), 10, True)]
    assert info == HashInfo(sha(manifest_bytes(entries)) + ".dir", 11, 3)
    # The same content elsewhere gives the same hash; any change gives another.
    same = tmp_path / "same"
    os.rename(d, same)
    assert hash_path(str(same))[0] == info
    (same / "sub" / "run.sh").chmod(0o644)
    assert hash_path(str(same))[0] != info


def test_hash_path_refuses_symlinks_inside_directories(tmp_path):
    (tmp_path / "outside").write_bytes(b"secret")
    d = tmp_path / "d"
    d.mkdir()
    (d / "link").symlink_to(tmp_path / "outside")
    with pytest.raises(ExpError) as exc:
        hash_path(str(d))
    assert "refusing to follow symlink" in exc.value.message and "link" in exc.value.message
    assert exc.value.hint


def test_hash_path_follows_a_symlink_into_the_cache_only(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "obj").write_bytes(b"data")
    d = tmp_path / "d"
    d.mkdir()
    (d / "f").symlink_to(cache / "obj")
    info, entries = hash_path(str(d), cache_root=str(cache))
    assert entries == [ManifestEntry("f", sha(b"data"), 4, False)]


def test_hash_path_refuses_nested_git_metadata_and_special_files(tmp_path):
    d = tmp_path / "d"
    (d / ".git").mkdir(parents=True)
    with pytest.raises(ExpError, match="Git metadata cannot be data"):
        hash_path(str(d))
    (d / ".git").rmdir()
    os.mkfifo(d / "pipe")
    with pytest.raises(ExpError, match="not a regular file"):
        hash_path(str(d))


def test_hash_path_of_a_missing_path(tmp_path):
    with pytest.raises(ExpError, match="does not exist"):
        hash_path(str(tmp_path / "nope"))


# -- the memo --------------------------------------------------------------

def test_memo_is_trusted_while_inode_size_and_mtime_are_unchanged(tmp_path):
    f = tmp_path / "data.bin"
    f.write_bytes(b"first version")
    age(f)
    exp = tmp_path / "exp"
    with StateMemo(str(exp)) as memo:
        first = hash_path(str(f), memo)[0]
    assert first.hash == sha(b"first version")

    # Same size, and put the old mtime back: the memo vouches for the old hash.
    # (This is what proves hash_path asked the memo instead of reading the file.)
    st = f.stat()
    f.write_bytes(b"other version")
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    with StateMemo(str(exp)) as memo:
        assert hash_path(str(f), memo)[0] == first
    assert hash_path(str(f))[0].hash == sha(b"other version")  # without a memo: the truth

    # A different mtime is a miss: the file is hashed again.
    age(f, 7200)
    with StateMemo(str(exp)) as memo:
        assert hash_path(str(f), memo)[0].hash == sha(b"other version")


def test_memo_is_used_for_every_file_of_a_directory(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    for i in range(5):
        (d / f"f{i}").write_bytes(b"%d" % i)
        age(d / f"f{i}")
    exp = str(tmp_path / "exp")
    with StateMemo(exp) as memo:
        info = hash_path(str(d), memo)[0]
    st = (d / "f3").stat()
    (d / "f3").write_bytes(b"X")
    os.utime(d / "f3", ns=(st.st_atime_ns, st.st_mtime_ns))
    with StateMemo(exp) as memo:
        assert hash_path(str(d), memo)[0] == info
    assert hash_path(str(d))[0] != info


def test_memo_does_not_record_files_written_just_now(tmp_path):
    # Racy mtime: a file written in the same clock tick as hashing may change
    # again without its mtime moving, so fresh files are never recorded.
    f = tmp_path / "fresh"
    f.write_bytes(b"one")
    exp = str(tmp_path / "exp")
    with StateMemo(exp) as memo:
        hash_path(str(f), memo)
    st = f.stat()
    f.write_bytes(b"two")
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    with StateMemo(exp) as memo:
        assert hash_path(str(f), memo)[0].hash == sha(b"two")


def test_memo_recreates_a_corrupt_database(tmp_path):
    exp = tmp_path / "exp"
    exp.mkdir()
    (exp / "state.db").write_bytes(b"this is not an sqlite database" * 100)
    f = tmp_path / "f"
    f.write_bytes(b"x")
    age(f)
    with StateMemo(str(exp)) as memo:
        assert hash_path(str(f), memo)[0].hash == sha(b"x")
    with sqlite3.connect(str(exp / "state.db")) as db:
        assert db.execute("SELECT hash FROM state").fetchall() == [(sha(b"x"),)]


def test_memo_creates_a_missing_exp_dir_and_survives_its_deletion(tmp_path):
    exp = tmp_path / "deep" / "exp"
    f = tmp_path / "f"
    f.write_bytes(b"x")
    age(f)
    with StateMemo(str(exp)) as memo:
        memo.put(str(f), f.stat(), sha(b"x"))
    assert (exp / "state.db").is_file()
    for name in os.listdir(exp):
        os.unlink(exp / name)
    with StateMemo(str(exp)) as memo:
        assert memo.get(str(f), f.stat()) is None
        memo.put(str(f), f.stat(), sha(b"x"))
    with StateMemo(str(exp)) as memo:
        assert memo.get(str(f), f.stat()) == sha(b"x")


def test_memo_reads_while_another_process_holds_the_write_lock(tmp_path):
    exp = tmp_path / "exp"
    f = tmp_path / "f"
    f.write_bytes(b"x")
    age(f)
    with StateMemo(str(exp)) as memo:
        memo.put(str(f), f.stat(), sha(b"x"))
    g = tmp_path / "g"
    g.write_bytes(b"y")
    age(g)
    # Another process holds the write lock, as a busy writer would.
    writer = subprocess.Popen(
        [sys.executable, "-c",
         "import sqlite3, sys\n"
         f"db = sqlite3.connect({str(exp / 'state.db')!r}, isolation_level=None)\n"
         "db.execute('BEGIN IMMEDIATE')\n"
         "print('locked', flush=True)\n"
         "sys.stdin.read()\n"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline() == "locked\n"
        with StateMemo(str(exp)) as memo:
            assert memo.get(str(f), f.stat()) == sha(b"x")  # readers never wait in WAL mode
            memo.put(str(g), g.stat(), sha(b"y"))  # dropped quietly when close() finds it locked
    finally:
        writer.stdin.close()
        writer.wait(timeout=10)
    with StateMemo(str(exp)) as memo:
        assert memo.get(str(g), g.stat()) is None


def test_memo_ignores_a_garbage_row(tmp_path):
    exp = tmp_path / "exp"
    f = tmp_path / "f"
    f.write_bytes(b"x")
    age(f)
    other = tmp_path / "other"
    other.write_bytes(b"y")
    age(other)
    with StateMemo(str(exp)) as memo:   # a database with its tables (made on a first write)
        memo.put(str(other), other.stat(), sha(b"y"))
    st = f.stat()
    with sqlite3.connect(str(exp / "state.db")) as db:
        db.execute("INSERT INTO state VALUES (?, ?, ?, ?, ?)",
                   (str(f), st.st_ino, st.st_mtime_ns, st.st_size, "not a hash"))
    with StateMemo(str(exp)) as memo:
        assert memo.get(str(f), st) is None
        assert hash_path(str(f), memo)[0].hash == sha(b"x")


def test_memo_copes_with_names_that_are_not_utf8(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    name = os.fsdecode(b"caf\xe9.csv")
    with open(os.path.join(str(d), name), "wb") as f:
        f.write(b"latin-1 name")
    age(os.path.join(str(d), name))
    exp = str(tmp_path / "exp")
    with StateMemo(exp) as memo:
        info, entries = hash_path(str(d), memo)
    with StateMemo(exp) as memo:
        assert hash_path(str(d), memo)[0] == info
    assert entries == [ManifestEntry(name, sha(b"latin-1 name"), 12, False)]


def test_manifest_bytes_are_what_json_makes_of_the_rows_for_any_name():
    # manifest_bytes writes the JSON out itself: it must stay byte for byte
    # json.dumps's canonical form, whatever a name holds.
    names = ['plain', 'quote"d', "back\\slash", "tab\there", "new\nline", "\x00\x1f\x7f",
             "caf\u00e9", "\u4e2d\u6587", "emoji \U0001f600", os.fsdecode(b"latin\xe9"), "a/b/c", ""]
    entries = [ManifestEntry(n, H1 if i % 2 else H2, i * 4096, bool(i % 3)) for i, n in enumerate(names)]
    expected = json.dumps([{"path": e.relpath, "hash": e.hash, "size": e.size, "exec": e.executable}
                           for e in sorted(entries, key=lambda e: e.relpath)],
                          sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    assert manifest_bytes(entries) == expected
    assert manifest_bytes_of([(e.relpath, e.hash, e.size, e.executable) for e in reversed(entries)]) == expected


def test_a_memo_database_is_made_only_when_there_is_something_to_write(tmp_path):
    exp = tmp_path / "exp"
    data = tmp_path / "data"
    data.mkdir()
    f = data / "f"
    f.write_bytes(b"x")   # just written: too fresh to record (RACY_NS)
    with StateMemo(str(exp)) as memo:
        memo.preload(str(data))
        assert not memo.may_know(str(data))   # no database: nothing known, nothing asked
        memo.put(str(f), f.stat(), sha(b"x"))
    assert not (exp / "state.db").exists()
    age(f)
    with StateMemo(str(exp)) as memo:
        memo.put(str(f), f.stat(), sha(b"x"))
    assert (exp / "state.db").is_file()
    with StateMemo(str(exp)) as memo:
        memo.preload(str(data))
        assert memo.may_know(str(data))
        assert memo.get(str(f), f.stat()) == sha(b"x")
