"""Hostile input: experiments crafted by an attacker, bad arguments, a full or read-only disk.

The attacker makes experiments with Git plumbing (hash-object, mktree,
commit-tree, update-ref) and pushes them to a shared bare remote; the victim
clones it and pulls. Every command runs with a short subprocess timeout, so a
hang (or memory growing without bound, which is what an alias bomb does) fails
the test in seconds instead of stalling the suite.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Project, init_bare

FAST = 30   # seconds: every command here finishes in well under one

TRAIN = """\
import re
lr = float(re.search(r"lr: *([0-9.e-]+)", open("params.yaml").read()).group(1))
open("model.bin", "w").write(f"weights {lr}\\n")
open("metrics.json", "w").write('{"acc": %s}' % lr)
open("logs.csv", "w").write("step,loss\\n1,%s\\n2,%s\\n" % (lr, lr / 2))
"""

PIPELINE = """\
stages:
  train:
    cmd: python3 train.py
    deps: [train.py]
    params: [lr]
    outs: [model.bin]
    metrics:
      - metrics.json:
          cache: false
    plots:
      - logs.csv:
          cache: false
          x: step
          y: loss
"""


def alias_bomb(levels: int = 9) -> str:
    """A ~1 KB 'billion laughs': each anchor lists nine aliases of the one before."""
    text = 'a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    for i in range(1, levels + 1):
        text += f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]\n"
    return text + "lr: 0.9\n"


def nested_bomb() -> str:
    """The bomb one level down, as an exp.yaml key: still valid YAML."""
    return "x:\n" + "".join(f"  {line}\n" for line in alias_bomb().splitlines())


class Attacker:
    """A clone of the shared remote that plants experiments with Git plumbing."""

    def __init__(self, project: Project, origin: Path, baseline: str):
        self.p, self.origin, self.baseline = project, origin, baseline

    def blob(self, data: bytes) -> str:
        proc = subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=self.p.path,
                              input=data, stdout=subprocess.PIPE, check=True)
        return proc.stdout.decode().strip()

    def plant(self, name: str, files: dict, ref_target: str | None = None) -> str:
        """An experiment of the baseline whose top-level FILES (name -> bytes) are replaced;
        pushed to the remote with plain `git push`. Returns the sha its ref names."""
        entries = {}
        for line in self.p.git("ls-tree", self.baseline).splitlines():
            meta, path = line.split("\t", 1)
            entries[path] = meta
        for path, data in files.items():
            data = data.encode() if isinstance(data, str) else data
            entries[path] = f"100644 blob {self.blob(data)}"
        tree = self.p.git("mktree", input="".join(f"{m}\t{p}\n" for p, m in entries.items())).strip()
        sha = ref_target or self.p.git("commit-tree", tree, "-p", self.baseline,
                                       "-m", f"exp {name}\n\nExp-Status: success").strip()
        ref = f"refs/exps/{self.baseline}/{name}"
        self.p.git("update-ref", ref, sha)
        self.p.git("push", "-q", str(self.origin), ref)
        return sha


@pytest.fixture
def attacker(tmp_path) -> Attacker:
    origin = init_bare(tmp_path / "origin.git")
    path = tmp_path / "attacker"
    subprocess.run(["git", "clone", "-q", str(origin), str(path)], check=True,
                   stderr=subprocess.DEVNULL)
    p = Project(path)
    p.gen({"train.py": TRAIN, "params.yaml": "lr: 0.1\n", "exp.yaml": PIPELINE})
    baseline = p.commit("pipeline")
    p.git("push", "-q", "origin", "main")
    p.exp("run", "-q", "-n", "good", timeout=FAST)
    p.exp("push", "origin", "good", timeout=FAST)
    return Attacker(p, origin, baseline)


def victim_of(attacker: Attacker, tmp_path: Path) -> Project:
    path = tmp_path / "victim"
    subprocess.run(["git", "clone", "-q", str(attacker.origin), str(path)], check=True)
    return Project(path)


def run(p: Project, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    proc = p.exp(*args, check=False, timeout=FAST, env=env)
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    assert proc.returncode != 3, proc.stderr
    return proc


# ------------------------------------------------------------ 6: bounded reads

def test_bounded_reader_refuses_bombs_keeps_anchors(tmp_path):
    from git_exp import bounded
    from git_exp.errors import ExpError
    from git_exp.params.read import parse

    with pytest.raises(ExpError) as bomb:
        parse(alias_bomb(), "yaml", "params.yaml")
    assert bomb.value.message.startswith("params.yaml:6:5: YAML aliases here expand")
    merges = "a0: &a0 {" + ", ".join(f"k{i}: {i}" for i in range(9)) + "}\n"
    for i in range(1, 12):   # the same bomb through `<<` merge keys
        merges += f"a{i}: &a{i} {{<<: [" + ", ".join([f"*a{i - 1}"] * 9) + f"], x{i}: 1}}\n"
    with pytest.raises(ExpError, match=r"^m.yaml:5:14: YAML aliases here expand"):
        parse(merges, "yaml", "m.yaml")
    with pytest.raises(ExpError, match=r"^p.yaml:1:4: an alias refers to its own"):
        parse("a: &a [1, *a]\n", "yaml", "p.yaml")
    with pytest.raises(ExpError, match="nested more than 100 levels"):
        parse("a: " + "[" * 150 + "]" * 150, "yaml", "p.yaml")
    with pytest.raises(ExpError, match="nested more than 100 levels"):
        parse('{"a": ' + "[" * 5000 + "]" * 5000 + "}", "json", "m.json")
    with pytest.raises(ExpError, match="nested more than 100 levels"):
        parse("a" + ".a" * 300 + " = 1\n", "toml", "p.toml")
    # Ordinary anchors and merge keys keep working.
    assert parse("base: &b {x: 1}\nrun: {<<: *b, y: 2}\n", "yaml", "p.yaml") == \
        {"base": {"x": 1}, "run": {"x": 1, "y": 2}}
    big = tmp_path / "big.yaml"
    with open(big, "wb") as fh:
        fh.truncate(bounded.MAX_FILE_SIZE + 1)
    with pytest.raises(ExpError, match="too large to read"):
        bounded.read_file(str(big), "big.yaml")
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    with pytest.raises(ExpError, match="not a regular file"):   # never waits for a writer
        bounded.read_file(str(fifo), "fifo.yaml")


def test_alias_bomb_in_one_experiment_is_one_warning(attacker, tmp_path):
    bomb = attacker.plant("bomb", {"params.yaml": alias_bomb()})
    deep = attacker.plant("deep", {"metrics.json": '{"acc": ' + "[" * 3000 + "]" * 3000 + "}"})
    victim = victim_of(attacker, tmp_path)
    run(victim, "pull", "origin", "-A")

    proc = run(victim, "show", "-A")
    assert proc.returncode == 0
    good = next(l for l in proc.stdout.splitlines() if "[good]" in l)
    assert good.split()[-2:] == ["0.1", "0.1"]         # acc and lr of the good one still show
    assert "[bomb]" in proc.stdout and "[deep]" in proc.stdout
    assert "params.yaml:6:5: YAML aliases here expand to more than" in proc.stderr
    assert f"(in {bomb[:7]})" in proc.stderr
    assert f"metrics.json: nested more than 100 levels deep (in {deep[:7]})" in proc.stderr

    proc = run(victim, "params", "diff", "good", "bomb")
    assert "YAML aliases" in proc.stderr
    proc = run(victim, "metrics", "show", "good", "deep")
    assert "0.1" in proc.stdout and "nested more than 100 levels" in proc.stderr


def test_bombs_in_exp_yaml_lock_and_plots_data(attacker, tmp_path):
    pipe = attacker.plant("badpipe", {"exp.yaml": nested_bomb()})
    lock = attacker.plant("badlock", {"exp.lock": alias_bomb()})
    attacker.plant("badplot", {"logs.csv": "step,loss\n1,0.5\n",
                               "exp.yaml": PIPELINE.replace("logs.csv", "logs.yaml"),
                               "logs.yaml": alias_bomb()})
    victim = victim_of(attacker, tmp_path)

    proc = run(victim, "pull", "origin", "-A")
    assert proc.returncode == 1                       # the lock bomb's data cannot be read ...
    assert f"Failed 'badlock' ({lock[:7]}): its data cannot be read: " in proc.stdout
    assert "exp.lock:6:5: YAML aliases here expand" in proc.stdout
    assert "Fetched 'good'" in proc.stdout             # ... the others arrived, with their data
    assert "Fetched 'badpipe'" in proc.stdout and "Fetched 'badplot'" in proc.stdout
    run(victim, "apply", "good")
    assert (victim.path / "model.bin").read_text() == "weights 0.1\n"

    # Pushing them on: the one whose data cannot be checked stays behind, alone.
    other = init_bare(tmp_path / "other.git")
    victim.git("push", "-q", str(other), "main")
    proc = run(victim, "push", str(other), "-A")
    assert proc.returncode == 1
    assert f"Failed 'badlock' ({lock[:7]}): its data cannot be read: " in proc.stdout
    assert "Pushed 'good'" in proc.stdout and "Pushed 'badplot'" in proc.stdout
    listed = subprocess.run(["git", "ls-remote", str(other)], stdout=subprocess.PIPE, text=True).stdout
    assert "/good" in listed and "/badlock" not in listed

    proc = run(victim, "show", "-A")
    assert proc.returncode == 0 and "[good]" in proc.stdout
    assert "exp.yaml:7:7: YAML aliases here expand" in proc.stderr and f"(in {pipe[:7]})" in proc.stderr

    proc = run(victim, "plots", "diff", "good", "badplot", "badpipe", "-o", str(tmp_path / "page"))
    assert proc.returncode == 1                       # reported, after drawing the rest
    page = (tmp_path / "page" / "index.html")
    assert page.exists(), proc.stderr
    assert "logs.yaml:6:5: YAML aliases here expand" in proc.stderr
    assert "(in experiment badplot); left out of the plot" in proc.stderr
    assert "good" in page.read_text()


def test_oversized_file_in_an_experiment_is_skipped_not_read(attacker, tmp_path):
    from git_exp.bounded import MAX_FILE_SIZE
    huge = b"acc: 1\n" + b"#" * (MAX_FILE_SIZE + 10) + b"\n"
    big = attacker.plant("big", {"metrics.json": huge})
    victim = victim_of(attacker, tmp_path)
    run(victim, "pull", "origin", "-A")
    proc = run(victim, "show", "-A")
    assert proc.returncode == 0 and "[good]" in proc.stdout
    assert (f"metrics.json: too large to read ({len(huge):,} bytes; the limit is 64 MiB) "
            f"(in {big[:7]})") in proc.stderr
    assert f"(in {big[:7]})" in proc.stderr


def test_bomb_in_the_work_tree_fails_run_and_save_fast(attacker):
    p = attacker.p
    p.gen({"params.yaml": alias_bomb()})
    before = (p.path / "params.yaml").read_bytes()
    for args in (["run"], ["run", "-S", "lr=0.3"], ["save", "-n", "saved"]):
        proc = run(p, *args)
        assert proc.returncode == 1, args
        assert proc.stderr.startswith("error: params.yaml:6:5: YAML aliases here expand"), proc.stderr
        assert (p.path / "params.yaml").read_bytes() == before
    proc = run(p, "show")
    assert proc.returncode == 0 and "YAML aliases" in proc.stderr
    p.gen({"params.yaml": "lr: 0.1\n"})
    for name, text in (("exp.yaml", nested_bomb()),
                       ("exp.lock", alias_bomb())):
        keep = (p.path / name).read_bytes()
        p.gen({name: text})
        proc = run(p, "run", "-S", "lr=0.3")
        assert proc.returncode == 1 and f"error: {name}:" in proc.stderr, proc.stderr
        assert "YAML aliases here expand" in proc.stderr
        assert (p.path / "params.yaml").read_text() == "lr: 0.1\n"
        (p.path / name).write_bytes(keep)


# ------------------------------------------------- 7: one bad experiment, not all

def test_a_ref_naming_a_blob_does_not_stop_pull_push_show(attacker, tmp_path):
    blob = attacker.blob(b"not a commit\n")
    attacker.plant("evil", {}, ref_target=blob)
    victim = victim_of(attacker, tmp_path)

    proc = run(victim, "pull", "origin", "-A")
    assert proc.returncode == 1
    assert f"Failed 'evil' ({blob[:7]}): the remote's ref names a blob, not a commit" in proc.stdout
    assert "Fetched 'good'" in proc.stdout and "Received 1 data object" in proc.stdout
    assert "error: 1 experiment could not be fetched" in proc.stderr
    assert "refs/exps/" not in victim.git("for-each-ref", "--format=%(refname)",
                                          f"refs/exps/{attacker.baseline}/evil")
    victim.fsck()

    # A blob ref that did get in (plain `git fetch`) is reported by show and push.
    victim.git("fetch", "-q", "origin", f"refs/exps/{attacker.baseline}/evil:refs/exps/{attacker.baseline}/evil")
    proc = run(victim, "show", "-A")
    assert proc.returncode == 1 and "[good]" in proc.stdout
    assert f"experiment 'evil' ({blob[:7]}): its ref does not name a commit" in proc.stderr

    other = init_bare(tmp_path / "other.git")
    victim.git("push", "-q", str(other), "main")
    proc = run(victim, "push", str(other), "-A")
    assert proc.returncode == 1
    assert f"Failed 'evil' ({blob[:7]}): the ref names a blob, not a commit." in proc.stdout
    assert "Pushed 'good'" in proc.stdout
    listed = subprocess.run(["git", "ls-remote", str(other)], stdout=subprocess.PIPE, text=True).stdout
    assert "/good" in listed and "/evil" not in listed


# ------------------------------------------------------------ 8: faults

def test_undecodable_arguments_are_usage_errors(attacker):
    p = attacker.p
    before = (p.path / "params.yaml").read_bytes()
    logs = p.path / ".git" / "exp" / "logs"
    crashes = {f for f in os.listdir(logs) if f.startswith("crash-")}
    for args in ([b"plots", b"show", b"\xff"], [b"run", b"-S", b"n=\xff"],
                 [b"run", b"-n", b"x\xff"], [b"show", b"--rev", b"\xff"]):
        proc = subprocess.run([b"git", b"exp", *args], cwd=p.path, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=FAST)
        assert proc.returncode == 129, proc.stderr
        assert proc.stderr.startswith(b"error: argument "), proc.stderr
        assert b"is not valid UTF-8" in proc.stderr and b"\\xff" in proc.stderr
    assert (p.path / "params.yaml").read_bytes() == before
    assert {f for f in os.listdir(logs) if f.startswith("crash-")} == crashes


def _in_mount_namespace(p: Project, setup: str, command: str) -> subprocess.CompletedProcess:
    """Run shell SETUP (mounts) then COMMAND in a private mount namespace (root only)."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare(1) is not installed")
    probe = subprocess.run(["unshare", "-m", "true"], stderr=subprocess.PIPE)
    if probe.returncode != 0:
        pytest.skip(f"cannot make a mount namespace here: {probe.stderr.decode().strip()}")
    script = f"( {setup} ) || exit 97\n{command}\n"
    proc = subprocess.run(["unshare", "-m", "sh", "-c", script], cwd=p.path, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=3 * FAST)
    if proc.returncode == 97:
        pytest.skip(f"cannot mount here ({setup}): {proc.stderr.strip()}")
    return proc


