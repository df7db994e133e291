"""The door to Git (git_exp/git/): errors carrying Git's reason, the object
readers, commit-tree, ref transactions and revision resolution, against real
repositories checked with real `git`."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from git_exp.git import GitCommandError, GitNotFoundError, git, reason
from git_exp.git.run import DEVNULL, STDOUT
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


# -- the spawner (git/run.py starts git with os.posix_spawn, not subprocess) -------------------

def _blobs(project, count: int, size: int) -> list[tuple[str, bytes]]:
    """COUNT distinct blobs of about SIZE bytes written with real git, as (oid, content)."""
    contents = [(b"%06d " % i) * (size // 7) + b"\n" for i in range(count)]
    oids = []
    for content in contents:
        oids.append(project.git("hash-object", "-w", "--stdin", input=content.decode()).strip())
    return list(zip(oids, contents))


def test_input_and_output_larger_than_a_pipe_both_ways(committed):
    # cat-file --batch answers while it still reads: writing all of the input
    # before reading any output would deadlock once both pipes are full.
    blobs = _blobs(committed, 40, 7000)
    request = b"".join(oid.encode() + b"\n" for oid, _ in blobs) * 60      # 2,400 requests
    assert len(request) > 1 << 16
    proc = git(["cat-file", "--batch"], cwd=str(committed.path), input=request)
    expected = b"".join(b"%s blob %d\n%s\n" % (oid.encode(), len(content), content)
                        for oid, content in blobs) * 60
    assert len(expected) > 16 << 20 and proc.stdout == expected
    assert proc.stderr == b"" and proc.returncode == 0 and proc.args[:2] == ["git", "cat-file"]


def test_a_failure_with_much_on_both_stdout_and_stderr(committed):
    # ls-files --error-unmatch names every pathspec it did not find on stderr
    # and every one it did on stdout: both pipes fill, neither may block the other.
    files = {f"file-{i:05d}-with-a-long-name.txt": "x\n" for i in range(1500)}
    committed.gen(files)
    committed.commit("many files")
    missing = [f"missing-{i:05d}-with-a-long-name.txt" for i in range(1500)]
    with pytest.raises(GitCommandError) as caught:
        git(["ls-files", "--error-unmatch", *files, *missing], cwd=str(committed.path))
    assert caught.value.returncode == 1
    assert caught.value.stderr.count("did not match any file") == 1500
    assert len(caught.value.stderr) > 1 << 16
    proc = git(["ls-files", "--error-unmatch", *files, *missing], cwd=str(committed.path),
               check=False)
    assert proc.stdout.decode().split() == sorted(files) and proc.returncode == 1


def test_exit_codes_and_outputs_are_gits(committed, tmp_path):
    root = str(committed.path)
    assert git(["rev-parse", "--verify", "-q", "nope"], cwd=root, check=False).returncode == 1
    outside = tmp_path / "not-a-repo"
    outside.mkdir()
    proc = git(["rev-parse", "HEAD"], cwd=str(outside), check=False,
               env={"GIT_CEILING_DIRECTORIES": str(tmp_path)})
    assert proc.returncode == 128 and proc.stderr.startswith(b"fatal: not a git repository")
    # Empty input is an empty stdin, not an inherited one.
    empty = git(["hash-object", "--stdin"], cwd=root, input=b"").stdout
    assert empty == b"e69de29bb2d1d6434b8b29ae775ad8c2e48c5391\n"


def test_stdout_and_stderr_to_files_descriptors_and_devnull(committed, tmp_path):
    root = str(committed.path)
    head = committed.head().encode() + b"\n"
    with open(tmp_path / "out", "wb") as fh:
        proc = git(["rev-parse", "HEAD"], cwd=root, stdout=fh)
    assert proc.stdout is None and (tmp_path / "out").read_bytes() == head
    fd = os.open(tmp_path / "fd", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        git(["rev-parse", "HEAD"], cwd=root, stdout=fd)
    finally:
        os.close(fd)
    assert (tmp_path / "fd").read_bytes() == head
    proc = git(["rev-parse", "--verify", "nope"], cwd=root, check=False, stdout=DEVNULL,
               stderr=DEVNULL)
    assert proc.returncode == 128 and proc.stdout is None and proc.stderr is None
    proc = git(["rev-parse", "HEAD", "--verify", "nope"], cwd=root, check=False, stderr=STDOUT)
    assert head in proc.stdout and b"fatal:" in proc.stdout and proc.stderr is None


def test_a_missing_or_wrong_working_directory_raises_as_subprocess_did(committed, tmp_path):
    with pytest.raises(FileNotFoundError):
        git(["status"], cwd=str(tmp_path / "gone"))
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError):
        git(["status"], cwd=str(tmp_path / "file"))


def test_the_working_directory_is_gits_own_with_relative_git_variables(committed, tmp_path,
                                                                        monkeypatch):
    monkeypatch.chdir(tmp_path)   # elsewhere: GIT_DIR=.git is relative to CWD, not to us
    proc = git(["rev-parse", "--absolute-git-dir", "--show-toplevel"], cwd=str(committed.path),
               env={"GIT_DIR": ".git", "GIT_WORK_TREE": "."})
    real = os.path.realpath(committed.path)
    assert proc.stdout.decode().split() == [os.path.join(real, ".git"), real]
    # A relative working directory is relative to ours.
    monkeypatch.chdir(committed.path.parent)
    assert git(["rev-parse", "--show-toplevel"], cwd=committed.path.name).stdout.decode().strip() \
        == real


def test_git_is_found_on_the_path_of_the_childs_environment(committed, tmp_path):
    root = str(committed.path)
    # Our PATH has git; the child's has none: not found, whatever ours says.
    with pytest.raises(GitNotFoundError):
        git(["status"], cwd=root, env={"PATH": str(tmp_path / "empty")})
    # A git of the child's PATH is the one started (a wrapper that notes it ran, then
    # hands over to the real git).
    real = shutil.which("git")
    wrapper = tmp_path / "bin" / "git"
    wrapper.parent.mkdir()
    wrapper.write_text(f"#!/bin/sh\necho ran >> '{tmp_path / 'ran'}'\nexec '{real}' \"$@\"\n")
    wrapper.chmod(0o755)
    not_executable = tmp_path / "first" / "git"    # skipped, as execvp skips it
    not_executable.parent.mkdir()
    not_executable.write_text("#!/bin/sh\nexit 99\n")
    path = os.pathsep.join([str(not_executable.parent), str(wrapper.parent), os.environ["PATH"]])
    out = git(["rev-parse", "HEAD"], cwd=root, env={"PATH": path}).stdout.decode().strip()
    assert out == committed.head() and (tmp_path / "ran").read_text() == "ran\n"
    # The same PATH again (its answer is remembered) still starts the wrapper.
    git(["rev-parse", "HEAD"], cwd=root, env={"PATH": path})
    assert (tmp_path / "ran").read_text() == "ran\nran\n"


_INTERRUPTED = """
import os, signal, sys, threading, time
sys.path.insert(0, {root!r})
from git_exp.git import git

