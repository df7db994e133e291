"""In-place edits of params files: only the value's bytes change.

Every case states the input, the override and the exact fragments that
change, compares the whole output with the expected text byte for byte, and
then checks the round-trip property: parsing the new text gives the old data
with exactly that key changed (plus, for YAML anchors, the keys that alias it).
The tricky inputs live in tests/data/params/.
"""
from __future__ import annotations

import copy
import os
import stat
from pathlib import Path

import pytest

from git_exp.errors import ExpError
from git_exp.params.edit import apply_overrides, edit_text, same
from git_exp.params.keys import split_key
from git_exp.params.overrides import parse_override
from git_exp.params.read import key_text, parse

DATA = Path(__file__).parent / "data" / "params"


def corpus(name: str) -> str:
    return (DATA / name).read_bytes().decode("utf-8")


# --- helpers -----------------------------------------------------------------------

def _keys(node) -> list:
    return list(range(len(node))) if isinstance(node, list) else list(node)


def _walk(data: dict, parts: list[str], create: bool = False):
    node = data
    for part in parts[:-1]:
        match = [k for k in _keys(node) if key_text(k) == part]
        if not match:
            assert create
            node[part] = {}
            match = [part]
        node = node[match[0]]
    match = [k for k in _keys(node) if key_text(k) == parts[-1]]
    return node, match[0] if match else parts[-1]


def _drop(data: dict, dotted: str) -> None:
    parts = split_key(dotted)
    try:
        node, key = _walk(data, parts)
    except (AssertionError, TypeError, AttributeError):
        return
    if isinstance(node, dict):
        node.pop(key, None)


def assert_only_key_changed(old_text: str, new_text: str, fmt: str, arg: str,
                            followers: tuple = ()) -> None:
    """The round-trip property: new == old with ARG applied, and nothing else."""
    ov = parse_override(arg)
    old, new = parse(old_text, fmt), parse(new_text, fmt)
    expected = copy.deepcopy(old)
    node, key = _walk(expected, ov.parts, create=True)
    if ov.op == "delete":
        del node[key]
    else:
        node[key] = ov.value
    for name in followers:   # keys that legitimately follow an anchored value
        _drop(expected, name)
        _drop(new, name)
    assert same(new, expected), f"{new!r}\n!=\n{expected!r}"


def check(text: str, fmt: str, arg: str, changes: list[tuple[str, str]], followers: tuple = ()) -> str:
    """Edit TEXT with ARG and compare the whole result with TEXT with CHANGES made."""
    expected = text
    for old, new in changes:
        assert text.count(old) == 1, f"the fragment {old!r} must occur exactly once"
        expected = expected.replace(old, new)
    out = edit_text(text, fmt, [parse_override(arg)], f"params.{fmt}")
    assert out == expected
    assert_only_key_changed(text, out, fmt, arg, followers)
    return out


def changed_lines(a: str, b: str) -> int:
    la, lb = a.splitlines(True), b.splitlines(True)
    return sum(1 for x, y in zip(la, lb) if x != y) + abs(len(la) - len(lb))


# The three line-ending shapes every YAML and TOML case runs in.
def lf(s: str) -> str:
    return s


def crlf(s: str) -> str:
    return s.replace("\n", "\r\n")


def no_final_newline(s: str) -> str:
    return s[:-1] if s.endswith("\n") else s


SHAPES = [pytest.param(lf, id="lf"), pytest.param(crlf, id="crlf"),
          pytest.param(no_final_newline, id="no-final-newline")]


def check_shapes(text: str, fmt: str, arg: str, changes) -> None:
    """check() on TEXT as written, with CRLF line endings, and without its final newline."""
    check(text, fmt, arg, changes)
    check(crlf(text), fmt, arg, [(crlf(a), crlf(b)) for a, b in changes])
    check(no_final_newline(text), fmt, arg, changes)


# --- YAML -----------------------------------------------------------------------------

YAML_CASES = [
    # set: only the value's bytes, comments and alignment kept
    ("seed=7", [("seed: 42            #", "seed: 7            #")]),
    ("train.lr=0.001", [("lr: 0.01   #", "lr: 0.001   #")]),
    # PyYAML reads 1e-3 as a string, so the canonical float is written
    ("train.lr=1e-3", [("lr: 0.01   #", "lr: 0.001   #")]),
    ("train.lr=fast", [("lr: 0.01   #", "lr: fast   #")]),           # a type change is fine
    ("train.optimizer=sgd", [("optimizer: 'adam'", "optimizer: 'sgd'")]),
    ("train.optimizer=it's", [("optimizer: 'adam'", "optimizer: 'it''s'")]),
    ("train.schedule=linear", [('schedule: "cosine"', 'schedule: "linear"')]),
    ("data.path=data/other.csv", [('"data/train.csv"', '"data/other.csv"')]),
    ("model.name=yes", [("name: cnn", "name: 'yes'")]),             # a string YAML 1.1 misreads
    ("model.name=2020-01-01", [("name: cnn", "name: '2020-01-01'")]),
    ("model.name=a: b", [("name: cnn", "name: 'a: b'")]),
    ("model.name='a: b'", [("name: cnn", "name: 'a: b'")]),
    ("model.name=rnn", [("name: cnn", "name: rnn")]),
    ("train.momentum=0.95", [("momentum: .9", "momentum: 0.95")]),
    ("train.nesterov=false", [("nesterov: true", "nesterov: false")]),
    ("train.dropout=0.5", [("dropout: null", "dropout: 0.5")]),
    ("train.empty=3", [("  empty:\n", "  empty: 3\n")]),
    ("data.columns=[a, b]", [("columns: [age, income, 'zip code']", "columns: [a, b]")]),
    ("data.columns=[]", [("columns: [age, income, 'zip code']", "columns: []")]),
    ("data.labels.true=2", [("{yes: 1, no: 0}", "{yes: 2, no: 0}")]),
    ("model.conv_units={a: 1}", [("conv_units: 16", "conv_units: {a: 1}")]),
    # block list in, block list out; a scalar moves onto the key's line
    ("train.layers=[128, 64, 32]",
     [("    - 64\n    - 32   # bottleneck\n", "    - 128\n    - 64\n    - 32\n")]),
    ("train.layers=8", [("  layers:\n    - 64\n    - 32   # bottleneck\n", "  layers: 8\n")]),
    ("train.notes=short", [("  notes: |\n    first line\n    second line\n", "  notes: short\n")]),
    # add: at the end of the parent mapping, before trailing comments and blank lines
    ("+train.wd=0.0001", [("    second line\n", "    second line\n  wd: 0.0001\n")]),
    ("+model.dropout=0.1", [("  activation: relu\n", "  activation: relu\n  dropout: 0.1\n")]),
    ("+optim.name=adam", [("  activation: relu\n", "  activation: relu\noptim:\n  name: adam\n")]),
    ("+data.labels.maybe=2", [("{yes: 1, no: 0}", "{yes: 1, no: 0, maybe: 2}")]),
    ("++train.lr=0.1", [("lr: 0.01   #", "lr: 0.1   #")]),
    ("++train.new=true", [("    second line\n", "    second line\n  new: true\n")]),
    # delete: the key's lines, with their comment
    ("~train.epochs", [("  epochs: 10\n", "")]),
    ("~seed", [("seed: 42            # reproducibility\n", "")]),
    ("~model", [("model:\n  name: cnn\n  conv_units: 16\n  activation: relu\n", "")]),
    ("~data.labels", [("  labels: {yes: 1, no: 0}\n", "")]),
    ("~data.labels.false", [("{yes: 1, no: 0}", "{yes: 1}")]),
    ("~train.layers", [("  layers:\n    - 64\n    - 32   # bottleneck\n", "")]),
]


