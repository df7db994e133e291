"""exp.yaml parsing: the records it gives, and errors that say exactly where."""
from __future__ import annotations

import textwrap

import pytest
import yaml

from git_exp.errors import ExpError
from git_exp.pipeline import yamlsrc
from git_exp.pipeline.spec import load_pipeline, parse_pipeline
from git_exp.pipeline.records import Output


def parse(text: str, files: dict | None = None, relpath: str = "exp.yaml"):
    """Parse TEXT with FILES as the only other files: no work tree at all."""
    files = dict(files or {})
    return parse_pipeline(textwrap.dedent(text), "/nonexistent-root", relpath, read=files.get)


def error_of(text: str, files: dict | None = None) -> ExpError:
    with pytest.raises(ExpError) as info:
        parse(text, files)
    return info.value


@pytest.fixture(params=["libyaml", "pure"])
def both_loaders(request, monkeypatch):
    """Run a test with libyaml's composer and with PyYAML's pure-Python one."""
    if request.param == "pure":
        monkeypatch.setattr(yamlsrc, "_Loader", yaml.SafeLoader)
    elif not hasattr(yaml, "CSafeLoader"):
        pytest.skip("PyYAML was built without libyaml")
    return request.param


FULL = """\
    params: [extra.json]
    metrics: [summary.json]
    plots:
      - logs.csv
      - plots/roc.json: {x: fpr, y: tpr}
    stages:
      prepare:
        cmd: python src/prepare.py
        deps: [src/prepare.py, ./data//raw/]
        params: [data.seed, {other.yaml: [a, b.c]}, {third.toml: }]
        outs: [data/prepared/]
      train:
        cmd:
          - python src/train.py
          - python src/evaluate.py
        wdir: sub
        deps: [../data/prepared]
        params: [lr]
        outs:
          - models/: {cache: true, persist: true}
        metrics:
          - metrics.json: {cache: false}
        plots:
          - logs.csv: {x: epoch, y: [loss, acc], title: Loss, template: line, x_label: e, y_label: v}
        frozen: true
        always_changed: true
        desc: trains the model
"""


def test_full_stage_records(both_loaders):
    pipeline = parse(FULL)
    assert list(pipeline.stages) == ["prepare", "train"]
    prepare, train = pipeline.stages.values()
    assert prepare.cmd == ["python src/prepare.py"]
    assert prepare.wdir == "."
    assert prepare.deps == ["src/prepare.py", "data/raw"]
    assert prepare.params == {"params.yaml": ["data.seed"], "other.yaml": ["a", "b.c"],
                              "third.toml": None}
    assert prepare.outs == [Output("data/prepared", "out", cache=True, persist=False,
                                   is_dir_hint=True, plot={})]
    assert prepare.location == ("exp.yaml", 7, 3)
    assert (prepare.frozen, prepare.always_changed, prepare.desc) == (False, False, None)

    assert train.cmd == ["python src/train.py", "python src/evaluate.py"]
    assert train.wdir == "sub"
    assert train.deps == ["data/prepared"]
    assert train.params == {"sub/params.yaml": ["lr"]}
    assert [(o.path, o.kind, o.cache, o.persist, o.is_dir_hint) for o in train.outs] == [
        ("sub/models", "out", True, True, True),
        ("sub/metrics.json", "metric", False, False, False),
        ("sub/logs.csv", "plot", False, False, False)]
    assert train.outs[2].plot == {"x": "epoch", "y": ["loss", "acc"], "title": "Loss",
                                  "template": "line", "x_label": "e", "y_label": "v"}
    assert train.outs[0].plot == {}
    assert (train.frozen, train.always_changed, train.desc) == (True, True, "trains the model")
    assert train.outs[1].location == ("exp.yaml", 22, 9)


def test_pipeline_collects_params_metrics_and_plots():
    pipeline = parse(FULL)
    assert pipeline.path == "exp.yaml"
    assert pipeline.params_files == ["extra.json", "params.yaml", "other.yaml", "third.toml",
                                     "sub/params.yaml"]
    assert [(m.path, m.cache) for m in pipeline.metrics] == [("summary.json", False),
                                                           ("sub/metrics.json", False)]
    assert [(p.path, p.plot) for p in pipeline.plots] == [
        ("logs.csv", {}), ("plots/roc.json", {"x": "fpr", "y": "tpr"}),
        ("sub/logs.csv", {"x": "epoch", "y": ["loss", "acc"], "title": "Loss",
                          "template": "line", "x_label": "e", "y_label": "v"})]


