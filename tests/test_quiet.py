"""-q: accepted wherever help shows it, and one line or none from commands that act."""
from __future__ import annotations

import importlib


from git_exp import commands as registry
from tests.conftest import clone
from tests.test_run_flags import PARAMS, two  # noqa: F401  (two is a fixture: the two-stage project)


def _parsers(parser, path=()):
    import argparse
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, path + (name,))


def test_every_command_and_sub_command_takes_q_and_shows_it_in_help():
    missing = []
    for verb, (module, _) in registry.COMMANDS.items():
        parser = registry.build_parser(verb, importlib.import_module(module))
        for path, each in _parsers(parser):
            if "-q" not in each._option_string_actions or "-q" not in each.format_help():
                missing.append(" ".join((verb,) + path))
    assert missing == []


def quiet(project, *args, check=True):
    proc = project.exp(*args, check=check)
    assert proc.stderr == "", f"git exp {' '.join(args)}: {proc.stderr}"
    assert len(proc.stdout.splitlines()) <= 1, f"git exp {' '.join(args)}: {proc.stdout}"
    return proc.stdout


def test_run_and_its_modes_print_one_line(two):
    out = quiet(two, "run", "-q", "-n", "a")
    assert out.startswith("a ") and out.endswith(" success\n")
    assert "preparing" not in out   # the stages' output is in the log
    assert "preparing" in two.exp("logs", "a").stdout
    assert quiet(two, "-q", "run").startswith("Nothing changed since experiment a")
    assert quiet(two, "run", "--temp", "-q", "-S", "train.lr=0.2").endswith(" success\n")
    assert quiet(two, "run", "-q", "-j", "2", "-S", "train.lr=0.3,0.4") == "2 success\n"
    assert quiet(two, "run", "-q", "--queue", "-S", "train.lr=0.6,0.7", "-n", "q").startswith(
        "Queued 2 experiments")
    assert quiet(two, "queue", "remove", "-q", "q-1") == "Removed 1 entry.\n"
    assert quiet(two, "queue", "work", "-q") == "Ran 1 entry.\n"
    assert quiet(two, "queue", "start", "-q") == "The queue is empty: nothing to start.\n"
    proc = two.exp("queue", "status", "-q")   # a listing: its result is the table
    assert proc.stderr == "" and "q-2" in proc.stdout


def test_a_failing_run_with_q_says_so_in_one_line_and_its_error(two):
    two.gen({"train.py": "raise SystemExit(2)\n"})
    proc = two.exp("run", "-q", "-n", "broken", check=False)
    assert proc.returncode == 1
    assert proc.stdout.startswith("broken ") and proc.stdout.endswith(" failed\n")
    assert proc.stderr.startswith("error: stage 'train' failed")


def test_data_and_hook_commands_print_one_line(two, tmp_path):
    two.gen({"data": {"a.csv": "1\n", "b.csv": "2\n"}})
    assert quiet(two, "install", "-q").startswith("Installed the git-exp hooks in ")
    assert quiet(two, "install", "-q").startswith("The git-exp hooks are already installed")
    assert quiet(two, "add", "-q", "data/a.csv", "data/b.csv") == "Added 2 paths.\n"
    (two.path / "data" / "a.csv").unlink()
    assert quiet(two, "checkout", "-q") == "Checked out 1, removed 0 data path(s).\n"
    assert quiet(two, "checkout", "-q") == ""
    two.commit("data")
    quiet(two, "run", "-q", "-n", "one")
    two.gen({"params.yaml": PARAMS.replace("0.5", "0.9")})
    out = quiet(two, "apply", "-q", "one")
    assert out.startswith("Applied 'one'") and "Backup: refs/exp-backups/" in out
    remote = two.add_bare_remote(tmp_path / "remote.git")
    assert quiet(two, "push", "-q", "origin", "one").startswith(
        "Pushed 1 experiment to origin. Sent 3 data objects, ")
    work = clone(remote, tmp_path / "clone")
    assert quiet(work, "pull", "-q", "origin", "-A").startswith(
        "Fetched 1 experiment from origin. Received 3 data objects, ")
    assert quiet(two, "remove", "-q", "one") == "Removed 1 experiment.\n"
    assert quiet(two, "install", "--uninstall", "-q").startswith("Removed ")
    assert quiet(two, "repro", "-q", "-f").startswith("Reproduced: 2 ran.")


def test_q_after_a_sub_command(two):
    two.gen({"curve.csv": "step,loss\n0,1.0\n1,0.5\n"})
    two.commit("curve")
    two.exp("run", "-n", "a")
    proc = two.exp("plots", "diff", "-q", "-t", "curve.csv", "-o", "plots-out")
    assert proc.stderr == "" and len(proc.stdout.splitlines()) == 1
    proc = two.exp("queue", "start", "-q", "-j", "1")
    assert proc.returncode == 0 and proc.stderr == ""
