"""The plots page in a real browser: headless Chromium lays it out and runs its script.

The page is opened as a user opens it (a file:// URL, no server, no network).
A copy carries a probe script at its end that reads what Chromium actually
laid out - each series' bounding box, the legend, a tooltip after a mouse
move - into attributes that --dump-dom prints. A screenshot is taken too, at
the size of a laptop window, and checked to be an image of that size.
"""
from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess

import pytest

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser") if shutil.which(n)), None)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (.ci/run installs Debian's 'chromium')")

NAMES = ["steady-otter", "quick-fox", "bold-heron", "calm-lynx"]

PROBE = """<script>
(function () {
  var out = {boxes: {}, legend: [], chart_legend: [], errors: window.__errors};
  Array.prototype.forEach.call(document.querySelectorAll("path.s"), function (p) {
    var b = p.getBBox();
    out.boxes[p.getAttribute("data-exp") + "@" + p.ownerSVGElement.id] =
      [Math.round(b.width), Math.round(b.height), p.getTotalLength() > 0];
  });
  Array.prototype.forEach.call(document.querySelectorAll("#legend li span"), function (s) {
    out.legend.push(s.textContent);
  });
  Array.prototype.forEach.call(document.querySelectorAll("#c0 .lg text"), function (t) {
    out.chart_legend.push(t.textContent);
  });
  // Move the mouse onto the 3rd point of the second series of the first chart.
  var svg = document.getElementById("c0");
  var c = JSON.parse(document.getElementById("plot-data").textContent).c0;
  var s = c.s[1], k = 2;
  var pt = svg.createSVGPoint();
  pt.x = c.x[2] + (s.x[k] - c.x[0]) / (c.x[1] - c.x[0]) * (c.x[3] - c.x[2]);
  pt.y = c.y[2] + (s.y[k] - c.y[0]) / (c.y[1] - c.y[0]) * (c.y[3] - c.y[2]);
  var at = pt.matrixTransform(svg.getScreenCTM());
  svg.dispatchEvent(new MouseEvent("mousemove", {clientX: at.x, clientY: at.y, bubbles: true}));
  var tip = document.getElementById("tip");
  out.tip = tip.hidden ? null : tip.textContent;
  out.focus = document.getElementById("focus").textContent;
  document.querySelector('#legend li[data-i="2"]').click();
  out.hidden = getComputedStyle(document.querySelector('#c0 path.s[data-i="2"]')).display;
  document.body.setAttribute("data-probe", JSON.stringify(out));
})();
</script></body>"""

ERRORS = "<head><script>window.__errors = []; window.addEventListener('error', " \
         "function (e) { window.__errors.push(String(e.message)); });</script>"


def chromium(tmp_path, *args: str) -> str:
    proc = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'chromium-profile'}", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@pytest.fixture
def page(committed):
    """A page of four saved experiments and the workspace, each with its own curves."""
    doc = {"stages": {"train": {"cmd": "true", "plots": [
        {"logs.csv": {"cache": False, "x": "epoch", "y": ["loss", "acc"], "title": "Training"}}]}}}
    committed.gen({"exp.yaml": json.dumps(doc)})
    committed.commit("pipeline")
    for k, name in enumerate(NAMES):
        rate = 0.1 + 0.15 * k
        rows = "".join(f"{e},{1 / (1 + rate * e):.4f},{1 - 0.5 / (1 + rate * e):.4f}\n" for e in range(1, 21))
        committed.gen({"logs.csv": "epoch,loss,acc\n" + rows})
        committed.exp("save", "-n", name)
    committed.gen({"logs.csv": "epoch,loss,acc\n1,0.9,0.55\n10,0.5,0.7\n20,0.45,0.72\n"})
    committed.exp("plots", "diff")
    return committed.path / ".git-exp" / "plots" / "index.html"


def test_every_experiment_is_drawn_and_labelled_in_chromium(page, tmp_path):
    probe = page.with_name("probe.html")
    probe.write_text(page.read_text().replace("<head>", ERRORS, 1).replace("</body>", PROBE, 1))
    dom = chromium(tmp_path, "--dump-dom", probe.as_uri())
    marker = 'data-probe="'
    assert marker in dom, "the probe script did not run"
    raw = dom.split(marker, 1)[1].split('"', 1)[0]
    found = json.loads(raw.replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">")
                      .replace("&amp;", "&"))
    assert found["errors"] == []
    everyone = found["legend"]   # the workspace, then experiments newest first (ties by name)
    assert everyone[0] == "workspace" and sorted(everyone[1:]) == sorted(NAMES)
    assert found["chart_legend"] == everyone
    for chart in ("c0", "c1"):   # loss and acc
        for name in everyone:
            width, height, has_length = found["boxes"][f"{name}@{chart}"]
            assert width > 300 and height > 10 and has_length, (name, chart)
    assert found["tip"] is not None and found["tip"].startswith(everyone[1])
    assert "epoch: 3" in found["tip"]
    assert 'data-i="1"' in found["focus"]           # the hovered series is picked out
    assert found["hidden"] == "none"                # a click on a legend entry hides its lines


def test_screenshot_is_a_full_window_image(page, tmp_path):
    shot = tmp_path / "page.png"
    chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,900", page.as_uri())
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1200, 900)
    assert os.path.getsize(shot) > 20_000     # a blank page compresses to a few kilobytes
