"""The --where expression language: precedence, comparisons, and errors that point."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from git_exp.errors import ExpError
from git_exp.show import columns as cols
from git_exp.show.where import WhereError, compile_where, tokenize


def row(metrics=None, params=None):
    return SimpleNamespace(metrics={"metrics.json": metrics or {}},
                           params={"params.yaml": params or {}})


ROWS = {
    "a": row({"acc": 0.95, "loss": 0.1}, {"train.lr": 0.01, "opt": "adam", "deep": True}),
    "b": row({"acc": 0.80, "loss": 0.3}, {"train.lr": 0.1, "opt": "sgd", "deep": False}),
    "c": row({"loss": 0.2}, {"train.lr": 0.001, "opt": "adam", "my key": 3}),
}
COLUMNS = cols.discover(list(ROWS.values()))


def matching(expr: str) -> list[str]:
    test = compile_where(expr, lambda name: cols.find(COLUMNS, name).get, cols.MISSING)
    return [name for name, r in ROWS.items() if test(r)]


@pytest.mark.parametrize("expr, expected", [
    ("acc > 0.9", ["a"]),
    ("acc >= 0.8", ["a", "b"]),
    ("acc < 0.9", ["b"]),
    ("loss <= 0.2", ["a", "c"]),
    ("opt == 'adam'", ["a", "c"]),
    ('opt = "sgd"', ["b"]),
    ("opt != 'adam'", ["b"]),
    ("train.lr < 0.05 and loss > 0.15", ["c"]),
    ("acc > 0.9 or loss > 0.25", ["a", "b"]),
    ("acc > 0.9 or loss > 0.25 and opt == 'adam'", ["a"]),   # and binds tighter
    ("(acc > 0.9 or loss > 0.25) and opt == 'sgd'", ["b"]),
    ("not acc > 0.9", ["b"]),                                  # c has no acc: unknown either way
    ("not acc > 0.9 or loss < 0.25", ["a", "b", "c"]),
    ("not (acc > 0.9 and loss < 0.25)", ["b"]),
    ("NOT (opt == 'adam') AND loss > 0", ["b"]),
    ("deep == true", ["a"]),
    ("deep != true", ["b"]),
    ("metrics.json:acc > 0.5", ["a", "b"]),
    ("params.yaml:train.lr == 1e-3", ["c"]),
    ("`my key` == 3", ["c"]),
    ("acc > loss", ["a", "b"]),                                # key against key
    ("-1 < loss", ["a", "b", "c"]),
    ("opt > 0", []),                                           # text has no order with numbers
    ("opt != 0", ["a", "b", "c"]),
])
def test_expressions(expr, expected):
    assert matching(expr) == expected


def test_a_missing_value_never_matches():
    assert matching("acc != 0.5") == ["a", "b"]
    assert matching("acc == null") == []
    assert matching("not acc == 0.5") == ["a", "b"]
    assert matching("not (acc > 0.5 and loss > 1)") == ["a", "b", "c"]   # false for c already


def test_tokens_keep_their_positions():
    tokens = tokenize("acc>=0.9 and opt=='a b'")
    assert [(t.kind, t.text, t.pos) for t in tokens] == [
        ("key", "acc", 0), ("op", ">=", 3), ("number", "0.9", 5), ("keyword", "and", 9),
        ("key", "opt", 13), ("op", "==", 16), ("string", "'a b'", 18), ("end", "", 23)]
    assert tokenize("x = 3")[2].value == 3 and isinstance(tokenize("x = 3.0")[2].value, float)


def error(expr: str) -> WhereError:
    with pytest.raises(WhereError) as info:
        matching(expr)
    return info.value


def caret(exc: WhereError) -> int:
    lines = exc.message.splitlines()
    assert lines[1] == "    " + lines[1][4:]
    return lines[2].index("^") - 4


@pytest.mark.parametrize("expr, pos, problem", [
    ("acc 0.9", 4, "expected an operator (<, <=, >, >=, == or !=) after 'acc', found '0.9'"),
    ("acc >", 5, "expected a key, a number or quoted text, found the end of the expression"),
    ("acc > 0.9 and", 13, "expected a key, a number or quoted text, found the end of the expression"),
    ("acc > 0.9 loss < 1", 10, "expected 'and', 'or' or the end, found 'loss'"),
    ("(acc > 0.9", 10, "expected ')' to close the '(' at column 1, found the end of the expression"),
    ("acc > 0.9)", 9, "expected 'and', 'or' or the end, found ')'"),
    ("opt == 'adam", 7, "unterminated 'quote'"),
    ("acc > 0.9 && loss < 1", 10, "unexpected '&'"),
    ("acc # 1", 4, "unexpected character '#'"),
    ("acc > > 1", 6, "expected a key, a number or quoted text, found '>'"),
    ("", 0, "the expression is empty"),
])
def test_syntax_errors_point_at_the_token(expr, pos, problem):
    exc = error(expr)
    assert exc.problem == problem
    assert exc.pos == pos and caret(exc) == pos
    assert exc.message.splitlines()[0] == f"bad --where expression: {problem}"
    assert exc.message.splitlines()[1] == f"    {expr}"


def test_unknown_and_ambiguous_keys_point_at_the_key():
    exc = error("acc > 0.5 and acu < 1")
    assert exc.problem == "no metric or param named 'acu' in the rows shown"
    assert caret(exc) == 14 and "did you mean acc" in exc.hint
    exc = error("opt == adam")
    assert caret(exc) == 7
    assert exc.hint.startswith("quote text: 'adam'")


def test_ambiguous_key_names_both_files():
    rows = [SimpleNamespace(metrics={"m.json": {"acc": 1}, "e.json": {"acc": 2}}, params={})]
    columns = cols.discover(rows)
    with pytest.raises(ExpError) as info:
        compile_where("acc > 1", lambda name: cols.find(columns, name).get, cols.MISSING)
    assert "'acc' is ambiguous" in info.value.message
    assert info.value.hint == "name the file too: m.json:acc or e.json:acc"
    test = compile_where("e.json:acc > 1", lambda name: cols.find(columns, name).get, cols.MISSING)
    assert test(rows[0])


def test_tag_is_a_membership_pseudo_key():
    from git_exp.show.where import key_resolver
    rows = {"a": SimpleNamespace(metrics={}, params={"p.yaml": {"l": [1]}}, tags=("best", "x")),
            "b": SimpleNamespace(metrics={}, params={"p.yaml": {"l": [1]}}, tags=())}
    columns = cols.discover(list(rows.values()))

    def chosen(expr: str) -> list[str]:
        test = compile_where(expr, key_resolver(lambda n: cols.find(columns, n).get), cols.MISSING)
        return [name for name, r in rows.items() if test(r)]
    assert chosen("tag == 'best'") == ["a"]
    assert chosen("'x' == tag") == ["a"]
    assert chosen("tag != 'best'") == ["b"]
    assert chosen("tag > 'a'") == []               # tags have no order
    assert chosen("tag == l") == []                # a list is never a tag
    assert chosen("not tag == 'best'") == ["b"]
    # A real column called tag wins over the pseudo-key.
    rows["a"].params["p.yaml"]["tag"] = "best"
    columns = cols.discover(list(rows.values()))
    assert chosen("tag == 'best'") == ["a"] and chosen("tag == 'x'") == []
