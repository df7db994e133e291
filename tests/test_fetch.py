"""A fresh clone gets its data: `git exp fetch`, and checkout, the hooks and apply fetching it.

A real bare repository is `origin`; with nothing configured its data lives
in `<bare>/exp/cache` (the directory data remote). The source project
pushes with the hooks installed, so Git's own `git push` uploads the data;
clones are made with `git clone` and checked with `git fsck`.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Project, copy_of_template, loaded_modules

TRAIN = """\
import os, re
lr = float(re.search(r"lr: *([0-9.e-]+)", open("params.yaml").read()).group(1))
os.makedirs("models", exist_ok=True)
open("models/weights.bin", "w").write(f"weights {lr} from {open('data/rows.txt').read().split()}\\n")
open("metrics.json", "w").write('{"loss": %s}' % (1 - lr))
"""

PIPELINE = """\
stages:
  train:
    cmd: python3 train.py
    deps: [train.py, data]
    params: [train.lr]
    outs: [models]
    metrics:
      - metrics.json:
          cache: false
"""

def _build(p: Project) -> None:
    """main: pointer-tracked data/ and a pipeline run; branch other: other data; one experiment."""
    p.gen({"train.py": TRAIN, "params.yaml": "train:\n  lr: 0.1\n", "exp.yaml": PIPELINE,
           "data": {"rows.txt": "1 2 3\n"}, "big.bin": b"\x00big\x01" * 100})
    p.exp("add", "data", "big.bin")
    p.commit("pipeline and data")
    p.exp("run", "-n", "base")
    p.commit("its outs, in exp.lock")
    p.git("checkout", "-q", "-b", "other")
    p.gen({"data": {"rows.txt": "4 5 6 7\n", "more.txt": "more\n"}})
    p.exp("add", "data")
    p.commit("other data")
    p.git("checkout", "-q", "main")
    p.exp("checkout")
    p.exp("run", "-S", "train.lr=0.5", "-n", "half")


@pytest.fixture
def source(tmp_path, tmp_path_factory) -> Project:
    """The template's copy, with hooks, pushed (branches and data) to a bare `origin`."""
    p = copy_of_template("fetch", _build, tmp_path_factory, tmp_path / "source")
    p.exp("install")
    # The pre-push hook sends the data first.
    p.remote = p.add_bare_remote(tmp_path / "origin.git", push=("main", "other"))
    return p


def fresh_clone(source: Project, dest: Path) -> Project:
    subprocess.run(["git", "clone", "-q", str(source.remote), str(dest)], check=True,
                   capture_output=True)
    return Project(dest)


def cache_objects(project: Project) -> set[str]:
    git_dir = project.path / ".git" if (project.path / ".git").is_dir() else project.path
    base = git_dir / "exp" / "cache" / "files" / "sha256"
    return {f.parent.name + f.name for f in base.rglob("*") if f.is_file()} if base.exists() else set()