@pytest.mark.parametrize("arg,changes", YAML_CASES, ids=[c[0] for c in YAML_CASES])
def test_yaml_edit(arg, changes):
    check_shapes(corpus("tricky.yaml"), "yaml", arg, changes)


@pytest.mark.parametrize("arg", ["seed=7", "train.lr=0.001", "train.optimizer=sgd", "model.name=yes"])
def test_a_yaml_set_is_a_one_line_change(arg):
    text = corpus("tricky.yaml")
    assert changed_lines(text, edit_text(text, "yaml", [parse_override(arg)])) == 1


FLOW_CASES = [
    ("lr=0.2", [("{lr: 0.1,", "{lr: 0.2,")]),
    ("opt.name=sgd", [("name: adam", "name: sgd")]),
    ("opt.betas=[0.8, 0.9]", [("[0.9, 0.999]", "[0.8, 0.9]")]),
    ("+opt.eps=1e-8", [("0.999]}", "0.999], eps: 1.0e-08}")]),
    ("+empty.a=1", [("empty: {}", "empty: {a: 1}")]),
    ("+top=x", [("empty: {}}", "empty: {}, top: x}")]),
    ("+x.y=1", [("empty: {}}", "empty: {}, x: {y: 1}}")]),
    ("~layers", [("layers: [1, 2], ", "")]),
    ("~empty", [(", empty: {}", "")]),
    ("~lr", [("lr: 0.1, ", "")]),
]


@pytest.mark.parametrize("arg,changes", FLOW_CASES, ids=[c[0] for c in FLOW_CASES])
def test_yaml_flow_mapping_edit(arg, changes):
    check(corpus("flow.yaml"), "yaml", arg, changes)


ANCHOR_CASES = [
    # the anchored value: edited in place, its alias follows (YAML's meaning)
    ("base_lr=0.2", [("&base_lr 0.1", "&base_lr 0.2")], ("warmup_lr",)),
    ("defaults.lr=0.02", [("  lr: 0.01", "  lr: 0.02")], ("train.lr", "eval.lr")),
    ("+defaults.wd=0.1", [("  epochs: 10\n", "  epochs: 10\n  wd: 0.1\n")], ("train.wd", "eval.wd")),
    ("~defaults.lr", [("  lr: 0.01\n", "")], ("train.lr", "eval.lr")),
    ("defaults={lr: 1}", [("  lr: 0.01\n  epochs: 10\n", "  lr: 1\n")], ("train", "eval")),
    # a key whose value is an alias: the reference itself is replaced or removed
    ("warmup_lr=0.5", [("warmup_lr: *base_lr", "warmup_lr: 0.5")], ()),
    ("eval=3", [("eval: *defaults", "eval: 3")], ()),
    ("~warmup_lr", [("warmup_lr: *base_lr\n", "")], ()),
    # an explicit key beside a merge
    ("train.epochs=30", [("  epochs: 20", "  epochs: 30")], ()),
    ("++train.lr=0.5", [("  epochs: 20\n", "  epochs: 20\n  lr: 0.5\n")], ()),
    # deleting an explicit key beside a merge lets the merged value show through
    ("~train.epochs", [("  epochs: 20\n", "")], ("train.epochs",)),
]


@pytest.mark.parametrize("arg,changes,followers", ANCHOR_CASES, ids=[c[0] for c in ANCHOR_CASES])
def test_yaml_anchors(arg, changes, followers):
    check(corpus("anchors.yaml"), "yaml", arg, changes, followers)


def test_deleting_an_override_beside_a_merge_reveals_the_merged_value():
    out = edit_text(corpus("anchors.yaml"), "yaml", [parse_override("~train.epochs")])
    assert parse(out, "yaml")["train"] == {"lr": 0.01, "epochs": 10}


