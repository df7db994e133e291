"""The HTML page: every chart and image of a PlotResult in one self-contained file.

Nothing is fetched: the charts are inline SVG (svg.py), images are data:
URIs, the style sheet and the few lines of script are in the page, and the
fonts are the system's. Without script the page still shows everything
(each series has an SVG <title>, shown on hover); with it, hovering a chart
shows the nearest point's values, hovering a legend entry picks that
revision's lines out, and clicking one hides or shows them.
"""
from __future__ import annotations

import base64
import json
from html import escape

from git_exp import __version__
from git_exp.plots import svg

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from git_exp.plots.charts import PlotResult

STYLE = """
body{margin:0;font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif;
  color:#222;background:#f6f7f9;font-size:14px}
header{background:#fff;border-bottom:1px solid #ddd;padding:14px 24px 10px}
h1{font-size:20px;margin:0 0 4px}
h2{font-size:16px;margin:26px 0 10px;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.sub{color:#666;margin:0 0 10px}
main{padding:0 24px 32px}
#legend{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:4px 16px}
#legend.many{max-height:7.6em;overflow:auto;border:1px solid #eee;border-radius:4px;padding:4px}
#legend li{display:inline-flex;align-items:center;gap:6px;cursor:pointer;user-select:none;
  padding:2px 4px;border-radius:4px}
#legend li:hover{background:#eef2f7}
#legend code,figcaption code{color:#777;font-size:12px}
.help{color:#777;font-size:12px;margin:8px 0 0}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(460px,1fr));gap:16px}
figure{margin:0;background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px}
figure svg{width:100%;height:auto;display:block}
.s{transition:opacity .12s}
.lg{cursor:pointer}
.missing{color:#8a4b00;background:#fff6e5;border:1px solid #f0d9a8;border-radius:4px;padding:6px 10px;
  margin:0 0 10px}
figure .missing{margin:6px 0 0;font-size:12px}
.warnings{margin:12px 24px 0;color:#8a4b00}
.images{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}
.images figure{max-width:420px}
.images img{max-width:100%;max-height:360px;display:block;margin:0 auto}
figcaption{margin-top:6px;font-size:13px;text-align:center}
#tip{position:fixed;z-index:10;pointer-events:none;background:#fff;border:1px solid #bbb;border-radius:4px;
  padding:6px 8px;font-size:12px;box-shadow:0 2px 8px rgba(0,0,0,.15);max-width:360px}
#tip b{display:block;margin-bottom:2px}
#tip i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px}
"""