def children():
    found = set()
    for task in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{{task}}/children") as fh:
            found.update(int(pid) for pid in fh.read().split())
    return found

started = []
def interrupt():
    deadline = time.monotonic() + 20
    while not children() and time.monotonic() < deadline:
        time.sleep(0.02)
    started.extend(children())
    os.kill(os.getpid(), signal.SIGINT)

threading.Thread(target=interrupt, daemon=True).start()
try:
    git(["cat-file", "--batch"], cwd={repo!r}, input=None)   # reads our stdin: never ends
    print("finished")
except KeyboardInterrupt:
    print("interrupted")
for pid in started:
    try:
        os.kill(pid, 0)
        print("alive", pid)        # running, or a zombie nobody reaped
    except ProcessLookupError:
        print("gone", pid)
print("children", sorted(children()))
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="needs Linux's /proc")
def test_ctrl_c_kills_and_reaps_git(committed):
    from tests.conftest import ROOT
    script = _INTERRUPTED.format(root=str(ROOT), repo=str(committed.path))
    # stdin a pipe kept open: the git child blocks reading it until it is killed.
    read, write = os.pipe()
    try:
        proc = subprocess.run([sys.executable, "-c", script], stdin=read,
                              capture_output=True, text=True, timeout=60)
    finally:
        os.close(read)
        os.close(write)
    lines = proc.stdout.splitlines()
    assert lines[0] == "interrupted", proc.stdout + proc.stderr
    assert len(lines) == 3 and lines[1].startswith("gone ") and lines[2] == "children []"


_STDIO_CLOSED = """
import os, sys
sys.path.insert(0, {root!r})
from git_exp.git import git
proc = git(["hash-object", "--stdin"], cwd={repo!r}, input=b"data\\n")
with open({out!r}, "wb") as fh:
    fh.write(proc.stdout)
"""


def test_git_runs_from_a_process_started_with_stdio_closed(committed, tmp_path):
    # The pipes then get descriptors 0, 1 and 2; moving them into place must not overwrite one.
    from tests.conftest import ROOT
    out = tmp_path / "out"
    script = _STDIO_CLOSED.format(root=str(ROOT), repo=str(committed.path), out=str(out))
    subprocess.run(["/bin/sh", "-c", 'exec "$0" -c "$1" <&- >&- 2>&-', sys.executable, script],
                   check=True, timeout=60)
    expected = committed.git("hash-object", "--stdin", input="data\n").encode()
    assert out.read_bytes() == expected


_STDERR_TO_OUR_STDOUT = """
import sys
sys.path.insert(0, {root!r})
from git_exp.git import git
proc = git(["rev-parse", "HEAD", "--verify", "nope"], cwd={repo!r}, check=False, stderr=1)
with open({out!r}, "wb") as fh:
    fh.write(proc.stdout)
"""


def test_stderr_onto_our_stdout_while_stdout_is_captured(committed, tmp_path):
    # Git's stdout (descriptor 1) is moved into place first: our descriptor 1,
    # named for its stderr, must still be ours, not the pipe now there.
    from tests.conftest import ROOT
    captured, ours = tmp_path / "captured", tmp_path / "ours"
    script = _STDERR_TO_OUR_STDOUT.format(root=str(ROOT), repo=str(committed.path),
                                          out=str(captured))
    with open(ours, "wb") as fh:
        subprocess.run([sys.executable, "-c", script], stdout=fh, check=True, timeout=60)
    assert ours.read_bytes().startswith(b"fatal: Needed a single revision")
    assert captured.read_bytes() == committed.head().encode() + b"\n"


_SIGCHLD_IGNORED = """
import signal, sys
sys.path.insert(0, {root!r})
signal.signal(signal.SIGCHLD, signal.SIG_IGN)   # as a parent may hand it down
from git_exp.git import git
print(git(["rev-parse", "HEAD"], cwd={repo!r}).stdout.decode().strip())
"""


def test_git_runs_when_sigchld_is_ignored(committed):
    # The kernel then reaps git itself: no status to wait for, as subprocess copes.
    from tests.conftest import ROOT
    script = _SIGCHLD_IGNORED.format(root=str(ROOT), repo=str(committed.path))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == committed.head()
