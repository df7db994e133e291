"""Splicing values into TOML text, at the spans toml_scan.py finds.

- set: the value's span gets the new TOML text. A literal string ('...')
  stays literal when it can; the text the user typed is kept when TOML reads
  it back as the same value; an array laid out over several lines stays so.
- add: a line after the last key of the right table, indented and spaced
  like it (`key = value` or `key=value`); into an inline table before its
  closing brace; next to a group of dotted keys (`a.b = 1`) when the parent
  was made by dotted keys; and when the parent table does not exist yet, a
  new `[parent]` header with the key at the end of the file.
- delete: the key's line(s); deleting a table removes its header, its keys
  and its sub-tables, and the blank lines after them.

- list elements (set only): layers.0 is an element of an array of values,
  at any depth through arrays and inline tables; runs.1.lr is a key on the
  lines of the second [[runs]] table (not in its sub-tables).

A table cannot be set as a whole (set its keys one by one), arrays of tables
([[runs]]) can only be deleted as a whole, and TOML has no null: ~key
deletes instead.
"""
from __future__ import annotations

import json
from typing import Any, Iterator

from git_exp.errors import ExpError
from git_exp.params.edit import (after_line, bug, line_start, newline_of, remove_lines,
                                 same, splice)
from git_exp.params.keys import index_of
from git_exp.params.overrides import Override
from git_exp.params.read import toml_module
from git_exp.params.toml_scan import BARE_KEY, KV, Section, Scanner, Val



def edit(text: str, ov: Override, op: str, source: str) -> tuple[str, list[str]]:
    """TEXT with OV applied (OP is set, add or delete); TOML has no aliases to follow."""
    try:
        sections = Scanner(text).document()
    except (AttributeError, IndexError, ValueError):
        raise bug(ov.key, source, "the TOML scanner lost its way") from None
    doc = _Doc(text, sections, source)
    full = tuple(ov.parts)
    if op == "add":
        return doc.add(full, ov), []
    item = doc.locate_item(full) if op == "set" and ov.has_index else None
    if item is not None:
        return splice(text, [(item.start, item.end, doc.render(ov.value, ov, item))]), []
    found = doc.locate(full)
    if found is None and op == "set" and ov.has_index:
        raise ExpError(f"cannot set {ov.key} in {source}: -S sets values inside a [[table]] "
                       "element, on its own lines, not the element itself or its sub-tables",
                       hint="set a key inside it (NAME.0.KEY=VALUE), or edit the file by hand")
    if op == "delete":
        return doc.delete(full, found), []
    if found is None:
        kind = "an array of tables" if any(s.path == full for s in sections if s.kind == "array") \
            else "a table"
        raise ExpError(f"cannot set {ov.key} in {source}: it is {kind}",
                       hint=f"set its keys one by one, such as {ov.key}.KEY=VALUE")
    _, kv = found
    return splice(text, [(kv.value.start, kv.value.end, doc.render(ov.value, ov, kv.value))]), []


