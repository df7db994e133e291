"""`git exp plots show|diff` end to end: real experiments, the page, --json and --md."""
from __future__ import annotations

import json
import re
import struct
import zlib

import pytest

# The stage: a python one-liner that reads lr from params.yaml and logs a curve.
LOG_CMD = ("python3 -c \"import re; lr = float(re.search('lr: *([0-9.]+)', open('params.yaml').read())[1]); "
           "open('logs.csv', 'w').write('epoch,loss,acc\\n' + ''.join("
           "f'{e},{round(1 / (1 + lr * e), 4)},{round(1 - 0.5 / (1 + lr * e), 4)}\\n' for e in range(1, 6)))\"")


def pipeline(plot_options: dict | None = None, cache: bool = False) -> str:
    options = {"cache": cache, "x": "epoch", "y": "loss"}
    options.update(plot_options or {})
    doc = {"stages": {"train": {"cmd": LOG_CMD, "deps": [], "params": ["lr"],
                                "plots": [{"logs.csv": options}]}}}
    return json.dumps(doc, indent=2)   # JSON is YAML: no quoting puzzles around the one-liner


@pytest.fixture
def ml(committed):
    committed.gen({"params.yaml": "lr: 0.1\n", "exp.yaml": pipeline()})
    committed.commit("pipeline")
    return committed


def png(width: int = 4, height: int = 3, rgb=(200, 80, 40)) -> bytes:
    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def plots_json(project, *args) -> dict:
    return json.loads(project.exp("plots", *args, "--json").stdout)


def test_diff_json_has_one_series_per_experiment_from_real_runs(ml):
    names = ["slow", "mid", "fast"]
    for name, lr in zip(names, ("0.05", "0.2", "0.8")):
        ml.exp("run", "-n", name, "-S", f"lr={lr}")
    doc = plots_json(ml, "diff")
    assert [r["name"] for r in doc["revisions"]] == ["workspace", "fast", "mid", "slow"]  # newest first
    (plot,) = doc["plots"]
    assert (plot["id"], plot["x"], plot["template"]) == ("logs.csv:loss", "epoch", "line")
    assert [s["name"] for s in plot["series"]] == ["workspace", "fast", "mid", "slow"]
    assert all(s["points"] == 5 for s in plot["series"])
    assert plot["missing"] == []
    values = plot["vega_lite"]["data"]["values"]
    slow = [v["y"] for v in values if v["experiment"] == "slow"]
    assert slow == [round(1 / (1 + 0.05 * e), 4) for e in range(1, 6)]
    refs = dict(reversed(line.split()) for line in
                ml.git("for-each-ref", "--format=%(objectname) %(refname:lstrip=3)", "refs/exps/").splitlines())
    assert {s["name"]: s["rev"] for s in plot["series"][1:]} == refs
    # The page of the same revisions: every experiment drawn, in a folder Git ignores.
    proc = ml.exp("plots", "diff")
    assert proc.stdout == ".git-exp/plots/index.html\n"
    html = (ml.path / ".git-exp/plots/index.html").read_text()
    drawn = re.findall(r'<path class="s" data-i="\d+" data-exp="([^"]+)"', html)
    assert sorted(drawn) == sorted(["workspace", *names])
    status = ml.git("status", "--porcelain", "--untracked-files=all", "--ignored=no")
    assert ".git-exp" not in status and "logs.csv" in status   # the run's results, not the page
    # A later run does not record the page in its experiment.
    ml.exp("run", "-n", "after", "-S", "lr=0.3")
    sha = ml.git("rev-parse", f"refs/exps/{ml.head()}/after").strip()
    assert ".git-exp" not in ml.git("ls-tree", "-r", "--name-only", sha)


