"""Python params files: read with ast for `params:` and show, edited by -S in place, never run.

Every form goes through the real CLI on a tiny pipeline; the edit is checked
with `git diff` of the params file, which must show exactly the one value.
"""
from __future__ import annotations

import csv
import io
import json

import pytest

from git_exp.errors import ExpError
from git_exp.params.edit import edit_text
from git_exp.params.overrides import parse_override
from git_exp.params.read import flatten, parse
from git_exp.params.read_python import find, line_starts, parse_tree, span

PARAMS_PY = '''\
"""Training parameters."""
import os

LR = 0.1  # tuned by hand
EPOCHS: int = 3
NAME = 'resnet'
TRAIN = {
    "lr": 0.1,
    "layers": [8, 16],   # widths
    "opt": {"name": "adam", "b.eta": 0.9},
    "seed": os.getpid(),
}
SHAPE = (28, 28)


class Model:
    units = 32  # per layer

    class Head:
        dropout = -0.5


TAG = f"lr={LR}"
'''

# The stage reads its params the way a user's script would: by importing them.
TRAIN_PY = """\
import json
import params
json.dump({"acc": round(1 - params.LR, 4), "units": params.Model.units}, open("metrics.json", "w"))
"""

PIPELINE = """\
stages:
  train:
    cmd: python3 train.py
    deps: [train.py]
    params:
      - params.py: [LR, EPOCHS, NAME, TRAIN.lr, TRAIN.layers, 'TRAIN.opt."b.eta"', SHAPE, Model]
    metrics:
      - metrics.json:
          cache: false
"""


@pytest.fixture
def pyproj(committed):
    committed.gen({"params.py": PARAMS_PY, "train.py": TRAIN_PY, "exp.yaml": PIPELINE})
    committed.commit("pipeline with Python params")
    return committed


def one_line_diff(project, name: str = "params.py") -> tuple[str, str]:
    """The single removed and added line of NAME's diff against HEAD (asserts there is one)."""
    out = project.git("diff", "-U0", "--no-color", "HEAD", "--", name)
    removed = [l[1:] for l in out.splitlines() if l.startswith("-") and not l.startswith("---")]
    added = [l[1:] for l in out.splitlines() if l.startswith("+") and not l.startswith("+++")]
    assert len(removed) == 1 and len(added) == 1, out
    return removed[0], added[0]


def test_reading_gives_constants_dict_entries_and_class_attributes_but_no_code():
    flat = flatten(parse(PARAMS_PY, "python", "params.py"))
    assert flat == {
        "LR": 0.1, "EPOCHS": 3, "NAME": "resnet", "TRAIN.lr": 0.1, "TRAIN.layers": [8, 16],
        "TRAIN.opt.name": "adam", 'TRAIN.opt."b.eta"': 0.9, "SHAPE": [28, 28],
        "Model.units": 32, "Model.Head.dropout": -0.5}


def test_show_has_the_python_params_as_columns_with_quoted_keys(pyproj):
    pyproj.exp("run", "-n", "base")
    rows = json.loads(pyproj.exp("show", "--json").stdout)
    params = rows[0]["params"]["params.py"]
    assert params["LR"] == 0.1 and params["Model.units"] == 32 and params['TRAIN.opt."b.eta"'] == 0.9
    assert "TRAIN.seed" not in params and "TAG" not in params   # code, not parameters
    header = next(csv.reader(io.StringIO(pyproj.exp("show", "--csv").stdout)))
    assert 'TRAIN.opt."b.eta"' in header and "LR" in header


@pytest.mark.parametrize("arg, old, new", [
    ("LR=0.02", "LR = 0.1  # tuned by hand", "LR = 0.02  # tuned by hand"),
    ("EPOCHS=5", "EPOCHS: int = 3", "EPOCHS: int = 5"),
    ("NAME=vgg", "NAME = 'resnet'", "NAME = 'vgg'"),
    ("TRAIN.lr=1e-3", '    "lr": 0.1,', '    "lr": 1e-3,'),
    ("TRAIN.layers.0=32", '    "layers": [8, 16],   # widths', '    "layers": [32, 16],   # widths'),
    ('TRAIN.opt."b.eta"=0.5', '    "opt": {"name": "adam", "b.eta": 0.9},',
     '    "opt": {"name": "adam", "b.eta": 0.5},'),
    ("SHAPE.1=32", "SHAPE = (28, 28)", "SHAPE = (28, 32)"),
    ("Model.units=64", "    units = 32  # per layer", "    units = 64  # per layer"),
    ("Model.Head.dropout=true", "        dropout = -0.5", "        dropout = True"),
])
def test_run_dash_s_changes_exactly_the_one_value(pyproj, arg, old, new):
    pyproj.exp("run", "-S", f"params.py:{arg}")
    assert one_line_diff(pyproj) == (old, new)
    pyproj.fsck()