def test_a_metric_declared_twice_is_listed_once():
    pipeline = parse("""\
        metrics: [metrics.json]
        stages:
          train: {cmd: run, metrics: [metrics.json]}
    """)
    assert [m.path for m in pipeline.metrics] == ["metrics.json"]


def test_pipeline_in_a_subfolder_resolves_paths_from_there():
    pipeline = parse("""\
        stages:
          train:
            cmd: python train.py ${lr}
            deps: [train.py]
            outs: [model.pt]
    """, {"exp/params.yaml": "lr: 0.5\n"}, relpath="exp/exp.yaml")
    stage = pipeline.stages["train"]
    assert (stage.wdir, stage.deps, stage.outs[0].path) == ("exp", ["exp/train.py"], "exp/model.pt")
    assert stage.cmd == ["python train.py 0.5"]
    assert stage.params == {"exp/params.yaml": ["lr"]}
    assert pipeline.path == "exp/exp.yaml"


def test_null_lists_are_empty():
    stage = parse("stages:\n  a:\n    cmd: run\n    deps:\n    outs:\n").stages["a"]
    assert (stage.deps, stage.outs) == ([], [])


def test_yaml_anchors_and_merge_keys_work():
    pipeline = parse("""\
        stages:
          base: &common
            cmd: run
            deps: [shared]
          other:
            <<: *common
            deps: [mine]
    """)
    assert pipeline.stages["other"].cmd == ["run"]
    assert pipeline.stages["other"].deps == ["mine"]


# ------------------------------------------------------------------ foreach / matrix

def test_foreach_over_a_list_of_values_names_stages_by_value():
    pipeline = parse("""\
        stages:
          train:
            foreach: [small, 2, 0.5, true]
            do:
              cmd: python train.py ${item}
              outs: ["models/${item}.pt"]
          after: {cmd: done}
    """)
    assert list(pipeline.stages) == ["train@small", "train@2", "train@0.5", "train@true", "after"]
    assert pipeline.stages["train@0.5"].cmd == ["python train.py 0.5"]
    assert pipeline.stages["train@true"].outs[0].path == "models/true.pt"
    assert pipeline.stages["train@small"].location == ("exp.yaml", 2, 3)


def test_foreach_over_a_list_of_mappings_names_stages_by_index():
    pipeline = parse("""\
        stages:
          train:
            foreach:
              - {name: a, lr: 0.1}
              - {name: b, lr: 0.2}
            do:
              cmd: python train.py --lr ${item.lr} --out ${item.name}
    """)
    assert list(pipeline.stages) == ["train@0", "train@1"]
    assert pipeline.stages["train@1"].cmd == ["python train.py --lr 0.2 --out b"]


def test_foreach_over_a_mapping_gives_key_and_item():
    pipeline = parse("""\
        stages:
          train:
            foreach:
              us: {lr: 0.1}
              eu: {lr: 0.3}
            do:
              cmd: python train.py ${key} ${item.lr}
              metrics:
                - metrics/${key}.json
    """)
    assert list(pipeline.stages) == ["train@us", "train@eu"]
    assert pipeline.stages["train@eu"].cmd == ["python train.py eu 0.3"]
    assert pipeline.stages["train@eu"].outs[0].path == "metrics/eu.json"


def test_foreach_over_an_interpolated_variable():
    pipeline = parse("""\
        stages:
          train:
            foreach: ${models}
            do:
              cmd: python train.py --model ${item}
    """, {"params.yaml": "models: [cnn, rnn]\n"})
    assert list(pipeline.stages) == ["train@cnn", "train@rnn"]
    assert pipeline.stages["train@rnn"].cmd == ["python train.py --model rnn"]


def test_matrix_expands_every_combination_in_order():
    pipeline = parse("""\
        stages:
          sweep:
            matrix:
              lr: [0.1, 0.01]
              model: [a, b]
            cmd: python train.py --lr ${item.lr} --model ${item.model} --name ${key}
            outs:
              - out/${item.model}-${item.lr}
    """)
    assert list(pipeline.stages) == ["sweep@0.1-a", "sweep@0.1-b", "sweep@0.01-a", "sweep@0.01-b"]
    stage = pipeline.stages["sweep@0.01-b"]
    assert stage.cmd == ["python train.py --lr 0.01 --model b --name 0.01-b"]
    assert stage.outs[0].path == "out/b-0.01"


