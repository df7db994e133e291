"""`git exp remote`: each Git remote, the data remote paired with it, and why.

The pairing itself is remote.locate()'s, the same function push, pull,
fetch and the hooks use, so what this shows is what they will do. The one
thing added here is where a setting was read from (`git config
--show-origin`, or the committed .expconfig), asked only when listing.
Uploads may go elsewhere than downloads come from (a push URL, pushInsteadOf,
lfs.pushurl): the push side is located too and shown when it differs.

The reachability probe (-v) makes one real request of each data remote
(DataRemote.probe: whether it holds a made-up object), bounded by a
timeout, from a thread, so a remote that never answers does not hang the
listing.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass

from git_exp.errors import ExpError
from git_exp.git import git, git_text
from git_exp.repo import Repository

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from git_exp.remotes.base import DataRemote
    from git_exp.remotes.lfs.endpoint import Endpoint

PROBE_TIMEOUT = 10.0


@dataclass
class Pairing:
    name: str                         # the Git remote
    url: str                          # its URL (after insteadOf)
    location: str | None = None       # the data remote, or None when there is none
    reason: str = ""                  # the setting that chose it
    error: str | None = None          # why there is no data remote
    hint: str | None = None
    reachable: bool | None = None     # -v only
    probe: str = ""                   # -v only: what the probe found
    push_location: str | None = None  # where uploads go, when not LOCATION
    push_reason: str = ""
    push_error: str | None = None     # why uploads have no data remote while downloads do
    push_reachable: bool | None = None   # -v only, when uploads go elsewhere
    push_probe: str = ""

    def to_dict(self) -> dict:
        return {"name": self.name, "url": self.url, "data_remote": self.location,
                "reason": self.reason or None, "error": self.error,
                "reachable": self.reachable, "probe": self.probe or None,
                "push_data_remote": self.push_location, "push_reason": self.push_reason or None,
                "push_error": self.push_error, "push_reachable": self.push_reachable,
                "push_probe": self.push_probe or None}


def _origin_of(repo: Repository, key: str) -> str:
    """Where KEY was set: a Git config file (as `--show-origin` names it) or .expconfig."""
    proc = git(["config", "--show-origin", "--get", key], cwd=repo.root, check=False)
    if proc.returncode == 0:
        origin = proc.stdout.decode("utf-8", "replace").split("\t", 1)[0]
        origin = origin[len("file:"):] if origin.startswith("file:") else origin
        home = os.path.expanduser("~")
        if home and origin.startswith(home + os.sep):
            origin = "~" + origin[len(home):]
        return origin
    return ".expconfig"


def _reason(repo: Repository, why: str) -> str:
    if why.startswith(("remote.", "exp.")):
        return f"{why} ({_origin_of(repo, why)})"
    return why


def pairings(repo: Repository, probe: bool = False, timeout: float = PROBE_TIMEOUT) -> list[Pairing]:
    """Every Git remote of REPO, in `git remote` order, with its data remote."""
    from git_exp.remotes.location import locate, open_located
    names = [n for n in git_text(["remote"], cwd=repo.root).splitlines() if n]
    found = []
    for name in names:
        url = git_text(["ls-remote", "--get-url", name], cwd=repo.root, check=False) or name
        pairing = Pairing(name, url)
        try:
            location, why = locate(repo, name, url)
            pairing.location = location if isinstance(location, str) else location.href
            pairing.reason = _reason(repo, why)
            push = _push_side(repo, pairing)
            if probe:
                data_remote = open_located(repo, location, why)
                pairing.location = str(data_remote)
                pairing.reachable, pairing.probe = probe_remote(data_remote, timeout)
                if push is not None:   # uploads go elsewhere: that store is asked too
                    upload_remote = open_located(repo, *push)
                    pairing.push_location = str(upload_remote)
                    pairing.push_reachable, pairing.push_probe = probe_remote(upload_remote, timeout)
        except ExpError as err:
            pairing.error, pairing.hint = err.message, err.hint
        found.append(pairing)
    return found


def _push_side(repo: Repository, pairing: Pairing) -> tuple[str | Endpoint, str] | None:
    """Fill PAIRING's push location when `git exp push` would upload elsewhere;
    that location and the setting that chose it, else None."""
    from git_exp.remotes.location import locate
    try:
        location, why = locate(repo, pairing.name, push=True)
    except ExpError as err:   # e.g. a push URL that is a path holding no repository
        pairing.push_error = err.message
        return None
    href = location if isinstance(location, str) else location.href
    if href == pairing.location:
        return None
    pairing.push_location, pairing.push_reason = href, _reason(repo, why)
    return location, why


def probe_remote(data_remote: DataRemote, timeout: float = PROBE_TIMEOUT) -> tuple[bool, str]:
    """(reachable, what was found) after DATA_REMOTE.probe()'s one request, or the timeout."""
    outcome: dict[str, str] = {}   # "ok" or "error": the message

    def ask() -> None:
        try:
            data_remote.probe()
            outcome["ok"] = "yes"
        except ExpError as err:
            outcome["error"] = err.message
        except Exception as err:  # noqa: BLE001 - any failure is the answer: unreachable
            outcome["error"] = str(err) or type(err).__name__

    thread = threading.Thread(target=ask, name="git-exp-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        data_remote.cancel()
        return False, f"no answer within {timeout:g} s"
    if "error" in outcome:
        return False, outcome["error"]
    root = getattr(data_remote, "root", None)
    if root is not None and not os.path.isdir(root):
        return True, "reachable (empty: the directory does not exist yet)"
    return True, "reachable"
