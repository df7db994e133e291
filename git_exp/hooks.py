"""Installing git-exp's Git hooks, next to whatever hooks the user already has.

The hook files are the templates in the top-level `hooks/` folder: a few
lines of POSIX sh with a marker line, a `command -v git-exp` check and an
`exec git-exp hook <name> "$@"`; the logic lives in that (hidden) command.
pip installs the templates as data files under <prefix>/share/git-exp/hooks;
a source checkout uses its own folder.

Rules, each from a way other tools broke their users' hooks:
- the hooks directory is the one Git really uses: `git rev-parse --git-path
  hooks` follows core.hooksPath and, from a linked worktree, the common dir;
- a file carrying our marker is ours (any version): it is rewritten in place,
  and re-running install with nothing to change changes nothing;
- any other hook is never overwritten: it is moved to `<name>.legacy`, which
  our hook runs first, combining exit codes; `--uninstall` renames it back,
  so the user's original returns byte for byte, mode included;
- if `<name>.legacy` is taken too (another hook manager uses the same
  convention), install refuses and changes nothing;
- a hooks directory outside the repository (a core.hooksPath shared by
  every repository of the user) needs --force.
"""
from __future__ import annotations

import os
import site
import sys

from git_exp.errors import ExpError
from git_exp.plainclass import Mutable
from git_exp.git import git_text

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from git_exp.repo import Repository

HOOKS = ("pre-commit", "post-checkout", "post-merge", "pre-push")
MARKER = "# git-exp-hook"
LEGACY_SUFFIX = ".legacy"
_SHARE = os.path.join("share", "git-exp", "hooks")


class HookChange(Mutable):
    # Not a dataclass: hooks import this module on every checkout (plainclass.py).
    __slots__ = ("name", "action", "legacy")

    def __init__(self, name: str, action: str, legacy: bool = False):
        self.name = name
        # install: "installed", "updated", "unchanged"; uninstall: "removed", "absent", "not ours"
        self.action = action
        self.legacy = legacy    # a foreign hook was kept as <name>.legacy (install) or put back (uninstall)


def template_dirs() -> list[str]:
    """Where the hook templates may be: the source tree, then pip's data dirs."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    dirs = [os.path.join(here, "hooks"), os.path.join(sys.prefix, _SHARE)]
    user_base = getattr(site, "USER_BASE", None)
    if user_base:
        dirs.append(os.path.join(user_base, _SHARE))
    return dirs


def template(name: str) -> bytes:
    """The text of hook NAME from the first folder that has all our templates."""
    for folder in template_dirs():
        try:
            with open(os.path.join(folder, name), "rb") as fh:
                data = fh.read()
        except OSError:
            continue
        if is_ours(data):
            return data
    raise ExpError(f"cannot find the '{name}' hook template of git-exp",
                   hint=f"reinstall git-exp; looked in {', '.join(template_dirs())}")


def is_ours(data: bytes) -> bool:
    """DATA is a hook written by some version of git-exp (it has the marker line)."""
    return any(line.startswith(MARKER.encode()) for line in data.splitlines()[:5])


def hooks_dir(repo: Repository) -> str:
    """The folder Git runs hooks from for REPO (core.hooksPath, worktrees)."""
    return git_text(["rev-parse", "--path-format=absolute", "--git-path", "hooks"], cwd=repo.root)


def _inside(path: str, folder: str) -> bool:
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _read(path: str) -> bytes | None:
    if not os.path.lexists(path):
        return None
    if os.path.islink(path) and not os.path.exists(path):
        return b""  # a dangling link is somebody's, not ours
    if os.path.isdir(path):
        raise ExpError(f"'{path}' is a folder, where Git expects a hook file")
    with open(path, "rb") as fh:
        return fh.read()


def rebase_in_progress(repo: Repository) -> bool:
    """A rebase is running: its checkouts are steps, not the user's checkout."""
    return any(os.path.isdir(os.path.join(repo.git_dir, d)) for d in ("rebase-merge", "rebase-apply"))


def install(repo: Repository, force: bool = False) -> tuple[str, list[HookChange]]:
    """Install our hooks; (hooks folder, what happened to each hook)."""
    folder = hooks_dir(repo)
    if not force and not (_inside(folder, repo.common_dir) or _inside(folder, repo.root)):
        raise ExpError(f"the hooks folder {folder} (core.hooksPath) is outside this repository, "
                       "so hooks installed there run in every repository that uses it",
                       hint="run 'git exp install --force' to install there anyway")
    plan = []
    for name in HOOKS:  # decide everything before changing anything
        path = os.path.join(folder, name)
        wanted = template(name)
        current = _read(path)
        if current is None:
            plan.append((name, path, wanted, "installed", False))
        elif is_ours(current):
            plan.append((name, path, wanted, "unchanged" if current == wanted else "updated", False))
        else:
            legacy = path + LEGACY_SUFFIX
            if os.path.lexists(legacy):
                raise ExpError(f"cannot install the {name} hook: {path} is not git-exp's, and "
                               f"{os.path.basename(legacy)} is taken too, so there is nowhere to keep it",
                               hint=f"merge the two hooks into {name} by hand (another hook manager may "
                                    "have made the .legacy file), then run 'git exp install' again")
            plan.append((name, path, wanted, "installed", True))
    from git_exp.atomic import write_atomic
    os.makedirs(folder, exist_ok=True)
    changes = []
    for name, path, wanted, action, keep_legacy in plan:
        if keep_legacy:
            os.rename(path, path + LEGACY_SUFFIX)  # same folder: atomic, bytes and mode kept
        if action != "unchanged":
            write_atomic(path, wanted, mode=0o755)
        changes.append(HookChange(name, action, keep_legacy))
    return folder, changes


def uninstall(repo: Repository) -> tuple[str, list[HookChange]]:
    """Remove our hooks and put back the ones they replaced."""
    folder = hooks_dir(repo)
    changes = []
    for name in HOOKS:
        path = os.path.join(folder, name)
        current = _read(path)
        if current is None:
            changes.append(HookChange(name, "absent"))
            continue
        if not is_ours(current):
            changes.append(HookChange(name, "not ours"))
            continue
        legacy = path + LEGACY_SUFFIX
        if os.path.lexists(legacy):
            os.replace(legacy, path)  # the user's original, byte for byte
            changes.append(HookChange(name, "removed", legacy=True))
        else:
            os.unlink(path)
            changes.append(HookChange(name, "removed"))
    return folder, changes
