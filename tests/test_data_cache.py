"""The content-addressed cache: save, dedup, checkout, corruption, missing objects."""
from __future__ import annotations

import hashlib
import os
import stat
import time

import pytest

from git_exp.data.cache import Cache
from git_exp.data.hashing import HashInfo, ManifestEntry, hash_path, manifest_bytes
from git_exp.data.state import StateMemo
from git_exp.errors import ExpError
from git_exp.worktree_writes import WorkTree


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def at(path) -> tuple:
    """(door, relative path) for checking out to PATH: the door at its nearest existing folder."""
    root = path.parent
    while not root.exists():
        root = root.parent
    return WorkTree(str(root)), path.relative_to(root).as_posix()


def write(root, files: dict) -> None:
    for name, content in files.items():
        path = root / name
        if isinstance(content, dict):
            path.mkdir(parents=True, exist_ok=True)
            write(path, content)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)


def age(path, seconds=3600):
    t = time.time() - seconds
    os.utime(path, (t, t))


def stray_files(cache: Cache) -> list[str]:
    """Anything in the cache that is not an object under its final name."""
    objects = {cache.object_path(h) for h in cache.iter_objects()}
    found = []
    for folder, _, names in os.walk(cache.root):
        found += [os.path.join(folder, n) for n in names if os.path.join(folder, n) not in objects]
    return found


def tree(root) -> dict:
    """{relpath: bytes} of every file under ROOT."""
    out = {}
    for folder, _, names in os.walk(root):
        for n in names:
            p = os.path.join(folder, n)
            out[os.path.relpath(p, root)] = open(p, "rb").read()
    return out


@pytest.fixture
def cache(tmp_path) -> Cache:
    return Cache(str(tmp_path / "exp"))


@pytest.fixture
def ws(tmp_path):
    path = tmp_path / "ws"
    path.mkdir()
    return path


# -- saving ----------------------------------------------------------------

def test_save_a_file_copies_it_into_the_cache_read_only(cache, ws):
    write(ws, {"model.bin": b"weights"})
    before = os.stat(ws / "model.bin")
    info = cache.save(str(ws / "model.bin"))
    assert info == HashInfo(sha(b"weights"), 7)
    obj = cache.object_path(info.hash)
    assert obj == os.path.join(cache.root, "files", "sha256", info.hash[:2], info.hash[2:])
    assert open(obj, "rb").read() == b"weights"
    assert stat.S_IMODE(os.stat(obj).st_mode) == 0o444
    # The user's file stays where it was, untouched and not shared with the object.
    after = os.stat(ws / "model.bin")
    assert (after.st_ino, after.st_mode) == (before.st_ino, before.st_mode)
    assert not os.path.samestat(after, os.stat(obj))
    assert cache.has(info.hash) and cache.verify(info.hash)
    assert stray_files(cache) == []


def test_directories_share_objects_and_nothing_is_rewritten(cache, ws):
    write(ws, {"a": {"x.csv": b"shared", "y.csv": b"only a", "sub": {"z": b"shared too"}},
               "b": {"x.csv": b"shared", "w.csv": b"only b", "z": b"shared too"}})
    a = cache.save(str(ws / "a"))
    files_after_a = set(cache.iter_objects())
    assert a.nfiles == 3 and a.is_dir and a.size == 6 + 6 + 10
    assert files_after_a == {a.hash, sha(b"shared"), sha(b"only a"), sha(b"shared too")}
    shared = os.stat(cache.object_path(sha(b"shared")))
    b = cache.save(str(ws / "b"))
    assert set(cache.iter_objects()) == files_after_a | {b.hash, sha(b"only b")}
    again = os.stat(cache.object_path(sha(b"shared")))
    # Not rewritten (same inode), only freshened, as Git freshens an object it would have written:
    # gc's grace period then protects it until b is recorded.
    assert again.st_ino == shared.st_ino and again.st_mtime_ns >= shared.st_mtime_ns
    assert cache.load_manifest(a.hash) == hash_path(str(ws / "a"))[1]
    assert cache.objects_of(b) == {b.hash, sha(b"shared"), sha(b"only b"), sha(b"shared too")}
    assert stray_files(cache) == []