def test_read_only_exp_dir_is_a_clear_error_and_s_is_not_left_applied(attacker):
    p = attacker.p
    before = (p.path / "params.yaml").read_bytes()
    proc = _in_mount_namespace(
        p, "mount --bind .git/exp .git/exp && mount -o remount,ro,bind .git/exp",
        "git exp run -S lr=0.7; echo \"rc=$?\"; git exp show; echo \"rc=$?\"")
    assert "rc=1\n" in proc.stdout, proc.stdout + proc.stderr
    assert "error: cannot write '" in proc.stderr and ".git/exp/logs/" in proc.stderr
    assert "Read-only file system" in proc.stderr
    assert "hint: that file system is mounted read-only" in proc.stderr
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stdout.rstrip().endswith("rc=0")       # show works, read-only
    assert (p.path / "params.yaml").read_bytes() == before


def test_full_disk_is_a_clear_error(attacker):
    p = attacker.p
    before = (p.path / "params.yaml").read_bytes()
    proc = _in_mount_namespace(
        p, "mount -t tmpfs -o size=64k tmpfs .git/exp && "
           "(dd if=/dev/zero of=.git/exp/filler bs=4k count=64 2>/dev/null || true)",
        "git exp run -S lr=0.7; echo \"rc=$?\"; git exp save -n full; echo \"rc=$?\"")
    assert proc.stdout.count("rc=1\n") == 2, proc.stdout + proc.stderr
    assert "No space left on device" in proc.stderr
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr
    assert "refs/exps" not in p.git("for-each-ref", "--format=%(refname)", "refs/exps/*/full")
    # The cache (on the full disk) refused the outs before the stage ran: -S is undone.
    assert (p.path / "params.yaml").read_bytes() == before
    p.fsck()