def test_show_page_is_self_contained_and_legible(ml):
    ml.gen({"logs.csv": "epoch,loss\n1,0.5\n2,0.25\n"})
    ml.exp("plots", "show")
    html = (ml.path / ".git-exp/plots/index.html").read_text()
    # Nothing is fetched: no external script, style sheet, font, image or frame.
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "<link" not in html and "@import" not in html and "url(" not in html
    assert "<title>loss</title>" not in html   # a series' <title> is its name, the chart's is text
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="c0"' in html
    assert ">epoch</text>" in html and ">loss</text>" in html   # axis titles
    assert '<li data-i="0" data-exp="workspace"' in html       # the legend
    assert (ml.path / ".git-exp/plots/.gitignore").read_text().endswith("*\n")


def test_missing_file_is_listed_on_the_page_and_in_json(ml):
    # HEAD has no logs.csv: the pipeline was committed before any run.
    ml.exp("run", "-n", "one")
    doc = plots_json(ml, "diff", "HEAD", "one")
    (plot,) = doc["plots"]
    assert [s["name"] for s in plot["series"]] == ["one"]
    assert plot["missing"] == [{"name": "HEAD", "rev": ml.head(), "reason": "no logs.csv"}]
    ml.exp("plots", "diff", "HEAD", "one")
    html = (ml.path / ".git-exp/plots/index.html").read_text()
    assert "Missing (no logs.csv): <b>HEAD</b>" in html


def test_missing_column_is_listed_for_that_revision(ml):
    ml.exp("run", "-n", "one")
    ml.gen({"logs.csv": "epoch,acc\n1,0.5\n"})
    (plot,) = plots_json(ml, "diff", "workspace", "one")["plots"]
    assert [s["name"] for s in plot["series"]] == ["one"]
    assert plot["missing"] == [{"name": "workspace", "rev": None, "reason": "no column 'loss' in logs.csv"}]


def test_malformed_data_is_an_error_naming_file_row_and_column(ml):
    ml.gen({"logs.csv": "epoch,loss\n1,0.5\n2,oops\n"})
    proc = ml.exp("plots", "show", check=False)
    assert proc.returncode == 1
    assert proc.stderr.startswith(
        "error: logs.csv:3: column 2 'loss': 'oops' is not a number (in the workspace)\n")
    assert not (ml.path / ".git-exp/plots/index.html").exists()


def test_a_typo_in_y_is_an_error_pointing_into_exp_yaml(ml):
    ml.gen({"exp.yaml": pipeline({"y": "los"}), "logs.csv": "epoch,loss\n1,0.5\n"})
    proc = ml.exp("plots", "show", check=False)
    assert proc.returncode == 1
    assert re.match(r"error: exp.yaml:\d+:\d+: no column 'los' in logs.csv \(did you mean 'loss'\?\)",
                    proc.stderr)


def test_without_y_every_numeric_column_gets_a_chart_and_targets_pick_files(ml):
    ml.gen({"exp.yaml": pipeline({"y": None}).replace(',\n            "y": null', ""),
            "logs.csv": "epoch,loss,acc,note\n1,0.5,0.7,a\n2,0.4,0.8,b\n",
            "other.tsv": "a\tb\n1\t2\n"})
    doc = plots_json(ml, "show")
    assert [p["id"] for p in doc["plots"]] == ["logs.csv:loss", "logs.csv:acc"]
    doc = plots_json(ml, "show", "other.tsv")     # declared nowhere: default options
    assert [(p["id"], p["x_label"]) for p in doc["plots"]] == [("other.tsv:a", "row"), ("other.tsv:b", "row")]


