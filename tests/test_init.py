"""git exp init: the walkthrough's questions, the options, and merging into exp.yaml."""
from __future__ import annotations

import subprocess

import pytest
import yaml

from git_exp import scaffold_text

PARAMS = "# learning\ntrain:\n  lr: 0.1\n  epochs: 3\nprepare:\n  split: 0.2\n"

WALKTHROUGH_STAGE = """\
stages:
  default:
    cmd: python src/train.py
    deps:
    - src
    - data/raw
    params:
    - train
    - prepare
    metrics:
    - metrics.json:
        cache: false
    plots:
    - logs.csv:
        cache: false
"""

EXISTING = """\
# The pipeline. Keep this comment.
vars:
  - base: 1
stages:
  # prepares the data
  prepare:
    cmd: python prepare.py   # a comment on the command
    outs:
    - data/prepared

# plots compare runs
plots:
- logs.csv
"""


def answers(*lines: str) -> str:
    return "".join(line + "\n" for line in lines)


def test_interactive_walkthrough_writes_the_stage(project):
    project.gen({"params.yaml": PARAMS})
    # command, code (default), data, models ('n' omits), params, metrics, plots, confirm
    proc = project.exp("init", "-i", input=answers(
        "python src/train.py", "", "data/raw", "n", "", "", "logs.csv", ""))
    assert project.read("exp.yaml") == WALKTHROUGH_STAGE
    for question in ("Command to execute", "Path to a code file/directory [src]",
                     "Path to a data file/directory [data]", "Path to a model file/directory [models]",
                     "Path to a parameters file [params.yaml]", "Path to a metrics file [metrics.json]",
                     "Path to a plots file/directory [plots]",
                     "Do you want to add the above contents to exp.yaml? [Y/n]"):
        assert question in proc.stderr
    # The stage is shown before the question that confirms it.
    shown = proc.stderr.index(WALKTHROUGH_STAGE)
    assert shown < proc.stderr.index("Do you want to add")
    assert "Created exp.yaml with stage 'default'" in proc.stderr


def test_interactive_options_become_the_defaults(project):
    proc = project.exp("init", "-i", "--no-plots", "--data", "inputs", "python", "train.py",
                       input=answers("", "", "", "", "n", "n", "", "y"))
    assert "Command to execute [python train.py]" in proc.stderr
    assert "Path to a data file/directory [inputs]" in proc.stderr
    assert "Path to a plots file/directory [n]" in proc.stderr
    assert yaml.safe_load(project.read("exp.yaml")) == {"stages": {"default": {
        "cmd": "python train.py", "deps": ["src", "inputs"], "outs": ["models"]}}}


def test_empty_command_is_asked_again(project):
    proc = project.exp("init", "-i", "--no-params", input=answers(
        "", "  ", "make train", "n", "n", "n", "", "n", "n", "Y"))
    assert proc.stderr.count("Command to execute") == 3
    assert project.read("exp.yaml") == "stages:\n  default:\n    cmd: make train\n"


@pytest.mark.parametrize("given, missing", [
    ("", "the command to execute"),
    ("python train.py\nsrc\n", "the data path"),
    ("python train.py\n\n\n\n\n\n\n", "the confirmation"),
])
def test_end_of_input_writes_nothing(project, given, missing):
    proc = project.exp("init", "-i", input=given, check=False)
    assert proc.returncode == 1
    assert f"error: init aborted: no answer for {missing}" in proc.stderr
    assert "nothing was written" in proc.stderr
    assert not (project.path / "exp.yaml").exists()


def test_declining_writes_nothing(project):
    project.gen({"exp.yaml": EXISTING})
    proc = project.exp("init", "-i", input=answers("python t.py", "", "", "", "", "", "", "maybe", "n"),
                       check=False)
    assert proc.returncode == 1
    assert "Please answer y or n." in proc.stderr
    assert "Nothing written" in proc.stderr
    assert project.read("exp.yaml") == EXISTING