def test_full_disk_during_a_run_loses_no_experiment(tmp_path):
    """The stage runs, the log and cache cannot be written: the run is still recorded
    (as failed, naming both problems), never an internal error."""
    p = Project(tmp_path / "fresh")
    subprocess.run(["git", "init", "-q", str(p.path)], check=True)
    p.gen({"train.py": TRAIN, "params.yaml": "lr: 0.1\n", "exp.yaml": PIPELINE, ".git/exp/.keep": ""})
    p.commit("pipeline", "train.py", "params.yaml", "exp.yaml")
    proc = _in_mount_namespace(
        p, "mount -t tmpfs -o size=64k tmpfs .git/exp && "
           "(dd if=/dev/zero of=.git/exp/filler bs=4k count=64 2>/dev/null || true)",
        "git exp run -n full -S lr=0.7; echo \"rc=$?\"")
    assert "rc=1" in proc.stdout, proc.stdout + proc.stderr
    assert "Experiment full (" in proc.stdout and ": failed" in proc.stdout
    assert "No space left on device" in proc.stderr
    assert "its log could not be written to " in proc.stderr
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr
    assert p.git("for-each-ref", "--format=%(refname)", "refs/exps/*/full").strip()
    p.fsck()


def test_crash_log_falls_back_to_the_temp_dir_when_exp_dir_is_read_only(attacker, tmp_path):
    """An internal error's hint names a log that exists, even with .git/exp read-only."""
    from tests.conftest import ROOT
    temp = tmp_path / "tmp"
    temp.mkdir()
    crash = ("import sys; sys.path.insert(0, %r)\n"
             "from git_exp import cli\n"
             "try:\n    raise RuntimeError('a bug')\n"
             "except RuntimeError:\n    sys.exit(cli._report_bug(False, cli._plain_console()))\n"
             % str(ROOT))
    (tmp_path / "crash.py").write_text(crash)
    import sys
    proc = _in_mount_namespace(
        attacker.p, "mount --bind .git/exp .git/exp && mount -o remount,ro,bind .git/exp",
        f"TMPDIR={temp} {sys.executable} {tmp_path / 'crash.py'}; echo \"rc=$?\"")
    assert "rc=3" in proc.stdout, proc.stdout + proc.stderr
    assert f"the traceback is in {temp}/crash-" in proc.stderr
    assert ".git/exp/logs is not writable (Read-only file system)" in proc.stderr
    logs = list(temp.glob("crash-*.log"))
    assert len(logs) == 1 and "RuntimeError: a bug" in logs[0].read_text()


