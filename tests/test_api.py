"""git_exp.api: the Python front end returns what the commands show, and reads any file."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys

import pytest

import git_exp.api as api
from git_exp.errors import ExpError, NotARepositoryError
from tests.conftest import ROOT, Project, clone

TRAIN = """\
import json, os, re, sys
lr = float(re.search(r"lr: *([0-9.e-]+)", open("params.yaml").read()).group(1))
if lr > 1:
    sys.exit("lr too large")
os.makedirs("model", exist_ok=True)
open("model/weights.txt", "w").write(f"weights {lr}\\n")
open("model/bias.txt", "w").write("bias 1\\n")
json.dump({"acc": round(1 - lr / 2, 4), "loss": lr}, open("metrics.json", "w"))
"""

PIPELINE = """\
stages:
  train:
    cmd: python3 train.py
    deps: [train.py]
    params: [train.lr]
    outs: [model]
    metrics:
      - metrics.json:
          cache: false
"""


@pytest.fixture
def ml(committed):
    committed.gen({"train.py": TRAIN, "params.yaml": "train:\n  lr: 0.1\n", "exp.yaml": PIPELINE,
                   "data": {"raw.csv": "x,y\n1,2\n"}})
    committed.exp("add", "data")
    committed.commit("pipeline")
    return committed


@pytest.fixture
def several(ml):
    """Two commits with experiments: ok ones, a failed one and a queued one on HEAD."""
    ml.exp("run", "-n", "old-one", "-S", "train.lr=0.3")
    ml.gen({"README.md": "second\n"})
    ml.commit("second", "README.md")
    ml.exp("run", "-n", "alpha", "-S", "train.lr=0.2")
    ml.exp("run", "-n", "beta", "-S", "train.lr=0.4")
    assert ml.exp("run", "-n", "broken", "-S", "train.lr=5", check=False).returncode != 0
    ml.exp("run", "--queue", "-n", "later", "-S", "train.lr=0.6")
    return ml


def show_json(project: Project, *args: str) -> list:
    return json.loads(project.exp("show", "--json", *args).stdout)


def test_importing_the_api_loads_no_command_line_code():
    code = ("import sys\n"
            "import git_exp.api\n"
            "print('\\n'.join(sorted(sys.modules)))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(os.environ, PYTHONPATH=str(ROOT))).stdout.split()
    assert [m for m in out if m == "git_exp.cli" or m.startswith(("git_exp.commands", "git_exp.ui"))] == []
    assert [m for m in out if m.split(".")[0] in ("yaml", "colorama", "pandas", "argparse")] == []


def test_experiments_are_the_rows_of_show_json(several):
    rows = api.experiments(repo=several.path)
    assert rows == show_json(several)
    assert {r["state"] for r in rows if r["kind"] == "experiment"} == {"success", "failed", "queued"}
    queued = next(r for r in rows if r["name"] == "later")
    assert queued["rev"] is None and queued["params"] == {"params.yaml": {"train.lr": 0.6}}

    everything = api.experiments(repo=several.path, all_commits=True)
    assert everything == show_json(several, "-A")
    assert "old-one" in {r["name"] for r in everything} - {r["name"] for r in rows}
    assert api.experiments(several.path, rev="HEAD~1") == show_json(several, "--rev", "HEAD~1")
    # From a folder inside the repository, as `git exp` run there.
    (several.path / "sub").mkdir()
    assert api.experiments(repo=several.path / "sub") == rows


def test_params_and_metrics_of_names_shas_refs_and_revisions(several):
    ref = several.git("for-each-ref", "--format=%(refname) %(objectname)", "refs/exps/").split("\n")
    alpha_ref, alpha_sha = next(line.split() for line in ref if "/alpha " in line)
    want = {"params.yaml": {"train.lr": 0.2}}
    for spec in ("alpha", alpha_sha[:7], alpha_sha, alpha_ref):
        assert api.params(spec, repo=several.path) == want
        assert api.metrics(spec, repo=several.path) == {"metrics.json": {"acc": 0.9, "loss": 0.2}}
    assert api.params("HEAD", repo=several.path) == {"params.yaml": {"train.lr": 0.1}}
    assert api.metrics("HEAD", repo=several.path) == {}
    # The workspace holds the last run's results (the failed one changed params only).
    assert api.params(repo=several.path) == api.params("workspace", repo=several.path) \
        == {"params.yaml": {"train.lr": 5}}
    cli = json.loads(several.exp("metrics", "show", "beta", "--json").stdout)[0]["metrics"]
    assert api.metrics("beta", repo=several.path) == cli


def test_repo_is_a_path_or_an_open_repository(ml):
    """RepoLike: a str, an os.PathLike or a Repository already opened name the same repository."""
    from git_exp.repo import discover
    ml.exp("run", "-n", "alpha", "-S", "train.lr=0.2")
    opened = discover(str(ml.path))
    for repo in (str(ml.path), ml.path, opened):
        assert api.params("alpha", repo=repo) == {"params.yaml": {"train.lr": 0.2}}
        assert api.read("params.yaml", rev="alpha", repo=repo) == "train:\n  lr: 0.2\n"
    assert api.experiments(repo=opened) == api.experiments(repo=ml.path)


def test_errors_are_the_commands_errors(several, tmp_path):
    proc = several.exp("metrics", "show", "nope", check=False)
    with pytest.raises(ExpError) as caught:
        api.metrics("nope", repo=several.path)
    assert proc.stderr.splitlines() == [f"error: {caught.value.message}", f"hint: {caught.value.hint}"]
    with pytest.raises(ExpError, match="ambiguous|neither"):
        api.params("a", repo=several.path)
    (tmp_path / "plain").mkdir()
    with pytest.raises(NotARepositoryError):
        api.experiments(repo=tmp_path / "plain")
    with pytest.raises(ExpError, match="cannot change to"):
        api.experiments(repo=tmp_path / "absent")


def test_open_reads_git_files_and_data_from_the_cache(several):
    path = several.path
    assert api.read("params.yaml", rev="alpha", repo=path) == "train:\n  lr: 0.2\n"
    # A stage's cached out, a file inside it, at two experiments: from the cache.
    assert api.read("model/weights.txt", rev="alpha", repo=path) == "weights 0.2\n"
    assert api.read("model/weights.txt", rev="beta", repo=path) == "weights 0.4\n"
    with api.open("model/bias.txt", rev="beta", repo=path, mode="rb") as fh:
        assert fh.read() == b"bias 1\n"
    # Data tracked with `git exp add`, at a commit and in the workspace when not checked out.
    assert api.read("data/raw.csv", rev="HEAD", repo=path) == "x,y\n1,2\n"
    shutil.rmtree(path / "data")
    assert api.read("data/raw.csv", repo=path) == "x,y\n1,2\n"
    assert api.read("data/raw.csv", repo=path, mode="rb") == b"x,y\n1,2\n"

    with pytest.raises(api.PathNotFoundError) as caught:
        api.read("model/nothing.txt", rev="alpha", repo=path)
    assert isinstance(caught.value, FileNotFoundError)
    assert caught.value.message.startswith("'model/nothing.txt' does not exist in commit ")
    with pytest.raises(ExpError, match="is a folder of data"):
        api.read("model", rev="alpha", repo=path)
    with pytest.raises(ExpError, match="climbs|'\\.\\.'|\\.\\."):
        api.read("../outside", repo=path)
    with pytest.raises(ExpError, match="opened for reading"):
        api.read("params.yaml", repo=path, mode="w")


def test_open_in_a_fresh_clone_fetches_data_from_the_data_remote(several, tmp_path):
    bare = several.add_bare_remote(tmp_path / "shared.git", push=("main",))
    several.exp("push", "origin", "alpha")
    assert (bare / "exp" / "cache").is_dir()

    work = clone(bare, tmp_path / "clone")
    # The experiment's ref only, by plain Git: none of its data comes along.
    work.git("fetch", "-q", "origin", "refs/exps/*:refs/exps/*")
    digest = hashlib.sha256(b"weights 0.2\n").hexdigest()
    cached = work.path / ".git" / "exp" / "cache" / "files" / "sha256" / digest[:2] / digest[2:]
    assert not cached.exists()

    assert api.read("model/weights.txt", rev="alpha", repo=work.path) == "weights 0.2\n"
    assert cached.is_file()          # fetched, verified and kept in the clone's cache
    # Only that file came: the folder's other file stays on the remote until asked for.
    bias = hashlib.sha256(b"bias 1\n").hexdigest()
    assert not (cached.parent.parent / bias[:2] / bias[2:]).exists()
    assert api.read("model/bias.txt", rev="alpha", repo=work.path) == "bias 1\n"
    work.fsck()

    # beta was never pushed: its ref can be fetched from the other clone, but not its data.
    work.git("fetch", "-q", str(several.path), "refs/exps/*:refs/exps/*")
    with pytest.raises(ExpError, match="neither in the cache nor on the data remote"):
        api.read("model/weights.txt", rev="beta", repo=work.path)


def test_dataframe_has_a_column_per_metric_and_param(several):
    pandas = pytest.importorskip("pandas", reason="pandas is not installed (pip install pandas)")
    frame = api.dataframe(repo=several.path)
    rows = api.experiments(repo=several.path)
    assert list(frame["name"]) == [r["name"] for r in rows]
    assert list(frame.columns) == ["name", "kind", "rev", "baseline", "parent", "created", "state",
                                   "message", "note", "tags", "acc", "loss", "train.lr"]
    beta = frame[frame["name"] == "beta"].iloc[0]
    assert (beta["acc"], beta["train.lr"], beta["state"]) == (0.8, 0.4, "success")
    # Notes and tags are there to filter on, as in experiments().
    several.exp("note", "beta", "the keeper")
    several.exp("tag", "beta", "best")
    frame = api.dataframe(repo=several.path)
    beta = frame[frame["name"] == "beta"].iloc[0]
    assert (beta["note"], beta["tags"]) == ("the keeper", ["best"])
    assert list(frame[frame["tags"].apply(lambda t: "best" in t)]["name"]) == ["beta"]
    assert pandas.isna(frame[frame["name"] == "later"].iloc[0]["acc"])


def test_dataframe_without_pandas_names_the_pip_command(ml):
    code = ("import sys\n"
            "sys.modules['pandas'] = None  # as if pandas were not installed\n"
            "import git_exp.api as api\n"
            "try:\n"
            "    api.dataframe()\n"
            "except api.ExpError as exc:\n"
            "    print(exc.message); print(exc.hint)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ml.path, capture_output=True, text=True,
                         check=True).stdout
    assert out == ("dataframe() needs pandas, which is not installed\n"
                   "pip install pandas  (or: pip install 'git-exp[pandas]')\n")


def test_help_api_shows_the_guide(project):
    out = project.exp("help", "api").stdout
    assert out.startswith("gitexp-api - the Python API")
    for name in ("experiments(repo", "dataframe(", "params(rev", "metrics(rev", "open(path", "read(path",
                 "Live(dir", "Live.log_metric(name", "Live.next_step()", "plots/metrics/NAME.tsv"):
        assert name in out
    page = ROOT / "man" / "gitexp-api.7"
    from git_exp.manpage import guide_page
    assert page.read_text() == guide_page("api")
    if shutil.which("man"):
        proc = subprocess.run(["man", "--warnings", "-l", str(page)], capture_output=True, text=True)
        assert proc.returncode == 0 and proc.stderr == "", proc.stderr
