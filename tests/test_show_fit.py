"""`git exp show` fits the terminal: an 80-column pty (script(1)), real experiments.

A table wider than the terminal loses the params equal in every row (a
line below names them and their values), then its widest text cells are
cut with `…`; it is never split into blocks of columns unless even that
cannot fit. --all-columns shows everything; a pipe is never narrowed.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from tests.test_show import at, commit_at, lines, make_exp, metrics, show

pytestmark = pytest.mark.skipif(shutil.which("script") is None, reason="script(1) is not installed")

WIDE_PARAMS = """\
train:
  lr: {lr}
  epochs: 10
  optimizer: {opt}
  scheduler: cosine-annealing-with-warm-restarts
model:
  hidden_layers: 4
  activation: gelu
"""

PIPELINE = """\
stages:
  train:
    cmd: python3 train.py
    params: [train.lr]
    metrics:
      - metrics.json:
          cache: false
"""


def on_tty(project, command: str, columns: int = 80) -> str:
    env = {**os.environ, "TERM": "dumb", "COLUMNS": str(columns), "LINES": "50"}
    proc = subprocess.run(["script", "-qec", command, "/dev/null"], cwd=project.path, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.replace("\r\n", "\n")


@pytest.fixture
def wide(project):
    project.gen({"exp.yaml": PIPELINE, "metrics.json": metrics(0.5, 1.2),
                 "params.yaml": WIDE_PARAMS.format(lr=0.1, opt="adam-with-decoupled-weight-decay")})
    commit_at(project, "pipeline", 0)
    for minute, (name, lr, opt) in enumerate([
            ("bold-otter", 0.2, "adam-with-decoupled-weight-decay"),
            ("a-much-longer-experiment-name", 0.05, "sgd-with-nesterov-momentum")], start=1):
        make_exp(project, name, {"params.yaml": WIDE_PARAMS.format(lr=lr, opt=opt),
                                 "metrics.json": metrics(0.7 + lr)}, date=at(10 * minute))
    return project


def test_at_80_columns_the_table_fits_without_blocks(wide):
    out = lines(on_tty(wide, "git exp --no-pager show"))
    start = next(i for i, line in enumerate(out) if "params hidden" in line)
    table, footer = out[:start], " ".join(line.strip() for line in out[start:])
    assert all(len(line) <= 80 for line in out), "\n".join(out)
    assert table[0].split()[:4] == ["Experiment", "Created", "acc", "loss"]
    assert len(table) == 2 + 4   # header, rule, workspace, main, two experiments: one block
    assert "train.lr" in table[0] and "train.opt" in table[0]
    # Equal on every row: hidden, named with their values, and the way to see them.
    assert "train.epochs" not in table[0] and "model.activation" not in table[0]
    assert footer.startswith("4 params hidden, the same in every row (--all-columns shows them): ")
    assert "train.epochs=10" in footer and "model.activation=gelu" in footer
    # Created is the time alone: every row is from the same day.
    assert table[3].split()[1] == "10:00"
    # A long name is cut, with an ellipsis; numbers never are.
    assert any("…" in line for line in table)
    assert "0.75" in "".join(table) and "0.9" in "".join(table)


def test_all_columns_and_pipes_show_everything(wide):
    full = on_tty(wide, "git exp --no-pager show --all-columns")
    assert "…" not in full and "model.activation" in full and "params hidden" not in full
    assert "[a-much-longer-experiment-name]" in full
    piped = show(wide).stdout
    assert "…" not in piped and "model.activation" in piped
    assert max(len(line) for line in lines(piped)) > 80


def test_created_is_a_date_when_rows_span_days(wide):
    make_exp(wide, "next-day", {"metrics.json": metrics(0.1)}, date="2024-01-03T09:00:00+00:00")
    out = show(wide, "--hide-workspace").stdout
    assert lines(out)[2].split()[:2] == ["main", "2024-01-02"]
    created = [line for line in lines(out) if "[next-day]" in line][0]
    assert "2024-01-03" in created and "09:00" not in created


def test_sha_column_and_csv_precision(wide):
    rows = json.loads(show(wide, "--json").stdout)
    out = lines(show(wide, "--sha", "--hide-workspace").stdout)
    assert out[0].split()[:3] == ["Experiment", "Rev", "Created"]
    assert out[2].split()[1] == rows[1]["rev"][:7]
    make_exp(wide, "precise", {"metrics.json": metrics(0.123456789)}, date=at(50))
    exact = show(wide, "--csv").stdout
    assert "0.123456789" in exact
    rounded = show(wide, "--csv", "--precision", "2").stdout
    assert "0.123456789" not in rounded and ",0.12," in rounded
    assert "| 0.12 |" in show(wide, "--md", "--precision", "2").stdout


def test_hide_queued(wide):
    wide.exp("run", "--queue", "-S", "train.lr=0.3", "-n", "waiting")
    rows = json.loads(show(wide, "--json").stdout)
    assert [r["state"] for r in rows if r["name"] == "waiting"] == ["queued"]
    rows = json.loads(show(wide, "--json", "--hide-queued").stdout)
    assert "waiting" not in [r["name"] for r in rows] and len(rows) == 4


def test_all_branches_and_all_tags(wide):
    main = wide.head()
    wide.git("checkout", "-q", "-b", "side")
    wide.gen({"metrics.json": metrics(0.2)})
    commit_at(wide, "side work", 40)
    make_exp(wide, "on-side", {"metrics.json": metrics(0.3)}, date=at(45))
    wide.git("checkout", "-q", "main")
    names = [r["name"] for r in json.loads(show(wide, "--json").stdout)]
    assert "on-side" not in names
    names = [r["name"] for r in json.loads(show(wide, "--json", "-a").stdout)]
    assert "side" in names and "on-side" in names
    wide.git("tag", "-a", "-m", "release", "v2", "side")
    wide.git("checkout", "-q", "--detach", main)
    wide.git("branch", "-q", "-D", "side")
    names = [r["name"] for r in json.loads(show(wide, "--json", "-T").stdout)]
    assert "on-side" in names
