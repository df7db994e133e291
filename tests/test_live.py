"""git_exp.live: the training script's logger, on its own (no git-exp run needed)."""
from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT


def run_script(tmp_path, code: str) -> subprocess.CompletedProcess:
    """CODE as a training script would run it: a fresh interpreter, in TMP_PATH (no repository)."""
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc


def tsv(path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def test_importing_it_loads_nothing_but_itself():
    code = ("import sys\n"
            "before = set(sys.modules)\n"
            "import git_exp.live\n"
            "print('\\n'.join(sorted(set(sys.modules) - before)))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)))
    # No json, re, tempfile or anything of git-exp's: a script pays nothing to import it.
    assert set(out.stdout.split()) <= {"git_exp", "git_exp.live", "__future__"}


def test_layout_of_the_files_it_writes(tmp_path):
    run_script(tmp_path, (
        "from git_exp.live import Live\n"
        "with Live() as live:\n"
        "    live.log_param('optimizer', 'sgd')\n"
        "    live.log_params({'model/layers': 3})\n"
        "    for step in range(3):\n"
        "        live.log_metric('loss', 1 / (step + 1))\n"
        "        live.log_metric('test/acc', step / 10)\n"
        "        live.next_step()\n"
        "    live.log_metric('best', 7, plot=False)\n"
        "    live.log_image('confusion', b'\\x89PNG\\r\\n\\x1a\\n' + bytes(8))\n"))
    live = tmp_path / "live"
    files = sorted(str(p.relative_to(live)) for p in live.rglob("*") if p.is_file())
    assert files == ["metrics.json", "params.json", "plots/images/confusion.png",
                     "plots/metrics/loss.tsv", "plots/metrics/test/acc.tsv"]
    assert json.loads((live / "metrics.json").read_text()) == {
        "loss": 1 / 3, "test": {"acc": 0.2}, "best": 7, "step": 3}
    assert json.loads((live / "params.json").read_text()) == {"optimizer": "sgd", "model": {"layers": 3}}
    assert (live / "plots/metrics/loss.tsv").read_text() == "step\tloss\n0\t1.0\n1\t0.5\n2\t0.3333333333333333\n"
    assert tsv(live / "plots/metrics/test/acc.tsv") == [
        {"step": "0", "acc": "0.0"}, {"step": "1", "acc": "0.1"}, {"step": "2", "acc": "0.2"}]


def test_a_new_run_starts_afresh_and_resume_continues(tmp_path):
    first = ("from git_exp.live import Live\n"
             "with Live() as live:\n"
             "    for v in (5, 4):\n"
             "        live.log_metric('loss', v); live.log_metric('old', v); live.next_step()\n")
    run_script(tmp_path, first)
    run_script(tmp_path, (
        "from git_exp.live import Live\n"
        "with Live(resume=True) as live:\n"
        "    assert live.step == 2, live.step\n"
        "    live.log_metric('loss', 3); live.next_step()\n"))
    live = tmp_path / "live"
    assert [r["loss"] for r in tsv(live / "plots/metrics/loss.tsv")] == ["5", "4", "3"]
    assert json.loads((live / "metrics.json").read_text()) == {"loss": 3, "old": 4, "step": 2}

    run_script(tmp_path, (
        "from git_exp.live import Live\n"
        "with Live() as live:\n"
        "    live.log_metric('loss', 1); live.next_step()\n"))
    assert not (live / "plots/metrics/old.tsv").exists()   # the earlier run's curves do not mix in
    assert json.loads((live / "metrics.json").read_text()) == {"loss": 1, "step": 0}


def test_bad_names_and_values_are_refused_before_anything_is_written(tmp_path):
    from git_exp.live import Live
    live = Live(str(tmp_path / "out"))
    for name in ("../escape", "/abs", "a//b", ".hidden", "tab\there", ""):
        with pytest.raises(ValueError):
            live.log_metric(name, 1)
    with pytest.raises(TypeError):
        live.log_metric("loss", "low")
    with pytest.raises(ValueError, match="not a PNG"):
        live.log_image("x.png", b"GIF89a")
    with pytest.raises(ValueError, match="only PNG"):
        live.log_image("x.jpg", b"\x89PNG\r\n\x1a\n")
    live.log_metric("nan", float("nan"))
    live.next_step()
    assert json.loads((tmp_path / "out" / "metrics.json").read_text()) == {"nan": None, "step": 0}
    assert sorted(os.listdir(tmp_path)) == ["out"]


KILLED = """\
import sys
from git_exp.live import Live
live = Live("live")
step = 0
while True:
    for i in range(8):
        live.log_metric(f"m{i}", step * 0.001 + i)
    live.log_metric("group/loss", 1.0 / (step + 1))
    live.next_step()
    step += 1
    if step == 2:   # two whole steps are on disk: from here on every kill is mid-stream
        print("ready", flush=True)
"""


def test_files_stay_whole_when_the_process_is_killed_mid_write(tmp_path):
    rng = random.Random(1)
    for attempt in range(6):
        folder = tmp_path / f"run{attempt}"
        folder.mkdir()
        proc = subprocess.Popen([sys.executable, "-c", KILLED], cwd=folder, stdout=subprocess.PIPE,
                                text=True)
        assert proc.stdout.readline() == "ready\n"
        time.sleep(rng.uniform(0.05, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        live = folder / "live"
        summary = json.loads((live / "metrics.json").read_text())   # whole JSON, always
        assert summary["step"] > 0
        for path in (live / "plots" / "metrics").rglob("*.tsv"):
            lines = path.read_text().split("\n")
            assert lines[-1] == "" and lines[0] == f"step\t{path.stem}"
            rows = [line.split("\t") for line in lines[1:-1]]
            assert all(len(r) == 2 for r in rows)
            steps = [int(s) for s, _ in rows]
            [float(v) for _, v in rows]
            assert steps == list(range(len(steps)))
            # History is written before metrics.json in a step: at most one step ahead.
            assert steps[-1] in (summary["step"], summary["step"] + 1)
