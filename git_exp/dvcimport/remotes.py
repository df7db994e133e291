"""DVC's remotes (`.dvc/config`) as data-remote settings.

DVC names its remotes on its own (`core.remote` is the default); git-exp
pairs a data remote with Git remotes instead, so the default DVC remote
becomes `exp.remote` in the committed .expconfig (every Git remote's data
goes there) and the others are named in notes with the command that would
use them. Kinds git-exp speaks: a directory, `s3://`, `ssh://`. DVC keeps
its objects under `files/md5/` and we keep ours under `files/sha256/`, so
both can share one location; what DVC stored there is not ours to read, so
the note says to push the data once with git-exp.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from git_exp.errors import ExpError

_SECTION = re.compile(r"""^\[\s*'?\s*(?P<kind>\w+)(?:\s+"(?P<name>[^"]*)")?\s*'?\s*\]$""")
_MAX_CONFIG = 1 << 20
SUPPORTED = ("s3://", "ssh://")


def read_dvc_config(root: str, name: str = "config") -> dict[str, dict[str, str]]:
    """`.dvc/config` as {section: {key: value}}; sections `remote "x"` become `remote x`.

    DVC writes it with configobj: INI sections, indented `key = value` lines."""
    path = os.path.join(root, ".dvc", name)
    try:
        with open(path, "rb") as fh:
            data = fh.read(_MAX_CONFIG + 1)
    except FileNotFoundError:
        return {}
    if len(data) > _MAX_CONFIG:
        raise ExpError(f".dvc/{name}: too large to be a DVC config; not read")
    sections: dict[str, dict[str, str]] = {}
    current = None
    for number, raw in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        match = _SECTION.match(line)
        if match:
            current = sections.setdefault(
                f"{match['kind']} {match['name']}" if match["name"] is not None else match["kind"], {})
            continue
        key, sep, value = line.partition("=")
        if not sep or current is None:
            raise ExpError(f".dvc/{name}:{number}: cannot read this line: {raw.strip()!r}",
                           hint="fix it with 'dvc config', or move the file aside to import without it")
        current[key.strip()] = value.strip().strip("'\"")
    return sections


@dataclass
class RemotePlan:
    settings: dict[str, str] = field(default_factory=dict)   # .expconfig key -> value
    notes: list[str] = field(default_factory=list)


def _kind_of(url: str) -> str | None:
    if url.startswith(SUPPORTED):
        return url.split(":", 1)[0]
    if "://" in url and not url.startswith("file://"):
        return None
    return "directory"


def plan_remotes(root: str) -> RemotePlan:
    config = read_dvc_config(root)
    plan = RemotePlan()
    default = config.get("core", {}).get("remote")
    for section, values in sorted(config.items()):
        if not section.startswith("remote "):
            continue
        name, url = section[len("remote "):], values.get("url", "")
        kind = _kind_of(url)
        if kind is None:
            plan.notes.append(f"DVC remote '{name}' ({url}) is of a kind git-exp does not speak "
                              "(a directory, s3:// and ssh:// are supported); not converted")
            continue
        if kind == "directory":
            local = url[len("file://"):] if url.startswith("file://") else url
            # DVC reads a relative path relative to the folder of its config file.
            url = os.path.normpath(os.path.join(root, ".dvc", os.path.expanduser(local)))
        if name == default:
            plan.settings["exp.remote"] = url
            plan.notes.append(f"DVC's default remote '{name}' is now every Git remote's data remote "
                              f"(exp.remote = {url} in .expconfig); DVC's MD5 objects there are not "
                              "git-exp's: send the data once with 'git exp push <remote>'")
        else:
            plan.notes.append(f"DVC remote '{name}' ({url}) is not the default; to use it for a Git "
                              f"remote: git config remote.<git-remote>.expdata '{url}'")
    if os.path.exists(os.path.join(root, ".dvc", "config.local")):
        plan.notes.append(".dvc/config.local (credentials and local settings) is not converted: "
                          "git-exp reads credentials from Git, SSH and the standard AWS files")
    return plan
