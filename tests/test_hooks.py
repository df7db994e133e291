"""The installed hooks, driven by real `git commit`, `git checkout`, `git merge`, `git push`."""
from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys

import pytest

from tests.conftest import ROOT, loaded_modules

HOOKS = ("pre-commit", "post-checkout", "post-merge", "pre-push")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def obj(project, digest: str):
    return project.path / ".git" / "exp" / "cache" / "files" / "sha256" / digest[:2] / digest[2:]


def run_git(project, *args, env=None, input=None):
    full = dict(os.environ)
    full.update(env or {})
    return subprocess.run(["git", *args], cwd=project.path, env=full, input=input, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.fixture
def hooked(committed):
    """Hooks installed; model.bin tracked with a pointer on main."""
    committed.exp("install")
    committed.gen({"model.bin": "v1\n"})
    committed.exp("add", "model.bin")
    committed.commit("model v1")
    return committed


def foreign_hook(project, name: str, body: str) -> bytes:
    path = project.path / ".git" / "hooks" / name
    text = f"#!/bin/sh\n# the user's own {name} hook\n{body}\n".encode()
    path.write_bytes(text)
    path.chmod(0o750)
    return text


# -- install / uninstall ----------------------------------------------------------

def test_install_writes_marked_executable_hooks_and_is_idempotent(committed):
    proc = committed.exp("install")
    assert "Installed the pre-commit hook." in proc.stdout
    hooks = committed.path / ".git" / "hooks"
    for name in HOOKS:
        text = (hooks / name).read_text()
        assert text.startswith("#!/bin/sh\n# git-exp-hook")
        assert f'git-exp hook {name} "$@"' in text
        assert os.stat(hooks / name).st_mode & stat.S_IXUSR
        assert text == (ROOT / "hooks" / name).read_text()  # the top-level template, as is
    before = {n: os.stat(hooks / n).st_mtime_ns for n in HOOKS}
    proc = committed.exp("install")
    assert "already installed" in proc.stdout
    assert {n: os.stat(hooks / n).st_mtime_ns for n in HOOKS} == before


def test_an_older_version_of_our_hook_is_updated(committed):
    path = committed.path / ".git" / "hooks" / "pre-commit"
    path.write_text("#!/bin/sh\n# git-exp-hook v0\nexec git exp hook pre-commit\n")
    proc = committed.exp("install")
    assert "Updated the pre-commit hook." in proc.stdout
    assert not path.with_name("pre-commit.legacy").exists()


def test_a_foreign_hook_is_kept_runs_first_and_round_trips_byte_for_byte(committed):
    original = foreign_hook(committed, "pre-commit", 'echo "legacy ran" >> legacy.log')
    mode = os.stat(committed.path / ".git" / "hooks" / "pre-commit").st_mode
    proc = committed.exp("install")
    assert "your own hook is now pre-commit.legacy" in proc.stdout
    assert (committed.path / ".git" / "hooks" / "pre-commit.legacy").read_bytes() == original
    committed.gen({"f.txt": "x"})
    committed.git("add", "f.txt")
    committed.git("commit", "-q", "-m", "with legacy")
    assert committed.read("legacy.log") == "legacy ran\n"
    assert "Installed" not in committed.exp("install").stdout  # still a no-op
    proc = committed.exp("install", "--uninstall")
    assert "restored your own from pre-commit.legacy" in proc.stdout
    hook = committed.path / ".git" / "hooks" / "pre-commit"
    assert hook.read_bytes() == original and os.stat(hook).st_mode == mode
    assert not hook.with_name("pre-commit.legacy").exists()
    assert not (committed.path / ".git" / "hooks" / "post-checkout").exists()


def test_a_failing_foreign_hook_still_fails_the_commit(committed):
    foreign_hook(committed, "pre-commit", 'echo "no commits today" >&2; exit 7')
    committed.exp("install")
    committed.gen({"f.txt": "x"})
    committed.git("add", "f.txt")
    proc = run_git(committed, "commit", "-m", "blocked")
    assert proc.returncode != 0 and "no commits today" in proc.stderr
    assert committed.git("log", "--format=%s").split("\n")[0] == "initial"


def test_a_taken_legacy_name_is_refused_and_nothing_changes(committed):
    foreign_hook(committed, "post-merge", "exit 0")
    foreign_hook(committed, "post-merge.legacy", "exit 0")
    proc = committed.exp("install", check=False)
    assert proc.returncode == 1 and "post-merge.legacy is taken too" in proc.stderr
    assert not (committed.path / ".git" / "hooks" / "pre-commit").exists()


def test_install_follows_core_hooks_path_and_worktrees(committed, tmp_path):
    committed.git("config", "core.hooksPath", ".githooks")
    committed.exp("install")
    assert (committed.path / ".githooks" / "post-checkout").is_file()
    committed.git("config", "--unset", "core.hooksPath")
    wt = tmp_path / "wt"
    committed.git("worktree", "add", "-q", str(wt))
    subprocess.run(["git", "exp", "install"], cwd=wt, check=True, capture_output=True)
    assert (committed.path / ".git" / "hooks" / "pre-push").is_file()  # the common dir's


def test_a_hooks_path_outside_the_repository_needs_force(committed, tmp_path):
    shared = tmp_path / "shared-hooks"
    committed.git("config", "core.hooksPath", str(shared))
    proc = committed.exp("install", check=False)
    assert proc.returncode == 1 and "--force" in proc.stderr and not shared.exists()
    committed.exp("install", "--force")
    assert (shared / "pre-commit").is_file()


def test_hook_arguments_are_validated(committed):
    proc = committed.exp("hook", "post-checkout", "abc", check=False)
    assert proc.returncode == 129 and "takes 3 arguments" in proc.stderr
    proc = committed.exp("hook", "post-checkout", "a" * 40, "b" * 40, "2", check=False)
    assert proc.returncode == 129
    listed = [line.split()[0] for line in committed.exp("-h").stdout.split("commands:")[1].splitlines()
              if line.startswith("   ")]
    assert "install" in listed and "hook" not in listed  # hidden, yet documented


# -- what the hooks do ----------------------------------------------------------------

def test_pre_commit_stores_modified_data_and_stages_its_pointer(hooked):
    (hooked.path / "model.bin").write_text("v2\n")
    hooked.gen({"notes.txt": "retrained"})
    hooked.git("add", "notes.txt")
    proc = run_git(hooked, "commit", "-m", "retrain")
    assert proc.returncode == 0, proc.stderr
    assert "git-exp: model.bin changed (3 bytes): stored it in the cache and staged model.bin.exp" in proc.stderr
    assert sha(b"v2\n") in hooked.git("show", "HEAD:model.bin.exp")
    assert obj(hooked, sha(b"v2\n")).read_bytes() == b"v2\n"
    assert hooked.git("status", "--porcelain") == ""


def test_pre_commit_when_only_data_changed_says_to_commit_again(hooked):
    (hooked.path / "model.bin").write_text("v2\n")
    proc = run_git(hooked, "commit", "-m", "data only")
    assert "run the same commit again" in proc.stderr
    if proc.returncode != 0:  # Git decided before the hook ran; the pointer is staged now
        hooked.git("commit", "-q", "-m", "data only")
    assert sha(b"v2\n") in hooked.git("show", "HEAD:model.bin.exp")


def test_pre_commit_refuses_when_auto_add_is_off(hooked):
    hooked.git("config", "exp.hooks.autoAdd", "false")
    (hooked.path / "model.bin").write_text("v2\n")
    hooked.gen({"notes.txt": "x"})
    hooked.git("add", "notes.txt")
    proc = run_git(hooked, "commit", "-m", "refused")
    assert proc.returncode == 1
    assert "model.bin was modified since model.bin.exp recorded it" in proc.stderr
    assert "git exp add model.bin" in proc.stderr
    assert hooked.git("log", "-1", "--format=%s").strip() == "model v1"


def test_checkout_and_merge_sync_the_data(hooked):
    hooked.git("checkout", "-q", "-b", "big")
    (hooked.path / "model.bin").write_text("v2 bigger\n")
    hooked.gen({"data": {"x.csv": "1,2\n"}})
    hooked.exp("add", "model.bin", "data")
    hooked.commit("bigger model and data")

    proc = run_git(hooked, "checkout", "main")
    assert proc.returncode == 0, proc.stderr
    assert hooked.read("model.bin") == "v1\n"
    assert not (hooked.path / "data").exists()  # recorded by big only: removed, safe in the cache
    assert "Removed data" in proc.stderr

    proc = run_git(hooked, "checkout", "big")
    assert hooked.read("model.bin") == "v2 bigger\n" and hooked.read("data/x.csv") == "1,2\n"

    run_git(hooked, "checkout", "-q", "main")
    proc = run_git(hooked, "merge", "-q", "big")
    assert proc.returncode == 0, proc.stderr
    assert hooked.read("model.bin") == "v2 bigger\n" and hooked.read("data/x.csv") == "1,2\n"


def test_local_data_edits_carry_over_a_new_branch_like_git_does(hooked):
    (hooked.path / "model.bin").write_text("work in progress\n")
    proc = run_git(hooked, "checkout", "-b", "try")
    assert proc.returncode == 0, proc.stderr
    assert hooked.read("model.bin") == "work in progress\n"


def test_data_added_but_not_committed_stays_across_a_branch_switch(hooked):
    hooked.gen({"fresh.csv": "new data\n"})
    hooked.exp("add", "fresh.csv")  # pointer and .gitignore left uncommitted
    proc = run_git(hooked, "checkout", "-b", "elsewhere")
    assert proc.returncode == 0, proc.stderr
    assert hooked.read("fresh.csv") == "new data\n"
    proc = run_git(hooked, "checkout", "main")
    assert hooked.read("fresh.csv") == "new data\n"


def test_a_file_checkout_and_a_rebase_do_not_sync(hooked):
    (hooked.path / "model.bin").unlink()
    hooked.git("checkout", "--", "README.md")  # flag 0: not a branch checkout
    assert not (hooked.path / "model.bin").exists()
    (hooked.path / ".git" / "rebase-merge").mkdir()
    proc = hooked.exp("hook", "post-checkout", hooked.head(), hooked.head(), "1")
    assert proc.stdout == "" and not (hooked.path / "model.bin").exists()
    (hooked.path / ".git" / "rebase-merge").rmdir()
    hooked.exp("hook", "post-checkout", "0" * 40, hooked.head(), "1")
    assert hooked.read("model.bin") == "v1\n"


def test_post_checkout_names_missing_data_and_still_succeeds(hooked):
    hooked.git("checkout", "-q", "-b", "other")
    (hooked.path / "model.bin").write_text("v2\n")
    hooked.exp("add", "model.bin")
    hooked.commit("v2")
    run_git(hooked, "checkout", "-q", "main")
    os.unlink(obj(hooked, sha(b"v2\n")))
    proc = run_git(hooked, "checkout", "other")
    assert proc.returncode == 0
    assert "model.bin: 1 object(s) missing from the cache" in proc.stderr
    assert "git exp fetch" in proc.stderr


def test_a_malicious_pointer_on_a_branch_is_refused_by_the_hook(hooked, tmp_path):
    hooked.git("checkout", "-q", "-b", "evil")
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, hooked.path / "stuff")
    hooked.git("add", "stuff")
    hooked.commit("a link")
    hooked.gen({"exp.lock": "schema: '1'\nstages:\n  s:\n    cmd: x\n    outs:\n"
                            f"    - path: stuff/model.bin\n      hash: {sha(b'v1' + bytes([10]))}\n"
                            "      size: 3\n"})
    hooked.commit("lock through the link")
    run_git(hooked, "checkout", "-q", "main")
    proc = run_git(hooked, "checkout", "evil")
    assert "refusing to follow the symlink 'stuff'" in proc.stderr
    assert os.listdir(outside) == []


