"""A `git-exp` program that runs this source tree, for benchmarks.

Benches measure the code as it is in the checkout, not an installed copy;
Git finds the shim on PATH like any `git exp` (bench/run's venv mode is the
exception: it measures a real pip install).
"""
from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_shim(folder: str) -> str:
    """Write FOLDER/git-exp running this tree with this interpreter; return FOLDER."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "git-exp")
    with open(path, "w") as fh:
        fh.write(f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {ROOT!r})\n"
                 "from git_exp.cli import main\nsys.exit(main())\n")
    os.chmod(path, 0o755)
    return folder
