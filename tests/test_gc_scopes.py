"""git exp gc scopes (-w, -a, -T, --all-commits, --all-experiments, --date), -f, and backup expiry."""
from __future__ import annotations

import hashlib
import json
import os
import time

import pytest


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def obj(project, digest: str):
    return project.path / ".git" / "exp" / "cache" / "files" / "sha256" / digest[:2] / digest[2:]


def _age(project, days: float = 30) -> None:
    """Make every cache object old, so only the scope (not the grace period) decides."""
    old = time.time() - days * 86400
    for root, _, files in os.walk(project.path / ".git" / "exp" / "cache"):
        for name in files:
            os.utime(os.path.join(root, name), (old, old))


def _version(project, content: bytes, message: str, date: str | None = None) -> str:
    (project.path / "model.bin").write_bytes(content)
    project.exp("add", "model.bin")
    project.git("add", "-A")
    env = {"GIT_COMMITTER_DATE": date, "GIT_AUTHOR_DATE": date} if date else None
    if env:
        os.environ.update(env)
    try:
        project.git("commit", "-q", "-m", message)
    finally:
        if env:
            for k in env:
                os.environ.pop(k)
    return sha(content)


@pytest.fixture
def history(committed):
    """main: old -> main-tip; branch side: side-old -> side-tip; tag v1 on side-old;
    an experiment on main-tip; a queue entry; a recent backup. Every object old."""
    p = committed
    v = {}
    v["main-old"] = _version(p, b"main-old", "main old", "2020-01-01T00:00:00")
    v["main-tip"] = _version(p, b"main-tip", "main tip", "2020-02-01T00:00:00")
    base = p.head()
    p.git("checkout", "-q", "-b", "side")
    v["side-old"] = _version(p, b"side-old", "side old", "2020-03-01T00:00:00")
    p.git("tag", "v1")
    v["side-tip"] = _version(p, b"side-tip", "side tip", "2030-01-01T00:00:00")
    v["exp"] = _version(p, b"exp", "exp", "2020-04-01T00:00:00")
    p.git("update-ref", f"refs/exps/{base}/bold-otter", "HEAD")
    p.git("reset", "-q", "--hard", "HEAD~1")
    v["queued"] = _version(p, b"queued", "queued", "2020-04-02T00:00:00")
    p.git("update-ref", "refs/exps-queue/1", "HEAD")
    p.git("reset", "-q", "--hard", "HEAD~1")
    p.git("checkout", "-q", "main")
    p.exp("checkout")
    (p.path / "model.bin").chmod(0o644)
    (p.path / "model.bin").write_bytes(b"edited")
    p.exp("apply", "bold-otter")                      # backs "edited" up
    v["backup"] = sha(b"edited")
    p.git("checkout", "-q", "--", ".")                # back to main's pointer...
    (p.path / "model.bin").unlink()
    p.exp("checkout")                                 # ...and main's data
    assert (p.path / "model.bin").read_bytes() == b"main-tip"
    _age(p)
    return p, v


def _present(p, v) -> set[str]:
    return {k for k, digest in v.items() if obj(p, digest).exists()}


def test_default_and_all_commits_keep_everything_refs_name(history):
    p, v = history
    p.exp("gc", "--prune=now")
    assert _present(p, v) == set(v)
    p.exp("gc", "--all-commits", "--prune=now")
    assert _present(p, v) == set(v)


def test_workspace_scope_lists_what_it_drops_and_needs_force(history):
    p, v = history
    proc = p.exp("gc", "-w", "--dry-run")
    assert "object(s) that refs still name are outside the scope" in proc.stdout
    assert "branch 'side': model.bin" in proc.stdout
    assert "experiment 'bold-otter': model.bin" in proc.stdout
    assert _present(p, v) == set(v)
    proc = p.exp("gc", "-w", check=False)
    assert proc.returncode == 1
    assert "error: gc --workspace would delete" in proc.stderr and "-f" in proc.stderr
    assert "branch 'side': model.bin" in proc.stdout
    assert _present(p, v) == set(v)                   # refused: nothing deleted
    p.exp("gc", "-w", "-f")
    # HEAD (main-tip), the queue entry and the backup are always kept.
    assert _present(p, v) == {"main-tip", "queued", "backup"}
    p.fsck()


