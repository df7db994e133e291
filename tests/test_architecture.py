"""The layering rule from the README, kept true by a test.

The core (everything but cli.py, commands/, ui/ and manpage.py) never parses
argv, never colors, never imports the CLI: it returns data and raises ExpError.
"""
from __future__ import annotations

import ast

from tests.conftest import ROOT

FORBIDDEN = {"argparse", "colorama", "git_exp.cli", "git_exp.commands", "git_exp.ui"}
OUTSIDE_CORE = {"cli.py", "manpage.py", "__main__.py"}


def core_modules():
    package = ROOT / "git_exp"
    for path in package.rglob("*.py"):
        rel = path.relative_to(package)
        # example/ is the user's project that `init --example` copies, not git-exp.
        if rel.parts[0] in ("commands", "ui", "example") or str(rel) in OUTSIDE_CORE:
            continue
        yield path


def imported_names(path):
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_core_never_imports_the_cli_or_presentation():
    offenders = []
    for path in core_modules():
        for name in imported_names(path):
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN):
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []


def test_core_never_prints():
    offenders = []
    for path in core_modules():
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print":
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []
