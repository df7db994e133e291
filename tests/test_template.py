"""`${...}` templating in exp.yaml: types, text, options, escapes, vars and tracked params."""
from __future__ import annotations

import textwrap

import pytest

from git_exp.errors import ExpError
from git_exp.pipeline.spec import parse_pipeline

PARAMS = """\
lr: 0.001
epochs: 20
verbose: true
debug: false
nothing: null
name: my model
files: [a.csv, b.csv]
train:
  lr: 0.1
  layers: [64, 32]
  opt: {name: adam, amsgrad: false}
models:
  - {name: small, size: 1}
  - {name: large, size: 2}
"""


def parse(text: str, files: dict | None = None):
    files = {"params.yaml": PARAMS, **(files or {})}
    return parse_pipeline(textwrap.dedent(text), "/nonexistent-root", read=files.get)


def stage(text: str, files: dict | None = None, name: str = "t"):
    return parse(text, files).stages[name]


def error_of(text: str, files: dict | None = None) -> ExpError:
    with pytest.raises(ExpError) as info:
        parse(text, files)
    return info.value


def test_a_whole_value_keeps_its_type():
    s = stage("""\
        vars: [{freeze: true}]
        stages:
          t:
            cmd: run
            deps: ${files}
            frozen: ${freeze}
    """)
    assert s.deps == ["a.csv", "b.csv"]
    assert s.frozen is True


def test_a_whole_value_of_the_wrong_type_is_reported_at_the_variable():
    error = error_of("stages:\n  t:\n    cmd: run\n    deps: ${train}\n")
    assert str(error) == "exp.yaml:4:11: 'deps' in stage 't' must be a list of paths, got a mapping"


def test_embedded_values_are_text_in_dvc_spelling():
    s = stage("stages:\n  t:\n    cmd: run ${lr} ${epochs} ${verbose} ${debug} ${nothing} ${name}\n")
    assert s.cmd == ["run 0.001 20 true false null my model"]


def test_a_mapping_in_cmd_becomes_options():
    s = stage("stages:\n  t:\n    cmd: python train.py ${train}\n")
    assert s.cmd == ["python train.py --lr 0.1 --layers 64 32 --opt.name adam"]


def test_a_whole_mapping_cmd_is_options_too():
    s = stage("vars:\n  - args: {name: 'two words', flag: true, n: 3}\n"
              "stages:\n  t:\n    cmd: ['python a.py', '${args}']\n")
    assert s.cmd == ["python a.py", "--name 'two words' --flag --n 3"]


def test_a_list_in_cmd_is_shell_quoted_words():
    s = stage("vars:\n  - words: [a b, c]\nstages:\n  t:\n    cmd: echo ${words} ${files}\n")
    assert s.cmd == ["echo 'a b' c a.csv b.csv"]


def test_a_whole_list_cmd_is_the_list_of_commands():
    s = stage("vars:\n  - steps: [make a, make b]\nstages:\n  t:\n    cmd: ${steps}\n")
    assert s.cmd == ["make a", "make b"]


def test_a_mapping_cannot_be_part_of_a_path():
    error = error_of("stages:\n  t:\n    cmd: run\n    deps:\n      - data/${train}\n")
    assert str(error) == "exp.yaml:5:14: ${train} is a mapping and cannot be part of a string"
    assert "only 'cmd'" in error.hint


def test_backslash_escapes_a_literal():
    s = stage(r"""
        stages:
          t:
            cmd: echo \${HOME} ${epochs} '\${lr}'
    """)
    assert s.cmd == ["echo ${HOME} 20 '${lr}'"]
    assert s.params == {"params.yaml": ["epochs"]}


def test_text_without_a_closing_brace_stays_as_it_is():
    assert stage("stages:\n  t:\n    cmd: echo ${oops and $x\n").cmd == ["echo ${oops and $x"]


