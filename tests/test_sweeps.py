"""Sweeps: which -S arguments stand for several values, and the grid they form."""
from __future__ import annotations

import pytest

from git_exp.errors import ExpError
from git_exp.params.overrides import parse_override
from git_exp.params.sweeps import MAX_POINTS, expand, is_sweep, split_top_level

SWEEPS = ["lr=0.1,0.01", "lr=choice(0.1,0.01)", "lr=choice(0.1)", "lr=range(1,5)", "lr=range(0,1,0.25)",
          "lr = 1, 2", "l=[1,2],[3,4]", "s='a,b',c", "+p.yaml:a=1,2", "a=range(3)", "x=it's,fine"]
PLAIN = ["lr=0.1", "s='a,b'", 's="a,b"', "l=[1,2]", "m={a: 1, b: 2}", "m={a: 'x,y'}", "f=f(x,y)",
         "~a", "a", "x='it''s,fine'", "a=[1,", "r=ranges(1,2)", "c=choices", "n="]


def test_which_arguments_sweep():
    assert [a for a in SWEEPS if not is_sweep(a)] == []
    assert [a for a in PLAIN if is_sweep(a)] == []


def test_values_and_their_text():
    assert expand(["lr=0.1,0.01"]) == [["lr=0.1"], ["lr=0.01"]]
    assert expand(["lr=choice(0.1, 0.01)"]) == [["lr=0.1"], ["lr=0.01"]]
    assert expand(["s='a,b', c"]) == [["s='a,b'"], ["s=c"]]
    assert expand(["l=[1,2],[3,4]"]) == [["l=[1,2]"], ["l=[3,4]"]]
    assert expand(["p.yaml:++a.b=1,2"]) == [["p.yaml:++a.b=1"], ["p.yaml:++a.b=2"]]
    assert [parse_override(p[0]).value for p in expand(["s='a,b',c"])] == ["a,b", "c"]


@pytest.mark.parametrize("arg,values", [
    ("a=range(3)", ["0", "1", "2"]),
    ("a=range(1,5)", ["1", "2", "3", "4"]),
    ("a=range(1,10,3)", ["1", "4", "7"]),
    ("a=range(5,1,-2)", ["5", "3"]),
    ("a=range(0,1,0.25)", ["0.0", "0.25", "0.5", "0.75"]),
    ("a=range(0.1,0.4,0.1)", ["0.1", "0.2", "0.3"]),    # exact decimals: no 0.30000000000000004
    ("a=range(0,1,0.3)", ["0.0", "0.3", "0.6", "0.9"]),
    ("a=range(1e-3,3e-3,1e-3)", ["0.001", "0.002"]),
    ("a=range(-1,1)", ["-1", "0"]),
])
def test_ranges(arg, values):
    assert expand([arg]) == [[f"a={v}"] for v in values]


def test_the_grid_varies_the_first_sweep_slowest():
    grid = expand(["a=1,2", "fixed=x", "b=range(3)", "c=p,q"])
    assert len(grid) == 2 * 3 * 2
    assert grid[:3] == [["a=1", "fixed=x", "b=0", "c=p"], ["a=1", "fixed=x", "b=0", "c=q"],
                        ["a=1", "fixed=x", "b=1", "c=p"]]
    assert grid[-1] == ["a=2", "fixed=x", "b=2", "c=q"]
    assert len({tuple(p) for p in grid}) == len(grid)
    assert all(not any(is_sweep(arg) for arg in point) for point in grid)


def test_no_sweep_is_a_single_point():
    assert expand(["a=1", "~b", "c='x,y'"]) == [["a=1", "~b", "c='x,y'"]]
    assert expand([]) == [[]]


@pytest.mark.parametrize("arg,message,hint", [
    ("a=range(1,1)", "the range is empty", "stop is excluded"),
    ("a=range(5,1)", "the range is empty", "range(5,1,-1)"),
    ("a=range(1,5,-1)", "the range is empty", "from start toward stop"),
    ("a=range(1,5,0)", "the step of a range cannot be 0", "a step that is not 0"),
    ("a=range(x)", "'x' is not a number", "range(0,1,0.25)"),
    ("a=range(true)", "'true' is not a number", "numbers"),
    ("a=range()", "range takes 1 to 3 numbers", "range(start,stop,step)"),
    ("a=range(1,2,3,4)", "range takes 1 to 3 numbers", "range(stop)"),
    ("a=choice()", "choice() needs at least one value", "choice(a,b,...)"),
    ("a=1,,2", "an empty value between commas", "''"),
    ("a=1,2,", "an empty value between commas", "''"),
    ("a=range(0,100000)", f"100000 values, more than {MAX_POINTS}", "larger step"),
])
def test_bad_sweeps(arg, message, hint):
    with pytest.raises(ExpError) as e:
        expand([arg])
    assert e.value.message == f"invalid sweep '{arg}': {message}"
    assert e.value.hint == hint or hint in e.value.hint


def test_a_grid_too_large_is_refused_before_it_is_built():
    with pytest.raises(ExpError) as e:
        expand(["a=range(100)", "b=range(100)", "c=range(2)"])
    assert e.value.message == f"the sweep has 20000 points, more than {MAX_POINTS}"


def test_every_value_must_parse_before_anything_runs():
    with pytest.raises(ExpError) as e:
        expand(["a=1,2", "b=ok,'a' b"])
    assert e.value.message.startswith("invalid value in 'b='a' b'")


def test_split_top_level():
    assert split_top_level("a,b") == ["a", "b"]
    assert split_top_level("'a,b',\"c,d\",[e,f],{g: h},(i,j)") == ["'a,b'", '"c,d"', "[e,f]", "{g: h}", "(i,j)"]
    assert split_top_level("'it''s,x',y") == ["'it''s,x'", "y"]
    assert split_top_level("[1,2") is None
    assert split_top_level("'open") is None
    assert split_top_level("a]") is None