# ------------------------------------------------------------ 10: names

@pytest.mark.parametrize("name,why", [
    ("HEAD", "Git reads it as a ref of its own"),
    ("FETCH_HEAD", "Git reads it as a ref of its own"),
    ("main", "it is also the name of the branch 'main'"),
    ("v1", "it is also the name of the tag 'v1'"),
    ("origin", "it is also the name of the remote-tracking ref 'origin/HEAD'"),
    ("beef", "it looks like a commit sha"),
    ("CAFE1234", "it looks like a commit sha"),
    ("v2-g1234abc", "git describe's form"),
    ("a..b", "invalid experiment name 'a..b'"),
])
def test_names_git_reads_as_revisions_are_refused(attacker, name, why):
    p = attacker.p
    p.git("tag", "v1")
    p.git("remote", "set-head", "origin", "main")
    for args in (["run", "-n", name], ["save", "-n", name], ["rename", "good", name],
                 ["run", "--queue", "-n", name]):
        proc = run(p, *args)
        assert proc.returncode == 1, (args, proc.stdout)
        assert proc.stderr.startswith(f"error: invalid experiment name '{name}'"), proc.stderr
        assert why in proc.stderr
        assert "hint:" in proc.stderr
    assert "refs/exps" not in p.git("for-each-ref", f"refs/exps/*/{name}")


