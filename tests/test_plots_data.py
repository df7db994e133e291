"""Plots data: every file format into tables, and tables into charts for every option."""
from __future__ import annotations

import json

import pytest

from git_exp.errors import ExpError
from git_exp.plots import scales, svg, svgpaths, vega
from git_exp.plots.charts import PlotSpec, Revision, build_section, template_of
from git_exp.plots.data import kind_of, parse_table

CSV = b"epoch,loss,acc,phase\n1,0.9,0.5,warmup\n2,0.7,0.6,train\n3,0.4,0.8,train\n"


def numbers(table, name):
    return table.numbers(name)


# ---------------------------------------------------------------- formats

def test_csv_columns_in_file_order_with_numbers_on_demand():
    table = parse_table(CSV, "logs.csv")
    assert table.fields == ["epoch", "loss", "acc", "phase"]
    assert table.rows == 3
    assert numbers(table, "loss") == [0.9, 0.7, 0.4]
    assert table.is_numeric("epoch") and not table.is_numeric("phase")
    assert table.categories("phase") == ["warmup", "train", "train"]


def test_tsv_bom_crlf_blank_lines_and_quoted_cells():
    data = '\ufeffstep\tloss\r\n0\t1.5\r\n\r\n1\t"1.25"\r\n'.encode()
    table = parse_table(data, "logs.tsv")
    assert table.fields == ["step", "loss"]
    assert numbers(table, "loss") == [1.5, 1.25]


def test_short_row_has_missing_cells_empty_cells_are_missing_nan_too():
    table = parse_table(b"a,b\n1,2\n3,\n4\n5,nan\n", "x.csv")
    assert numbers(table, "b") == [2.0, None, None, None]
    assert numbers(table, "a") == [1.0, 3.0, 4.0, 5.0]


def test_csv_long_row_names_file_and_line():
    with pytest.raises(ExpError) as err:
        parse_table(b"a,b\n1,2\n1,2,3\n", "logs.csv")
    assert err.value.message == "logs.csv:3: row has 3 cells but the header names 2 columns"


def test_csv_text_in_numeric_column_names_file_line_and_column():
    table = parse_table(b"epoch,loss\n1,0.5\n2,oops\n", "logs.csv")
    with pytest.raises(ExpError) as err:
        table.numbers("loss")
    assert err.value.message == "logs.csv:3: column 2 'loss': 'oops' is not a number"


def test_csv_header_problems():
    with pytest.raises(ExpError, match=r"^logs.csv:1: column 3: 'a' is also the name of column 1$"):
        parse_table(b"a,b,a\n1,2,3\n", "logs.csv")
    with pytest.raises(ExpError, match=r"^logs.csv:1: column 2 has no name$"):
        parse_table(b"a,,c\n1,2,3\n", "logs.csv")


def test_empty_csv_is_an_empty_table():
    table = parse_table(b"", "logs.csv")
    assert (table.fields, table.rows) == ([], 0)


def test_not_utf8_names_the_line():
    with pytest.raises(ExpError, match=r"^logs.csv:2: not UTF-8 text$"):
        parse_table(b"a\n\xff\n", "logs.csv")


def test_json_list_of_records_with_nested_fields():
    data = json.dumps([{"step": 0, "train": {"loss": 1.0}}, {"step": 1, "train": {"loss": 0.5}}])
    table = parse_table(data.encode(), "logs.json")
    assert table.fields == ["step", "train.loss"]
    assert numbers(table, "train.loss") == [1.0, 0.5]


def test_json_records_under_a_key_picks_the_list_holding_the_wanted_fields():
    data = {"meta": [{"name": "x"}], "train": [{"step": 0, "loss": 1}, {"step": 1, "loss": 0.5}]}
    table = parse_table(json.dumps(data).encode(), "logs.json", wanted=("loss",))
    assert numbers(table, "loss") == [1.0, 0.5]
    assert parse_table(json.dumps(data).encode(), "logs.json").fields == ["name"]   # first list