def test_clone_install_checkout_brings_the_data(source, tmp_path):
    """The README's recipe, exactly: git clone URL && cd REPO && git exp install && git exp checkout."""
    script = (f"git clone -q {source.remote} fresh && cd fresh && git exp install >/dev/null "
              "&& git exp checkout")
    proc = subprocess.run(["sh", "-c", script], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    clone = Project(tmp_path / "fresh")
    assert clone.read("data/rows.txt") == "1 2 3\n"
    assert (clone.path / "big.bin").read_bytes() == b"\x00big\x01" * 100
    assert clone.read("models/weights.bin") == "weights 0.1 from ['1', '2', '3']\n"
    assert "Checked out data." in proc.stdout and "Checked out models." in proc.stdout
    assert "fetched 5 data objects" in proc.stderr and str(source.remote) in proc.stderr
    clone.fsck()
    assert clone.exp("status").returncode == 0
    again = clone.exp("checkout")
    assert "fetched" not in again.stderr and "Data is up to date." in again.stderr


def test_fresh_clone_git_checkout_of_a_branch_brings_its_data(source, tmp_path):
    clone = fresh_clone(source, tmp_path / "fresh")
    clone.exp("install")
    proc = subprocess.run(["git", "checkout", "other"], cwd=clone.path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert clone.read("data/rows.txt") == "4 5 6 7\n"
    assert clone.read("data/more.txt") == "more\n"
    assert "git-exp: fetched" in proc.stderr
    # Back on main (data missing too: the clone never checked it out), then models/ as well.
    clone.git("checkout", "-q", "main")
    assert clone.read("data/rows.txt") == "1 2 3\n"
    assert clone.read("models/weights.bin").startswith("weights 0.1")


def test_git_exp_fetch_head_then_all(source, tmp_path):
    source.exp("push", "origin", "half")
    clone = fresh_clone(source, tmp_path / "fresh")
    proc = clone.exp("fetch")
    assert "Received 5 data objects" in proc.stdout
    main_objects = cache_objects(clone)
    assert len(main_objects) == 5
    assert not (clone.path / "data").exists()   # the work tree is not touched
    assert "Data is up to date" in clone.exp("fetch", "origin").stdout
    # -A: branch other (remote-tracking) and the experiment, once its ref is here.
    clone.exp("pull", "--no-data", "-A", "origin")
    proc = clone.exp("fetch", "-A", "-j", "2")
    assert "Received" in proc.stdout
    everything = cache_objects(clone)
    assert main_objects < everything
    # Everything pushed (main, other, the experiment) and nothing else.
    assert everything == cache_objects(Project(source.remote))
    assert "Data is up to date" in clone.exp("fetch", "-A").stdout
    clone.fsck()


def test_fetch_names_what_the_data_remote_lacks(source, tmp_path):
    clone = fresh_clone(source, tmp_path / "fresh")
    data_dir = source.remote / "exp" / "cache" / "files" / "sha256"
    # Lose big.bin's object on the remote.
    big = (source.path / "big.bin.exp").read_text()
    digest = next(line.split()[-1] for line in big.splitlines() if "hash" in line)
    digest = digest.strip("'\"")
    (data_dir / digest[:2] / digest[2:]).unlink()
    proc = clone.exp("fetch", check=False)
    assert proc.returncode == 1
    assert "1 data object is not on the data remote" in proc.stderr
    assert "HEAD: big.bin" in proc.stderr
    assert (clone.path / ".git" / "exp" / "cache").exists() and len(cache_objects(clone)) == 4


def test_auto_fetch_can_be_turned_off(source, tmp_path):
    clone = fresh_clone(source, tmp_path / "fresh")
    clone.git("config", "exp.fetch.auto", "false")
    proc = clone.exp("checkout", check=False)
    assert proc.returncode == 1
    assert "not in the cache" in proc.stderr and "git exp fetch" in proc.stderr
    assert cache_objects(clone) == set()
    clone.git("config", "exp.fetch.auto", "true")
    clone.exp("checkout")
    assert clone.read("data/rows.txt") == "1 2 3\n"


def test_a_hook_that_cannot_reach_the_data_remote_warns_and_lets_checkout_succeed(source, tmp_path):
    clone = fresh_clone(source, tmp_path / "fresh")
    clone.exp("install")
    clone.git("branch", "-q", "other", "origin/other")
    source.remote.rename(tmp_path / "gone.git")   # the server is away
    proc = subprocess.run(["git", "checkout", "other"], cwd=clone.path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert clone.git("rev-parse", "--abbrev-ref", "HEAD").strip() == "other"
    assert "warning: git-exp: could not fetch the missing data from the data remote of 'origin'" \
        in proc.stderr
    assert "hint: once it is reachable: git exp checkout" in proc.stderr
    assert "Traceback" not in proc.stderr
    # Back online: checkout brings it.
    (tmp_path / "gone.git").rename(source.remote)
    clone.exp("checkout")
    assert clone.read("data/more.txt") == "more\n"


def test_apply_fetches_the_experiment_data(source, tmp_path):
    source.exp("push", "origin", "half")
    clone = fresh_clone(source, tmp_path / "fresh")
    clone.exp("pull", "--no-data", "origin", "half")
    assert cache_objects(clone) == set()
    proc = clone.exp("apply", "half")
    assert "fetched" in proc.stderr
    assert clone.read("models/weights.bin") == "weights 0.5 from ['1', '2', '3']\n"
    assert clone.read("data/rows.txt") == "1 2 3\n"


def test_fetch_follows_the_branch_upstream(source, tmp_path):
    clone = fresh_clone(source, tmp_path / "fresh")
    # A second remote, the upstream of main; origin is renamed away from the default.
    clone.git("remote", "rename", "origin", "upstream")
    assert clone.git("config", "branch.main.remote").strip() == "upstream"
    proc = clone.exp("fetch")
    assert "Received 5 data objects" in proc.stdout
    proc = clone.exp("fetch", "nowhere", check=False)
    assert proc.returncode == 1 and "error:" in proc.stderr and "Traceback" not in proc.stderr


def test_no_remote_is_a_clear_error(committed):
    proc = committed.exp("fetch", check=False)
    assert proc.returncode == 1
    assert "no Git remote to fetch data from" in proc.stderr
    assert "hint: add one" in proc.stderr


def test_a_hook_with_all_data_present_imports_no_transfer_code(source, tmp_path):
    clone = fresh_clone(source, tmp_path / "fresh")
    clone.exp("checkout")
    head = clone.head()
    clone.git("checkout", "-q", "-b", "copy")
    for argv in (["hook", "post-checkout", head, head, "1"], ["hook", "post-checkout", "0" * 40, head, "1"],
                 ["hook", "post-merge", "0"]):
        mods = loaded_modules(clone.path, *argv)
        assert "git_exp.commands.hook" in mods
        network = {"git_exp.remotes." + m for m in ("fetch", "transfer", "location", "base", "needs")}
        assert not network & mods, argv
        assert not {m for m in mods if m.startswith("git_exp.sharing")}, argv


def test_fetch_all_skips_a_branch_with_a_malformed_record_and_fetches_the_rest(source, tmp_path):
    source.git("checkout", "-q", "-b", "broken")
    source.gen({"junk.exp": "# git-exp data pointer: the data is in the cache (git exp checkout)\n"
                            "hash: not-a-hash\nsize: -1\n"})
    source.git("add", "junk.exp")
    source.git("commit", "-q", "--no-verify", "-m", "a malformed pointer")
    source.git("push", "-q", "--no-verify", "origin", "broken")
    clone = fresh_clone(source, tmp_path / "fresh")
    proc = clone.exp("fetch", "-A")
    assert "warning: skipped branch 'origin/broken': " in proc.stderr and "junk.exp" in proc.stderr
    assert "Received" in proc.stdout
    clone.git("checkout", "-q", "other")   # no hooks here; the data is already in the cache
    clone.exp("checkout")
    assert clone.read("data/more.txt") == "more\n"


def _drew(label: str, shown: str) -> bool:
    """Whether the terminal showed LABEL's progress line, finished."""
    return bool(re.search(re.escape(label) + r": 100% \((\d+)/\1\), [0-9.]+ (bytes|KiB)( \| [0-9.]+ \S+/s)?, done\.",
                          shown))


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_fetching_on_demand_draws_its_progress_line_on_a_terminal(source, tmp_path):
    """checkout, the post-checkout hook and apply hand their progress line down to the fetch."""
    from tests.test_pty_progress import run_on_terminal
    clone = fresh_clone(source, tmp_path / "fresh")
    code, _, shown = run_on_terminal(clone, "checkout")
    assert code == 0 and _drew("Fetching data", shown), shown
    clone.git("checkout", "-q", "other")   # no hooks installed: the hook is run by hand below
    code, _, shown = run_on_terminal(clone, "hook", "post-checkout", "0" * 40, clone.head(), "1")
    assert code == 0 and _drew("git-exp: fetching data", shown), shown
    assert clone.read("data/more.txt") == "more\n"
    code, _, shown = run_on_terminal(clone, "checkout")
    assert code == 0 and "etching" not in shown   # nothing missing: no line at all
    source.exp("push", "origin", "half")
    clone.git("checkout", "-q", "main")
    clone.exp("checkout")
    clone.exp("pull", "--no-data", "origin", "half")
    code, _, shown = run_on_terminal(clone, "apply", "half")
    assert code == 0 and _drew("Fetching data", shown), shown
