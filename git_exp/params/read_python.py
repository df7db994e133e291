"""Reading Python params files (params.py) with the ast module: never run.

A params.py comes from the repository, so from anyone who could push to it:
it is parsed, never imported or executed. What becomes a parameter, as DVC
reads such files:

    LR = 0.1                          LR
    EPOCHS: int = 10                  EPOCHS
    TRAIN = {"lr": 0.1, "opt": {...}} TRAIN.lr, TRAIN.opt.* (each entry on its own:
                                      DVC drops the whole dict if one entry is code)
    class Train:                      Train.lr (nested classes nest further)
        lr = 0.1
        def __init__(self):
            self.wd = 0.01            Train.wd

Values must be literals: numbers (a leading minus included), strings,
True/False/None, and lists, tuples (read as lists) and dicts of those.
Anything else (a call, a name, an f-string, arithmetic, a comprehension) is
not evaluated. Such a key is silently left out when the file is read, like
DVC does, so a params.py may hold helper code; a stage that lists the key
under `params:`, or a -S that sets it, gets an error naming file:line and
what the value is instead (see `unreadable`). Only module-level and class-level
assignments to a single name count (and `self.NAME = ...` at the top of a
class's __init__, as DVC reads them): other assignments in functions, `if`
blocks or loops, `a = b = 1` and tuple unpacking are not parameters, and a
name later rebound by `+=`, `def` or `import` is not a literal any more.
Reading is bounded: files over MAX_BYTES and nesting deeper than MAX_DEPTH
are refused (the parser itself stops at about 200 levels of brackets).
"""
from __future__ import annotations

import ast
import re
from typing import Union, cast

from git_exp.errors import ExpError
from git_exp.params.keys import index_of, join_key

# ast.parse of 512 KiB takes about a second and 100 MB here: far beyond any real
# params.py, small enough that a hostile one cannot stall show or a hook.
MAX_BYTES = 512 * 1024
MAX_DEPTH = 100

_LITERAL_HINT = ("git-exp reads Python params without running them: write the value as a literal "
                 "(a number, a string, True/False/None, or a list or dict of them)")


# What a name is bound to: its expression, the Scope of a class, or the statement
# (import, def, +=, a = b = ...) that made it no literal.
Bound = Union[ast.expr, ast.stmt, "Scope"]


class Scope(dict[str, Bound]):
    """A module's or a class's names, each bound to an ast expression, a Scope, or a statement."""

    def __init__(self, node: ast.ClassDef | None = None) -> None:
        super().__init__()
        self.node = node


class NotLiteral(Exception):
    def __init__(self, node: ast.expr | ast.stmt) -> None:
        super().__init__()
        self.node = node


def parse_tree(text: str, source: str) -> Scope:
    """The module's names: ExpError names SOURCE:line for a syntax error or an oversized file."""
    if len(text) > MAX_BYTES or len(text.encode("utf-8", "replace")) > MAX_BYTES:
        raise ExpError(f"{source}: the Python params file is larger than {MAX_BYTES // 1024} KiB",
                       hint="keep parameters in a small file of their own")
    import warnings
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # "invalid escape sequence" and the like
            module = ast.parse(text, filename=source)
    except SyntaxError as e:
        line = f":{e.lineno}" if e.lineno else ""
        raise ExpError(f"{source}{line}: {e.msg}",
                       hint="fix the Python syntax; git-exp parses params files without running them") from None
    except (RecursionError, MemoryError):
        raise ExpError(f"{source}: nested too deeply") from None
    except ValueError as e:   # NUL bytes, integers too long to convert
        raise ExpError(f"{source}: {e}") from None
    return _scope(module.body, None, 0)


def parse(text: str, source: str) -> dict:
    """The literal parameters of the file, as nested dicts (non-literals left out)."""
    return _data(parse_tree(text, source))