@pytest.mark.parametrize("arg,message,hint", [
    ("eval.lr=1", "eval is an alias (*defaults)", "edit defaults.lr instead"),
    ("+eval.wd=1", "eval is an alias (*defaults)", "add to defaults instead"),
    ("train.lr=1", "train.lr comes from a merge key (<<)", "use ++train.lr=1 to override it"),
    ("~train.lr", "train.lr comes from a merge key (<<)", "override it with ++train.lr"),
    ("~base_lr", "holds the anchor &base_lr, which warmup_lr uses", "give warmup_lr a value"),
    ("~defaults", "holds the anchor &defaults", "a value of its own"),
    ("defaults=5", "train merges it (<<)", "defaults.KEY=VALUE"),
])
def test_yaml_edits_through_aliases_and_merges_are_refused(arg, message, hint):
    with pytest.raises(ExpError) as e:
        edit_text(corpus("anchors.yaml"), "yaml", [parse_override(arg)], "params.yaml")
    assert message in e.value.message
    assert hint in e.value.hint


@pytest.mark.parametrize("text,arg,expected", [
    ("", "+a.b=1", "a:\n  b: 1\n"),
    ("# only a comment\n", "+a=1", "# only a comment\na: 1\n"),
    ("# only a comment", "+a=1", "# only a comment\na: 1"),
    ("a: 1", "+b=2", "a: 1\nb: 2"),
    ("a: 1\nb: 2", "~b", "a: 1"),
    ("a: 1\r\nb: 2", "~b", "a: 1"),
    ("a:\n    b: 1\n", "+c.d=1", "a:\n    b: 1\nc:\n    d: 1\n"),            # the file's indent step
    ("a:\n  b: 1  # note\n", "~a.b", "a: {}\n"),                              # stays a mapping
    ("a:   # the a group\n  b: 1\n", "~a.b", "a: {}   # the a group\n"),
    ("x: 1\na:\n  b: 1\n", "a=[1, 2]", "x: 1\na:\n  - 1\n  - 2\n"),         # block stays block
    ("a:\n- 1\n- 2\nb: 3\n", "a=[3]", "a:\n- 3\nb: 3\n"),                     # an indentless list
    ("a:\n- 1\n- 2\nb: 3\n", "a={k: v}", "a:\n  k: v\nb: 3\n"),
    ("a: !!float 1\n", "a=2.5", "a: 2.5\n"),                                  # the tag goes
    ("\ufeffa: 1\n", "a=2", "\ufeffa: 2\n"),                                  # a BOM stays
    ("a: 'x'\n", "a=line\\nbreak", "a: 'line\\nbreak'\n"),
    ("a: x\n", 'a="multi\\nline"', 'a: "multi\\nline"\n'),
    ("a: x\n", "a='multi\nline'", "a: multi line\n"),                          # YAML folds it
    ("a: 1\n", "a=é", "a: é\n"),
    ("a: 1\n", "a=.inf", "a: .inf\n"),
    ("a: 1\n", "a=-", "a: '-'\n"),                        # reads as a string in [-], not after a:
    ("a: 1\n", "a=x]", "a: 'x]'\n"),
    ("a: 1\n", "a=null", "a: null\n"),
    ("a: 1\n", "a=", "a: ''\n"),
    ("key: 1\n", "+odd key=2", "key: 1\nodd key: 2\n"),
    ("key: 1\n", "+odd: key=2", "key: 1\n'odd: key': 2\n"),
    ("a: 1\n", "a=0.10", "a: 0.10\n"),                                         # the user's spelling
    ("a: |\n  x\n  y\nb: 2\n", "a=1", "a: 1\nb: 2\n"),
    ("a:\n  b:\n    c: 1\n", "+a.b.d.e=2", "a:\n  b:\n    c: 1\n    d:\n      e: 2\n"),
])
def test_yaml_small_cases(text, arg, expected):
    out = edit_text(text, "yaml", [parse_override(arg)], "params.yaml")
    assert out == expected
    assert_only_key_changed(text, out, "yaml", arg)


def test_yaml_with_several_documents_is_refused_with_its_position():
    with pytest.raises(ExpError) as e:
        edit_text("a: 1\n---\nb: 2\n", "yaml", [parse_override("a=2")], "params.yaml")
    assert e.value.message.startswith("params.yaml:2:1: a second YAML document")
    assert "---" in e.value.hint


# --- JSON -------------------------------------------------------------------------------

# {i} is the file's indent unit: the same cases run on 2 and 4 spaces and tabs.
JSON_CASES = [
    ("train.lr=0.001", [('"lr": 0.01,', '"lr": 0.001,')]),
    ("train.lr=1e-3", [('"lr": 0.01,', '"lr": 1e-3,')]),            # valid JSON: kept as typed
    ("train.optimizer=sgd", [('"adam"', '"sgd"')]),
    ("train.optimizer='a \"b\"'", [('"adam"', '"a \\"b\\""')]),
    ("seed=null", [('"seed": 42', '"seed": null')]),
    ("train.nesterov=false", [('"nesterov": true', '"nesterov": false')]),
    ("model.units=32", [('"units": 16}', '"units": 32}')]),
    ("model={a: [1, 2]}", [('{"name": "cnn", "units": 16}', '{"a": [1, 2]}')]),
    ("train.layers=[1, 2, 3]",
     [("[\n{i}{i}{i}64,\n{i}{i}{i}32\n{i}{i}]", "[\n{i}{i}{i}1,\n{i}{i}{i}2,\n{i}{i}{i}3\n{i}{i}]")]),
    ("train.layers=[]", [("[\n{i}{i}{i}64,\n{i}{i}{i}32\n{i}{i}]", "[]")]),
    ("+train.wd=0.1", [('"dropout": null\n', '"dropout": null,\n{i}{i}"wd": 0.1\n')]),
    ("+model.act=relu", [('"units": 16}', '"units": 16, "act": "relu"}')]),
    ("+empty.x=1", [('"empty": {}', '"empty": {"x": 1}')]),
    ("+opt.kind.name=x",
     [('"empty": {}\n', '"empty": {},\n{i}"opt": {\n{i}{i}"kind": {\n{i}{i}{i}"name": "x"\n{i}{i}}\n{i}}\n')]),
    ("++seed=1", [('"seed": 42', '"seed": 1')]),
    ("~train.nesterov", [('"nesterov": true,\n{i}{i}"dropout"', '"dropout"')]),
    ("~train.dropout", [('true,\n{i}{i}"dropout": null', "true")]),
    ("~model.name", [('{"name": "cnn", "units": 16}', '{"units": 16}')]),
    ("~seed", [('"seed": 42,\n{i}', "")]),
    ("~empty", [(',\n{i}"empty": {}', "")]),
]