def test_images_side_by_side_and_missing_ones_listed(ml):
    doc = {"stages": {"train": {"cmd": "true", "plots": ["plots"]}}}
    ml.gen({"exp.yaml": json.dumps(doc), "plots": {"cm.png": png(), "pr.json": '[{"p": 1}, {"p": 0.5}]'}})
    first = ml.commit("first images")
    ml.gen({"plots": {"cm.png": png(rgb=(0, 0, 255)), "roc.svg": '<svg xmlns="http://www.w3.org/2000/svg"/>'}})
    doc = plots_json(ml, "diff", first, "workspace")
    assert [(i["file"], [x["name"] for x in i["images"]], [m["name"] for m in i["missing"]])
            for i in doc["images"]] == [("plots/cm.png", [first, "workspace"], []),
                                        ("plots/roc.svg", ["workspace"], [first])]
    assert [p["id"] for p in doc["plots"]] == ["plots/pr.json:p"]
    written = doc["images"][0]["images"][0]["path"]
    assert open(written, "rb").read() == png()
    ml.exp("plots", "diff", first, "workspace")
    html = (ml.path / ".git-exp/plots/index.html").read_text()
    assert html.count('<img src="data:image/png;base64,') == 2
    assert html.count('<img src="data:image/svg+xml;base64,') == 1


def test_cached_plots_file_is_read_from_the_data_cache(ml):
    ml.gen({"exp.yaml": pipeline(cache=True)})
    ml.commit("cache the log")
    ml.exp("run", "-n", "cached")
    sha = ml.git("rev-parse", f"refs/exps/{ml.head()}/cached").strip()
    assert "logs.csv" not in ml.git("ls-tree", "--name-only", sha).split()
    (plot,) = plots_json(ml, "diff", "cached")["plots"]
    assert [(s["name"], s["points"]) for s in plot["series"]] == [("cached", 5)]


def test_md_links_chart_files_and_tabulates_series(ml):
    ml.exp("run", "-n", "one")
    out = ml.exp("plots", "diff", "one", "--md", "-o", "report").stdout
    assert "![loss](report/charts/00-logs.csv_loss.svg)" in out
    assert "| one | 5 | 5 | 0.6667 | 0.6667 | 0.9091 |" in out
    chart = (ml.path / "report/charts/00-logs.csv_loss.svg").read_text()
    assert chart.startswith('<svg xmlns="http://www.w3.org/2000/svg"') and 'data-exp="one"' in chart
    assert not (ml.path / "report/.gitignore").exists()    # -o DIR is the user's folder


def test_output_folder_option_and_errors(ml, tmp_path):
    ml.gen({"logs.csv": "epoch,loss\n1,0.5\n2,0.25\n"})
    out = tmp_path / "elsewhere"
    proc = ml.exp("plots", "show", "-o", str(out))
    assert proc.stdout.strip() == str(out / "index.html")
    assert (out / "index.html").exists()
    proc = ml.exp("plots", "diff", "nope", check=False)
    assert proc.returncode == 1 and "error: 'nope' is neither an experiment nor a revision" in proc.stderr
    proc = ml.exp("plots", "show", "--open", "--json", check=False)
    assert proc.returncode == 129


def test_no_plots_declared(committed):
    committed.gen({"exp.yaml": "stages:\n  s:\n    cmd: 'true'\n"})
    proc = committed.exp("plots", "show", check=False)
    assert proc.returncode == 1 and "error: no plots to show: exp.yaml declares none" in proc.stderr


def test_names_cannot_break_out_of_the_page_markup():
    from git_exp.plots.charts import Chart, PlotResult, Revision, Section, Series
    from git_exp.plots.page import build_page
    hostile = 'a</script><!--<script>"&'
    revisions = [Revision(hostile, None, "workspace")]
    chart = Chart("c", "logs.csv", hostile, "line", None, hostile, hostile, False,
                  [Series(0, hostile, hostile, "logs.csv", hostile, [0.0, 1.0], [1.0, 2.0])])
    html = build_page(PlotResult(revisions, [Section("logs.csv", "data", [chart])]), title=hostile)
    assert html.count("</script>") == 2          # the data's and the code's own end tags
    assert "<!--" not in html
    data = html.split('<script type="application/json" id="plot-data">', 1)[1].split("</script>", 1)[0]
    assert "<" not in data and json.loads(data)["c0"]["yl"] == hostile
