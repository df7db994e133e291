"""The variables `${...}` reads in exp.yaml: where they come from and how they merge.

params.yaml next to exp.yaml, the top-level and stage-level `vars` (inline
mappings or data files, with an optional `file.yaml:key1,key2` selection),
and foreach/matrix's `item` and `key` fill a Context; a name defined twice
is an error naming both places. template.py's Resolver reads a Context; the
helpers it shares (lookup, key hints, which params keys a value came from)
live here beside the data they walk.
"""
from __future__ import annotations

import copy
import datetime

from git_exp.errors import ExpError
from git_exp.params import read as read_params
from git_exp.pipeline.paths import normalize
from git_exp.pipeline.yamlsrc import Mark, YList

TYPE_CHECKING = False   # typing's, without importing typing on run's path (mypy reads the name as True)
if TYPE_CHECKING:
    from typing import Iterator

    from git_exp.pipeline.records import Reader

_DATA_EXTS = tuple(read_params.FORMATS)


def kind_of(value: object) -> str:
    """The user's word for a value's type, for error messages."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    return f"a {type(value).__name__}"


def scalar_text(value: object) -> str:
    """How a scalar looks once embedded in a string (DVC's spelling)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return str(value)


def parse_data_file(text: str, path: str) -> dict:
    """A params-like file's mapping (YAML, JSON or TOML by extension)."""
    return read_params.parse(text, read_params.fmt_of(path), path)


# ------------------------------------------------------------------ context

class Context:
    """The variables a stage can use, and which file each one came from.

    `sources` mirrors `data`: for every mapping a dict with the same keys,
    holding the source file of each non-mapping value, so the keys a stage
    reads can be traced back to params.yaml.
    """

    def __init__(self) -> None:
        self.data: dict = {}
        self.sources: dict = {}
        self.files: set[str] = set()

    def child(self) -> "Context":
        """A copy that stage-level vars can extend without touching this one."""
        other = Context()
        other.data = copy.deepcopy(self.data)
        other.sources = copy.deepcopy(self.sources)
        other.files = set(self.files)
        return other

    def merge(self, data: dict, source: str, mark: Mark) -> None:
        _merge(self.data, self.sources, data, source, mark, "")

    def load_vars(self, entries: object, base_dir: str, read: Reader, mark: Mark) -> None:
        """Add a `vars` value: a mapping, or a list of mappings and file names."""
        if entries is None:
            return
        if isinstance(entries, dict):
            self.merge(entries, "vars", mark)
            return
        if not isinstance(entries, list):
            raise ExpError(f"{mark}: 'vars' must be a list of file names and mappings, "
                           f"got {kind_of(entries)}",
                           hint="for example: vars: [config.yaml, {epochs: 5}]")
        for index, entry in enumerate(entries):
            where = entries.item_mark(index) if isinstance(entries, YList) else mark
            if isinstance(entry, dict):
                self.merge(entry, "vars", where)
            elif isinstance(entry, str):
                self._load_file(entry, base_dir, read, where)
            else:
                raise ExpError(f"{where}: each entry of 'vars' must be a file name or a mapping, "
                               f"got {kind_of(entry)}",
                               hint="for example: vars: [config.yaml, 'params.yaml:train', {epochs: 5}]")

    def _load_file(self, entry: str, base_dir: str, read: Reader, mark: Mark) -> None:
        name, keys = entry, None
        if ":" in entry and not entry.lower().endswith(_DATA_EXTS):
            name, _, selection = entry.rpartition(":")
            keys = [k.strip() for k in selection.split(",") if k.strip()]
        # Only read, never written, and read through READ (maybe from a commit): no link check.
        path = normalize(name, base_dir, "", "vars file", mark, check_links=False)
        if path in self.files:
            return  # already loaded whole (params.yaml listed again): every key is there
        text = read(path)
        if text is None:
            raise ExpError(f"{mark}: vars file '{path}' does not exist",
                           hint="vars files are relative to the folder of exp.yaml "
                                "(a stage's own vars: to its wdir)")
        data = parse_data_file(text, path)
        if keys is not None:
            picked: dict = {}
            for key in keys:
                value = _lookup(data, key.split("."))
                if value is MISSING:
                    raise ExpError(f"{mark}: vars file '{path}' has no key '{key}'",
                                   hint=keys_hint(data))
                _assign(picked, key.split("."), value)
            data = picked
        else:
            self.files.add(path)
        self.merge(data, path, mark)


MISSING = object()


def _lookup(data: object, parts: list[str]) -> object:
    for part in parts:
        if not isinstance(data, dict):
            return MISSING
        key = find_key(data, part)
        if key is MISSING:
            return MISSING
        data = data[key]
    return data


def find_key(mapping: dict, part: str | int) -> object:
    """The key PART names: `${a.1}` and `${a[1]}` also find an integer key 1 (else MISSING)."""
    for key in (part, str(part)) + ((int(part),) if str(part).isdigit() else ()):
        if key in mapping:
            return key
    return MISSING


def _assign(target: dict, parts: list[str], value: object) -> None:
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value


def _merge(dst: dict, dst_src: dict, new: dict, source: str, mark: Mark, prefix: str) -> None:
    for key, value in new.items():
        path = f"{prefix}{key}"
        if key in dst:
            old = dst[key]
            if isinstance(old, dict) and isinstance(value, dict):
                _merge(old, dst_src[key], value, source, mark, path + ".")
                continue
            other = dst_src[key] if isinstance(dst_src[key], str) else "an earlier source"
            raise ExpError(f"{mark}: variable '{path}' from '{source}' is already defined by '{other}'",
                           hint="vars cannot override each other; rename one of them")
        if isinstance(value, dict):
            dst[key], dst_src[key] = {}, {}
            _merge(dst[key], dst_src[key], value, source, mark, path + ".")
        else:
            dst[key] = value
            dst_src[key] = source


def keys_hint(data: object) -> str | None:
    if isinstance(data, dict) and data:
        names = ", ".join(str(k) for k in list(data)[:12])
        return f"available keys: {names}{', ...' if len(data) > 12 else ''}"
    return None


def _leaf_sources(node: str | dict) -> set[str]:
    if isinstance(node, str):
        return {node}
    found: set[str] = set()
    for child in node.values():
        found |= _leaf_sources(child)
    return found


def used_keys(node: str | dict, path: str) -> Iterator[tuple[str, str]]:
    """(source, key) pairs covering what selecting NODE at PATH read."""
    if isinstance(node, str):
        yield node, path
        return
    sources = _leaf_sources(node)
    if len(sources) == 1:
        yield next(iter(sources)), path
    elif sources:
        for key, child in node.items():
            yield from used_keys(child, f"{path}.{key}")
