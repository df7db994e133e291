"""Reading DVC's own files: dvc.yaml, dvc.lock and `.dvc` pointer files.

Everything here arrives with commits (someone else's experiment, an old
branch), so it is untrusted: files are size-capped, parsed by the same
YAML reader as exp.yaml (line and column in every error), paths are
checked before anything is built from them, and a hash must look like one.

dvc.yaml uses the schema exp.yaml uses, so most files convert unchanged,
byte for byte with their comments. Keys our schema does not know (DVC's
`artifacts`, `datasets`, an out's `remote` or `push`, ...) are listed with
file, line and column, and only then left out of exp.yaml: nothing is
dropped without the user being told.
"""
from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import Any, Collection, overload

from git_exp.relpaths import path_problem as check_relpath
from git_exp.errors import ExpError

DVC_YAML = "dvc.yaml"
DVC_LOCK = "dvc.lock"
DVC_SUFFIX = ".dvc"
# Far above any real pipeline or lock file; a larger one is refused, not parsed.
MAX_FILE_SIZE = 8 << 20
_MD5 = re.compile(r"[0-9a-f]{32}(\.dir)?\Z")


@dataclass(frozen=True)
class DvcOut:
    """One path as DVC recorded it: its MD5 (`.dir` for a directory), size, file count."""
    path: str            # repo-relative, posix
    md5: str | None      # None when DVC recorded no hash (never run, or cache: false with no hash)
    size: int | None
    nfiles: int | None
    cache: bool = True

    @property
    def is_dir(self) -> bool:
        return bool(self.md5 and self.md5.endswith(".dir"))


@dataclass
class DvcStageLock:
    cmd: object
    deps: dict[str, DvcOut]
    params: dict[str, dict]
    outs: dict[str, DvcOut]


def check_size(data: bytes, where: str) -> None:
    if len(data) > MAX_FILE_SIZE:
        raise ExpError(f"{where}: {len(data)} bytes, more than a DVC file can sensibly hold; not read",
                       hint="check where this file came from")


def _text(data: bytes, where: str) -> str:
    check_size(data, where)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ExpError(f"{where}: not UTF-8 text (byte {exc.start})") from None


# Any: a YAML document from someone's repository, walked with isinstance checks;
# its mappings are yamlsrc.YDict (they know where each key was written).
def load_yaml(data: bytes, where: str) -> Any:
    from git_exp.pipeline.yamlsrc import load
    return load(_text(data, where), where)


