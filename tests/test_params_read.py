"""Reading params files: formats, located syntax errors, flat keys, selection."""
from __future__ import annotations

import pytest

from git_exp.errors import ExpError
from git_exp.params.read import flatten, fmt_of, load, parse, select
from tests.test_params_edit import DATA


def test_fmt_of_knows_the_extensions():
    assert [fmt_of(p) for p in ("params.yaml", "a/b.yml", "X.YAML", "p.json", "p.toml")] == \
        ["yaml", "yaml", "yaml", "json", "toml"]
    with pytest.raises(ExpError) as e:
        fmt_of("params.ini")
    assert e.value.message == "params.ini: unsupported params file type '.ini'"
    assert e.value.hint == "params files must end in .yaml, .yml, .json, .toml or .py"
    with pytest.raises(ExpError):
        fmt_of("Makefile")


def test_the_three_formats_read_the_same_data():
    yaml_text = "train:\n  lr: 0.01\n  layers: [64, 32]\nname: demo\n"
    json_text = '{"train": {"lr": 0.01, "layers": [64, 32]}, "name": "demo"}'
    toml_text = 'name = "demo"\n[train]\nlr = 0.01\nlayers = [64, 32]\n'
    expected = {"train": {"lr": 0.01, "layers": [64, 32]}, "name": "demo"}
    assert parse(yaml_text, "yaml") == parse(json_text, "json") == parse(toml_text, "toml") == expected


# YAML's wording depends on whether PyYAML uses libyaml; the position does not.
@pytest.mark.parametrize("text,fmt,message", [
    ("a: 1\nb: [1, 2\nc: 3\n", "yaml", "params.yaml:3:2: "),
    ("a: 1\n  b: 2\n", "yaml", "params.yaml:2:4: mapping values are not allowed"),
    ("a: 'x\n", "yaml", "params.yaml:2:1: found unexpected end of stream"),
    ('{\n  "a": 1,\n}\n', "json", "params.json:3:1: expecting property name enclosed in double quotes"),
    ('{"a": 1} x', "json", "params.json:1:10: extra data"),
    ("a = 1\nb = \n", "toml", "params.toml:2:5: invalid value"),
    ("[t]\na = 1\n[t]\n", "toml", "params.toml:3:3: cannot declare ('t',) twice"),
    ('a = "x', "toml", "params.toml:1:7: unterminated string"),
])
def test_syntax_errors_say_file_line_and_column(text, fmt, message):
    with pytest.raises(ExpError) as e:
        parse(text, fmt, f"params.{fmt}")
    assert e.value.message.startswith(message), e.value.message


def test_tabs_in_yaml_get_a_hint():
    with pytest.raises(ExpError) as e:
        parse("a:\n\tb: 1\n", "yaml", "p.yaml")
    assert e.value.message.startswith("p.yaml:2:1: ")
    assert e.value.hint == "YAML indents with spaces, never tabs"


def test_several_yaml_documents_are_refused():
    with pytest.raises(ExpError) as e:
        parse("a: 1\n---\nb: 2\n", "yaml", "params.yaml")
    assert e.value.message == ("params.yaml:2:1: a second YAML document ('---'); "
                               "a params file holds a single mapping")
    # a single document may still start with ---
    assert parse("---\na: 1\n", "yaml") == {"a": 1}


@pytest.mark.parametrize("text,fmt,kind", [
    ("- 1\n- 2\n", "yaml", "a list"),
    ("42\n", "yaml", "a single value (int)"),
    ("[1, 2]", "json", "a list"),
    ("null", "json", "null"),
])
def test_the_top_level_must_be_a_mapping(text, fmt, kind):
    with pytest.raises(ExpError) as e:
        parse(text, fmt, "params")
    assert e.value.message == f"params: the top level is {kind}, not a mapping of parameters"


def test_empty_yaml_is_an_empty_mapping():
    assert parse("", "yaml") == {}
    assert parse("# nothing yet\n", "yaml") == {}
    assert parse("", "toml") == {}


def test_a_bom_is_not_content():
    assert parse('\ufeff{"a": 1}', "json") == {"a": 1}
    assert parse("\ufeffa = 1", "toml") == {"a": 1}


def test_load_reads_the_corpus_and_names_missing_files(tmp_path):
    data = load(str(DATA / "tricky.toml"))
    assert data["train"]["opt"] == {"kind": "adam", "betas": {"b1": 0.9, "b2": 0.999}}
    with pytest.raises(ExpError) as e:
        load(str(tmp_path / "params.yaml"))
    assert e.value.message == f"params file {tmp_path / 'params.yaml'} does not exist"
    (tmp_path / "bad.yaml").write_bytes(b"a: 1\nb: \xff\n")
    with pytest.raises(ExpError) as e:
        load(str(tmp_path / "bad.yaml"))
    assert e.value.message == f"{tmp_path / 'bad.yaml'}:2: not UTF-8 text"


def test_flatten_joins_mapping_keys_and_keeps_lists_and_empty_mappings_as_leaves():
    data = {"model": {"units": 32, "conv": {"k": 3}}, "layers": [1, {"a": 2}],
            "empty": {}, "lr": 0.1, True: "yes", 2: "two", None: 0}
    assert flatten(data) == {"model.units": 32, "model.conv.k": 3, "layers": [1, {"a": 2}],
                             "empty": {}, "lr": 0.1, "true": "yes", "2": "two", "null": 0}
    assert list(flatten(data)) == ["model.units", "model.conv.k", "layers", "empty", "lr",
                                   "true", "2", "null"]
    assert flatten({"a": 1}, "p.") == {"p.a": 1}


def test_select_picks_leaves_and_subtrees_in_file_order():
    flat = {"model.units": 32, "model.lr": 0.1, "modelx": 1, "train.epochs": 3, "seed": 1}
    assert select(flat, None) == flat
    assert select(flat, None) is not flat
    assert select(flat, ["seed", "model"]) == {"model.units": 32, "model.lr": 0.1, "seed": 1}
    assert list(select(flat, ["seed", "model"])) == ["model.units", "model.lr", "seed"]
    assert select(flat, ["model.lr", "missing", "train.epochs.x"]) == {"model.lr": 0.1}
    assert select(flat, []) == {}
