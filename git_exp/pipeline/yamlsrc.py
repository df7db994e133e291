"""YAML loading that remembers where every key and value was written.

PyYAML's loaders forget positions and silently keep the last of two equal
keys. We compose the node tree instead (with libyaml's C composer when it is
available, about ten times faster than the pure-Python one), build plain
Python values from it ourselves, and keep the position of every mapping key,
mapping value and list item, so later checks can say `exp.yaml:7:5: ...`.
"""
from __future__ import annotations

from collections import namedtuple

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from git_exp import bounded
from git_exp.errors import ExpError
from git_exp.params.read import yaml_error

TYPE_CHECKING = False   # typing's, without importing typing on run's path (mypy reads the name as True)
if TYPE_CHECKING:
    from typing import Any, Iterable

_Loader = bounded.yaml_loader()
_STR_TAG = "tag:yaml.org,2002:str"


class Mark(namedtuple("Mark", ("file", "line", "col", "base"), defaults=(0,))):
    """A position in a file, 1-based as editors show it: file (str), line and
    col (int), and base (int, default 0).

    `base` is the column of the first character of a one-line scalar's text
    when offsets in the text map one to one onto columns (plain scalars, and
    quoted ones without escapes), else 0: it lets an error point at the
    `${...}` inside a longer string. (collections' namedtuple, not typing's:
    `run` would import typing for it.)
    """

    __slots__ = ()

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"

    def at(self, offset: int) -> "Mark":
        """The position OFFSET characters into this scalar's text, if known."""
        if not self.base:
            return self
        return Mark(self.file, self.line, self.base + offset)

    @property
    def location(self) -> tuple[str, int, int]:
        return (self.file, self.line, self.col)


class YDict(dict):
    """A mapping that knows where it, each of its keys and each value were written."""

    __slots__ = ("mark", "key_marks", "value_marks")

    def __init__(self, mark: Mark) -> None:
        super().__init__()
        self.mark = mark
        self.key_marks: dict[Any, Mark] = {}
        self.value_marks: dict[Any, Mark] = {}

    def key_mark(self, key: object) -> Mark:
        return self.key_marks.get(key, self.mark)

    def value_mark(self, key: object) -> Mark:
        return self.value_marks.get(key, self.mark)


class YList(list):
    """A list that knows where it and each of its items were written."""

    __slots__ = ("mark", "item_marks")

    def __init__(self, mark: Mark, items: Iterable[object] = (), marks: Iterable[Mark] = ()) -> None:
        super().__init__(items)
        self.mark = mark
        self.item_marks: list[Mark] = list(marks)

    def item_mark(self, index: int) -> Mark:
        return self.item_marks[index] if index < len(self.item_marks) else self.mark


def mark_of(container: object, key: Any, default: Mark) -> Mark:
    """Where CONTAINER[KEY] was written, or DEFAULT for values without positions.

    KEY is Any: a mapping key for a YDict, a list index for a YList, as the caller's
    CONTAINER is (checked by the isinstance tests here, not by its type).
    """
    if isinstance(container, YDict):
        return container.value_mark(key)
    if isinstance(container, YList):
        return container.item_mark(key)
    return default


def _mark(filename: str, node: Node) -> Mark:
    start, end = node.start_mark, node.end_mark
    base = 0
    if isinstance(node, ScalarNode) and isinstance(node.value, str) and start.line == end.line:
        quotes = 2 if node.style in ("'", '"') else 0
        # Escapes or folded quotes make the source longer than the value;
        # then offsets no longer map onto columns and we point at the start.
        # libyaml reports plain style as '', the pure-Python parser as None.
        if node.style in (None, "", "'", '"') and end.column - start.column == len(node.value) + quotes:
            base = start.column + 1 + quotes // 2
    return Mark(filename, start.line + 1, start.column + 1, base)


