"""`--where EXPR`: keep the rows whose metrics and params satisfy EXPR.

    expr       := term ("or" term)*
    term       := factor ("and" factor)*
    factor     := "not" factor | "(" expr ")" | comparison
    comparison := operand OP operand        OP: < <= > >= == = !=
    operand    := KEY | NUMBER | 'text' | "text" | true | false | null

A KEY is a metric or param as its column is named (`acc`, `train.lr`,
`metrics.json:acc`, `server."http.conf"` for a key that holds a dot); a
key with spaces or other odd characters goes in backticks. A bare word that
names no column is an error rather than text,
so a typo never silently filters everything out: quote text.

`tag` names an experiment's tags (git exp tag), unless a metric or param
is called `tag`: `tag == 'best'` is true when 'best' is one of them, `tag
!= 'best'` when it is not; tags have no order.

A comparison with a missing value is unknown, whatever the operator, and
stays unknown under `not` (SQL's three-valued logic): `not acc > 0.9` keeps
rows whose acc is at most 0.9, never rows without an acc. `unknown and
false` is false, `unknown or true` is true; a row is kept only when the
whole expression is true. Numbers compare as numbers and text as text;
ordering a number against text is false, and they are never equal. Errors say what is wrong and point at the
token with a caret under the expression.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, NoReturn

from git_exp.errors import ExpError
from git_exp.show.values import is_number

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.]))
  | (?P<string>'[^']*'|"[^"]*")
  | (?P<quoted>`[^`]*`)
  | (?P<op><=|>=|==|!=|<|>|=)
  | (?P<paren>[()])
  | (?P<word>[A-Za-z_](?:[\w.\-/:@]|(?<=\.)"(?:[^"\\]|\\.)*")*)
""", re.VERBOSE)

KEYWORDS = {"and", "or", "not", "true", "false", "null"}
OPERATORS = "<, <=, >, >=, == or !="
_MISSING = object()


@dataclass(frozen=True)
class Token:
    kind: str     # number, string, key, op, paren, keyword, end
    text: str
    pos: int
    value: object = None


class WhereError(ExpError):
    """A bad expression; the message shows it with a caret under the culprit."""

    def __init__(self, expr: str, pos: int, problem: str, hint: str | None = None):
        pointer = " " * pos + "^"
        super().__init__(f"bad --where expression: {problem}\n    {expr}\n    {pointer}", hint)
        self.pos = pos
        self.problem = problem


def tokenize(expr: str) -> list[Token]:
    tokens = []
    pos = 0
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if m is None:
            char = expr[pos]
            if char in "'\"`":
                raise WhereError(expr, pos, f"unterminated {char}quote{char}",
                                 hint=f"close the text with {char}")
            if char in "&|!":
                raise WhereError(expr, pos, f"unexpected '{char}'",
                                 hint="join comparisons with 'and' and 'or'; negate with 'not'")
            raise WhereError(expr, pos, f"unexpected character '{char}'",
                             hint="quote text ('adam'), and name odd keys in backticks")
        kind, text = m.lastgroup, m.group()
        if kind == "number":
            tokens.append(Token("number", text, pos, float(text) if any(c in text for c in ".eE")
                                else int(text)))
        elif kind == "string":
            tokens.append(Token("string", text, pos, text[1:-1]))
        elif kind == "quoted":
            tokens.append(Token("key", text, pos, text[1:-1]))
        elif kind == "word" and text.lower() in KEYWORDS:
            tokens.append(Token("keyword", text, pos, text.lower()))
        elif kind == "word":
            tokens.append(Token("key", text, pos, text))
        elif kind in ("op", "paren"):
            tokens.append(Token(kind, text, pos, "==" if text == "=" else text))
        pos = m.end()
    tokens.append(Token("end", "", len(expr)))
    return tokens


# Rows are the caller's (show's collect.Row): where.py only hands them to the getters
# its resolver gives, hence Any.
Getter = Callable[[Any], object]             # row -> value, or MISSING
Resolver = Callable[[str], Getter]           # key name -> getter; raises ExpError
Test = Callable[[Any], "bool | None"]        # row -> True, False or None (unknown: a value is missing)


class Members(frozenset):
    """A set of values compared by membership: `tag == 'best'` when 'best' is one."""


TAG_KEY = "tag"


def key_resolver(columns: Resolver) -> Resolver:
    """COLUMNS' resolver, plus the `tag` pseudo-key when no column is called that."""
    def resolve(name: str) -> Getter:
        try:
            return columns(name)
        except ExpError:
            if name != TAG_KEY:
                raise
        return lambda row: Members(getattr(row, "tags", ()))
    return resolve


def compile_where(expr: str, resolve: Resolver, missing: object = _MISSING) -> Callable[[Any], bool]:
    """A predicate over rows; RESOLVE turns a key into a getter returning MISSING when absent.

    Unknown keys are reported here, at the key, not when rows are tested.
    """
    if not expr.strip():
        raise WhereError(expr, 0, "the expression is empty",
                         hint="for example: --where 'acc > 0.9 and train.lr <= 0.01'")
    parser = _Parser(expr, tokenize(expr), resolve, missing)
    test = parser.parse()
    return lambda row: test(row) is True


