"""The Slurm executor: its batch scripts checked as text, and (opt-in) a real cluster.

The text tests always run. The real run needs a single-node Slurm (Debian's
slurm-wlm) set up by root, so it runs only when asked: `python -m pytest -m
slurm` (see git-exp-queue(1), section Slurm, for the setup).
"""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from git_exp.distributed.sbatch import array_spec, parse_job_id, parse_squeue, render_script

ARGV = [["--remote", "/srv/git/project.git", "--ref", "refs/exps-queue/3f9a0c12",
         "--data-remote", "/mnt/team data/exp", "--executor", "slurm"],
        ["--remote", "/srv/git/project.git", "--ref", "refs/exps-queue/77aa01bc",
         "--data-remote", "/mnt/team data/exp", "--executor", "slurm"]]

EXPECTED = """\
#!/bin/sh
# Written by git-exp (git exp queue start --executor slurm): one array task per
# queue entry, each running the worker command once (see git-exp-exec-entry(1)).
#SBATCH --job-name=git-exp-t1
#SBATCH --array=0-1%8
#SBATCH --output=/repo/.git/exp/queue/slurm/t1-%A_%a.out
#SBATCH --open-mode=append
set -eu
case "${SLURM_ARRAY_TASK_ID:-}" in
0) set -- --remote /srv/git/project.git --ref refs/exps-queue/3f9a0c12 --data-remote '/mnt/team data/exp' --executor slurm ;;
1) set -- --remote /srv/git/project.git --ref refs/exps-queue/77aa01bc --data-remote '/mnt/team data/exp' --executor slurm ;;
*) echo "git-exp: array task '${SLURM_ARRAY_TASK_ID:-}' has no queue entry" >&2; exit 2 ;;
esac
exec git exp exec-entry "$@"
"""


def test_the_script_runs_one_entry_per_array_task():
    text = render_script(ARGV, job_name="git-exp-t1", jobs=8,
                         output="/repo/.git/exp/queue/slurm/t1-%A_%a.out")
    assert text == EXPECTED


def test_without_a_limit_every_task_may_run_at_once():
    assert array_spec(6, None) == "0-5"
    assert array_spec(6, 2) == "0-5%2"
    assert array_spec(1, None) == "0-0"


@pytest.mark.skipif(shutil.which("sh") is None, reason="no POSIX sh")
def test_the_script_passes_each_task_exactly_its_arguments(tmp_path):
    # Run the script with a stand-in for the worker command that prints its argv.
    text = render_script(ARGV, job_name="x", jobs=None, output="o",
                         command=["printf", "[%s]\\n"])
    script = tmp_path / "job.sh"
    script.write_text(text)
    for index, argv in enumerate(ARGV):
        out = subprocess.run(["sh", str(script)], env=dict(os.environ, SLURM_ARRAY_TASK_ID=str(index)),
                             capture_output=True, text=True, check=True).stdout
        assert out.splitlines() == [f"[{a}]" for a in argv]
    proc = subprocess.run(["sh", str(script)], env=dict(os.environ, SLURM_ARRAY_TASK_ID="7"),
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "array task '7' has no queue entry" in proc.stderr


def test_quotes_survive_in_urls_and_paths():
    tricky = [["--remote", "ssh://h/it's here.git", "--ref", "refs/exps-queue/ab12cd34"]]
    text = render_script(tricky, job_name="x", jobs=None, output="o")
    assert "0) set -- --remote 'ssh://h/it'\"'\"'s here.git' --ref refs/exps-queue/ab12cd34 ;;" in text


def test_reading_sbatch_and_squeue():
    assert parse_job_id("4242\n") == "4242"
    assert parse_job_id("4242;cluster-a\n") == "4242"
    with pytest.raises(ValueError):
        parse_job_id("sbatch: error: Batch job submission failed\n")
    out = "4242_0 RUNNING\n4242_1 PENDING\n4242_[3-5,7%2] PENDING\n99_1 RUNNING\n"
    assert parse_squeue(out, "4242") == {0: "RUNNING", 1: "PENDING", 3: "PENDING", 4: "PENDING",
                                         5: "PENDING", 7: "PENDING"}
    assert parse_squeue("", "4242") == {}


# -- a real cluster, opt-in ------------------------------------------------------------

@pytest.fixture
def slurm_cluster(request):
    if "slurm" not in (request.config.getoption("-m") or ""):
        pytest.skip("opt-in: needs a single-node Slurm set up by root; run pytest -m slurm")
    if shutil.which("sbatch") is None or subprocess.run(["sinfo", "-h"], capture_output=True).returncode:
        pytest.fail("pytest -m slurm asks for a Slurm cluster, but sbatch/sinfo do not work here")


@pytest.mark.slurm
def test_a_sweep_runs_as_a_slurm_job_array(slurm_cluster, committed, tmp_path, monkeypatch):
    from tests.test_distributed import PIPELINE, TRAIN
    p = committed
    p.gen({"train.py": TRAIN, "params.yaml": "train:\n  lr: 0.1\n", "exp.yaml": PIPELINE,
           "data": {"rows.txt": "1 2 3\n"}})
    p.exp("add", "data")
    p.commit("pipeline")
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    p.git("remote", "add", "origin", str(remote))
    monkeypatch.setenv("GIT_EXP_TEST_RUNS", str(tmp_path / "runs.txt"))
    p.exp("run", "--queue", "-S", "train.lr=0.1,0.2,0.3", "-n", "s")
    proc = p.exp("queue", "work", "--executor", "slurm", "-j", "2", timeout=300)
    assert proc.stdout.count(": success (") == 3, proc.stdout + proc.stderr
    names = p.git("for-each-ref", "--format=%(refname:lstrip=-1)", "refs/exps/").split()
    assert sorted(names) == ["s-1", "s-2", "s-3"]
    assert "trained lr=0.2" in p.exp("logs", "s-2").stdout
    assert subprocess.run(["git", "-C", str(remote), "for-each-ref", "refs/exps-queue/"],
                          capture_output=True, text=True).stdout == ""
