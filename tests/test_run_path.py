"""`git exp run -S`'s own path: what it imports, what it asks Git early, and the
plain classes that replaced dataclasses on it (issue 20: run -S >= 12x DVC).

Checked by what gets loaded and by results, never by timing.
"""
from __future__ import annotations

import copy
import pickle

import pytest

from tests.conftest import Project
from tests.test_startup import loaded_modules

TRAIN = """\
import json
lr = None
for line in open("params.yaml"):
    if line.strip().startswith("lr:"):
        lr = float(line.split(":", 1)[1])
open("model.bin", "wb").write(bytes(int(lr * 1000)))
json.dump({"loss": lr}, open("metrics.json", "w"))
"""

PIPELINE = """\
stages:
  train:
    cmd: python3 train.py
    deps: [train.py]
    params: [train.lr]
    outs: [model.bin]
    metrics:
      - metrics.json:
          cache: false
"""


@pytest.fixture
def trivial(committed: Project) -> Project:
    committed.gen({"train.py": TRAIN, "params.yaml": "train:\n  lr: 0.1\n", "exp.yaml": PIPELINE})
    committed.commit("pipeline")
    committed.exp("run")
    return committed


def test_run_with_a_param_loads_no_module_only_other_commands_need(trivial):
    mods = loaded_modules("run", "-S", "train.lr=0.2", cwd=trivial.path)
    # socket: a queue claim's owner check; decimal: range() sweeps; difflib: error suggestions;
    # dataclasses (and the inspect, ast, dis it loads): plain classes on this path instead;
    # typing: annotations only, under TYPE_CHECKING (~2 ms to import); shutil (bz2, lzma),
    # tempfile and random (~3 ms): atomic.make_temp, os.urandom names, a plain index copy.
    assert not {"socket", "decimal", "difflib", "dataclasses", "inspect", "typing",
                "shutil", "tempfile", "random", "bz2", "lzma"} & mods
    assert trivial.git("show", "-s", "--format=%s", _latest(trivial)).startswith("exp: ")
    assert "lr: 0.2" in trivial.read("params.yaml")


def _latest(project: Project) -> str:
    out = project.git("for-each-ref", "--sort=-creatordate", "--count=1", "--format=%(objectname)",
                      "refs/exps/")
    return out.strip()


def test_the_prefetched_listing_asks_what_names_in_use_asks():
    from git_exp.experiments import prefetch
    from git_exp.queue import entries
    assert prefetch.NAMES_LISTING == entries.NAMES_LISTING


def test_a_big_cached_out_not_yet_ignored_is_not_refused(committed):
    # The prefetched `ls-files --others` lists model.bin (not ignored yet); run
    # then ignores it, so that listing is stale and must be taken again.
    committed.gen({"train.py": TRAIN, "params.yaml": "train:\n  lr: 3\n", "exp.yaml": PIPELINE})
    committed.commit("pipeline")
    committed.git("config", "exp.maxCommitFileSize", "1k")
    (committed.path / "model.bin").write_bytes(bytes(4096))
    proc = committed.exp("run", "-S", "train.lr=2.5")
    assert "recorded" in proc.stdout
    assert "/model.bin" in committed.read(".gitignore")
    committed.fsck()


def test_a_big_untracked_file_still_stops_the_run_before_it_starts(trivial):
    trivial.git("config", "exp.maxCommitFileSize", "1k")
    (trivial.path / "notes.bin").write_bytes(bytes(4096))
    before = trivial.read("params.yaml")
    proc = trivial.exp("run", "-S", "train.lr=0.3", check=False)
    assert proc.returncode == 1 and "notes.bin" in proc.stderr
    assert trivial.read("params.yaml") == before     # refused before the -S edit


def test_queued_names_and_experiment_names_stay_taken(trivial):
    trivial.exp("run", "--queue", "-S", "train.lr=0.4", "-n", "later")
    proc = trivial.exp("run", "-S", "train.lr=0.5", "-n", "later", check=False)
    assert proc.returncode == 1 and "a queued experiment is already named 'later'" in proc.stderr
    trivial.exp("run", "-S", "train.lr=0.6", "-n", "now")
    proc = trivial.exp("run", "-S", "train.lr=0.7", "-n", "now", check=False)
    assert proc.returncode == 1 and "an experiment named 'now' already exists" in proc.stderr


