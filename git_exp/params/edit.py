"""Applying -S overrides to params files, changing only the bytes of each value.

DVC loads a params file, changes the dict and dumps it again, which loses
comments, quoting, flow lists and indentation and flattens JSON onto one line
(dvc#5736, #8720, #11018). We splice instead: each format's editor finds the
exact span of the value in the text and replaces only that span, so a
one-parameter change is a one-line `git diff`. Comments, key order, blank
lines, CRLF line endings and a missing final newline all stay as written.

This module holds what every format shares: checking that a key exists (or
does not, for +key), suggesting close matches, and a safety net: after each
edit the new text is parsed again and must equal the old data with exactly
that one key changed. An edit that would change anything else is refused and
no file is touched, so a bug in a splicer can never corrupt a user's file.
"""
from __future__ import annotations

import copy
import os
import re
import stat

from git_exp.errors import ExpError
from git_exp.params.keys import index_of, join_key, split_key
from git_exp.params.overrides import Override
from git_exp.params.read import flatten, fmt_of, key_text, parse, read_text

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from typing import Any, Protocol

    class Editor(Protocol):
        """One format's splicer (the modules edit_yaml, edit_json, edit_toml, edit_python)."""

        def edit(self, text: str, ov: Override, op: str, source: str) -> tuple[str, list[str]]:
            """TEXT with OV applied (OP: set, add or delete), and the keys that follow it (aliases)."""
            ...

_BUG_HINT = "edit the file by hand; if the file looks ordinary, please report this as a bug in git-exp"


def edit_text(text: str, fmt: str, overrides: list[Override], source: str = "<params>") -> str:
    """TEXT with OVERRIDES applied in order; pure. ExpError names SOURCE."""
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    body = text[len(bom):]
    if not overrides:
        return text
    data = parse(body, fmt, source)
    for ov in overrides:
        body, data = _edit_one(body, data, fmt, ov, source)
    return bom + body


def apply_overrides(root: str, default_file: str, overrides: list[Override],
                    saved: dict | None = None) -> dict[str, list[str]]:
    """Edit the params files under ROOT; all files or none are written.

    Overrides without a file go to DEFAULT_FILE. Every new text is computed
    before anything is written, so one bad override changes no file at all.
    Returns {file: [keys whose value changed]} for every file named; a file
    whose text ends up unchanged is not rewritten. SAVED, when given,
    receives {path: old text} of each file written, for restore_texts.
    """
    groups: dict[str, list[Override]] = {}
    for ov in overrides:
        groups.setdefault(_relative(root, ov.file or default_file), []).append(ov)
    plans = []
    for rel, ovs in groups.items():
        target = _inside(root, rel)
        fmt = fmt_of(rel)
        old = read_text(target, rel)
        bom = "\ufeff" if old.startswith("\ufeff") else ""
        new, changed = old[len(bom):], []
        data = parse(new, fmt, rel)
        for ov in ovs:
            newer, data = _edit_one(new, data, fmt, ov, rel)
            if newer != new and ov.key not in changed:
                changed.append(ov.key)
            new = newer
        new = bom + new
        if new == old:
            changed = []
        plans.append((rel, target, old, new, changed))
    _write_all([(target, new) for _, target, old, new, _ in plans if new != old])
    if saved is not None:
        saved.update({target: old for _, target, old, new, _ in plans if new != old})
    return {rel: changed for rel, _, _, _, changed in plans}


def restore_texts(saved: dict[str, str]) -> None:
    """Put back the texts apply_overrides replaced (a run that could not start)."""
    _write_all(list(saved.items()))


# --- shared by the format editors -------------------------------------------------

def newline_of(text: str) -> str:
    """The file's line ending, for lines we insert."""
    return "\r\n" if "\r\n" in text else "\n"


def line_start(text: str, i: int) -> int:
    return text.rfind("\n", 0, i) + 1


def line_end(text: str, i: int) -> int:
    """The index of the line break ending the line at I (its \\r for CRLF), or len(text)."""
    j = text.find("\n", i)
    if j < 0:
        return len(text)
    return j - 1 if j > 0 and text[j - 1] == "\r" and j - 1 >= i else j


def after_line(text: str, i: int) -> int:
    """The index just past the line break ending the line at I, or len(text)."""
    j = text.find("\n", i)
    return len(text) if j < 0 else j + 1


def remove_lines(text: str, start: int, end: int) -> tuple[int, int]:
    """The span that deletes whole lines from START's line to END's line.

    Takes the line break after the last line, or, on a last line without one,
    the break before the first: the file's final newline, or its absence, stays.
    """
    a, b = line_start(text, start), after_line(text, end)
    if b == len(text) and not text.endswith("\n") and a > 0:
        a -= 2 if text[a - 2:a] == "\r\n" else 1
    return a, b


def splice(text: str, edits: list[tuple[int, int, str]]) -> str:
    """TEXT with each (start, end, replacement) applied; spans must not overlap."""
    for start, end, new in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        text = text[:start] + new + text[end:]
    return text


