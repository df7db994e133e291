"""`${...}` templating in exp.yaml, with the rules DVC users know.

Variables (template_vars.py) come from `params.yaml` next to exp.yaml (when it exists), from
the top-level and stage-level `vars` (inline mappings or data files, with an
optional `file.yaml:key1,key2` selection), and inside foreach/matrix stages
from `item` and `key`.

- A value that is exactly `${x}` takes x's own type (list, mapping, number).
- Embedded in a longer string, a value is written as text: booleans as
  `true`/`false`, null as `null`. In `cmd` only, a mapping becomes command
  line options (`--lr 0.1 --epochs 5`; nested keys dotted, `--flag` for true,
  nothing for false or null, `--k a b` for a list) and a list becomes its
  shell-quoted items joined by spaces. Elsewhere a list or mapping cannot be
  embedded in a string.
- `\\${x}` is the escape: it stays as the literal text `${x}` (the one DVC
  uses), so a command can still say `echo \\${HOME}` to its shell.
- Selection: `${a.b}`, `${a.b[0]}` and `${a.b.0}`.

Keys of params.yaml that a stage's templating reads are recorded (see
`Resolver.used`) so the stage can track them as params, as DVC does.
"""
from __future__ import annotations

import re
import shlex

from git_exp.errors import ExpError
from git_exp.pipeline.template_vars import (MISSING, Context, find_key, keys_hint, kind_of, scalar_text,
                                            used_keys)
from git_exp.pipeline.yamlsrc import Mark, YDict, YList

TYPE_CHECKING = False   # typing's, without importing typing on run's path (mypy reads the name as True)
if TYPE_CHECKING:
    from typing import Any, Iterator

# An optional backslash (the escape), then ${ ... } without nested braces.
_TEMPLATE = re.compile(r"(\\)?\$\{([^{}]*)\}")
_HEAD = re.compile(r"([^.\[\]\s]+)")
_STEP = re.compile(r"\.([^.\[\]\s]+)|\[\s*(\d+)\s*\]")


# ----------------------------------------------------------------- resolver

class Resolver:
    """Expands `${...}` in a stage's values, remembering which variables it read."""

    def __init__(self, context: Context, local: dict | None = None, track: bool = True) -> None:
        self.context = context
        self.local = local or {}
        self.track = track
        self.used: list[tuple[str, str]] = []   # (source file, dotted key), in order

    def resolve(self, value: object, mark: Mark, cmd: bool = False) -> Any:   # VALUE's shape, checked by the caller
        """VALUE with every string expanded; mappings and lists keep their marks.

        CMD: the value is (part of) a stage's `cmd`, where mappings and lists
        may be embedded as command-line text.
        """
        if isinstance(value, str):
            return self.string(value, mark, cmd)
        if isinstance(value, dict):
            out = YDict(getattr(value, "mark", mark))
            for key, item in value.items():
                key_mark = value.key_mark(key) if isinstance(value, YDict) else mark
                value_mark = value.value_mark(key) if isinstance(value, YDict) else mark
                new_key = key
                if isinstance(key, str) and "${" in key:
                    new_key = self.text(key, key_mark)
                    if new_key in out:
                        raise ExpError(f"{key_mark}: key '{key}' becomes '{new_key}', "
                                       "which this mapping already has")
                out[new_key] = self.resolve(item, value_mark, cmd)
                out.key_marks[new_key] = key_mark
                out.value_marks[new_key] = value_mark
            return out
        if isinstance(value, list):
            marks = [value.item_mark(i) if isinstance(value, YList) else mark
                     for i in range(len(value))]
            return YList(getattr(value, "mark", mark),
                         [self.resolve(item, m, cmd) for item, m in zip(value, marks)], marks)
        return value

    def text(self, template: str, mark: Mark, cmd: bool = False) -> str:
        """TEMPLATE expanded and always a string (for mapping keys and names)."""
        value = self.string(template, mark, cmd)
        if isinstance(value, (dict, list)):
            raise ExpError(f"{mark}: '{template}' must be text, but it is {kind_of(value)}")
        return scalar_text(value) if not isinstance(value, str) else value

    def string(self, template: str, mark: Mark, cmd: bool = False) -> object:
        if "${" not in template:
            return template
        matches = list(_TEMPLATE.finditer(template))
        if not matches:
            return template
        first = matches[0]
        if len(matches) == 1 and first.span() == (0, len(template)) and not first.group(1):
            value = self.select(first.group(2), mark.at(first.start()), template)
            if cmd and isinstance(value, dict):
                return options_text(value, mark.at(first.start()), first.group(0))
            return _adopt(value, mark.at(first.start()))
        pieces = []
        position = 0
        for match in matches:
            pieces.append(template[position:match.start()])
            position = match.end()
            if match.group(1):  # \${x}: the literal text ${x}
                pieces.append(match.group(0)[1:])
                continue
            where = mark.at(match.start())
            value = self.select(match.group(2), where, template)
            pieces.append(_embed(value, where, match.group(0), cmd))
        pieces.append(template[position:])
        return "".join(pieces)

    def select(self, expression: str, mark: Mark, template: str) -> object:
        """The value of one `${EXPRESSION}`, or an error naming it."""
        parts = _parse_expression(expression, mark)
        head = parts[0]
        if head in self.local:
            value, sources = self.local[head], None
        elif head in self.context.data:
            value, sources = self.context.data[head], self.context.sources.get(head)
        else:
            raise ExpError(f"{mark}: unknown variable '{expression.strip()}' in '{template}'",
                           hint=self._unknown_hint(head))
        path = str(head)
        in_list = False  # params are tracked per key, not per list item: stop at a list
        for part in parts[1:]:
            if isinstance(value, list):
                index = part if isinstance(part, int) else (int(part) if part.isdigit() else None)
                if index is None or index >= len(value):
                    raise ExpError(f"{mark}: unknown variable '{expression.strip()}' in '{template}': "
                                   f"'{path}' is a list of {len(value)} items",
                                   hint=f"select an item with {path}[0] .. {path}[{max(len(value) - 1, 0)}]")
                value = value[index]
                in_list = True
                continue
            if isinstance(value, dict):
                key = find_key(value, part)
                if key is MISSING:
                    raise ExpError(f"{mark}: unknown variable '{expression.strip()}' in '{template}': "
                                   f"'{path}' has no key '{part}'", hint=keys_hint(value))
                value = value[key]
                if not in_list:
                    sources = sources.get(key) if isinstance(sources, dict) else sources
                    path = f"{path}.{key}"
                continue
            raise ExpError(f"{mark}: unknown variable '{expression.strip()}' in '{template}': "
                           f"'{path}' is {kind_of(value)}, not a mapping or list")
        if self.track and sources is not None:
            self.used.extend(used_keys(sources, path))
        return value

    def _unknown_hint(self, name: str) -> str:
        if name in ("item", "key"):
            return ("'item' exists only in foreach and matrix stages, 'key' only when "
                    "foreach goes over a mapping (or in a matrix)")
        names = sorted({*map(str, self.context.data), *self.local})
        import difflib   # only for the error's suggestion: not on every run's path
        close = difflib.get_close_matches(name, names, n=1)
        lead = f"did you mean '{close[0]}'? " if close else ""
        if not names:
            return (lead + "no variables are defined: add them to params.yaml or to 'vars'; "
                    "write \\${...} for a literal ${...}")
        shown = ", ".join(names[:15]) + (", ..." if len(names) > 15 else "")
        return f"{lead}defined variables: {shown}; write \\${{...}} for a literal ${{...}}"


