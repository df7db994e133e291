"""git exp get / git exp ls: files and data of another repository, through git and its data remote.

The source project pushes (hooks installed, so `git push` sends the data
first) to a real bare repository whose data remote is the directory
`<bare>/exp/cache`; get and ls read it by file:// URL from a folder that is
no repository at all, and the bytes written are checked against the source.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess

import pytest

from tests.conftest import Project, copy_of_template

TRAIN = """\
import os
os.makedirs("models", exist_ok=True)
open("models/weights.bin", "w").write("weights from " + open("data/x").read())
"""

PIPELINE = """\
stages:
  train:
    cmd: python3 train.py
    deps: [train.py, data/x]
    outs: [models]
"""

def _build(p: Project) -> None:
    p.gen({"README.md": "source\n", "train.py": TRAIN, "exp.yaml": PIPELINE,
           "src": {"util.py": "X = 1\n"},
           "data": {"x": "the x data\n"},
           "images": {"a.png": b"\x89PNGa", "sub": {"b.png": b"\x89PNGbb"}}})
    p.exp("add", "data/x", "images")
    p.commit("data")
    p.exp("run", "-n", "base")
    p.commit("outs")
    p.git("tag", "v1")
    p.gen({"data": {"x": "the x data, version 2\n"}})
    p.exp("add", "data/x")
    p.commit("data v2")


@pytest.fixture
def bare(tmp_path, tmp_path_factory):
    p = copy_of_template("getls", _build, tmp_path_factory, tmp_path / "source")
    p.exp("install")
    remote = p.add_bare_remote(tmp_path / "origin.git", push=("main", "v1"))
    # Let the blobless fetch really be blobless, as on Git hosts.
    subprocess.run(["git", "-C", str(remote), "config", "uploadpack.allowFilter", "true"], check=True)
    assert (remote / "exp" / "cache" / "files" / "sha256").is_dir()
    return remote


@pytest.fixture
def here(tmp_path):
    """A plain folder, no repository: get and ls need none."""
    path = tmp_path / "here"
    path.mkdir()
    return Project(path)


def _url(bare) -> str:
    return f"file://{bare}"


def test_get_a_pointer_tracked_file(bare, here, sealed_env):
    proc = here.exp("get", _url(bare), "data/x", "-o", "out")
    assert (here.path / "out").read_text() == "the x data, version 2\n"
    assert "Wrote" in proc.stderr
    assert not [n for n in os.listdir(here.path) if n != "out"]   # nothing else left behind
    temp = sealed_env / ".cache" / "git-exp"                      # where the clone went...
    assert temp.is_dir() and not list(temp.iterdir())             # ...and is gone


def test_an_unsafe_record_is_refused_before_anything_is_written(bare, here, tmp_path):
    evil = Project(tmp_path / "evil")
    subprocess.run(["git", "clone", "-q", str(bare), str(evil.path)], check=True)
    evil.gen({"exp.lock": "schema: '1'\nstages:\n  s:\n    cmd: x\n    outs:\n"
                          f"    - path: ../../escape\n      hash: {'a' * 64}\n      size: 5\n"})
    evil.commit("evil lock")
    for args in (["ls", evil.path.as_uri()], ["get", evil.path.as_uri(), "README.md"]):
        proc = here.exp(*args, check=False)
        assert proc.returncode == 1 and "unsafe" in proc.stderr and "'../../escape'" in proc.stderr
    assert not list(here.path.iterdir()) and not (tmp_path / "escape").exists()


def test_get_defaults_to_the_basename_and_refuses_to_overwrite(bare, here):
    here.exp("get", _url(bare), "data/x")
    assert (here.path / "x").read_text() == "the x data, version 2\n"
    proc = here.exp("get", _url(bare), "data/x", "--rev", "v1", check=False)
    assert proc.returncode == 1 and "exists already" in proc.stderr and "--force" in proc.stderr
    assert (here.path / "x").read_text() == "the x data, version 2\n"
    here.exp("get", _url(bare), "data/x", "--rev", "v1", "--force")
    assert (here.path / "x").read_text() == "the x data\n"


def test_get_git_files_stage_outs_and_files_inside_data_folders(bare, here):
    here.exp("get", _url(bare), "src/util.py")
    assert (here.path / "util.py").read_text() == "X = 1\n"
    here.exp("get", _url(bare), "models/weights.bin", "-o", "w.bin")
    assert (here.path / "w.bin").read_text() == "weights from the x data\n"
    here.exp("get", _url(bare), "images/sub/b.png")
    assert (here.path / "b.png").read_bytes() == b"\x89PNGbb"
    here.exp("get", _url(bare), "images", "-o", "imgs")
    assert (here.path / "imgs" / "a.png").read_bytes() == b"\x89PNGa"
    assert (here.path / "imgs" / "sub" / "b.png").read_bytes() == b"\x89PNGbb"
    (here.path / "folder").mkdir()
    here.exp("get", _url(bare), "src", "-o", "folder")   # into an existing folder, as cp does
    assert (here.path / "folder" / "src" / "util.py").read_text() == "X = 1\n"


def test_get_by_experiment_name_and_from_a_plain_path(bare, here, tmp_path):
    source = tmp_path / "source"
    exps = subprocess.run(["git", "-C", str(source), "for-each-ref", "--format=%(refname)", "refs/exps/"],
                          stdout=subprocess.PIPE, text=True, check=True).stdout.split()
    subprocess.run(["git", "-C", str(source), "push", "-q", "origin", *exps], check=True)
    here.exp("get", str(bare), "data/x", "--rev", "base", "-o", "x-of-base")
    assert (here.path / "x-of-base").read_text() == "the x data\n"


def test_ls_lists_files_and_data_with_sizes(bare, here):
    entries = json.loads(here.exp("ls", _url(bare), "--json").stdout)
    by_path = {e["path"]: e for e in entries}
    assert set(by_path) >= {"README.md", "data", "images", "images.exp", "models", "src", "exp.yaml"}
    assert by_path["images"]["data"] and by_path["images"]["type"] == "dir"
    assert by_path["images"]["nfiles"] == 2 and by_path["images"]["size"] == 11
    assert by_path["models"] == {"path": "models", "type": "dir", "data": True, "size": 24,
                                 "hash": by_path["models"]["hash"], "nfiles": 1, "exec": False}
    assert not by_path["README.md"]["data"]
    inside = json.loads(here.exp("ls", _url(bare), "data", "--json").stdout)
    # The pointer was fetched (its size is known); .gitignore was not: the clone is blobless.
    assert [(e["path"], e["data"], e["size"]) for e in inside] == [
        ("data/.gitignore", False, None), ("data/x", True, 22), ("data/x.exp", False, 148)]
    assert inside[1]["hash"] == hashlib.sha256(b"the x data, version 2\n").hexdigest()
    text = here.exp("ls", _url(bare), "-R").stdout
    assert "data    6 bytes  images/sub/b.png\n" in text
    assert "data   11 bytes  images/  (2 files)\n" in text
    assert "src/util.py" in text
    assert [e["path"] for e in json.loads(here.exp("ls", _url(bare), "images", "--json").stdout)] == [
        "images/a.png", "images/sub"]


def test_errors_say_what_and_what_to_do(bare, here, tmp_path):
    proc = here.exp("get", _url(bare), "no/such", check=False)
    assert proc.returncode == 1 and "'no/such' does not exist in" in proc.stderr
    assert "git exp ls" in proc.stderr
    proc = here.exp("ls", _url(bare), "images/nope", check=False)
    assert proc.returncode == 1 and "does not exist" in proc.stderr
    proc = here.exp("get", _url(bare), "../etc/passwd", check=False)
    assert proc.returncode == 1 and "cannot open '../etc/passwd'" in proc.stderr
    proc = here.exp("get", _url(bare), "data/x", "--rev", "nope", check=False)
    assert proc.returncode == 1 and "cannot fetch 'nope'" in proc.stderr
    proc = here.exp("get", str(tmp_path / "missing"), "data/x", check=False)
    assert proc.returncode == 1 and "cannot fetch" in proc.stderr
    # A repository that has no data remote: Git files still come, data cannot.
    shutil.rmtree(bare / "exp")
    plain = tmp_path / "plain.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(bare), str(plain)], check=True)
    (plain / "exp").mkdir(exist_ok=True)
    os.rename(plain, tmp_path / "moved.git")
    here.exp("get", _url(tmp_path / "moved.git"), "README.md")
    assert (here.path / "README.md").read_text() == "source\n"
    proc = here.exp("get", _url(tmp_path / "moved.git"), "data/x", check=False)
    assert proc.returncode == 1 and "not on the data remote" in proc.stderr
    assert not (here.path / "x").exists()


def test_no_data_remote_for_a_url_without_one(bare, here):
    # A URL of a scheme only the user's Git knows (insteadOf): no path, no LFS store to guess.
    here.git("config", "--global", f"url.file://{bare.parent}/.insteadOf", "lab://host/")
    url = f"lab://host/{bare.name}"
    here.exp("get", url, "README.md")          # Git files need no data remote
    assert (here.path / "README.md").read_text() == "source\n"
    proc = here.exp("get", url, "data/x", check=False)
    assert proc.returncode == 1
    assert f"error: {url} names no data remote for its data" in proc.stderr
    assert "--data-remote" in proc.stderr and not (here.path / "x").exists()
    here.exp("get", url, "data/x", "--data-remote", str(bare / "exp" / "cache"))
    assert (here.path / "x").read_text() == "the x data, version 2\n"


def test_get_with_a_data_remote_named_explicitly(bare, here, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    shutil.move(str(bare / "exp" / "cache"), str(elsewhere))
    proc = here.exp("get", _url(bare), "data/x", check=False)
    assert proc.returncode == 1
    here.exp("get", _url(bare), "data/x", "--data-remote", str(elsewhere))
    assert (here.path / "x").read_text() == "the x data, version 2\n"


def test_data_the_local_cache_has_is_not_downloaded(bare, tmp_path):
    local = tmp_path / "local"
    subprocess.run(["git", "clone", "-q", str(bare), str(local)], check=True)
    p = Project(local)
    p.exp("fetch")                      # the cache now holds HEAD's data
    shutil.rmtree(bare / "exp")          # the data remote is gone
    (local / "got").mkdir()
    p.exp("get", _url(bare), "data/x", "-o", "got/x")
    assert (local / "got" / "x").read_text() == "the x data, version 2\n"
