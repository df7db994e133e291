"""The -S syntax: operators, file prefixes and YAML-like typing of values."""
from __future__ import annotations

import math

import pytest

from git_exp.errors import ExpError
from git_exp.params.overrides import Override, parse_override, parse_value

# text -> value, typed as YAML 1.2 scalars (Hydra's rules), not YAML 1.1's
TYPING = [
    ("32", 32), ("-7", -7), ("+7", 7), ("0", 0), ("1_000", 1000), ("0x1F", 31), ("0o17", 15),
    ("0b101", 5), ("007", "007"), ("0.01", 0.01), (".5", 0.5), ("5.", 5.0), ("1e-3", 0.001),
    ("1E5", 100000.0), ("-2.5e+3", -2500.0), ("1.e3", 1000.0), ("inf", math.inf),
    (".inf", math.inf), ("-inf", -math.inf), ("+.Inf", math.inf),
    ("true", True), ("True", True), ("FALSE", False), ("yes", "yes"), ("on", "on"), ("no", "no"),
    ("null", None), ("Null", None), ("~", None), ("none", "none"),
    ("adam", "adam"), ("", ""), ("  padded  ", "padded"), ("2020-01-01", "2020-01-01"),
    ("a b", "a b"), ("a: b", "a: b"), ("x # y", "x # y"), ("*ref", "*ref"), ("&a", "&a"),
    ("1e", "1e"), ("1.2.3", "1.2.3"), ("e5", "e5"), (".", "."),
    ("'a b'", "a b"), ("'it''s'", "it's"), ("'32'", "32"), ('"32"', "32"), ('"tab\\there"', "tab\there"),
    ("''", ""), ("[1, 2]", [1, 2]), ("[]", []), ("{}", {}), ("[1e-3, yes, 'x', null]", [0.001, "yes", "x", None]),
    ("{a: 1, b: [x, 2.5]}", {"a": 1, "b": ["x", 2.5]}), ("[[1], {c: d}]", [[1], {"c": "d"}]),
]


def test_value_typing_table():
    for text, expected in TYPING:
        value = parse_value(text)
        assert type(value) is type(expected) and value == expected, f"{text!r} -> {value!r}"
    assert math.isnan(parse_value("nan")) and math.isnan(parse_value(".NaN"))


@pytest.mark.parametrize("text", ["[1, 2", "{a: 1", "'a' b", '"x', "[a, b]]"])
def test_malformed_flow_values_are_errors_with_a_hint(text):
    with pytest.raises(ExpError) as e:
        parse_value(text)
    assert e.value.message.startswith(f"cannot read {text}: ")
    assert "quote" in e.value.hint


def test_operators_and_file_prefixes():
    cases = {
        "train.lr=0.01": Override(None, "train.lr", "set", 0.01, "0.01"),
        "+train.wd=1e-4": Override(None, "train.wd", "add", 0.0001, "1e-4"),
        "++train.wd=0": Override(None, "train.wd", "upsert", 0, "0"),
        "~train.dropout": Override(None, "train.dropout", "delete", None, ""),
        "other.yaml:train.lr=1": Override("other.yaml", "train.lr", "set", 1, "1"),
        "conf/p.json:+a=x": Override("conf/p.json", "a", "add", "x", "x"),
        "+conf/p.toml:a=x": Override("conf/p.toml", "a", "add", "x", "x"),
        "p.yml:~a": Override("p.yml", "a", "delete", None, ""),
        "p.yml:++a.b=[1]": Override("p.yml", "a.b", "upsert", [1], "[1]"),
        " lr = 0.1 ": Override(None, "lr", "set", 0.1, "0.1"),
        "url=http://x/y?a=b": Override(None, "url", "set", "http://x/y?a=b", "http://x/y?a=b"),
        "a:b=1": Override(None, '"a:b"', "set", 1, "1"),  # no params extension: part of the key, canonically quoted
        "name='a=b'": Override(None, "name", "set", "a=b", "'a=b'"),
        "x=": Override(None, "x", "set", "", ""),
        "odd key=1": Override(None, "odd key", "set", 1, "1"),
    }
    for arg, expected in cases.items():
        assert parse_override(arg) == expected, arg


def test_an_override_prints_as_it_parses():
    for arg in ("train.lr=0.01", "+a=1", "++a.b=[1, 2]", "~a", "p.yaml:+a=x", "p.yaml:~a"):
        assert str(parse_override(arg)) == arg


