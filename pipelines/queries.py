"""Read-side questions the command line answers: the change log, and the workspace as of a moment.

Each question takes the SQL client of a history opened with `reading.open_history`, which reads the
destination alone. Each function returns (columns, rows). The SQL is the same a user would write by
hand (the README shows it), so it works on any SQL destination dlt loads into.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any, List, Optional, Sequence, Tuple

from segment_source.endpoints import history_tables

from .errors import UsageError
from .history import Snapshot, previous_complete_snapshot, table_exists

Result = Tuple[List[str], List[Sequence[Any]]]

CHANGE_LOG_COLUMNS = [
    "observed_at", "resource_type", "resource_id", "resource_name", "change_kind",
    "field_path", "old_value", "new_value", "actor", "actor_email", "audit_event_type", "audit_event_id",
    "workspace_id",
]
RELATIVE = re.compile(r"^(\d+)\s*([dhm])$")


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


def check_workspace(sql: Any, workspace: Optional[str], where: str) -> None:
    """`workspace` must be one the history at `where` holds."""
    known = _workspaces(sql, None)
    if workspace is not None and workspace not in known:
        raise UsageError(f"No workspace {workspace!r} in the history at {where}; it holds: {', '.join(sorted(known))}.")


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
