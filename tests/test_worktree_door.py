"""The one door for writes into a work tree (git_exp/worktree_writes.py).

Two halves: the door itself on a real filesystem (what it refuses, that it
never follows a link, that a write is whole or absent), and a census of
every function in git_exp that writes to the filesystem, so that a new
writer cannot slip past the door unnoticed: it must write through
WorkTree, or be added to WRITERS below with where it writes and why that
is not the work tree.
"""
from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

from git_exp.errors import ExpError
from git_exp.relpaths import path_problem
from git_exp.worktree_writes import WorkTree, refuse_unsafe

ROOT = Path(__file__).resolve().parent.parent


# -- the rule on paths -----------------------------------------------------------------

@pytest.mark.parametrize("bad", ["", "/etc/passwd", "../up", "a/../../up", "a//b", "./a", "a/.",
                                 ".git", ".git/hooks/post-checkout", "sub/.GIT/config", "x/.Git",
                                 "nul\0byte"])
def test_the_rule_refuses(bad):
    assert path_problem(bad) is not None
    with pytest.raises(ExpError, match="refusing"):
        refuse_unsafe(bad)


@pytest.mark.parametrize("good", ["a", "a/b/c.txt", ".gitignore", ".github/workflows/ci.yml",
                                  "x.git", "git/.gitkeep", "dir with space/ü.bin"])
def test_the_rule_allows(good):
    assert path_problem(good) is None


# -- the door on a real filesystem ----------------------------------------------------------

@pytest.fixture
def wt(tmp_path) -> WorkTree:
    (tmp_path / "repo").mkdir()
    (tmp_path / "outside").mkdir()
    return WorkTree(str(tmp_path / "repo"))


def test_write_makes_parents_and_is_atomic(wt):
    wt.write("a/b/c.txt", b"hello")
    root = Path(wt.root)
    assert (root / "a" / "b" / "c.txt").read_bytes() == b"hello"
    wt.write("a/b/c.txt", b"again")
    assert (root / "a" / "b" / "c.txt").read_bytes() == b"again"
    assert sorted(os.listdir(root / "a" / "b")) == ["c.txt"]  # no temp file left


def test_no_write_goes_through_a_symlinked_folder(wt, tmp_path):
    outside = tmp_path / "outside"
    os.symlink(outside, Path(wt.root) / "lnk")
    for attempt in (lambda: wt.write("lnk/x", b"x"), lambda: wt.symlink("lnk/y", "/etc"),
                    lambda: wt.remove("lnk/z"), lambda: wt.mkdir("lnk/d"),
                    lambda: wt.place(str(tmp_path / "t"), "lnk/t")):
        with pytest.raises(ExpError, match="refusing to follow the symlink 'lnk'"):
            attempt()
    assert os.listdir(outside) == []


def test_place_removes_the_temp_file_it_refuses(wt, tmp_path):
    # Every writer (write, symlink, link_from_cache, checkout's small copies) relies on
    # this instead of its own clean-up: a refused place leaves no temp file behind.
    root = Path(wt.root)
    os.symlink(tmp_path / "outside", root / "lnk")
    (root / "folder").mkdir()
    for rel, refusal in (("lnk/t", "refusing to follow the symlink"), ("folder", "a folder is there")):
        temp = root / ".temp"
        temp.write_bytes(b"finished")
        with pytest.raises(ExpError, match=refusal):
            wt.place(str(temp), rel)
        assert not temp.exists()
    assert sorted(os.listdir(root)) == ["folder", "lnk"] and os.listdir(root / "folder") == []


def test_a_link_to_dot_git_is_not_a_way_in(wt):
    root = Path(wt.root)
    (root / ".git" / "hooks").mkdir(parents=True)
    os.symlink(".git", root / "lnk")
    with pytest.raises(ExpError):
        wt.write("lnk/hooks/post-checkout", b"#!/bin/sh\n", mode=0o755)
    assert os.listdir(root / ".git" / "hooks") == []


