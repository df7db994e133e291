"""Where the page and its files go, kept out of Git.

The default folder, `.git-exp/plots/` in the work tree, holds a `.gitignore`
of `*`: Git then ignores the folder's files (that .gitignore too), so neither
`git status` nor an experiment's snapshot of the work tree ever picks them
up, and no file of the user's changes. A folder given with -o is the user's
to manage. Files are written atomically: a page is never seen half-written.
"""
from __future__ import annotations

import os
import re

from git_exp.atomic import write_atomic
from git_exp.errors import ExpError

DEFAULT_DIR = (".git-exp", "plots")
PAGE = "index.html"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def folder_for(repo, out: str | None) -> tuple:
    """(absolute folder, whether it is our default one)."""
    if out:
        return os.path.abspath(out), False
    return repo.path(*DEFAULT_DIR), True


def prepare(folder: str, ours: bool) -> None:
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise ExpError(f"'{folder}' is a file, not a folder",
                       hint="name another output folder with -o DIR")
    try:
        os.makedirs(folder, exist_ok=True)
        if ours:
            ignore = os.path.join(folder, ".gitignore")
            if not os.path.exists(ignore):
                write_atomic(ignore, "# written by git-exp: keeps its plots out of Git\n*\n")
    except OSError as exc:
        raise ExpError(f"cannot create '{folder}': {exc.strerror}") from None


def write_page(repo, html: str, out: str | None = None) -> str:
    """Write HTML as the page in OUT (default: .git-exp/plots/); its path."""
    folder, ours = folder_for(repo, out)
    prepare(folder, ours)
    path = os.path.join(folder, PAGE)
    _write(path, html)
    return path


def write_images(repo, result, out: str | None = None) -> dict:
    """Every image of RESULT as a file under OUT/images/; {(section id, revision index): path}."""
    folder, ours = folder_for(repo, out)
    prepare(folder, ours)
    paths = {}
    for section in result.sections:
        for image in section.images:
            name = f"{image.revision:03d}-{safe_name(image.name)}"
            path = os.path.join(folder, "images", name, *image.path.split("/"))
            _write(path, image.data)
            paths[(section.id, image.revision)] = path
    return paths


def write_charts(repo, svgs: dict, out: str | None = None) -> dict:
    """SVGS {chart id: markup} as files under OUT/charts/; {chart id: path}."""
    folder, ours = folder_for(repo, out)
    prepare(folder, ours)
    paths = {}
    for number, (chart_id, markup) in enumerate(svgs.items()):
        # The number keeps two ids that differ only in odd characters apart.
        path = os.path.join(folder, "charts", f"{number:02d}-{safe_name(chart_id)}.svg")
        _write(path, markup)
        paths[chart_id] = path
    return paths


def safe_name(text: str) -> str:
    return _UNSAFE.sub("_", text).strip("._") or "_"


def _write(path: str, data) -> None:
    try:
        write_atomic(path, data)
    except OSError as exc:
        raise ExpError(f"cannot write '{path}': {exc.strerror}") from None
