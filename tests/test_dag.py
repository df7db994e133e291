"""`git exp dag`: the stage graph as text, Graphviz dot, Mermaid and JSON."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from git_exp.pipeline import dagtext
from git_exp.pipeline.spec import parse_pipeline

PIPELINE = """\
stages:
  prepare:
    cmd: python3 prepare.py
    deps: [raw.csv]
    outs: [data/prepared]
  featurize:
    cmd: python3 featurize.py
    deps: [data/prepared/train.csv]
    outs: [features.pkl]
  split:
    cmd: python3 split.py
    deps: [data]
    outs: [split.pkl]
  train:
    cmd: python3 train.py
    deps: [features.pkl, split.pkl]
    outs: [model.pkl]
  evaluate:
    cmd: python3 evaluate.py
    deps: [model.pkl, split.pkl]
    metrics: [scores.json]
  report:
    cmd: echo done > report.txt
    outs: [report.txt]
    frozen: true
"""

DRAWING = """\
* prepare
|-.
* | featurize  <- data/prepared/train.csv
| |
| * split  <- data/prepared
| |-.
|-' |
*   | train  <- features.pkl, split.pkl
|---'
* evaluate  <- model.pkl, split.pkl
* report (frozen)
"""


@pytest.fixture
def dag_project(committed):
    committed.gen({"exp.yaml": PIPELINE})
    committed.commit("pipeline")
    return committed


def test_the_text_drawing_shows_every_stage_and_edge(dag_project):
    proc = dag_project.exp("dag")
    assert proc.stdout == DRAWING
    assert proc.stderr == ""


def test_a_stage_and_its_upstream_or_downstream(dag_project):
    proc = dag_project.exp("dag", "train")
    assert proc.stdout.splitlines()[0] == "* prepare"
    assert "evaluate" not in proc.stdout and "report" not in proc.stdout
    assert "train  <- features.pkl, split.pkl" in proc.stdout
    proc = dag_project.exp("dag", "--downstream", "split")
    assert proc.stdout == ("* split\n|-.\n* | train  <- split.pkl\n|-'\n"
                           "* evaluate  <- model.pkl, split.pkl\n")
    proc = dag_project.exp("dag", "trian", check=False)
    assert proc.returncode == 1 and "unknown stage 'trian'" in proc.stderr
    assert "did you mean 'train'" in proc.stderr


def test_json_has_nodes_and_edges_with_their_paths(dag_project):
    data = json.loads(dag_project.exp("dag", "--json").stdout)
    assert [n["name"] for n in data["nodes"]] == ["prepare", "featurize", "split", "train",
                                                 "evaluate", "report"]
    assert data["nodes"][0] == {"name": "prepare", "cmd": ["python3 prepare.py"],
                                "deps": ["raw.csv"], "outs": ["data/prepared"], "frozen": False}
    edges = {(e["from"], e["to"]): e["paths"] for e in data["edges"]}
    assert edges == {("prepare", "featurize"): ["data/prepared/train.csv"],
                     ("prepare", "split"): ["data/prepared"],
                     ("featurize", "train"): ["features.pkl"],
                     ("split", "train"): ["split.pkl"],
                     ("train", "evaluate"): ["model.pkl"],
                     ("split", "evaluate"): ["split.pkl"]}


def test_dot_and_mermaid(dag_project):
    dot = dag_project.exp("dag", "--dot").stdout
    assert dot.startswith("strict digraph {\n") and dot.endswith("}\n")
    assert '\t"prepare" -> "split" [label="data/prepared"];' in dot
    assert '\t"report";' in dot
    mermaid = dag_project.exp("dag", "--mermaid").stdout
    assert mermaid.startswith("flowchart TD\n")
    assert '\tstage0["prepare"]' in mermaid
    assert '\tstage3 -->|"model.pkl"| stage4' in mermaid
    proc = dag_project.exp("dag", "--dot", "--json", check=False)
    assert proc.returncode == 129 and "not allowed with argument" in proc.stderr


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_graphviz_reads_the_dot_output(dag_project):
    dot = dag_project.exp("dag", "--dot").stdout
    proc = subprocess.run(["dot", "-Tplain"], input=dot, text=True, capture_output=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("\nedge ") == 6


def test_names_that_need_quoting_stay_inside_their_labels(committed):
    committed.gen({"exp.yaml": 'stages:\n  a:\n    cmd: x\n    outs: [\'we"ird|<p>.txt\']\n'
                               '  b:\n    cmd: y\n    deps: [\'we"ird|<p>.txt\']\n'})
    committed.commit("odd")
    dot = committed.exp("dag", "--dot").stdout
    assert '[label="we\\"ird|<p>.txt"]' in dot
    mermaid = committed.exp("dag", "--mermaid").stdout
    assert '-->|"we#quot;ird#124;#lt;p#gt;.txt"|' in mermaid


def test_wide_pipelines_fit_80_columns(tmp_path):
    # Twelve independent producers feeding one consumer: 12 lanes at once.
    stages = "".join(f"  s{i}:\n    cmd: x\n    outs: [out{i}/a-rather-long-name-of-a-file.csv]\n"
                     for i in range(12))
    deps = ", ".join(f"out{i}/a-rather-long-name-of-a-file.csv" for i in range(12))
    pipeline = parse_pipeline("stages:\n" + stages + f"  join:\n    cmd: y\n    deps: [{deps}]\n",
                              str(tmp_path))
    text = dagtext.ascii_art(dagtext.build(pipeline), width=80)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert lines[-1].startswith("* join  <- out0/a-rather")
    assert lines[-1].endswith("...")
    assert sum(1 for line in lines if "*" in line) == 13


def test_an_empty_pipeline(committed):
    committed.gen({"exp.yaml": "stages: {}\n"})
    assert committed.exp("dag").stdout == "(no stages)\n"
    assert json.loads(committed.exp("dag", "--json").stdout) == {"nodes": [], "edges": []}
