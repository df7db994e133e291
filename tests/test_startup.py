"""Start-up budget: `git exp` runs from hooks on every commit and checkout.

Checked by which modules get loaded, not by timing, so it cannot flake and
cannot silently rot.
"""
from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

HEAVY = ("yaml", "colorama", "dulwich", "sqlite3", "json", "tomllib", "tomli", "argparse")


def loaded_modules(*argv: str) -> set[str]:
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        f"sys.argv = ['git-exp', *{list(argv)!r}]\n"
        "from git_exp.cli import main\n"
        "import io, contextlib\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main()\n"
        "print('\\n'.join(sorted(sys.modules)))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_version_imports_nothing_heavy():
    mods = loaded_modules("--version")
    assert not {m for m in mods if m.split(".")[0] in HEAVY}
    # Not even the command registry: the answer needs only the version.
    assert {m for m in mods if m.startswith("git_exp")} == {"git_exp", "git_exp.cli", "git_exp.errors"}


def test_overview_imports_no_command_module():
    mods = loaded_modules("-h")
    assert not {m for m in mods if m.startswith("git_exp.commands.")}
    assert not {m for m in mods if m.split(".")[0] in HEAVY}
