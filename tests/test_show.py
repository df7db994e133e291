"""`git exp show` end to end: real repositories, experiments as real commits.

Experiments are built with Git plumbing (read-tree, hash-object,
commit-tree, update-ref) and the message format `git exp run` writes, so
every date is fixed and the expected tables are exact.
"""
from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys

import pytest

from git_exp.experiments.record import Outcome, build_message

PIPELINE = """\
stages:
  train:
    cmd: python3 train.py
    params: [train.lr]
    metrics:
      - metrics.json:
          cache: false
"""


def params(lr, epochs=3) -> str:
    return f"train:\n  lr: {lr}\n  epochs: {epochs}\n"


def metrics(acc, loss=0.5) -> str:
    return json.dumps({"acc": acc, "loss": loss}) + "\n"


def at(minute: int) -> str:
    return f"2024-01-02T10:{minute:02d}:00+00:00"


def make_exp(project, name: str, files: dict, *, baseline: str | None = None,
             status: str = "success", date: str = at(30)) -> str:
    """An experiment commit of BASELINE with FILES changed, and its ref."""
    baseline = baseline or project.head()
    env = dict(os.environ, GIT_INDEX_FILE=str(project.path.parent / f"index-{name}"),
               GIT_COMMITTER_DATE=date, GIT_AUTHOR_DATE=date)

    def git(*args, input=None):
        return subprocess.run(["git", *args], cwd=project.path, env=env, input=input, text=True,
                              check=True, stdout=subprocess.PIPE).stdout.strip()

    git("read-tree", baseline)
    for path, text in files.items():
        oid = git("hash-object", "-w", "--stdin", input=text)
        git("update-index", "--add", "--cacheinfo", f"100644,{oid},{path}")
    tree = git("write-tree")
    message = build_message(name, Outcome(status=status, exit_code=0 if status == "success" else 1))
    sha = git("commit-tree", tree, "-p", baseline, input=message)
    git("update-ref", f"refs/exps/{baseline}/{name}", sha)
    return sha


def commit_at(project, message: str, minute: int) -> str:
    env = {"GIT_COMMITTER_DATE": at(minute), "GIT_AUTHOR_DATE": at(minute)}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return project.commit(message)
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def ml(project):
    """main with a pipeline, params 0.1 / metrics 0.5 committed at 10:00."""
    project.gen({"exp.yaml": PIPELINE, "params.yaml": params(0.1), "metrics.json": metrics(0.5, 1.2)})
    commit_at(project, "pipeline", 0)
    return project


def show(project, *args, check=True, **kw):
    return project.exp("show", *args, check=check, **kw)


def lines(text: str) -> list[str]:
    return text.rstrip("\n").split("\n")


def three(project):
    """Three experiments of HEAD: bold-otter (10:10), calm-fox (10:20), dry-cat (10:30)."""
    base = project.head()
    shas = {
        "bold-otter": make_exp(project, "bold-otter", {"params.yaml": params(0.2),
                                                       "metrics.json": metrics(0.7)}, date=at(10)),
        "calm-fox": make_exp(project, "calm-fox", {"params.yaml": params(0.05),
                                                   "metrics.json": metrics(0.9)}, date=at(20)),
        "dry-cat": make_exp(project, "dry-cat", {"params.yaml": params(0.01),
                                                 "metrics.json": metrics(0.95)}, date=at(30)),
    }
    return base, {k: v[:7] for k, v in shas.items()}


# ------------------------------------------------------------------ layout


def test_tree_layout_is_exact(ml):
    _, s = three(ml)
    out = show(ml).stdout
    assert out == (
        "Experiment                Created   acc  loss  train.lr  train.epochs\n"
        "────────────────────────  ───────  ────  ────  ────────  ────────────\n"
        "workspace                 -         0.5   1.2       0.1             3\n"
        "main                      10:00     0.5   1.2       0.1             3\n"
        f"├── {s['dry-cat']} [dry-cat]     10:30    0.95   0.5      0.01             3\n"
        f"├── {s['calm-fox']} [calm-fox]    10:20     0.9   0.5      0.05             3\n"
        f"└── {s['bold-otter']} [bold-otter]  10:10     0.7   0.5       0.2             3\n")


def test_experiments_of_the_same_second_come_in_number_order(ml):
    # Sweep points that end in the same second: sw-2 before sw-10, not after it as text.
    for name in ("sw-10", "sw-2", "sw-1"):
        make_exp(ml, name, {"params.yaml": params(0.3)}, date=at(40))
    names = [row["name"] for row in json.loads(show(ml, "--json").stdout)]
    assert names[2:] == ["sw-1", "sw-2", "sw-10"], names


def test_workspace_row_reads_the_work_tree_and_others_read_git(ml):
    three(ml)
    ml.gen({"params.yaml": params(0.3), "metrics.json": metrics(0.1)})
    rows = json.loads(show(ml, "--json").stdout)
    assert rows[0]["name"] == "workspace"
    assert rows[0]["params"]["params.yaml"]["train.lr"] == 0.3
    assert rows[0]["metrics"]["metrics.json"]["acc"] == 0.1
    assert rows[1]["params"]["params.yaml"]["train.lr"] == 0.1   # HEAD, from Git
    assert rows[1]["metrics"]["metrics.json"]["acc"] == 0.5


def test_state_column_only_when_a_row_is_not_a_plain_success(ml):
    make_exp(ml, "good", {"metrics.json": metrics(0.6)}, date=at(10))
    assert "State" not in lines(show(ml).stdout)[0]
    bad = make_exp(ml, "bad", {"metrics.json": metrics(0.1)}, status="failed", date=at(20))
    out = lines(show(ml).stdout)
    assert out[0].split()[:3] == ["Experiment", "Created", "State"]
    assert out[4].startswith(f"├── {bad[:7]} [bad]")
    assert out[4].split()[4] == "failed"   # Created is one word: every row is from one day
    assert out[5].split()[4] == "success"
    assert lines(show(ml, "--hide-failed").stdout)[4:] == [
        l for l in lines(show(ml, "--hide-failed").stdout)[4:] if "[good]" in l]
    hidden = show(ml, "--hide-failed").stdout
    assert "[bad]" not in hidden and "[good]" in hidden and "State" not in hidden


def test_missing_values_are_a_dash(ml):
    make_exp(ml, "partial", {"metrics.json": json.dumps({"acc": 0.8}) + "\n"}, date=at(5))
    row = [l for l in lines(show(ml).stdout) if "[partial]" in l][0]
    assert row.split()[4:] == ["0.8", "-", "0.1", "3"]


def test_column_gets_a_file_prefix_only_where_two_files_share_a_key(ml):
    ml.gen({"exp.yaml": PIPELINE + "metrics:\n  - eval.json\n",
            "eval.json": json.dumps({"acc": 0.4, "auc": 0.9}) + "\n"})
    ml.commit("eval metrics")
    header = lines(show(ml).stdout)[0].split()
    assert header == ["Experiment", "Created", "eval.json:acc", "auc", "metrics.json:acc", "loss",
                      "train.lr", "train.epochs"] or header == [
        "Experiment", "Created", "metrics.json:acc", "loss", "eval.json:acc", "auc",
        "train.lr", "train.epochs"]
    err = show(ml, "--sort-by", "acc", check=False)
    assert err.returncode == 1
    assert "'acc' is ambiguous" in err.stderr and "eval.json:acc" in err.stderr
    assert show(ml, "--sort-by", "eval.json:acc").returncode == 0


# --------------------------------------------------------------- selection


@pytest.fixture
def history(ml):
    """Two commits on main with experiments each, and a tag on the first."""
    first = ml.head()
    make_exp(ml, "old-one", {"metrics.json": metrics(0.6)}, baseline=first, date=at(5))
    ml.git("tag", "v1")
    ml.gen({"params.yaml": params(0.1, epochs=5)})
    second = commit_at(ml, "more epochs", 40)
    make_exp(ml, "new-one", {"metrics.json": metrics(0.8)}, baseline=second, date=at(45))
    return first, second


def names(out: str) -> list[str]:
    return [l.split("  ")[0].strip() for l in lines(out)[2:]]


@pytest.fixture
def hist(ml, history):
    return ml, history


def test_selection_default_all_num_and_rev(hist):
    project, (first, second) = hist
    assert [n.split(" [")[-1] for n in names(show(project).stdout)] == [
        "workspace", "main", "new-one]"]
    everything = names(show(project, "-A").stdout)
    assert everything[:3] == ["workspace", "main", f"└── {everything[2][4:11]} [new-one]"]
    assert everything[3] == "v1" and everything[4].endswith("[old-one]")
    assert names(show(project, "-n", "2").stdout)[3:] == everything[3:]
    only_old = names(show(project, "--rev", "v1", "--hide-workspace").stdout)
    assert only_old[0] == "v1" and only_old[1].endswith("[old-one]") and len(only_old) == 2
    both = names(show(project, "--rev", first, "--rev", "main").stdout)
    assert [n for n in both if not n.startswith(("├", "└"))] == ["workspace", "v1", "main"]
    err = show(project, "--rev", "nope", check=False)
    assert err.returncode == 1 and "unknown revision 'nope'" in err.stderr


def test_hide_workspace(ml):
    three(ml)
    out = names(show(ml, "--hide-workspace").stdout)
    assert out[0] == "main" and "workspace" not in out


# -------------------------------------------------------- sort, filter, cut


def test_sort_by_key_and_order_with_missing_rows_last(ml):
    three(ml)
    make_exp(ml, "no-metrics", {"metrics.json": "{}\n"}, date=at(40))
    asc = [n.split("[")[1][:-1] for n in names(show(ml, "--sort-by", "acc").stdout) if "[" in n]
    assert asc == ["bold-otter", "calm-fox", "dry-cat", "no-metrics"]
    desc = [n.split("[")[1][:-1] for n in
            names(show(ml, "--sort-by", "metrics.json:acc", "--sort-order", "desc").stdout) if "[" in n]
    assert desc == ["dry-cat", "calm-fox", "bold-otter", "no-metrics"]
    by_param = [n.split("[")[1][:-1] for n in names(show(ml, "--sort-by", "train.lr").stdout) if "[" in n]
    assert by_param == ["dry-cat", "calm-fox", "no-metrics", "bold-otter"]
    err = show(ml, "--sort-by", "acu", check=False)
    assert err.returncode == 1 and "no metric or param named 'acu'" in err.stderr
    assert "did you mean acc" in err.stderr


def test_where_keeps_matching_experiments_under_their_baseline(ml):
    three(ml)
    out = names(show(ml, "--where", "acc > 0.8 and train.lr <= 0.05").stdout)
    assert [n.split("[")[-1] for n in out] == ["main", "dry-cat]", "calm-fox]"]
    out = names(show(ml, "--where", "acc < 0.6 or train.lr == 0.2").stdout)
    assert [n.split("[")[-1] for n in out] == ["workspace", "main", "bold-otter]"]
    none = show(ml, "--where", "acc > 2").stdout
    assert names(none) == []


def test_where_errors_point_at_the_bad_token(ml):
    three(ml)
    err = show(ml, "--where", "acc > 0.9 and lr_typo < 1", check=False)
    assert err.returncode == 1
    assert err.stderr.splitlines()[:3] == [
        "error: bad --where expression: no metric or param named 'lr_typo' in the rows shown",
        "    acc > 0.9 and lr_typo < 1",
        "                  ^"]
    err = show(ml, "--where", "acc >> 1", check=False)
    assert err.stderr.splitlines()[1:3] == ["    acc >> 1", "         ^"]