@overload
def plain(value: dict) -> dict: ...
@overload
def plain(value: object) -> object: ...
def plain(value: object) -> object:
    """YAML-with-marks containers as plain dicts and lists (for dumping and comparing)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def _safe_relpath(path: object, where: str) -> str:
    if isinstance(path, str):
        path = posixpath.normpath(path)
    problem = check_relpath(path)
    if problem or not isinstance(path, str):
        raise ExpError(f"{where}: refusing path {path!r}: {problem or 'not text'}",
                       hint="the file may come from someone else's commit; fix or delete the entry")
    return path


def _out(entry: object, base: str, where: str, cache_default: bool = True) -> DvcOut:
    if not isinstance(entry, dict) or "path" not in entry:
        raise ExpError(f"{where}: malformed entry (expected a mapping with 'path')")
    path = _safe_relpath(posixpath.join(base, str(entry["path"])) if base != "." else entry["path"], where)
    md5 = entry.get("md5")
    if md5 is None and entry.get("hash") not in (None, "md5"):
        md5 = None  # another hash kind (an etag of a cloud import): nothing we can verify
    if md5 is not None and (not isinstance(md5, str) or not _MD5.match(md5)):
        raise ExpError(f"{where}: '{path}' has a malformed md5 {md5!r}")
    size, nfiles = entry.get("size"), entry.get("nfiles")
    for label, value in (("size", size), ("nfiles", nfiles)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise ExpError(f"{where}: '{path}' has a malformed {label} {value!r}")
    cache = entry.get("cache", cache_default)
    return DvcOut(path, md5, size, nfiles, bool(cache))


def parse_lock(data: bytes, wdirs: dict[str, str], where: str = DVC_LOCK) -> dict[str, DvcStageLock]:
    """dvc.lock's stages; WDIRS maps a stage name to its repo-relative wdir
    (dvc.lock paths are relative to it)."""
    doc = load_yaml(data, where)
    if doc is None:
        return {}
    if not isinstance(doc, dict) or not isinstance(doc.get("stages", {}), dict):
        raise ExpError(f"{where}: expected a mapping with 'stages'")
    result = {}
    for name, entry in (doc.get("stages") or {}).items():
        if not isinstance(entry, dict):
            raise ExpError(f"{where}: stage '{name}' must be a mapping")
        base = wdirs.get(str(name), ".")
        here = f"{where}: stage '{name}'"
        deps = [_out(e, base, f"{here} deps") for e in (entry.get("deps") or [])]
        outs = [_out(e, base, f"{here} outs") for e in (entry.get("outs") or [])]
        params = entry.get("params") or {}
        if not isinstance(params, dict) or not all(isinstance(v, dict) for v in params.values()):
            raise ExpError(f"{here}: 'params' must map files to values")
        result[str(name)] = DvcStageLock(
            cmd=plain(entry.get("cmd")),
            deps={d.path: d for d in deps},
            params={_safe_relpath(posixpath.join(base, f), f"{here} params"): plain(v)
                    for f, v in params.items()},
            outs={o.path: o for o in outs})
    return result


def parse_dvc_file(data: bytes, relpath: str) -> tuple[list[DvcOut], list[str]]:
    """The outs a `.dvc` file tracks (repo-relative) and what it holds that we do not convert."""
    from git_exp.pipeline.yamlsrc import YDict   # what load_yaml makes of a mapping
    doc = load_yaml(data, relpath)
    if not isinstance(doc, YDict):
        raise ExpError(f"{relpath}: expected a mapping with 'outs'")
    base = posixpath.dirname(relpath) or "."
    outs = [_out(e, base, relpath) for e in (doc.get("outs") or [])]
    notes = []
    if doc.get("deps"):
        notes.append(f"{doc.key_mark('deps')}: 'deps' (a `dvc import` source) is not converted: "
                     "the data is imported as it is now, not as a link to its source")
    for out in outs:
        if not out.cache:
            notes.append(f"{relpath}: '{out.path}' is 'cache: false': left to Git, no pointer written")
    return [o for o in outs if o.cache], notes


# -- dvc.yaml ---------------------------------------------------------------------

def convert_pipeline(data: bytes, where: str = DVC_YAML) -> tuple[bytes, list[str]]:
    """exp.yaml's bytes for dvc.yaml DATA, and what was left out (file:line:col: what).

    When nothing is left out the bytes are DATA itself, comments and all."""
    from git_exp.pipeline.records import OUT_OPTIONS, PLOT_PROPS, STAGE_KEYS, TOP_KEYS
    from git_exp.pipeline.yamlsrc import YDict   # what load_yaml makes of every mapping
    doc = load_yaml(data, where)
    if not isinstance(doc, YDict):
        raise ExpError(f"{where}: expected a mapping with 'stages'")
    dropped: list[str] = []

    def prune(mapping: YDict, allowed: Collection[str], what: str) -> None:
        for key in [k for k in mapping if k not in allowed]:
            dropped.append(f"{mapping.key_mark(key)}: {what} '{key}' is not supported by git-exp; left out")
            del mapping[key]

    def prune_outputs(entries: object, allowed: Collection[str]) -> None:
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, YDict):
                for options in entry.values():
                    if isinstance(options, YDict):
                        prune(options, allowed, "output option")

    prune(doc, TOP_KEYS, "top-level key")
    prune_outputs(doc.get("plots"), PLOT_PROPS + OUT_OPTIONS)
    prune_outputs(doc.get("metrics"), OUT_OPTIONS)
    for body in (doc.get("stages") or {}).values():
        if not isinstance(body, YDict):
            continue
        do = body.get("do")
        stage = do if isinstance(do, YDict) else body
        prune(stage, STAGE_KEYS + (() if stage is not body else ("foreach", "matrix", "do")),
              "stage key")
        prune_outputs(stage.get("outs"), OUT_OPTIONS)
        prune_outputs(stage.get("metrics"), OUT_OPTIONS)
        prune_outputs(stage.get("plots"), PLOT_PROPS + OUT_OPTIONS)
    if not dropped:
        return data, []
    import yaml
    header = "# Converted from dvc.yaml by git exp import-dvc; keys git-exp does not support were left out.\n"
    text = yaml.safe_dump(plain(doc), sort_keys=False, default_flow_style=False, allow_unicode=True)
    return (header + text).encode("utf-8"), dropped


def is_dvc_file(relpath: str) -> bool:
    name = relpath.rpartition("/")[2]
    return name.endswith(DVC_SUFFIX) and len(name) > len(DVC_SUFFIX)


def dvc_owned(relpath: str) -> bool:
    """A file DVC itself keeps in Git (what --remove-dvc takes out)."""
    return (relpath in (DVC_YAML, DVC_LOCK, ".dvcignore") or relpath.startswith(".dvc/")
            or is_dvc_file(relpath))
