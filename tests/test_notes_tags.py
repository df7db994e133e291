"""Notes and tags: `git exp note` / `git exp tag`, shown by `show`, carried by push and pull.

Real experiments (`git exp run`), a real editor script as GIT_EDITOR, a
bare repository between two clones; what arrives from a remote is
forged with Git plumbing and must be refused.
"""
from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import Project, clone

TRAIN = """\
import json
lr = float(open("params.yaml").read().split("lr:")[1].split()[0])
json.dump({"acc": round(1 - lr, 4)}, open("metrics.json", "w"))
"""

PIPELINE = """\
stages:
  train:
    cmd: python3 train.py
    deps: [train.py]
    params: [train.lr]
    metrics:
      - metrics.json:
          cache: false
"""


@pytest.fixture
def ran(committed, tmp_path) -> Project:
    p = committed
    p.gen({"train.py": TRAIN, "params.yaml": "train:\n  lr: 0.1\n", "exp.yaml": PIPELINE})
    p.commit("pipeline")
    p.exp("run", "-q", "-n", "good", "-m", "first try")
    # A minute later, so newest-first order does not hang on two runs in one second.
    later = f"@{int(time.time()) + 60} +0000"
    p.exp("run", "-q", "-S", "train.lr=0.5", "-n", "meh",
          env={"GIT_AUTHOR_DATE": later, "GIT_COMMITTER_DATE": later})
    p.remote = p.add_bare_remote(tmp_path / "origin.git", push=("HEAD",))
    return p


def rows(p: Project, *args) -> dict:
    return {r["name"]: r for r in json.loads(p.exp("show", "--json", *args).stdout)}


# ------------------------------------------------------------------ local


def test_note_and_tags_are_set_shown_and_removed(ran):
    ran.exp("note", "good", "the one to keep")
    ran.exp("tag", "good", "best", "baseline")
    ran.exp("tag", "meh", "baseline")
    got = rows(ran)
    assert got["good"]["note"] == "the one to keep"
    assert got["good"]["tags"] == ["baseline", "best"]
    assert got["good"]["message"] == "first try"
    assert got["meh"]["message"] is None and got["meh"]["note"] is None
    assert got["workspace"]["tags"] == [] and got["main"]["message"] == "pipeline"
    assert ran.exp("tag", "good").stdout.split() == ["baseline", "best"]
    assert ran.exp("note", "--show", "good").stdout == "the one to keep\n"

    # Stored beside the experiment, which is untouched; readable with Git alone.
    sha = ran.exp_sha("good")
    assert ran.git("show", f"refs/exp-notes/{sha}:note") == "the one to keep"
    assert ran.git("show", f"refs/exp-notes/{sha}:tags") == "baseline\nbest\n"
    assert ran.exp_sha("good") == sha
    ran.fsck()

    ran.exp("note", "--append", "good", "seed 2: same")
    assert rows(ran)["good"]["note"] == "the one to keep\n\nseed 2: same"
    ran.exp("tag", "--delete", "good", "baseline")
    ran.exp("note", "--delete", "good")
    got = rows(ran)["good"]
    assert got["note"] is None and got["tags"] == ["best"]
    # Every change is a commit of its own: the history of the annotations.
    assert len(ran.git("rev-list", f"refs/exp-notes/{sha}").split()) == 5




def test_list_shows_each_experiments_tags(ran):
    ran.exp("tag", "good", "best", "baseline")
    good, meh = ran.exp_sha("good"), ran.exp_sha("meh")
    lines = ran.exp("list").stdout.splitlines()
    assert f"\tgood ({good[:7]})  baseline, best" in lines
    assert f"\tmeh ({meh[:7]})" in lines
    assert sorted(ran.exp("list", "--name-only").stdout.split()) == ["good", "meh"]

def test_removing_an_experiment_removes_its_annotations_with_its_last_name(ran):
    ran.exp("note", "good", "the one to keep")
    ran.exp("tag", "meh", "baseline")
    good, meh = ran.exp_sha("good"), ran.exp_sha("meh")
    # A second name for meh's commit keeps its annotations when the first goes.
    ran.git("update-ref", f"refs/exps/{ran.head()}/meh-again", meh)
    ran.exp("remove", "good", "meh")
    refs = ran.git("for-each-ref", "--format=%(refname)", "refs/exp-notes/").split()
    assert refs == [f"refs/exp-notes/{meh}"]
    assert rows(ran)["meh-again"]["tags"] == ["baseline"]
    ran.exp("remove", "meh-again")
    assert ran.git("for-each-ref", "refs/exp-notes/", "refs/exp-logs/") == ""
    assert good not in ran.git("for-each-ref")
    ran.fsck()

