"""The door to Git (git_exp/git/): errors carrying Git's reason, the object
readers, commit-tree, ref transactions and revision resolution, against real
repositories checked with real `git`."""
from __future__ import annotations

import os

import pytest

from git_exp.git import GitCommandError, GitNotFoundError, git, reason
from git_exp.git.catfile import (CatFile, blob_to_file, check_objects, commits_among,
                                 read_objects)
from git_exp.git.commits import commit_of, commit_tree, update_refs
from git_exp.repo import discover


def test_reason_is_the_last_error_line_without_hints():
    stderr = (b"To ../remote\n ! [rejected] main -> main (fetch first)\n"
              b"error: failed to push some refs to '../remote'\n"
              b"hint: Updates were rejected because the remote contains work\n")
    assert reason(stderr) == "failed to push some refs to '../remote'"
    assert reason("fatal: bad object HEAD\n") == "bad object HEAD"
    assert reason("warning: something\nplain last line\n") == "plain last line"
    assert reason(b"", 3) == "exit status 3"
    assert reason("  \n\n", 1) == "exit status 1"
    assert reason(None, 128) == "exit status 128"


def test_a_failure_with_an_empty_stderr_still_has_a_reason(committed):
    # `rev-parse --verify -q` says nothing when it fails: the old idiom
    # (stderr.strip().splitlines()[-1]) raised IndexError here.
    with pytest.raises(GitCommandError) as caught:
        git(["rev-parse", "--verify", "-q", "no-such-branch"], cwd=str(committed.path))
    assert caught.value.reason == "exit status 1"
    assert caught.value.returncode == 1
    assert str(caught.value) == "git rev-parse --verify -q no-such-branch failed: exit status 1"


def test_git_missing_from_path_is_an_error_with_a_hint(committed, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(GitNotFoundError) as caught:
        git(["status"], cwd=str(committed.path))
    assert "not installed" in str(caught.value) and caught.value.hint
    with pytest.raises(GitNotFoundError):
        discover(str(committed.path))
    with pytest.raises(GitNotFoundError):
        CatFile(str(committed.path)).read("HEAD")


def test_commit_tree_with_an_environment_and_the_missing_identity(committed):
    root = str(committed.path)
    tree = committed.git("rev-parse", "HEAD^{tree}").strip()
    head = committed.head()
    env = {"GIT_AUTHOR_NAME": "Ada", "GIT_AUTHOR_EMAIL": "ada@example.com",
           "GIT_AUTHOR_DATE": "1700000000 +0100", "GIT_COMMITTER_NAME": "Bob",
           "GIT_COMMITTER_EMAIL": "bob@example.com", "GIT_COMMITTER_DATE": "1700000001 +0100"}
    sha = commit_tree(root, tree, [head], "imported\n", env=env)
    assert committed.git("log", "-1", "--format=%an %ad|%cn %cd|%P|%s", "--date=raw", sha).strip() \
        == f"Ada 1700000000 +0100|Bob 1700000001 +0100|{head}|imported"
    assert commit_tree(root, tree, [head], "imported\n", env=env) == sha   # same input, same commit
    committed.fsck()

    nobody = {"GIT_AUTHOR_NAME": "", "GIT_COMMITTER_NAME": "", "GIT_AUTHOR_EMAIL": "",
              "GIT_COMMITTER_EMAIL": ""}
    with pytest.raises(GitCommandError) as caught:
        commit_tree(root, tree, [], "x", env=dict(nobody, GIT_CONFIG_NOSYSTEM="1",
                                                    HOME=str(committed.path / "nohome")))
    assert caught.value.missing_identity


def test_update_refs_is_one_transaction(committed):
    root = str(committed.path)
    head = committed.head()
    update_refs(root, [f"create refs/exps/a {head}", f"create refs/exps/b {head}"])
    assert committed.git("for-each-ref", "--format=%(refname)", "refs/exps/").split() \
        == ["refs/exps/a", "refs/exps/b"]
    # The second command fails (b exists), so the first is not applied either.
    with pytest.raises(GitCommandError) as caught:
        update_refs(root, [f"create refs/exps/c {head}", f"create refs/exps/b {head}"])
    assert "refs/exps/b" in caught.value.reason
    assert committed.git("for-each-ref", "--format=%(refname)", "refs/exps/").split() \
        == ["refs/exps/a", "refs/exps/b"]
    committed.fsck()


def test_commit_of_resolves_revisions_and_never_options(committed):
    root = str(committed.path)
    first = committed.head()
    committed.gen({"b.txt": "b\n"})
    second = committed.commit("second")
    committed.git("tag", "v1", first)
    assert commit_of(root, "HEAD") == second
    assert commit_of(root, "HEAD~1") == commit_of(root, "v1") == commit_of(root, first[:7]) == first
    assert commit_of(root, "no-such") is None
    blob = committed.git("rev-parse", "HEAD:b.txt").strip()
    assert commit_of(root, blob) is None            # an object, but not a commit
    assert commit_of(root, "--all") is None         # read as a revision, not as an option


def test_readers_of_objects(committed, tmp_path):
    root = str(committed.path)
    committed.gen({"a.txt": "A\n", "big.bin": os.urandom(3 << 20)})
    head = committed.commit("files")
    a, big = (committed.git("rev-parse", f"HEAD:{p}").strip() for p in ("a.txt", "big.bin"))
    missing = "0" * 40

    found = read_objects(root, [f"{head}:a.txt".encode(), missing.encode(), a.encode()])
    assert found == {f"{head}:a.txt".encode(): b"A\n", a.encode(): b"A\n"}

    assert check_objects(root, [a, missing, head], "%(objectname) %(objectsize)") \
        == [[a, "2"], [missing, "missing"], [head, committed.git("cat-file", "-s", head).strip()]]
    assert commits_among(root, [a, head, missing]) == [head]
    assert commits_among(root, []) == []

    with CatFile(root) as objects:
        assert objects.copy_blob(big, str(tmp_path / "big"))
        assert not objects.copy_blob(missing, str(tmp_path / "nothing"))
        assert not objects.copy_blob(head, str(tmp_path / "a-commit"))   # a commit is not a blob
        assert objects.read(a).data == b"A\n"     # still in step after the skipped commit
        with pytest.raises(FileExistsError):
            objects.copy_blob(a, str(tmp_path / "big"))   # never overwrites
        assert objects.read(a).data == b"A\n"     # and in step after that refusal
    assert (tmp_path / "big").read_bytes() == (committed.path / "big.bin").read_bytes()
    assert not (tmp_path / "nothing").exists() and not (tmp_path / "a-commit").exists()

    with open(tmp_path / "a", "xb") as fh:
        blob_to_file(root, a, fh)
    assert (tmp_path / "a").read_bytes() == b"A\n"
    with open(tmp_path / "m", "xb") as fh, pytest.raises(GitCommandError) as caught:
        blob_to_file(root, missing, fh)
    assert caught.value.reason
