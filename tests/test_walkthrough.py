"""The user's day from the reference walkthrough, end to end through `git exp`.

A Git repo with src/train.py that reads params.yaml and writes metrics.json,
logs.csv and models/; `init -i` with the walkthrough's answers; `run`;
`run --set-param`; `show`; `branch`; then a plain `git merge` of that branch.
Every effect is checked with the real git.
"""
from __future__ import annotations

import json

TRAIN = """\
import json, os, re
text = open("params.yaml").read()
units = int(re.search(r"conv_units: *([0-9]+)", text).group(1))
epochs = int(re.search(r"epochs: *([0-9]+)", text).group(1))
os.makedirs("models", exist_ok=True)
open("models/model.bin", "w").write(f"units={units}\\n")
with open("logs.csv", "w") as fh:
    fh.write("epoch,loss\\n")
    for e in range(epochs):
        fh.write(f"{e},{1.0 / (e + 1) / units:.5f}\\n")
json.dump({"acc": round(1 - 1 / units, 4)}, open("metrics.json", "w"))
print("trained", units)
"""

PARAMS = """\
model:
  conv_units: 16   # filters in the conv layer
train:
  epochs: 3
"""


def test_the_walkthrough(committed):
    p = committed
    p.gen({"src": {"train.py": TRAIN}, "data": {"raw.csv": "x,y\n1,2\n"}, "params.yaml": PARAMS})
    p.commit("project")
    # 2. init -i: command, code [src], data [data], models [models], params, metrics, plots
    p.exp("init", "-i", input="python3 src/train.py\n\n\n\n\n\nlogs.csv\ny\n")
    spec = p.read("exp.yaml")
    assert "cmd: python3 src/train.py" in spec and "- model" in spec and "- train" in spec
    p.commit("pipeline")
    base = p.head()

    # 3. run: streams the output, records the experiment, results in the work tree
    first = p.exp("run")
    assert "trained 16" in first.stdout
    assert "recorded" in first.stdout and "success" in first.stdout
    assert (p.path / "models" / "model.bin").read_text() == "units=16\n"
    assert "/models" in p.read(".gitignore")

    # 4. --set-param changes the value and runs again
    p.exp("run", "--set-param", "model.conv_units=32", "-n", "wide")
    assert "conv_units: 32   # filters in the conv layer" in p.read("params.yaml")
    assert json.loads(p.read("metrics.json")) == {"acc": 0.9688}

    # 5. show: the workspace, the baseline by branch name, its experiments as a tree
    table = p.exp("show").stdout
    lines = table.splitlines()
    assert lines[0].split()[:3] == ["Experiment", "Created", "acc"]
    assert any(l.startswith("workspace") for l in lines)
    assert any(l.startswith("main") for l in lines)
    wide = [l for l in lines if "[wide]" in l]
    assert len(wide) == 1 and wide[0].startswith(("├── ", "└── ")) and "0.9688" in wide[0]
    assert sum(1 for l in lines if l.startswith(("├── ", "└── "))) == 2
    rows = json.loads(p.exp("show", "--json").stdout)
    by_name = {r["name"]: r for r in rows}
    assert by_name["wide"]["params"]["params.yaml"]["model.conv_units"] == 32
    assert by_name["wide"]["metrics"]["metrics.json"]["acc"] == 0.9688
    assert by_name["wide"]["baseline"] == base

    # HEAD, branch and index never moved
    assert p.head() == base and p.git("diff", "--cached", "--name-only") == ""

    # 6. branch from the experiment and merge it like any branch
    p.exp("branch", "wide", "wide-model")
    p.git("stash", "-q", "-u")      # put the work tree's results aside, as a user would
    p.git("merge", "-q", "--ff-only", "wide-model")
    assert p.head() == p.git("rev-parse", "wide-model").strip()
    assert "conv_units: 32" in p.read("params.yaml")
    lock = p.read("exp.lock")
    assert "models" in lock and "model.conv_units: 32" in lock
    p.fsck()