def test_note_in_the_editor_git_would_start(ran, tmp_path):
    editor = tmp_path / "fake editor.sh"
    editor.write_text("#!/bin/sh\n"
                      "grep -q 'Write the note' \"$1\" || exit 7\n"
                      "printf 'written in the editor\\n# a comment, dropped\\n' > \"$1\"\n")
    editor.chmod(0o755)
    ran.exp("note", "good", env={"GIT_EDITOR": f"'{editor}'"})
    assert rows(ran)["good"]["note"] == "written in the editor"
    # An editor that saves nothing but comments removes the note.
    blank = tmp_path / "blank.sh"
    blank.write_text("#!/bin/sh\nprintf '# nothing\\n' > \"$1\"\n")
    blank.chmod(0o755)
    ran.exp("note", "good", env={"GIT_EDITOR": str(blank)})
    assert rows(ran)["good"]["note"] is None
    # A failing editor changes nothing and says so.
    ran.exp("note", "good", "kept")
    proc = ran.exp("note", "good", env={"GIT_EDITOR": "false"}, check=False)
    assert proc.returncode == 1 and "editor" in proc.stderr and "Traceback" not in proc.stderr
    assert rows(ran)["good"]["note"] == "kept"


def test_bad_tags_and_notes_are_refused(ran):
    for bad in ("has space", ".dot", "a" * 65, "a/b"):
        proc = ran.exp("tag", "good", bad, check=False)
        assert proc.returncode == 1 and "invalid tag" in proc.stderr, bad
    proc = ran.exp("note", "good", "x" * (64 * 1024 + 1), check=False)
    assert proc.returncode == 1 and "at most 65536" in proc.stderr
    proc = ran.exp("tag", "nosuch", "best", check=False)
    assert proc.returncode == 1 and "no experiment named 'nosuch'" in proc.stderr
    assert rows(ran)["good"]["tags"] == []


def test_show_selects_by_tag_and_shows_a_notes_column(ran):
    ran.exp("tag", "good", "best")
    ran.exp("note", "meh", "lr too high\nsecond line")
    assert list(rows(ran, "--tag", "best")) == ["main", "good"]
    assert list(rows(ran, "--where", "tag == 'best'")) == ["main", "good"]
    assert list(rows(ran, "--where", "tag != 'best'", "--hide-workspace")) == ["main", "meh"]
    assert list(rows(ran, "--where", "tag == 'best' or acc < 0.6", "--hide-workspace")) == \
        ["main", "meh", "good"]
    table = ran.exp("show", "--hide-workspace").stdout.splitlines()
    assert table[0].split()[-1] == "Notes"
    assert table[4].endswith("#best first try") and table[3].endswith("lr too high")
    assert "Rev" in ran.exp("show", "--sha").stdout.splitlines()[0]
    csv = ran.exp("show", "--csv", "--tag", "best").stdout.splitlines()
    assert csv[0].startswith("name,rev,kind,baseline,created,state,message,note,tags,")
    assert ",first try,,best," in csv[2]


# ---------------------------------------------------------------- sharing


def remote_note_refs(remote: Path) -> dict:
    out = subprocess.run(["git", "-C", str(remote), "for-each-ref",
                          "--format=%(refname) %(objectname)", "refs/exp-notes/"],
                         capture_output=True, text=True, check=True).stdout
    return dict(line.split() for line in out.splitlines())