def test_pipeline_records_compare_hash_copy_and_stay_read_only():
    from git_exp.pipeline.records import Output, Pipeline, Stage
    out = Output("model.bin", "out", True, False, False, {}, None, ("exp.yaml", 3, 4))
    same = Output("model.bin", "out", True, False, False, {}, None, ("exp.yaml", 9, 9))
    assert out == same                       # where it was written is not compared
    assert out != Output("model.bin", "out", False, False, False, {}, None, None)
    stage = Stage("train", ["python3 train.py"], ".", ["train.py"], {}, [out], False, False, None,
                  ("exp.yaml", 2, 3))
    pipeline = Pipeline("exp.yaml", {"train": stage}, ["params.yaml"], [], [])
    for record in (out, stage, pipeline):
        assert copy.copy(record) == record and copy.deepcopy(record) == record
        assert pickle.loads(pickle.dumps(record)) == record
        with pytest.raises(AttributeError):
            record.path = "x"                # type: ignore[misc]
    assert stage.metrics == [] and copy.deepcopy(out).location == ("exp.yaml", 3, 4)


def test_exp_refs_and_overrides_are_values():
    from git_exp.experiments.refs import ExpRef
    from git_exp.params.overrides import parse_override
    ref = ExpRef("refs/exps/" + "a" * 40 + "/x", "a" * 40, "x", "b" * 40)
    assert {ref, copy.copy(ref)} == {ref} and pickle.loads(pickle.dumps(ref)) == ref
    with pytest.raises(AttributeError):
        ref.name = "y"                       # type: ignore[misc]
    assert parse_override("train.lr=0.5") == parse_override("train.lr=0.5")
    assert parse_override("train.lr=0.5") != parse_override("train.lr=0.6")
    assert str(copy.deepcopy(parse_override("+a.b=1"))) == "+a.b=1"


@pytest.mark.parametrize("argv", [
    ["-S", "train.lr=0.2"],
    ["--set-param", "train.lr=0.2", "-S", "other.yaml:a.b=x y", "-S", "~train.old", "-S", "+n=1"],
])
def test_run_with_only_sets_reads_them_as_argparse_does(argv):
    from git_exp.commands import build_parser
    from git_exp.commands import run as run_verb
    sets = run_verb._only_sets(argv)
    assert sets is not None
    assert vars(run_verb._RunArgs(sets)) == vars(build_parser("run", run_verb).parse_args(argv))


@pytest.mark.parametrize("argv", [
    ["-S"], ["-S", "a=1", "-q"], ["-Sa=1", "-S", "b=2"], ["-S", "-1"], ["-S", ""],
    ["-S", "a=1", "train"], ["--set", "a=1"], ["-n", "x"], ["-S", "a=1", "-h"], ["--dry", "-S"],
])
def test_anything_else_goes_to_argparse(argv):
    from git_exp.commands import run as run_verb
    assert run_verb._only_sets(argv) is None


def test_run_with_only_sets_does_not_load_argparse(trivial):
    mods = loaded_modules("run", "-S", "train.lr=0.3", cwd=trivial.path)
    assert "argparse" not in mods
    assert "lr: 0.3" in trivial.read("params.yaml")
    # (Every experiment's message: the fixture's own run may share its second.)
    assert "Exp-Param: train.lr=0.3" in trivial.git("for-each-ref", "--format=%(contents)", "refs/exps/")
    # An error of the run itself still ends as an error, not a traceback.
    proc = trivial.exp("run", "-S", "train.nosuch=1", check=False)
    assert proc.returncode == 1 and proc.stderr.startswith("error:")


def test_settings_read_ahead_still_stop_a_run_before_files_change(trivial):
    # The prefetch thread reads the settings (Git config and a committed .expconfig)
    # while the runner is imported; the size limit they set still applies.
    trivial.gen({".expconfig": "[exp]\n\tmaxCommitFileSize = 1k\n"})
    trivial.commit("team settings")
    (trivial.path / "notes.bin").write_bytes(bytes(4096))
    before = trivial.read("params.yaml")
    proc = trivial.exp("run", "-S", "train.lr=0.4", check=False)
    assert proc.returncode == 1 and "notes.bin" in proc.stderr
    assert trivial.read("params.yaml") == before
    trivial.git("config", "exp.maxCommitFileSize", "1m")   # the user's Git config wins
    assert "recorded" in trivial.exp("run", "-S", "train.lr=0.4").stdout