class _Doc:
    def __init__(self, text: str, sections: list[Section], source: str):
        self.text, self.sections, self.source = text, sections, source
        self.nl = newline_of(text)

    def entries(self) -> Iterator[tuple[Section, KV, tuple]]:
        """(section, entry, full key path) for every key line outside arrays of tables."""
        for sec in self.sections:
            if sec.kind != "array":
                for e in sec.entries:
                    yield sec, e, sec.path + e.keys

    def locate(self, full: tuple) -> tuple[Section | Val, KV] | None:
        """(owner, key/value) for FULL: owner is a section, or an inline table."""
        for sec, e, path in self.entries():
            if path == full:
                return sec, e
            if e.value.kind == "inline" and full[:len(path)] == path:
                found = _descend(e.value, full[len(path):])
                if found is not None:
                    return found
        return None

    def locate_item(self, full: tuple) -> Val | None:
        """The value FULL names when it goes into an array by index, else None.

        layers.0 is an element of an array of values; servers.0.port a key of
        the first [[servers]] table (its own lines, not its sub-tables).
        """
        for cut in range(1, len(full)):
            index = index_of(full[cut])
            if index is None:
                continue
            tables = [sec for sec in self.sections if sec.kind == "array" and sec.path == full[:cut]]
            if tables:
                if index >= len(tables):
                    return None
                rest = full[cut + 1:]
                for e in tables[index].entries:
                    if rest[:len(e.keys)] == e.keys and rest:
                        return _walk_value(e.value, rest[len(e.keys):])
                return None
            found = self.locate(full[:cut])
            if found is not None and found[1].value.kind == "array":
                return _walk_value(found[1].value, full[cut:])
        return None

    # -- delete ------------------------------------------------------------------

    def delete(self, full: tuple, found: tuple[Section | Val, KV] | None) -> str:
        text = self.text
        if found is not None and isinstance(found[0], Val):
            owner, kv = found[0], found[1]
            members = owner.members
            i = members.index(kv)
            if len(members) == 1:
                span = (owner.start + 1, owner.end - 1)
            elif i < len(members) - 1:
                span = (kv.key_start, members[i + 1].key_start)
            else:
                span = (members[i - 1].value.end, kv.value.end)
            return splice(text, [(span[0], span[1], "")])
        result = self._remove(full, keep_parent=False)
        if len(full) > 1 and not _has(toml_module().loads(result), full[:-1]):
            # the parent was made only by what we removed ([a.b] makes a):
            # keep it as an empty table, as YAML and JSON keep `a: {}`
            result = self._remove(full, keep_parent=True)
        return result

    def _remove(self, full: tuple, keep_parent: bool) -> str:
        text, nl = self.text, self.nl
        edits: list[tuple[int, int, str]] = []
        parent = full[:-1]
        for sec in self.sections[1:]:
            if sec.path[:len(full)] == full:
                if keep_parent and sec.path == full and sec.kind == "table":
                    keep_parent = False
                    end = after_line(text, sec.content_end)
                    header = f"[{_dotted(parent)}]" + (nl if text[end - 1:end] == "\n" else "")
                    edits.append((sec.start, end, header))
                else:
                    edits.append((*self._section_span(sec), ""))
        for sec, e, path in self.entries():
            if path[:len(full)] == full and sec.path[:len(full)] != full:
                if keep_parent:
                    keep_parent = False
                    indent = text[e.line_start:e.key_start]
                    end = after_line(text, e.content_end)
                    line = f"{indent}{_dotted(parent[len(sec.path):])} = {{}}"
                    edits.append((e.line_start, end, line + (nl if text[end - 1:end] == "\n" else "")))
                else:
                    edits.append((*remove_lines(text, e.line_start, e.content_end), ""))
        if not edits:
            raise bug(".".join(full), self.source, "the key was not found in the TOML structure")
        merged: list[list] = []
        for a, b, new in sorted(edits):
            if merged and a <= merged[-1][1]:   # touching removals become one
                merged[-1][1] = max(merged[-1][1], b)
                merged[-1][2] += new
            else:
                merged.append([a, b, new])
        a, b, new = merged[-1]
        if b == len(text) and not new and (a == 0 or text[a - 1] == "\n"):
            merged[-1][0] = self._eof_start(a)
        return splice(text, [(a, b, new) for a, b, new in merged])

    def _section_span(self, sec: Section) -> tuple[int, int]:
        """The header, its keys, and the blank lines that part it from what follows."""
        text = self.text
        a, b = sec.start, after_line(text, sec.content_end)
        while b < len(text) and text[b:after_line(text, b)].strip() == "":
            b = after_line(text, b)
        return a, b

    def _eof_start(self, a: int) -> int:
        """Removing from line start A to the end of the file: take the blank
        lines before A too, and keep the file's final newline (or its absence)."""
        text = self.text
        while a > 0 and text[line_start(text, a - 1):a].strip() == "":
            a = line_start(text, a - 1)
        if not text.endswith("\n") and a > 0:
            a -= 2 if text[a - 2:a] == "\r\n" else 1
        return a

    # -- add -----------------------------------------------------------------------

    def add(self, full: tuple, ov: Override) -> str:
        best_depth = -1
        best: Any = None   # ("inline", owner), ("after", section, entry) or ("section", section)
        for sec, e, path in self.entries():
            if e.value.kind == "inline" and len(path) < len(full) and full[:len(path)] == path:
                owner, used = _deepest_inline(e.value, full[len(path):])
                if len(path) + used > best_depth:
                    best_depth, best = len(path) + used, ("inline", owner)
            common = _common(path, full)
            # a table made by dotted keys (a.b = 1 makes table a)
            if len(sec.path) < common < len(path) and common < len(full) and common >= best_depth:
                best_depth, best = common, ("after", sec, e)
        for sec in self.sections:
            if sec.kind != "array" and len(sec.path) < len(full) and full[:len(sec.path)] == sec.path \
                    and len(sec.path) > best_depth:
                best_depth, best = len(sec.path), ("section", sec)
        rest = full[best_depth:]
        text, nl = self.text, self.nl
        if best[0] == "inline":
            owner = best[1]
            entry = f"{_dotted(rest)} = {self.render(ov.value, ov)}"
            if owner.members:
                at = owner.members[-1].value.end
                return splice(text, [(at, at, ", " + entry)])
            return splice(text, [(owner.start + 1, owner.start + 1, entry)])
        if best[0] == "after":
            sec, e = best[1], best[2]
            line = self._line_like(e, full[len(sec.path):], ov)
            return splice(text, [(e.content_end, e.content_end, nl + line)])
        sec = best[1]
        if len(rest) > 1:
            return self._new_table(full, ov)
        if sec.entries:
            line = self._line_like(sec.entries[-1], rest, ov)
            return splice(text, [(sec.content_end, sec.content_end, nl + line)])
        line = self._line_like(None, rest, ov)
        if sec.kind == "table":
            return splice(text, [(sec.header_end, sec.header_end, nl + line)])
        if len(self.sections) > 1:
            # the root table has no keys yet: they go before the first header
            # and the comment lines that introduce it
            at = self.sections[1].start
            while at > 0:
                prev = line_start(text, at - 1)
                if not text[prev:at].lstrip().startswith("#"):
                    break
                at = prev
            return splice(text, [(at, at, line + nl + nl)])
        return _append(text, [line], nl)

    def _new_table(self, full: tuple, ov: Override) -> str:
        lines = [f"[{_dotted(full[:-1])}]", self._line_like(None, full[-1:], ov)]
        text, nl = self.text, self.nl
        if text.strip() and not text.endswith(("\n\n", "\r\n\r\n")):
            lines.insert(0, "")
        return _append(text, lines, nl)

    def _line_like(self, model: KV | None, keys: tuple, ov: Override) -> str:
        """A `key = value` line spaced and indented like MODEL (or like the file's first key)."""
        if model is None:
            model = next((e for _, e, _ in self.entries()), None)
            indent = ""
        else:
            indent = self.text[model.line_start:model.key_start]
        sep = self.text[model.key_end:model.value.start] if model is not None else " = "
        return f"{indent}{_dotted(keys)}{sep}{self.render(ov.value, ov)}"

    # -- value text --------------------------------------------------------------------

    def render(self, value: object, ov: Override | None, old: Val | None = None) -> str:
        key = ov.key if ov is not None else "the value"
        if isinstance(value, str) and old is not None and old.kind == "scalar" and old.style:
            if old.style in ("'", "'''") and "'" not in value and _literal_ok(value):
                return f"'{value}'"
            if old.style.startswith(("'", '"')):
                return _canonical(value, key, self.source)
        if isinstance(value, list) and value and old is not None and old.kind == "array" \
                and "\n" in self.text[old.start:old.end]:
            return self._multiline_array(value, old, key)
        if ov is not None and _reads_back(ov.text, value):
            return ov.text
        return _canonical(value, key, self.source)

    def _multiline_array(self, value: list, old: Val, key: str) -> str:
        text, nl = self.text, self.nl
        close_line = text[line_start(text, old.end - 1):old.end - 1]
        close = close_line if close_line.strip() == "" else ""
        indent = close + "    "
        if old.items:
            first = old.items[0].start
            prefix = text[line_start(text, first):first]
            if prefix.strip() == "":
                indent = prefix
        trailing = bool(old.items) and "," in _strip_comments(text[old.items[-1].end:old.end - 1])
        items = [indent + _canonical(v, key, self.source) for v in value]
        return "[" + nl + ("," + nl).join(items) + ("," if trailing else "") + nl + close + "]"


