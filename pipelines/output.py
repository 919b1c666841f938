"""Plain-text, CSV, JSON and Markdown rendering of query results for the command line.

Values come from a workspace, so a table printed on a terminal (or pasted as Markdown) shows control
characters escaped (`\\x1b`, `\\r`, `\\t`): a resource name cannot move the cursor, recolour or rewrite the
screen. CSV and JSON carry values exactly; JSON columns are JSON values there, not strings holding JSON.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from datetime import datetime
from typing import Any, Collection, Dict, List, Sequence

MAX_CELL = 60
# characters that reorder how a terminal shows the text after them (bidirectional overrides and isolates)
BIDI_CONTROLS = {*map(chr, range(0x202A, 0x202F)), *map(chr, range(0x2066, 0x206A))}
NAMED_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
# backslash first; `<` and `&` so that a value is never read as HTML where the table is rendered
MARKDOWN_ESCAPES = (("\\", "\\\\"), ("|", "\\|"), ("&", "&amp;"), ("<", "&lt;"))


def printable(text: str) -> str:
    """`text` with every control character written as its escape sequence."""
    return "".join(_escape(ch) if _is_control(ch) else ch for ch in text)


def _is_control(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cc", "Zl", "Zp") or ch in BIDI_CONTROLS


def _escape(ch: str) -> str:
    if ch in NAMED_ESCAPES:
        return NAMED_ESCAPES[ch]
    return f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}"


def _text(value: Any) -> str:
    """A value as one piece of text: nested values as compact JSON (some drivers return them parsed)."""
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    text = printable(_text(value))
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    header = [printable(c) for c in columns]
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(header)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(header, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join(line.rstrip() for line in lines)


def as_csv(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """RFC 4180: records end with CRLF, so a value holding a lone CR or LF is quoted too."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(columns)
    writer.writerows([[("" if v is None else _text(v)) for v in row] for row in rows])
    return buffer.getvalue()


def as_json(columns: Sequence[str], rows: Sequence[Sequence[Any]], json_columns: Collection[str] = ()) -> str:
    records: List[Dict[str, Any]] = [
        {column: _json_value(value) if column in json_columns else value for column, value in zip(columns, row)}
        for row in rows
    ]
    return json.dumps(records, default=str, ensure_ascii=False, indent=2)


def _json_value(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value  # not JSON after all: kept as the text it is
    return value


def as_markdown(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table (for a pull request or a ticket): values in full, on one line."""
    def cell(value: Any) -> str:
        text = "" if value is None else value.isoformat() if isinstance(value, datetime) else _text(value)
        text = printable(" ".join(text.split()))
        for character, escaped in MARKDOWN_ESCAPES:
            text = text.replace(character, escaped)
        return text

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def render(columns: Sequence[str], rows: Sequence[Sequence[Any]], output: str,
           json_columns: Collection[str] = ()) -> str:
    """The whole output, ending with its line end. `json_columns` hold JSON (as text or already parsed):
    JSON values in `json`, compact JSON text otherwise."""
    if output == "csv":
        return as_csv(columns, rows)
    if output == "json":
        return as_json(columns, rows, json_columns) + "\n"
    return {"table": table, "markdown": as_markdown}[output](columns, rows) + "\n"