def test_the_run_records_the_new_value_and_the_stage_saw_it(pyproj):
    pyproj.exp("run", "-S", "params.py:LR=0.25", "-n", "quarter")
    assert json.loads(pyproj.read("metrics.json"))["acc"] == 0.75
    rows = {r["name"]: r for r in json.loads(pyproj.exp("show", "--json").stdout)}
    assert rows["quarter"]["params"]["params.py"]["LR"] == 0.25
    ref = pyproj.git("for-each-ref", "--format=%(refname)", "refs/exps/").split()
    ref = next(r for r in ref if r.endswith("/quarter"))
    assert "LR = 0.25  # tuned by hand\n" in pyproj.git("show", f"{ref}:params.py")


@pytest.mark.parametrize("arg, line, what", [
    ("TRAIN.seed=1", 11, "TRAIN.seed is not a literal value (a function call)"),
    ("TAG=x", 23, "TAG is not a literal value (an f-string)"),
])
def test_setting_a_value_that_is_code_is_refused_with_file_and_line(pyproj, arg, line, what):
    proc = pyproj.exp("run", "-S", f"params.py:{arg}", check=False)
    assert proc.returncode == 1
    assert f"error: params.py:{line}: {what}" in proc.stderr
    assert "hint: git-exp reads Python params without running them" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert pyproj.read("params.py") == PARAMS_PY


@pytest.mark.parametrize("arg, message", [
    ("+NEW=1", "cannot add NEW in params.py: git-exp only changes values in a Python params file"),
    ("~LR", "cannot delete LR in params.py: git-exp only changes values in a Python params file"),
    ("+TRAIN.layers.2=1", "cannot add TRAIN.layers.2 in params.py: TRAIN.layers is a list"),
    ("TRAIN.layers.2=1", "no parameter TRAIN.layers.2 in params.py: TRAIN.layers has no such element"),
    ("Model=1", "cannot set Model in params.py: it is a class"),
    ("LR=.inf", "cannot set LR in params.py: inf has no Python literal"),
])
def test_adding_deleting_and_impossible_values_are_refused(pyproj, arg, message):
    proc = pyproj.exp("run", "-S", f"params.py:{arg}", check=False)
    assert proc.returncode == 1 and f"error: {message}" in proc.stderr, proc.stderr
    assert "hint: " in proc.stderr
    assert pyproj.read("params.py") == PARAMS_PY


def test_a_stage_tracking_a_key_bound_to_code_names_file_and_line(pyproj):
    pyproj.gen({"exp.yaml": PIPELINE.replace("SHAPE, Model]", "SHAPE, Model, TAG]")})
    proc = pyproj.exp("run", check=False)
    assert proc.returncode == 1
    assert "error: params.py:23: TAG is not a literal value (an f-string)" in proc.stderr


def test_where_and_sort_by_take_the_quoted_key_show_prints(pyproj):
    pyproj.exp("run", "-n", "high", "-S", 'params.py:TRAIN.opt."b.eta"=0.99')
    pyproj.exp("run", "-n", "low", "-S", 'params.py:TRAIN.opt."b.eta"=0.5')
    rows = json.loads(pyproj.exp("show", "--json", "--where", 'TRAIN.opt."b.eta" > 0.9').stdout)
    assert [r["name"] for r in rows if r["name"] in ("high", "low")] == ["high"]
    rows = json.loads(pyproj.exp("show", "--json", "--sort-by", 'TRAIN.opt."b.eta"').stdout)
    assert [r["name"] for r in rows if r["name"] in ("high", "low")] == ["low", "high"]


# --- a hostile params.py: parsed, never executed, bounded ----------------------------

HOSTILE_PIPELINE = """\
stages:
  noop:
    cmd: echo ok > out.txt
    params:
      - params.py: [LR]
    outs: [out.txt]
"""


def test_a_hostile_params_file_is_never_executed(committed):
    marker = committed.path / "PWNED"
    committed.gen({"exp.yaml": HOSTILE_PIPELINE, "params.py": (
        f"__import__('os').system('touch {marker}')\n"
        f"LR = 0.1\n"
        f"EVIL = __import__('os').system('touch {marker}')\n"
        f"class C:\n    x = open('{marker}', 'w')\n")})
    committed.commit("hostile")
    committed.exp("run", "-S", "params.py:LR=0.2")
    committed.exp("show", "--json")
    proc = committed.exp("run", "-S", "params.py:EVIL=1", check=False)
    assert proc.returncode == 1 and "params.py:3: EVIL is not a literal value" in proc.stderr
    assert not marker.exists()


