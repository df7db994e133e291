"""git exp add / checkout / status / gc / fsck on real repositories, checked with git."""
from __future__ import annotations

import hashlib
import json
import os
import time

import pytest

from git_exp.data.hashing import HashInfo
from git_exp.data.pointer import format_pointer, parse_pointer
from git_exp.errors import ExpError


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def obj(project, digest: str):
    return project.path / ".git" / "exp" / "cache" / "files" / "sha256" / digest[:2] / digest[2:]


def pointer_hash(project, name: str) -> str:
    return parse_pointer((project.path / name).read_bytes(), name).hash


@pytest.fixture
def tracked(committed):
    """A repository whose data/ folder and model.bin are tracked with pointers, committed."""
    committed.gen({"data": {"a.txt": "alpha\n", "sub": {"b.txt": "beta\n"}}, "model.bin": b"\x00weights"})
    committed.exp("add", "data", "model.bin")
    committed.commit("track data")
    return committed


def test_add_writes_a_pointer_an_ignore_entry_and_the_cache(committed):
    committed.gen({"data": {"a.txt": "alpha\n", "b.txt": "beta\n"}})
    proc = committed.exp("add", "data")
    assert "Added data (2 files, 11 bytes) -> data.exp" in proc.stdout
    assert "git add data.exp .gitignore" in proc.stderr
    text = committed.read("data.exp")
    assert text.startswith("# git-exp data pointer")
    info = parse_pointer(text.encode(), "data.exp")
    assert info.is_dir and info.nfiles == 2 and info.size == 11
    assert "/data" in committed.read(".gitignore").splitlines()
    assert obj(committed, sha(b"alpha\n")).read_bytes() == b"alpha\n"
    assert obj(committed, info.hash).is_file()
    status = committed.git("status", "--porcelain", "--untracked-files=all")
    assert "data/" not in status and "data.exp" in status  # Git sees the pointer, never the data
    committed.commit("track")
    assert committed.git("ls-files").split() == [".gitignore", "README.md", "data.exp"]
    committed.fsck()


def test_re_adding_changed_data_updates_the_pointer(tracked):
    before = tracked.read("data.exp")
    proc = tracked.exp("add", "data")
    assert "Unchanged data" in proc.stdout and tracked.read("data.exp") == before
    (tracked.path / "data" / "a.txt").write_text("ALPHA\n")
    proc = tracked.exp("add", "data")
    assert "Added data" in proc.stdout
    assert tracked.read("data.exp") != before
    assert tracked.git("status", "--porcelain").split() == ["M", "data.exp"]


def test_add_from_a_subfolder_and_of_a_single_file(committed):
    committed.gen({"sub": {"weights.bin": b"123"}})
    proc = subprocess_exp(committed, "sub", "add", "weights.bin")
    assert "Added sub/weights.bin (3 bytes) -> sub/weights.bin.exp" in proc.stdout
    assert (committed.path / "sub" / "weights.bin.exp").is_file()
    assert committed.read("sub/.gitignore") == "/weights.bin\n"


def subprocess_exp(project, folder, *args):
    import subprocess
    return subprocess.run(["git", "exp", *args], cwd=project.path / folder, text=True,
                          capture_output=True, check=True)


@pytest.mark.parametrize("setup, path, message", [
    (lambda p: None, "../elsewhere", "outside the work tree"),
    (lambda p: None, ".git/config", "inside .git"),
    (lambda p: None, "nothing-here", "does not exist"),
    (lambda p: p.gen({"code.py": "x"}) or p.commit("code"), "code.py", "git rm -r --cached"),
    (lambda p: os.symlink("README.md", p.path / "link"), "link", "symlink"),
    (lambda p: p.gen({"d": {"f": "1"}}) or p.exp("add", "d/f"), "d", "overlaps"),
])
def test_add_refuses(committed, setup, path, message):
    setup(committed)
    proc = committed.exp("add", path, check=False)
    assert proc.returncode == 1, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_add_refuses_a_stage_output(committed):
    committed.gen({"exp.yaml": "stages:\n  train:\n    cmd: echo\n    outs: [model.pt]\n",
                   "model.pt": "w"})
    proc = committed.exp("add", "model.pt", check=False)
    assert proc.returncode == 1 and "output of stage 'train'" in proc.stderr


