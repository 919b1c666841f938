"""What every notebook needs: where the history is, a read-only connection, and query results as plain rows.

The notebooks read the DuckDB file that `segment-history run` / `segment-history demo` writes:

    SEGMENT_HISTORY_DUCKDB   path of the DuckDB file  (default: segment_history_demo.duckdb, in the current dir)
    SEGMENT_HISTORY_DATASET  dataset (schema) name     (default: segment_config)

SQL in the notebooks names tables as `{ds}.table`; `History.rows` fills in the quoted dataset name.
Rows come back as dicts of JSON-friendly values (timestamps as ISO strings), which both altair charts and
marimo tables take as they are; no dataframe library is needed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Dict, Iterable, List, Optional, Sequence

import duckdb

from segment_source.endpoints import history_tables

DEFAULT_DUCKDB = "segment_history_demo.duckdb"
DEFAULT_DATASET = "segment_config"

# Configuration tables: SCD2 history, current rows have `_dlt_valid_to IS NULL` (from the source's endpoint table).
CONFIG_TABLES = tuple(history_tables())


@dataclass
class History:
    """A read-only DuckDB connection to the history, and the dataset the tables live in."""

    path: str
    dataset: str
    con: Optional[duckdb.DuckDBPyConnection]
    problem: Optional[str] = None  # why there is nothing to show (no file, no dataset), for the notebook's header

    @property
    def ready(self) -> bool:
        return self.con is not None and self.problem is None

    def sql(self, text: str) -> str:
        return text.replace("{ds}", quote_identifier(self.dataset))

    def rows(self, text: str, params: Optional[Sequence[Any]] = None) -> List[Dict[str, Any]]:
        """Runs SQL (with `{ds}` for the dataset and `?` parameters) and returns its rows as dicts."""
        assert self.con is not None, self.problem
        cursor = self.con.execute(self.sql(text), list(params or []))
        columns = [d[0] for d in cursor.description]
        return [{c: plain(v) for c, v in zip(columns, row)} for row in cursor.fetchall()]

    def value(self, text: str, params: Optional[Sequence[Any]] = None) -> Any:
        rows = self.rows(text, params)
        return next(iter(rows[0].values())) if rows else None

    def tables(self) -> List[str]:
        rows = self.rows(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ? ORDER BY table_name",
            [self.dataset],
        )
        return [r["table_name"] for r in rows]

    def has_table(self, table: str) -> bool:
        return table in self.tables()

    def workspaces(self) -> Dict[str, str]:
        """{"Name (id)": id} for every workspace in the dataset, the most recently snapshotted first."""
        rows = self.rows("""
            SELECT s.workspace_id AS id, max(s.started_at) AS last_run, any_value(w.name) AS name
            FROM {ds}.snapshots s
            LEFT JOIN {ds}.workspace w ON w.id = s.workspace_id AND w._dlt_valid_to IS NULL
            GROUP BY s.workspace_id ORDER BY last_run DESC""")
        return {f"{r['name'] or 'workspace'} ({r['id']})": r["id"] for r in rows}


def settings() -> tuple[str, str]:
    """(DuckDB path, dataset) from the environment, with the demo's defaults."""
    path = os.environ.get("SEGMENT_HISTORY_DUCKDB") or DEFAULT_DUCKDB
    dataset = os.environ.get("SEGMENT_HISTORY_DATASET") or DEFAULT_DATASET
    return path, dataset


def open_history(path: Optional[str] = None, dataset: Optional[str] = None) -> History:
    """Opens the history read only. A missing file or dataset is reported in `problem`, not raised, so a
    notebook can say what to do instead of showing a traceback."""
    default_path, default_dataset = settings()
    path = path or default_path
    dataset = dataset or default_dataset
    if not os.path.exists(path):
        return History(path, dataset, None, problem=(
            f"No history at `{os.path.abspath(path)}`. Run `segment-history demo` in this directory, or set "
            "`SEGMENT_HISTORY_DUCKDB` to the DuckDB file `segment-history run` writes."))
    con = duckdb.connect(path, read_only=True)
    history = History(path, dataset, con)
    if "config_changes" not in history.tables():
        history.problem = (
            f"`{path}` has no dataset `{dataset}` with a `config_changes` table: set `SEGMENT_HISTORY_DATASET` "
            "to the `--dataset-name` of your runs.")
    return history


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def plain(value: Any) -> Any:
    """A JSON-friendly version of a DuckDB value (altair serialises chart data as JSON)."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def parse_json(value: Any) -> Any:
    """JSON columns come back from DuckDB as text."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def short(value: Any, width: int = 80) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def count_by(rows: Iterable[Dict[str, Any]], *keys: str) -> List[Dict[str, Any]]:
    """Counts rows per combination of `keys`: [{key1: ..., key2: ..., "n": count}], largest first."""
    counts: Dict[tuple, int] = {}
    for row in rows:
        group = tuple(row.get(k) for k in keys)
        counts[group] = counts.get(group, 0) + 1
    out = [dict(zip(keys, group), n=n) for group, n in counts.items()]
    return sorted(out, key=lambda r: (-r["n"], [str(r[k]) for k in keys]))


def count_axis(rows: Iterable[Dict[str, Any]], value: str, *by: str) -> Any:
    """An axis for a count that is summed per `by` (the bar's category): whole numbers only, where
    vega-lite would put ticks at 0, 0.5, 1 and label them 0, 1, 1."""
    import altair as alt

    totals: Dict[tuple, float] = {}
    for row in rows:
        group = tuple(row.get(k) for k in by)
        totals[group] = totals.get(group, 0) + (row.get(value) or 0)
    largest = int(max(totals.values(), default=0))
    step = max(1, -(-largest // 8))  # at most ~8 ticks
    return alt.Axis(format="d", values=list(range(0, largest + step + 1, step)))


def workspace_dropdown(history: History) -> Any:
    """The workspace picker every notebook starts with, on the first workspace; the notebook stops with
    the reason when there is no history to read."""
    import marimo as mo  # only the notebooks need marimo; the rest of this module runs without it

    mo.stop(not history.ready, mo.callout(mo.md(history.problem or ""), kind="warn"))
    workspaces = history.workspaces()
    return mo.ui.dropdown(options=workspaces, value=next(iter(workspaces), None), label="Workspace")


def selected_workspace(picker: Any) -> str:
    """The picked workspace id; the notebook stops when no snapshot has been loaded yet."""
    import marimo as mo

    mo.stop(picker.value is None, mo.callout(mo.md("No snapshot has been loaded yet."), kind="warn"))
    return picker.value


def enabled_bars(rows: List[Dict[str, Any]], category: str, unit: str, title: str) -> Any:
    """Counts per `category`, one bar each, split by `state` (enabled / disabled)."""
    import altair as alt

    return (
        alt.Chart(alt.Data(values=rows), title=title)
        .mark_bar()
        .encode(
            y=alt.Y(f"{category}:N", sort="-x", title=None),
            x=alt.X("sum(n):Q", title=unit, axis=count_axis(rows, "n", category)),
            color=alt.Color("state:N", scale=alt.Scale(domain=["enabled", "disabled"],
                                                       range=["#4c78a8", "#e45756"]), title=None),
            tooltip=[f"{category}:N", "state:N", "n:Q"],
        )
        .properties(width=520, height=alt.Step(20))
    )