def test_limit_keeps_the_first_experiments_in_order(ml):
    three(ml)
    out = names(show(ml, "--limit", "2").stdout)
    assert [n.split("[")[-1] for n in out] == ["workspace", "main", "dry-cat]", "calm-fox]"]
    out = names(show(ml, "--limit", "1", "--sort-by", "acc").stdout)
    assert [n.split("[")[-1] for n in out] == ["workspace", "main", "bold-otter]"]
    assert out[2].startswith("└──")


def test_limit_across_commits_drops_baselines_left_empty(hist):
    project, _ = hist
    out = names(show(project, "-A", "--sort-by", "acc", "--limit", "1").stdout)
    assert [n.split("[")[-1] for n in out] == ["workspace", "v1", "old-one]"]


def test_only_changed_drop_and_keep(ml):
    three(ml)
    header = lines(show(ml, "--only-changed").stdout)[0].split()
    assert header == ["Experiment", "Created", "acc", "loss", "train.lr"]
    header = lines(show(ml, "--only-changed", "--drop", "^loss$", "--keep", "epochs").stdout)[0].split()
    assert header == ["Experiment", "Created", "acc", "train.lr", "train.epochs"]
    header = lines(show(ml, "--drop", "train\\.", "--drop", "Created").stdout)[0].split()
    assert header == ["Experiment", "acc", "loss"]
    header = lines(show(ml, "--drop", ".", "--keep", "params.yaml:").stdout)[0].split()
    assert header == ["Experiment", "train.lr", "train.epochs"]
    err = show(ml, "--drop", "(", check=False)
    assert err.returncode == 1 and "--drop: invalid regular expression '('" in err.stderr


def test_precision(ml):
    make_exp(ml, "precise", {"metrics.json": metrics(0.123456789, 0.00001234),
                             "params.yaml": params(0.000003)}, date=at(5))
    row = [l for l in lines(show(ml).stdout) if "[precise]" in l][0].split()
    assert row[4:] == ["0.12346", "0.00001", "3e-06", "3"]
    row = [l for l in lines(show(ml, "--precision", "2").stdout) if "[precise]" in l][0].split()
    assert row[4:] == ["0.12", "1.2e-05", "3e-06", "3"]
    main = [l for l in lines(show(ml, "--precision", "3").stdout) if l.startswith("main")][0].split()
    assert main[2:] == ["0.5", "1.2", "0.1", "3"]


def test_a_precision_out_of_range_is_a_usage_error(ml):
    # A negative N reached the float formatting (exit 3, a crash log) of every
    # command that takes --precision; a huge one built a string of N digits per value.
    make_exp(ml, "precise", {"metrics.json": metrics(0.123456789, 0.00001234)})
    for verb in (("show",), ("metrics", "show"), ("diff", "HEAD", "precise"), ("params", "diff")):
        for value in ("-3", "101"):
            proc = ml.exp(*verb, "--precision", value, check=False)
            assert proc.returncode == 129, (verb, value, proc.stderr)
            assert proc.stderr.startswith(f"error: argument --precision: '{value}' is not a whole "
                                          "number from 0 to 100\n"), proc.stderr
    assert "[precise]" in show(ml, "--precision", "0").stdout
    assert "0.12345678899999999733605449" in show(ml, "--precision", "100").stdout   # the bound itself


# ----------------------------------------------------------------- formats


