"""The `git exp` command itself: dispatch, global options, errors, exit codes."""
from __future__ import annotations

import subprocess

from git_exp import __version__
from git_exp.commands import COMMANDS, HIDDEN


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


def test_a_port_out_of_range_is_a_usage_error(committed):
    # The socket's OverflowError (not an OSError) was an internal error: exit 3 and a crash log.
    for port in ("70000", "-1"):
        proc = committed.exp("ui", "--no-browser", f"--port={port}", check=False, timeout=30)
        assert proc.returncode == 129, proc.stderr
        assert proc.stderr.startswith(f"error: argument --port: '{port}' is not a port number "
                                      "from 0 to 65535\n"), proc.stderr
    assert not list((committed.path / ".git" / "exp" / "logs").glob("crash-*.log"))


def test_ui_host_errors_name_the_address_not_the_port(committed):
    proc = committed.exp("ui", "--no-browser", "--host=", check=False, timeout=30)
    assert proc.returncode == 129, proc.stderr
    assert proc.stderr.startswith("error: argument --host: give an address"), proc.stderr
    # A name that does not resolve: the default port was not the problem, so it is
    # neither retried on port 0 nor blamed in the hint.
    proc = committed.exp("ui", "--no-browser", "--host=nosuch.invalid", check=False, timeout=30)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith("error: cannot listen on nosuch.invalid: "), proc.stderr
    assert ":0" not in proc.stderr and "--port" not in proc.stderr
    assert "hint: give --host an address of this machine" in proc.stderr


def test_ui_on_a_taken_port_says_so(committed):
    import socket
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = committed.exp("ui", "--no-browser", f"--port={port}", check=False, timeout=30)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith(f"error: cannot listen on 127.0.0.1:{port}: "), proc.stderr
    assert "hint: pick another port with --port N" in proc.stderr


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


FAULTY_COMMAND = '''
import sys
sys.path.insert(0, {root!r})
import types
from git_exp import cli
module = types.ModuleType("faulty")
module.configure = lambda parser: None
def run(args, console):
    if {flood}:
        for _ in range(100000):
            sys.stdout.write("x" * 80 + "\\n")
        return 0
    raise RuntimeError("a bug")
module.run = run
sys.modules["faulty"] = module
from git_exp.commands import COMMANDS
COMMANDS["faulty"] = ("faulty", "fails on purpose")
sys.exit(cli.main(sys.argv[1:]))
'''


def _faulty(project, *args, flood=False, **kw):
    import sys
    from tests.conftest import ROOT
    code = FAULTY_COMMAND.format(root=str(ROOT), flood=flood)
    return subprocess.run([sys.executable, "-c", code, "faulty", *args], cwd=project.path,
                          text=True, capture_output=True, **kw)


def test_an_internal_error_exits_3_with_one_line_and_a_log(committed):
    proc = _faulty(committed)
    assert proc.returncode == 3
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: internal error in git-exp (a bug)")
    logs = list((committed.path / ".git" / "exp" / "logs").glob("crash-*.log"))
    assert len(logs) == 1 and "RuntimeError: a bug" in logs[0].read_text()
    verbose = _faulty(committed, "-v")
    assert verbose.returncode == 3 and "RuntimeError: a bug" in verbose.stderr


def test_a_reader_going_away_exits_141_quietly(committed):
    import sys
    from tests.conftest import ROOT
    code = FAULTY_COMMAND.format(root=str(ROOT), flood=True)
    proc = subprocess.Popen([sys.executable, "-c", code, "faulty"], cwd=committed.path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.read(100)
    proc.stdout.close()  # as `git exp show | head -1` does
    stderr = proc.stderr.read().decode()
    assert proc.wait() == 141
    assert stderr == ""


def test_a_missing_argument_names_only_what_is_required(committed):
    proc = committed.exp("push", check=False)
    assert proc.returncode == 129
    assert proc.stderr.startswith("error: the following arguments are required: REMOTE\n")
