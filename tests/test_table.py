"""Table rendering is a pure function: exact strings, no terminal."""
from __future__ import annotations

from git_exp.ui.table import Cell, Column, render, render_csv, render_markdown

COLUMNS = [Column("Experiment"), Column("acc", "right", ("cyan",)), Column("opt", style=("magenta",))]
ROWS = [["main", "0.5", "adam"], ["├── abc1234 [x]", "0.75", "sgd"], ["└── def5678 [y]", "-", "adam"]]


def test_plain_table_is_aligned_with_a_rule_under_the_header():
    assert render(ROWS, COLUMNS) == (
        "Experiment        acc  opt\n"
        "───────────────  ────  ────\n"
        "main              0.5  adam\n"
        "├── abc1234 [x]  0.75  sgd\n"
        "└── def5678 [y]     -  adam")


def test_no_trailing_spaces_and_no_escapes_without_color():
    text = render(ROWS, COLUMNS, row_styles=[("bold",), (), ()])
    assert all(line == line.rstrip() for line in text.splitlines())
    assert "\x1b" not in text


def test_color_paints_text_not_padding():
    text = render([["main", "0.5", "adam"]], COLUMNS, color=True, row_styles=[("bold",)])
    header, rule, row = text.splitlines()
    assert header == ("\x1b[1mExperiment\x1b[0m  \x1b[1;36macc\x1b[0m  \x1b[1;35mopt\x1b[0m")
    assert rule == "──────────  ───  ────"
    assert row == "\x1b[1mmain\x1b[0m        \x1b[1;36m0.5\x1b[0m  \x1b[1;35madam\x1b[0m"


def test_a_styled_cell_overrides_its_column():
    text = render([["x", Cell("failed", ("red",)), "a"]], COLUMNS, color=True)
    assert "\x1b[31mfailed\x1b[0m" in text


def test_wide_tables_split_into_blocks_repeating_the_first_column():
    columns = [Column("Experiment")] + [Column(f"metric{i}", "right") for i in range(4)]
    rows = [["workspace", "1", "2", "3", "4"], ["main", "5", "6", "7", "8"]]
    text = render(rows, columns, width=37, fit=False)   # blocks: what --all-columns gives
    assert text == (
        "Experiment  metric0  metric1  metric2\n"
        "──────────  ───────  ───────  ───────\n"
        "workspace         1        2        3\n"
        "main              5        6        7\n"
        "\n"
        "Experiment  metric3\n"
        "──────────  ───────\n"
        "workspace         4\n"
        "main              8")
    assert all(len(line) <= 37 for line in text.splitlines())
    assert render(rows, columns, width=200, fit=False) == render(rows, columns)
    # Even a terminal too narrow for one column gets every column, one per block.
    assert render(rows, columns, width=5).count("Experiment") == 4
    # Fitting comes first: number headers are cut, the numbers never.
    assert render(rows, columns, width=37) == (
        "Experiment  metr…  metr…  metr…  met…\n"
        "──────────  ─────  ─────  ─────  ────\n"
        "workspace       1      2      3     4\n"
        "main            5      6      7     8")


def test_text_columns_are_narrowed_together_with_an_ellipsis():
    columns = [Column("Experiment"), Column("acc", "right"), Column("optimizer"), Column("Notes")]
    rows = [["└── abc1234 [a-rather-long-experiment-name]", "0.123456",
             "adam-with-warmup-and-decay", "#best lr too high: diverges after epoch 3"]]
    assert render(rows, columns, width=80) == (
        "Experiment                       acc  optimizer             Notes\n"
        "──────────────────────────  ────────  ────────────────────  ────────────────────\n"
        "└── abc1234 [a-rather-lon…  0.123456  adam-with-warmup-an…  #best lr too high: …")
    text = render(rows, columns, width=80)
    assert max(len(line) for line in text.splitlines()) <= 80
    narrow = render(rows, columns, width=60)
    assert max(len(line) for line in narrow.splitlines()) <= 60
    assert "0.123456" in narrow and "…" in narrow and narrow.count("\n") == 2


def test_markdown_escapes_pipes_and_aligns_numbers_right():
    rows = [["a|b", "1", Cell("x", ("red",))]]
    assert render_markdown(rows, COLUMNS) == (
        "| Experiment | acc | opt |\n"
        "|---|---:|---|\n"
        "| a\\|b | 1 | x |")


def test_csv_quotes_what_needs_quoting():
    assert render_csv([["a,b", 'say "hi"', ""]], ["x", "y", "z"]) == (
        'x,y,z\n"a,b","say ""hi""",\n')


def test_empty_table_has_only_the_header():
    assert render([], COLUMNS) == "Experiment  acc  opt\n──────────  ───  ───"
