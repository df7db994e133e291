"""The SVG path data of a chart's series: lines, dots and bars, thinned first.

Long series are thinned before drawing (see svg.py's docstring: buckets
BUCKET_PX wide, each keeping its lowest and highest point), and coordinates
are written with at most a tenth of a pixel, which keeps a page of a hundred
long series to a few megabytes.
"""
from __future__ import annotations

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from typing import Callable

    Scale = Callable[[float], float]   # data units -> pixels along one axis

BUCKET_PX = 2


def decimate(points: list, plot_w: float, sx: Scale) -> list:
    """POINTS (x, y) thinned to each pixel bucket's lowest and highest point, in order.

    Only when there are more points than pixels: shorter series are drawn as they are.
    """
    if len(points) <= plot_w:
        return points
    kept: list = []
    bucket: int | None = None
    low: tuple = ()
    high: tuple = ()
    for point in points:
        key = int(sx(point[0]) // BUCKET_PX)
        if key != bucket:
            if bucket is not None:
                kept.extend(_ordered(low, high))
            bucket, low, high = key, point, point
        else:
            if point[1] < low[1]:
                low = point
            if point[1] > high[1]:
                high = point
    if bucket is not None:
        kept.extend(_ordered(low, high))
    return kept


def _ordered(low: tuple, high: tuple) -> list:
    if low is high:
        return [low]
    return [low, high] if low[0] <= high[0] else [high, low]


def _runs(points: list) -> list:
    """Stretches without missing values: a line breaks where the data has a gap."""
    runs: list[list] = []
    run: list = []
    for x, y in points:
        if y is None:
            if run:
                runs.append(run)
            run = []
        else:
            run.append((x, y))
    if run:
        runs.append(run)
    return runs


def line_path(points: list, sx: Scale, sy: Scale, plot_w: float) -> tuple:
    parts, kept = [], []
    for run in _runs(points):
        run = decimate(run, plot_w, sx)
        kept.extend(run)
        # Steps relative to the previous point, in tenths of a pixel: half the
        # text of absolute coordinates, and no rounding error adds up, since
        # each step is the difference of two rounded positions.
        xs = [round(sx(x) * 10) for x, _ in run]
        ys = [round(sy(y) * 10) for _, y in run]
        text = [f"M{_tenths(xs[0])},{_tenths(ys[0])}"]
        if len(run) == 1:   # a lone point still shows, as a dot
            text.append("h.1")
        else:
            text.append("l")
            for k in range(1, len(run)):
                dx, dy = _tenths(xs[k] - xs[k - 1]), _tenths(ys[k] - ys[k - 1])
                text.append(("" if k == 1 or dx[0] == "-" else " ") + dx
                            + ("" if dy[0] == "-" else ",") + dy)
        parts.append("".join(text))
    return "".join(parts), kept


_TENTHS: dict = {}   # the same few hundred steps recur in every series


def _tenths(value: int) -> str:
    """VALUE tenths of a pixel as short path text: 12 -> 1.2, -5 -> -.5, 30 -> 3."""
    text = _TENTHS.get(value)
    if text is None:
        whole, frac = divmod(abs(value), 10)
        text = (f"{whole}.{frac}" if whole else f".{frac}") if frac else str(whole)
        text = _TENTHS[value] = "-" + text if value < 0 else text
    return text


def dots_path(points: list, sx: Scale, sy: Scale) -> tuple:
    seen, parts, kept = set(), [], []
    for x, y in points:
        if y is None:
            continue
        px, py = sx(x), sy(y)
        cell = (round(px), round(py))
        if cell in seen:
            continue
        seen.add(cell)
        kept.append((x, y))
        parts.append(f"M{px:.1f},{py:.1f}h0")
    return "".join(parts), kept


def bar_path(points: list, sx: Scale, sy: Scale, zero: float, offset: float, bar_w: float) -> tuple:
    parts, kept = [], []
    w = max(bar_w - 1.0, 0.8) if bar_w > 3 else bar_w
    for x, y in points:
        if y is None:
            continue
        kept.append((x, y))
        left = sx(x) + offset
        parts.append(f"M{left:.1f},{zero:.1f}V{sy(y):.1f}h{w:.1f}V{zero:.1f}Z")
    return "".join(parts), kept


def compact(values: list) -> list:
    """VALUES for the page's JSON: whole numbers as ints, others to six significant digits."""
    if all(isinstance(v, int) or (v.is_integer() and abs(v) < 1e15) for v in values):
        return [int(v) for v in values]
    return [float("%.6g" % v) for v in values]


# ---------------------------------------------------------------- legend
