"""Every command has a manual page, and the committed pages are current."""
from __future__ import annotations

import argparse
import importlib
import shutil
import subprocess

import pytest

from git_exp import manpage
from git_exp.commands import COMMANDS, build_parser
from tests.conftest import ROOT

MAN = ROOT / "man"


def test_committed_pages_match_the_commands():
    rendered = manpage.render_all()
    committed = {p.name: p.read_text() for p in [*MAN.glob("*.1"), *MAN.glob("*.7")]}
    stale = sorted(n for n in rendered if committed.get(n) != rendered[n])
    extra = sorted(set(committed) - set(rendered))
    assert not stale and not extra, (
        f"man pages out of date: {stale}, unexpected: {extra}; "
        "run `python -m git_exp.manpage`")


def _long_options(parser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _long_options(sub)
        for opt in action.option_strings:
            if opt.startswith("--"):
                yield opt


@pytest.mark.parametrize("verb", sorted(COMMANDS))
def test_every_long_option_is_on_its_page(verb):
    page = (MAN / f"git-exp-{verb}.1").read_text().replace("\\-", "-")
    parser = build_parser(verb, importlib.import_module(COMMANDS[verb][0]))
    missing = [opt for opt in set(_long_options(parser)) if opt not in page]
    assert missing == []


def test_main_page_lists_every_command():
    page = (MAN / "git-exp.1").read_text().replace("\\-", "-")
    assert [v for v in COMMANDS if f"git-exp-{v}" not in page] == []


def test_git_help_finds_command_pages_by_git_name():
    for verb in COMMANDS:
        assert (MAN / f"gitexp-{verb}.1").read_text() == f".so man1/git-exp-{verb}.1\n"


@pytest.mark.skipif(shutil.which("man") is None, reason="man(1) is not installed")
def test_pages_render_with_man():
    for page in MAN.glob("git-exp*.1"):
        proc = subprocess.run(["man", "--warnings", "-l", str(page)], capture_output=True, text=True)
        assert proc.returncode == 0 and proc.stderr == "", proc.stderr
        assert "NAME" in proc.stdout


def test_every_setting_the_code_reads_is_on_the_main_page():
    import re
    page = (MAN / "git-exp.1").read_text().replace("\\-", "-")
    read = set()
    for path in (ROOT / "git_exp").rglob("*.py"):
        read |= set(re.findall(r"config\.get\w*\(\s*\"((?:exp|color)\.[A-Za-z.]+)\"", path.read_text()))
    assert read, "the scan found no settings: the pattern is stale"
    assert sorted(k for k in read if k not in page) == []