def load(text: str, filename: str) -> Any:
    """Parse TEXT (named FILENAME in errors); None for an empty document.

    Any: a YAML document at its load boundary; callers check its shape.

    Mappings come back as YDict, sequences as YList, scalars as the plain
    values PyYAML's safe loader gives (str, int, float, bool, None, dates).
    """
    # exp.yaml, params and plots files may come from someone else's
    # experiment: bounded refuses huge files, deep nesting and alias bombs.
    bounded.check_size(len(text), filename)
    try:
        node = bounded.compose_yaml(text, filename, _Loader)
    except yaml.YAMLError as exc:
        error = yaml_error(exc, filename)
        error.hint = error.hint or _hint(exc, text)
        raise error from None
    if node is None:
        return None
    return _Builder(filename).build(node)


def _hint(exc: yaml.YAMLError, text: str) -> str:
    """What the user most likely did, judged from the lines the error points at."""
    lines = text.splitlines()
    marks = (getattr(exc, "problem_mark", None), getattr(exc, "context_mark", None))
    near = [lines[m.line] for m in marks if m is not None and m.line < len(lines)]
    # `[models/${item}.pt]`: in a flow collection the braces of ${...} are YAML syntax.
    if "flow" in (getattr(exc, "context", None) or "") and any("${" in line for line in near):
        return "inside [...] or {...}, quote a value that contains ${...}: '${x}'"
    # libyaml words a tab in the indentation as "cannot start any token".
    if near and "\t" in near[0][:len(near[0]) - len(near[0].lstrip())]:
        return "YAML indents with spaces, never tabs"
    return "fix the YAML syntax at that position"


class _Builder:
    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.constructor = SafeConstructor()
        # Aliases reuse one node: build it once (this also keeps
        # "billion laughs" documents from expanding exponentially here).
        self.done: dict[int, Any] = {}
        self.active: set[int] = set()

    def build(self, node: Node) -> Any:   # a YAML value: scalar, YDict or YList
        if isinstance(node, ScalarNode):
            if node.tag == _STR_TAG:
                return node.value
            return self._construct(node)
        key = id(node)
        if key in self.done:
            return self.done[key]
        if key in self.active:
            raise ExpError(f"{_mark(self.filename, node)}: an alias refers to its own "
                           "enclosing collection", hint="YAML anchors cannot be recursive here")
        self.active.add(key)
        try:
            value: YList | YDict
            if isinstance(node, SequenceNode):
                value = YList(_mark(self.filename, node),
                              [self.build(item) for item in node.value],
                              [_mark(self.filename, item) for item in node.value])
            elif isinstance(node, MappingNode):
                value = self._mapping(node)
            else:  # pragma: no cover - the composer makes only these three
                raise ExpError(f"{_mark(self.filename, node)}: unsupported YAML node")
        finally:
            self.active.discard(key)
        self.done[key] = value
        return value

    def _construct(self, node: Node) -> Any:   # PyYAML's scalar: str, int, float, bool, None, a date
        try:
            return self.constructor.construct_object(node)
        except yaml.MarkedYAMLError as exc:
            raise yaml_error(exc, self.filename) from None

    def _mapping(self, node: MappingNode) -> YDict:
        result = YDict(_mark(self.filename, node))
        # Duplicates are checked among the keys the user wrote; keys brought
        # in by a `<<` merge are meant to be overridden, as YAML specifies.
        seen: dict[Any, Mark] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self._key(key_node)
            mark = _mark(self.filename, key_node)
            if key in seen:
                first = seen[key]
                raise ExpError(
                    f"{mark}: duplicate key '{key}' (first defined at line {first.line}, "
                    f"column {first.col})",
                    hint="YAML would silently keep only the last one; merge the two entries or rename one")
            seen[key] = mark
        try:
            self.constructor.flatten_mapping(node)
        except yaml.MarkedYAMLError as exc:
            raise yaml_error(exc, self.filename) from None
        for key_node, value_node in node.value:
            key = self._key(key_node)
            result[key] = self.build(value_node)
            result.key_marks[key] = _mark(self.filename, key_node)
            result.value_marks[key] = _mark(self.filename, value_node)
        return result

    def _key(self, key_node: Node) -> Any:   # a scalar (refused otherwise), as build's
        key = self.build(key_node)
        if isinstance(key, (dict, list)):
            raise ExpError(f"{_mark(self.filename, key_node)}: a mapping key must be a "
                           "plain value, not a list or mapping")
        return key
