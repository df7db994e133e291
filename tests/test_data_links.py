"""Link types and their fallbacks; the destination is never half written."""
from __future__ import annotations

import errno
import hashlib
import os

import pytest

from git_exp.data.links import (FICLONE, LINK_TYPES, ContentMismatch, materialize,
                                parse_link_types)
from git_exp.errors import ExpError

SHM = "/dev/shm"


def reflinks_work(folder) -> bool:
    """Whether FOLDER's filesystem can clone files (btrfs, XFS, ...; not ext4, tmpfs)."""
    import fcntl
    a, b = os.path.join(folder, "probe-a"), os.path.join(folder, "probe-b")
    with open(a, "wb") as f:
        f.write(b"probe")
    try:
        with open(a, "rb") as fa, open(b, "wb") as fb:
            fcntl.ioctl(fb.fileno(), FICLONE, fa.fileno())
        return True
    except OSError:
        return False
    finally:
        for p in (a, b):
            if os.path.exists(p):
                os.unlink(p)


def leftovers(folder) -> list[str]:
    return [n for n in os.listdir(folder) if n.endswith(".tmp")]


@pytest.fixture
def src(tmp_path):
    path = tmp_path / "src.bin"
    path.write_bytes(b"payload\n")
    path.chmod(0o444)
    return path


def test_parse_link_types():
    assert parse_link_types(None) == ["reflink", "copy"]
    assert parse_link_types("") == ["reflink", "copy"]
    assert parse_link_types(" Hardlink , copy,hardlink") == ["hardlink", "copy"]
    assert set(LINK_TYPES) == {"reflink", "hardlink", "symlink", "copy"}
    with pytest.raises(ExpError) as exc:
        parse_link_types("reflink,sofltink")
    assert "'sofltink'" in exc.value.message and "exp.cache.type" in exc.value.message
    assert "reflink, hardlink, symlink, copy" in exc.value.hint
    with pytest.raises(ExpError, match="unknown link type ''"):
        parse_link_types("reflink,,copy")


def test_reflink_or_fall_back_to_copy(tmp_path, src):
    dst = tmp_path / "out" / "dst.bin"
    dst.parent.mkdir()
    kind = materialize(str(src), str(dst), ["reflink", "copy"])
    assert kind == ("reflink" if reflinks_work(str(tmp_path)) else "copy")
    assert dst.read_bytes() == b"payload\n"
    # Either way an independent file: editing it cannot reach the source.
    assert not os.path.samestat(os.stat(src), os.stat(dst))
    dst.write_bytes(b"edited")
    assert src.read_bytes() == b"payload\n"
    assert leftovers(dst.parent) == []


def test_reflink_alone_fails_with_every_reason_when_unsupported(tmp_path, src):
    if reflinks_work(str(tmp_path)):
        pytest.skip("this filesystem supports reflinks")
    dst = tmp_path / "dst"
    with pytest.raises(ExpError) as exc:
        materialize(str(src), str(dst), ["reflink"])
    assert exc.value.message.startswith(f"cannot put '{src}' at '{dst}' (reflink: ")
    assert not dst.exists() and leftovers(tmp_path) == []


def test_hardlink_shares_the_inode(tmp_path, src):
    dst = tmp_path / "dst"
    assert materialize(str(src), str(dst), ["hardlink", "copy"]) == "hardlink"
    assert os.path.samestat(os.stat(src), os.stat(dst))


def test_hardlink_across_filesystems_falls_back_to_copy(tmp_path, src):
    if not os.path.isdir(SHM) or os.stat(SHM).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("needs a second filesystem at /dev/shm")
    folder = os.path.join(SHM, f"git-exp-test-{os.getpid()}")
    os.makedirs(folder)
    try:
        dst = os.path.join(folder, "dst")
        with pytest.raises(OSError) as exc:  # the premise: a real EXDEV
            os.link(src, os.path.join(folder, "probe"))
        assert exc.value.errno == errno.EXDEV
        assert materialize(str(src), dst, ["hardlink", "copy"]) == "copy"
        assert open(dst, "rb").read() == b"payload\n"
        assert leftovers(folder) == []
    finally:
        for name in os.listdir(folder):
            os.unlink(os.path.join(folder, name))
        os.rmdir(folder)


def test_symlink_points_at_the_absolute_source(tmp_path, src, monkeypatch):
    monkeypatch.chdir(tmp_path)
    dst = tmp_path / "dst"
    assert materialize("src.bin", str(dst), ["symlink"]) == "symlink"
    assert os.readlink(dst) == str(src)


def test_copy_sets_the_exec_bit_from_the_source_or_as_asked(tmp_path, src):
    script = tmp_path / "run.sh"
    script.write_bytes(b"#!/bin/sh\n")
    script.chmod(0o755)
    assert materialize(str(script), str(tmp_path / "a"), ["copy"]) == "copy"
    assert os.stat(tmp_path / "a").st_mode & 0o111
    materialize(str(src), str(tmp_path / "b"), ["copy"])
    assert not os.stat(tmp_path / "b").st_mode & 0o111
    assert os.stat(tmp_path / "b").st_mode & 0o200  # writable, unlike the read-only source
    materialize(str(src), str(tmp_path / "c"), ["copy"], executable=True)
    assert os.stat(tmp_path / "c").st_mode & 0o111
    materialize(str(script), str(tmp_path / "d"), ["copy"], executable=False)
    assert not os.stat(tmp_path / "d").st_mode & 0o111


def test_replaces_an_existing_file_or_symlink_without_following_it(tmp_path, src):
    victim = tmp_path / "victim"
    victim.write_bytes(b"must survive")
    dst = tmp_path / "dst"
    dst.symlink_to(victim)
    materialize(str(src), str(dst), ["copy"])
    assert not dst.is_symlink() and dst.read_bytes() == b"payload\n"
    assert victim.read_bytes() == b"must survive"


def test_copy_checks_the_expected_hash_and_leaves_dst_alone(tmp_path, src):
    dst = tmp_path / "dst"
    dst.write_bytes(b"old")
    good = hashlib.sha256(b"payload\n").hexdigest()
    with pytest.raises(ContentMismatch) as exc:
        materialize(str(src), str(dst), ["copy"], expected_hash="0" * 64)
    assert exc.value.actual == good
    assert dst.read_bytes() == b"old" and leftovers(tmp_path) == []
    materialize(str(src), str(dst), ["copy"], expected_hash=good)
    assert dst.read_bytes() == b"payload\n"


def test_missing_source_fails_cleanly(tmp_path):
    dst = tmp_path / "dst"
    with pytest.raises(ExpError) as exc:
        materialize(str(tmp_path / "nope"), str(dst), ["reflink", "hardlink", "copy"])
    assert "hardlink: No such file or directory" in exc.value.message
    assert not dst.exists() and leftovers(tmp_path) == []


def test_replacing_a_directory_is_an_error_not_a_fallback(tmp_path, src):
    dst = tmp_path / "dst"
    (dst / "inside").mkdir(parents=True)
    with pytest.raises(OSError):
        materialize(str(src), str(dst), ["copy"])
    assert (dst / "inside").is_dir() and leftovers(tmp_path) == []