JSON_FILES = (("indent2.json", "  "), ("indent4.json", "    "), ("tabs.json", "\t"))


@pytest.mark.parametrize("arg,changes", JSON_CASES, ids=[c[0] for c in JSON_CASES])
def test_json_edit(arg, changes):
    for name, unit in JSON_FILES:
        check(corpus(name), "json", arg, [(a.replace("{i}", unit), b.replace("{i}", unit))
                                          for a, b in changes])


def test_json_edit_with_crlf():
    text = crlf(corpus("indent4.json"))
    check(text, "json", "+train.wd=0.1", [('"dropout": null\r\n', '"dropout": null,\r\n        "wd": 0.1\r\n')])
    check(text, "json", "train.lr=0.5", [('"lr": 0.01,', '"lr": 0.5,')])


def test_json_delete_a_whole_object():
    text = corpus("indent2.json")
    out = edit_text(text, "json", [parse_override("~train")])
    assert out == '{\n  "seed": 42,\n  "model": {"name": "cnn", "units": 16},\n  "empty": {}\n}\n'
    assert_only_key_changed(text, out, "json", "~train")


COMPACT_CASES = [
    ("seed=1", [('"seed":42', '"seed":1')]),
    ("+x=1", [('"model":{}}', '"model":{},"x":1}')]),
    ("+model.a.b=1", [('"model":{}', '"model":{"a":{"b":1}}')]),
    ("+train.wd=[1, 2]", [('"optimizer":"adam"}', '"optimizer":"adam","wd":[1, 2]}')]),
    ("~train.lr", [('"lr":0.01,', "")]),
    ("~model", [(',"model":{}', "")]),
]


@pytest.mark.parametrize("arg,changes", COMPACT_CASES, ids=[c[0] for c in COMPACT_CASES])
def test_json_compact_file_stays_compact(arg, changes):
    check(corpus("compact.json"), "json", arg, changes)


@pytest.mark.parametrize("text,arg,expected", [
    ("{}", "+a=1", '{\n  "a": 1\n}'),
    ("{}\n", "+a.b=1", '{\n  "a": {\n    "b": 1\n  }\n}\n'),
    ('{"a": 1}', "~a", "{}"),
    ('{\n  "a": {\n  }\n}\n', "+a.b=1", '{\n  "a": {\n    "b": 1\n  }\n}\n'),
    ('{"a": 1, "a": 2}', "a=3", '{"a": 1, "a": 3}'),          # json.loads keeps the last one
    ('{"a": "x"}', "a=é", '{"a": "é"}'),
    ('{"a": 1.5}', "a=2", '{"a": 2}'),
    ('\ufeff{"a": 1}', "a=2", '\ufeff{"a": 2}'),
])
def test_json_small_cases(text, arg, expected):
    out = edit_text(text, "json", [parse_override(arg)], "params.json")
    assert out == expected
    assert_only_key_changed(text, out, "json", arg)


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "[1, .nan]"])
def test_json_refuses_values_it_cannot_hold(value):
    with pytest.raises(ExpError) as e:
        edit_text('{"a": 1}', "json", [parse_override(f"a={value}")], "params.json")
    assert "JSON has no NaN or infinity" in e.value.message


# --- TOML -------------------------------------------------------------------------------

TOML_CASES = [
    ("title=report", [('title = "demo"   #', 'title = "report"   #')]),
    ("seed=7", [("seed=42", "seed=7")]),
    ("data.path=x.csv", [("'data/train.csv'", "'x.csv'")]),                    # literal stays literal
    ("data.path=it's", [("'data/train.csv'", '"it\'s"')]),
    ("data.columns=[a, b]", [('["age", "income", "zip code"]', '["a", "b"]')]),
    ("train.lr=1e-3", [("lr = 0.01  #", "lr = 1e-3  #")]),
    ("train.lr=0.5", [("lr = 0.01  #", "lr = 0.5  #")]),
    ("train.nesterov=false", [("nesterov = true", "nesterov = false")]),
    ("train.optimizer=sgd", [('optimizer = "adam"', 'optimizer = "sgd"')]),
    ("train.layers=[1, 2, 3]", [("  64,\n  32,  # bottleneck\n]", "  1,\n  2,\n  3,\n]")]),
    ("train.layers=[]", [("[\n  64,\n  32,  # bottleneck\n]", "[]")]),
    ("train.opt.kind=sgd", [('kind = "adam"', 'kind = "sgd"')]),
    ("train.opt.betas.b2=0.99", [("b2 = 0.999", "b2 = 0.99")]),
    ("train.sched.kind=linear", [('sched.kind = "cosine"', 'sched.kind = "linear"')]),
    ("train.quoted key=2", [('"quoted key" = 1', '"quoted key" = 2')]),
    ("train.epochs={a: 1, b: [x]}", [("epochs = 10", 'epochs = {a = 1, b = ["x"]}')]),
    ("+train.wd=0.1", [('"quoted key" = 1\n', '"quoted key" = 1\nwd = 0.1\n')]),
    ("+train.sched.gamma=0.5", [("sched.warmup = 5\n", "sched.warmup = 5\nsched.gamma = 0.5\n")]),
    ("+train.opt.eps=1e-8", [("b2 = 0.999 } }", "b2 = 0.999 }, eps = 1e-8 }")]),
    ("+train.opt.betas.b3=1", [("b2 = 0.999 }", "b2 = 0.999, b3 = 1 }")]),
    ("+extra=1", [("seed=42\n", "seed=42\nextra=1\n")]),
    ("+data.odd key=1", [('"zip code"]\n', '"zip code"]\n"odd key" = 1\n')]),
    ("~train.epochs", [("epochs = 10\n", "")]),
    ("~title", [('title = "demo"   # shown in reports\n', "")]),
    ("~train.sched", [('sched.kind = "cosine"\nsched.warmup = 5\n', "")]),
    ("~train.opt.kind", [('kind = "adam", ', "")]),
    ("~train.opt.betas", [(', betas = { b1 = 0.9, b2 = 0.999 }', "")]),
    ("~train.layers", [("layers = [\n  64,\n  32,  # bottleneck\n]\n", "")]),
    ("~runs", [("[[runs]]\nseed = 1\n\n[[runs]]\nseed = 2\n\n", "")]),
    ("~data", [("[data]\npath = 'data/train.csv'\nsplit = 0.8\n"
                'columns = ["age", "income", "zip code"]\n\n', "")]),
]