def test_a_truncated_object_is_replaced_on_save(cache, ws):
    write(ws, {"f": b"full content"})
    info = cache.save(str(ws / "f"))
    obj = cache.object_path(info.hash)
    os.chmod(obj, 0o644)
    with open(obj, "wb") as f:
        f.write(b"full")
    cache.save(str(ws / "f"))
    assert open(obj, "rb").read() == b"full content"


def test_a_stale_memo_entry_never_reaches_the_cache(cache, ws, tmp_path):
    # The memo vouches for an old hash (same size and mtime). A small file is
    # read whole and hashed from the bytes written to the cache, so what is
    # recorded is what was read, never the stale hash, and the memo is corrected.
    write(ws, {"d": {"a": b"aaaa", "b": b"bbbb", "c": b"cccc"}})
    for name in "abc":
        age(ws / "d" / name)
    exp = str(tmp_path / "exp")
    with StateMemo(exp) as memo:
        hash_path(str(ws / "d"), memo)
    st = os.stat(ws / "d" / "b")
    (ws / "d" / "b").write_bytes(b"BBBB")
    os.utime(ws / "d" / "b", ns=(st.st_atime_ns, st.st_mtime_ns))
    with StateMemo(exp) as memo:
        info = cache.save(str(ws / "d"), memo)
    assert {e.hash for e in cache.load_manifest(info.hash)} == {sha(b"aaaa"), sha(b"BBBB"), sha(b"cccc")}
    assert sha(b"bbbb") not in set(cache.iter_objects())
    assert stray_files(cache) == []
    assert all(cache.verify(h) for h in cache.iter_objects())
    with StateMemo(exp) as memo:
        assert memo.get(str(ws / "d" / "b"), os.stat(ws / "d" / "b")) == sha(b"BBBB")


def test_a_big_file_with_a_stale_memo_entry_is_refused_mid_save(cache, ws, tmp_path, monkeypatch):
    # Above SMALL_FILE the file is streamed: the copy into the cache is hashed
    # as it is written, the mismatch is caught, nothing is left half written.
    import git_exp.data.cachefiles as cache_mod
    monkeypatch.setattr(cache_mod, "SMALL_FILE", 2)
    write(ws, {"d": {"a": b"aaaa", "b": b"bbbb", "c": b"cccc"}})
    for name in "abc":
        age(ws / "d" / name)
    exp = str(tmp_path / "exp")
    with StateMemo(exp) as memo:
        hash_path(str(ws / "d"), memo)
    st = os.stat(ws / "d" / "b")
    (ws / "d" / "b").write_bytes(b"BBBB")
    os.utime(ws / "d" / "b", ns=(st.st_atime_ns, st.st_mtime_ns))
    with StateMemo(exp) as memo:
        with pytest.raises(ExpError) as exc:
            cache.save(str(ws / "d"), memo)
    assert "changed while it was being saved" in exc.value.message
    assert stray_files(cache) == []
    assert all(cache.verify(h) for h in cache.iter_objects())
    assert not any(h.endswith(".dir") for h in cache.iter_objects())
    # The memo forgot the stale hash: the next save is right.
    with StateMemo(exp) as memo:
        info = cache.save(str(ws / "d"), memo)
    assert {e.hash for e in cache.load_manifest(info.hash)} >= {sha(b"BBBB")}


class VanishingMemo(StateMemo):
    """Deletes one file once every file has been looked up: a concurrent
    `rm` between hashing a directory and copying it into the cache."""

    def __init__(self, exp_dir, victim, nfiles):
        super().__init__(exp_dir)
        self.victim, self.left = victim, nfiles

    def may_know(self, folder):
        return True  # an empty memo is not asked about each file: this one must be

    def get(self, path, st):
        self.left -= 1
        if self.left == 0:
            os.unlink(self.victim)
        return super().get(path, st)