def test_a_huge_params_file_is_refused_cleanly(committed):
    committed.gen({"exp.yaml": HOSTILE_PIPELINE, "params.py": "LR = 0.1\n" + "X = 1\n" * 400_000})
    committed.commit("huge")
    proc = committed.exp("run", check=False)
    assert proc.returncode == 1
    assert "error: params.py: the Python params file is larger than 512 KiB" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("depth", [50, 5000])
def test_deep_nesting_is_an_error_or_a_value_never_a_crash(depth):
    text = "LR = 0.1\nDEEP = " + "[" * depth + "1" + "]" * depth + "\n"
    try:
        flat = flatten(parse(text, "python", "params.py"))
    except ExpError as e:
        assert depth > 100 and e.message.startswith("params.py")
    else:
        assert flat["LR"] == 0.1 and ("DEEP" in flat) == (depth <= 100)


def test_syntax_errors_name_file_and_line():
    with pytest.raises(ExpError) as e:
        parse("LR = 0.1\nX = (\n", "python", "params.py")
    assert e.value.message.startswith("params.py:2: ")


def test_edits_keep_crlf_unicode_and_a_missing_final_newline():
    text = "# café ☕\r\nNAME = \"é\"; LR = 0.1\r\nD = {'k': 'ü', 'n': 1}"
    out = edit_text(text, "python", [parse_override("LR=0.5"), parse_override("D.n=2"),
                                     parse_override("NAME=ñ")], "params.py")
    assert out == "# café ☕\r\nNAME = \"ñ\"; LR = 0.5\r\nD = {'k': 'ü', 'n': 2}"


def test_rebinding_by_augmented_assignment_or_import_hides_a_constant():
    flat = flatten(parse("A = 1\nA += 1\nB = 2\nfrom x import B\nC = 3\nC = 4\n", "python", "p.py"))
    assert flat == {"C": 4}


def test_self_attributes_of_init_are_class_params_as_dvc_reads_them():
    text = ("class Train:\n    lr = 0.1\n    def __init__(self):\n        self.wd = 0.01  # decay\n"
            "        self.name: str = 'x'\n        self.seed = make_seed()\n        other.x = 1\n")
    assert flatten(parse(text, "python", "p.py")) == {"Train.lr": 0.1, "Train.wd": 0.01, "Train.name": "x"}
    out = edit_text(text, "python", [parse_override("Train.wd=0.5")], "p.py")
    assert out == text.replace("self.wd = 0.01  # decay", "self.wd = 0.5  # decay")
    with pytest.raises(ExpError) as e:
        edit_text(text, "python", [parse_override("Train.seed=1")], "p.py")
    assert e.value.message == "p.py:6: Train.seed is not a literal value (a function call)"


def _dvc_python() -> str | None:
    import os
    import shutil
    dvc = os.environ.get("GIT_EXP_TEST_DVC") or shutil.which("dvc")
    if not dvc:
        return None
    python = os.path.join(os.path.dirname(os.path.realpath(dvc)), "python")
    python = python if os.access(python, os.X_OK) else os.path.join(os.path.dirname(dvc), "python")
    return python if os.access(python, os.X_OK) else None


def test_the_keys_and_values_are_those_dvc_reads(tmp_path):
    """Where DVC and git-exp agree by design (literals only), the flat params are the same."""
    import subprocess
    python = _dvc_python()
    if python is None:
        pytest.skip("DVC is not installed (.ci/run installs it into its own venv and sets GIT_EXP_TEST_DVC)")
    text = PARAMS_PY.replace('    "seed": os.getpid(),\n', "").replace('TAG = f"lr={LR}"\n', "")
    text += "class Opt:\n    def __init__(self):\n        self.wd = 0.01\n"
    (tmp_path / "params.py").write_text(text)
    script = ("import json, sys; from dvc.utils.serialize._py import parse_py; "
              "from dvc.utils.flatten import flatten; "
              "print(json.dumps(flatten(parse_py(open(sys.argv[1]).read(), 'params.py'))))")
    out = subprocess.run([python, "-c", script, str(tmp_path / "params.py")], check=True,
                         capture_output=True, text=True).stdout
    dvc = json.loads(out)
    ours = json.loads(json.dumps(flatten(parse(text, "python", "params.py"))))
    ours = {k.replace('"', ""): v for k, v in ours.items()}   # DVC cannot tell a dot in a key apart
    assert ours == dvc