@pytest.mark.parametrize("arg,changes", TOML_CASES, ids=[c[0] for c in TOML_CASES])
def test_toml_edit(arg, changes):
    check_shapes(corpus("tricky.toml"), "toml", arg, changes)


@pytest.mark.parametrize("shape", SHAPES)
def test_toml_add_at_the_end_of_the_file(shape):
    text = shape(corpus("tricky.toml"))
    end = "" if shape is no_final_newline else shape("\n")
    nl = "\r\n" if shape is crlf else "\n"
    out = edit_text(text, "toml", [parse_override("+model.conv.stride=2")])
    assert out == text[:len(text) - len(end)] + f"{nl}stride = 2" + end
    out = edit_text(text, "toml", [parse_override("+model.name=cnn")])
    assert out == text + (nl if not end else "") + f'{nl}[model]{nl}name = "cnn"' + end
    assert_only_key_changed(text, out, "toml", "+model.name=cnn")
    out = edit_text(text, "toml", [parse_override("~model")])
    assert out == text[:text.index(f"{nl}{nl}[model.conv]")] + end


@pytest.mark.parametrize("text,arg,expected", [
    ("", "+a=1", "a = 1\n"),
    ("", "+a.b=1", "[a]\nb = 1\n"),
    ("# hello\n\n[t]\nx = 1\n", "+top=1", "# hello\n\ntop = 1\n\n[t]\nx = 1\n"),
    ("# about t\n[t]\nx = 1\n", "+top=1", "top = 1\n\n# about t\n[t]\nx = 1\n"),
    ("[t]\n", "+t.x=1", "[t]\nx = 1\n"),
    ("[t]\n  x = 1\n", "+t.y=2", "[t]\n  x = 1\n  y = 2\n"),                 # indented like its siblings
    ("a = {}\n", "+a.b=1", "a = {b = 1}\n"),
    ("a = 1\n", "a=inf", "a = inf\n"),
    ("a = 1\n", "a=-inf", "a = -inf\n"),
    ("a = 1.5\n", "a=1e-05", "a = 1e-05\n"),
    ("a = 'x'\n", "a=tab\there", "a = 'tab\there'\n"),
    ("a = 'x'\n", "a=line\\nbreak", "a = 'line\\nbreak'\n"),
    ("a = '''\nx\n'''\nb = 1\n", "a=y", "a = 'y'\nb = 1\n"),
    ('a = """\nx\n"""\nb = 1\n', "a=y", 'a = "y"\nb = 1\n'),
    ("d = 1979-05-27 07:32:00Z\n", "d=x", 'd = "x"\n'),
    ("a.b.c = 1\n", "+a.b.d=2", "a.b.c = 1\na.b.d = 2\n"),
    ("[a]\nb.c = 1\n\n[z]\n", "+a.b.d=2", "[a]\nb.c = 1\nb.d = 2\n\n[z]\n"),
    ("[a.x]\nv = 1\n", "+a.y=2", "[a.x]\nv = 1\n\n[a]\ny = 2\n"),
    ("\ufeffa = 1\n", "a=2", "\ufeffa = 2\n"),
    # a parent made only by what is deleted stays, as an empty table
    ("x = 1\n\n[model.conv]\nunits = 16\n", "~model.conv", "x = 1\n\n[model]\n"),
    ("x = 1\n\n[model.conv]\nunits = 16", "~model.conv", "x = 1\n\n[model]"),
    ("a.b = 1\nc = 2\n", "~a.b", "a = {}\nc = 2\n"),
    ("[s]\n  x.y = 1\n", "~s.x.y", "[s]\n  x = {}\n"),
    ("[m.c]\nu = 1\n\n[m.c.sub]\nk = 1\n\n[z]\n", "~m.c", "[m]\n\n[z]\n"),
    ("[z]\n\n[[r]]\na = 1\n\n[[r]]\na = 2\n", "~r", "[z]\n"),
])
def test_toml_small_cases(text, arg, expected):
    out = edit_text(text, "toml", [parse_override(arg)], "params.toml")
    assert out == expected
    assert_only_key_changed(text, out, "toml", arg)


@pytest.mark.parametrize("arg,message,hint", [
    ("train=1", "cannot set train in params.toml: it is a table", "train.KEY=VALUE"),
    ("runs=[1]", "it is an array of tables", "one by one"),
    ("train.lr=null", "TOML has no null value", "~train.lr"),
    ("+train.x=[1, null]", "TOML has no null value", "~train.x"),
])
def test_toml_refusals(arg, message, hint):
    with pytest.raises(ExpError) as e:
        edit_text(corpus("tricky.toml"), "toml", [parse_override(arg)], "params.toml")
    assert message in e.value.message
    assert hint in e.value.hint