def test_a_file_vanishing_during_save_leaves_no_trace(cache, ws, tmp_path):
    write(ws, {"d": {"a": b"1", "b": b"2", "c": b"3"}})
    # The victim must be hashed before the last lookup: any file but the last one scanned.
    order = [e.name for e in os.scandir(ws / "d")]
    victim = ws / "d" / order[0]
    with VanishingMemo(str(tmp_path / "exp"), str(victim), 3) as memo:
        with pytest.raises(ExpError) as exc:
            cache.save(str(ws / "d"), memo)
    assert "No such file" in exc.value.message and str(victim) in exc.value.message
    assert stray_files(cache) == []
    assert not any(h.endswith(".dir") for h in cache.iter_objects())


def test_object_path_refuses_malformed_hashes(cache):
    for bad in ("../../etc/passwd", "A" * 64, "a" * 63, "a" * 64 + ".dir/..", ""):
        with pytest.raises(ExpError, match="malformed object hash"):
            cache.object_path(bad)


# -- checkout of a file ----------------------------------------------------

def test_checkout_a_file(cache, ws):
    write(ws, {"f": b"v1"})
    info = cache.save(str(ws / "f"))
    dest = ws / "out" / "f"
    result = cache.checkout(info, *at(dest))
    assert dest.read_bytes() == b"v1" and result.changed == [str(dest)]
    assert result.link_kind in ("reflink", "copy") and result.saved_first == []
    assert cache.checkout(info, *at(dest)).changed == []  # already right: untouched


def test_checkout_saves_unsaved_work_before_replacing_it(cache, ws):
    write(ws, {"f": b"v1"})
    info = cache.save(str(ws / "f"))
    (ws / "f").write_bytes(b"precious edit, never saved")
    result = cache.checkout(info, *at(ws / "f"))
    assert (ws / "f").read_bytes() == b"v1"
    assert result.saved_first == [str(ws / "f")]
    saved = result.saved_hashes[str(ws / "f")]
    assert open(cache.object_path(saved), "rb").read() == b"precious edit, never saved"
    # Content the cache already has is not reported as saved.
    cache.checkout(HashInfo(saved, 26), *at(ws / "f"))
    assert cache.checkout(info, *at(ws / "f")).saved_first == []


def test_checkout_a_file_over_a_directory_saves_the_directory(cache, ws):
    write(ws, {"f": b"v1", "in-the-way": {"deep": {"note": b"mine"}}})
    info = cache.save(str(ws / "f"))
    result = cache.checkout(info, *at(ws / "in-the-way"))
    assert (ws / "in-the-way").read_bytes() == b"v1"
    assert result.saved_first == [str(ws / "in-the-way" / "deep" / "note")]
    assert cache.has(sha(b"mine"))


# -- checkout of a directory -----------------------------------------------