def _scope(body: list[ast.stmt], node: ast.ClassDef | None, depth: int) -> Scope:
    names = Scope(node)
    for stmt in body:
        if isinstance(stmt, ast.Assign):
            if len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                names[stmt.targets[0].id] = stmt.value
            else:   # a = b = 1, a, b = ...: not parameters, but they rebind the names
                for target in stmt.targets:
                    for name in ast.walk(target):
                        if isinstance(name, ast.Name) and name.id in names:
                            names[name.id] = stmt
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            if stmt.value is not None:
                names[stmt.target.id] = stmt.value
        elif isinstance(stmt, ast.ClassDef):
            if depth >= MAX_DEPTH:
                names[stmt.name] = stmt
            else:
                names[stmt.name] = _scope(stmt.body, stmt, depth + 1)
        elif isinstance(stmt, ast.FunctionDef) and stmt.name == "__init__" and node is not None:
            names.update(_self_attributes(stmt))
        elif isinstance(stmt, (ast.AugAssign, ast.FunctionDef, ast.AsyncFunctionDef)):
            changed = stmt.target.id if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name) \
                else getattr(stmt, "name", None)
            if changed is not None:
                names[changed] = stmt
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            for alias in stmt.names:
                names[(alias.asname or alias.name).split(".")[0]] = stmt
    return names


def _self_attributes(init: ast.FunctionDef) -> dict[str, ast.expr]:
    """`self.x = value` at the top of a class's __init__: DVC reads those as class params."""
    names: dict[str, ast.expr] = {}
    for stmt in init.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target, value = stmt.targets[0], stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            target, value = stmt.target, stmt.value
        else:
            continue
        if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) \
                and target.value.id == "self":
            names[target.attr] = value
    return names


def _data(scope: Scope) -> dict:
    out: dict = {}
    for name, bound in scope.items():
        if isinstance(bound, Scope):
            out[name] = _data(bound)
        elif isinstance(bound, ast.Dict):
            value = _lenient_dict(bound, 0)
            if value is not None:
                out[name] = value
        elif isinstance(bound, ast.expr):
            try:
                out[name] = literal(bound)
            except NotLiteral:
                pass
    return out


def _lenient_dict(node: ast.Dict, depth: int) -> dict | None:
    """A dict literal with its non-literal entries left out (None when a ** spread makes keys unknown)."""
    if depth > MAX_DEPTH or any(k is None for k in node.keys):
        return None
    out: dict = {}
    for k, v in zip(node.keys, node.values):
        try:
            key = _key(k, depth)
        except NotLiteral:
            continue
        if isinstance(v, ast.Dict):
            value = _lenient_dict(v, depth + 1)
            if value is None:
                out.pop(key, None)
                continue
            out[key] = value
            continue
        try:
            out[key] = literal(v, depth + 1)
        except NotLiteral:
            out.pop(key, None)   # a later non-literal duplicate hides an earlier value
    return out


def _key(node: ast.expr | None, depth: int) -> object:
    assert node is not None, "a ** spread: callers refuse those before reading keys"
    key = literal(node, depth + 1)
    if isinstance(key, (list, dict)):
        raise NotLiteral(node)
    return key


def literal(node: ast.expr | ast.stmt, depth: int = 0) -> object:
    """The value of a literal expression; NotLiteral for anything else."""
    if depth > MAX_DEPTH:
        raise NotLiteral(node)
    if isinstance(node, ast.Constant):
        if node.value is None or type(node.value) in (bool, int, float, str):
            return node.value
        raise NotLiteral(node)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)) \
            and isinstance(node.operand, ast.Constant) and type(node.operand.value) in (int, float):
        number = cast("int | float", node.operand.value)   # checked just above; bool is not a number here
        return -number if isinstance(node.op, ast.USub) else number
    if isinstance(node, (ast.List, ast.Tuple)):
        return [literal(e, depth + 1) for e in node.elts]
    if isinstance(node, ast.Dict):
        if any(k is None for k in node.keys):
            raise NotLiteral(node)
        return {_key(k, depth): literal(v, depth + 1) for k, v in zip(node.keys, node.values)}
    raise NotLiteral(node)


# --- finding a key's node, for editing and for saying why a key is missing ----------