def test_matrix_names_list_values_by_axis_and_index():
    pipeline = parse("""\
        vars:
          - layers: [[1, 2], [3]]
        stages:
          sweep:
            matrix: {layers: "${layers}", seed: [1]}
            cmd: python train.py --layers ${item.layers[0]}
    """)
    assert list(pipeline.stages) == ["sweep@layers0-1", "sweep@layers1-1"]
    assert pipeline.stages["sweep@layers1-1"].cmd == ["python train.py --layers 3"]


def test_an_empty_foreach_makes_no_stages():
    assert list(parse("stages:\n  t:\n    foreach: []\n    do: {cmd: run}\n").stages) == []


# ------------------------------------------------------------------ errors

ERRORS = [
    ("", "exp.yaml:1:1: the pipeline file is empty"),
    ("# only a comment\n", "exp.yaml:1:1: the pipeline file is empty"),
    ("- a\n- b\n", "exp.yaml:1:1: exp.yaml must be a mapping with keys such as 'stages', got a list"),
    ("stage:\n  a: {cmd: x}\n", "exp.yaml:1:1: unknown top-level key 'stage' (did you mean 'stages'?)"),
    ("stages: [a]\n", "exp.yaml:1:9: 'stages' must be a mapping of stage names to stages, got a list"),
    ("stages:\n  train:\n    cmd: python t.py\n    dep: [a]\n",
     "exp.yaml:4:5: unknown key 'dep' in stage 'train' (did you mean 'deps'?)"),
    ("stages:\n  train:\n    cmd: python t.py\n    deps: {a: 1}\n",
     "exp.yaml:4:11: 'deps' in stage 'train' must be a list of paths, got a mapping"),
    ("stages:\n  train:\n    cmd: python t.py\n    outs: models\n",
     "exp.yaml:4:11: 'outs' in stage 'train' must be a list of paths, got a string"),
    ("stages:\n  train:\n    cmd: a\n  test:\n    cmd: b\n  train:\n    cmd: c\n",
     "exp.yaml:6:3: duplicate key 'train' (first defined at line 2, column 3)"),
    ("stages:\n  train:\n    cmd: a\n    deps: [x]\n    cmd: b\n",
     "exp.yaml:5:5: duplicate key 'cmd' (first defined at line 3, column 5)"),
    ("stages:\n  train:\n    deps: [a]\n", "exp.yaml:2:3: stage 'train' has no 'cmd'"),
    ("stages:\n  train:\n    cmd:\n", "exp.yaml:3:9: 'cmd' in stage 'train' is empty"),
    ("stages:\n  train:\n    cmd: []\n", "exp.yaml:3:10: 'cmd' in stage 'train' is an empty list"),
    ("stages:\n  train:\n    cmd: [a, 5]\n",
     "exp.yaml:3:14: 'cmd' in stage 'train' must be a command or a list of commands, got a number"),
    ("stages:\n  train: python t.py\n", "exp.yaml:2:10: stage 'train' must be a mapping, got a string"),
    ("stages:\n  'tr ain':\n    cmd: a\n", "exp.yaml:2:3: invalid stage name 'tr ain'"),
    ("stages:\n  tr@in:\n    cmd: a\n",
     "exp.yaml:2:3: invalid stage name 'tr@in': '@' is reserved for stages made by foreach and matrix"),
    ("stages:\n  on:\n    cmd: a\n", "exp.yaml:2:3: stage name True is a boolean, not text"),
    ("stages:\n  t:\n    cmd: a\n    outs:\n      - m: {cach: false}\n",
     "exp.yaml:5:13: unknown option 'cach' for 'm' in stage 't' (did you mean 'cache'?)"),
    ("stages:\n  t:\n    cmd: a\n    outs:\n      - m: {cache: 'no'}\n",
     "exp.yaml:5:20: option 'cache' of 'm' in stage 't' must be true or false, got a string"),
    ("stages:\n  t:\n    cmd: a\n    outs:\n      - m: {x: epoch}\n",
     "exp.yaml:5:13: unknown option 'x' for 'm' in stage 't'"),
    ("stages:\n  t:\n    cmd: a\n    outs:\n      - {a: , b: }\n",
     "exp.yaml:5:9: each entry of 'outs' in stage 't' is a path or 'path: {options}', "
     "got a mapping with 2 keys"),
    ("stages:\n  t:\n    cmd: a\n    frozen: maybe\n",
     "exp.yaml:4:13: 'frozen' in stage 't' must be true or false, got a string"),
    ("stages:\n  t:\n    cmd: a\n    desc: [x]\n", "exp.yaml:4:11: 'desc' in stage 't' must be text, got a list"),
    ("stages:\n  t:\n    cmd: a\n    params: [{p.yaml: a}]\n",
     "exp.yaml:4:23: keys of 'p.yaml' in stage 't' must be a list, got a string"),
    ("stages:\n  t:\n    cmd: a\n    params: [3]\n",
     "exp.yaml:4:14: each entry of 'params' in stage 't' must be a key of params.yaml or "
     "'file: [keys]', got a number"),
    ("stages:\n  t:\n    cmd: a\n    outs: [.]\n", "exp.yaml:4:12: out '.' of stage 't' is the whole repository"),
    ("stages:\n  t:\n    foreach: [a, b]\n", "exp.yaml:3:5: stage 't' has 'foreach' but no 'do'"),
    ("stages:\n  t:\n    foreach: [a]\n    cmd: x\n    do: {cmd: x}\n",
     "exp.yaml:4:5: unknown key 'cmd' next to 'foreach' in stage 't'"),
    ("stages:\n  t:\n    do: {cmd: x}\n", "exp.yaml:3:5: stage 't' has 'do' but no 'foreach'"),
    ("stages:\n  t:\n    foreach: [a]\n    do: run\n",
     "exp.yaml:4:9: 'do' in stage 't' must be a mapping of stage keys, got a string"),
    ("stages:\n  t:\n    foreach: [a]\n    do:\n      cmd: x\n      foreach: [b]\n",
     "exp.yaml:6:7: unknown key 'foreach' in stage 't@a' ('foreach'/'matrix' go at the stage's "
     "top level, not under 'do')"),
    ("stages:\n  t:\n    foreach: [a, b, a]\n    do: {cmd: x}\n",
     "exp.yaml:3:21: 'foreach' in stage 't' lists 'a' twice, which would make two stages 't@a'"),
    ("vars: [{m: abc}]\nstages:\n  t:\n    foreach: ${m}\n    do: {cmd: x}\n",
     "exp.yaml:4:14: 'foreach' in stage 't' must be a list or a mapping, got a string"),
    ("stages:\n  s:\n    matrix: {lr: 0.1}\n    cmd: a\n",
     "exp.yaml:3:18: 'lr' in the matrix of stage 's' must be a list of values, got a number"),
    ("stages:\n  s:\n    matrix: [1, 2]\n    cmd: a\n",
     "exp.yaml:3:13: 'matrix' in stage 's' must be a mapping of names to lists of values, got a list"),
    ("stages:\n  t:\n    foreach: [a]\n    do: {cmd: x}\n  t@a:\n    cmd: y\n",
     "exp.yaml:5:3: invalid stage name 't@a': '@' is reserved for stages made by foreach and matrix"),
    ("stages:\n  t:\n    foreach: {1: a, '1': b}\n    do: {cmd: x}\n",
     "exp.yaml:2:3: stage 't@1' is defined twice (first at line 2, column 3)"),
    ("stages:\n  t:\n    cmd: a\n    deps: [../x]\n",
     "exp.yaml:4:12: dep '../x' of stage 't' is outside the repository"),
    ("stages:\n  t:\n    cmd: a\n    wdir: ../up\n",
     "exp.yaml:4:11: wdir '../up' of stage 't' is outside the repository"),
    ("params: [/etc/passwd]\n", "exp.yaml:1:10: params file '/etc/passwd' is an absolute path"),
    ("metrics: {a: 1}\n",
     "exp.yaml:1:10: 'metrics' in the top level must be a list of paths, got a mapping"),
]


