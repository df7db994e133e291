"""The `git exp` command itself: dispatch, global options, errors, exit codes."""
from __future__ import annotations

import subprocess

from git_exp import __version__
from git_exp.cli import COMMANDS, HIDDEN


def test_version_through_git_dispatch(project):
    proc = project.exp("--version")
    assert proc.stdout == f"git-exp version {__version__}\n"


def test_help_lists_every_visible_command(project):
    out = project.exp("-h").stdout
    for verb, (_, summary) in COMMANDS.items():
        if verb not in HIDDEN:
            assert f"   {verb}" in out and summary in out


def test_no_arguments_prints_usage_and_fails(project):
    proc = project.exp(check=False)
    assert proc.returncode == 1
    assert proc.stdout.startswith("usage: git exp")


def test_unknown_command_suggests_the_closest(project):
    proc = project.exp("hlep", check=False)
    assert proc.returncode == 1
    assert "error: 'hlep' is not a git exp command" in proc.stderr
    assert "hint: the most similar command is 'help'" in proc.stderr


def test_unknown_global_option_is_a_usage_error(project):
    proc = project.exp("--frobnicate", check=False)
    assert proc.returncode == 129
    assert proc.stderr.startswith("error: unknown option '--frobnicate'")


def test_bad_subcommand_option_exits_129_without_traceback(project):
    proc = project.exp("help", "--nope", check=False)
    assert proc.returncode == 129
    assert "error: unrecognized arguments: --nope" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_dash_C_changes_directory(project, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    proc = subprocess.run(["git", "exp", "-C", str(project.path), "--version"],
                          cwd=outside, text=True, capture_output=True)
    assert proc.returncode == 0
    proc = subprocess.run(["git", "exp", "-C", str(tmp_path / "missing"), "--version"],
                          cwd=outside, text=True, capture_output=True)
    assert proc.returncode == 1
    assert "error: cannot change to" in proc.stderr


def test_help_command_prints_help_when_not_a_terminal(project):
    proc = project.exp("help", "help")
    assert "usage: git exp help" in proc.stdout
    assert "Opens the manual page" in proc.stdout


def test_dash_dash_help_of_a_command_shows_its_manual(project):
    proc = project.exp("help", "--help")
    assert "usage: git exp help" in proc.stdout


def test_help_for_unknown_command_is_an_error(project):
    proc = project.exp("help", "nothing", check=False)
    assert proc.returncode == 1
    assert "error: no manual for 'nothing'" in proc.stderr
