"""Tracked data a stage reads, changed since `git exp add`: a run stores it first, a queue refuses."""
from __future__ import annotations

import hashlib

from git_exp.data.pointer import parse_pointer

PIPELINE = ("stages:\n  count:\n    cmd: cat data/a.txt data/sub/b.txt > seen.txt\n"
            "    deps: [data/a.txt, data/sub]\n    outs: [seen.txt]\n")


def pointer_hash(project, name: str, text: bytes | None = None) -> str:
    return parse_pointer((project.path / name).read_bytes() if text is None else text, name).hash


def setup(committed):
    committed.gen({"data": {"a.txt": "alpha\n", "sub": {"b.txt": "beta\n"}},
                   "notes": {"n.txt": "not read by any stage\n"}, "exp.yaml": PIPELINE})
    committed.exp("add", "data", "notes")
    committed.exp("run")
    committed.git("add", "-A")
    committed.git("commit", "-q", "-m", "baseline with data")
    return committed


def test_a_run_stores_changed_tracked_data_it_reads_and_records_its_pointer(committed):
    project = setup(committed)
    before = pointer_hash(project, "data.exp")
    notes_pointer = (project.path / "notes.exp").read_bytes()
    (project.path / "data" / "a.txt").write_text("alpha, revised\n")
    (project.path / "notes" / "n.txt").write_text("changed, but no stage reads it\n")
    proc = project.exp("run", "-n", "revised")
    assert "data had changed since data.exp was written: its new content was stored" in proc.stderr
    assert (project.path / "seen.txt").read_text() == "alpha, revised\nbeta\n"
    after = pointer_hash(project, "data.exp")
    assert after != before
    # The experiment's commit holds the new pointer, and exp.lock's dep hashes agree with it.
    sha = project.git("rev-parse", "refs/exps/" + project.head() + "/revised").strip()
    committed_pointer = project.git("show", f"{sha}:data.exp").encode()
    assert pointer_hash(project, "data.exp", committed_pointer) == after
    # Data no stage reads is left as it is: the pointer was not rewritten.
    assert (project.path / "notes.exp").read_bytes() == notes_pointer
    # The new content is in the cache: after the work tree goes back to the
    # baseline, applying the experiment brings the revised data back.
    project.git("checkout", "-q", "--", "data.exp")
    project.exp("checkout", "--force")
    assert (project.path / "data" / "a.txt").read_text() == "alpha\n"
    project.exp("apply", "revised")
    assert (project.path / "data" / "a.txt").read_text() == "alpha, revised\n"
    assert hashlib.sha256(b"alpha, revised\n").hexdigest() in project.read("exp.lock")
    assert pointer_hash(project, "data.exp") == after
    project.fsck()


def test_a_run_with_unchanged_data_leaves_its_pointer_alone(committed):
    project = setup(committed)
    pointer = project.path / "data.exp"
    before = (pointer.read_bytes(), pointer.stat().st_mtime_ns)
    proc = project.exp("run", "-f", "-n", "again")
    assert "had changed since" not in proc.stderr
    assert (pointer.read_bytes(), pointer.stat().st_mtime_ns) == before


def test_queueing_refuses_changed_tracked_data_instead_of_leaving_it_out(committed):
    project = setup(committed)
    (project.path / "data" / "sub" / "b.txt").write_text("beta, revised\n")
    proc = project.exp("run", "--queue", "-n", "q", check=False)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith("error: data changed since data.exp recorded it; "
                                  "a queued run would use the recorded version"), proc.stderr
    assert "hint: record the new content first: git exp add data" in proc.stderr
    assert project.git("for-each-ref", "refs/exps-queue/") == ""
    project.exp("add", "data")
    project.exp("run", "--queue", "-n", "q")
    assert project.git("for-each-ref", "refs/exps-queue/") != ""
    project.fsck()


def test_a_file_named_like_a_pointer_that_is_none_is_not_taken_for_one(committed):
    committed.gen({"results": {"r.txt": "1\n"}, "results.exp": "my own notes, not a pointer\n",
                   "exp.yaml": "stages:\n  s:\n    cmd: cat results/r.txt > out.txt\n"
                               "    deps: [results]\n    outs: [out.txt]\n"})
    proc = committed.exp("run")
    assert "had changed since" not in proc.stderr
    assert committed.read("results.exp") == "my own notes, not a pointer\n"


def test_a_pointer_that_is_a_symlink_is_neither_read_nor_written_through(committed, tmp_path):
    # A commit (say, a pulled experiment applied and committed) whose data.exp is a link
    # out of the work tree, made with Git plumbing: run must not follow it either way.
    project = setup(committed)
    outside = tmp_path / "outside.exp"
    outside.write_bytes((project.path / "data.exp").read_bytes())
    before = outside.read_bytes()
    link = project.git("hash-object", "-w", "--stdin", input=str(outside)).strip()
    project.git("update-index", "--cacheinfo", f"120000,{link},data.exp")
    project.git("commit", "-q", "-m", "data.exp as a link")
    project.git("checkout", "-q", "--", "data.exp")
    assert (project.path / "data.exp").is_symlink()
    (project.path / "data" / "a.txt").write_text("alpha, revised\n")
    proc = project.exp("run", "-n", "linked")
    assert "had changed since" not in proc.stderr
    assert outside.read_bytes() == before and (project.path / "data.exp").is_symlink()
    project.fsck()
