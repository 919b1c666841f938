"""How the command line prints results (`pipelines.output`): the terminal table, CSV, JSON and Markdown, and
control characters from a workspace that must not reach a terminal as such."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone

import pytest

from pipelines.output import MAX_CELL, as_csv, as_json, as_markdown, printable, render, table

WHEN = datetime(2026, 3, 1, 12, 30, 5, tzinfo=timezone.utc)
COLUMNS = ["resource_name", "change_kind", "new_value"]


@pytest.mark.parametrize("text, shown", [
    ("plain", "plain"),
    ("tab\there", "tab\\there"),
    ("line\nbreak\r", "line\\nbreak\\r"),
    ("\x1b[31mred", "\\x1b[31mred"),  # an ANSI colour cannot recolour the terminal
    ("\u202eevil", "\\u202eevil"),  # a bidirectional override cannot reorder the line
    ("\u2028sep", "\\u2028sep"),
    ("café ✓", "café ✓"),  # printable non-ASCII stays as it is
])
def test_printable_escapes_control_characters_only(text, shown):
    assert printable(text) == shown


def test_table_aligns_columns_under_a_rule_and_shows_empty_for_null():
    assert table(["name", "n"], [["Web", 1], ["Mobile app", None]]).splitlines() == [
        "name        n",
        "----------  -",
        "Web         1",
        "Mobile app",
    ]


def test_table_cells_are_one_short_line():
    long = "x" * (MAX_CELL + 10)
    (cell,) = table(["v"], [[long]]).splitlines()[2:]
    assert cell == "x" * (MAX_CELL - 1) + "…"
    assert table(["when", "settings"], [[WHEN, {"a": [1, 2]}]]).splitlines()[2] == '2026-03-01 12:30:05  {"a":[1,2]}'


def test_csv_carries_values_exactly_with_crlf_records():
    rows = [["Web\nprod", "modified", '{"a": 1}'], [None, "added", "x,y"]]
    text = as_csv(COLUMNS, rows)
    assert text.endswith("\r\n")
    assert list(csv.reader(io.StringIO(text, newline=""))) == [COLUMNS, ["Web\nprod", "modified", '{"a": 1}'],
                                                               ["", "added", "x,y"]]


def test_json_gives_json_columns_as_values_and_keeps_other_text_as_text():
    rows = [["Web", "modified", '{"a": 1}'], ["App", "added", "not json"], ["\x1b", "removed", None]]
    records = json.loads(as_json(COLUMNS, rows, json_columns={"new_value"}))
    assert records == [
        {"resource_name": "Web", "change_kind": "modified", "new_value": {"a": 1}},
        {"resource_name": "App", "change_kind": "added", "new_value": "not json"},
        {"resource_name": "\x1b", "change_kind": "removed", "new_value": None},  # exact, not escaped
    ]
    assert json.loads(as_json(["when"], [[WHEN]])) == [{"when": "2026-03-01 12:30:05+00:00"}]


def test_markdown_cells_stay_on_one_line_and_cannot_break_the_table_or_become_html():
    text = as_markdown(["name", "value"], [["a|b", "<script>&\nnext"], [None, WHEN]])
    assert text.splitlines() == [
        "| name | value |",
        "|---|---|",
        "| a\\|b | &lt;script>&amp; next |",
        "|  | 2026-03-01T12:30:05+00:00 |",
    ]


@pytest.mark.parametrize("output, ending", [("table", "\n"), ("markdown", "\n"), ("json", "]\n"), ("csv", "\r\n")])
def test_render_returns_the_whole_output_with_its_line_end(output, ending):
    rendered = render(["n"], [[1]], output)
    assert rendered.endswith(ending) and not rendered.endswith("\n\n")