def _parse_expression(expression: str, mark: Mark) -> list:
    """`a.b[0].c` -> ['a', 'b', 0, 'c']."""
    text = expression.strip()
    head = _HEAD.match(text)
    if not head:
        raise ExpError(f"{mark}: cannot read the variable name '${{{expression}}}'",
                       hint="write ${name}, ${name.key} or ${name[0]}")
    parts: list = [head.group(1)]
    position = head.end()
    while position < len(text):
        match = _STEP.match(text, position)
        if not match:
            raise ExpError(f"{mark}: cannot read the variable name '${{{expression}}}'",
                           hint="write ${name}, ${name.key} or ${name[0]}")
        parts.append(match.group(1) if match.group(1) is not None else int(match.group(2)))
        position = match.end()
    return parts


def _adopt(value: object, mark: Mark) -> object:
    """A copy of a substituted list/mapping whose positions all point at the `${...}`."""
    if isinstance(value, dict):
        out = YDict(mark)
        for key, item in value.items():
            out[key] = _adopt(item, mark)
            out.key_marks[key] = out.value_marks[key] = mark
        return out
    if isinstance(value, list):
        return YList(mark, [_adopt(item, mark) for item in value], [mark] * len(value))
    return value


def _embed(value: object, mark: Mark, expression: str, cmd: bool) -> str:
    if isinstance(value, dict):
        if cmd:
            return options_text(value, mark, expression)
        raise ExpError(f"{mark}: {expression} is a mapping and cannot be part of a string",
                       hint="only 'cmd' expands a mapping (into --key value options); "
                            "select one value, e.g. ${name.key}")
    if isinstance(value, list):
        if cmd:
            return " ".join(shlex.quote(_item_text(item, mark, expression)) for item in value)
        raise ExpError(f"{mark}: {expression} is a list and cannot be part of a string",
                       hint="select one item, e.g. ${name[0]}, or use the whole value alone")
    return scalar_text(value)


def _item_text(value: object, mark: Mark, expression: str) -> str:
    if isinstance(value, (dict, list)):
        raise ExpError(f"{mark}: {expression} holds {kind_of(value)} inside a list, "
                       "which cannot be written into a command")
    return scalar_text(value)


def options_text(mapping: dict, mark: Mark, expression: str) -> str:
    """A mapping as command-line options: `--lr 0.1 --layers 2 3 --verbose`."""
    words: list[str] = []
    for key, value in _flatten(mapping, ""):
        if value is True:
            words.append(f"--{key}")
        elif value is False or value is None:
            continue
        elif isinstance(value, list):
            if value:
                words.append(f"--{key}")
                words.extend(shlex.quote(_item_text(item, mark, expression)) for item in value)
        else:
            words.extend((f"--{key}", shlex.quote(scalar_text(value))))
    return " ".join(words)


def _flatten(mapping: dict, prefix: str) -> Iterator[tuple[str, object]]:
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            yield from _flatten(value, name + ".")
        else:
            yield name, value

