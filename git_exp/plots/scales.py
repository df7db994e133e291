"""Axis scales for the SVG charts: round domains, tick positions and tick labels.

Pure arithmetic (no markup), so svg.py's layout reads as layout and the
numbers can be tested on their own: a domain is widened to round steps of
1, 2 or 5 times a power of ten, and a tick's label shows just the digits its
step needs (0.50, 0.55 rather than 0.5, 0.55).
"""
from __future__ import annotations

import math

def nice_step(span: float, count: int) -> float:
    raw = span / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    for mantissa in (1, 2, 2.5, 5, 10):
        if raw <= mantissa * magnitude * (1 + 1e-9):
            return mantissa * magnitude
    return 10 * magnitude


def nice_domain(lo: float, hi: float, count: int) -> tuple:
    """(low, high, ticks): LO..HI widened to whole steps of a 1-2-2.5-5 sequence."""
    lo, hi = _widen(lo, hi)
    step = nice_step(hi - lo, count)
    low = math.floor(lo / step + 1e-9) * step
    high = math.ceil(hi / step - 1e-9) * step
    return low, high, _ticks(low, high, step)


def tight_domain(lo: float, hi: float, count: int) -> tuple:
    """(low, high, ticks) with LO..HI kept as they are and ticks at nice steps inside."""
    lo, hi = _widen(lo, hi)
    step = nice_step(hi - lo, count)
    return lo, hi, _ticks(math.ceil(lo / step - 1e-9) * step, hi, step)


def _widen(lo: float, hi: float) -> tuple:
    if hi > lo:
        return lo, hi
    pad = abs(lo) * 0.1 or 1.0
    return lo - pad, hi + pad


def _ticks(start: float, stop: float, step: float) -> list:
    ticks = []
    value, k = start, 0
    while value <= stop + step * 1e-6 and k < 100:
        ticks.append((round(value / step) * step, _format_tick(value, step)))
        k += 1
        value = start + k * step
    return ticks


def _format_tick(value: float, step: float) -> str:
    if abs(value) < step * 1e-6:
        value = 0.0   # not -0.0, nor 1e-17 from adding steps up
    big = max(abs(value), step)
    if big >= 1e6 or step < 1e-5:
        return f"{value:.3g}".replace("e+0", "e").replace("e-0", "e-").replace("e+", "e")
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    if round(step / 10 ** math.floor(math.log10(step) + 1e-9), 6) == 2.5:
        decimals += 1
    return f"{value:.{decimals}f}"


def format_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
