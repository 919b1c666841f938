"""Read-side questions the command line answers: the change log, and the workspace as of a moment.

Each question takes the SQL client of a history opened with `open_history`, which reads the destination
alone (no dlt working directory, so a fresh machine or a deleted `~/.dlt` answers the same) and never
creates anything there. Each function returns (columns, rows). The SQL is the same a user would write by
hand (the README shows it), so it works on any SQL destination dlt loads into.
"""

from __future__ import annotations

import re
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator, List, Optional, Sequence, Set, Tuple

import dlt
from dlt.common.configuration.exceptions import ConfigurationException
from dlt.common.destination import Destination
from dlt.common.exceptions import MissingDependencyException

from segment_source.endpoints import history_tables

from .errors import DestinationUnavailable, NoHistory, UsageError, cause_of
from .history import Snapshot, previous_complete_snapshot, table_exists

Result = Tuple[List[str], List[Sequence[Any]]]

# the dlt schema the source's tables (and the run's own `snapshots` and `config_changes`) are loaded with
SCHEMA_NAME = "segment"
CHANGE_LOG_COLUMNS = [
    "observed_at", "resource_type", "resource_id", "resource_name", "change_kind",
    "field_path", "old_value", "new_value", "actor", "actor_email", "audit_event_type", "audit_event_id",
    "workspace_id",
]
# JSON text by definition (`null`, `"text"`, `{...}`): a JSON output carries the values they encode
CHANGE_LOG_JSON_COLUMNS = {"old_value", "new_value"}
RELATIVE = re.compile(r"^(\d+)\s*([dhm])$")


@dataclass
class History:
    sql: Any
    mode: str  # "scd2", or "snapshots" where every run appended its full snapshot (files)
    schema: dlt.Schema
    where: str

    def json_columns(self, table: str) -> Set[str]:
        columns = self.schema.tables.get(table, {}).get("columns", {})
        return {name for name, column in columns.items() if column.get("data_type") == "json"}

    def workspaces(self) -> List[str]:
        return _workspaces(self.sql, None)


@contextmanager
def open_history(destination: Any, dataset_name: str, where: str) -> Iterator[History]:
    """The history in `dataset_name` of `destination`; NoHistory if no run ever completed there.
    `where` names the place in messages (a path, a bucket, a destination name)."""
    destination = Destination.from_reference(destination)
    with ExitStack() as stack:
        try:
            dataset = dlt.dataset(destination, dataset_name, schema=SCHEMA_NAME)
            (schema,) = dataset.schemas
            sql = stack.enter_context(dataset.sql_client)
        except (ConfigurationException, MissingDependencyException):
            raise  # what to configure or install: a usage error
        except Exception as exc:  # noqa: BLE001 - every driver raises its own kind
            raise DestinationUnavailable(f"Cannot open the history at {where}: {cause_of(exc)}") from exc
        if not table_exists(sql, "snapshots"):
            raise NoHistory(
                f"No history at {where}: no snapshot was ever loaded there. Check --destination,"
                " --duckdb-path and --dataset-name (and run `segment-history run` first)."
            )
        merges = destination.capabilities().supported_merge_strategies or []
        yield History(sql, "scd2" if "scd2" in merges else "snapshots", schema, where)


def parse_moment(text: str, now: Optional[datetime] = None) -> datetime:
    """`7d`, `12h`, `30m` (ago), an ISO date or an ISO timestamp (UTC unless it says otherwise)."""
    now = now or datetime.now(timezone.utc)
    match = RELATIVE.match(text.strip())
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        try:
            return now - timedelta(**{{"d": "days", "h": "hours", "m": "minutes"}[unit]: amount})
        except OverflowError:
            raise UsageError(f"{text!r} reaches back before the year 1: use a shorter span.") from None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"Cannot read {text!r} as a moment: use e.g. 7d, 12h, 2026-03-01 or 2026-03-01T12:00:00Z."
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def check_resource_type(resource_type: Optional[str]) -> None:
    if resource_type is not None and resource_type not in history_tables():
        raise UsageError(
            f"{resource_type!r} is not a resource type; choose one of: {', '.join(history_tables())}."
        )


def check_workspace(history: History, workspace: Optional[str]) -> None:
    if workspace is not None and workspace not in history.workspaces():
        raise UsageError(
            f"No workspace {workspace!r} in the history at {history.where};"
            f" it holds: {', '.join(sorted(history.workspaces()))}."
        )