def test_selection_by_key_and_index():
    s = stage("stages:\n  t:\n    cmd: run ${train.layers[1]} ${train.layers.0} ${models[1].name} "
              "${ train.opt.name }\n")
    assert s.cmd == ["run 32 64 large adam"]


def test_unknown_variable_points_at_the_dollar_sign():
    error = error_of("stages:\n  t:\n    cmd: python train.py --lr ${train.lrr}\n")
    assert str(error) == ("exp.yaml:3:31: unknown variable 'train.lrr' in "
                          "'python train.py --lr ${train.lrr}': 'train' has no key 'lrr'")
    assert error.hint == "available keys: lr, layers, opt"


def test_unknown_variable_in_a_quoted_value_points_at_the_dollar_sign():
    error = error_of('stages:\n  t:\n    cmd: "run ${epoch}"\n')
    assert str(error) == "exp.yaml:3:15: unknown variable 'epoch' in 'run ${epoch}'"
    assert error.hint.startswith("did you mean 'epochs'? defined variables: debug, epochs, files")


def test_unknown_variable_in_a_block_scalar_points_at_the_value():
    error = error_of("stages:\n  t:\n    cmd: >-\n      python train.py\n      --x ${nope}\n")
    assert str(error).startswith("exp.yaml:3:10: unknown variable 'nope'")


def test_list_index_out_of_range():
    error = error_of("stages:\n  t:\n    cmd: run ${files[2]}\n")
    assert str(error) == ("exp.yaml:3:14: unknown variable 'files[2]' in 'run ${files[2]}': "
                          "'files' is a list of 2 items")


def test_shell_variables_get_the_escape_hint():
    error = error_of("stages:\n  t:\n    cmd: echo ${HOME}\n")
    assert "write \\${...} for a literal ${...}" in error.hint


def test_key_is_not_defined_when_foreach_goes_over_a_list():
    error = error_of("stages:\n  t:\n    foreach: [a]\n    do:\n      cmd: echo ${key}\n")
    assert str(error) == "exp.yaml:5:17: unknown variable 'key' in 'echo ${key}'"
    assert "'key' only when foreach goes over a mapping" in error.hint


def test_bad_variable_syntax():
    error = error_of("stages:\n  t:\n    cmd: echo ${a..b}\n")
    assert str(error) == "exp.yaml:3:15: cannot read the variable name '${a..b}'"


def test_keys_of_path_mappings_are_templated():
    s = stage("""\
        stages:
          t:
            foreach: [small]
            do:
              cmd: run
              outs:
                - models/${item}.pt: {persist: true}
    """, name="t@small")
    assert [(o.path, o.persist) for o in s.outs] == [("models/small.pt", True)]


# ------------------------------------------------------------------ vars

def test_vars_from_files_with_a_selection():
    s = stage("""\
        vars:
          - config.yaml
          - other.json:model,data.seed
          - {extra: 1}
        stages:
          t:
            cmd: run ${batch} ${model.depth} ${data.seed} ${extra}
    """, {"config.yaml": "batch: 64\n",
          "other.json": '{"model": {"depth": 3}, "data": {"seed": 7, "n": 1}, "x": 1}'})
    assert s.cmd == ["run 64 3 7 1"]


def test_vars_as_one_mapping():
    assert stage("vars: {a: 1}\nstages:\n  t:\n    cmd: run ${a}\n").cmd == ["run 1"]


def test_vars_merge_mappings_but_refuse_redefinitions():
    s = stage("vars:\n  - {opt: {name: x}}\n  - {opt: {beta: 2}}\nstages:\n  t:\n"
              "    cmd: run ${opt.name} ${opt.beta}\n", {"params.yaml": ""})
    assert s.cmd == ["run x 2"]
    error = error_of("vars:\n  - {lr: 1}\nstages:\n  t:\n    cmd: run ${lr}\n")
    assert str(error) == "exp.yaml:2:5: variable 'lr' from 'vars' is already defined by 'params.yaml'"