class _Parser:
    def __init__(self, expr: str, tokens: list[Token], resolve: Resolver, missing: object) -> None:
        self.expr = expr
        self.tokens = tokens
        self.i = 0
        self.resolve = resolve
        self.missing = missing

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def _fail(self, token: Token, problem: str, hint: str | None = None) -> NoReturn:
        raise WhereError(self.expr, token.pos, problem, hint)

    def _describe(self, token: Token) -> str:
        return "the end of the expression" if token.kind == "end" else f"'{token.text}'"

    def parse(self) -> Test:
        node = self._or()
        if self.tok.kind != "end":
            hint = None
            if self.tok.kind in ("key", "number", "string"):
                hint = "join comparisons with 'and' or 'or'"
            self._fail(self.tok, f"expected 'and', 'or' or the end, found {self._describe(self.tok)}", hint)
        return node

    def _keyword(self, word: str) -> bool:
        if self.tok.kind == "keyword" and self.tok.value == word:
            self.i += 1
            return True
        return False

    def _or(self) -> Test:
        parts = [self._and()]
        while self._keyword("or"):
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else (lambda row: _any(p(row) for p in parts))

    def _and(self) -> Test:
        parts = [self._not()]
        while self._keyword("and"):
            parts.append(self._not())
        return parts[0] if len(parts) == 1 else (lambda row: _all(p(row) for p in parts))

    def _not(self) -> Test:
        if self._keyword("not"):
            inner = self._not()

            def negated(row: object) -> bool | None:
                value = inner(row)
                return None if value is None else not value
            return negated
        if self.tok.kind == "paren" and self.tok.text == "(":
            opening = self.tok
            self.i += 1
            inner = self._or()
            if not (self.tok.kind == "paren" and self.tok.text == ")"):
                self._fail(self.tok, f"expected ')' to close the '(' at column {opening.pos + 1}, "
                                     f"found {self._describe(self.tok)}")
            self.i += 1
            return inner
        return self._comparison()

    def _comparison(self) -> Test:
        left = self._operand()
        op = self.tok
        if op.kind != "op":
            self._fail(op, f"expected an operator ({OPERATORS}) after '{self.tokens[self.i - 1].text}', "
                           f"found {self._describe(op)}",
                       hint="each condition compares two things, e.g. acc > 0.9")
        self.i += 1
        right = self._operand()
        return _comparator(str(op.value), left, right, self.missing)   # an op's value is its text

    def _operand(self) -> Getter:
        tok = self.tok
        if tok.kind == "key":
            try:
                getter = self.resolve(str(tok.value))   # a key's value is its name
            except ExpError as exc:
                hint = exc.hint
                if tok.kind == "key" and self.i > 0 and self.tokens[self.i - 1].kind == "op":
                    hint = f"quote text: '{tok.value}'" + (f"; {hint}" if hint else "")
                self._fail(tok, exc.message, hint)
            self.i += 1
            return getter
        if tok.kind in ("number", "string"):
            self.i += 1
            return _constant(tok.value)
        if tok.kind == "keyword" and tok.value in ("true", "false", "null"):
            self.i += 1
            return _constant({"true": True, "false": False, "null": None}[tok.value])
        self._fail(tok, f"expected a key, a number or quoted text, found {self._describe(tok)}")


def _any(results: Iterable[bool | None]) -> bool | None:
    """OR in three-valued logic: None is unknown."""
    unknown = False
    for result in results:
        if result is True:
            return True
        unknown = unknown or result is None
    return None if unknown else False


def _all(results: Iterable[bool | None]) -> bool | None:
    """AND in three-valued logic: None is unknown."""
    unknown = False
    for result in results:
        if result is False:
            return False
        unknown = unknown or result is None
    return None if unknown else True


def _constant(value: object) -> Getter:
    return lambda row: value


def _comparator(op: str, left: Getter, right: Getter, missing: object) -> Test:
    def test(row: object) -> bool | None:
        a, b = left(row), right(row)
        if a is missing or b is missing:
            return None
        return compare(op, a, b)
    return test


# Any: values read from params and metrics files; only numbers with numbers and text
# with text reach the ordering operators (checked first).
def compare(op: str, a: Any, b: Any) -> bool:
    if isinstance(a, Members) or isinstance(b, Members):
        if op not in ("==", "!="):
            return False   # tags have no order
        other = b if isinstance(a, Members) else a
        tags = a if isinstance(a, Members) else b
        found = isinstance(other, str) and other in tags
        return found if op == "==" else not found
    if is_number(a) and is_number(b) or isinstance(a, str) and isinstance(b, str):
        pass
    elif op in ("==", "!="):
        same = type(a) is type(b) and a == b
        return same if op == "==" else not same
    else:
        return False  # no order between a number and text, or between lists
    return _ordered(op, a, b)


def _ordered(op: str, a: Any, b: Any) -> bool:
    # Any: two numbers, or two strings (compare checked which)
    if op == "==":
        return a == b
    if op == "!=":
        return a != b
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    return a >= b