def test_pre_push_passes_git_s_lines_to_both_hooks(hooked, tmp_path):
    remote = hooked.add_bare_remote(tmp_path / "remote.git")
    hooked.exp("install", "--uninstall")
    foreign_hook(hooked, "pre-push", 'cat > pushed.txt; echo "$1 $2" >> pushed.txt')
    hooked.exp("install")
    proc = run_git(hooked, "push", "-q", "origin", "main")
    assert proc.returncode == 0, proc.stderr
    pushed = hooked.read("pushed.txt").splitlines()
    assert pushed[0].startswith(f"refs/heads/main {hooked.head()} refs/heads/main ")
    assert pushed[1] == f"origin {remote}"


# -- without git-exp on PATH ----------------------------------------------------------

def _path_without_git_exp() -> str:
    keep = []
    for folder in os.environ["PATH"].split(os.pathsep):
        if not os.path.exists(os.path.join(folder, "git-exp")):
            keep.append(folder)
    return os.pathsep.join(keep)


def test_a_missing_binary_warns_after_checkout_and_stops_a_commit(hooked):
    env = {"PATH": _path_without_git_exp()}
    hooked.git("branch", "other")
    proc = run_git(hooked, "checkout", "other", env=env)
    assert proc.returncode == 0
    warnings = [l for l in proc.stderr.splitlines() if "git-exp is not on PATH" in l]
    assert len(warnings) == 1 and warnings[0].startswith("warning:")
    hooked.gen({"f.txt": "x"})
    hooked.git("add", "f.txt")
    proc = run_git(hooked, "commit", "-m", "blocked", env=env)
    assert proc.returncode == 1
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1
    assert "git-exp is not on PATH" in lines[0] and "rm '" in lines[0] and "pre-commit'" in lines[0]