def test_listing_params_yaml_in_vars_again_is_harmless():
    s = stage("vars: [params.yaml, 'params.yaml:lr']\nstages:\n  t:\n    cmd: run ${lr}\n")
    assert s.cmd == ["run 0.001"]


def test_missing_vars_file_and_missing_selected_key():
    error = error_of("vars:\n  - nope.yaml\nstages:\n  t:\n    cmd: run\n")
    assert str(error) == "exp.yaml:2:5: vars file 'nope.yaml' does not exist"
    error = error_of("vars:\n  - c.yaml:zz\nstages:\n  t:\n    cmd: run\n", {"c.yaml": "a: 1\n"})
    assert str(error) == "exp.yaml:2:5: vars file 'c.yaml' has no key 'zz'"
    assert error.hint == "available keys: a"


def test_vars_file_outside_the_repository():
    error = error_of("vars: [../x.yaml]\nstages: {}\n")
    assert str(error) == "exp.yaml:1:8: vars file '../x.yaml' is outside the repository"


def test_stage_vars_extend_inline_global_vars():
    s = stage("vars:\n  - opt: {a: 1}\nstages:\n  t:\n    vars: [{opt: {b: 2}}]\n"
              "    cmd: run ${opt.a} ${opt.b}\n")
    assert s.cmd == ["run 1 2"]


def test_vars_entry_of_the_wrong_type():
    error = error_of("vars:\n  - 5\nstages: {}\n")
    assert str(error) == "exp.yaml:2:5: each entry of 'vars' must be a file name or a mapping, got a number"


def test_stage_vars_are_read_relative_to_wdir():
    a = stage("stages:\n  a:\n    wdir: sub\n    vars: [local.yaml, {extra: x}]\n"
              "    cmd: run ${depth} ${extra}\n", {"sub/local.yaml": "depth: 9\n"}, name="a")
    assert a.cmd == ["run 9 x"]


def test_stage_vars_stay_in_their_stage():
    error = error_of("stages:\n  a:\n    vars: [{extra: x}]\n    cmd: run\n"
                     "  b:\n    cmd: run ${extra}\n")
    assert str(error).startswith("exp.yaml:6:14: unknown variable 'extra'")


def test_vars_from_a_broken_file_name_that_file():
    with pytest.raises(ExpError, match=r"^c\.json:1:7: "):
        parse("vars: [c.json]\nstages: {}\n", {"c.json": '{"a": }'})


# ------------------------------------------------------------------ tracked params

def test_params_read_by_templating_are_tracked():
    s = stage("""\
        stages:
          t:
            cmd: python train.py --lr ${train.lr} ${train.opt} -e ${epochs} ${models[0].name}
            params: [lr, train.lr]
    """)
    assert s.params == {"params.yaml": ["lr", "train.lr", "train.opt", "epochs", "models"]}


def test_whole_file_params_absorb_tracked_keys():
    s = stage("stages:\n  t:\n    cmd: run ${epochs}\n    params: [{params.yaml: }]\n")
    assert s.params == {"params.yaml": None}


def test_vars_values_are_not_tracked_as_params():
    s = stage("vars: [{seed: 1}, c.yaml]\nstages:\n  t:\n    cmd: run ${seed} ${batch}\n",
              {"c.yaml": "batch: 2\n"})
    assert s.params == {}


def test_a_mapping_merged_from_two_sources_tracks_only_params_yaml_keys():
    s = stage("vars:\n  - {train: {extra: 1}}\nstages:\n  t:\n    cmd: run ${train}\n")
    assert s.params == {"params.yaml": ["train.lr", "train.layers", "train.opt"]}


def test_foreach_items_are_not_tracked_but_the_body_is():
    pipeline = parse("""\
        stages:
          t:
            foreach: ${models}
            do:
              cmd: run ${item.name} ${epochs}
    """)
    assert pipeline.stages["t@0"].params == {"params.yaml": ["epochs"]}
    assert pipeline.stages["t@1"].cmd == ["run large 20"]