def test_a_link_at_the_path_itself_is_refused_swapped_or_unlinked_never_followed(wt, tmp_path):
    outside = tmp_path / "outside"
    (outside / "f").write_bytes(b"theirs")
    os.symlink(outside / "f", Path(wt.root) / "f")
    with pytest.raises(ExpError, match="symlink 'f'"):
        wt.path("f", "data path")
    wt.write("f", b"mine")  # a write swaps the link itself
    assert not os.path.islink(Path(wt.root) / "f") and (outside / "f").read_bytes() == b"theirs"
    os.symlink(outside, Path(wt.root) / "d")
    wt.remove("d")  # unlinks the link, leaves its target alone
    assert not os.path.lexists(Path(wt.root) / "d") and (outside / "f").exists()


def test_a_link_into_the_cache_may_stay(tmp_path):
    cache = tmp_path / "cache"
    (cache / "ab").mkdir(parents=True)
    (cache / "ab" / "obj").write_bytes(b"data")
    (tmp_path / "repo").mkdir()
    os.symlink(cache / "ab" / "obj", tmp_path / "repo" / "data")
    assert WorkTree(str(tmp_path / "repo"), str(cache)).path("data") == str(tmp_path / "repo" / "data")
    with pytest.raises(ExpError):
        WorkTree(str(tmp_path / "repo")).path("data")


def test_symlinks_are_made_as_links_and_folders_never_through_one(wt, tmp_path):
    wt.symlink("sub/link", "../target")
    assert os.readlink(Path(wt.root) / "sub" / "link") == "../target"
    (Path(wt.root) / "file").write_text("x")
    with pytest.raises(ExpError, match="'file' is a file, not a folder"):
        wt.write("file/inside", b"x")


def test_remove_of_a_folder_unlinks_the_links_inside(wt, tmp_path):
    outside = tmp_path / "outside"
    (outside / "keep").write_text("keep")
    (Path(wt.root) / "d").mkdir()
    os.symlink(outside, Path(wt.root) / "d" / "escape")
    wt.remove("d")
    assert (outside / "keep").read_text() == "keep"


# -- the census of writers -----------------------------------------------------------------

