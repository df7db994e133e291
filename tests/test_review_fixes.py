"""Fixes from a fresh-eyes review of the user's day: each drives the real git-exp
against a real repository and failed before its fix."""
from __future__ import annotations

import re

import pytest

TRAIN = """\
import json, re
lr = float(re.search(r"lr: *([0-9.]+)", open("params.yaml").read()).group(1))
json.dump({"loss": 1 - lr}, open("metrics.json", "w"))
"""
PIPELINE = """\
stages:
  train:
    cmd: python3 train.py
    deps: [train.py]
    params: [train]
    metrics:
    - metrics.json: {cache: false}
"""


@pytest.fixture
def ran(committed):
    committed.gen({"train.py": TRAIN, "params.yaml": "train:\n  lr: 0.1\n", "exp.yaml": PIPELINE})
    committed.commit("pipeline")
    committed.exp("run", "-n", "first")
    committed.exp("run", "-S", "train.lr=0.2", "-n", "second")
    return committed


@pytest.mark.parametrize("argv", [("show",), ("diff", "first", "second"), ("metrics", "show")])
def test_a_negative_precision_is_a_usage_error_not_a_crash(ran, argv):
    proc = ran.exp(*argv, "--precision", "-1", check=False)
    assert proc.returncode == 129, proc.stderr
    assert "error: argument --precision: '-1' is not a whole number from 0 to" in proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr


def test_push_sends_the_data_of_experiments_already_on_the_remote_to_a_new_data_remote(
        tmp_path, tmp_path_factory):
    """expdata set after a first push: the refs are up to date, their data is not there."""
    from tests.conftest import clone, copy_of_template, two_experiments
    from tests.remote_common import objects_under
    from tests.test_sharing import PIPELINE as CACHED, TRAIN as WRITES_MODELS

    ml = copy_of_template("review-sharing", two_experiments(WRITES_MODELS, CACHED),
                          tmp_path_factory, tmp_path / "repo")
    remote = ml.add_bare_remote(tmp_path / "remote.git", push=("main",))
    ml.exp("push", "origin")                    # data into remote.git/exp/cache
    store = tmp_path / "store"
    store.mkdir()
    ml.git("config", "remote.origin.expdata", str(store))
    again = ml.exp("push", "origin", "first")
    assert "Up to date: 'first'" in again.stdout
    # model.txt, the manifest of models/ and its two files
    assert "Sent 4 data objects" in again.stdout, again.stdout
    assert len(objects_under(store)) == 4
    assert "already has all" in ml.exp("push", "origin", "first").stdout

    other = clone(remote, tmp_path / "other")
    other.git("config", "remote.origin.expdata", str(store))
    other.exp("pull", "origin", "first")
    other.exp("apply", "first")
    assert (other.path / "models" / "a.bin").read_text() == "layer a 0.1\n"
    other.fsck()


STAGE = """\
stages:
  train:
    cmd: python3 train.py
    deps: [train.py, data/raw.csv]
    params: [train.lr]
    metrics:
    - metrics.json: {cache: false}
"""


@pytest.mark.parametrize("right, wrong, error, hint", [
    ("data/raw.csv]", "data/raw.cvs]", "exp.yaml:2:3: stage 'train' depends on 'data/raw.cvs', "
     "which does not exist", "hint: did you mean 'data/raw.csv'? create it"),
    ("[train.lr]", "[trian.lr]", "exp.yaml:2:3: stage 'train' tracks param 'trian.lr', but "
     "params.yaml has no such key", "hint: did you mean 'train.lr'? add 'trian.lr'"),
    ("deps:", "dpes:", "exp.yaml:4:5: unknown key 'dpes' in stage 'train' (did you mean 'deps'?)",
     "hint: allowed keys"),
    ("false}", "flase}", "exp.yaml:7:29: option 'cache' of 'metrics.json' in stage 'train' must be "
     "true or false, got a string", "hint: write 'cache: true' or 'cache: false'"),
])
def test_a_typo_in_exp_yaml_names_file_line_and_the_likely_fix(committed, right, wrong, error, hint):
    committed.gen({"train.py": TRAIN, "params.yaml": "train:\n  lr: 0.1\n",
                   "data": {"raw.csv": "x\n1\n"}, "exp.yaml": STAGE.replace(right, wrong, 1)})
    committed.commit("pipeline")
    proc = committed.exp("run", check=False)
    assert proc.returncode == 1
    assert f"error: {error}\n" in proc.stderr, proc.stderr
    assert hint in proc.stderr and "Traceback" not in proc.stderr