def test_json_schema(ml):
    base, _ = three(ml)
    make_exp(ml, "broke", {"metrics.json": metrics(0.1)}, status="failed", date=at(40))
    rows = json.loads(show(ml, "--json").stdout)
    assert [r["name"] for r in rows] == ["workspace", "main", "broke", "dry-cat", "calm-fox", "bold-otter"]
    keys = {"name", "kind", "rev", "baseline", "parent", "created", "state", "message", "note",
            "tags", "params", "metrics"}
    assert all(set(r) == keys for r in rows)
    ws, main, broke = rows[0], rows[1], rows[2]
    assert ws["kind"] == "workspace" and ws["rev"] is None and ws["created"] is None
    assert ws["baseline"] == base and ws["parent"] == base and ws["state"] is None
    assert main["kind"] == "baseline" and main["rev"] == base and main["baseline"] == base
    assert main["parent"] is None and main["state"] is None
    assert main["created"] == "2024-01-02T10:00:00+00:00"
    assert broke["kind"] == "experiment" and broke["state"] == "failed"
    assert len(broke["rev"]) == 40 and broke["baseline"] == base and broke["parent"] == base
    assert datetime.datetime.fromisoformat(broke["created"]) == datetime.datetime(
        2024, 1, 2, 10, 40, tzinfo=datetime.timezone.utc)
    assert broke["params"] == {"params.yaml": {"train.lr": 0.1, "train.epochs": 3}}
    assert broke["metrics"] == {"metrics.json": {"acc": 0.1, "loss": 0.5}}
    assert rows[3]["state"] == "success"
    assert ml.git("rev-parse", "refs/exps/" + base + "/broke").strip() == broke["rev"]
    kept = json.loads(show(ml, "--json", "--keep", "acc", "--drop", ".").stdout)
    assert kept[1]["metrics"] == {"metrics.json": {"acc": 0.5}} and kept[1]["params"] == {}


def test_csv(ml):
    base, s = three(ml)
    out = lines(show(ml, "--csv", "--where", "acc > 0.9").stdout)
    full = ml.git("rev-parse", "refs/exps/" + base + "/dry-cat").strip()
    assert out == [
        "name,rev,kind,baseline,created,state,message,note,tags,acc,loss,train.lr,train.epochs",
        f"main,{base},baseline,{base},2024-01-02T10:00:00+00:00,,pipeline,,,0.5,1.2,0.1,3",
        f"dry-cat,{full},experiment,{base},2024-01-02T10:30:00+00:00,success,,,,0.95,0.5,0.01,3"]


def test_markdown(ml):
    _, s = three(ml)
    out = show(ml, "--md", "--hide-workspace", "--drop", "loss|epochs").stdout
    assert out == (
        "| Experiment | Created | acc | train.lr |\n"
        "|---|---|---:|---:|\n"
        "| main | 10:00 | 0.5 | 0.1 |\n"
        f"| ├── {s['dry-cat']} [dry-cat] | 10:30 | 0.95 | 0.01 |\n"
        f"| ├── {s['calm-fox']} [calm-fox] | 10:20 | 0.9 | 0.05 |\n"
        f"| └── {s['bold-otter']} [bold-otter] | 10:10 | 0.7 | 0.2 |\n")


def test_color_marks_baselines_bold_and_metrics_apart_from_params(ml):
    three(ml)
    out = ml.exp("--color=always", "show").stdout
    main = [l for l in lines(out) if "main" in l][0]
    assert main.startswith("\x1b[1mmain\x1b[0m")
    assert "\x1b[1;36m0.5\x1b[0m" in main        # a metric: bold (baseline) and cyan
    assert "\x1b[1;35m0.1\x1b[0m" in main        # a param: bold and magenta
    header = lines(out)[0]
    assert "\x1b[1;36macc" in header and "\x1b[1;35mtrain.lr" in header
    assert "\x1b[" not in show(ml).stdout


# ---------------------------------------------------- problems in the data


def test_a_broken_params_file_is_a_warning_and_a_dash(ml):
    sha = make_exp(ml, "broken", {"params.yaml": "train: [lr\n"}, date=at(5))
    proc = show(ml)
    row = [l for l in lines(proc.stdout) if "[broken]" in l][0].split()
    assert row[4:] == ["0.5", "1.2", "-", "-"]
    assert proc.stderr.startswith("warning: params.yaml:2:1: ")
    assert f"(in {sha[:7]})" in proc.stderr