# Every function of git_exp that writes to the filesystem, and where. Anything
# that writes under a work tree must do it through WorkTree (worktree_writes);
# whole modules are allowed only for the door and its primitives.
_WHERE = {
    "the door itself, and its primitives (work-tree callers use WorkTree.link_from_cache)": (
        "git_exp.worktree_writes", "git_exp.data.links", "git_exp.atomic:write_atomic"),
    "inside .git (the repository's own state: cache, memos, logs, locks, queue), never the work tree": (
        "git_exp.data.cache:Cache._store_bytes", "git_exp.data.cache:Cache._store_file",
        "git_exp.data.cache:Cache._write_object",
        "git_exp.data.cache:Cache._make_folder",   # the objects' 2-hex folders
        "git_exp.data.cache:Cache.adopt",   # objects a transfer brought (remotes/transfer.py)
        "git_exp.data.cache:Cache.remove", "git_exp.data.cachefiles:discard", "git_exp.data.cachefiles:freshen",
        # '.*.tmp' files in the objects' folders: the cache's (gc) or a directory remote's (push)
        "git_exp.data.cachefiles:remove_stale_temps",
        "git_exp.worktree.access:_manifest", "git_exp.dvcimport.experiments:_tree",
        "git_exp.experiments.run:_undo_before_start", "git_exp.sharing.logs:_bounded_copy",
        "git_exp.sharing.logs:publish_local", "git_exp.sharing.logs:store_fetched",
        "git_exp.data.runcache:RunCache.record", "git_exp.data.state:StateMemo.__init__",
        "git_exp.data.state:StateMemo._delete_files", "git_exp.pathmap:write",
        "git_exp.experiments.manage:remove",
        "git_exp.experiments.run:run_experiment", "git_exp.experiments.runlock:RunLock.__enter__",
        "git_exp.experiments.repro:reproduce",   # its running log, <exp_dir>/logs/run-<pid>.log
        "git_exp.experiments.runlock:RunLock.__exit__", "git_exp.experiments.runlock:RunLock._holder",
        "git_exp.worktree.snapshot:_temp_index", "git_exp.worktree.snapshot:snapshot_tree",
        "git_exp.crashlog:write", "git_exp.queue.checkout:_worktrees_locked",
        "git_exp.queue.checkout:create", "git_exp.queue.enqueue:_commits", "git_exp.queue.enqueue:_write_blobs",
        "git_exp.queue.enqueue:enqueue", "git_exp.queue.executor:LocalExecutor.execute",
        "git_exp.queue.finish:_append", "git_exp.queue.finish:record_unrun", "git_exp.queue.recovery:_keep_log",
        "git_exp.queue.state:_unlink", "git_exp.queue.state:register_worker", "git_exp.queue.state:request_kill",
        "git_exp.queue.state:request_stop", "git_exp.queue.state:write_state",
        "git_exp.queue.worker:_prune_worker_logs", "git_exp.queue.worker:spawn",
        "git_exp.distributed.dispatch:_discard",
        "git_exp.distributed.dispatch:_log", "git_exp.queue.records:remove",
        "git_exp.queue.records:write", "git_exp.distributed.slurm:SlurmEngine.submit",
        "git_exp.distributed.start:start", "git_exp.distributed.worker:_exec",
        "git_exp.queue.home:keep_log", "git_exp.distributed.worker:_log_blob",
        "git_exp.remotes.transfer:_discard",
        "git_exp.show.memo:Memo.save",
        "git_exp.show.outmemo:OutputMemo._prune", "git_exp.show.outmemo:OutputMemo.put",
        "git_exp.show.workmemo:WorkspaceMemo.put",
        "git_exp.experiments.noopmemo:Guard.remember", "git_exp.experiments.noopmemo:_stamp",
        "git_exp.ui.editor:edit_text"),   # <exp_dir>/NOTE_EDITMSG, as `git commit` edits COMMIT_EDITMSG
    "apply's staging folder <git dir>/exp-apply.<pid>; the files reach the work tree through WorkTree.place": (
        "git_exp.experiments.apply:_write_files", "git_exp.experiments.apply:_staging_folder"),
    "checkout's own new folder '.<data path>.<random>.tmp', beside a data path that WorkTree.make_parents "
    "checked, filled (manifest paths checked by relpaths.path_problem) and renamed into place whole; "
    "a file replaced in place is written under a temporary name there and moved by WorkTree.place": (
        "git_exp.data.cache_checkout:Checkout._write_fresh_dir", "git_exp.data.cache_checkout:Checkout._fill",
        "git_exp.data.cache_checkout:Checkout._put_file", "git_exp.data.cachefiles:write_new"),
    "a temporary checkout or clone of git-exp's own (git worktree add, mkdtemp), removed whole": (
        "git_exp.queue.checkout:remove", "git_exp.distributed.worker:exec_entry",
        "git_exp.distributed.lifeline:_remove_after_exit",
        # `git exp get/ls`: a bare partial clone under ~/.cache/git-exp (or TMPDIR)
        "git_exp.sharing.foreign:temp_base", "git_exp.sharing.foreign:Foreign.__enter__",
        "git_exp.sharing.foreign:Foreign.close"),
    "a directory data remote: another repository's cache, not a work tree": (
        "git_exp.remotes.base:_publish", "git_exp.remotes.base:write_verified"),
    "the user's own stage writing its outputs: git_exp.live is a library their training script calls": (
        "git_exp.live:Live.__init__", "git_exp.live:_remove_file", "git_exp.live:_write_atomic"),
    "not a write: git_exp.api's own open(), which refuses every mode but reading": (
        "git_exp.api:read",),
    "what the user named on the command line, by commands that exist to write it": (
        "git_exp.cli:_silence_stdout",            # /dev/null
        "git_exp.hooks:install", "git_exp.hooks:uninstall",  # the hooks folder, `git exp install`
        "git_exp.manpage:write_all",              # man/ of the source tree, a developer tool
        # -S edits of the user's params files (_inside): every file or none, so all the temp
        # files are written before the first rename - atomic.write_atomic does one file at a time
        "git_exp.params.edit:_write_all",
        "git_exp.plots.output:prepare",           # the -o folder; the files in it go through WorkTree
        "git_exp.scaffold:apply_plan",            # `git exp init`: exp.yaml of the user's repository
        "git_exp.scaffold_example:_copy_example", "git_exp.scaffold_example:create_example",  # a new example folder
        # `git exp get -o OUT`: a fresh hidden staging name beside OUT, renamed into place; the
        # paths inside come from another repository, checked (check_relpath), symlinks never made
        "git_exp.sharing.foreign_files:get", "git_exp.sharing.foreign_files:_publish",
        "git_exp.sharing.foreign_files:_remove", "git_exp.sharing.foreign_files:_write",
        "git_exp.sharing.foreign_files:_finish", "git_exp.sharing.foreign:Foreign.blob_to",
        "git_exp.git.catfile:CatFile.copy_blob"),   # the new file Foreign.blobs_to names (as above)
}
WRITERS = {name: why for why, names in _WHERE.items() for name in names}