def test_interactive_refuses_an_existing_stage_before_asking(project):
    project.gen({"exp.yaml": EXISTING})
    proc = project.exp("init", "-i", "--name", "prepare", input="", check=False)
    assert proc.returncode == 1
    assert "error: stage 'prepare' already exists in exp.yaml" in proc.stderr
    assert "Command to execute" not in proc.stderr


def test_non_interactive_defaults(project):
    proc = project.exp("init", "python", "src/train.py", "--epochs", "3")
    assert project.read("exp.yaml") == """\
stages:
  default:
    cmd: python src/train.py --epochs 3
    deps:
    - src
    - data
    params:
    - params.yaml:
    outs:
    - models
    metrics:
    - metrics.json:
        cache: false
    plots:
    - plots:
        cache: false
"""
    assert "note: params.yaml does not exist yet" in proc.stderr


def test_non_interactive_options(project):
    project.gen({"conf": {"hp.json": '{"lr": 0.1, "layers": [1, 2]}'}})
    project.exp("init", "--no-code", "--data", "./raw//images/", "--models", "", "--params", "conf/hp.json",
                "--metrics", "out/scores.json", "--no-plots", "-n", "fit", "--", "python train.py --help")
    assert project.read("exp.yaml") == """\
stages:
  fit:
    cmd: python train.py --help
    deps:
    - raw/images
    params:
    - conf/hp.json:
      - lr
      - layers
    metrics:
    - out/scores.json:
        cache: false
"""


def test_commands_that_need_quoting_read_back_exactly(project):
    for i, cmd in enumerate(["echo a: b # c", "'quoted' start", "true", "printf '%s\\n' {x}"]):
        project.exp("init", "--name", f"s{i}", "--no-params", cmd)
    stages = yaml.safe_load(project.read("exp.yaml"))["stages"]
    assert [s["cmd"] for s in stages.values()] == [
        "echo a: b # c", "'quoted' start", "true", "printf '%s\\n' {x}"]


def test_adds_to_an_existing_file_keeping_everything_else(project):
    project.gen({"exp.yaml": EXISTING, "params.yaml": PARAMS})
    project.exp("init", "--no-data", "--no-metrics", "--no-plots", "python train.py")
    assert project.read("exp.yaml") == EXISTING.replace("    - data/prepared\n", """\
    - data/prepared
  default:
    cmd: python train.py
    deps:
    - src
    params:
    - train
    - prepare
    outs:
    - models
""")


def test_existing_stage_needs_force(project):
    project.gen({"exp.yaml": EXISTING})
    proc = project.exp("init", "--name", "prepare", "python other.py", check=False)
    assert proc.returncode == 1
    assert "error: stage 'prepare' already exists in exp.yaml" in proc.stderr
    assert "hint: use -f to replace it" in proc.stderr
    assert project.read("exp.yaml") == EXISTING

    proc = project.exp("init", "-f", "--name", "prepare", "--no-code", "--no-params", "--no-models",
                       "--no-metrics", "--no-plots", "python other.py")
    assert "Replaced stage 'prepare' in exp.yaml" in proc.stderr
    assert project.read("exp.yaml") == EXISTING.replace("""\
  prepare:
    cmd: python prepare.py   # a comment on the command
    outs:
    - data/prepared
""", """\
  prepare:
    cmd: python other.py
    deps:
    - data
""")


def test_replacing_a_middle_stage_keeps_its_neighbours(project):
    text = ("stages:\n    a:\n        cmd: echo a\n\n    # b comes next\n    b:\n        cmd: echo b\n"
            "        deps:\n            - x\n    c:\n        cmd: echo c\n")
    project.gen({"exp.yaml": text})
    project.exp("init", "-f", "-n", "b", "--no-code", "--no-data", "--no-params", "--no-models",
                "--no-metrics", "--no-plots", "echo B")
    assert project.read("exp.yaml") == text.replace(
        "    b:\n        cmd: echo b\n        deps:\n            - x\n", "    b:\n        cmd: echo B\n")