def test_init_says_when_a_default_dep_does_not_exist_yet(committed):
    """run would stop on it; init says so while the user is still choosing paths."""
    committed.gen({"src": {"train.py": "print(1)\n"}})
    proc = committed.exp("init", "python3", "src/train.py")
    assert "note: data does not exist yet; 'git exp run' needs it" in proc.stderr
    assert "--no-data" in proc.stderr and "src does not exist" not in proc.stderr
    committed.commit("pipeline")
    run = committed.exp("run", check=False)
    assert run.returncode == 1 and "depends on 'data', which does not exist" in run.stderr
    committed.exp("init", "-f", "--no-data", "python3", "src/train.py")
    assert "does not exist yet; 'git exp run'" not in committed.exp(
        "init", "-f", "--no-data", "python3", "src/train.py").stderr


@pytest.mark.parametrize("argv, code, hint", [
    (("-n", "0"), 129, "error: argument -n/--num: must be at least 1"),
    (("--limit", "-1"), 129, "error: argument --limit: must not be negative"),
    (("--drop", "("), 1, "hint: it is a Python regular expression searched in each column's name"),
])
def test_show_refusals_have_a_hint(ran, argv, code, hint):
    proc = ran.exp("show", *argv, check=False)
    assert proc.returncode == code and proc.stderr.startswith("error: ")
    assert hint in proc.stderr and "hint: " in proc.stderr


@pytest.mark.parametrize("break_it, argv, error, hint", [
    (("params.yaml", "train:\n  lr: 0.1\n   epochs: [\n"), ("run",),
     "error: params.yaml:3:10: mapping values are not allowed", "hint: fix the YAML syntax at that position"),
    (("exp.lock", "stages: 3\n"), ("run",),
     "error: exp.lock: 'stages' must be a mapping", "hint: restore it with 'git checkout -- exp.lock'"),
    (None, ("branch", "first", "bad..name"),
     "error: 'bad..name' is not a valid branch name", "(git check-ref-format: no spaces"),
])
def test_broken_params_lock_or_branch_name_get_a_hint(ran, break_it, argv, error, hint):
    if break_it:
        ran.gen({break_it[0]: break_it[1]})
    proc = ran.exp(*argv, check=False)
    assert proc.returncode == 1 and proc.stderr.startswith(error), proc.stderr
    assert hint in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("argv", [("queue", "start"), ("plots", "diff"), ("metrics", "show"),
                                  ("params", "diff")])
def test_sub_actions_offer_help_as_every_command_does(committed, argv):
    """--help opens the manual page, so an action's -h must not promise --help shows this text."""
    text = committed.exp(*argv, "-h").stdout
    assert re.search(r"^  -h +show this help and exit$", text, re.M), text
    assert "--help" not in text and "help message" not in text


def test_checkout_after_a_fetch_that_found_nothing_does_not_say_fetch_again(committed, tmp_path):
    from tests.conftest import clone
    committed.gen({"data": {"raw.csv": "x\n1\n"}})
    committed.exp("add", "data")
    committed.commit("data")
    remote = committed.add_bare_remote(tmp_path / "remote.git")
    committed.exp("push", "origin", check=False)      # nothing to push: creates nothing
    committed.git("push", "-q", "origin", "main")     # no hooks: the data stays here
    (remote / "exp" / "cache").mkdir(parents=True)    # an empty data remote
    other = clone(remote, tmp_path / "other")
    proc = other.exp("checkout", check=False)
    assert proc.returncode == 1
    assert "1 data object is not on the data remote" in proc.stderr
    assert "error: 1 object(s) of 1 data path(s) are not in the cache" in proc.stderr
    assert "hint: the data remote lacks them too" in proc.stderr and "git exp remote -v" in proc.stderr
    assert "git exp fetch" not in proc.stderr


@pytest.mark.parametrize("argv, hint", [
    (("run", "--temp", "-j", "2"), "hint: --queue and -j already run each experiment in a temporary checkout"),
    (("tag", "first", "-d"), "hint: git exp tag -d NAME TAG..."),
    (("note", "-d", "first", "text"), "hint: set a note with: git exp note NAME TEXT"),
    (("list", "--backups", "-A"), "hint: git exp list --backups"),
    (("plots", "show", "--open", "--json"), "hint: drop --open"),
    (("repro", "--dry", "--pull"), "hint: preview with 'git exp repro --dry'"),
])
def test_usage_refusals_found_after_parsing_have_a_hint(ran, argv, hint):
    proc = ran.exp(*argv, check=False)
    assert proc.returncode == 129 and proc.stderr.startswith("error: "), proc.stderr
    assert hint in proc.stderr