def change_log(
    sql: Any,
    since: Optional[datetime] = None,
    resource_type: Optional[str] = None,
    actor: Optional[str] = None,
    workspace: Optional[str] = None,
    limit: Optional[int] = None,
) -> Result:
    if not table_exists(sql, "config_changes"):
        return CHANGE_LOG_COLUMNS, []
    conditions, args = ["1 = 1"], []
    if since is not None:
        conditions.append("observed_at >= %s")
        args.append(since)
    if resource_type:
        conditions.append("resource_type = %s")
        args.append(resource_type)
    if actor:
        conditions.append("(actor = %s OR actor_email = %s)")
        args += [actor, actor]
    if workspace:
        conditions.append("workspace_id = %s")
        args.append(workspace)
    query = (
        f"SELECT {', '.join(CHANGE_LOG_COLUMNS)} FROM {sql.make_qualified_table_name('config_changes')}"
        f" WHERE {' AND '.join(conditions)}"
        " ORDER BY observed_at DESC, resource_type, resource_id, field_path"
    )
    if limit:
        query += f" LIMIT {int(limit)}"
    return CHANGE_LOG_COLUMNS, list(sql.execute_sql(query, *args) or [])


def as_of(sql: Any, moment: datetime, table: str, workspace: Optional[str] = None, mode: str = "scd2") -> Result:
    """The rows of one history table that were valid at `moment`."""
    if table not in history_tables():
        raise UsageError(f"{table!r} is not a history table; choose one of: {', '.join(history_tables())}.")
    if not table_exists(sql, table):
        return [], []
    query, args = _valid_at(sql, table, moment, workspace, mode)
    with sql.execute_query(query + " ORDER BY workspace_id, record_key", *args) as cursor:
        columns = [c[0] for c in cursor.description]
        rows = cursor.fetchall()
    keep = [i for i, name in enumerate(columns) if name not in ("_dlt_id", "_dlt_load_id")]
    return [columns[i] for i in keep], [[row[i] for i in keep] for row in rows]


def as_of_counts(sql: Any, moment: datetime, workspace: Optional[str] = None, mode: str = "scd2") -> Result:
    rows = []
    for table in history_tables():
        if table_exists(sql, table):
            query, args = _valid_at(sql, table, moment, workspace, mode)
            count = sql.execute_sql(f"SELECT count(*) FROM ({query}) AS t", *args)[0][0]
            rows.append((table, count))
    return ["table", "rows"], rows


def _valid_at(sql: Any, table: str, moment: datetime, workspace: Optional[str], mode: str) -> Tuple[str, list]:
    if mode == "snapshots":
        return _in_snapshot_at(sql, table, moment, workspace)
    query = (
        f"SELECT * FROM {sql.make_qualified_table_name(table)}"
        " WHERE _dlt_valid_from <= %s AND (_dlt_valid_to IS NULL OR _dlt_valid_to > %s)"
    )
    args: list = [moment, moment]
    if workspace:
        query += " AND workspace_id = %s"
        args.append(workspace)
    return query, args


def _in_snapshot_at(sql: Any, table: str, moment: datetime, workspace: Optional[str]) -> Tuple[str, list]:
    """Where every run appended its full snapshot: the rows of each workspace's latest snapshot at
    `moment` in which the table was read completely."""
    latest = []
    for workspace_id in _workspaces(sql, workspace):
        probe = Snapshot(run_id="", workspace_id=workspace_id, boundary=moment, previous=None, mode="snapshots")
        taken = previous_complete_snapshot(sql, table, probe, inclusive=True)
        if taken is not None:
            latest.append((workspace_id, taken))
    if not latest:
        return f"SELECT * FROM {sql.make_qualified_table_name(table)} WHERE 1 = 0", []
    condition = " OR ".join(["(workspace_id = %s AND snapshot_at = %s)"] * len(latest))
    args = [value for pair in latest for value in pair]
    return f"SELECT * FROM {sql.make_qualified_table_name(table)} WHERE {condition}", args


def _workspaces(sql: Any, workspace: Optional[str]) -> List[str]:
    if workspace:
        return [workspace]
    rows = sql.execute_sql(f"SELECT DISTINCT workspace_id FROM {sql.make_qualified_table_name('snapshots')}")
    return [row[0] for row in rows or []]