def test_man_page_states_the_limits_the_code_applies():
    from git_exp import bounded
    from git_exp.manpage import LIMITS
    text = " ".join(LIMITS.split())
    assert f"larger than {bounded.MAX_FILE_SIZE // (1024 * 1024)} MiB" in text
    assert f"more than {bounded.MAX_DEPTH} mappings or lists deep" in text
    assert f"more than {bounded.MAX_ALIAS_NODES:,} extra values" in text


def test_diff_and_remove_of_a_ref_naming_a_blob(attacker):
    p = attacker.p
    blob = attacker.blob(b"junk\n")
    p.git("update-ref", f"refs/exps/{attacker.baseline}/junk", blob)
    proc = run(p, "params", "diff", "good", "junk")
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"error: 'junk' ({blob[:7]}) does not name a commit")
    proc = run(p, "show")
    assert proc.returncode == 1 and "'git exp remove junk' deletes it" in proc.stderr
    assert run(p, "remove", "junk").returncode == 0
    assert run(p, "show").returncode == 0


def test_s_edit_is_rolled_back_when_the_run_cannot_start(project):
    """The -S edit is written, then exp.yaml's templating fails: params.yaml gets its bytes back."""
    project.gen({"exp.yaml": "stages:\n  train:\n    cmd: echo ${lr} > out.txt\n    params: [lr]\n"
                             "    outs: [out.txt]\n",
                 "params.yaml": "lr: 0.1   # keep this comment\r\n"})
    project.commit("templated")
    before = (project.path / "params.yaml").read_bytes()
    proc = run(project, "run", "-S", "~lr")
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: exp.yaml:3:15: unknown variable 'lr'"), proc.stderr
    assert (project.path / "params.yaml").read_bytes() == before
    assert os.listdir(project.path / ".git" / "exp" / "logs") == []   # no stray run log
    assert project.git("for-each-ref", "refs/exps") == ""