SCRIPT = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("plot-data").textContent);
  var focus = document.getElementById("focus"), hiddenRules = document.getElementById("hidden");
  var tip = document.getElementById("tip"), hidden = {};
  function setFocus(i) {
    focus.textContent = i === null ? "" :
      '.s:not([data-i="' + i + '"]){opacity:.12}' +
      '.lg:not([data-i="' + i + '"]),#legend li:not([data-i="' + i + '"]){opacity:.45}';
  }
  function refreshHidden() {
    hiddenRules.textContent = Object.keys(hidden).map(function (i) {
      return '.s[data-i="' + i + '"]{display:none}' +
        '.lg[data-i="' + i + '"],#legend li[data-i="' + i + '"]{opacity:.35;text-decoration:line-through}';
    }).join("");
  }
  Array.prototype.forEach.call(document.querySelectorAll("#legend li, .lg"), function (el) {
    var i = el.getAttribute("data-i");
    el.addEventListener("mouseenter", function () { setFocus(i); });
    el.addEventListener("mouseleave", function () { setFocus(null); });
    el.addEventListener("click", function () {
      if (hidden[i]) { delete hidden[i]; } else { hidden[i] = true; }
      refreshHidden();
    });
  });
  function fmt(v) {
    return typeof v === "number" && !Number.isInteger(v) ? String(+v.toPrecision(6)) : String(v);
  }
  function line(label, value) {
    var div = document.createElement("div");
    div.textContent = label + ": " + value;
    return div;
  }
  Array.prototype.forEach.call(document.querySelectorAll("svg.chart"), function (chart) {
    var c = data[chart.id];
    if (!c) { return; }
    var dot = chart.querySelector(".hover-dot"), px = null, bars = c.t === "bar";
    function scale(v, s) { return s[2] + (v - s[0]) / (s[1] - s[0]) * (s[3] - s[2]); }
    function project() {   // pixel positions of the drawn points, worked out on the first hover
      px = c.s.map(function (s) {
        var xs = new Float64Array(s.x.length), ys = new Float64Array(s.y.length);
        for (var k = 0; k < s.x.length; k++) {
          xs[k] = scale(s.x[k], c.x) + s.o;
          ys[k] = scale(s.y[k], c.y);
        }
        return {xs: xs, ys: ys};
      });
    }
    function hide() {
      tip.hidden = true;
      dot.setAttribute("cx", -10);
      dot.setAttribute("cy", -10);
      setFocus(null);
    }
    chart.addEventListener("mousemove", function (ev) {
      var m = chart.getScreenCTM();
      if (!m) { return; }
      if (!px) { project(); }
      var pt = chart.createSVGPoint();
      pt.x = ev.clientX; pt.y = ev.clientY;
      var p = pt.matrixTransform(m.inverse());
      var best = -1, at = -1, limit = bars ? c.w * c.w / 4 + 4 : 24 * 24, bd = limit;
      for (var j = 0; j < c.s.length; j++) {
        if (hidden[c.s[j].i]) { continue; }
        var xs = px[j].xs, ys = px[j].ys;
        for (var k = 0; k < xs.length; k++) {
          var dx = xs[k] - p.x, dy = bars ? 0 : ys[k] - p.y, d = dx * dx + dy * dy;
          if (d < bd) { bd = d; best = j; at = k; }
        }
      }
      if (best < 0) { hide(); return; }
      var s = c.s[best];
      dot.setAttribute("cx", px[best].xs[at]);
      dot.setAttribute("cy", px[best].ys[at]);
      setFocus(String(s.i));
      tip.textContent = "";
      var head = document.createElement("b"), swatch = document.createElement("i");
      swatch.style.background = s.k;
      head.appendChild(swatch);
      head.appendChild(document.createTextNode(s.l));
      tip.appendChild(head);
      tip.appendChild(line(c.xl, c.c ? c.c[s.x[at]] : fmt(s.x[at])));
      tip.appendChild(line(c.yl, fmt(s.y[at])));
      tip.hidden = false;
      var left = ev.clientX + 14, top = ev.clientY + 14;
      if (left + tip.offsetWidth > window.innerWidth) { left = ev.clientX - tip.offsetWidth - 14; }
      if (top + tip.offsetHeight > window.innerHeight) { top = ev.clientY - tip.offsetHeight - 14; }
      tip.style.left = left + "px";
      tip.style.top = top + "px";
    });
    chart.addEventListener("mouseleave", hide);
  });
})();
"""


def build_page(result: PlotResult, title: str = "Plots") -> str:
    """The whole page for RESULT (charts.PlotResult), as text."""
    charts_data: dict = {}
    body = []
    count = 0
    for number, section in enumerate(result.sections):
        body.append(f'<section id="p{number}"><h2>{escape(section.id)}</h2>')
        if section.missing:
            body.append(_missing("Missing", section.missing))
        if section.kind == "image":
            body.append('<div class="images">')
            for image in section.images:
                uri = f"data:{image.mime};base64,{base64.b64encode(image.data).decode('ascii')}"
                colour, _ = svg.style_of(image.revision)
                body.append(f'<figure data-i="{image.revision}" data-exp="{escape(image.name)}">'
                            f'<img src="{uri}" alt="{escape(section.id)} of {escape(image.name)}">'
                            f'<figcaption><span style="color:{colour}">\u25a0</span> {escape(image.name)}'
                            f'{_sha(image.rev)}</figcaption></figure>')
            body.append("</div>")
        elif section.charts:
            body.append('<div class="grid">')
            for chart in section.charts:
                dom_id = f"c{count}"
                count += 1
                drawn = svg.render(chart, dom_id)
                hover = dict(drawn.hover, t=chart.template)
                if chart.template == "bar":
                    hover["w"] = _bar_width(drawn.hover)
                for entry in hover["s"]:
                    entry["k"] = svg.style_of(entry["i"])[0]
                charts_data[dom_id] = hover
                body.append(f"<figure>{drawn.svg}")
                if chart.missing:
                    body.append(_missing("Missing", chart.missing))
                body.append("</figure>")
            body.append("</div>")
        body.append("</section>")

    revisions = result.revisions
    legend = "".join(
        f'<li data-i="{i}" data-exp="{escape(r.name)}" title="{escape(r.describe())}">'
        f'{_swatch(i)}<span>{escape(r.name)}</span>{_sha(r.rev)}</li>'
        for i, r in enumerate(revisions))
    charts_total = sum(len(s.charts) for s in result.sections)
    images_total = sum(1 for s in result.sections if s.kind == "image")
    summary = [f"{len(revisions)} revision{'s' if len(revisions) != 1 else ''}",
               f"{charts_total} chart{'s' if charts_total != 1 else ''}"]
    if images_total:
        summary.append(f"{images_total} image{'s' if images_total != 1 else ''}")
    warnings = ""
    if result.warnings:
        warnings = '<div class="warnings">' + "".join(
            f"<p>warning: {escape(w)}</p>" for w in result.warnings) + "</div>"
    many = ' class="many"' if len(revisions) > 24 else ""   # a long legend scrolls in its own box
    summary_text = " \u00b7 ".join(summary)
    # No "<" at all inside the script element: neither "</script>" nor "<!--<script"
    # (which would make the HTML parser miss the real end tag) can appear.
    payload = json.dumps(charts_data, separators=(",", ":"), ensure_ascii=False).replace("<", "\\u003c")
    return "".join([
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{STYLE}</style>",
        '<style id="focus"></style><style id="hidden"></style></head><body>',
        f'<header><h1>{escape(title)}</h1><p class="sub">{summary_text}'
        f' \u00b7 git-exp {escape(__version__)}</p>',
        f'<ul id="legend"{many}>{legend}</ul>',
        '<p class="help">Hover a chart for values, hover a name to pick out its lines, '
        'click a name to hide or show them.</p></header>',
        warnings, "<main>", "".join(body), "</main>",
        '<div id="tip" hidden></div>',
        f'<script type="application/json" id="plot-data">{payload}</script>',
        f"<script>{SCRIPT}</script></body></html>\n"])


def _bar_width(hover: dict) -> float:
    offsets = sorted({s["o"] for s in hover["s"]})
    if len(offsets) > 1:
        return offsets[1] - offsets[0]
    x = hover["x"]
    return 0.8 * (x[3] - x[2]) / max(x[1] - x[0], 1)


def _swatch(index: int) -> str:
    colour, dash = svg.style_of(index)
    dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
    return (f'<svg width="22" height="10" aria-hidden="true"><line x1="1" x2="21" y1="5" y2="5" '
            f'stroke="{colour}" stroke-width="3"{dash_attr}/></svg>')


def _sha(rev: str | None) -> str:
    return f" <code>{rev[:7]}</code>" if rev else ""


def _missing(prefix: str, missing: list) -> str:
    """One line per reason, naming every revision it applies to."""
    by_reason: dict = {}
    for m in missing:
        by_reason.setdefault(m.reason, []).append(m.name)
    lines = [f"{prefix} ({escape(reason)}): " + ", ".join(f"<b>{escape(n)}</b>" for n in names)
             for reason, names in by_reason.items()]
    return f'<p class="missing">{"<br>".join(lines)}</p>'
