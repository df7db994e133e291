"""Param and metric values: how they print, order and subtract.

Values are what YAML, JSON and TOML give: numbers, text, booleans, null,
lists and mappings (dates arrive as ISO text). Booleans are not numbers
here, though Python says they are: `true - false` is not a change anyone
measures.
"""
from __future__ import annotations

import json
import math

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from typing import TypeGuard

MISSING = "-"


def is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def format_value(value: object, precision: int | None = None) -> str:
    """VALUE as a table cell: floats rounded to PRECISION digits after the point.

    Trailing zeros are dropped (0.1, not 0.10000). A float that is not zero
    but would round to zero keeps PRECISION significant digits instead
    (3e-05), so a small learning rate never shows as 0.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float):
        return format_float(value, precision)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return " ".join(value.splitlines()) if "\n" in value or "\r" in value else value
    return json.dumps(value, separators=(", ", ": "), ensure_ascii=False, default=str)


def format_float(value: float, precision: int | None) -> str:
    if math.isnan(value) or math.isinf(value):
        return str(value)
    if precision is None:
        return repr(value)
    text = f"{value:.{precision}f}"
    if float(text) == 0 and value != 0:
        return f"{value:.{max(precision, 1)}g}"
    if "." in text:
        text = text.rstrip("0")
        if text.endswith("."):
            text += "0"
    return text


def format_delta(old: object, new: object, precision: int | None = None) -> str:
    """new - old with its sign, or '-' when either side is not a number."""
    delta = difference(old, new)
    if delta is None:
        return MISSING
    if delta == 0:
        return "0"
    if isinstance(delta, int):
        return f"{delta:+d}"
    text = format_float(delta, precision)
    return text if text.startswith("-") or text in ("nan",) else "+" + text


def difference(old: object, new: object) -> int | float | None:
    if not (is_number(old) and is_number(new)):
        return None
    delta = new - old
    if isinstance(delta, float) and not (math.isinf(delta) or math.isnan(delta)):
        # 0.9 - 0.8 is 0.09999999999999998 in binary; what users wrote had
        # at most ~15 significant digits, so round away the representation noise.
        delta = float(f"{delta:.12g}")
    return delta


def sort_key(value: object) -> tuple:
    """A key that orders any two values: numbers, then booleans, then text, then the rest."""
    if is_number(value):
        return (0, 0 if math.isnan(value) else 1, value if not math.isnan(value) else 0.0, "")
    if isinstance(value, bool):
        return (1, 0, int(value), "")
    if isinstance(value, str):
        return (2, 0, 0, value)
    return (3, 0, 0, json.dumps(value, sort_keys=True, default=str))


def plain_text(value: object) -> str:
    """VALUE exactly, for CSV: floats as their shortest round-trip text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return repr(value) if isinstance(value, float) else str(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