@pytest.mark.parametrize("text,message", ERRORS, ids=[m.split(": ", 1)[1][:40] for _, m in ERRORS])
def test_schema_errors_name_file_line_and_column(text, message, both_loaders):
    assert str(error_of(text)) == message


SYNTAX_ERRORS = [
    ("stages:\n  train:\n    cmd: a\n   deps: [b]\n", "exp.yaml:4:4: ",
     "(while parsing a block mapping)"),
    ("stages:\n  train:\n    cmd: a\n    deps: [b\n", "exp.yaml:5:1: ",
     "(while parsing a flow sequence)"),
    ("stages:\n\ttrain: {}\n", "exp.yaml:2:1: ", "found character"),
]


@pytest.mark.parametrize("text,where,words", SYNTAX_ERRORS)
def test_yaml_syntax_errors_name_the_position(text, where, words, both_loaders):
    # libyaml and PyYAML word their problems differently; the position is the same.
    message = str(error_of(text))
    assert message.startswith(where)
    assert words in message


def test_braces_in_flow_lists_get_a_quoting_hint():
    error = error_of("stages:\n  t:\n    cmd: a\n    outs: [models/${item}.pt]\n")
    assert str(error).startswith("exp.yaml:4:")
    assert error.hint == "inside [...] or {...}, quote a value that contains ${...}: '${x}'"