# --- shared rules ----------------------------------------------------------------------------

@pytest.mark.parametrize("fmt,text", [
    ("yaml", corpus("tricky.yaml")), ("json", corpus("indent2.json")), ("toml", corpus("tricky.toml"))])
def test_unknown_key_names_the_key_and_file_and_suggests(fmt, text):
    with pytest.raises(ExpError) as e:
        edit_text(text, fmt, [parse_override("train.lrr=0.01")], f"params.{fmt}")
    assert e.value.message == f"no parameter train.lrr in params.{fmt}"
    assert e.value.hint == "did you mean train.lr? use +train.lrr=0.01 to add it"


def test_unknown_key_without_a_close_match():
    with pytest.raises(ExpError) as e:
        edit_text("a: 1\n", "yaml", [parse_override("zzz=1")], "p.yaml")
    assert e.value.hint == "use +zzz=1 to add it"


def test_adding_an_existing_key_is_refused():
    with pytest.raises(ExpError) as e:
        edit_text("a: 1\n", "yaml", [parse_override("+a=2")], "p.yaml")
    assert e.value.message == "a already exists in p.yaml"
    assert "a=2" in e.value.hint and "++a=2" in e.value.hint


@pytest.mark.parametrize("arg,message", [
    ("a.b=1", "no parameter a.b in p.yaml: a is a single value (1)"),
    ("+a.b=1", "cannot add a.b to p.yaml: a is a single value (1), not a mapping"),
    ("l.x=1", "no parameter l.x in p.yaml: l is a list"),
    ("l.5=1", "no parameter l.5 in p.yaml: l has no such element"),
    ("~nope", "no parameter nope in p.yaml"),
])
def test_keys_through_values_and_lists(arg, message):
    with pytest.raises(ExpError) as e:
        edit_text("a: 1\nl: [1, 2]\n", "yaml", [parse_override(arg)], "p.yaml")
    assert e.value.message == message


def test_several_overrides_apply_in_order():
    text = corpus("tricky.yaml")
    out = edit_text(text, "yaml", [parse_override(a) for a in ("train.lr=0.1", "+train.wd=1", "train.wd=2")])
    assert out == text.replace("lr: 0.01 ", "lr: 0.1 ").replace("    second line\n", "    second line\n  wd: 2\n")


def test_setting_the_same_value_changes_nothing():
    text = corpus("tricky.toml")
    assert edit_text(text, "toml", [parse_override("seed=42")]) == text


def test_syntax_errors_in_the_file_carry_line_and_column():
    with pytest.raises(ExpError) as e:
        edit_text('{\n  "a": 1,\n}\n', "json", [parse_override("a=2")], "params.json")
    assert e.value.message.startswith("params.json:3:1: ")


# --- files -------------------------------------------------------------------------------------

def test_apply_overrides_writes_each_file_and_reports_changed_keys(tmp_path):
    (tmp_path / "params.yaml").write_bytes(corpus("tricky.yaml").encode())
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "other.json").write_bytes(corpus("indent4.json").encode())
    result = apply_overrides(str(tmp_path), "params.yaml", [
        parse_override("train.lr=0.5"),
        parse_override("conf/other.json:seed=1"),
        parse_override("train.epochs=10"),          # same value: not a change
        parse_override("./params.yaml:+train.wd=1"),
    ])
    assert result == {"params.yaml": ["train.lr", "train.wd"], "conf/other.json": ["seed"]}
    assert (tmp_path / "params.yaml").read_bytes().decode() == corpus("tricky.yaml").replace(
        "lr: 0.01 ", "lr: 0.5 ").replace("    second line\n", "    second line\n  wd: 1\n")
    assert (tmp_path / "conf" / "other.json").read_bytes().decode() == corpus("indent4.json").replace(
        '"seed": 42', '"seed": 1')
    assert sorted(os.listdir(tmp_path)) == ["conf", "params.yaml"]   # no temp files left


def test_a_bad_override_changes_no_file(tmp_path):
    (tmp_path / "params.yaml").write_text("a: 1\n")
    (tmp_path / "other.toml").write_text("b = 1\n")
    with pytest.raises(ExpError) as e:
        apply_overrides(str(tmp_path), "params.yaml", [
            parse_override("a=2"), parse_override("other.toml:b=2"), parse_override("other.toml:c=3")])
    assert e.value.message == "no parameter c in other.toml"
    assert (tmp_path / "params.yaml").read_text() == "a: 1\n"
    assert (tmp_path / "other.toml").read_text() == "b = 1\n"
    assert sorted(os.listdir(tmp_path)) == ["other.toml", "params.yaml"]


