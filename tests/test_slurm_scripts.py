"""The Slurm executor: its batch scripts checked as text, and (opt-in) a real cluster.

The text tests always run. The real runs need a single-node Slurm (Debian's
slurm-wlm; bench/slurm/setup-single-node.sh sets one up as root), so they
run only when asked: `python -m pytest -m slurm` (see git-exp-queue(1),
section Slurm).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from git_exp.distributed.sbatch import (array_spec, describe_end, parse_job_id, parse_scontrol,
                                        parse_squeue, render_script)

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
#SBATCH --signal=B:TERM@60
set -eu
case "${SLURM_ARRAY_TASK_ID:-}" in
0) set -- --remote /srv/git/project.git --ref refs/exps-queue/3f9a0c12 --data-remote '/mnt/team data/exp' --executor slurm ;;
1) set -- --remote /srv/git/project.git --ref refs/exps-queue/77aa01bc --data-remote '/mnt/team data/exp' --executor slurm ;;
*) echo "git-exp: array task '${SLURM_ARRAY_TASK_ID:-}' has no queue entry" >&2; exit 2 ;;
esac
# git-exp may be installed in Git's exec-path only (where `git exp` finds it).
command -v git-exp >/dev/null 2>&1 || PATH="$(git --exec-path):$PATH"
exec git-exp exec-entry "$@"
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


def test_reading_why_a_task_ended():
    line = ("JobId=12 ArrayJobId=11 ArrayTaskId=0 JobName=git-exp-x JobState=FAILED "
            "Reason=NonZeroExitCode Dependency=(null) ExitCode=1:0 Partition=debug\n")
    fields = parse_scontrol(line)
    assert fields["JobState"] == "FAILED" and fields["ArrayTaskId"] == "0"
    assert describe_end(fields) == "FAILED (NonZeroExitCode, exit code 1)"
    assert describe_end(parse_scontrol("JobState=CANCELLED Reason=None ExitCode=0:15")) == \
        "CANCELLED (signal 15)"
    assert describe_end(parse_scontrol("JobState=COMPLETED Reason=None ExitCode=0:0")) == "COMPLETED"
    assert describe_end(parse_scontrol("")) == ""


# -- a real cluster, opt-in ------------------------------------------------------------

from tests.test_distributed import queue_ids, remote_refs, runs, shared, trailers, wait_for  # noqa: E402,F401


@pytest.fixture
def slurm_cluster(request):
    if "slurm" not in (request.config.getoption("-m") or ""):
        pytest.skip("opt-in: needs a single-node Slurm set up by root; run pytest -m slurm")
    if shutil.which("sbatch") is None or subprocess.run(["sinfo", "-h"], capture_output=True).returncode:
        pytest.fail("pytest -m slurm asks for a Slurm cluster, but sbatch/sinfo do not work here "
                    "(as root: sh bench/slurm/setup-single-node.sh)")


def _dispatchers(project) -> list[int]:
    folder = project.path / ".git/exp/queue/workers"
    return [json.loads(f.read_text())["pid"] for f in folder.glob("*.json")] if folder.exists() else []


def _squeue(name_prefix: str = "git-exp-") -> str:
    out = subprocess.run(["squeue", "-h", "-o", "%j %i %T"], capture_output=True, text=True).stdout
    return "".join(l + "\n" for l in out.splitlines() if l.startswith(name_prefix))


@pytest.mark.slurm
def test_a_sweep_drains_through_slurm_and_every_result_comes_back(slurm_cluster, shared, tmp_path):
    shared.exp("run", "--queue", "-S", "train.lr=0.1,0.2,0.3", "-n", "s")
    ids = queue_ids(shared)
    started = shared.exp("queue", "start", "--executor", "slurm", "-j", "2")
    assert "slurm" in started.stdout + started.stderr
    assert _dispatchers(shared), "queue start left no dispatcher"
    wait_for(lambda: not _dispatchers(shared), 180, "the dispatcher to drain the queue")

    baseline = shared.head()
    local = {ref.rsplit("/", 1)[1]: sha for ref, sha in
             (l.split() for l in shared.git("for-each-ref", "--format=%(refname) %(objectname)",
                                             "refs/exps/").splitlines())}
    assert sorted(local) == ["s-1", "s-2", "s-3"]
    assert remote_refs(shared.remote, "refs/exps/") == {
        f"refs/exps/{baseline}/{name}": sha for name, sha in local.items()}
    for name, sha in local.items():
        found = trailers(shared, sha)
        assert found["Exp-Queue-Id"] == ids[name]
        assert (found["Exp-Status"], found["Exp-Attempt"], found["Exp-Executor"]) == \
            ("success", "1", "slurm")
    assert sorted(r[0] for r in runs(tmp_path)) == ["s-1", "s-2", "s-3"]
    assert remote_refs(shared.remote, "refs/exps-queue/") == {}
    assert remote_refs(shared.remote, "refs/exps-running/") == {}
    assert _squeue() == ""
    status = shared.exp("queue", "status").stdout
    assert status.count("success") == 3, status
    # The array task's output is the entry's log; the result's data came back with it.
    log = shared.exp("queue", "logs", "s-2").stdout
    assert "submitted as Slurm job" in log and "trained lr=0.2" in log and "exec-entry: pushed" in log
    shared.exp("apply", "s-2")
    assert shared.read("models/model.txt") == "weights 0.2 from 4 rows\n"
    shared.fsck()


@pytest.mark.slurm
def test_queue_kill_cancels_the_slurm_task_and_the_run_is_recorded_interrupted(slurm_cluster, shared,
                                                                                tmp_path):
    gate, marker = tmp_path / "gate", tmp_path / "marker"
    gate.write_text("")
    shared.exp("run", "--queue", "-S", "train.lr=0.9", "-n", "slow")
    try:
        shared.exp("queue", "start", "--executor", "slurm")
        stage = int(wait_for(lambda: marker.exists() and marker.read_text(), 60, "the stage to start"))
        assert "RUNNING" in _squeue()
        killed = shared.exp("queue", "kill", "slow")
        assert "interrupted" in killed.stdout, killed.stdout + killed.stderr
        wait_for(lambda: not _dispatchers(shared), 60, "the dispatcher to exit")
    finally:
        gate.unlink()
    assert not os.path.exists(f"/proc/{stage}")   # scancel's SIGTERM reached the stage
    assert _squeue() == ""
    status = shared.exp("queue", "status").stdout
    assert "slow" in status and "interrupted" in status, status
    # The worker alone got SIGTERM (scancel --batch): it stopped the stage and published.
    log = shared.exp("queue", "logs", "slow").stdout
    assert "exec-entry: recorded" in log and "interrupted" in log and "exec-entry: pushed" in log
    (sha,) = shared.git("for-each-ref", "--format=%(objectname)", "refs/exps/").split()
    assert trailers(shared, sha)["Exp-Status"] == "interrupted"
    assert remote_refs(shared.remote, "refs/exps-queue/") == {}


@pytest.mark.slurm
def test_arguments_sbatch_refuses_are_an_error_before_anything_starts(slurm_cluster, shared):
    shared.exp("run", "--queue", "-S", "train.lr=0.4", "-n", "p")
    proc = shared.exp("queue", "start", "--executor", "slurm", "--sbatch-arg=--partition=no-such",
                      check=False)
    assert proc.returncode != 0
    assert "sbatch refuses these arguments" in proc.stderr and "partition" in proc.stderr
    assert _dispatchers(shared) == []
    assert "queued" in shared.exp("queue", "status").stdout