def test_json_mapping_of_columns():
    table = parse_table(b'{"loss": [3, 2, 1], "acc": [0.1, 0.2, 0.3]}', "m.json")
    assert (table.fields, table.rows) == (["loss", "acc"], 3)
    with pytest.raises(ExpError, match="different numbers of values"):
        parse_table(b'{"loss": [3, 2, 1], "acc": [0.1]}', "m.json")


def test_json_syntax_error_is_located():
    with pytest.raises(ExpError, match=r"^logs.json:2:\d+: "):
        parse_table(b'[{"a": 1},\n {"a": }]', "logs.json")


def test_json_bad_value_names_its_line_and_record():
    table = parse_table(b'[{"loss": 1},\n {"loss": 0.5},\n {"loss": "high"}]', "logs.json")
    with pytest.raises(ExpError) as err:
        table.numbers("loss")
    assert err.value.message == "logs.json:3:11: record 3, field 'loss': 'high' is not a number"


def test_json_record_that_is_not_a_mapping():
    with pytest.raises(ExpError, match=r"^logs.json: record 2 is a list, not a mapping of fields$"):
        parse_table(b'[{"a": 1}, [1, 2]]', "logs.json")
    with pytest.raises(ExpError, match=r"expected a list of records"):
        parse_table(b'42', "logs.json")


def test_yaml_records_and_located_errors():
    text = b"train:\n  - {step: 0, loss: 1.0}\n  - {step: 1, loss: [1]}\n"
    table = parse_table(text, "logs.yaml")
    assert table.fields == ["step", "loss"]
    with pytest.raises(ExpError) as err:
        table.numbers("loss")
    assert err.value.message == "logs.yaml:3:21: record 2 under 'train', field 'loss': a list is not a number"
    with pytest.raises(ExpError, match=r"^logs.yml:2:1: did not find expected"):
        parse_table(b"- {a: 1\n", "logs.yml")


def test_booleans_are_not_numbers():
    table = parse_table(b"- {ok: true}\n- {ok: false}\n", "f.yaml")
    assert not table.is_numeric("ok")


def test_file_kinds():
    assert [kind_of(p) for p in ("a.csv", "a.TSV", "a.json", "a.yml", "a.png", "a.JPEG", "a.svg",
                                 "a.txt", "plots")] == \
        ["data", "data", "data", "data", "image", "image", "image", None, None]
    with pytest.raises(ExpError, match="cannot read plot data"):
        parse_table(b"x", "notes.txt")


# ----------------------------------------------------------------- charts

WS = Revision("workspace", None, "workspace")
A = Revision("bold-otter", "a" * 40, "experiment")
B = Revision("quick-fox", "b" * 40, "experiment")


def tables(files: dict):
    """table_of over {(revision index, path): bytes}."""
    def table_of(index, path, wanted):
        data = files.get((index, path))
        return None if data is None else parse_table(data, path, wanted)
    return table_of


def test_x_and_y_list_make_one_chart_per_column_and_one_series_per_revision():
    spec = PlotSpec("logs.csv", ("logs.csv",), {"logs.csv": ("loss", "acc")}, {"logs.csv": "epoch"},
                    title="Training")
    section = build_section(spec, [WS, A], tables({(0, "logs.csv"): CSV, (1, "logs.csv"): CSV}))
    assert [c.id for c in section.charts] == ["logs.csv:loss", "logs.csv:acc"]
    assert [c.title for c in section.charts] == ["Training: loss", "Training: acc"]
    loss = section.charts[0]
    assert [s.name for s in loss.series] == ["workspace", "bold-otter"]
    assert loss.series[1].x == [1.0, 2.0, 3.0] and loss.series[1].y == [0.9, 0.7, 0.4]
    assert (loss.x_label, loss.y_label, loss.template) == ("epoch", "loss", "line")