def test_push_and_pull_carry_them_and_merge_both_sides(ran, tmp_path):
    good = ran.exp_sha("good")
    ran.exp("tag", "good", "best")
    ran.exp("note", "good", "mine")
    proc = ran.exp("push", "origin", "good", "meh")
    assert "notes and tags of 1 experiment" in proc.stdout
    assert set(remote_note_refs(ran.remote)) == {f"refs/exp-notes/{good}"}

    other = clone(ran.remote, tmp_path / "other")
    proc = other.exp("pull", "origin", "good", "meh")
    assert "notes and tags of 1 experiment" in proc.stdout
    got = rows(other)["good"]
    assert got["note"] == "mine" and got["tags"] == ["best"]
    assert other.git("for-each-ref", "refs/exp-notes-incoming/") == ""
    other.fsck()

    # Both change: the second push is refused, pull merges, push goes through.
    other.exp("tag", "good", "reviewed")
    other.exp("push", "origin", "good")
    ran.exp("tag", "--delete", "good", "best")
    ran.exp("note", "good", "mine, longer")
    proc = ran.exp("push", "origin", "good")
    assert "changed on 'origin' too" in proc.stderr
    proc = ran.exp("pull", "origin", "good")
    got = rows(ran)["good"]
    assert got["tags"] == ["reviewed"] and got["note"] == "mine, longer"
    ran.exp("push", "origin", "good")
    other.exp("pull", "origin", "good")
    assert rows(other)["good"]["tags"] == ["reviewed"]
    assert rows(other)["good"]["note"] == "mine, longer"
    ran.fsck()


def test_plain_git_push_carries_them(ran, tmp_path):
    ran.exp("tag", "good", "best")
    ran.git("push", "-q", "--no-verify", "origin", "refs/exps/*:refs/exps/*",
            "refs/exp-notes/*:refs/exp-notes/*")
    other = clone(ran.remote, tmp_path / "other")
    other.exp("pull", "--no-data", "origin", "good")
    assert rows(other)["good"]["tags"] == ["best"]
    # And a plain fetch works as well, for who shares with Git alone.
    third = clone(ran.remote, tmp_path / "third")
    third.git("fetch", "-q", "origin", "refs/exps/*:refs/exps/*", "refs/exp-notes/*:refs/exp-notes/*")
    assert rows(third)["good"]["tags"] == ["best"]


def _forge(remote: Path, sha: str, entries: dict) -> None:
    """refs/exp-notes/SHA on REMOTE: a commit whose tree holds ENTRIES (name -> bytes)."""
    def git(*args, input=None):
        return subprocess.run(["git", "-C", str(remote), *args], input=input, capture_output=True,
                              check=True).stdout.decode().strip()
    listing = ""
    for name, data in entries.items():
        listing += f"100644 blob {git('hash-object', '-w', '--stdin', input=data)}\t{name}\n"
    tree = git("mktree", input=listing.encode())
    git("update-ref", f"refs/exp-notes/{sha}", git("commit-tree", tree, "-m", "forged"))


@pytest.mark.parametrize("entries, why", [
    ({"note": b"x" * (64 * 1024 + 1)}, "bytes"),
    ({"tags": b"best\nrm -rf /\n"}, "invalid tag"),
    ({"tags": "".join(f"t{i}\n" for i in range(65)).encode()}, "65 tags"),
    ({"note": b"\xff\xfe not text"}, "not UTF-8"),
    ({"note": b"ok", "payload.sh": b"#!/bin/sh\n"}, "unexpected entries payload.sh"),
])
def test_hostile_annotations_are_refused_on_pull(ran, tmp_path, entries, why):
    ran.exp("push", "-q", "origin", "good")
    _forge(ran.remote, ran.exp_sha("good"), entries)
    other = clone(ran.remote, tmp_path / "other")
    proc = other.exp("pull", "origin", "good")
    assert "were refused" in proc.stderr and why in proc.stderr, proc.stderr
    assert other.git("for-each-ref", "refs/exp-notes/", "refs/exp-notes-incoming/") == ""
    got = rows(other)["good"]
    assert got["note"] is None and got["tags"] == []


def test_show_bounds_what_plain_git_fetch_brought(ran, tmp_path):
    ran.exp("push", "-q", "origin", "good")
    _forge(ran.remote, ran.exp_sha("good"), {"note": b"x" * (1 << 20), "tags": b"ok\nnot ok\n"})
    other = clone(ran.remote, tmp_path / "other")
    other.git("fetch", "-q", "origin", "refs/exps/*:refs/exps/*", "refs/exp-notes/*:refs/exp-notes/*")
    got = rows(other)["good"]
    assert got["note"] is None and got["tags"] == ["ok"]
