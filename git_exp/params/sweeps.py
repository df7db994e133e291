"""Parameter sweeps: one -S argument that stands for several values.

    lr=0.1,0.01              a list of values (commas at the top level)
    lr=choice(0.1,0.01)      the same, spelled as Hydra does
    epochs=range(1,5)        1, 2, 3, 4: Python's range, stop excluded
    lr=range(0,1,0.25)       0.0, 0.25, 0.5, 0.75: float steps are exact decimals

Several sweeps form a grid, in the order given: the first argument varies
slowest, like nested for-loops (and like Hydra's basic sweeper). A comma
inside quotes, brackets, braces or parentheses does not split: 'a,b' and
[1,2] are single values, so `layers=[1,2],[3,4]` sweeps over two lists.
"""
from __future__ import annotations

import itertools
import re

from git_exp.errors import ExpError
from git_exp.params.keys import find_outside_quotes
from git_exp.params.overrides import parse_override, plain_value, split_override

# A guard against a typo such as range(0,1000000) filling the queue.
MAX_POINTS = 10_000

_CALL = re.compile(r"(choice|range)\s*\((.*)\)\s*$", re.DOTALL)
_CLOSE = {"[": "]", "{": "}", "(": ")"}


def is_sweep(arg: str) -> bool:
    """Whether ARG (a -S argument) names more than one value."""
    value = _value_text(arg)
    if value is None:
        return False
    if _CALL.match(value.strip()):
        return True
    parts = split_top_level(value)
    return parts is not None and len(parts) > 1


def expand(args: list[str]) -> list[list[str]]:
    """The grid of plain override lists; [args] itself when nothing sweeps."""
    axes: list[list[str]] = []
    for arg in args:
        if not is_sweep(arg):
            axes.append([arg])
            continue
        head = arg[:find_outside_quotes(arg, "=") + 1]   # server."a=b"=1,2
        axes.append([head + item for item in _values(arg)])
    total = 1
    for axis in axes:
        total *= len(axis)
    if total > MAX_POINTS:
        raise ExpError(f"the sweep has {total} points, more than {MAX_POINTS}",
                       hint="sweep fewer values, or run the sweep in several parts")
    # Every distinct override must parse before anything runs: an error in the
    # tenth point of a grid should not surface after nine runs.
    for axis in axes:
        for text in axis:
            parse_override(text)
    return [list(point) for point in itertools.product(*axes)]


def _value_text(arg: str) -> str | None:
    if "=" not in arg:
        return None
    try:
        _, sign, _, value = split_override(arg)
    except ExpError:
        return None
    if sign == "~":
        return None
    return value


def _values(arg: str) -> list[str]:
    value = (_value_text(arg) or "").strip()   # a sweep always has a value
    m = _CALL.match(value)
    if m and m.group(1) == "range":
        return _range(arg, m.group(2))
    inner = m.group(2) if m else value
    items = split_top_level(inner)
    if items is None:
        raise ExpError(f"invalid sweep '{arg}': unbalanced quotes or brackets",
                       hint="close each quote and bracket: KEY=a,b or KEY='[1, 2]','[3, 4]'")
    items = [item.strip() for item in items]
    if m and items == [""]:
        raise ExpError(f"invalid sweep '{arg}': choice() needs at least one value",
                       hint="write choice(a,b,...)")
    if "" in items:
        raise ExpError(f"invalid sweep '{arg}': an empty value between commas",
                       hint="to sweep over the empty string, write it quoted: ''")
    return items


def _range(arg: str, inner: str) -> list[str]:
    texts = [t.strip() for t in inner.split(",")]
    if not 1 <= len(texts) <= 3 or "" in texts:
        raise ExpError(f"invalid sweep '{arg}': range takes 1 to 3 numbers",
                       hint="write range(stop), range(start,stop) or range(start,stop,step)")
    numbers = []
    for text in texts:
        value = plain_value(text)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value \
                or value in (float("inf"), float("-inf")):
            raise ExpError(f"invalid sweep '{arg}': '{text}' is not a number",
                           hint="range takes numbers, such as range(0,1,0.25)")
        numbers.append(value)
    floats = any(isinstance(n, float) for n in numbers)
    # decimal only here: every `run -S` asks is_sweep, and only a range needs it
    from decimal import ROUND_CEILING, Decimal, InvalidOperation
    try:
        exact = [Decimal(t.replace("_", "")) if isinstance(n, float) else Decimal(n)
                 for t, n in zip(texts, numbers)]
    except InvalidOperation:  # pragma: no cover - plain_value accepted it as a number
        raise ExpError(f"invalid sweep '{arg}'") from None
    if len(exact) == 1:
        exact.insert(0, Decimal(0))
    start, stop = exact[0], exact[1]
    step = exact[2] if len(exact) == 3 else Decimal(1)
    if step == 0:
        raise ExpError(f"invalid sweep '{arg}': the step of a range cannot be 0",
                       hint="write range(start,stop,step) with a step that is not 0")
    # len(range(...)) is ceil((stop - start) / step) for either sign of step.
    count = max(0, int(((stop - start) / step).to_integral_value(rounding=ROUND_CEILING)))
    if count == 0:
        hint = (f"to count down, give a negative step: range({texts[0]},{texts[1]},-1)"
                if len(texts) >= 2 and step > 0 and start > stop else
                "the range must run from start toward stop; stop is excluded")
        raise ExpError(f"invalid sweep '{arg}': the range is empty", hint=hint)
    if count > MAX_POINTS:
        raise ExpError(f"invalid sweep '{arg}': {count} values, more than {MAX_POINTS}",
                       hint="use a larger step")
    values = (start + i * step for i in range(int(count)))
    if floats:
        return [repr(float(v)) for v in values]
    return [str(int(v)) for v in values]


def split_top_level(text: str) -> list[str] | None:
    """TEXT split at commas outside quotes and brackets; None when unbalanced.

    A quote opens a quoted string only at the start of an item, as in YAML:
    in `it's,fine` the apostrophe is an ordinary character.
    """
    items, depth, start, i, n = [], [], 0, 0, len(text)
    at_item_start = True
    while i < n:
        c = text[i]
        if at_item_start and c in "'\"":
            end = _closing_quote(text, i)
            if end < 0:
                return None
            i = end + 1
            at_item_start = False
            continue
        if c in _CLOSE:
            depth.append(_CLOSE[c])
            at_item_start = True
        elif c in ")]}":
            if not depth or depth.pop() != c:
                return None
            at_item_start = False
        elif c == "," and not depth:
            items.append(text[start:i])
            start = i + 1
            at_item_start = True
        elif c == ",":
            at_item_start = True
        elif c == ":" and depth:
            at_item_start = True   # a flow mapping's value may be quoted: {a: 'x,y'}
        elif not c.isspace():
            at_item_start = False
        i += 1
    if depth:
        return None
    items.append(text[start:])
    return items


def _closing_quote(text: str, i: int) -> int:
    quote, j = text[i], i + 1
    while j < len(text):
        if quote == '"' and text[j] == "\\":
            j += 2
            continue
        if text[j] == quote:
            if quote == "'" and text[j + 1:j + 2] == "'":   # '' is an escaped quote
                j += 2
                continue
            return j
        j += 1
    return -1
