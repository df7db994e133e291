"""show's output memo: a warm show prints the text it stored, and only while nothing changed.

Each test first makes the memo answer (files settled past the racy window,
show run until the stored text is used), then proves it is the memo that
answers by planting a marker in the stored text, then changes one thing a
user can change and checks the planted text is no longer printed.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from git_exp.experiments.runlock import lock_path
from git_exp.repo import discover
from git_exp.show import outmemo
from tests.test_show import at, commit_at, make_exp, metrics, params, show
from tests.test_show_workmemo import settle

MARK = "PLANTED-BY-THE-TEST"


@pytest.fixture
def warm(project):
    """main with a pipeline and two experiments, its files settled; show has stored its text."""
    project.gen({"exp.yaml": "stages:\n  train:\n    cmd: python3 train.py\n    params: [train.lr]\n"
                             "    metrics:\n      - metrics.json:\n          cache: false\n",
                 "params.yaml": params(0.1), "metrics.json": metrics(0.5)})
    commit_at(project, "pipeline", 0)
    settle(project, "exp.yaml", "params.yaml", "metrics.json")
    make_exp(project, "bold-otter", {"params.yaml": params(0.2), "metrics.json": metrics(0.7)},
             date=at(10))
    make_exp(project, "calm-fox", {"params.yaml": params(0.05), "metrics.json": metrics(0.9)},
             date=at(20))
    for _ in range(2):   # the first stores the workspace memo, the second the text
        show(project)
        show(project, "--json")
    return project


def memo_files(project) -> list[str]:
    folder = os.path.join(discover(str(project.path)).exp_dir, "memo", f"show-v{outmemo.VERSION}")
    return [os.path.join(folder, n) for n in sorted(os.listdir(folder))] if os.path.isdir(folder) else []


def plant(project) -> None:
    """Put MARK into every stored text: a show that prints it was answered by the memo."""
    files = memo_files(project)
    assert files, "show stored no text"
    for path in files:
        with open(path, "rb") as fh:
            data = fh.read()
        # The text comes last, after the header line, the key and the warnings.
        end = data.index(b"\n", len(outmemo.MAGIC))
        key_size, _, warnings_size = (int(f) for f in data[len(outmemo.MAGIC):end].split())
        text_at = end + 1 + key_size + warnings_size
        with open(path, "wb") as fh:
            fh.write(data[:text_at] + data[text_at:].replace(b"bold-otter", MARK.encode()))


def test_a_warm_show_prints_the_stored_text(warm):
    expected = show(warm).stdout
    assert "bold-otter" in expected
    plant(warm)
    assert MARK in show(warm).stdout
    assert MARK in show(warm, "--json").stdout
    # Another request (other options) is not answered by their text.
    assert MARK not in show(warm, "--csv").stdout


def test_a_new_moved_or_deleted_experiment_is_seen(warm):
    plant(warm)
    sha = make_exp(warm, "dry-cat", {"metrics.json": metrics(0.95)}, date=at(30))
    out = show(warm).stdout
    assert MARK not in out and "[dry-cat]" in out and "[bold-otter]" in out
    plant(warm)
    assert MARK in show(warm).stdout
    base = warm.head()
    warm.git("update-ref", "-d", f"refs/exps/{base}/dry-cat", sha)
    out = show(warm).stdout
    assert MARK not in out and "[dry-cat]" not in out


def test_a_note_or_tag_is_seen(warm):
    plant(warm)
    warm.exp("note", "calm-fox", "the one to keep")
    out = show(warm).stdout
    assert MARK not in out and "the one to keep" in out
    plant(warm)
    warm.exp("tag", "calm-fox", "best")
    out = show(warm).stdout
    assert MARK not in out and "#best" in out


def test_a_branch_a_tag_or_a_new_head_is_seen(warm):
    plant(warm)
    warm.git("branch", "other")
    out = show(warm).stdout
    assert MARK not in out and "main, other" in out
    plant(warm)
    warm.git("checkout", "-q", "--detach")
    assert MARK not in show(warm).stdout
    plant(warm)
    warm.gen({"README.md": "x\n"})
    commit_at(warm, "next", 40)
    out = show(warm).stdout
    assert MARK not in out and "bold-otter" not in out   # HEAD's experiments: none yet


def test_a_changed_params_file_in_the_work_tree_is_seen(warm):
    plant(warm)
    (warm.path / "params.yaml").write_text(params(0.3))
    out = show(warm).stdout
    assert MARK not in out and "0.3" in out.splitlines()[2].split()


def test_a_rewrite_keeping_size_and_mtime_is_seen(warm):
    plant(warm)
    before = os.stat(warm.path / "params.yaml")
    (warm.path / "params.yaml").write_text(params(0.7))   # same size
    os.utime(warm.path / "params.yaml", ns=(before.st_atime_ns, before.st_mtime_ns))
    out = show(warm).stdout
    assert MARK not in out and "0.7" in out.splitlines()[2].split()


def test_a_run_going_or_a_queue_entry_turns_the_memo_off(warm):
    plant(warm)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock = lock_path(str(warm.path / ".git"))
        with open(lock, "w") as fh:
            json.dump({"pid": sleeper.pid, "host": None, "name": "busy-bee",
                       "started": "2024-01-02T11:00:00+0000"}, fh)
        out = show(warm).stdout
        assert MARK not in out and "[busy-bee]" in out
    finally:
        sleeper.kill()
        sleeper.wait()
        os.unlink(lock)


def test_the_memo_names_the_run_lock_as_runlock_does(warm):
    repo = discover(str(warm.path))
    assert outmemo._lock_path(repo) == lock_path(repo.git_dir)


def test_colour_and_width_are_part_of_the_request(warm):
    plain = show(warm).stdout
    plant(warm)
    coloured = warm.exp("--color=always", "show")
    assert MARK not in coloured.stdout and "\x1b[" in coloured.stdout
    assert "\x1b[" not in plain


@pytest.mark.parametrize("garbage", [b"", b"not a memo", outmemo.MAGIC,
                                     outmemo.MAGIC + b"99999999999999999999 0 0\n",
                                     outmemo.MAGIC + b"3 0 2\nabc[]text",
                                     outmemo.MAGIC + b"-1 0 0\n", b"\xff" * 5000])
def test_a_corrupt_or_foreign_memo_is_a_miss(warm, garbage):
    expected = show(warm).stdout
    for path in memo_files(warm):
        with open(path, "wb") as fh:
            fh.write(garbage)
    proc = show(warm)
    assert proc.stdout == expected and proc.stderr == ""
    show(warm, "--json")
    plant(warm)   # and it was written again
    assert MARK in show(warm).stdout


def test_a_truncated_memo_is_a_miss(warm):
    expected = show(warm).stdout
    for path in memo_files(warm):
        with open(path, "rb") as fh:
            data = fh.read()
        with open(path, "wb") as fh:
            fh.write(data[:len(data) // 2])
    assert show(warm).stdout == expected


def test_requests_kept_are_bounded(warm):
    for precision in range(outmemo.MAX_FILES + 4):
        show(warm, "--precision", str(precision))
        time.sleep(0.01)
    assert len(memo_files(warm)) <= outmemo.MAX_FILES


def test_a_ref_outside_the_listing_named_by_rev_is_followed(warm):
    base = warm.head()
    warm.git("update-ref", "refs/remotes/origin/main", base)
    show(warm, "--rev", "origin/main")
    show(warm, "--rev", "origin/main")
    warm.gen({"README.md": "y\n"})
    newer = commit_at(warm, "newer", 50)
    warm.git("update-ref", "refs/remotes/origin/main", newer)
    warm.git("reset", "-q", "--hard", base)
    out = show(warm, "--rev", "origin/main").stdout
    assert "bold-otter" not in out   # origin/main moved to a commit without experiments


def test_the_first_show_over_settled_files_stores_its_text(warm):
    import shutil
    shutil.rmtree(warm.path / ".git" / "exp" / "memo")
    show(warm)
    plant(warm)
    assert MARK in show(warm).stdout


def test_files_written_just_now_are_not_vouched_for(warm):
    (warm.path / "params.yaml").write_text(params(0.4))   # inside the racy window
    show(warm)
    assert memo_files(warm) and not any(MARK in open(p, errors="replace").read()
                                        for p in memo_files(warm))
    before = {p: os.stat(p).st_mtime_ns for p in memo_files(warm)}
    assert "0.4" in show(warm).stdout.splitlines()[2].split()
    # Nothing stored for the table over a racy file: the stored texts are the old ones.
    assert {p: os.stat(p).st_mtime_ns for p in memo_files(warm)} == before


# -- answered before argparse (commands/show.py answer_early: keyed on the arguments as given) --

def test_warnings_are_replayed_and_q_after_show_still_silences_them(warm):
    make_exp(warm, "bad-json", {"metrics.json": '{"acc": 0.9, broken'}, date=at(30))
    cold = show(warm)
    assert "metrics.json:1:" in cold.stderr and cold.stderr.startswith("warning:")
    plant(warm)
    replayed = show(warm)
    assert MARK in replayed.stdout and replayed.stderr == cold.stderr
    for quiet in (["-q"], ["--quiet"], ["--qui"], ["-Aq"]):
        show(warm, *quiet)
        plant(warm)
        proc = show(warm, *quiet)
        assert MARK in proc.stdout and proc.stderr == "", quiet   # the memo, and still quiet


def test_hide_workspace_is_answered_without_the_workspace_row(warm):
    show(warm, "--hide-workspace")
    plant(warm)
    out = show(warm, "--hide-workspace").stdout
    assert MARK in out and "workspace" not in out
    # The workspace row's files are not part of that answer's key...
    (warm.path / "params.yaml").write_text(params(0.3))
    assert MARK in show(warm, "--hide-workspace").stdout
    # ...and a request with the row never takes a text stored without it.
    out = show(warm).stdout
    assert MARK not in out and "0.3" in out.splitlines()[2].split()


def test_a_bad_option_is_a_usage_error_before_anything_else(warm, tmp_path):
    proc = show(warm, "--no-such-option", check=False)
    assert proc.returncode == 129 and "unrecognized arguments" in proc.stderr
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    proc = subprocess.run(["git", "exp", "show", "--no-such-option"], cwd=outside, text=True,
                          capture_output=True, env=dict(os.environ, GIT_CEILING_DIRECTORIES=str(tmp_path)))
    assert proc.returncode == 129 and "unrecognized arguments" in proc.stderr
    proc = subprocess.run(["git", "exp", "show"], cwd=outside, text=True, capture_output=True,
                          env=dict(os.environ, GIT_CEILING_DIRECTORIES=str(tmp_path)))
    assert proc.returncode == 128 and "not a git repository" in proc.stderr.lower()


def test_what_an_early_look_read_serves_only_its_own_invocation(warm, tmp_path, monkeypatch):
    import io

    from git_exp.cli import main
    from git_exp.commands import build_parser
    from git_exp.commands import show as show_command
    from git_exp.ui.console import Console
    other = tmp_path / "other"
    subprocess.run(["git", "init", "-q", str(other)], check=True)
    subprocess.run(["git", "-C", str(other), "commit", "-q", "--allow-empty", "-m", "x"], check=True)
    monkeypatch.chdir(warm.path)
    assert main(["show", "--no-such-option"]) == 129     # read warm's refs, then a usage error
    monkeypatch.chdir(other)
    out = io.StringIO()
    args = build_parser("show", show_command).parse_args([])
    assert show_command.run(args, Console(out=out)) == 0
    assert "bold-otter" not in out.getvalue() and "workspace" in out.getvalue()