def test_a_stage_command_the_shell_cannot_find_says_so(committed):
    committed.gen({"exp.yaml": "stages:\n  s:\n    cmd: no-such-program-here --flag\n"})
    committed.commit("pipeline")
    proc = committed.exp("run", check=False)
    assert proc.returncode == 1
    assert ("error: stage 's' failed: its command exited with status 127 "
            "(the shell did not find the program)") in proc.stderr


def test_drop_leaves_out_the_notes_column_as_it_does_created_and_state(ran):
    ran.exp("note", "first", "the baseline run")
    assert "Notes" in ran.exp("show").stdout.splitlines()[0]
    header = ran.exp("show", "--drop", "Notes|Created").stdout.splitlines()[0]
    assert header.split() == ["Experiment", "loss", "train.lr"]
    md = ran.exp("show", "--md", "--drop", "^Notes$").stdout
    assert "Notes" not in md and "the baseline run" not in md
    assert "Notes" in ran.exp("show", "--drop", "Notes", "--keep", "Notes").stdout.splitlines()[0]


def test_set_param_in_a_file_that_does_not_exist_explains_file_prefix(ran):
    for argv in (("run", "-S", "nofile.yaml:a=1"), ("run", "--dry", "-S", "nofile.yaml:a=1")):
        proc = ran.exp(*argv, check=False)
        assert proc.returncode == 1
        assert "error: params file nofile.yaml does not exist" in proc.stderr
        assert "hint: -S FILE:KEY=VALUE edits FILE, a path from the repository root" in proc.stderr
        assert "exp.yaml" not in proc.stderr


def test_a_malformed_sweep_without_queue_says_what_is_wrong_with_it(ran):
    proc = ran.exp("run", "-S", "train.lr=range(1,x)", check=False)
    assert proc.returncode == 1
    assert "error: invalid sweep 'train.lr=range(1,x)': 'x' is not a number" in proc.stderr
    good = ran.exp("run", "-S", "train.lr=0.1,0.2", check=False)
    assert good.returncode == 1 and "is a sweep: it describes several experiments" in good.stderr


def test_a_misspelt_foreach_group_suggests_the_group(committed):
    committed.gen({"params.yaml": "sizes: [1, 2]\n", "exp.yaml": """\
stages:
  gen:
    foreach: ${sizes}
    do:
      cmd: echo ${item} > 'out-${item}.txt'
      outs: ['out-${item}.txt']
"""})
    committed.commit("pipeline")
    proc = committed.exp("run", "gne", check=False)
    assert proc.returncode == 1 and "error: unknown stage 'gne'" in proc.stderr
    assert "hint: did you mean 'gen'?" in proc.stderr
    committed.exp("run", "gen")          # the group's name runs its stages
    assert (committed.path / "out-2.txt").read_text() == "2\n"


def test_a_parallel_sweep_with_a_failed_point_ends_with_an_error_naming_it(ran):
    proc = ran.exp("run", "-j", "2", "-S", "train.lr=0.3,oops", "-n", "pair", check=False)
    assert proc.returncode == 1
    assert "error: 1 of 2 experiments did not succeed: pair-2 (failed)" in proc.stderr
    assert "hint: see why in its log: git exp logs pair-2" in proc.stderr
    assert "pair-1" in proc.stdout and "success" in proc.stdout


def test_plots_of_a_target_that_has_no_data_anywhere_is_an_error(ran):
    for argv in (("plots", "show", "nosuch.csv"), ("plots", "diff", "first", "-t", "nosuch.csv")):
        proc = ran.exp(*argv, check=False)
        assert proc.returncode == 1 and "error: no plots data in nosuch.csv" in proc.stderr, proc.stderr
        assert "hint: name a CSV, TSV, JSON or YAML file" in proc.stderr
    ran.gen({"curve.csv": "step,loss\n0,1\n1,0.5\n"})
    assert "charts of 1 revision" in ran.exp("plots", "show", "curve.csv").stderr   # exit 0
