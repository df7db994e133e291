"""A chart drawn as plain SVG: axes with ticks and labels, a legend, one series per revision.

No library and nothing from the network: the markup is written here, with
presentation attributes rather than a style sheet, so the same SVG works
inline in the HTML page and as a standalone file linked from Markdown.

Every series element carries `class="s"`, `data-i` (the revision's index:
its colour and its legend entry) and `data-exp` (its name), which the page's
script and the browser test use. Colours are the Okabe-Ito palette, safe for
the common kinds of colour blindness (its yellow dropped: too pale on white);
past seven revisions the colours repeat with a dash pattern, and the page
lets the reader pick one series out by hovering its legend entry.

Long series are thinned before drawing: when a series has more points than
the plot is pixels wide, its points are grouped into buckets two pixels wide
and only each bucket's lowest and highest point are kept, in order. The line
then looks the same (spikes stay visible, since an extreme is always kept)
while 100 experiments x 100,000 steps still make a page of a few megabytes.
Scatter plots keep one point per pixel, which draws the same dots.

The axis arithmetic is scales.py's, the series' path data svgpaths.py's.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

from git_exp.plots.scales import format_number, nice_domain, tight_domain
from git_exp.plots.svgpaths import bar_path, compact, dots_path, line_path

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from git_exp.plots.charts import Chart, Series
    from git_exp.plots.svgpaths import Scale

PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
DASHES = ("", "7 3", "2 3", "9 3 2 3")
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"

WIDTH = 560
PLOT_HEIGHT = 240
LEFT, RIGHT, TOP = 64, 18, 34
LEGEND_LIMIT = 12       # entries drawn inside a chart; the page has a full legend of its own
CHAR_PX = 6.2           # average width of an 11px character, for laying out the legend


def style_of(index: int) -> tuple:
    """(colour, dash pattern) of the revision at INDEX."""
    return PALETTE[index % len(PALETTE)], DASHES[(index // len(PALETTE)) % len(DASHES)]


@dataclass
class Drawn:
    svg: str
    hover: dict      # the drawn points in data units, with the scales, for the page's tooltips


def render(chart: Chart, dom_id: str, legend_limit: int = LEGEND_LIMIT, width: int = WIDTH,
           plot_height: int = PLOT_HEIGHT) -> Drawn:
    """CHART (charts.Chart) as an <svg> element with id DOM_ID."""
    plot_w = width - LEFT - RIGHT
    bottom = TOP + plot_height
    series = [s for s in chart.series]
    entries = _legend_entries(chart, legend_limit)
    legend_svg, legend_h = _legend(entries, width, bottom + 46, chart.template)
    height = bottom + 46 + legend_h + 6

    xs_axis, categories = _x_axis(chart, series)
    ys = [v for s in series for v in s.y if v is not None]
    if chart.template == "bar":
        ys.append(0.0)
    y_lo, y_hi, y_ticks = nice_domain(min(ys, default=0.0), max(ys, default=1.0), 6)
    x_lo, x_hi, x_ticks = xs_axis

    def sx(v: float) -> float:
        return LEFT + (v - x_lo) / (x_hi - x_lo) * plot_w

    def sy(v: float) -> float:
        return bottom - (v - y_lo) / (y_hi - y_lo) * plot_height

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{dom_id}" '
           f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
           f'font-family="{escape(FONT)}" font-size="11" role="img" '
           f'aria-label="{escape(chart.title)}">',
           f'<rect width="{width}" height="{height}" fill="#fff"/>',
           f'<text x="{LEFT}" y="20" font-size="14" font-weight="600" fill="#222">{escape(chart.title)}</text>']
    out.append(_grid_and_axes(chart, x_ticks, y_ticks, sx, sy, categories, plot_w, bottom, height))

    drawn = _draw_series(chart, series, categories, sx, sy, plot_w, bottom)
    out.extend(markup for markup, _ in reversed(drawn))   # the first revision last: on top
    hover_series = [hover for _, hover in drawn]
    if not series:
        out.append(f'<text x="{LEFT + plot_w / 2:.1f}" y="{TOP + plot_height / 2:.1f}" '
                   f'text-anchor="middle" fill="#888" font-size="13">no data</text>')
    out.append(legend_svg)
    out.append('<circle class="hover-dot" r="4.5" cx="-10" cy="-10" fill="none" stroke="#222" '
               'stroke-width="1.5" pointer-events="none"/>')
    out.append('</svg>')
    hover = {"x": [x_lo, x_hi, LEFT, LEFT + plot_w], "y": [y_lo, y_hi, bottom, TOP],
             "xl": chart.x_label, "yl": chart.y_label, "c": categories, "s": hover_series}
    return Drawn("".join(out), hover)


# ------------------------------------------------------------------ axes
def _x_axis(chart: Chart, series: list[Series]) -> tuple:
    """((low, high, ticks), categories or None); categories sit at 0, 1, 2..."""
    if chart.categorical or chart.template == "bar":
        if chart.categorical:
            categories = list(dict.fromkeys(v for s in series for v in s.x))
        else:
            categories = [format_number(v) for v in sorted({v for s in series for v in s.x})]
        n = max(len(categories), 1)
        return (-0.5, n - 0.5, []), categories
    xs = [v for s in series for v in s.x]
    if chart.template == "scatter":
        return nice_domain(min(xs, default=0.0), max(xs, default=1.0), 7), None
    return tight_domain(min(xs, default=0.0), max(xs, default=1.0), 7), None

def _grid_and_axes(chart: Chart, x_ticks: list, y_ticks: list, sx: Scale, sy: Scale, categories: list | None,
                   plot_w: float, bottom: float, height: float) -> str:
    right = LEFT + plot_w
    parts = ['<g class="axes">']
    for value, label in y_ticks:
        y = sy(value)
        parts.append(f'<line x1="{LEFT}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e8e8e8"/>'
                     f'<text x="{LEFT - 6}" y="{y + 3.5:.1f}" text-anchor="end" fill="#444">{label}</text>')
    if categories is not None:
        n = max(len(categories), 1)
        every = max(1, math.ceil(n / max(1, plot_w // 56)))
        for index in range(0, len(categories), every):
            x = sx(index)
            label = categories[index]
            label = label if len(label) <= 10 else label[:9] + "\u2026"
            parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{bottom}" y2="{bottom + 4}" stroke="#888"/>'
                         f'<text x="{x:.1f}" y="{bottom + 16}" text-anchor="middle" fill="#444">'
                         f'{escape(label)}</text>')
    else:
        for value, label in x_ticks:
            x = sx(value)
            parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{bottom}" stroke="#f0f0f0"/>'
                         f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{bottom}" y2="{bottom + 4}" stroke="#888"/>'
                         f'<text x="{x:.1f}" y="{bottom + 16}" text-anchor="middle" fill="#444">{label}</text>')
    parts.append(f'<path d="M{LEFT},{TOP}V{bottom}H{right}" fill="none" stroke="#888"/>')
    parts.append(f'<text x="{LEFT + plot_w / 2:.1f}" y="{bottom + 34}" text-anchor="middle" '
                 f'fill="#222" font-size="12">{escape(chart.x_label)}</text>')
    middle = TOP + (bottom - TOP) / 2
    parts.append(f'<text transform="translate(14 {middle:.1f}) rotate(-90)" text-anchor="middle" '
                 f'fill="#222" font-size="12">{escape(chart.y_label)}</text>')
    parts.append('</g>')
    return "".join(parts)


# ---------------------------------------------------------------- series

def _draw_series(chart: Chart, series: list[Series], categories: list | None, sx: Scale, sy: Scale,
                 plot_w: float, bottom: float) -> list:
    drawn = []
    sources = list(dict.fromkeys((s.source, s.field) for s in series))
    positions = {c: i for i, c in enumerate(categories)} if categories is not None else None
    bars = chart.template == "bar"
    if bars:
        assert categories is not None   # _x_axis gives a bar chart categories
        slots = list(dict.fromkeys((s.revision, s.source, s.field) for s in series))
        group = 0.8 * plot_w / max(len(categories), 1)
        bar_w = group / max(len(slots), 1)
        zero = min(max(sy(0.0), TOP), bottom)   # bars grow from zero, or the axis nearest it
    for s in series:
        colour, dash = style_of(s.revision)
        if len(sources) > 1:   # several files or columns in one chart: the dash tells them apart
            dash = DASHES[sources.index((s.source, s.field)) % len(DASHES)]
        if positions is not None:
            points = [(positions[_category(x, chart)], y) for x, y in zip(s.x, s.y)]
        else:
            points = list(zip(s.x, s.y))
        attrs = (f'class="s" data-i="{s.revision}" data-exp="{escape(s.name)}" '
                 f'data-label="{escape(s.label)}"')
        title = f"<title>{escape(s.label)}</title>"
        if bars:
            offset = -group / 2 + slots.index((s.revision, s.source, s.field)) * bar_w
            d, kept = bar_path(points, sx, sy, zero, offset, bar_w)
            markup = f'<path {attrs} d="{d}" fill="{colour}">{title}</path>'
            hover_offset = offset + bar_w / 2
        elif chart.template == "scatter":
            d, kept = dots_path(points, sx, sy)
            markup = (f'<path {attrs} d="{d}" fill="none" stroke="{colour}" stroke-width="5" '
                      f'stroke-linecap="round" opacity="0.85">{title}</path>')
            hover_offset = 0.0
        else:
            d, kept = line_path(points, sx, sy, plot_w)
            dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
            markup = (f'<path {attrs} d="{d}" fill="none" stroke="{colour}" stroke-width="1.6" '
                      f'stroke-linejoin="round" stroke-linecap="round"{dash_attr}>{title}</path>')
            hover_offset = 0.0
        hover = {"i": s.revision, "l": s.label, "o": round(hover_offset, 2),
                 "x": compact([x for x, _ in kept]), "y": compact([y for _, y in kept])}
        drawn.append((markup, hover))
    return drawn


def _category(x: float | str, chart: Chart) -> str:
    return x if isinstance(x, str) else format_number(x)

def _legend_entries(chart: Chart, limit: int) -> list:
    entries = list(dict.fromkeys((s.revision, s.label, s.source, s.field) for s in chart.series))
    return entries[:limit] + ([("more", len(entries) - limit)] if len(entries) > limit else [])


def _legend(entries: list, width: int, top: float, template: str = "line") -> tuple:
    if not entries:
        return "", 0
    sources = list(dict.fromkeys((e[2], e[3]) for e in entries if e[0] != "more"))
    parts = ['<g class="legend">']
    x: float = LEFT
    y = top
    for entry in entries:
        if entry[0] == "more":
            text = f"and {entry[1]} more (see the legend at the top of the page)"
            item_w = len(text) * CHAR_PX
            if x + item_w > width - RIGHT and x > LEFT:
                x, y = LEFT, y + 18
            parts.append(f'<text x="{x:.1f}" y="{y + 4:.1f}" fill="#666">{escape(text)}</text>')
            continue
        index, label, source, column = entry
        colour, dash = style_of(index)
        if len(sources) > 1:
            dash = DASHES[sources.index((source, column)) % len(DASHES)]
        item_w = 26 + len(label) * CHAR_PX + 16
        if x + item_w > width - RIGHT and x > LEFT:
            x, y = LEFT, y + 18
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        if template == "bar":
            mark = f'<rect x="{x + 4:.1f}" y="{y - 5:.1f}" width="12" height="10" fill="{colour}"/>'
        elif template == "scatter":
            mark = f'<circle cx="{x + 10:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}"/>'
        else:
            mark = (f'<line x1="{x:.1f}" x2="{x + 20:.1f}" y1="{y:.1f}" y2="{y:.1f}" stroke="{colour}" '
                    f'stroke-width="2.5"{dash_attr}/>')
        parts.append(f'<g class="lg" data-i="{index}" data-exp="{escape(label)}">{mark}'
                     f'<text x="{x + 26:.1f}" y="{y + 4:.1f}" fill="#222">{escape(label)}</text></g>')
        x += item_w
    parts.append("</g>")
    return "".join(parts), y - top + 18

