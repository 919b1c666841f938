"""Plain-text, CSV, JSON and Markdown rendering of query results for the command line."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime
from typing import Any, Dict, List, Sequence

MAX_CELL = 60
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# backslash first; `<` and `&` so that a value is never read as HTML where the table is rendered
MARKDOWN_ESCAPES = (("\\", "\\\\"), ("|", "\\|"), ("&", "&amp;"), ("<", "&lt;"))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    text = str(value).replace("\n", " ")
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join(line.rstrip() for line in lines)


def as_csv(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    writer.writerows([[("" if v is None else v) for v in row] for row in rows])
    return buffer.getvalue()


def as_json(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    records: List[Dict[str, Any]] = [dict(zip(columns, row)) for row in rows]
    return json.dumps(records, default=str, ensure_ascii=False, indent=2)


def as_markdown(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table (for a pull request or a ticket): values in full, on one line."""
    def cell(value: Any) -> str:
        text = "" if value is None else value.isoformat() if isinstance(value, datetime) else str(value)
        text = CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", " ".join(text.split()))
        for character, escaped in MARKDOWN_ESCAPES:
            text = text.replace(character, escaped)
        return text

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def render(columns: Sequence[str], rows: Sequence[Sequence[Any]], output: str) -> str:
    return {"table": table, "csv": as_csv, "json": as_json, "markdown": as_markdown}[output](columns, rows)