def test_checkout_a_directory_makes_it_match_and_loses_nothing(cache, ws, tmp_path):
    write(ws, {"d": {"keep": b"same", "edit": b"original", "sub": {"x": b"x"}, "run.sh": b"#!",
                     "swap": b"a file"}})
    os.chmod(ws / "d" / "run.sh", 0o755)
    info = cache.save(str(ws / "d"))
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "theirs").write_bytes(b"not ours")
    dest = ws / "d"
    (dest / "edit").write_bytes(b"unsaved edit")
    (dest / "extra.txt").write_bytes(b"unsaved new file")
    (dest / "newdir").mkdir()
    (dest / "newdir" / "deep.txt").write_bytes(b"unsaved deep file")
    for p in (dest / "sub" / "x",):
        p.unlink()
    (dest / "sub").rmdir()
    (dest / "sub").symlink_to(outside)  # a symlink in the way of a directory: never followed
    (dest / "run.sh").chmod(0o644)
    (dest / "swap").unlink()
    write(dest, {"swap": {"inner.txt": b"a directory where a file goes"}})

    result = cache.checkout(info, *at(dest))

    assert hash_path(str(dest))[0] == info
    assert tree(dest) == {"keep": b"same", "edit": b"original", "sub/x": b"x", "run.sh": b"#!",
                          "swap": b"a file"}
    assert sorted(os.listdir(dest)) == ["edit", "keep", "run.sh", "sub", "swap"]  # newdir/ gone
    assert not (dest / "sub").is_symlink()
    assert os.listdir(outside) == ["theirs"]
    assert os.stat(dest / "run.sh").st_mode & 0o100
    saved = {os.path.relpath(p, dest): h for p, h in result.saved_hashes.items()}
    assert set(saved) == {"edit", "extra.txt", os.path.join("newdir", "deep.txt"),
                          os.path.join("swap", "inner.txt")}
    for rel, content in (("edit", b"unsaved edit"), ("extra.txt", b"unsaved new file"),
                         (os.path.join("newdir", "deep.txt"), b"unsaved deep file")):
        assert saved[rel] == sha(content) and cache.verify(saved[rel])
    assert str(dest / "keep") not in result.changed
    assert cache.checkout(info, *at(dest)).changed == []


def test_checkout_a_directory_over_a_symlink_or_a_file(cache, ws, tmp_path):
    write(ws, {"d": {"a": b"A"}})
    info = cache.save(str(ws / "d"))
    outside = tmp_path / "outside"
    outside.mkdir()
    (ws / "link").symlink_to(outside)
    # The work-tree door: a foreign symlink is neither followed nor replaced.
    with pytest.raises(ExpError, match="refusing to follow the symlink 'link'"):
        cache.checkout(info, *at(ws / "link"))
    assert (ws / "link").is_symlink() and os.listdir(outside) == []
    (ws / "link").unlink()
    cache.checkout(info, *at(ws / "link"))
    assert tree(ws / "link") == {"a": b"A"}
    (ws / "plain").write_bytes(b"a file where the directory goes")
    result = cache.checkout(info, *at(ws / "plain"))
    assert tree(ws / "plain") == {"a": b"A"}
    assert result.saved_first == [str(ws / "plain")]


def test_checkout_refuses_a_manifest_that_escapes(cache, ws, tmp_path):
    write(ws, {"payload": b"evil"})
    cache.save(str(ws / "payload"))
    rows = (b'[{"exec":false,"hash":"' + sha(b"evil").encode() + b'","path":"../escaped","size":4}]')
    digest = sha(rows) + ".dir"
    os.makedirs(os.path.dirname(cache.object_path(digest)), exist_ok=True)
    with open(cache.object_path(digest), "wb") as f:
        f.write(rows)
    with pytest.raises(ExpError) as exc:
        cache.checkout(HashInfo(digest, 4, 1), *at(ws / "dest"))
    assert "'..' in path" in exc.value.message and digest in exc.value.message
    assert not (ws / "escaped").exists() and not (ws / "dest").exists()


def test_checkout_hardlinks_when_asked_and_copies_executables(tmp_path, ws):
    cache = Cache(str(tmp_path / "exp"), ["hardlink", "copy"])
    write(ws, {"d": {"data": b"big", "tool": b"#!"}})
    os.chmod(ws / "d" / "tool", 0o755)
    info = cache.save(str(ws / "d"))
    dest = tmp_path / "out"
    result = cache.checkout(info, *at(dest))
    assert os.path.samestat(os.stat(dest / "data"), os.stat(cache.object_path(sha(b"big"))))
    assert not os.path.samestat(os.stat(dest / "tool"), os.stat(cache.object_path(sha(b"#!"))))
    assert os.stat(dest / "tool").st_mode & 0o100
    assert result.link_kind in ("hardlink", "copy")
    assert cache.checkout(info, *at(dest)).changed == []