def test_sort_by_accepts_any_quoting_of_the_same_key(pyproj):
    pyproj.exp("run", "-n", "one")
    for name in ('"TRAIN".lr', 'params.py:"TRAIN"."lr"', '"LR"'):
        assert pyproj.exp("show", "--json", "--sort-by", name).returncode == 0
    proc = pyproj.exp("show", "--sort-by", 'TRAIN.opt.b.eta', check=False)
    assert proc.returncode == 1 and 'TRAIN.opt."b.eta"' in proc.stderr   # did you mean


# --- the round trip on generated files --------------------------------------------------

_NAMES = ["LR", "lr", "Model", "x_y", "k"]
_PY_SCALARS = [0, 1, -3, 0.5, -1e-05, True, False, None, "adam", "a b", "it's", 'say "x"', "", "é", "a.b"]
_PY_VALUES = ["1", "0.25", "-2", "1e-3", "true", "null", "adam", "'q'", "[1, x]", "{p: 1}", "a b", "[]", "é"]


def _py_value(rng, depth):
    r = rng.random()
    if r < 0.2 and depth < 3:
        return {rng.choice(_NAMES + ["a.b", "0"]): _py_value(rng, depth + 1) for _ in range(rng.randint(0, 3))}
    if r < 0.35 and depth < 3:
        return [_py_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return rng.choice(_PY_SCALARS)


def _py_source(value, rng, indent="") -> str:
    if isinstance(value, dict):
        if value and rng.random() < 0.4:   # one entry per line, with a comment now and then
            inner = indent + "    "
            lines = [f"{inner}{_py_source(k, rng)}: {_py_source(v, rng, inner)},"
                     + rng.choice(["", "  # note"]) for k, v in value.items()]
            return "{\n" + "\n".join(lines) + f"\n{indent}}}"
        return "{" + ", ".join(f"{_py_source(k, rng)}: {_py_source(v, rng, indent)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        items = [_py_source(v, rng, indent) for v in value]
        if rng.random() < 0.3:
            return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
        return "[" + ", ".join(items) + "]"
    if isinstance(value, str) and rng.random() < 0.5 and "'" not in value:
        return "'" + value + "'"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)


def _py_file(rng) -> str:
    lines = ['"""generated"""', "import os"]
    for _ in range(rng.randint(1, 5)):
        name = rng.choice(_NAMES)
        if rng.random() < 0.25:
            lines.append(f"class {name}:")
            for _ in range(rng.randint(1, 3)):
                lines.append(f"    {rng.choice(_NAMES)} = {_py_source(_py_value(rng, 1), rng, '    ')}")
        elif rng.random() < 0.15:
            lines.append(f"{name} = os.getcwd()  # code")
        else:
            ann = rng.choice(["", ": int", ": dict"])
            lines.append(f"{name}{ann} = {_py_source(_py_value(rng, 0), rng)}" + rng.choice(["", "  # c"]))
    return "\n".join(lines) + rng.choice(["\n", ""])


def _leaf_paths(value, parts):
    from git_exp.params.keys import join_key
    from git_exp.params.read import key_text
    yield join_key(parts)
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaf_paths(v, parts + [key_text(k)])
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaf_paths(v, parts + [str(i)])


def test_random_python_edits_change_exactly_their_key():
    import random

    from tests.test_params_edit import assert_only_key_changed
    rng = random.Random(20261204)
    edits = 0
    for _ in range(60):
        text = _py_file(rng)
        data = parse(text, "python", "p.py")
        keys = [k for name, v in data.items() for k in _leaf_paths(v, [name])]
        for _ in range(4):
            if not keys:
                break
            arg = f"{rng.choice(keys)}={rng.choice(_PY_VALUES)}"
            try:
                out = edit_text(text, "python", [parse_override(arg)], "p.py")
            except ExpError as e:   # refusals must be the expected kind, never our own bug
                assert "report this as a bug" not in (e.hint or ""), (arg, text, e.message)
                continue
            assert_only_key_changed(text, out, "python", arg)
            # only the old value's own source text was replaced
            node, _ = find(parse_tree(text, "p.py"), parse_override(arg).parts)
            start, end = span(text, line_starts(text), node)
            assert out.startswith(text[:start]) and out.endswith(text[end:]), (arg, text, out)
            edits += 1
    assert edits > 150, edits