def test_checkout_restores_deleted_data(tracked):
    import shutil
    shutil.rmtree(tracked.path / "data")
    (tracked.path / "model.bin").unlink()
    proc = tracked.exp("checkout")
    assert "Checked out data." in proc.stdout and "Checked out model.bin." in proc.stdout
    assert (tracked.path / "data" / "sub" / "b.txt").read_text() == "beta\n"
    assert (tracked.path / "model.bin").read_bytes() == b"\x00weights"
    assert "Data is up to date." in tracked.exp("checkout").stderr


def test_checkout_refuses_local_edits_and_force_keeps_them_in_a_backup(tracked):
    (tracked.path / "data" / "a.txt").write_text("my precious edit\n")
    proc = tracked.exp("checkout", "data", check=False)
    assert proc.returncode == 1
    assert "data: edited (1 modified (data/a.txt))" in proc.stderr
    assert "git exp checkout --force data" in proc.stderr
    assert (tracked.path / "data" / "a.txt").read_text() == "my precious edit\n"
    proc = tracked.exp("checkout", "--force", "data")
    assert (tracked.path / "data" / "a.txt").read_text() == "alpha\n"
    ref = tracked.git("for-each-ref", "--format=%(refname)", "refs/exp-backups/").strip()
    assert ref.startswith("refs/exp-backups/checkout-")
    assert f"to restore it: git exp apply {ref}" in proc.stdout
    message = tracked.git("log", "-1", "--format=%B", ref)
    assert "Exp-Data: data=" in message and "Exp-Backup: true" in message
    assert obj(tracked, sha(b"my precious edit\n")).read_bytes() == b"my precious edit\n"
    tracked.exp("gc", "--prune=now")
    tracked.exp("apply", ref)
    assert (tracked.path / "data" / "a.txt").read_text() == "my precious edit\n"
    tracked.fsck()


def test_checkout_of_an_unknown_path_is_an_error(tracked):
    proc = tracked.exp("checkout", "README.md", check=False)
    assert proc.returncode == 1 and "not a tracked data path" in proc.stderr


def test_checkout_names_missing_objects_and_hints_to_pull(tracked):
    import shutil
    shutil.rmtree(tracked.path / ".git" / "exp" / "cache")
    (tracked.path / "model.bin").unlink()
    proc = tracked.exp("checkout", check=False)
    assert proc.returncode == 1
    assert "model.bin: 1 object(s) missing from the cache" in proc.stderr
    assert "git exp fetch" in proc.stderr
    assert not (tracked.path / "model.bin").exists()


def test_checkout_removes_data_nothing_records_any_more(tracked):
    tracked.git("rm", "-q", "model.bin.exp")
    tracked.git("commit", "-q", "-m", "drop the model")
    proc = tracked.exp("checkout")
    assert "Removed model.bin" in proc.stdout
    assert not (tracked.path / "model.bin").exists()
    assert obj(tracked, sha(b"\x00weights")).is_file()  # it was safe in the cache first
    # an edited copy is saved before it is removed
    tracked.git("checkout", "-q", "HEAD~1", "--", "model.bin.exp")
    tracked.exp("checkout")
    (tracked.path / "model.bin").write_bytes(b"retrained")
    tracked.git("rm", "-q", "-f", "model.bin.exp")
    proc = tracked.exp("checkout", check=False)  # an edited copy nothing records: the user's
    assert proc.returncode == 1 and "model.bin: nothing records it" in proc.stderr
    assert (tracked.path / "model.bin").read_bytes() == b"retrained"
    proc = tracked.exp("checkout", "--force")
    assert "Removed model.bin" in proc.stdout and "refs/exp-backups/checkout-" in proc.stdout
    tracked.exp("gc", "--prune=now")
    assert obj(tracked, sha(b"retrained")).read_bytes() == b"retrained"