def test_commit_without_pipeline_shows_its_params_yaml(project):
    project.gen({"params.yaml": params(0.3)})
    commit_at(project, "no pipeline yet", 0)
    rows = json.loads(project.exp("show", "--json").stdout)
    assert rows[1]["params"] == {"params.yaml": {"train.lr": 0.3, "train.epochs": 3}}
    assert rows[1]["metrics"] == {}


TEMPLATED = """\
stages:
  train:
    cmd: python3 train.py
    metrics:
      - ${where}
"""


def test_each_commit_uses_its_own_pipeline_with_templating(project):
    project.gen({"exp.yaml": TEMPLATED, "params.yaml": "where: a.json\ntrain:\n  lr: 1\n",
                 "a.json": '{"from_a": 1}\n', "b.json": '{"from_b": 2}\n'})
    commit_at(project, "templated", 0)
    make_exp(project, "to-b", {"params.yaml": "where: b.json\ntrain:\n  lr: 2\n"}, date=at(1))
    make_exp(project, "to-a", {"params.yaml": "where: a.json\ntrain:\n  lr: 3\n"}, date=at(2))
    rows = {r["name"]: r for r in json.loads(project.exp("show", "--json").stdout)}
    # One exp.yaml blob, read with different params.yaml blobs: parsed per combination.
    assert rows["to-b"]["metrics"] == {"b.json": {"from_b": 2}}
    assert rows["to-a"]["metrics"] == {"a.json": {"from_a": 1}}
    assert rows["main"]["metrics"] == {"a.json": {"from_a": 1}}


def test_a_queue_entry_whose_date_is_no_date_is_shown_with_its_text(project):
    # Created comes from a queue entry's Exp-Queued-At trailer, text of its commit
    # message. Text that is no date yet starts with this year was read as a month
    # (int('xx'), exit 3); now only dates are dated, other text is shown as it is.
    project.gen({"exp.yaml": PIPELINE, "params.yaml": params(0.1), "metrics.json": metrics(0.5)})
    project.commit("pipeline")   # now: every date is of this year, and more than one day shows
    project.exp("run", "--queue", "-S", "train.lr=0.2", "-n", "odd")
    ref = project.git("for-each-ref", "--format=%(refname)", "refs/exps-queue/").strip()
    year = str(datetime.date.today().year)
    for stamp in (f"{year}-xx", f"{year}-13-01T10:00:00+00:00"):
        message = "".join(f"Exp-Queued-At: {stamp}\n" if line.startswith("Exp-Queued-At: ") else line
                          for line in project.git("cat-file", "commit", ref).splitlines(keepends=True))
        project.git("update-ref", ref,
                    project.git("hash-object", "-t", "commit", "-w", "--stdin", input=message).strip())
        odd = [line for line in lines(show(project).stdout) if "[odd]" in line][0]
        assert odd.split()[3:5] == [stamp[:10], "queued"], odd


# -------------------------------------------------------------------- memo


def memo_file(project, sha):
    return project.path / ".git" / "exp" / "memo" / "commits-v1" / f"{sha[:2]}.json"


def test_memo_is_written_and_read_instead_of_git(ml):
    sha = make_exp(ml, "memo-me", {"metrics.json": metrics(0.7)}, date=at(5))
    show(ml)
    path = memo_file(ml, sha)
    shard = json.loads(path.read_text())
    assert shard[sha]["metrics"] == {"metrics.json": {"acc": 0.7, "loss": 0.5}}
    # Change what the memo says: the next show believes it, so it did not read Git.
    shard[sha]["metrics"]["metrics.json"]["acc"] = 0.123
    path.write_text(json.dumps(shard))
    row = [l for l in lines(show(ml).stdout) if "[memo-me]" in l][0]
    assert "0.123" in row.split()


