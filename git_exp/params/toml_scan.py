"""A small scanner of TOML text: where each table, key and value starts and ends.

params/edit_toml.py splices new values into the spans found here. The
scanner knows what a params file needs: `[table]` and `[[array]]` headers,
dotted and quoted keys, `key = value` with every kind of string, arrays over
several lines (with comments) and inline tables. It runs only after tomllib
has accepted the text, so it trusts the syntax (a slip shows as an
IndexError or ValueError, which the editor reports as a bug).
"""
from __future__ import annotations

import re

from git_exp.params.edit import line_end, line_start, matched
from git_exp.params.read import toml_module

BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_BASIC = re.compile(r'"(?:[^"\\\n]|\\.)*"')
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[ Tt]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[Zz]|[-+]\d{2}:\d{2})?")
_BARE_VALUE = re.compile(r"[^\s,\]}#]+")


class Val:
    def __init__(self, kind: str, start: int, style: str | None = None):
        self.kind, self.start, self.end, self.style = kind, start, start, style
        self.items: list[Val] = []       # arrays
        self.members: list[KV] = []      # inline tables


class KV:
    def __init__(self, keys: tuple, key_start: int, key_end: int, value: Val):
        self.keys, self.key_start, self.key_end, self.value = keys, key_start, key_end, value
        self.line_start = 0    # entries only: where the line starts
        self.content_end = 0   # entries only: end of the value or comment, before the line break


class Section:
    def __init__(self, path: tuple, kind: str, start: int, header_end: int):
        self.path, self.kind, self.start, self.header_end = path, kind, start, header_end
        self.entries: list[KV] = []

    @property
    def content_end(self) -> int:
        return self.entries[-1].content_end if self.entries else self.header_end


class Scanner:
    def __init__(self, text: str):
        self.text, self.pos = text, 0

    def blanks(self) -> None:
        while self.text[self.pos:self.pos + 1] in (" ", "\t"):
            self.pos += 1

    def trivia(self) -> None:
        """Blanks, line breaks and comments (inside arrays and inline tables)."""
        while self.pos < len(self.text):
            c = self.text[self.pos]
            if c in " \t\r\n":
                self.pos += 1
            elif c == "#":
                self.pos = line_end(self.text, self.pos)
            else:
                break

    def end_of_line(self) -> int:
        """Skip blanks and a comment; return where the line's content ends."""
        self.blanks()
        if self.text[self.pos:self.pos + 1] == "#":
            self.pos = line_end(self.text, self.pos)
        return self.pos

    def key(self) -> tuple[tuple, int, int]:
        start, parts = self.pos, []
        while True:
            self.blanks()
            parts.append(self.segment())
            end = self.pos
            self.blanks()
            if self.text[self.pos:self.pos + 1] != ".":
                self.pos = end
                return tuple(parts), start, end
            self.pos += 1

    def segment(self) -> str:
        text, p = self.text, self.pos
        if text[p] == '"':
            m = matched(_BASIC, text, p)
            self.pos = m.end()
            return toml_module().loads(f"k = {m.group(0)}")["k"]
        if text[p] == "'":
            end = text.index("'", p + 1)
            self.pos = end + 1
            return text[p + 1:end]
        m = matched(BARE_KEY, text, p)
        self.pos = m.end()
        return m.group(0)

    def value(self) -> Val:
        text, p = self.text, self.pos
        for delim in ('"""', "'''"):
            if text.startswith(delim, p):
                node = Val("scalar", p, delim)
                self.pos = self._multiline_end(p, delim)
                node.end = self.pos
                return node
        c = text[p]
        if c == '"':
            node = Val("scalar", p, '"')
            self.pos = matched(_BASIC, text, p).end()
        elif c == "'":
            node = Val("scalar", p, "'")
            self.pos = text.index("'", p + 1) + 1
        elif c == "[":
            node = Val("array", p)
            self.pos += 1
            while True:
                self.trivia()
                if text[self.pos] == "]":
                    break
                node.items.append(self.value())
                self.trivia()
                if text[self.pos] == ",":
                    self.pos += 1
            self.pos += 1
        elif c == "{":
            node = Val("inline", p)
            self.pos += 1
            while True:
                self.trivia()
                if text[self.pos] == "}":
                    break
                keys, ks, ke = self.key()
                self.blanks()
                self.pos += 1   # '='
                self.blanks()
                node.members.append(KV(keys, ks, ke, self.value()))
                self.trivia()
                if text[self.pos] == ",":
                    self.pos += 1
            self.pos += 1
        else:
            node = Val("scalar", p)
            m = _DATETIME.match(text, p) or matched(_BARE_VALUE, text, p)
            self.pos = m.end()
        node.end = self.pos
        return node

    def _multiline_end(self, p: int, delim: str) -> int:
        text, j = self.text, p + 3
        while True:
            k = text.index(delim, j)
            backslashes = 0
            while delim == '"""' and text[k - 1 - backslashes] == "\\":
                backslashes += 1
            if backslashes % 2:
                j = k + 1
                continue
            extra = 0   # up to two quotes may stand right before the closing ones
            while extra < 2 and text[k + 3 + extra:k + 4 + extra] == delim[0]:
                extra += 1
            return k + 3 + extra

    def document(self) -> list[Section]:
        text = self.text
        sections = [Section((), "root", 0, 0)]
        while self.pos < len(text):
            self.blanks()
            c = text[self.pos:self.pos + 1]
            if c in ("\r", "\n"):
                self.pos += 1
                continue
            if c == "#":
                self.pos = line_end(text, self.pos)
                continue
            if c == "":
                break
            start = line_start(text, self.pos)
            if c == "[":
                array = text.startswith("[[", self.pos)
                self.pos += 2 if array else 1
                keys, _, _ = self.key()
                self.blanks()
                self.pos += 2 if array else 1
                sections.append(Section(keys, "array" if array else "table", start, self.end_of_line()))
                continue
            keys, ks, ke = self.key()
            self.blanks()
            self.pos += 1   # '='
            self.blanks()
            entry = KV(keys, ks, ke, self.value())
            entry.line_start = start
            entry.content_end = self.end_of_line()
            sections[-1].entries.append(entry)
        return sections