def _has(data: dict, path: tuple) -> bool:
    for part in path:
        if not isinstance(data, dict) or part not in data:
            return False
        data = data[part]
    return True


def _walk_value(val: Val, rest: tuple) -> Val | None:
    """The value REST names inside VAL, through arrays (by index) and inline tables."""
    while rest:
        index = index_of(rest[0])
        if val.kind == "array" and index is not None:
            if index >= len(val.items):
                return None
            val, rest = val.items[index], rest[1:]
        elif val.kind == "inline":
            stop = next((i for i, p in enumerate(rest) if i and index_of(p) is not None), len(rest))
            inner = _descend(val, rest[:stop])
            if inner is None:
                return None
            val, rest = inner[1].value, rest[stop:]
        else:
            return None
    return val


def _descend(owner: Val, rest: tuple) -> tuple[Val, KV] | None:
    for m in owner.members:
        if m.keys == rest:
            return owner, m
        if m.value.kind == "inline" and rest[:len(m.keys)] == m.keys:
            return _descend(m.value, rest[len(m.keys):])
    return None


def _deepest_inline(owner: Val, rest: tuple) -> tuple[Val, int]:
    """The innermost inline table along REST, and how many keys of REST lead to it."""
    for m in owner.members:
        if m.value.kind == "inline" and len(m.keys) < len(rest) and rest[:len(m.keys)] == m.keys:
            inner, used = _deepest_inline(m.value, rest[len(m.keys):])
            return inner, used + len(m.keys)
    return owner, 0


