"""Splicing values into JSON text, found with a small position-tracking scanner.

The json module gives values but no positions, so we scan the text once
(after json.loads has accepted it) and note where each value and key starts
and ends. Edits then replace exactly those characters:

- set: the value's span gets the new JSON text. The text the user typed is
  kept when it is valid JSON for the same value (1e-3 stays 1e-3). A list or
  object replacing a value that spanned several lines is laid out over
  several lines with the file's indentation; otherwise it stays on one line.
- add: a member after the last one of the parent object, on its own line with
  the same indentation when the object is laid out one member per line,
  else after ", " on the same line; missing parents become nested objects.
- delete: the member and one comma; deleting the last member leaves {}.

JSON has no NaN or infinity: setting one is refused.
"""
from __future__ import annotations

import json
import re

from git_exp.errors import ExpError
from git_exp.params.edit import bug, line_start, matched, nested, newline_of, same, splice
from git_exp.params.keys import index_of
from git_exp.params.overrides import Override

_WS = " \t\r\n"
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_LITERALS = ("true", "false", "null", "NaN", "Infinity", "-Infinity")


class _Node:
    def __init__(self, kind: str, start: int):
        self.kind, self.start, self.end = kind, start, start
        self.members: list[_Member] = []   # objects
        self.items: list[_Node] = []       # arrays


class _Member:
    def __init__(self, name: str, key_start: int, key_end: int, value: _Node):
        self.name, self.key_start, self.key_end, self.value = name, key_start, key_end, value


class _Scanner:
    def __init__(self, text: str):
        self.text, self.pos = text, 0

    def ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in _WS:
            self.pos += 1

    def value(self) -> _Node:
        self.ws()
        text, start = self.text, self.pos
        c = text[start:start + 1]
        if c == "{":
            node = _Node("object", start)
            self.pos += 1
            self.ws()
            while text[self.pos] != "}":
                m = matched(_STRING, text, self.pos)
                key_end = m.end()
                self.pos = key_end
                self.ws()
                self.pos += 1   # the colon
                node.members.append(_Member(json.loads(m.group(0)), m.start(), key_end, self.value()))
                self.ws()
                if text[self.pos] == ",":
                    self.pos += 1
                    self.ws()
            self.pos += 1
        elif c == "[":
            node = _Node("array", start)
            self.pos += 1
            self.ws()
            while text[self.pos] != "]":
                node.items.append(self.value())
                self.ws()
                if text[self.pos] == ",":
                    self.pos += 1
                    self.ws()
            self.pos += 1
        else:
            node = _Node("scalar", start)
            scalar = _STRING.match(text, start) or _NUMBER.match(text, start)
            if scalar:
                self.pos = scalar.end()
            else:
                word = next(w for w in _LITERALS if text.startswith(w, start))
                self.pos = start + len(word)
        node.end = self.pos
        return node


def edit(text: str, ov: Override, op: str, source: str) -> tuple[str, list[str]]:
    """TEXT with OV applied (OP is set, add or delete); JSON has no aliases to follow."""
    try:
        root = _Scanner(text).value()
    except (StopIteration, IndexError, AttributeError, ValueError):
        raise bug(ov.key, source, "the JSON scanner lost its way") from None
    doc = _Doc(text, root, source)
    parts = ov.parts
    chain = doc.locate(parts)
    if op == "add":
        return doc.add(chain, parts, ov), []
    if len(chain) != len(parts):
        raise bug(ov.key, source, "the key was not found in the JSON structure")
    if op == "delete":
        return doc.delete(chain), []
    member = chain[-1][1]
    return splice(text, [(member.value.start, member.value.end,
                          doc.render(ov.value, ov, member.value))]), []