_OS = {"replace", "rename", "renames", "unlink", "remove", "rmdir", "removedirs", "mkdir", "makedirs",
       "symlink", "link", "chmod", "lchmod", "chown", "truncate", "mkfifo", "utime"}
_SHUTIL = {"rmtree", "copy", "copy2", "copyfile", "copytree", "move", "copymode", "copystat"}
_HELPERS = {"write_atomic", "materialize", "link_to_temp", "mkstemp", "mkdtemp", "write_text", "write_bytes"}


def _writes(call: ast.Call) -> str | None:
    """The name of the write CALL makes, or None when it writes nothing."""
    func = call.func
    if isinstance(func, ast.Attribute):
        base = func.value.id if isinstance(func.value, ast.Name) else None
        if base == "os" and func.attr in _OS:
            return f"os.{func.attr}"
        if base == "os" and func.attr == "open" and len(call.args) > 1:
            if any(flag in ast.unparse(call.args[1]) for flag in ("O_WRONLY", "O_RDWR", "O_CREAT")):
                return "os.open"
        if base == "shutil" and func.attr in _SHUTIL:
            return f"shutil.{func.attr}"
        if func.attr in _HELPERS:
            return func.attr
    if isinstance(func, ast.Name):
        if func.id in _HELPERS:
            return func.id
        if func.id == "open":
            mode = call.args[1] if len(call.args) > 1 else \
                next((k.value for k in call.keywords if k.arg == "mode"), None)
            if mode is not None and (not isinstance(mode, ast.Constant) or set(mode.value) & set("wxa+")):
                return "open"
    return None


def writers() -> dict[str, set[str]]:
    """'module:Qualified.function' -> the writes it makes, for every module of git_exp."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / "git_exp").rglob("*.py")):
        if "example" in path.parts:
            continue  # the example project's own scripts
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)

        _visit(ast.parse(path.read_text(encoding="utf-8")), module, [], found)
    return found


def _visit(node, module: str, stack: list[str], found: dict) -> None:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            _visit(child, module, stack + [child.name], found)
            continue
        if isinstance(child, ast.Call) and _writes(child):
            found.setdefault(f"{module}:{'.'.join(stack) or '<module>'}", set()).add(_writes(child))
        _visit(child, module, stack, found)


def _allowed(writer: str) -> str | None:
    module = writer.partition(":")[0]
    return next((key for key in (writer, module) if key in WRITERS), None)


def test_every_writer_goes_through_the_door_or_says_where_it_writes():
    found = writers()
    unknown = sorted(f"{w} ({', '.join(sorted(calls))})" for w, calls in found.items() if _allowed(w) is None)
    assert not unknown, (
        "these functions write files without the work-tree door:\n  " + "\n  ".join(unknown)
        + "\nwrite under a work tree through git_exp.worktree_writes.WorkTree; anything else "
          "(under .git, a temporary folder) goes into WRITERS in tests/test_worktree_door.py with where")
    used = {_allowed(w) for w in found}
    stale = sorted(set(WRITERS) - used)
    assert not stale, f"WRITERS names writers that no longer exist: {stale}"


def test_the_census_sees_the_writes_it_must_see(tmp_path):
    """The scanner itself: each kind of write is found (a census that finds nothing proves nothing)."""
    source = ("import os, shutil\n"
              "def a(p):\n    os.replace(p, p)\n"
              "def b(p):\n    shutil.rmtree(p)\n"
              "def c(p):\n    open(p, 'w')\n"
              "def d(p):\n    os.unlink(p)\n"
              "def e(p):\n    open(p)\n"
              "def f(p):\n    os.open(p, os.O_WRONLY | os.O_CREAT)\n")
    calls = [node for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Call)]
    assert [_writes(c) for c in calls if _writes(c)] == ["os.replace", "shutil.rmtree", "open",
                                                          "os.unlink", "os.open"]
    found = writers()
    assert "git_exp.worktree_writes:WorkTree.place" in found
    assert "os.replace" in found["git_exp.worktree_writes:WorkTree.place"]
