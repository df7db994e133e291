"""Start-up budget: `git exp` runs from hooks on every commit and checkout.

Checked by which modules get loaded, not by timing, so it cannot flake and
cannot silently rot.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, Project
from tests.test_show_outmemo import warm  # noqa: F401 - a fixture: show's text stored

HEAVY = ("yaml", "colorama", "dulwich", "sqlite3", "json", "tomllib", "tomli", "argparse")
# What no command needs merely to start, nor the hooks, the no-op run or a warm show:
# git is started with os.posix_spawn (git/run.py), the terminal's size read with os.
STARTUP_NEVER = ("subprocess", "contextlib", "shutil")


def loaded_modules(*argv: str, cwd: Path | None = None, stdin: str = "") -> set[str]:
    # Only what git-exp loads: the interpreter's own start-up is left out, and no
    # site-packages .pth file runs (an editable install's finder loads contextlib
    # and re, which would hide whether git-exp loads them).
    code = (
        "import sys, site\n"
        "sys.path.extend(site.getsitepackages())\n"   # run with -S: no .pth file runs
        "before = set(sys.modules)\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        f"sys.argv = ['git-exp', *{list(argv)!r}]\n"
        "from git_exp.cli import main\n"
        "import io\n"   # (not contextlib.redirect_stdout: contextlib is on the list of what not to load)
        "real, sys.stdout = sys.stdout, io.StringIO()\n"
        "try:\n"
        "    code = main()\n"
        "finally:\n"
        "    sys.stdout = real\n"
        "print(code)\n"
        "print('\\n'.join(sorted(set(sys.modules) - before)))\n")
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                         check=True, cwd=cwd, input=stdin)
    status, *mods = out.stdout.split()
    assert status in ("0", "None"), out.stderr   # the command did its job: not an error path
    return set(mods)


def test_version_imports_nothing_heavy():
    mods = loaded_modules("--version")
    assert not {m for m in mods if m.split(".")[0] in HEAVY}
    # Not even the command registry: the answer needs only the version.
    assert {m for m in mods if m.startswith("git_exp")} == {"git_exp", "git_exp.cli", "git_exp.errors"}
    assert not mods & set(STARTUP_NEVER)


def test_overview_imports_no_command_module():
    mods = loaded_modules("-h")
    assert not {m for m in mods if m.startswith("git_exp.commands.")}
    assert not {m for m in mods if m.split(".")[0] in HEAVY}


# -- the hooks: Git runs them on every commit, checkout, merge and push -----------------------

# Git's plain hook arguments are taken without argparse (commands/hook.py answer_early).
HOOK_HEAVY = HEAVY
# What no hook with nothing (or only code) to do needs: running pipelines,
# reading experiments for show, the queue, and the Git door's commit writers.
HOOK_NEVER = ("git_exp.pipeline", "git_exp.show", "git_exp.queue", "git_exp.distributed",
              "git_exp.plots", "git_exp.params", "git_exp.web", "git_exp.dvcimport")


@pytest.fixture
def hooked(committed: Project, tmp_path: Path) -> Project:
    """Hooks installed, data tracked and pushed to origin's data remote, then a code-only commit."""
    committed.exp("install")
    (tmp_path / "data-remote").mkdir()
    subprocess.run(["git", "init", "-q", "--bare", str(tmp_path / "origin.git")], check=True)
    committed.git("remote", "add", "origin", str(tmp_path / "origin.git"))
    committed.git("config", "remote.origin.expdata", str(tmp_path / "data-remote"))
    committed.gen({"data.txt": "data\n"})
    committed.exp("add", "data.txt")
    committed.commit("data")
    committed.git("push", "-q", "origin", "main")     # the pre-push hook sends data.txt
    committed.gen({"README.md": "more\n"})
    committed.commit("code only")
    return committed


def _light(mods: set[str], allowed: tuple = ()) -> list[str]:
    heavy = {m for m in mods if m.split(".")[0] in HOOK_HEAVY and m.split(".")[0] not in allowed}
    never = {m for m in mods if m.startswith(HOOK_NEVER)}
    return sorted(heavy | never)