@pytest.mark.parametrize("flags, kept", [
    (["-a"], {"main-tip", "side-tip"}),
    (["-T"], {"main-tip", "side-old"}),
    (["--all-experiments"], {"main-tip", "exp"}),
    (["-a", "-T"], {"main-tip", "side-tip", "side-old"}),
    (["--date", "2020-03-15"], {"main-tip", "side-tip", "exp"}),
    (["--date", "2020-02-15"], {"main-tip", "side-tip", "exp", "side-old"}),
])
def test_each_scope_keeps_its_own(history, flags, kept):
    p, v = history
    p.exp("gc", *flags, "-f")
    assert _present(p, v) == kept | {"queued", "backup"}


def test_a_running_worker_s_objects_survive_any_scope(history):
    p, v = history
    # A live run in a linked worktree: what it writes from now on is kept.
    wt = p.path.parent / "worker"
    p.git("worktree", "add", "-q", "--detach", str(wt))
    lock = p.path / ".git" / "worktrees" / "worker" / "exp-run.lock"
    lock.write_text(json.dumps({"pid": os.getpid(), "host": os.uname().nodename}))
    digest = sha(b"being written")
    (p.path / "scratch.bin").write_bytes(b"being written")
    p.exp("add", "scratch.bin")
    (p.path / "scratch.bin.exp").unlink()
    (p.path / "scratch.bin").unlink()
    # ... and an experiment it recorded since: a ref names it, -w leaves it out, it is young.
    recorded = _version(p, b"recorded by the worker", "worker's result")
    p.git("update-ref", "refs/exps/%s/worker-exp" % p.head(), "HEAD")
    p.git("reset", "-q", "--hard", "HEAD~1")
    (p.path / "model.bin").unlink()
    p.exp("checkout")
    p.exp("gc", "-w", "-f", "--prune=now")
    assert obj(p, digest).exists() and obj(p, recorded).exists()
    assert obj(p, v["main-tip"]).exists() and not obj(p, v["side-tip"]).exists()
    lock.unlink()
    p.exp("gc", "-w", "-f", "--prune=now")
    assert not obj(p, digest).exists() and not obj(p, recorded).exists()


def test_expired_backups_are_pruned_and_listed(history):
    p, v = history
    listing = json.loads(p.exp("list", "--backups", "--json").stdout)
    assert len(listing) == 1
    first = [b for b in listing if "model.bin" in b["data"] and b["data"]["model.bin"]["hash"] == v["backup"]]
    assert first and first[0]["restore"] == f"git exp apply {first[0]['ref']}"
    # Unix times in whole seconds, both of them: 30 days (the default) apart
    assert isinstance(first[0]["date"], int) and isinstance(first[0]["expires"], int)
    assert abs(first[0]["expires"] - first[0]["date"] - 30 * 86400) <= 2
    text = p.exp("list", "--backups").stdout
    assert first[0]["ref"] in text and "restore: git exp apply" in text and "expires 20" in text
    p.git("config", "exp.backups.expire", "now")
    assert "expired: the next git exp gc deletes it" in p.exp("list", "--backups").stdout
    proc = p.exp("gc", "--dry-run", "--prune=now")
    assert "Would delete the backup refs/exp-backups/" in proc.stderr
    assert len(json.loads(p.exp("list", "--backups", "--json").stdout)) == 1
    proc = p.exp("gc", "--prune=now")
    assert proc.stderr.count("Deleted the backup refs/exp-backups/") == 1
    assert json.loads(p.exp("list", "--backups", "--json").stdout) == []
    assert not obj(p, v["backup"]).exists()          # its data went with it
    assert "No backups." in p.exp("list", "--backups").stderr
    p.fsck()


def test_backups_that_have_not_expired_are_kept(history):
    p, v = history
    p.git("config", "exp.backups.expire", "never")
    p.exp("gc", "-w", "-f", "--prune=now")
    assert obj(p, v["backup"]).exists()
    assert "never expires" in p.exp("list", "--backups").stdout


def test_bad_dates_are_usage_errors(history):
    p, _ = history
    proc = p.exp("gc", "--date", "someday", check=False)
    assert proc.returncode == 129 and "--date: 'someday' is not a date" in proc.stderr
    p.git("config", "exp.backups.expire", "whenever")
    proc = p.exp("gc", check=False)
    assert proc.returncode == 129 and "exp.backups.expire" in proc.stderr
