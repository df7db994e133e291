"""git exp init --example: a real repository holding a project that really learns.

The pipeline runner is tested elsewhere; here the example's stages run as the
plain scripts they are, so the example is known to work on its own.
"""
from __future__ import annotations

import csv
import json
import math
import os
import random
import subprocess
import sys

import yaml

from git_exp.scaffold_example import EXAMPLE_DIR


def two_moons_csv(n: int = 600, noise: float = 0.25, seed: int = 2024) -> str:
    """The generator of the shipped data/raw.csv (run once; kept here to prove it).

    Box-Muller by hand on random.random(), whose sequence for a seed is stable
    across Python versions, and values rounded to 4 places.
    """
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = i % 2
        t = math.pi * rng.random()
        x, y = (math.cos(t), math.sin(t)) if label == 0 else (1.0 - math.cos(t), 0.5 - math.sin(t))
        r = math.sqrt(-2.0 * math.log(1.0 - rng.random()))
        a = 2.0 * math.pi * rng.random()
        rows.append(f"{x + noise * r * math.cos(a):.4f},{y + noise * r * math.sin(a):.4f},{label}\n")
    rng.shuffle(rows)
    return "x,y,label\n" + "".join(rows)


def make_example(tmp_path, name="demo"):
    proc = subprocess.run(["git", "exp", "init", "--example", name], cwd=tmp_path,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return tmp_path / name, proc


def git(path, *args):
    return subprocess.run(["git", *args], cwd=path, capture_output=True, text=True, check=True).stdout


def script(path, name):
    # `python3` as the stages' cmd says; this interpreter stands in for it.
    proc = subprocess.run([sys.executable, f"src/{name}.py"], cwd=path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def metrics(path):
    return json.loads((path / "live" / "metrics.json").read_text())


def test_example_is_a_clean_repository_with_one_commit(tmp_path):
    path, proc = make_example(tmp_path)
    assert git(path, "rev-list", "--count", "HEAD").strip() == "1"
    assert git(path, "log", "-1", "--format=%s|%an").strip() == "Example project|A U Thor"
    assert git(path, "status", "--porcelain") == ""
    assert sorted(git(path, "ls-files").split()) == [
        "README.md", "data/raw.csv", "exp.yaml", "params.yaml",
        "src/params.py", "src/prepare.py", "src/train.py"]
    for step in ("cd demo", "git exp run", "git exp run -S train.lr=0.05", "git exp show"):
        assert f"  {step}\n" in proc.stderr
    # Nothing left beside it from the work in progress.
    assert sorted(os.listdir(tmp_path)) == ["demo"]


def test_example_pipeline_declares_the_two_stages(tmp_path):
    path, _ = make_example(tmp_path)
    stages = yaml.safe_load((path / "exp.yaml").read_text())["stages"]
    assert list(stages) == ["prepare", "train"]
    assert stages["prepare"] == {
        "cmd": "python3 src/prepare.py",
        "deps": ["src/prepare.py", "src/params.py", "data/raw.csv"],
        "params": ["prepare.split", "prepare.seed"],
        "outs": ["data/prepared"]}
    assert stages["train"] == {
        "cmd": "python3 src/train.py",
        "deps": ["src/train.py", "src/params.py", "data/prepared"],
        "params": ["train"],
        "outs": ["models"],
        "metrics": [{"live/metrics.json": {"cache": False}}],
        "plots": [{"live/plots/metrics": {"cache": False, "x": "step"}}]}
    params = yaml.safe_load((path / "params.yaml").read_text())
    assert set(params["prepare"]) == {"split", "seed"}
    assert set(params["train"]) >= {"lr", "epochs", "hidden", "seed"}


def test_example_learns_and_its_params_matter(tmp_path):
    path, _ = make_example(tmp_path)
    assert "450 train rows, 150 test rows" in script(path, "prepare")
    with open(path / "data" / "prepared" / "test.csv") as fh:
        assert next(csv.reader(fh)) == ["x", "y", "label"]

    script(path, "train")
    first = metrics(path)
    assert set(first) == {"accuracy", "loss", "step"}
    assert first["accuracy"] > 0.85  # chance is 0.5; a straight line gets about 0.85
    epochs = yaml.safe_load((path / "params.yaml").read_text())["train"]["epochs"]
    assert first["step"] == epochs - 1   # epoch 1 is step 0
    history = {}
    for name in ("loss", "accuracy"):
        with open(path / "live" / "plots" / "metrics" / f"{name}.tsv", newline="") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
        assert [int(r["step"]) for r in rows] == list(range(epochs))
        history[name] = float(rows[-1][name])
    assert history == {"accuracy": first["accuracy"], "loss": first["loss"]}
    model = json.loads((path / "models" / "model.json").read_text())
    assert len(model["w1"]) == model["hidden"]

    script(path, "train")
    assert metrics(path) == first  # deterministic for a seed

    text = (path / "params.yaml").read_text()
    assert "  lr: 0.1 " in text
    (path / "params.yaml").write_text(text.replace("  lr: 0.1 ", "  lr: 0.5 "))
    script(path, "train")
    assert metrics(path)["accuracy"] != first["accuracy"]


def test_scripts_read_params_without_pyyaml():
    code = (
        "import sys, json\n"
        "sys.modules['yaml'] = None  # as if PyYAML were not installed\n"
        f"sys.path.insert(0, {os.path.join(EXAMPLE_DIR, 'src')!r})\n"
        "import params\n"
        "print(json.dumps({s: params.load_params(s) for s in ('prepare', 'train')}))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    with open(os.path.join(EXAMPLE_DIR, "params.yaml")) as fh:
        assert json.loads(out.stdout) == yaml.safe_load(fh)


def test_shipped_data_is_what_the_generator_makes():
    with open(os.path.join(EXAMPLE_DIR, "data", "raw.csv"), newline="") as fh:
        assert fh.read() == two_moons_csv()


def test_destination_must_be_new_or_empty(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "mine.txt").write_text("keep\n")
    (tmp_path / "afile").write_text("x\n")
    for dest in ("full", "afile"):
        proc = subprocess.run(["git", "exp", "init", "--example", dest], cwd=tmp_path,
                              capture_output=True, text=True)
        assert proc.returncode == 1
        assert f"error: destination path '{dest}' already exists and is not an empty directory" in proc.stderr
    assert os.listdir(tmp_path / "full") == ["mine.txt"]

    (tmp_path / "empty").mkdir()
    path, _ = make_example(tmp_path, "empty")
    assert (path / "exp.yaml").is_file()


def test_no_git_identity_leaves_nothing_behind(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_AUTHOR_", "GIT_COMMITTER_"))}
    # Make Git refuse to guess a name from the host, whatever machine runs this.
    env.update(GIT_CONFIG_COUNT="1", GIT_CONFIG_KEY_0="user.useConfigOnly", GIT_CONFIG_VALUE_0="true")
    proc = subprocess.run(["git", "exp", "init", "--example", "demo"], cwd=tmp_path,
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 1
    assert "error: cannot commit the example project: Git does not know your name and email" in proc.stderr
    assert 'hint:   git config --global user.email "you@example.com"' in proc.stderr
    assert os.listdir(tmp_path) == []


def test_example_takes_no_command(tmp_path):
    proc = subprocess.run(["git", "exp", "init", "--example", "demo", "python", "x.py"], cwd=tmp_path,
                          capture_output=True, text=True)
    assert proc.returncode == 129
    assert not (tmp_path / "demo").exists()