def test_checkout_symlinks_when_asked_and_the_result_hashes_the_same(tmp_path, ws):
    cache = Cache(str(tmp_path / "exp"), ["symlink"])
    write(ws, {"d": {"a": b"A", "sub": {"b": b"B"}}})
    info = cache.save(str(ws / "d"))
    dest = tmp_path / "out"
    result = cache.checkout(info, *at(dest))
    assert result.link_kind == "symlink"
    assert os.readlink(dest / "sub" / "b") == cache.object_path(sha(b"B"))
    assert hash_path(str(dest), cache_root=cache.root)[0] == info
    assert cache.save(str(dest)) == info
    assert cache.checkout(info, *at(dest)).changed == []


# -- corrupt and missing objects --------------------------------------------

def corrupt(cache, digest, data):
    path = cache.object_path(digest)
    os.chmod(path, 0o644)
    with open(path, "wb") as f:
        f.write(data)


def test_a_corrupt_object_is_never_checked_out(cache, ws):
    write(ws, {"d": {"a": b"good data"}})
    info = cache.save(str(ws / "d"))
    corrupt(cache, sha(b"good data"), b"evil data")  # same size: only the hash tells
    assert not cache.verify(sha(b"good data"))
    with pytest.raises(ExpError) as exc:
        cache.checkout(info, *at(ws / "out"))
    assert sha(b"good data") in exc.value.message and "corrupt" in exc.value.message
    assert cache.object_path(sha(b"good data")) in exc.value.hint
    assert not (ws / "out").exists()  # built aside and renamed only when whole
    assert not [n for n in os.listdir(ws) if n.endswith(".tmp")]
    # Into an existing folder, file by file: still nothing half written.
    os.mkdir(ws / "out")
    with pytest.raises(ExpError):
        cache.checkout(info, *at(ws / "out"))
    assert os.listdir(ws / "out") == []


def test_a_big_object_is_copied_out_unhashed_only_while_its_stamp_holds(cache, ws, tmp_path, monkeypatch):
    import git_exp.data.cachefiles as cache_mod
    import git_exp.data.links as links_mod
    monkeypatch.setattr(cache_mod, "STAMPED", 4)
    monkeypatch.setattr(cache_mod, "SMALL_FILE", 2)
    hashed = []
    real = links_mod._copy

    def spy(src, tmp, expected_hash):
        hashed.append(expected_hash is not None)
        return real(src, tmp, expected_hash)
    monkeypatch.setattr(links_mod, "_copy", spy)
    write(ws, {"big": b"good data"})
    age(ws / "big")
    exp = str(tmp_path / "exp")
    with StateMemo(exp) as memo:
        info = cache.save(str(ws / "big"), memo)  # written from checked bytes: stamped
    with StateMemo(exp) as memo:
        cache.checkout(info, *at(ws / "out1"), memo)
    assert hashed == [True, False] and (ws / "out1").read_bytes() == b"good data"
    # Any write to the object (root ignores its read-only bits) moves its
    # ctime: the stamp no longer holds, the copy is hashed and refused.
    corrupt(cache, sha(b"good data"), b"evil data")
    with StateMemo(exp) as memo:
        with pytest.raises(ExpError) as exc:
            cache.checkout(info, *at(ws / "out2"), memo)
    assert "corrupt" in exc.value.message and not (ws / "out2").exists()
    assert hashed[-1] is True


def test_a_wrong_sized_object_is_refused_before_anything_changes(cache, ws):
    write(ws, {"d": {"a": b"one", "b": b"two"}})
    info = cache.save(str(ws / "d"))
    (ws / "d" / "a").write_bytes(b"local edit")
    corrupt(cache, sha(b"two"), b"truncated!!")
    with pytest.raises(ExpError, match="expected 3 bytes, found 11"):
        cache.checkout(info, *at(ws / "d"))
    assert (ws / "d" / "a").read_bytes() == b"local edit"