def test_post_checkout_and_post_merge_import_nothing_heavy(hooked):
    old, new = hooked.git("rev-parse", "HEAD~1", "HEAD").split()
    mods = loaded_modules("hook", "post-checkout", old, new, "1", cwd=hooked.path)
    assert _light(mods) == []
    assert "git_exp.git.commits" not in mods and "git_exp.sharing.transfer" not in mods
    # Nor dataclasses (inspect, ast, contextlib) or typing: records there are plain classes.
    assert not mods & {*STARTUP_NEVER, "dataclasses", "typing", "argparse"}
    hooked.git("update-ref", "ORIG_HEAD", old)
    mods = loaded_modules("hook", "post-merge", "0", cwd=hooked.path)
    assert _light(mods) == [] and not mods & {*STARTUP_NEVER, "dataclasses", "typing", "argparse"}


def test_pre_commit_imports_nothing_heavy(hooked):
    hooked.gen({"README.md": "staged\n"})
    hooked.git("add", "README.md")
    mods = loaded_modules("hook", "pre-commit", cwd=hooked.path)
    # sqlite3: the stat memo (data/state.py) tells an unchanged data file
    # from an edited one without hashing it.
    assert _light(mods, allowed=("sqlite3",)) == []
    assert not {m for m in mods if m.startswith(("git_exp.sharing", "git_exp.experiments"))}
    # Nor shutil (with bz2 and lzma), tempfile, random, or typing and with it contextlib:
    # imported only where a folder is removed or copied, annotations under TYPE_CHECKING.
    assert not mods & {"subprocess", "dataclasses", "argparse", "shutil", "tempfile", "random",
                       "typing", "contextlib"}


def test_pre_push_of_code_only_imports_nothing_heavy(hooked):
    old = hooked.git("rev-parse", "origin/main").strip()
    new = hooked.head()
    mods = loaded_modules("hook", "pre-push", "origin", str(hooked.path.parent / "origin.git"),
                          cwd=hooked.path, stdin=f"refs/heads/main {new} refs/heads/main {old}\n")
    assert _light(mods) == []


# -- the no-op run and a warm show: what users run again and again ---------------------------

NOOP_PIPELINE = """\
stages:
  train:
    cmd: python3 -c "open('out.txt','w').write(open('params.yaml').read())"
    params: [lr]
    outs: [out.txt]
"""


def test_a_noop_run_starts_git_without_subprocess(committed):
    committed.gen({"exp.yaml": NOOP_PIPELINE, "params.yaml": "lr: 0.1\n"})
    committed.commit("pipeline")
    committed.exp("run")
    committed.exp("run")      # a no-op now, and remembered as one
    mods = loaded_modules("run", cwd=committed.path)
    assert "git_exp.pipeline.runner" not in mods   # it was a no-op: no stage started
    assert not mods & set(STARTUP_NEVER)
    # Answered before argparse; a short status is compared as text, without hashlib.
    assert not mods & {"argparse", "hashlib", "yaml"}
    # With an option the same memo answers after argparse, and a change still runs.
    assert "Nothing changed" in committed.exp("run", "-v").stdout
    (committed.path / "params.yaml").write_text("lr: 0.2\n")
    assert "git_exp.pipeline.runner" in loaded_modules("run", cwd=committed.path)
    assert committed.read("out.txt") == "lr: 0.2\n"


def test_a_warm_show_answers_before_argparse_and_reads_no_json(warm):
    mods = loaded_modules("show", cwd=warm.path)
    assert "git_exp.show.view" not in mods      # answered by the output memo
    # argparse (with re, gettext, locale) and json (with re) were a third of a warm show.
    assert not mods & {*STARTUP_NEVER, "argparse", "json", "re", "yaml"}
    # Options go through the same memo (keyed on the arguments as given).
    assert "git_exp.show.view" in loaded_modules("show", "--sha", cwd=warm.path)
    mods = loaded_modules("show", "--sha", cwd=warm.path)
    assert "git_exp.show.view" not in mods and "argparse" not in mods


def test_hook_arguments_that_are_not_plain_still_go_through_argparse(committed):
    # Plain arguments (what Git passes) skip argparse; the rest is parsed as before.
    proc = committed.exp("hook", "post-chekout", "a", check=False)
    assert proc.returncode == 129 and "invalid choice: 'post-chekout'" in proc.stderr
    proc = committed.exp("hook", "pre-commit", "-h")
    assert proc.stdout.startswith("usage: git exp hook")
    assert committed.exp("hook", "-q", "pre-commit").returncode == 0
    proc = committed.exp("hook", "post-checkout", "abc", check=False)
    assert proc.returncode == 129 and "takes 3 arguments" in proc.stderr   # plain: checked by run()
