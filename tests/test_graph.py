"""The stage graph: edges from outs to deps, stable order, targets, cycles and overlaps."""
from __future__ import annotations

import textwrap

import pytest

from git_exp.errors import ExpError
from git_exp.pipeline.graph import build_graph, stage_order
from git_exp.pipeline.spec import parse_pipeline


def pipeline_of(text: str):
    return parse_pipeline(textwrap.dedent(text), "/nonexistent-root", read=lambda path: None)


def names(stages) -> list[str]:
    return [s.name for s in stages]


# Written bottom-up on purpose: file order must not beat data flow.
DIAMOND = """\
    stages:
      report:
        cmd: make report
        deps: [features/a.csv, models/b]
        outs: [report.html]
      train_b:
        cmd: make b
        deps: [data/clean]
        outs: [models/b]
      features_a:
        cmd: make a
        deps: [data/clean/part1]
        outs: [features/a.csv]
      clean:
        cmd: make clean
        deps: [data/raw]
        outs: [data/clean]
      unrelated:
        cmd: make other
"""


def test_build_graph_links_deps_to_the_outs_they_touch():
    assert build_graph(pipeline_of(DIAMOND)) == {
        "report": {"features_a", "train_b"},
        "train_b": {"clean"},
        "features_a": {"clean"},    # dep inside an out
        "clean": set(),
        "unrelated": set(),
    }


def test_a_dep_containing_an_out_depends_on_its_stage():
    graph = build_graph(pipeline_of("""\
        stages:
          gen: {cmd: a, outs: [data/gen/x.csv]}
          use: {cmd: b, deps: [data]}
    """))
    assert graph["use"] == {"gen"}


def test_sibling_paths_with_a_common_prefix_are_not_related():
    graph = build_graph(pipeline_of("""\
        stages:
          gen: {cmd: a, outs: [data]}
          use: {cmd: b, deps: [data2, data.csv, dat]}
    """))
    assert graph["use"] == set()


def test_diamond_runs_in_data_order_and_file_order_among_equals():
    pipeline = pipeline_of(DIAMOND)
    assert names(stage_order(pipeline)) == ["clean", "train_b", "features_a", "report", "unrelated"]


def test_order_is_file_order_without_dependencies():
    pipeline = pipeline_of("stages:\n  z: {cmd: a}\n  a: {cmd: b}\n  m: {cmd: c}\n")
    assert names(stage_order(pipeline)) == ["z", "a", "m"]


def test_targets_bring_their_upstream_only():
    pipeline = pipeline_of(DIAMOND)
    assert names(stage_order(pipeline, ["features_a"])) == ["clean", "features_a"]
    assert names(stage_order(pipeline, ["report"])) == ["clean", "train_b", "features_a", "report"]
    assert names(stage_order(pipeline, ["unrelated", "train_b"])) == ["clean", "train_b", "unrelated"]


def test_downstream_brings_what_depends_on_the_targets():
    pipeline = pipeline_of(DIAMOND)
    assert names(stage_order(pipeline, ["train_b"], downstream=True)) == ["train_b", "report"]
    assert names(stage_order(pipeline, ["clean"], downstream=True)) == [
        "clean", "train_b", "features_a", "report"]


def test_a_group_name_targets_all_its_foreach_stages():
    pipeline = pipeline_of("""\
        stages:
          prep: {cmd: p, outs: [data]}
          train:
            foreach: [a, b]
            do: {cmd: t, deps: [data]}
          other: {cmd: o}
    """)
    assert names(stage_order(pipeline, ["train"])) == ["prep", "train@a", "train@b"]
    assert names(stage_order(pipeline, ["train@b"])) == ["prep", "train@b"]


def test_unknown_target_suggests_a_name():
    with pytest.raises(ExpError) as info:
        stage_order(pipeline_of(DIAMOND), ["trian_b"])
    assert str(info.value) == "unknown stage 'trian_b'"
    assert info.value.hint == ("did you mean 'train_b'? stages in exp.yaml: report, train_b, "
                               "features_a, clean, unrelated")


def test_a_cycle_is_named_in_data_order():
    pipeline = pipeline_of("""\
        stages:
          a: {cmd: a, deps: [c.txt], outs: [a.txt]}
          b: {cmd: b, deps: [a.txt], outs: [b.txt]}
          c: {cmd: c, deps: [b.txt], outs: [c.txt]}
          d: {cmd: d, deps: [a.txt], outs: [d.txt]}
          free: {cmd: e}
    """)
    with pytest.raises(ExpError) as info:
        stage_order(pipeline)
    assert str(info.value) == "exp.yaml:2:3: stages form a cycle: a -> b -> c -> a"


def test_a_two_stage_cycle():
    pipeline = pipeline_of("""\
        stages:
          x: {cmd: a, deps: [y], outs: [x]}
          y: {cmd: b, deps: [x/part], outs: [y]}
    """)
    with pytest.raises(ExpError, match=r"^exp\.yaml:\d+:3: stages form a cycle: (x -> y -> x|y -> x -> y)$"):
        stage_order(pipeline)


def test_a_stage_reading_its_own_output():
    pipeline = pipeline_of("stages:\n  s:\n    cmd: a\n    deps: [model]\n    outs: [model/w.pt]\n")
    with pytest.raises(ExpError) as info:
        build_graph(pipeline)
    assert str(info.value) == ("exp.yaml:5:12: stage 's' depends on its own output: "
                               "dep 'model' overlaps out 'model/w.pt'")


def test_two_stages_writing_one_path():
    pipeline = pipeline_of("""\
        stages:
          a: {cmd: a, outs: [models]}
          b:
            cmd: b
            outs: [./models/]
    """)
    with pytest.raises(ExpError) as info:
        stage_order(pipeline)
    assert str(info.value) == "exp.yaml:5:12: stages 'a' and 'b' both write 'models'"
    assert "written by one stage only" in info.value.hint


def test_an_output_inside_another_stages_output():
    pipeline = pipeline_of("""\
        stages:
          a: {cmd: a, outs: [models]}
          b: {cmd: b, metrics: [models/metrics.json]}
    """)
    with pytest.raises(ExpError) as info:
        build_graph(pipeline)
    assert str(info.value) == ("exp.yaml:3:25: outputs of stages 'a' and 'b' overlap: "
                               "'models/metrics.json' (b) is inside 'models' (a)")


def test_one_stage_listing_a_path_twice():
    pipeline = pipeline_of("stages:\n  a:\n    cmd: a\n    outs: [m.json]\n    metrics: [m.json]\n")
    with pytest.raises(ExpError, match=r"^exp\.yaml:\d+:\d+: stage 'a' lists 'm.json' twice as an output$"):
        build_graph(pipeline)


def test_a_long_chain_written_backwards():
    # 2,000 stages written last-first: data order wins over file order all the way down.
    lines = ["stages:"]
    for i in range(2000):
        lines.append(f"  s{i}: {{cmd: c, deps: [f{i - 1}], outs: [f{i}]}}")
    pipeline = pipeline_of("\n".join(reversed(lines[1:])).join(["stages:\n", "\n"]))
    order = names(stage_order(pipeline))
    assert order[:3] == ["s0", "s1", "s2"] and order[-1] == "s1999"