def find(scope: Scope, parts: list[str]) -> tuple[Bound | None, tuple[list[str], ast.expr | ast.stmt] | None]:
    """(node, None) for the expression PARTS names, or (None, blocker) where the walk stops.

    The blocker is (parts so far, the node that is not a literal), or None when
    the key simply does not exist.
    """
    from git_exp.params.read import key_text
    bound: Bound = scope
    for i, part in enumerate(parts):
        if isinstance(bound, Scope):
            if part not in bound:
                return None, None
            bound = bound[part]
        elif isinstance(bound, ast.Dict):
            if any(k is None for k in bound.keys):
                return None, (parts[:i], bound)
            match = None
            for k, v in zip(bound.keys, bound.values):
                try:
                    if key_text(_key(k, 0)) == part:
                        match = v   # the last duplicate wins, as in Python
                except NotLiteral:
                    continue
            if match is None:
                return None, None
            bound = match
        elif isinstance(bound, (ast.List, ast.Tuple)):
            index = index_of(part)
            if index is None or index >= len(bound.elts):
                return None, None
            bound = bound.elts[index]
        else:
            return None, (parts[:i], bound)
        if not isinstance(bound, (Scope, ast.Dict)):
            try:   # a list is all literal or not a parameter at all
                literal(bound)
            except NotLiteral as e:
                return None, (parts[:i + 1], e.node)
    return bound, None


def unreadable(text: str, source: str, parts: list[str]) -> ExpError | None:
    """Why the key PARTS is missing from the params read from TEXT, when a non-literal hides it."""
    try:
        scope = parse_tree(text, source)
    except ExpError as e:
        return e
    _, blocker = find(scope, parts)
    if blocker is None:
        return None
    where, node = blocker
    what = describe(node)
    return ExpError(f"{source}:{node.lineno}: {join_key(where)} is not a literal value ({what})",
                    hint=_LITERAL_HINT)


def describe(node: ast.expr | ast.stmt) -> str:
    if isinstance(node, ast.Call):
        return "a function call"
    if isinstance(node, (ast.Name, ast.Attribute, ast.Subscript)):
        return "a reference to another name"
    if isinstance(node, ast.JoinedStr):
        return "an f-string"
    if isinstance(node, (ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare)):
        return "an expression (arithmetic or logic)"
    if isinstance(node, (ast.ListComp, ast.DictComp, ast.SetComp, ast.GeneratorExp)):
        return "a comprehension"
    if isinstance(node, ast.Lambda):
        return "a lambda"
    if isinstance(node, ast.AugAssign):
        return "changed by an augmented assignment (+= and the like)"
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return "a function"
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return "an import"
    if isinstance(node, ast.Assign):
        return "assigned together with other names"
    if isinstance(node, ast.Dict):
        return "a dict with ** unpacking"
    if isinstance(node, ast.Constant):
        return f"a {type(node.value).__name__} constant"
    if isinstance(node, ast.Set):
        return "a set"
    if isinstance(node, ast.ClassDef):
        return "a class nested too deeply"
    return f"a Python {type(node).__name__} expression"


# --- positions ------------------------------------------------------------------------

_NEWLINE = re.compile(r"\r\n|\r|\n")   # the Python tokenizer's line ends


def line_starts(text: str) -> list[int]:
    """The index where each line starts (index 0 is line 1), as ast numbers lines."""
    return [0] + [m.end() for m in _NEWLINE.finditer(text)]


def offset(text: str, starts: list[int], lineno: int, col: int) -> int:
    """The str index of ast position (LINENO, COL): ast columns count UTF-8 bytes."""
    start = starts[lineno - 1]
    end = starts[lineno] if lineno < len(starts) else len(text)
    raw = text[start:end].encode("utf-8")
    return start + len(raw[:col].decode("utf-8", "replace"))


def span(text: str, starts: list[int], node: ast.expr | ast.stmt) -> tuple[int, int]:
    end_line, end_col = node.end_lineno, node.end_col_offset
    assert end_line is not None and end_col is not None, "ast.parse sets the end of every node"
    return (offset(text, starts, node.lineno, node.col_offset), offset(text, starts, end_line, end_col))