def test_relink_puts_files_back_with_the_configured_link_type(tracked):
    tracked.git("config", "exp.cache.type", "hardlink,copy")
    tracked.exp("checkout", "--relink")
    model = tracked.path / "model.bin"
    assert os.stat(model).st_ino == os.stat(obj(tracked, sha(b"\x00weights"))).st_ino
    assert model.read_bytes() == b"\x00weights"


def test_apply_brings_back_an_experiment_s_pointer_data(tracked):
    (tracked.path / "model.bin").write_bytes(b"tuned")
    tracked.exp("add", "model.bin")
    tracked.exp("save", "-n", "tuned")
    tracked.git("checkout", "--", "model.bin.exp")
    tracked.exp("checkout")
    assert (tracked.path / "model.bin").read_bytes() == b"\x00weights"
    tracked.exp("apply", "tuned")
    assert (tracked.path / "model.bin").read_bytes() == b"tuned"


# -- untrusted records -----------------------------------------------------------

def test_a_pointer_with_a_bad_hash_is_refused(tracked):
    (tracked.path / "model.bin.exp").write_text(
        "# git-exp data pointer\nhash: ../../../etc/passwd\nsize: 3\n")
    proc = tracked.exp("checkout", check=False)
    assert proc.returncode == 1
    assert "model.bin.exp:2: '../../../etc/passwd' is not a sha256 hash" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("text, message", [
    ("hash: {h}\nsize: 3\nsize: 3\n", "'size' is given twice"),
    ("hash: {h}\nsize: -3\n", "whole number"),
    ("hash: {h}\nsize: 3\npath: /etc/passwd\n", "unexpected line"),
    ("hash: {h}.dir\nsize: 3\n", "missing 'nfiles'"),
    ("hash: {h}\nsize: 3\nnfiles: 1\n", "only for directories"),
    ("size: 3\n", "missing 'hash'"),
    ("hash: {H}\nsize: 3\n", "not a sha256 hash"),
])
def test_pointer_parsing_is_strict(text, message):
    h = "a" * 64
    data = ("# git-exp data pointer\n" + text.format(h=h, H=h.upper())).encode()
    with pytest.raises(ExpError) as err:
        parse_pointer(data, "x.exp")
    assert message in err.value.message


def test_pointer_round_trip():
    for info in (HashInfo("b" * 64, 10), HashInfo("c" * 64 + ".dir", 99, 4)):
        assert parse_pointer(format_pointer(info).encode(), "p.exp") == info


def test_a_lock_path_leaving_the_work_tree_is_refused(committed):
    committed.gen({"exp.lock": "schema: '1'\nstages:\n  s:\n    cmd: x\n    outs:\n"
                               f"    - path: ../outside.txt\n      hash: {'d' * 64}\n      size: 1\n"})
    proc = committed.exp("checkout", check=False)
    assert proc.returncode == 1 and "unsafe path" in proc.stderr
    assert not (committed.path.parent / "outside.txt").exists()


def test_a_symlink_in_the_way_is_never_followed(tracked, tmp_path):
    import shutil
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("not yours\n")
    shutil.rmtree(tracked.path / "data")
    os.symlink(outside, tracked.path / "data")
    proc = tracked.exp("checkout", check=False)
    assert proc.returncode == 1
    assert "refusing to follow the symlink 'data'" in proc.stderr
    assert sorted(os.listdir(outside)) == ["keep.txt"]
    status = json.loads(tracked.exp("status", "--json").stdout)
    assert {d["path"]: d["state"] for d in status["data"]}["data"] == "refused"