def test_writes_at_the_root_with_paths_from_the_root(project):
    project.gen({"sub": {"deeper": {}}})
    cwd = project.path / "sub" / "deeper"
    code = project.path / "sub" / "code"
    proc = subprocess.run(["git", "exp", "init", "--no-params", "--code", str(code), "make"],
                          cwd=cwd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert yaml.safe_load(project.read("exp.yaml"))["stages"]["default"]["deps"] == ["sub/code", "data"]
    assert not (cwd / "exp.yaml").exists()


def test_paths_outside_the_repository_are_refused(project, tmp_path):
    for path in ("../elsewhere", str(tmp_path)):
        proc = project.exp("init", "--data", path, "make", check=False)
        assert proc.returncode == 1
        assert "is outside the repository" in proc.stderr
    assert not (project.path / "exp.yaml").exists()


def test_bad_stage_names_and_flow_style_are_refused(project):
    proc = project.exp("init", "--name", "a/b", "make", check=False)
    assert proc.returncode == 1 and "invalid stage name 'a/b'" in proc.stderr

    project.gen({"exp.yaml": "stages: {a: {cmd: x}}\n"})
    proc = project.exp("init", "make", check=False)
    assert proc.returncode == 1
    assert "exp.yaml:1:9: cannot add a stage" in proc.stderr
    assert project.read("exp.yaml") == "stages: {a: {cmd: x}}\n"


def test_broken_yaml_is_reported_with_its_position(project):
    project.gen({"exp.yaml": "stages:\n  a:\n    cmd: [x\n"})
    proc = project.exp("init", "make", check=False)
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: exp.yaml:4:1: ")


def test_usage_errors(project, tmp_path):
    proc = project.exp("init", check=False)
    assert proc.returncode == 129 and "no command to execute" in proc.stderr
    outside = tmp_path / "plain"
    outside.mkdir()
    proc = subprocess.run(["git", "exp", "init", "make"], cwd=outside, capture_output=True, text=True)
    assert proc.returncode == 128


# The merge on texts that are awkward to build through the command line.

def _merge(text):
    request = scaffold_text.StageRequest(cmd="run", name="new", code=None, data=None, models=None,
                                    params=None, metrics=None, plots=None)
    return scaffold_text.merge_stage(text, request, None, force=False)[0]


@pytest.mark.parametrize("before, after", [
    ("", "stages:\n  new:\n    cmd: run\n"),
    ("# only a comment", "# only a comment\nstages:\n  new:\n    cmd: run\n"),
    ("vars:\n- a: 1", "vars:\n- a: 1\nstages:\n  new:\n    cmd: run\n"),
    ("stages:", "stages:\n  new:\n    cmd: run\n"),
    ("stages:\nvars: []\n", "stages:\n  new:\n    cmd: run\nvars: []\n"),
    ("stages:\n  a:\n    cmd: x", "stages:\n  a:\n    cmd: x\n  new:\n    cmd: run\n"),
    ("stages:\n  a:\n    cmd: x\n    # inside a\n\n# before vars\nvars: []\n",
     "stages:\n  a:\n    cmd: x\n    # inside a\n  new:\n    cmd: run\n\n# before vars\nvars: []\n"),
])
def test_merge_texts(before, after):
    assert _merge(before) == after
    assert yaml.safe_load(after)["stages"]["new"] == {"cmd": "run"}


def test_params_file_errors_and_unknown_formats(project):
    project.gen({"params.yaml": "train:\n  lr: [0.1\n", "params.py": "LR = 0.1\n"})
    proc = project.exp("init", "make", check=False)
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: params.yaml:3:1: ")
    assert not (project.path / "exp.yaml").exists()

    project.exp("init", "--params", "params.py", "make")
    assert yaml.safe_load(project.read("exp.yaml"))["stages"]["default"]["params"] == [{"params.py": None}]
