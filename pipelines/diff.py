"""`segment-history diff FROM [TO]`: the net difference between the workspace at two moments.

Read from the history tables alone (no API call, no local state): the rows of each history table as of FROM
and as of TO, paired by record key and compared field by field with the change log's own diff
(`history.diff_versions`). It is a net difference: a resource removed and re-added in between with the same
fields shows nothing, a field changed and changed back neither.

With SCD2 history only the versions that differ are read: a version valid at both moments is the same row
at both. Where every run appended its full snapshot (files), both snapshots are read (`queries.as_of`) and
rows equal in both are dropped before their JSON is parsed.
"""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from segment_source.endpoints import history_tables

from . import output, queries
from .history import Names, Snapshot, comparable_row, diff_versions, fetch_dicts, is_bookkeeping, table_exists
from .reading import History, open_history
from .runner import RunOptions

COLUMNS = ["resource_type", "resource_id", "resource_name", "change_kind", "field_path", "old_value", "new_value",
           "workspace_id"]


def register(commands: Any, add_destination_options: Callable[[argparse.ArgumentParser], None],
             run_options: Callable[[argparse.Namespace], RunOptions]) -> None:
    """Adds `diff` to the command line; `pipelines.cli` passes its destination options and how it makes
    `RunOptions` of them (this module does not import the command line that imports it)."""
    parser = commands.add_parser("diff", help="what differs in the workspace between two moments")
    parser.add_argument("start", metavar="FROM", help="ISO date or timestamp (UTC), or 7d / 12h / 30m ago")
    parser.add_argument("end", metavar="TO", nargs="?", default=None, help="as FROM (default: now)")
    parser.add_argument("--table", action="append", default=None,
                        help="a history table, e.g. destinations (repeat it, or separate with commas; default: all)")
    parser.add_argument("--workspace", default=None, help="workspace id")
    parser.add_argument("--output", choices=["table", "csv", "json", "markdown"], default="table")
    add_destination_options(parser)
    parser.set_defaults(handler=lambda args: command_diff(args, run_options(args)))


def command_diff(args: argparse.Namespace, options: RunOptions) -> int:
    now = datetime.now(timezone.utc)
    start = queries.parse_moment(args.start, now)
    end = queries.parse_moment(args.end, now) if args.end else now
    if start > end:
        raise ValueError(f"FROM ({_shown(start)}) is after TO ({_shown(end)}): give the earlier moment first.")
    tables = chosen_tables(args.table)
    with open_history(options) as history:
        rows = workspace_diff(history, start, end, tables, args.workspace)
    if args.output == "table" and not rows:
        print(f"No differences between {_shown(start)} and {_shown(end)}.")
        return 0
    print(output.render(COLUMNS, rows, args.output), end="")
    if args.output == "table":
        print(summary(rows, start, end))
    return 0


def chosen_tables(values: Optional[Sequence[str]]) -> List[str]:
    """The `--table` values (repeated or comma-separated), every history table when there are none."""
    names = [name.strip() for value in values or [] for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in history_tables()]
    if unknown:
        raise ValueError(f"Not a history table: {', '.join(unknown)}. Choose among: {', '.join(history_tables())}.")
    return [table for table in history_tables() if table in names] if names else history_tables()


def workspace_diff(history: History, start: datetime, end: datetime, tables: Sequence[str],
                   workspace: Optional[str] = None) -> List[List[Any]]:
    """One row per resource added or removed and per field modified between `start` and `end` (later)."""
    changes: List[Dict[str, Any]] = []
    for workspace_id in _workspaces(history.sql, start, workspace):
        window = Snapshot(run_id="", workspace_id=workspace_id, boundary=end, previous=start, mode=history.mode)
        names = Names(history.sql, workspace_id, end, history.mode)
        for table in tables:
            if table_exists(history.sql, table):
                old, new = _versions(history, table, start, end, workspace_id)
                changes += diff_versions(table, old, new, window, names)
    return [[change[column] for column in COLUMNS] for change in changes]


def _versions(history: History, table: str, start: datetime, end: datetime, workspace_id: str) -> Tuple[Dict, Dict]:
    """The rows as of `start` and as of `end` that are not the same row at both, by record key."""
    if history.mode == "snapshots":
        old, new = (_as_of(history, table, moment, workspace_id) for moment in (start, end))
        same = {key for key in set(old) & set(new) if _content(old[key]) == _content(new[key])}
        old, new = ({k: row for k, row in rows.items() if k not in same} for rows in (old, new))
    else:
        select = f"SELECT * FROM {history.sql.make_qualified_table_name(table)} WHERE workspace_id = %s AND "
        # valid at `start` and ended by `end`; valid at `end` and begun after `start`
        old = _by_key(fetch_dicts(history.sql, select + "_dlt_valid_from <= %s AND _dlt_valid_to > %s"
                                  " AND _dlt_valid_to <= %s", workspace_id, start, start, end))
        new = _by_key(fetch_dicts(history.sql, select + "_dlt_valid_from > %s AND _dlt_valid_from <= %s"
                                  " AND (_dlt_valid_to IS NULL OR _dlt_valid_to > %s)", workspace_id, start, end, end))
    json_columns = history.json_columns(table)
    return tuple({k: comparable_row(row, json_columns) for k, row in rows.items()} for rows in (old, new))


def _as_of(history: History, table: str, moment: datetime, workspace_id: str) -> Dict[str, Dict[str, Any]]:
    columns, rows = queries.as_of(history.sql, moment, table, workspace_id, history.mode)
    return _by_key([dict(zip(columns, row)) for row in rows])


def _by_key(rows: List[Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    return {row["record_key"]: row for row in rows}


def _content(row: Dict[str, Any]) -> Dict[str, Any]:
    return {column: value for column, value in row.items() if not is_bookkeeping(column)}


def _workspaces(sql: Any, start: datetime, workspace: Optional[str]) -> List[str]:
    """The workspaces to compare; an error when the history knows nothing of them at `start`."""
    if not table_exists(sql, "snapshots"):
        raise ValueError("No snapshot in this dataset: run `segment-history run` first, or check --dataset-name.")
    first = dict(sql.execute_sql(
        f"SELECT workspace_id, min(started_at) FROM {sql.make_qualified_table_name('snapshots')} GROUP BY workspace_id"
    ) or [])
    if workspace is not None and workspace not in first:
        known = ", ".join(sorted(first))
        raise ValueError(f"No snapshot of workspace {workspace!r} in this dataset; its workspaces: {known}.")
    chosen = {w: taken for w, taken in first.items() if workspace in (None, w)}
    if all(_utc(taken) > start for taken in chosen.values()):
        earliest = min(_utc(taken) for taken in chosen.values())
        raise ValueError(f"No history at {_shown(start)}: the first snapshot was taken at {_shown(earliest)};"
                         " choose a later FROM.")
    return sorted(chosen)


def summary(rows: Sequence[Sequence[Any]], start: datetime, end: datetime) -> str:
    kinds: Dict[str, set] = {"added": set(), "removed": set(), "modified": set()}
    for row in rows:
        kinds[row[COLUMNS.index("change_kind")]].add((row[0], row[1], row[-1]))
    fields = sum(1 for row in rows if row[COLUMNS.index("change_kind")] == "modified")
    return (f"Between {_shown(start)} and {_shown(end)}: {len(kinds['added'])} added, {len(kinds['removed'])} removed,"
            f" {len(kinds['modified'])} modified ({fields} fields).")


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _shown(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