class _Doc:
    def __init__(self, text: str, root: _Node, source: str):
        self.text, self.root, self.source = text, root, source
        self.nl = newline_of(text)
        self.unit = self._indent_unit()
        # how this file writes `"key": value`, for members added to empty objects
        first = root.members[0] if root.kind == "object" and root.members else None
        self.sep = text[first.key_end:first.value.start] if first else ": "

    def locate(self, parts: list[str]) -> list[tuple[_Node, _Member]]:
        chain, node = [], self.root
        for part in parts:
            if node.kind == "array":   # layers.0: the element, as a member without a key
                index = index_of(part)
                if index is None or index >= len(node.items):
                    break
                chain.append((node, _Member(part, -1, -1, node.items[index])))
                node = node.items[index]
                continue
            if node.kind != "object":
                break
            found = [m for m in node.members if m.name == part]
            if not found:
                break
            chain.append((node, found[-1]))   # json.loads keeps the last duplicate too
            node = found[-1].value
        return chain

    def _indent_unit(self) -> str:
        for m in self.root.members:
            indent = self.indent_at(m.key_start)
            if indent is not None and indent:
                return indent
        return "  "

    def indent_at(self, i: int) -> str | None:
        """The blanks before I on its line, or None when I is not first on its line."""
        prefix = self.text[line_start(self.text, i):i]
        return prefix if prefix.strip() == "" else None

    def render(self, value: object, ov: Override | None, old: _Node | None = None,
               indent: str | None = None) -> str:
        """VALUE as JSON text for the place of OLD (or a new member indented INDENT)."""
        try:
            compact = json.dumps(value, ensure_ascii=False, allow_nan=False,
                                 separators=(",", ":") if self.sep == ":" else (", ", ": "))
        except ValueError:
            raise ExpError(f"cannot write {ov.key if ov else 'the value'} to {self.source}: "
                           "JSON has no NaN or infinity",
                           hint="use a large number or null instead") from None
        multiline = isinstance(value, (list, dict)) and value and (
            indent is not None if old is None else "\n" in self.text[old.start:old.end])
        if not multiline:
            return ov.text if ov is not None and _reads_back(ov.text, value) else compact
        if indent is None:
            assert old is not None   # else MULTILINE needed an INDENT
            indent = self.indent_at(old.start)
            if indent is None:   # the value follows its key: use the key's line
                line = self.text[line_start(self.text, old.start):old.start]
                indent = line[:len(line) - len(line.lstrip(" \t"))]
        block = json.dumps(value, ensure_ascii=False, indent=self.unit)
        return block.replace("\n", self.nl + indent)

    def add(self, chain: list[tuple[_Node, _Member]], parts: list[str], ov: Override) -> str:
        text = self.text
        obj = chain[-1][1].value if chain else self.root
        if obj.kind != "object":
            raise bug(ov.key, self.source, "the parent is not an object")
        rest = parts[len(chain):]
        value = nested(rest[1:], ov.value)
        use = ov if len(rest) == 1 else None
        if obj.members:
            last = obj.members[-1]
            sep = text[last.key_end:last.value.start]
            indent = self.indent_at(last.key_start)
            if indent is not None and "\n" in text[obj.start:last.key_start]:   # one member per line
                member = f"{json.dumps(rest[0], ensure_ascii=False)}{sep}" \
                         f"{self.render(value, use, None, indent if isinstance(value, dict) else None)}"
                return splice(text, [(last.value.end, last.value.end, "," + self.nl + indent + member)])
            member = f"{json.dumps(rest[0], ensure_ascii=False)}{sep}{self.render(value, use)}"
            between = "," if sep == ":" else ", "   # a compact file stays compact
            if len(obj.members) > 1:
                prev = obj.members[-2]
                between = text[prev.value.end:last.key_start]
            return splice(text, [(last.value.end, last.value.end, between + member)])
        inside = text[obj.start + 1:obj.end - 1]
        member = f"{json.dumps(rest[0], ensure_ascii=False)}{self.sep}"
        if "\n" in inside or obj is self.root:
            # an empty object laid out over lines (or the whole file): one member per line
            close = (self.indent_at(obj.end - 1) if "\n" in inside else self.indent_at(obj.start)) or ""
            indent = close + self.unit
            member += self.render(value, use, None, indent if isinstance(value, dict) else None)
            return splice(text, [(obj.start + 1, obj.end - 1, self.nl + indent + member + self.nl + close)])
        return splice(text, [(obj.start + 1, obj.end - 1, member + self.render(value, use))])

    def delete(self, chain: list[tuple[_Node, _Member]]) -> str:
        obj, member = chain[-1]
        members = obj.members
        i = members.index(member)
        if len(members) == 1:
            return splice(self.text, [(obj.start + 1, obj.end - 1, "")])
        if i < len(members) - 1:
            return splice(self.text, [(member.key_start, members[i + 1].key_start, "")])
        return splice(self.text, [(members[i - 1].value.end, member.value.end, "")])


def _reads_back(text: str, value: object) -> bool:
    if not text or "\n" in text or "\r" in text:
        return False
    try:
        return same(json.loads(text), value)
    except ValueError:
        return False