@pytest.mark.parametrize("arg,message,hint", [
    ("=1", "empty key", "key=value"),
    ("+=1", "empty key", "key=value"),
    ("p.yaml:=1", "empty key", "key=value"),
    ("lr", "no '=' and no value", "write lr=VALUE to set it, or ~lr to delete it"),
    ("+lr", "no '=' and no value", "write lr=VALUE"),
    ("~lr=1", "~ deletes a key and takes no value", "write ~lr to delete it, or lr=1 to set it"),
    ("a..b=1", "empty part in key 'a..b'", "train.lr"),
    (".a=1", "empty part in key '.a'", "single dots"),
    ("a.=1", "empty part in key 'a.'", "single dots"),
    ("+++a=1", "bad character in key '+a'", "++key=value"),
    ("+~a", "bad character in key '~a'", "~key"),
    ("+p.yaml:+a=1", "two operators", "++key=v"),
    ("a=[1,", "cannot read [1,", "quote"),
])
def test_malformed_overrides(arg, message, hint):
    with pytest.raises(ExpError) as e:
        parse_override(arg)
    assert e.value.message.startswith("invalid ") and f"'{arg}'" in e.value.message
    assert message in e.value.message
    assert hint in e.value.hint


# --- key paths: list elements and quoted parts ----------------------------------------

from git_exp.params.keys import index_of, join_key, quote_part, split_key  # noqa: E402


@pytest.mark.parametrize("key, parts", [
    ("train.lr", ["train", "lr"]),
    ("layers.0", ["layers", "0"]),
    ('server."http.conf"', ["server", "http.conf"]),
    ('"a.b"."c.d".e', ["a.b", "c.d", "e"]),
    ('"train".lr', ["train", "lr"]),                  # quoting a plain part changes nothing
    ('x."say \\"hi\\""', ["x", 'say "hi"']),
    ('x."back\\\\slash"', ["x", "back\\slash"]),
    ('"a=b"', ["a=b"]),
    ('"a:b"', ["a:b"]),
    ('""', [""]),
])
def test_split_key_and_join_key_round_trip(key, parts):
    assert split_key(key) == parts
    assert split_key(join_key(parts)) == parts
    assert join_key(split_key(join_key(parts))) == join_key(parts)


@pytest.mark.parametrize("key, problem", [
    ('a."b', "unterminated quote in key"),
    ('a."b"c', "text after the closing quote"),
    ('a.b"c', "a quote inside"),
    ("a..b", "empty part in key"),
])
def test_bad_key_paths_are_errors_with_hints(key, problem):
    with pytest.raises(ExpError) as e:
        split_key(key)
    assert problem in e.value.message and e.value.hint


def test_only_parts_that_need_it_are_quoted_and_indices_are_plain_numbers():
    assert [quote_part(p) for p in ("lr", "k-1", "a b", "a.b", "", " x", 'q"')] == \
        ["lr", "k-1", "a b", '"a.b"', '""', '" x"', '"q\\""']
    assert [index_of(p) for p in ("0", "12", "01", "-1", "x", "²")] == [0, 12, None, None, None, None]


@pytest.mark.parametrize("arg, file, key, text", [
    ('server."http.conf"=x', None, 'server."http.conf"', "x"),
    ('server."a=b"=1', None, 'server."a=b"', "1"),
    ('p.yaml:"a:b"=1', "p.yaml", '"a:b"', "1"),
    ('p.json:+"x.y".z=1', "p.json", '"x.y".z', "1"),
    ("params.py:LR=0.02", "params.py", "LR", "0.02"),
    ("conf/p.py:~Train.lr", "conf/p.py", "Train.lr", ""),
    ('"train".lr=1', None, "train.lr", "1"),
    ("layers.0=32", None, "layers.0", "32"),
])
def test_overrides_with_quoted_keys_python_files_and_indices(arg, file, key, text):
    ov = parse_override(arg)
    assert (ov.file, ov.key, ov.text) == (file, key, text)
    assert parse_override(str(ov)) == ov


def test_a_sweep_over_a_quoted_key_keeps_the_key():
    from git_exp.params.sweeps import expand
    assert expand(['s."a=b"=1,2']) == [['s."a=b"=1'], ['s."a=b"=2']]