def test_without_y_every_numeric_column_but_x_gets_a_chart():
    spec = PlotSpec("logs.csv", ("logs.csv",), {}, {"logs.csv": "epoch"})
    section = build_section(spec, [WS], tables({(0, "logs.csv"): CSV}))
    assert [c.title for c in section.charts] == ["loss", "acc"]


def test_without_x_the_row_index_is_the_axis():
    spec = PlotSpec("logs.csv", ("logs.csv",), {"logs.csv": ("loss",)}, {})
    chart = build_section(spec, [WS], tables({(0, "logs.csv"): CSV})).charts[0]
    assert chart.series[0].x == [0.0, 1.0, 2.0]
    assert chart.x_label == "row"


def test_labels_and_title_options():
    spec = PlotSpec("logs.csv", ("logs.csv",), {"logs.csv": ("loss",)}, {"logs.csv": "epoch"},
                    title="Loss", x_label="Epoch", y_label="Log loss")
    chart = build_section(spec, [WS], tables({(0, "logs.csv"): CSV})).charts[0]
    assert (chart.title, chart.x_label, chart.y_label) == ("Loss", "Epoch", "Log loss")


def test_missing_file_and_missing_column_are_listed_not_dropped():
    other = b"epoch,acc\n1,0.5\n"
    spec = PlotSpec("logs.csv", ("logs.csv",), {"logs.csv": ("loss",)}, {"logs.csv": "epoch"})
    section = build_section(spec, [WS, A, B], tables({(0, "logs.csv"): CSV, (2, "logs.csv"): other}))
    assert [(m.name, m.reason) for m in section.missing] == [("bold-otter", "no logs.csv")]
    chart = section.charts[0]
    assert [(m.name, m.rev, m.reason) for m in chart.missing] == \
        [("quick-fox", "b" * 40, "no column 'loss' in logs.csv")]
    assert [s.name for s in chart.series] == ["workspace"]


def test_a_column_no_revision_has_is_an_error_with_a_suggestion():
    spec = PlotSpec("logs.csv", ("logs.csv",), {"logs.csv": ("los",)}, {}, where="exp.yaml:9:7")
    with pytest.raises(ExpError) as err:
        build_section(spec, [WS], tables({(0, "logs.csv"): CSV}))
    assert err.value.message == "exp.yaml:9:7: no column 'los' in logs.csv (did you mean 'loss'?)"
    assert "acc, epoch, loss, phase" in err.value.hint


def test_malformed_value_names_file_row_column_and_revision():
    bad = b"epoch,loss\n1,0.5\n2,n/a\n"
    spec = PlotSpec("logs.csv", ("logs.csv",), {"logs.csv": ("loss",)}, {})
    with pytest.raises(ExpError) as err:
        build_section(spec, [WS, A], tables({(0, "logs.csv"): CSV, (1, "logs.csv"): bad}))
    assert err.value.message == \
        "logs.csv:3: column 2 'loss': 'n/a' is not a number (in experiment bold-otter)"


def test_y_mapping_files_to_columns_is_one_chart_with_a_series_per_revision_and_file():
    train = b"step,loss\n0,1.0\n1,0.5\n"
    test = b"- {step: 0, loss: 1.2}\n- {step: 1, loss: 0.8}\n"
    spec = PlotSpec("train_vs_test", ("train.csv", "test.yaml"),
                    {"train.csv": ("loss",), "test.yaml": ("loss",)},
                    {"train.csv": "step", "test.yaml": "step"}, combined=True)
    files = {(0, "train.csv"): train, (0, "test.yaml"): test, (1, "train.csv"): train}
    section = build_section(spec, [WS, A], tables(files))
    (chart,) = section.charts
    assert [s.label for s in chart.series] == \
        ["workspace: train.csv", "workspace: test.yaml", "bold-otter: train.csv"]
    assert (chart.title, chart.y_label) == ("train_vs_test", "loss")
    assert [(m.name, m.reason) for m in section.missing] == [("bold-otter", "no test.yaml")]