def test_a_symlinked_parent_folder_is_never_followed(committed, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    committed.gen({"models": {"m.bin": "w"}})
    committed.exp("add", "models/m.bin")
    committed.commit("model")
    (committed.path / "models" / "m.bin").unlink()
    (committed.path / "models" / "m.bin.exp").rename(tmp_path / "saved.exp")
    (committed.path / "models" / ".gitignore").unlink()
    (committed.path / "models").rmdir()
    os.symlink(outside, committed.path / "models")
    # The pointer arrives through another route (say a lock entry); the link must stop it.
    digest = sha(b"w")
    committed.gen({"exp.lock": "schema: '1'\nstages:\n  s:\n    cmd: x\n    outs:\n"
                               f"    - path: models/m.bin\n      hash: {digest}\n      size: 1\n"})
    proc = committed.exp("checkout", check=False)
    assert proc.returncode == 1 and "refusing to follow the symlink 'models'" in proc.stderr
    assert os.listdir(outside) == []


def test_a_corrupt_object_is_detected_at_checkout_and_by_fsck(tracked):
    digest = sha(b"\x00weights")
    path = obj(tracked, digest)
    os.chmod(path, 0o644)
    path.write_bytes(b"\x00WEIGHTS")  # same size: only hashing can tell
    (tracked.path / "model.bin").unlink()
    proc = tracked.exp("checkout", check=False)
    assert proc.returncode == 1
    assert f"cache object {digest} is corrupt" in proc.stderr
    assert not (tracked.path / "model.bin").exists()
    proc = tracked.exp("fsck", check=False)
    assert proc.returncode == 1
    assert f"corrupt: {digest}" in proc.stdout
    assert "missing:" not in proc.stdout
    path.write_bytes(b"\x00weights")
    assert "all intact" in tracked.exp("fsck").stdout


def test_fsck_lists_missing_objects(tracked):
    os.unlink(obj(tracked, sha(b"beta\n")))
    proc = tracked.exp("fsck", check=False)
    assert proc.returncode == 1
    assert f"missing: {sha(b'beta' + bytes([10]))} (needed by data in HEAD, data in the index" in proc.stdout


@pytest.mark.parametrize("jobs", ["0", "-3", "two"])
def test_fsck_refuses_a_job_count_below_one_as_fetch_and_get_do(tracked, jobs):
    proc = tracked.exp("fsck", "-j", jobs, check=False)
    assert proc.returncode == 129, proc.stderr
    assert "error: argument -j/--jobs:" in proc.stderr and "Traceback" not in proc.stderr
    assert "all intact" in tracked.exp("fsck", "-j", "1").stdout


# -- status ------------------------------------------------------------------------

def test_status_reports_data_and_stages(tracked):
    tracked.gen({"exp.yaml": "stages:\n  train:\n    cmd: cp data/a.txt out.txt\n"
                             "    deps: [data]\n    outs: [out.txt]\n"})
    proc = tracked.exp("status")
    assert "train: never ran" in proc.stdout
    (tracked.path / "data" / "a.txt").write_text("changed\n")
    (tracked.path / "model.bin").unlink()
    os.unlink(obj(tracked, sha(b"\x00weights")))
    report = json.loads(tracked.exp("status", "--json").stdout)
    states = {d["path"]: (d["state"], len(d["missing_objects"])) for d in report["data"]}
    assert states == {"data": ("modified", 0), "model.bin": ("not in work tree", 1)}
    assert report["stages"] == [{"name": "train", "reasons": ["never ran"], "frozen": False}]
    text = tracked.exp("status").stdout
    assert "modified:" in text and "not in cache:" in text and "model.bin" in text


def test_status_of_a_clean_repository(tracked):
    assert "Everything is up to date (data)." in tracked.exp("status").stdout


# -- gc ----------------------------------------------------------------------------

def _version(project, content: bytes, message: str) -> str:
    (project.path / "model.bin").write_bytes(content)
    project.exp("add", "model.bin")
    project.commit(message)
    return sha(content)


def test_gc_frees_only_unreferenced_objects(tracked):
    kept = {}
    tracked.git("checkout", "-q", "-b", "side")
    kept["branch history"] = _version(tracked, b"side-1", "side 1")
    kept["branch tip"] = _version(tracked, b"side-2", "side 2")
    kept["tag"] = _version(tracked, b"tagged", "tagged")
    tracked.git("tag", "v1")
    exp_sha = tracked.head()
    kept["experiment"] = _version(tracked, b"exp", "exp")
    tracked.git("update-ref", f"refs/exps/{exp_sha}/bold-otter", "HEAD")
    kept["backup"] = _version(tracked, b"backup", "backup")
    tracked.git("update-ref", "refs/exp-backups/20260101-000000-abcdef0", "HEAD")
    kept["queued"] = _version(tracked, b"queued", "queued")
    tracked.git("update-ref", "refs/exps-queue/1", "HEAD")
    freed = _version(tracked, b"doomed", "doomed")
    tracked.git("checkout", "-q", "main")
    tracked.git("branch", "-q", "-D", "side")
    (tracked.path / "model.bin").write_bytes(b"uncommitted")
    tracked.exp("add", "model.bin")
    kept["work tree"] = sha(b"uncommitted")
    kept["main"] = sha(b"\x00weights")
    kept["manifest file"] = sha(b"beta\n")

    proc = tracked.exp("gc", "--dry-run")
    assert "Would remove 0 object(s)" in proc.stdout  # young: the grace period keeps it
    assert "Kept 1 unreferenced object(s) younger than 2.weeks.ago" in proc.stderr
    proc = tracked.exp("gc", "--dry-run", "--prune=now")
    assert f"Would remove {freed}" in proc.stdout
    assert "Would remove 1 object(s)" in proc.stdout
    assert obj(tracked, freed).exists()
    proc = tracked.exp("gc", "--prune=now")
    assert "Removed 1 object(s), freed 6 bytes" in proc.stdout
    assert not obj(tracked, freed).exists()
    for why, digest in kept.items():
        assert obj(tracked, digest).exists(), why
    assert "Removed 0 object(s)" in tracked.exp("gc", "--prune=now").stdout


def test_gc_keeps_data_recorded_in_a_pipeline_lock(committed):
    digest = sha(b"model")
    committed.gen({"model.pt": "model"})
    committed.exp("add", "model.pt")
    info = parse_pointer((committed.path / "model.pt.exp").read_bytes(), "p")
    (committed.path / "model.pt.exp").unlink()
    committed.gen({"exp.lock": "schema: '1'\nstages:\n  s:\n    cmd: x\n    outs:\n"
                               f"    - path: model.pt\n      hash: {info.hash}\n      size: 5\n"})
    committed.commit("lock")
    committed.exp("gc", "--prune=now")
    assert obj(committed, digest).exists()



def test_gc_removes_the_temporary_files_crashed_saves_left_once_they_are_old(committed):
    committed.gen({"model.pt": "model"})
    committed.exp("add", "model.pt")
    shard = obj(committed, sha(b"model")).parent
    # What a SIGKILLed save or download leaves beside the objects: one from
    # yesterday, one being written right now (by another add, say).
    stale, fresh = shard / ".ab12.7f3e9a01.tmp", shard / ".cd34.7f3e9a02.tmp"
    stale.write_bytes(b"x" * 1000)
    fresh.write_bytes(b"y" * 10)
    day_ago = time.time() - 86400
    os.utime(stale, (day_ago, day_ago))
    proc = committed.exp("gc", "--dry-run")
    assert "Would remove 1 temporary file (1000 bytes)" in proc.stderr
    assert stale.exists()
    proc = committed.exp("gc")
    assert "Removed 1 temporary file (1000 bytes)" in proc.stderr
    assert not stale.exists() and fresh.exists()
    assert obj(committed, sha(b"model")).exists()
    committed.exp("checkout", "--force")   # the objects are intact
    assert committed.read("model.pt") == "model"

def test_gc_in_an_empty_repository(project):
    assert "Removed 0 object(s)" in project.exp("gc").stdout