def test_an_unchanged_file_is_not_rewritten(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("a: 1\n")
    before = os.stat(path).st_ino
    assert apply_overrides(str(tmp_path), "params.yaml", [parse_override("a=1")]) == {"params.yaml": []}
    assert os.stat(path).st_ino == before


def test_apply_keeps_a_bom_and_crlf(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_bytes("\ufeffa: 1\r\nb: 2\r\n".encode())
    apply_overrides(str(tmp_path), "params.yaml", [parse_override("a=3"), parse_override("+c=4")])
    assert path.read_bytes().decode() == "\ufeffa: 3\r\nb: 2\r\nc: 4\r\n"


def test_apply_keeps_the_file_mode_and_writes_through_symlinks(tmp_path):
    real = tmp_path / "conf" / "real.yaml"
    real.parent.mkdir()
    real.write_text("a: 1\n")
    real.chmod(0o640)
    (tmp_path / "params.yaml").symlink_to(real)
    apply_overrides(str(tmp_path), "params.yaml", [parse_override("a=2")])
    assert (tmp_path / "params.yaml").is_symlink()
    assert real.read_text() == "a: 2\n"
    assert stat.S_IMODE(real.stat().st_mode) == 0o640


@pytest.mark.parametrize("name", ["../outside.yaml", "/tmp/elsewhere.yaml", "link.yaml"])
def test_files_outside_the_root_are_refused(tmp_path, name):
    root = tmp_path / "repo"
    root.mkdir()
    outside = tmp_path / "outside.yaml"
    outside.write_text("a: 1\n")
    (root / "link.yaml").symlink_to(outside)
    with pytest.raises(ExpError) as e:
        apply_overrides(str(root), "params.yaml", [parse_override(f"{name}:a=2")])
    assert e.value.message == f"params file {name} is outside the repository"
    assert outside.read_text() == "a: 1\n"


def test_a_missing_params_file_is_named(tmp_path):
    with pytest.raises(ExpError) as e:
        apply_overrides(str(tmp_path), "params.yaml", [parse_override("a=2")])
    assert e.value.message == "params file params.yaml does not exist"


def test_a_one_parameter_change_is_a_one_line_git_diff(committed):
    committed.gen({"params.yaml": corpus("tricky.yaml"), "params.toml": corpus("tricky.toml"),
                   "params.json": corpus("tabs.json")})
    committed.commit("params")
    apply_overrides(str(committed.path), "params.yaml", [
        parse_override("train.lr=0.001"), parse_override("params.toml:train.opt.kind=sgd"),
        parse_override("params.json:train.optimizer=sgd")])
    numstat = sorted(committed.git("diff", "--numstat").splitlines())
    assert numstat == ["1\t1\tparams.json", "1\t1\tparams.toml", "1\t1\tparams.yaml"]


# --- the round trip on generated files ------------------------------------------------------

_WORDS = ["lr", "a", "b", "model", "x_y", "k-1"]
_SCALARS = [0, 1, -3, 0.5, 1e-05, True, False, "adam", "a b", "yes", "007", "", "x: y", "é"]
_VALUES = ["1", "0.25", "1e-3", "yes", "'q'", "[1, x]", "{p: 1}", "-", "a b", "[]", "{}", "x: y"]


def _random_params(rng, depth=0) -> dict:
    data = {}
    for _ in range(rng.randint(0 if depth else 1, 4)):
        r = rng.random()
        if r < 0.3 and depth < 3:
            data[rng.choice(_WORDS)] = _random_params(rng, depth + 1)
        elif r < 0.4:
            data[rng.choice(_WORDS)] = [rng.choice(_SCALARS) for _ in range(rng.randint(0, 3))]
        else:
            data[rng.choice(_WORDS)] = rng.choice(_SCALARS)
    return data


def _toml_text(data: dict, rng) -> str:
    import json

    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, str):
            return json.dumps(v, ensure_ascii=False)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return "{" + ", ".join(f"{json.dumps(k)} = {value(x)}" for k, x in v.items()) + "}"

    lines = []

    def table(path, d):
        inline = [k for k, v in d.items() if not isinstance(v, dict) or rng.random() < 0.3]
        if path:
            lines.append("[" + ".".join(path) + "]")
        lines.extend(f"{k} = {value(d[k])}" + rng.choice(["", "  # note"]) for k in inline)
        lines.append("")
        for k, v in d.items():
            if k not in inline:
                table(path + [k], v)

    table([], data)
    return "\n".join(lines)


def _render(data: dict, fmt: str, rng) -> str:
    import json

    import yaml
    if fmt == "yaml":
        return yaml.safe_dump(data, default_flow_style=rng.choice([False, None, True]),
                              sort_keys=False, allow_unicode=True, indent=rng.choice([2, 4]))
    if fmt == "json":
        return json.dumps(data, indent=rng.choice([None, 2, 4, "\t"]), ensure_ascii=rng.random() < 0.5)
    return _toml_text(data, rng)


@pytest.mark.parametrize("fmt", ["yaml", "json", "toml"])
def test_random_edits_change_exactly_their_key(fmt):
    import random

    from git_exp.params.read import flatten
    rng = random.Random(20240601)
    edits = 0
    for _ in range(40):
        text = _render(_random_params(rng), fmt, rng)
        if rng.random() < 0.3:
            text = crlf(text)
        flat = flatten(parse(text, fmt))
        keys = list(flat) + [k.rsplit(".", 1)[0] for k in flat if "." in k]
        for _ in range(4):
            key, op = rng.choice(keys), rng.choice(["", "+", "++", "~"])
            if op == "+":
                key = f"{key}.{rng.choice(_WORDS)}" if rng.random() < 0.5 else rng.choice(_WORDS)
            arg = f"~{key}" if op == "~" else f"{op}{key}={rng.choice(_VALUES)}"
            try:
                out = edit_text(text, fmt, [parse_override(arg)], "p")
            except ExpError as e:   # refusals must be the expected kind, never our own bug
                assert "report this as a bug" not in (e.hint or ""), (arg, text, e.message)
                continue
            assert_only_key_changed(text, out, fmt, arg.replace("++", "", 1) if op == "++" else arg)
            edits += 1
    assert edits > 100, edits


# --- list elements (layers.0) and keys that hold a dot (server."http.conf") ------------------

@pytest.mark.parametrize("fmt, text, arg, expected", [
    ("yaml", "m:\n  layers: [8, 16]  # widths\n", "m.layers.1=32", "m:\n  layers: [8, 32]  # widths\n"),
    ("yaml", "layers:\n  - 8   # first\n  - 16\n", "layers.0=4", "layers:\n  - 4   # first\n  - 16\n"),
    ("yaml", "l:\n  - a: 1\n  - a: 2\n", "l.1.a=3", "l:\n  - a: 1\n  - a: 3\n"),
    ("yaml", "server:\n  http.conf: a  # c\n", 'server."http.conf"=b', "server:\n  http.conf: b  # c\n"),
    ("yaml", "'a:b': 1\n", '"a:b"=2', "'a:b': 2\n"),
    ("json", '{"m": {"layers": [8, 16]}}\n', "m.layers.0=32", '{"m": {"layers": [32, 16]}}\n'),
    ("json", '{\n  "l": [\n    {"a": 1}\n  ]\n}\n', "l.0.a=2", '{\n  "l": [\n    {"a": 2}\n  ]\n}\n'),
    ("json", '{"http.conf": {"x.y": 1, "a\\"b": 2}}', '"http.conf"."x.y"=3',
     '{"http.conf": {"x.y": 3, "a\\"b": 2}}'),
    ("json", '{"a\\"b": 2}', '"a\\"b"=5', '{"a\\"b": 5}'),
    ("toml", "layers = [8, 16]  # widths\n", "layers.1=32", "layers = [8, 32]  # widths\n"),
    ("toml", "x = [[1, 2], {a = 3}]\n", "x.0.1=5", "x = [[1, 5], {a = 3}]\n"),
    ("toml", "x = [[1, 2], {a = 3}]\n", "x.1.a=4", "x = [[1, 2], {a = 4}]\n"),
    ("toml", '[server]\n"http.conf" = "a"\n', 'server."http.conf"=b', '[server]\n"http.conf" = "b"\n'),
    ("toml", "[a]\n", '+a."b.c"=1', '[a]\n"b.c" = 1\n'),
    ("toml", "[[s]]\nn = 1\n\n[[s]]\nn = 2  # two\nv = {w = [1, 2]}\n", "s.1.n=3",
     "[[s]]\nn = 1\n\n[[s]]\nn = 3  # two\nv = {w = [1, 2]}\n"),
    ("toml", "[[s]]\nn = 1\n\n[[s]]\nn = 2\nv = {w = [1, 2]}\n", "s.1.v.w.0=9",
     "[[s]]\nn = 1\n\n[[s]]\nn = 2\nv = {w = [9, 2]}\n"),
    ("yaml", "a: {}\n", '+a."b.c"=1', "a: {b.c: 1}\n"),
    ("json", '{"a": {}}', '+a."b.c"=1', '{"a": {"b.c": 1}}'),
])
def test_list_elements_and_quoted_keys_in_every_format(fmt, text, arg, expected):
    out = edit_text(text, fmt, [parse_override(arg)], f"p.{fmt}")
    assert out == expected
    assert_only_key_changed(text, out, fmt, arg.lstrip("+"))


@pytest.mark.parametrize("fmt, text, arg, message", [
    ("yaml", "l: [1, 2]\n", "+l.2=3", "cannot add l.2 in p: l is a list, and -S only sets list elements"),
    ("json", '{"l": [1, 2]}', "~l.0", "cannot delete l.0 in p: l is a list"),
    ("toml", "l = [1]\n", "l.1=3", "no parameter l.1 in p: l has no such element"),
    ("toml", "[[s]]\nn = 1\n", "s.0=2", "cannot set s.0 in p: -S sets values inside a [[table]] element"),
    ("toml", "[[s]]\nn = 1\n[s.sub]\nk = 1\n", "s.0.sub.k=2", "cannot set s.0.sub.k in p: -S sets values"),
    ("yaml", "l:\n  - a: 1\n", "l.0=2", "cannot set l.0 in p: the list element is a block mapping or list"),
    ("yaml", "a: 1\n", 'a."b=1', "invalid parameter override"),
])
def test_list_element_refusals(fmt, text, arg, message):
    with pytest.raises(ExpError) as e:
        edit_text(text, fmt, [parse_override(arg)], "p")
    assert e.value.message.startswith(message), e.value.message
    assert e.value.hint


LISTS_PIPELINE = """\
stages:
  s:
    cmd: echo ok > out.txt
    params:
      - m.layers
      - 'server."http.conf"'
      - params.json: ['"http.conf".port', l]
      - params.toml: [layers, 'srv."a.b"']
    outs: [out.txt]
"""


def test_run_sets_list_elements_and_dotted_keys_as_one_line_diffs(committed):
    committed.gen({
        "exp.yaml": LISTS_PIPELINE,
        "params.yaml": "m:\n  layers: [8, 16]  # widths\nserver:\n  http.conf: a\n",
        "params.json": '{\n  "http.conf": {"port": 80},\n  "l": [1, 2]\n}\n',
        "params.toml": 'layers = [8, 16]\n\n[srv]\n"a.b" = 1  # note\n'})
    committed.commit("params")
    committed.exp("run", "-S", "m.layers.1=32", "-S", 'server."http.conf"=b',
                  "-S", "params.json:l.0=5", "-S", "params.toml:layers.0=4",
                  "-S", 'params.toml:srv."a.b"=2', "-n", "lists")
    numstat = sorted(committed.git("diff", "--numstat", "HEAD").splitlines())
    assert numstat == ["1\t1\tparams.json", "2\t2\tparams.toml", "2\t2\tparams.yaml"]
    diff = committed.git("diff", "-U0", "--no-color", "HEAD")
    changed = [l for l in diff.splitlines() if l[:1] in "+-" and l[:3] not in ("+++", "---")]
    assert changed == ['-  "l": [1, 2]', '+  "l": [5, 2]',
                       "-layers = [8, 16]", "+layers = [4, 16]", '-"a.b" = 1  # note', '+"a.b" = 2  # note',
                       "-  layers: [8, 16]  # widths", "+  layers: [8, 32]  # widths",
                       "-  http.conf: a", "+  http.conf: b"]
    import json
    rows = {r["name"]: r for r in json.loads(committed.exp("show", "--json").stdout)}
    assert rows["lists"]["params"]["params.yaml"]['server."http.conf"'] == "b"
    assert rows["lists"]["params"]["params.toml"]['srv."a.b"'] == 2
    assert rows["lists"]["params"]["params.json"]['"http.conf".port'] == 80
    committed.fsck()