def test_a_corrupt_manifest_is_detected(cache, ws):
    write(ws, {"d": {"a": b"A"}})
    info = cache.save(str(ws / "d"))
    corrupt(cache, info.hash, b"[]")
    assert not cache.verify(info.hash)
    with pytest.raises(ExpError, match="does not match its hash"):
        cache.checkout(info, *at(ws / "out"))


def test_missing_objects_are_listed_with_a_hint_to_pull(cache, ws):
    write(ws, {"d": {"a": b"A", "b": b"B", "c": b"C"}})
    info = cache.save(str(ws / "d"))
    freed = cache.remove(sha(b"A")) + cache.remove(sha(b"C"))
    assert freed == 2 and cache.remove(sha(b"A")) == 0
    assert cache.missing(info) == sorted([sha(b"A"), sha(b"C")])
    with pytest.raises(ExpError) as exc:
        cache.checkout(info, *at(ws / "out"))
    assert exc.value.message.startswith("2 object(s) missing from the cache")
    assert sha(b"A") in exc.value.message and sha(b"C") in exc.value.message
    assert "git exp pull" in exc.value.hint
    assert not (ws / "out").exists()
    cache.remove(info.hash)
    assert cache.missing(info) == [info.hash]
    with pytest.raises(ExpError, match=info.hash.replace(".", r"\.")):
        cache.checkout(info, *at(ws / "out"))


def test_remove_frees_nothing_while_a_hardlink_holds_the_object(tmp_path, ws):
    cache = Cache(str(tmp_path / "exp"), ["hardlink"])
    write(ws, {"f": b"12345"})
    info = cache.save(str(ws / "f"))
    cache.checkout(info, *at(tmp_path / "linked"))
    assert cache.remove(info.hash) == 0
    assert (tmp_path / "linked").read_bytes() == b"12345"


def test_checkout_uses_the_memo_for_files_already_in_place(cache, ws, tmp_path):
    write(ws, {"d": {"a": b"AAAA"}})
    info = cache.save(str(ws / "d"))
    age(ws / "d" / "a")
    exp = str(tmp_path / "exp")
    with StateMemo(exp) as memo:
        hash_path(str(ws / "d"), memo)
    # Changed behind the memo's back (size and mtime kept): the memo is
    # trusted, so checkout leaves the file alone. That is the memo's contract.
    st = os.stat(ws / "d" / "a")
    (ws / "d" / "a").write_bytes(b"BBBB")
    os.utime(ws / "d" / "a", ns=(st.st_atime_ns, st.st_mtime_ns))
    with StateMemo(exp) as memo:
        assert cache.checkout(info, *at(ws / "d"), memo).changed == []
    assert cache.checkout(info, *at(ws / "d")).changed == [str(ws / "d" / "a")]


def test_manifest_entries_sorted_and_sized(cache, ws):
    write(ws, {"d": {"b": b"22", "a": b"1"}})
    info = cache.save(str(ws / "d"))
    assert cache.load_manifest(info.hash) == [ManifestEntry("a", sha(b"1"), 1, False),
                                              ManifestEntry("b", sha(b"22"), 2, False)]
    assert open(cache.object_path(info.hash), "rb").read() == manifest_bytes(
        cache.load_manifest(info.hash))


def test_a_corrupt_large_object_is_caught_by_the_parallel_check(cache, ws):
    # Over links._PARALLEL_VERIFY the copy and the hash run side by side.
    from git_exp.data import links
    good = b"g" * (links._PARALLEL_VERIFY + 1)
    write(ws, {"big.bin": good})
    info = cache.save(str(ws / "big.bin"))
    cache.checkout(info, *at(ws / "copy.bin"))
    assert (ws / "copy.bin").read_bytes() == good
    corrupt(cache, sha(good), b"e" + good[1:])  # same size: only the hash tells
    with pytest.raises(ExpError) as exc:
        cache.checkout(info, *at(ws / "out.bin"))
    assert "corrupt" in exc.value.message
    assert not (ws / "out.bin").exists()
    assert not [n for n in os.listdir(ws) if n.endswith(".tmp")]