def test_text_x_makes_a_categorical_axis_and_numbers_join_it_as_text():
    spec = PlotSpec("c.csv", ("c.csv",), {"c.csv": ("f1",)}, {"c.csv": "class"}, template="bar")
    files = {(0, "c.csv"): b"class,f1\ncat,0.8\ndog,0.7\n", (1, "c.csv"): b"class,f1\n3,0.5\n"}
    chart = build_section(spec, [WS, A], tables(files)).charts[0]
    assert chart.categorical
    assert chart.series[0].x == ["cat", "dog"] and chart.series[1].x == ["3"]


def test_line_points_are_joined_in_x_order_scatter_keeps_file_order():
    data = b"x,y\n3,30\n1,10\n2,20\n"
    line = PlotSpec("p.csv", ("p.csv",), {"p.csv": ("y",)}, {"p.csv": "x"})
    dots = PlotSpec("p.csv", ("p.csv",), {"p.csv": ("y",)}, {"p.csv": "x"}, template="scatter")
    assert build_section(line, [WS], tables({(0, "p.csv"): data})).charts[0].series[0].x == [1.0, 2.0, 3.0]
    assert build_section(dots, [WS], tables({(0, "p.csv"): data})).charts[0].series[0].x == [3.0, 1.0, 2.0]


def test_templates_and_their_dvc_names():
    assert [template_of(t, "", "p") for t in (None, "linear", "smooth", "scatter", "bar_horizontal")] == \
        ["line", "line", "line", "scatter", "bar"]
    with pytest.raises(ExpError, match=r"^exp.yaml:3:5: unknown plot template 'scater' for p "
                                       r"\(did you mean 'scatter'\?\)$"):
        template_of("scater", "exp.yaml:3:5", "p")


# ------------------------------------------------------------ drawing aids

def test_decimation_keeps_each_buckets_extremes_so_a_spike_survives():
    points = [(float(i), 0.0) for i in range(5000)]
    points[3210] = (3210.0, 99.0)
    kept = svgpaths.decimate(points, 400, lambda x: x / 5000 * 400)
    assert len(kept) <= 400
    assert (3210.0, 99.0) in kept
    assert [p[0] for p in kept] == sorted(p[0] for p in kept)
    short = points[:300]
    assert svgpaths.decimate(short, 400, lambda x: x) == short


def test_nice_domain_and_tick_labels():
    low, high, ticks = scales.nice_domain(0.013, 0.98, 6)
    assert (low, high) == (0.0, 1.0)
    assert [label for _, label in ticks] == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]
    assert [label for _, label in scales.nice_domain(0.5, 0.75, 6)[2]][:2] == ["0.50", "0.55"]
    assert scales.nice_domain(5, 5, 6)[:2] == (4.4, pytest.approx(5.6))


def test_colours_repeat_with_another_dash_after_the_palette():
    first = svg.style_of(0)
    assert first == (svg.PALETTE[0], "")
    assert svg.style_of(len(svg.PALETTE)) == (svg.PALETTE[0], svg.DASHES[1])
    assert len({svg.style_of(i) for i in range(20)}) == 20


def test_vega_lite_spec_holds_every_point_and_colours_by_experiment():
    spec = PlotSpec("logs.csv", ("logs.csv",), {"logs.csv": ("loss",)}, {"logs.csv": "epoch"})
    chart = build_section(spec, [WS, A], tables({(0, "logs.csv"): CSV, (1, "logs.csv"): CSV})).charts[0]
    vl = vega.spec(chart, [WS, A])
    assert vl["$schema"].endswith("vega-lite/v5.json")
    assert vl["mark"]["type"] == "line"
    assert vl["encoding"]["color"]["field"] == "experiment"
    assert vl["encoding"]["color"]["scale"]["domain"] == ["workspace", "bold-otter"]
    values = vl["data"]["values"]
    assert len(values) == 6
    assert values[3] == {"experiment": "bold-otter", "rev": "a" * 40, "file": "logs.csv",
                         "field": "loss", "x": 1, "y": 0.9}
