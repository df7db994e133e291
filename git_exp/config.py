"""Settings: Git config under `exp.*` (every scope), then a committed `.expconfig`.

`.expconfig` uses Git's config syntax and holds what a team shares (such as
the data remote's URL); the user's own Git config always wins over it. Both
are read with the real `git config`, so includes and conditional includes
behave exactly as the user expects.
"""
from __future__ import annotations

import os

from git_exp.errors import ExpError
from git_exp.git import git

TYPE_CHECKING = False   # typing's, without importing typing at start-up (mypy reads the name as True)
if TYPE_CHECKING:
    from git_exp.repo import Repository

_UNITS = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}
_TRUE = {"true", "yes", "on", "1", ""}
_FALSE = {"false", "no", "off", "0"}


def _normalize(key: str) -> str:
    # Section and variable names are case-insensitive; a subsection is not.
    section, _, rest = key.partition(".")
    if "." in rest:
        sub, _, name = rest.rpartition(".")
        return f"{section.lower()}.{sub}.{name.lower()}"
    return f"{section.lower()}.{rest.lower()}"


# Set by read_once(): within one command each source is read once (the CLI's
# color decision and the command's own settings would each spawn `git config`).
_ONCE: dict | None = None


class read_once:  # noqa: N801 - used as a function: `with read_once():`
    """Within this block, each config source is read at most once.

    A class rather than contextlib.contextmanager: contextlib costs every
    command and hook 2 ms of imports."""

    def __enter__(self) -> None:
        global _ONCE
        self._previous, _ONCE = _ONCE, {}

    def __exit__(self, *exc: object) -> None:
        global _ONCE
        _ONCE = self._previous


def _read(args: list[str], cwd: str | None) -> dict[str, list[str]]:
    if _ONCE is None:
        return _read_uncached(args, cwd)
    key = (tuple(args), os.path.realpath(cwd or os.getcwd()))
    if key not in _ONCE:
        _ONCE[key] = _read_uncached(args, cwd)
    return _ONCE[key]


def _read_uncached(args: list[str], cwd: str | None) -> dict[str, list[str]]:
    # Not check=True: a config file git cannot parse (a broken .expconfig)
    # gives no settings from it, rather than stopping every command and hook.
    proc = git(["config", "-z", "--list", *args], cwd=cwd, check=False)
    values: dict[str, list[str]] = {}
    if proc.returncode != 0:
        return values
    for entry in proc.stdout.decode("utf-8", "surrogateescape").split("\0"):
        if not entry:
            continue
        key, _, value = entry.partition("\n")
        values.setdefault(_normalize(key), []).append(value)
    return values


class Config:
    """A read-only view of the settings; later sources override earlier ones."""

    def __init__(self, values: dict[str, list[str]]):
        self._values = values

    @classmethod
    def load(cls, repo: Repository | None = None) -> "Config":
        values: dict[str, list[str]] = {}
        cwd = repo.root if repo is not None else None
        if repo is not None:
            shared = os.path.join(repo.root, ".expconfig")
            if os.path.isfile(shared):
                values.update(_read(["--file", shared], cwd))
        values.update(_read([], cwd))
        return cls(values)

    def get(self, key: str, default: str | None = None) -> str | None:
        found = self._values.get(_normalize(key))
        return found[-1] if found else default

    def get_all(self, key: str) -> list[str]:
        return list(self._values.get(_normalize(key), []))

    def get_bool(self, key: str, default: bool) -> bool:
        value = self.get(key)
        if value is None:
            return default
        low = value.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ExpError(f"bad boolean config value '{value}' for '{key}'",
                       hint="use true or false")

    def get_int(self, key: str, default: int) -> int:
        value = self.get(key)
        if value is None:
            return default
        text = value.strip().lower()
        unit = text[-1:] if text[-1:] in _UNITS else ""
        number = text[:-1] if unit else text
        try:
            return int(number) * _UNITS[unit]
        except ValueError:
            raise ExpError(f"bad numeric config value '{value}' for '{key}'",
                           hint="use a whole number, optionally with k, m or g") from None

    def section(self, prefix: str) -> dict[str, str]:
        """Every key under PREFIX (e.g. 'remote.origin.'), last value each."""
        prefix = prefix.lower()
        return {k: v[-1] for k, v in self._values.items() if k.lower().startswith(prefix)}
