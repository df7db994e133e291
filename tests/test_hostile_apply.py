"""Hostile experiments and careless users against `git exp apply` (issue 14, rows 1-4, Ctrl-C).

Each malicious experiment is crafted with Git plumbing (hash-object,
mktree, commit-tree, update-ref), pushed with plain `git push` to a shared
bare remote, its data placed by hand in `<bare>/exp/cache` (the directory
data remote's layout). The victim then does what a user does:
`git exp pull origin NAME && git exp apply NAME`. Every check is made on the
real filesystem and with real Git: nothing outside the work tree changed,
`.git/hooks` is byte-identical, `git fsck --strict` passes, and every
command ends within seconds.
"""
from __future__ import annotations

import hashlib
import os
import shlex
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import Project, init_bare

QUICK = 60  # seconds any one command may take here; a hang fails the test


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def git_in(path: Path, *args: str, input: bytes | None = None) -> str:
    proc = subprocess.run(["git", *args], cwd=path, input=input, capture_output=True, timeout=QUICK)
    assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr.decode()}"
    return proc.stdout.decode().strip()


def snapshot(top: Path) -> dict:
    """Every entry under TOP, links not followed: path -> (kind, bytes or target, mode)."""
    found = {}
    for folder, dirs, files in os.walk(top):
        for name in dirs + files:
            full = Path(folder) / name
            st = full.lstat()
            rel = str(full.relative_to(top))
            if full.is_symlink():
                found[rel] = ("link", os.readlink(full), 0)
            elif full.is_dir():
                found[rel] = ("dir", b"", st.st_mode)
            else:
                found[rel] = ("file", full.read_bytes(), st.st_mode)
    return found