def _common(a: tuple, b: tuple) -> int:
    n = 0
    while n < len(a) and n < len(b) and a[n] == b[n]:
        n += 1
    return n


def _append(text: str, lines: list[str], nl: str) -> str:
    """LINES at the end of TEXT, keeping a final newline or its absence."""
    if not text:
        return nl.join(lines) + nl
    if text.endswith("\n"):
        return text + nl.join(lines) + nl
    return text + nl + nl.join(lines)


def _dotted(keys: tuple) -> str:
    return ".".join(k if BARE_KEY.fullmatch(k) else _basic(k) for k in keys)


def _basic(s: str) -> str:
    # JSON's escapes are all valid in a TOML basic string; TOML also wants DEL escaped.
    return json.dumps(s, ensure_ascii=False).replace("\x7f", "\\u007f")


def _literal_ok(s: str) -> bool:
    return all(c == "\t" or (c >= " " and c != "\x7f") for c in s)


def _strip_comments(s: str) -> str:
    return "\n".join(line.split("#", 1)[0] for line in s.split("\n"))


def _canonical(value: object, key: str, source: str) -> str:
    if value is None:
        raise ExpError(f"cannot write {key} to {source}: TOML has no null value",
                       hint=f"delete the key instead: ~{key}")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value:
            return "nan"
        if value in (float("inf"), float("-inf")):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _basic(value)
    if isinstance(value, list):
        return "[" + ", ".join(_canonical(v, key, source) for v in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{_dotted((str(k),))} = {_canonical(v, key, source)}" for k, v in value.items())
        return "{" + inner + "}"
    raise ExpError(f"cannot write {key} to {source}: no TOML form for {type(value).__name__}")


def _reads_back(text: str, value: object) -> bool:
    if not text or "\n" in text or "\r" in text:
        return False
    tomllib = toml_module()
    try:
        return same(tomllib.loads(f"v = {text}")["v"], value)
    except tomllib.TOMLDecodeError:
        return False