@pytest.mark.parametrize("garbage", ["{not json", "[1, 2]", '{"%s": {"params": 3}}'])
def test_a_corrupt_memo_is_rebuilt(ml, garbage):
    sha = make_exp(ml, "fragile", {"metrics.json": metrics(0.7)}, date=at(5))
    expected = show(ml).stdout
    path = memo_file(ml, sha)
    path.write_text(garbage.replace("%s", sha) if "%s" in garbage else garbage)
    assert show(ml).stdout == expected
    assert json.loads(path.read_text())[sha]["metrics"]["metrics.json"]["acc"] == 0.7


def test_a_deleted_memo_is_rebuilt(ml):
    three(ml)
    expected = show(ml).stdout
    import shutil
    shutil.rmtree(ml.path / ".git" / "exp" / "memo")
    assert show(ml).stdout == expected


# ------------------------------------------------------- with a run going


def test_show_is_not_blocked_by_a_running_experiment(ml):
    three(ml)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock = ml.path / ".git" / "exp-run.lock"
        lock.write_text(json.dumps({"pid": sleeper.pid, "host": None, "name": "busy-bee",
                                    "started": "2024-01-02T11:00:00+0000"}))
        proc = show(ml, timeout=20)
        out = lines(proc.stdout)
        assert out[0].split()[:3] == ["Experiment", "Created", "State"]
        # A run in the work tree shows what the work tree holds so far.
        assert out[4].split()[:5] == ["├──", "-------", "[busy-bee]", "11:00", "running"]
        assert out[4].split()[5:] == out[2].split()[-4:]   # the workspace row
        rows = json.loads(show(ml, "--json").stdout)
        running = [r for r in rows if r["name"] == "busy-bee"][0]
        assert running["state"] == "running" and running["rev"] is None
        assert (running["params"], running["metrics"]) == (rows[0]["params"], rows[0]["metrics"])
        assert running["created"] == "2024-01-02T11:00:00+00:00"
        assert lock.exists()  # readers never touch the lock
    finally:
        sleeper.kill()
        sleeper.wait()
    # Its process is gone: a stale lock shows nothing, and is left for the next run to clear.
    assert "busy-bee" not in show(ml).stdout


WAITER = """\
import json, os, time
open("started", "w").close()
deadline = time.time() + 60
while not os.path.exists("go") and time.time() < deadline:
    time.sleep(0.02)
json.dump({"acc": 0.9}, open("metrics.json", "w"))
"""


def test_show_during_a_real_run(ml):
    """A real `git exp run` holds its lock while show runs: show is not blocked,
    marks the run, and shows no half-written experiment."""
    import time
    ml.gen({"wait.py": WAITER, "exp.yaml": PIPELINE.replace("python3 train.py", "python3 wait.py"),
            ".gitignore": "started\ngo\n"})
    commit_at(ml, "waiting pipeline", 1)
    before = set(ml.git("for-each-ref", "--format=%(refname)", "refs/exps/").split())
    runner = subprocess.Popen(["git", "exp", "run", "-n", "slow-run"], cwd=ml.path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 60
        while not (ml.path / "started").exists() and time.time() < deadline:
            time.sleep(0.02)
        assert (ml.path / "started").exists(), runner.stderr.read1().decode() if runner.poll() else ""
        proc = show(ml, "--json", timeout=30)
        running = [r for r in json.loads(proc.stdout) if r["name"] == "slow-run"]
        assert [(r["state"], r["rev"]) for r in running] == [("running", None)]
        assert set(ml.git("for-each-ref", "--format=%(refname)", "refs/exps/").split()) == before
        (ml.path / "go").write_text("")
        assert runner.wait(timeout=60) == 0, runner.stderr.read().decode()
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
    done = [r for r in json.loads(show(ml, "--json").stdout) if r["name"] == "slow-run"]
    assert len(done) == 1 and done[0]["state"] == "success"
    assert done[0]["metrics"] == {"metrics.json": {"acc": 0.9}}