# -- start-up budget -----------------------------------------------------------------

HEAVY = ("yaml", "colorama", "dulwich", "sqlite3", "json")


def test_hooks_with_nothing_to_do_import_nothing_heavy(committed):
    head = committed.head()
    for argv in (["hook", "post-checkout", head, head, "1"], ["hook", "pre-commit"],
                 ["hook", "post-merge", "0"]):
        mods = loaded_modules(committed.path, *argv)
        assert "git_exp.commands.hook" in mods  # it did run
        assert not {m for m in mods if m.split(".")[0] in HEAVY}, argv


# -- installed with pip ----------------------------------------------------------------

@pytest.mark.slow
def test_pip_install_ships_working_hooks(committed, tmp_path):
    """A non-editable `pip install` into a fresh venv: hooks come from <venv>/share."""
    venv = tmp_path / "venv"
    build = tmp_path / "src"
    shutil.copytree(ROOT, build, ignore=shutil.ignore_patterns(".git", "build", "*.egg-info", "bench",
                                                              "__pycache__", ".pytest_cache", "tools"))
    import pip
    pip_version = tuple(int(p) for p in pip.__version__.split(".")[:2])
    if pip_version >= (22, 3):  # --python: no pip of its own in the venv, seconds faster
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
        args = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python")]
    else:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        args = [str(venv / "bin" / "python"), "-m", "pip"]
    proc = subprocess.run(args + ["install", "-q", "--no-deps", "--no-warn-script-location", str(build)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    shutil.rmtree(build)  # the installed copy must not lean on a source tree
    assert (venv / "share" / "git-exp" / "hooks" / "post-checkout").is_file()
    env = {"PATH": f"{venv / 'bin'}{os.pathsep}{_path_without_git_exp()}"}
    proc = run_git(committed, "exp", "install", env=env)
    assert proc.returncode == 0, proc.stderr
    hook = (committed.path / ".git" / "hooks" / "post-checkout").read_text()
    assert hook == (venv / "share" / "git-exp" / "hooks" / "post-checkout").read_text()
    committed.gen({"model.bin": "v1\n"})
    assert run_git(committed, "exp", "add", "model.bin", env=env).returncode == 0
    committed.git("add", "-A")
    assert run_git(committed, "commit", "-q", "-m", "model", env=env).returncode == 0
    (committed.path / "model.bin").unlink()
    proc = run_git(committed, "checkout", "-b", "again", env=env)
    assert proc.returncode == 0, proc.stderr
    assert committed.read("model.bin") == "v1\n"