def test_tabs_get_their_own_hint():
    assert error_of("stages:\n\ttrain: {}\n").hint == "YAML indents with spaces, never tabs"


def test_unknown_keys_come_with_the_allowed_ones():
    error = error_of("stages:\n  t:\n    cmd: a\n    outz: [m]\n")
    assert str(error) == "exp.yaml:4:5: unknown key 'outz' in stage 't' (did you mean 'outs'?)"
    assert error.hint == ("allowed keys: cmd, wdir, deps, params, outs, metrics, plots, frozen, "
                          "always_changed, desc, vars, meta")
    assert error_of("stagez: {}\n").hint == "allowed keys: stages, vars, params, metrics, plots"


def test_duplicate_key_hint_says_yaml_would_drop_one():
    error = error_of("stages:\n  a: {cmd: x}\n  a: {cmd: y}\n")
    assert "only the last" in error.hint


def test_errors_in_a_params_file_name_that_file():
    with pytest.raises(ExpError, match=r"^params\.yaml:2:\d+: "):
        parse("stages:\n  t:\n    cmd: run ${a}\n", {"params.yaml": "a: 1\n  b: [\n"})


def test_params_yaml_is_not_read_without_templating():
    # A broken params.yaml must not stop `exp show` from reading a pipeline that never uses it.
    pipeline = parse("stages:\n  t:\n    cmd: run\n", {"params.yaml": "a: [\n"})
    assert list(pipeline.stages) == ["t"]


# ------------------------------------------------------------------ loading

def test_load_pipeline_reads_the_work_tree(tmp_path):
    (tmp_path / "exp.yaml").write_text("vars: [config.yaml]\nstages:\n  t:\n    cmd: run ${n} ${m}\n")
    (tmp_path / "params.yaml").write_text("n: 3\n")
    (tmp_path / "config.yaml").write_text("m: four\n")
    stage = load_pipeline(str(tmp_path)).stages["t"]
    assert stage.cmd == ["run 3 four"]
    assert stage.params == {"params.yaml": ["n"]}


def test_load_pipeline_without_the_file_says_how_to_create_it(tmp_path):
    with pytest.raises(ExpError) as info:
        load_pipeline(str(tmp_path))
    assert str(info.value) == f"no exp.yaml in {tmp_path}"
    assert info.value.hint == "run 'git exp init' to create one"


def test_parse_from_a_read_callable_ignores_the_work_tree(tmp_path):
    # The work tree holds other files; a commit's files come only through `read`.
    (tmp_path / "exp.yaml").write_text("stages:\n  wrong: {cmd: no}\n")
    (tmp_path / "params.yaml").write_text("lr: 999\n")
    commit = {"exp.yaml": "stages:\n  train:\n    cmd: python train.py --lr ${lr}\n",
              "params.yaml": "lr: 0.01\n"}
    asked = []

    def read(path):
        asked.append(path)
        return commit.get(path)

    pipeline = load_pipeline(str(tmp_path), read=read)
    assert list(pipeline.stages) == ["train"]
    assert pipeline.stages["train"].cmd == ["python train.py --lr 0.01"]
    assert asked == ["exp.yaml", "params.yaml"]


def test_read_callable_missing_exp_yaml_is_the_same_error(tmp_path):
    with pytest.raises(ExpError, match="^no exp.yaml in "):
        load_pipeline(str(tmp_path), read=lambda path: None)


def test_a_folder_named_like_the_pipeline_is_an_error(tmp_path):
    (tmp_path / "exp.yaml").mkdir()
    with pytest.raises(ExpError, match="'exp.yaml' is a folder, not a file"):
        load_pipeline(str(tmp_path))