def same(a: object, b: object) -> bool:
    """Equal and of the same type all the way down (1 is not 1.0, nor True)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (a != a and b != b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


def nested(parts: list[str], value: object) -> object:
    """VALUE wrapped in mappings for the key parts that do not exist yet."""
    for part in reversed(parts):
        value = {part: value}
    return value


def matched(pattern: re.Pattern[str], text: str, pos: int) -> re.Match[str]:
    """PATTERN's match at POS, which the syntax already checked guarantees;
    ValueError (the editor's "scanner lost its way") if it is missing after all."""
    m = pattern.match(text, pos)
    if m is None:
        raise ValueError(f"no {pattern.pattern!r} at {pos}")
    return m


def bug(key: str, source: str, detail: str) -> ExpError:
    return ExpError(f"cannot edit {key} in {source}: {detail}", hint=_BUG_HINT)


# --- one override ------------------------------------------------------------------

def _editor(fmt: str) -> Editor:
    # Imported on demand: a YAML edit need not load the TOML scanner, and the reverse.
    if fmt == "yaml":
        from git_exp.params import edit_yaml
        return edit_yaml
    if fmt == "json":
        from git_exp.params import edit_json
        return edit_json
    if fmt == "toml":
        from git_exp.params import edit_toml
        return edit_toml
    if fmt == "python":
        from git_exp.params import edit_python
        return edit_python
    raise ExpError(f"unknown params format '{fmt}'", hint="use yaml, json, toml or python")


def _edit_one(text: str, data: dict, fmt: str, ov: Override, source: str) -> tuple[str, dict]:
    """TEXT (which parses to DATA) with OV applied, and what the new text parses to."""
    try:
        return _edit(text, data, fmt, ov, source)
    except RecursionError:
        raise ExpError(f"cannot edit {ov.key} in {source}: the file is nested too deeply") from None


def _edit(text: str, data: dict, fmt: str, ov: Override, source: str) -> tuple[str, dict]:
    parts = ov.parts
    found, blocker = _probe(data, parts)
    op = ov.op
    if op == "upsert":
        op = "set" if found else "add"
    if not found and fmt == "python" and op != "add":
        from git_exp.params.read_python import unreadable
        why = unreadable(text, source, parts)
        if why is not None:
            raise why
    if op in ("set", "delete") and not found:
        raise _unknown(data, ov, source, blocker)
    in_list = _list_step(data, parts)
    if in_list is not None and op != "set":
        verb = "delete" if op == "delete" else "add"
        raise ExpError(f"cannot {verb} {ov.key} in {source}: {in_list} is a list, and -S only sets "
                       "list elements that exist",
                       hint=f"set the whole list instead, such as {in_list}=[...]")
    if op == "add" and found:
        raise ExpError(f"{ov.key} already exists in {source}",
                       hint=f"use {ov.key}={ov.text} to change it, or ++{ov.key}={ov.text} "
                            "to set it whether or not it exists")
    if op == "add" and blocker is not None:
        where, value = blocker
        depth = len(split_key(where)) if where else 0
        raise ExpError(f"cannot add {ov.key} to {source}: {where} is {_describe(value)}, not a mapping",
                       hint=f"set {where} itself, such as ++{where}={{{parts[depth]}: ...}}")
    new_text, followers = _editor(fmt).edit(text, ov, op, source)
    if new_text == text:
        return text, data
    try:
        new_data = parse(new_text, fmt, source)
    except ExpError as e:
        error = bug(ov.key, source, f"the result would not parse ({e.message})")
        if fmt == "yaml":
            error.hint = "YAML anchors, aliases or merge keys may tie values together; " + _BUG_HINT
        raise error from None
    expected = _apply(data, parts, op, ov.value)
    _verify(ov.key, source, fmt, flatten(expected), flatten(new_data), followers)
    return new_text, new_data


def _probe(data: dict, parts: list[str]) -> tuple[bool, tuple[str, object] | None]:
    """(found, blocker): blocker is (path, value) when a prefix is not a mapping (or list)."""
    node: object = data
    for i, part in enumerate(parts):
        if not isinstance(node, (dict, list)) or (isinstance(node, list) and index_of(part) is None):
            return False, (join_key(parts[:i]), node)
        match = _child_key(node, part)
        if match is _MISSING:
            return False, None
        node = node[match]
    return True, None


def _list_step(data: dict, parts: list[str]) -> str | None:
    """The key of the first list PARTS goes into by index (layers in layers.0.units), or None."""
    node: object = data
    for i, part in enumerate(parts):
        if isinstance(node, list):
            return join_key(parts[:i])
        if not isinstance(node, dict):
            return None
        match = _child_key(node, part)
        if match is _MISSING:
            return None
        node = node[match]
    return None


_MISSING = object()


# Any: a key of a parsed mapping (YAML allows any scalar: 1, true, null) or a list index,
# used to index the same container it came from; _MISSING when there is none.
def _child_key(mapping: dict | list, part: str) -> Any:
    if isinstance(mapping, list):   # layers.0: an element that exists
        index = index_of(part)
        return index if index is not None and index < len(mapping) else _MISSING
    if part in mapping:
        return part
    for key in mapping:   # YAML keys need not be strings: 1, true, null
        if not isinstance(key, str) and key_text(key) == part:
            return key
    return _MISSING


def _apply(data: dict, parts: list[str], op: str, value: object) -> dict:
    result = copy.deepcopy(data)
    node = result
    for part in parts[:-1]:
        match = _child_key(node, part)
        if match is _MISSING:   # only a mapping gets new keys: lists are refused before
            node[part] = {}
            match = part
        node = node[match]
    last = _child_key(node, parts[-1])
    if op == "delete":
        del node[last]
    else:
        node[parts[-1] if last is _MISSING else last] = copy.deepcopy(value)
    return result


def _verify(key: str, source: str, fmt: str, expected: dict, actual: dict, followers: list[str]) -> None:
    def free(name: str) -> bool:
        return any(name == f or name.startswith(f + ".") for f in followers)

    wrong = [name for name in list(expected) + [n for n in actual if n not in expected]
             if not free(name) and (name not in expected or name not in actual
                                    or not same(expected[name], actual[name]))]
    if wrong:
        others = [n for n in wrong if n != key and not n.startswith(key + ".")]
        if others:
            shown = ", ".join(others[:3]) + (" and more" if len(others) > 3 else "")
            detail = f"the edit would also change {shown}"
        else:
            detail = "the value read back differs from the value given"
        hint = ("YAML anchors, aliases or merge keys may tie these values together; " + _BUG_HINT
                if fmt == "yaml" else _BUG_HINT)
        raise ExpError(f"cannot edit {key} in {source}: {detail}", hint=hint)


def _unknown(data: dict, ov: Override, source: str, blocker: tuple[str, object] | None) -> ExpError:
    flat = flatten(data)
    if blocker is not None:
        where, value = blocker
        return ExpError(f"no parameter {ov.key} in {source}: {where} is {_describe(value)}",
                        hint=f"set {where} itself" if ov.op != "delete" else f"delete {where} itself: ~{where}")
    in_list = _list_step(data, ov.parts)
    if in_list is not None:
        return ExpError(f"no parameter {ov.key} in {source}: {in_list} has no such element",
                        hint=f"count from 0, or set the whole list: {in_list}=[...]")
    import difflib
    close = difflib.get_close_matches(ov.key, list(flat), n=3, cutoff=0.8)
    guess = f"did you mean {' or '.join(close)}? " if close else ""
    if ov.op == "delete":
        return ExpError(f"no parameter {ov.key} in {source}", hint=f"{guess}nothing to delete".strip())
    return ExpError(f"no parameter {ov.key} in {source}",
                    hint=f"{guess}use +{ov.key}={ov.text} to add it")


def _describe(value: object) -> str:
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    return f"a single value ({value!r})"


# --- files --------------------------------------------------------------------------

def _relative(root: str, name: str) -> str:
    """NAME relative to ROOT, so ./params.yaml and params.yaml are one file."""
    rel = os.path.relpath(os.path.normpath(os.path.join(root, name)), root).replace(os.sep, "/")
    return name if rel.startswith("../") else rel   # refused later, under the name the user gave


def _inside(root: str, rel: str) -> str:
    """The real path of REL, refusing anything (symlinks included) outside ROOT."""
    real_root = os.path.realpath(root)
    target = os.path.realpath(os.path.join(root, rel))
    if os.path.commonpath([real_root, target]) != real_root:
        raise ExpError(f"params file {rel} is outside the repository",
                       hint=f"params files must be inside {root}")
    if not os.path.lexists(target):   # named by -S, not by exp.yaml: say how -S names files
        raise ExpError(f"params file {rel} does not exist",
                       hint="-S FILE:KEY=VALUE edits FILE, a path from the repository root; "
                            "-S KEY=VALUE edits params.yaml")
    return target


def _write_all(writes: list[tuple[str, str]]) -> None:
    """Write every file or none: temp files first, then one rename each."""
    from git_exp.atomic import make_temp
    temps: list[tuple[str, str]] = []
    try:
        for target, text in writes:
            folder, name = os.path.split(target)
            fd, temp = make_temp(folder, f".{name}.", ".tmp")
            temps.append((temp, target))
            with os.fdopen(fd, "wb") as f:
                f.write(text.encode("utf-8"))
                f.flush()
                os.fsync(f.fileno())
            os.chmod(temp, stat.S_IMODE(os.stat(target).st_mode))
    except OSError as e:
        for temp, _ in temps:
            try:
                os.unlink(temp)
            except OSError:
                pass
        raise ExpError(f"cannot write {e.filename or 'params file'}: {e.strerror}") from None
    for temp, target in temps:
        os.replace(temp, target)
