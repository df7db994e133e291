"""Splicing values into Python params files, at the positions ast reports.

Only a value's own source text changes: `LR = 0.1  # tuned` becomes
`LR = 0.02  # tuned`, for module constants, class attributes, dict entries
(at any depth) and list or tuple elements. The text the user typed is kept
when Python reads it as the same value (1e-3 stays 1e-3), else the value is
written as a Python literal (true becomes True); a string keeps the quote
character the old string used.

Adding (+KEY) and deleting (~KEY) are refused: that means writing or
removing code, which is the user's to do. Values that are not literals
(calls, names, f-strings, arithmetic) are refused with file:line: setting
one would silently throw away code. The file is never imported or run.
"""
from __future__ import annotations

import ast
import math

from git_exp.errors import ExpError
from git_exp.params.edit import splice
from git_exp.params.overrides import Override
from git_exp.params.read_python import NotLiteral, Scope, find, line_starts, literal, parse_tree, span, unreadable


def edit(text: str, ov: Override, op: str, source: str) -> tuple[str, list[str]]:
    """TEXT with OV set (OP must be set); Python has no aliases to follow."""
    if op != "set":
        verb = "add" if op == "add" else "delete"
        raise ExpError(f"cannot {verb} {ov.key} in {source}: git-exp only changes values in a "
                       "Python params file, never its code",
                       hint=(f"add the line yourself (such as {ov.key} = {ov.text}), then use -S to change it"
                             if op == "add" else f"remove {ov.key} from {source} yourself"))
    parts = ov.parts
    node, blocker = find(parse_tree(text, source), parts)
    if blocker is not None:
        why = unreadable(text, source, parts)
        raise why or ExpError(f"cannot edit {ov.key} in {source}: it is not a literal value")
    if node is None:   # edit.py found the key in the data read from this very text
        raise ExpError(f"no parameter {ov.key} in {source}")
    if isinstance(node, Scope):
        raise ExpError(f"cannot set {ov.key} in {source}: it is a class",
                       hint=f"set its attributes one by one, such as {ov.key}.NAME=VALUE")
    starts = line_starts(text)
    start, end = span(text, starts, node)
    return splice(text, [(start, end, render(ov.value, ov, node, text[start:end], source, text))]), []


def render(value: object, ov: Override | None, old: ast.AST | None, old_text: str, source: str = "<params>",
           text: str = "") -> str:
    """VALUE as Python source: the user's own text when it means the same, else a literal."""
    if ov is not None and _reads_as(ov.text, value):
        return ov.text
    return _literal_text(value, _quote(old_text, text), isinstance(old, ast.Tuple), ov, source)


def _reads_as(text: str, value: object) -> bool:
    from git_exp.params.edit import same
    try:
        node = ast.parse(text, mode="eval").body
        return same(literal(node), value)
    except (SyntaxError, ValueError, NotLiteral, RecursionError, MemoryError):
        return False


def _quote(old_text: str, text: str) -> str:
    """The quote character the old value used, else the file's first, else '"'."""
    for where in (old_text, text):
        for c in where:
            if c in "'\"":
                return c
    return '"'


def _literal_text(value: object, quote: str, as_tuple: bool, ov: Override | None, source: str) -> str:
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            key = ov.key if ov is not None else "the value"
            raise ExpError(f"cannot set {key} in {source}: {value!r} has no Python literal",
                           hint="write float(\"nan\") or float(\"inf\") in the file yourself; "
                                "-S writes literals only")
        return repr(value)
    if isinstance(value, str):
        return _string(value, quote)
    if isinstance(value, list):
        items = [_literal_text(v, quote, False, ov, source) for v in value]
        if as_tuple:
            return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
        return "[" + ", ".join(items) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_literal_text(k, quote, False, ov, source)}: "
                               f"{_literal_text(v, quote, False, ov, source)}"
                               for k, v in value.items()) + "}"
    raise ExpError(f"cannot write a {type(value).__name__} into {source}")   # pragma: no cover


def _string(s: str, quote: str) -> str:
    text = repr(s)   # always a valid literal; repr picks ' unless the string holds one
    if quote == '"' and text.startswith("'") and '"' not in s:
        text = '"' + text[1:-1].replace("\\'", "'") + '"'
    return text