class World:
    """An upstream bare remote, the attacker's clone and the victim's clone."""

    def __init__(self, tmp_path: Path):
        self.tmp = tmp_path
        self.bare = init_bare(tmp_path / "origin.git")
        seed = tmp_path / "seed"
        subprocess.run(["git", "init", "-q", str(seed)], check=True)
        (seed / "README.md").write_text("# project\n")
        (seed / "train.py").write_text("print('train')\n")
        git_in(seed, "add", "-A")
        git_in(seed, "commit", "-q", "-m", "project")
        git_in(seed, "push", "-q", str(self.bare), "main")
        self.baseline = git_in(seed, "rev-parse", "HEAD")
        self.attacker = seed
        subprocess.run(["git", "clone", "-q", str(self.bare), str(tmp_path / "victim")], check=True)
        self.victim = Project(tmp_path / "victim")
        self.outside = tmp_path / "outside"
        self.outside.mkdir()
        (self.outside / "existing.txt").write_text("the user's file outside the repository\n")

    # -- the attacker's tools ---------------------------------------------------

    def blob(self, data: bytes) -> str:
        return git_in(self.attacker, "hash-object", "-w", "--stdin", input=data)

    def tree(self, entries: dict) -> str:
        """A tree from {name: bytes | (mode, bytes) | dict}, written with mktree."""
        lines = []
        for name, value in entries.items():
            if isinstance(value, dict):
                lines.append(f"040000 tree {self.tree(value)}\t{name}")
            else:
                mode, data = value if isinstance(value, tuple) else ("100644", value)
                lines.append(f"{mode} blob {self.blob(data)}\t{name}")
        return git_in(self.attacker, "mktree", input=("\n".join(lines) + "\n").encode())

    def experiment(self, name: str, entries: dict, data: dict | None = None) -> str:
        """Commit ENTRIES (on top of the baseline's files) as refs/exps/<baseline>/NAME,
        push it, and put DATA ({hash: bytes}) in the shared data remote."""
        files = {"README.md": b"# project\n", "train.py": b"print('train')\n", **entries}
        commit = git_in(self.attacker, "commit-tree", self.tree(files), "-p", self.baseline,
                        "-m", f"exp: {name}")
        ref = f"refs/exps/{self.baseline}/{name}"
        git_in(self.attacker, "update-ref", ref, commit)
        git_in(self.attacker, "push", "-q", str(self.bare), f"{ref}:{ref}")
        for digest, content in (data or {}).items():
            path = self.bare / "exp" / "cache" / "files" / "sha256" / digest[:2] / digest[2:]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        return commit

    # -- the victim ---------------------------------------------------------------

    def exp(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        started = time.monotonic()
        proc = self.victim.exp(*args, check=check, timeout=QUICK)
        assert time.monotonic() - started < QUICK
        assert "Traceback" not in proc.stderr and proc.returncode != 3, proc.stderr
        return proc

    def hooks(self) -> dict:
        return snapshot(self.victim.path / ".git" / "hooks")


def lock(outs: list[tuple[str, str, int, int | None]]) -> bytes:
    """An exp.lock with one stage whose outs are (path, hash, size, nfiles)."""
    text = "schema: '1'\nstages:\n  evil:\n    cmd: 'true'\n    outs:\n"
    for path, digest, size, nfiles in outs:
        text += f"    - path: {path}\n      hash: {digest}\n      size: {size}\n"
        if nfiles is not None:
            text += f"      nfiles: {nfiles}\n"
    return text.encode()


def manifest(files: dict[str, tuple[bytes, bool]]) -> tuple[str, bytes, int]:
    """(hash, bytes, total size) of a directory manifest for {relpath: (content, executable)}."""
    from git_exp.data.hashing import ManifestEntry, manifest_bytes, manifest_hash
    entries = [ManifestEntry(p, sha(c), len(c), x) for p, (c, x) in files.items()]
    data = manifest_bytes(entries)
    return manifest_hash(data), data, sum(len(c) for c, _ in files.values())


@pytest.fixture
def world(tmp_path) -> World:
    return World(tmp_path)


# -- row 1: a symlink in the experiment's tree, data through it ----------------------------

def test_data_through_a_symlink_to_a_folder_outside_is_refused(world):
    evil = b"overwritten by the attacker\n"
    world.experiment("evil", {"lnk": ("120000", str(world.outside).encode()),
                              "exp.lock": lock([("lnk/existing.txt", sha(evil), len(evil), None)])},
                     {sha(evil): evil})
    before, hooks = snapshot(world.tmp / "outside"), world.hooks()
    world.exp("pull", "origin", "evil")
    proc = world.exp("apply", "evil", check=False)
    assert proc.returncode == 1
    assert "'lnk/existing.txt' goes through 'lnk', a symlink" in proc.stderr
    assert snapshot(world.tmp / "outside") == before
    assert world.hooks() == hooks
    assert not (world.victim.path / "lnk").exists()  # refused before anything was written
    proc = world.exp("apply", "--force", "evil", check=False)  # --force forces nothing of the kind
    assert proc.returncode == 1 and snapshot(world.tmp / "outside") == before
    world.victim.fsck()


def test_data_through_a_symlink_the_victim_has_is_refused(world):
    """The link is the victim's own (untracked); the experiment only names the data path."""
    evil = b"overwritten by the attacker\n"
    world.experiment("evil", {"exp.lock": lock([("lnk/existing.txt", sha(evil), len(evil), None)])},
                     {sha(evil): evil})
    os.symlink(world.outside, world.victim.path / "lnk")
    before = snapshot(world.tmp / "outside")
    world.exp("pull", "origin", "evil")
    proc = world.exp("apply", "evil", check=False)
    assert proc.returncode == 1 and "\tlnk\n" in proc.stderr and "--force" in proc.stderr
    assert snapshot(world.tmp / "outside") == before
    # --force replaces the link (kept in the backup) with a real folder: still nothing outside.
    proc = world.exp("apply", "--force", "evil")
    assert snapshot(world.tmp / "outside") == before
    assert not (world.victim.path / "lnk").is_symlink()
    assert (world.victim.path / "lnk" / "existing.txt").read_bytes() == evil
    backup = proc.stdout.split("git exp apply ")[-1].strip()
    assert world.victim.git("cat-file", "-p", f"{backup}:lnk").strip() == str(world.outside)
    world.victim.fsck()


def test_symlinks_in_the_tree_are_restored_as_links_and_nothing_is_written_through_them(world):
    world.experiment("links", {"lnk": ("120000", str(world.outside).encode()),
                               "docs": ("120000", b"README.md")})
    before = snapshot(world.outside)
    world.exp("pull", "origin", "links")
    world.exp("apply", "links")
    assert os.readlink(world.victim.path / "lnk") == str(world.outside)  # as Git does
    assert os.readlink(world.victim.path / "docs") == "README.md"
    assert snapshot(world.outside) == before
    world.victim.fsck()


def test_data_through_a_link_inside_the_repository_is_refused_too(world):
    """Not only links that leave: data is never written through any symlink."""
    evil = b"data\n"
    world.experiment("evil", {"sub": {"keep.txt": b"x\n"}, "lnk": ("120000", b"sub"),
                              "exp.lock": lock([("lnk/data.bin", sha(evil), len(evil), None)])},
                     {sha(evil): evil})
    world.exp("pull", "origin", "evil")
    proc = world.exp("apply", "evil", check=False)
    assert proc.returncode == 1 and "goes through 'lnk'" in proc.stderr
    assert not (world.victim.path / "sub").exists()


def test_a_tree_with_a_file_beneath_its_own_symlink_is_refused(world):
    """mktree happily writes `lnk` twice (a link and a folder); Git would never check it out."""
    link = world.blob(str(world.outside).encode())
    inner = world.tree({"existing.txt": b"through the link\n"})
    base = {"README.md": b"# project\n", "train.py": b"print('train')\n"}
    lines = [f"100644 blob {world.blob(v)}\t{k}" for k, v in base.items()]
    lines += [f"120000 blob {link}\tlnk", f"040000 tree {inner}\tlnk"]
    tree = git_in(world.attacker, "mktree", "--missing", input=("\n".join(lines) + "\n").encode())
    commit = git_in(world.attacker, "commit-tree", tree, "-p", world.baseline, "-m", "evil")
    ref = f"refs/exps/{world.baseline}/evil"
    git_in(world.attacker, "update-ref", ref, commit)
    git_in(world.attacker, "push", "-q", str(world.bare), f"{ref}:{ref}")
    before = snapshot(world.outside)
    world.exp("pull", "origin", "evil")
    proc = world.exp("apply", "evil", check=False)
    assert proc.returncode == 1 and "inside 'lnk'" in proc.stderr
    assert snapshot(world.outside) == before


# -- row 2: lnk -> .git and a data folder lnk/hooks holding a hook ------------------------

@pytest.mark.parametrize("target", [".git", "absolute"])
def test_a_data_folder_through_a_link_to_dot_git_never_plants_a_hook(world, target):
    pwned = world.tmp / "pwned"
    hook = f"#!/bin/sh\necho pwned > '{pwned}'\n".encode()
    digest, data, size = manifest({"post-checkout": (hook, True)})
    if target == "absolute":  # an attacker who guessed where the victim works
        target = str(world.victim.path / ".git")
    world.experiment("evil", {"lnk": ("120000", target.encode()),
                              "exp.lock": lock([("lnk/hooks", digest, size, 1)])},
                     {digest: data, sha(hook): hook})
    hooks = world.hooks()
    world.exp("pull", "origin", "evil")
    proc = world.exp("apply", "evil", check=False)
    assert proc.returncode == 1 and "symlink" in proc.stderr
    assert world.hooks() == hooks
    assert not (world.victim.path / ".git" / "hooks" / "post-checkout").exists()
    world.victim.git("checkout", "-q", "-b", "after")  # no planted hook runs
    assert not pwned.exists()
    world.victim.fsck()


def test_a_data_path_naming_dot_git_in_any_case_is_refused(world):
    hook = b"#!/bin/sh\nexit 0\n"
    world.experiment("evil", {"exp.lock": lock([(".GIT/hooks/post-checkout", sha(hook), len(hook), None)])},
                     {sha(hook): hook})
    hooks = world.hooks()
    world.exp("pull", "origin", "evil", check=False)
    proc = world.exp("apply", "evil", check=False)
    assert proc.returncode == 1 and "'.git' in path" in proc.stderr
    assert world.hooks() == hooks


# -- row 3: untracked files the experiment does not know stay ---------------------------------

def test_apply_keeps_untracked_and_ignored_files_the_experiment_lacks(world):
    world.experiment("tweak", {"train.py": b"print('train better')\n", "extra.py": b"x = 1\n"})
    (world.victim.path / "notes.txt").write_text("notes\n")
    (world.victim.path / ".git" / "info" / "exclude").write_text("*.log\n")
    (world.victim.path / "run.log").write_text("my log\n")
    world.exp("pull", "origin", "tweak")
    world.exp("apply", "tweak")
    assert world.victim.read("notes.txt") == "notes\n"
    assert world.victim.read("run.log") == "my log\n"
    assert world.victim.read("train.py") == "print('train better')\n"
    assert world.victim.read("extra.py") == "x = 1\n"
    world.victim.fsck()


def test_tracked_files_the_experiment_deletes_are_removed_and_restored(world):
    files = {"README.md": b"# project\n"}  # no train.py
    commit = git_in(world.attacker, "commit-tree", world.tree(files), "-p", world.baseline, "-m", "rm")
    ref = f"refs/exps/{world.baseline}/slim"
    git_in(world.attacker, "update-ref", ref, commit)
    git_in(world.attacker, "push", "-q", str(world.bare), f"{ref}:{ref}")
    world.exp("pull", "origin", "slim")
    proc = world.exp("apply", "slim")
    assert not (world.victim.path / "train.py").exists() and "removed 1 file." in proc.stdout
    backup = proc.stdout.split("git exp apply ")[-1].strip()
    world.exp("apply", backup)
    assert world.victim.read("train.py") == "print('train')\n"


def test_applying_one_experiment_after_another_replaces_the_files_apply_wrote(world):
    world.experiment("one", {"extra.py": b"one = 1\n", "only-one.py": b"\n"})
    world.experiment("two", {"extra.py": b"two = 2\n"})
    world.exp("pull", "origin", "one", "two")
    first = world.exp("apply", "one").stdout.split("git exp apply ")[-1].strip()
    world.exp("apply", "two")  # extra.py is untracked now, but apply wrote it: no refusal
    assert world.victim.read("extra.py") == "two = 2\n"
    assert not (world.victim.path / "only-one.py").exists()
    world.exp("apply", first)  # the way back, file for file
    assert not (world.victim.path / "extra.py").exists()
    (world.victim.path / "extra.py").write_text("mine now\n")  # edited: the user's from now on
    proc = world.exp("apply", "two", check=False)
    assert proc.returncode == 1 and "\textra.py" in proc.stderr


# -- row 4: an ignored local file the experiment tracks -----------------------------------

def test_an_ignored_file_the_experiment_tracks_is_refused_then_backed_up_with_force(world):
    world.experiment("cfg", {"config.local": b"from the experiment\n"})
    with open(world.victim.path / ".git" / "info" / "exclude", "a") as fh:
        fh.write("config.local\n")
    (world.victim.path / "config.local").write_text("my secret settings\n")
    world.exp("pull", "origin", "cfg")
    proc = world.exp("apply", "cfg", check=False)
    assert proc.returncode == 1
    assert "would overwrite these untracked or ignored files:\n\tconfig.local" in proc.stderr
    assert "hint:" in proc.stderr and "--force" in proc.stderr
    assert world.victim.read("config.local") == "my secret settings\n"
    assert world.victim.git("for-each-ref", "refs/exp-backups/") == ""  # nothing happened

    proc = world.exp("apply", "--force", "cfg")
    assert world.victim.read("config.local") == "from the experiment\n"
    backup = proc.stdout.split("git exp apply ")[-1].strip()
    assert world.victim.git("cat-file", "blob", f"{backup}:config.local") == "my secret settings\n"
    # The restore line came before the first write (stderr), and again at the end.
    assert f"to restore it: git exp apply {backup}" in proc.stderr
    world.exp("apply", backup)
    assert world.victim.read("config.local") == "my secret settings\n"
    world.victim.fsck()


def test_an_untracked_file_with_the_same_content_is_not_in_the_way(world):
    world.experiment("same", {"notes.txt": b"identical\n"})
    (world.victim.path / "notes.txt").write_text("identical\n")
    world.exp("pull", "origin", "same")
    world.exp("apply", "same")
    assert world.victim.read("notes.txt") == "identical\n"


# -- Ctrl-C ---------------------------------------------------------------------------------

def test_ctrl_c_mid_apply_exits_130_with_the_restore_command_and_no_half_file(world):
    """A smudge filter of the victim's own config (a slow one: think Git LFS on a slow
    network) holds apply after its first batch of files is in place.

    The filter says when it starts (so Ctrl-C comes while apply is surely held, not
    after a guessed delay) and then waits on a FIFO nobody writes: it ends only by the
    signal. A filter that ends otherwise fails apply (required), never lets it finish:
    a `sleep 60; cat` filter went on to `cat` when something else killed its sleep,
    and apply then completed with status 0 before the test's SIGINT arrived."""
    names = [f"f{i:03d}.txt" for i in range(300)]
    entries = {n: f"experiment {n}\n".encode() for n in names}
    entries["zzz.bin"] = b"rendered slowly\n"
    entries[".gitattributes"] = b"zzz.bin filter=slow\n"
    world.experiment("big", entries)
    for n in names:
        (world.victim.path / n).write_text(f"mine {n}\n")
    started, held = world.tmp / "filter-started", world.tmp / "filter-held"
    os.mkfifo(held)
    world.victim.git("config", "filter.slow.smudge",
                     f": > {shlex.quote(str(started))} && read _ < {shlex.quote(str(held))} && cat")
    world.victim.git("config", "filter.slow.required", "true")
    world.exp("pull", "origin", "big")
    before = snapshot(world.victim.path)
    # --force: the user's untracked f*.txt differ from the experiment's.
    # `git-exp` itself: through `git exp`, Git dies of the same SIGINT (a shell shows 130 too).
    proc = subprocess.Popen(["git-exp", "apply", "--force", "big"], cwd=world.victim.path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        line = proc.stderr.readline()
        assert "to restore it: git exp apply refs/exp-backups/" in line, line
        deadline = time.monotonic() + QUICK
        while not started.exists():  # the first batch is in place; the filter holds the second
            assert time.monotonic() < deadline and proc.poll() is None, proc.poll()
            time.sleep(0.05)
        assert world.victim.read(names[0]) == f"experiment {names[0]}\n"
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=QUICK)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    backup = line.split("git exp apply ")[1].strip()
    assert f"restore it with: git exp apply {backup}" in err
    after = snapshot(world.victim.path)
    for n in names:  # each file whole: the user's or the experiment's
        assert world.victim.read(n) in (f"mine {n}\n", f"experiment {n}\n")
    assert any(world.victim.read(n) == f"mine {n}\n" for n in names)  # really interrupted midway
    assert not (world.victim.path / "zzz.bin").exists()
    assert not [p for p in after if p.endswith(".tmp") and not p.startswith(".git")]
    assert not list((world.victim.path / ".git").glob("exp-apply.*"))  # staging folder cleared
    (world.victim.path / ".git" / "exp-apply.4194999").mkdir()  # as a SIGKILLed apply leaves it
    world.victim.git("config", "--remove-section", "filter.slow")
    world.exp("apply", backup)
    assert not list((world.victim.path / ".git").glob("exp-apply.*"))
    restored = snapshot(world.victim.path)
    assert {p: v for p, v in restored.items() if not p.startswith(".git")} == \
           {p: v for p, v in before.items() if not p.startswith(".git")}
    world.victim.fsck()
