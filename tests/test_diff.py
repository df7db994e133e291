"""`git exp diff`, `params diff`, `metrics show|diff` on real repositories."""
from __future__ import annotations

import json

import pytest

from tests.test_show import at, commit_at, make_exp, metrics, params

PIPELINE = """\
stages:
  train:
    cmd: python3 train.py
    metrics:
      - metrics.json:
          cache: false
"""


@pytest.fixture
def ml(project):
    project.gen({"exp.yaml": PIPELINE, "params.yaml": params(0.1), "metrics.json": metrics(0.5, 1.2)})
    commit_at(project, "pipeline", 0)
    make_exp(project, "fast", {"params.yaml": params(0.3), "metrics.json": metrics(0.6, 1.0)}, date=at(1))
    make_exp(project, "slow", {"params.yaml": params(0.01, 9), "metrics.json": metrics(0.9, 0.2)},
             date=at(2))
    return project


def test_default_is_head_against_the_workspace(ml):
    assert ml.exp("diff").stdout == ""   # nothing changed: nothing printed, as git diff
    ml.gen({"metrics.json": metrics(0.55, 1.2), "params.yaml": params(0.1, 4)})
    assert ml.exp("diff").stdout == (
        "Path          Metric  HEAD  workspace  Change\n"
        "────────────  ──────  ────  ─────────  ──────\n"
        "metrics.json  acc      0.5       0.55   +0.05\n"
        "\n"
        "Path         Param         HEAD  workspace  Change\n"
        "───────────  ────────────  ────  ─────────  ──────\n"
        "params.yaml  train.epochs     3          4      +1\n")


def test_two_experiments_side_by_side(ml):
    assert ml.exp("diff", "fast", "slow").stdout == (
        "Path          Metric  fast  slow  Change\n"
        "────────────  ──────  ────  ────  ──────\n"
        "metrics.json  acc      0.6   0.9    +0.3\n"
        "metrics.json  loss     1.0   0.2    -0.8\n"
        "\n"
        "Path         Param         fast  slow  Change\n"
        "───────────  ────────────  ────  ────  ──────\n"
        "params.yaml  train.lr       0.3  0.01   -0.29\n"
        "params.yaml  train.epochs     3     9      +6\n")


def test_one_argument_is_compared_with_the_workspace(ml):
    out = ml.exp("diff", "slow").stdout
    assert "slow  workspace" in out.splitlines()[0]
    assert "metrics.json  acc      0.9        0.5    -0.4" in out


def test_all_lists_unchanged_values_and_missing_ones_show_a_dash(ml):
    make_exp(ml, "extra", {"metrics.json": json.dumps({"acc": 0.6, "f1": 0.4}) + "\n"}, date=at(3))
    out = ml.exp("diff", "fast", "extra", "--all").stdout.splitlines()
    assert out[:5] == [
        "Path          Metric  fast  extra  Change",
        "────────────  ──────  ────  ─────  ──────",
        "metrics.json  acc      0.6    0.6       0",
        "metrics.json  loss     1.0      -       -",
        "metrics.json  f1         -    0.4       -"]
    changed = ml.exp("diff", "fast", "extra").stdout
    assert "acc" not in changed and "loss" in changed


def test_json_and_markdown(ml):
    data = json.loads(ml.exp("diff", "fast", "slow", "--json").stdout)
    fast = ml.git("rev-parse", f"refs/exps/{ml.head()}/fast").strip()
    assert data["a"] == {"name": "fast", "rev": fast}
    assert data["b"]["name"] == "slow" and len(data["b"]["rev"]) == 40
    assert data["metrics"] == {"metrics.json": {"acc": {"old": 0.6, "new": 0.9, "diff": 0.3},
                                                "loss": {"old": 1.0, "new": 0.2, "diff": -0.8}}}
    assert data["params"]["params.yaml"]["train.epochs"] == {"old": 3, "new": 9, "diff": 6}
    ws = json.loads(ml.exp("diff", "--json").stdout)
    assert ws["b"] == {"name": "workspace", "rev": None} and ws["metrics"] == {} and ws["params"] == {}
    md = ml.exp("diff", "fast", "slow", "--md").stdout
    assert md.startswith("| Path | Metric | fast | slow | Change |\n|---|---|---:|---:|---:|\n"
                         "| metrics.json | acc | 0.6 | 0.9 | +0.3 |\n")


def test_revisions_and_experiments_both_work(ml):
    ml.gen({"params.yaml": params(0.1, 5)})
    second = commit_at(ml, "five epochs", 10)
    out = ml.exp("diff", "HEAD~1", "HEAD").stdout
    assert "params.yaml  train.epochs       3     5      +2" in out
    sha_prefix = ml.git("rev-parse", "--short=8", f"refs/exps/{ml.git('rev-parse', 'HEAD~1').strip()}/slow")
    out = ml.exp("diff", sha_prefix.strip(), second).stdout
    assert "train.lr" in out


def test_an_experiment_name_wins_over_a_branch(ml):
    ml.git("branch", "fast", "HEAD")
    out = ml.exp("diff", "HEAD", "fast").stdout
    assert "metrics.json  acc      0.5   0.6    +0.1" in out


def test_unknown_names_are_errors_with_hints(ml):
    err = ml.exp("diff", "fsat", check=False)
    assert err.returncode == 1
    assert "error: 'fsat' is neither an experiment nor a revision" in err.stderr
    assert "did you mean fast" in err.stderr


def test_params_diff_and_metrics_diff_are_one_kind_each(ml):
    params_only = ml.exp("params", "diff", "fast", "slow").stdout
    assert params_only.startswith("Path         Param ") and "Metric" not in params_only
    metrics_only = ml.exp("metrics", "diff", "fast", "slow", "--json").stdout
    assert set(json.loads(metrics_only)) == {"a", "b", "metrics"}
    err = ml.exp("params", check=False)
    assert err.returncode == 129


def test_metrics_show(ml):
    assert ml.exp("metrics", "show").stdout == (
        "Revision   acc  loss\n"
        "─────────  ───  ────\n"
        "workspace  0.5   1.2\n")
    out = ml.exp("metrics", "show", "fast", "slow", "HEAD", "--md").stdout
    assert out == ("| Revision | acc | loss |\n|---|---:|---:|\n| fast | 0.6 | 1.0 |\n"
                   "| slow | 0.9 | 0.2 |\n| HEAD | 0.5 | 1.2 |\n")
    data = json.loads(ml.exp("metrics", "show", "slow", "--json").stdout)
    assert data == [{"name": "slow", "rev": data[0]["rev"],
                     "metrics": {"metrics.json": {"acc": 0.9, "loss": 0.2}}}]
    assert ml.exp("metrics", "show", "--csv").stdout == "name,rev,acc,loss\nworkspace,,0.5,1.2\n"
