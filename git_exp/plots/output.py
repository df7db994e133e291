"""Where the page and its files go, kept out of Git.

The default folder, `.git-exp/plots/` in the work tree, holds a `.gitignore`
of `*`: Git then ignores the folder's files (that .gitignore too), so neither
`git status` nor an experiment's snapshot of the work tree ever picks them
up, and no file of the user's changes. A folder given with -o is the user's
to manage. Files are written atomically: a page is never seen half-written.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import os
import re

from git_exp.errors import ExpError
from git_exp.worktree_writes import WorkTree

if TYPE_CHECKING:
    from git_exp.plots.charts import PlotResult
    from git_exp.repo import Repository

DEFAULT_DIR = (".git-exp", "plots")
PAGE = "index.html"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def folder_for(repo: Repository, out: str | None) -> tuple:
    """(absolute folder, whether it is our default one)."""
    if out:
        return os.path.abspath(out), False
    return repo.path(*DEFAULT_DIR), True


def prepare(repo: Repository, folder: str, ours: bool) -> None:
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise ExpError(f"'{folder}' is a file, not a folder",
                       hint="name another output folder with -o DIR")
    try:
        if ours:
            # Inside the work tree: through the door, so no link on the way is followed.
            WorkTree(repo.root).mkdir("/".join(DEFAULT_DIR))
            if not os.path.exists(os.path.join(folder, ".gitignore")):
                WorkTree(folder).write(".gitignore", "# written by git-exp: keeps its plots out of Git\n*\n")
        else:
            os.makedirs(folder, exist_ok=True)  # the folder the user named with -o
    except OSError as exc:
        raise ExpError(f"cannot create '{folder}': {exc.strerror}") from None


def write_page(repo: Repository, html: str, out: str | None = None) -> str:
    """Write HTML as the page in OUT (default: .git-exp/plots/); its path."""
    folder, ours = folder_for(repo, out)
    prepare(repo, folder, ours)
    return _write(folder, PAGE, html)


def write_images(repo: Repository, result: PlotResult, out: str | None = None) -> dict:
    """Every image of RESULT as a file under OUT/images/; {(section id, revision index): path}."""
    folder, ours = folder_for(repo, out)
    prepare(repo, folder, ours)
    paths = {}
    for section in result.sections:
        for image in section.images:
            name = f"{image.revision:03d}-{safe_name(image.name)}"
            # image.path comes from an experiment: the door refuses '..', '.git' and links.
            paths[(section.id, image.revision)] = _write(folder, f"images/{name}/{image.path}", image.data)
    return paths


def write_charts(repo: Repository, svgs: dict, out: str | None = None) -> dict:
    """SVGS {chart id: markup} as files under OUT/charts/; {chart id: path}."""
    folder, ours = folder_for(repo, out)
    prepare(repo, folder, ours)
    paths = {}
    for number, (chart_id, markup) in enumerate(svgs.items()):
        # The number keeps two ids that differ only in odd characters apart.
        paths[chart_id] = _write(folder, f"charts/{number:02d}-{safe_name(chart_id)}.svg", markup)
    return paths


def safe_name(text: str) -> str:
    return _UNSAFE.sub("_", text).strip("._") or "_"


def _write(folder: str, rel: str, data: bytes | str) -> str:
    try:
        return WorkTree(folder).write(rel, data)
    except OSError as exc:
        raise ExpError(f"cannot write '{os.path.join(folder, rel)}': {exc.strerror}") from None
