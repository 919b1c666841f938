"""The `notifications` table: per sink and change, whether it was delivered, the attempts and the last error.

Loaded with dlt into the history's dataset, merged on (`sink`, `change_id`) where the destination merges,
appended elsewhere (files): readers take, per key, the row with the most attempts, and a delivered row
wins over any other, so both shapes read the same.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List, Set

import dlt
from dlt.common.schema.typing import TTableSchemaColumns

from ..history import fetch_dicts, table_exists
from ..run_records import load_synced
from .changes import Change
from .delivery import Outcome

TABLE = "notifications"
KEY = ("sink", "change_id")


def _columns(data_type: str, *names: str, nullable: bool = True) -> TTableSchemaColumns:
    return {name: {"data_type": data_type, "nullable": nullable} for name in names}


# Declared in full, so types never depend on the data (a first batch with no error has no last_error).
COLUMNS: TTableSchemaColumns = {
    **_columns("text", "sink", "change_id", nullable=False),
    **_columns("text", "run_id", "workspace_id"),
    **_columns("timestamp", "observed_at"),
    **_columns("text", "resource_type", "resource_id", "change_kind", "field_path"),
    **_columns("bool", "delivered"),
    **_columns("bigint", "attempts", "last_status"),
    **_columns("text", "last_error"),
    **_columns("timestamp", "queued_at", "last_attempt_at", "delivered_at"),
}
IDENTITY = ("run_id", "workspace_id", "observed_at", "resource_type", "resource_id", "change_kind", "field_path")


def queued(sink: str, change: Change, now: datetime) -> Dict[str, Any]:
    """The row of a change newly queued for a sink: not delivered, no attempt yet."""
    return {"sink": sink, "change_id": change["change_id"], **{name: change[name] for name in IDENTITY},
            "delivered": False, "attempts": 0, "last_status": None, "last_error": None, "queued_at": now,
            "last_attempt_at": None, "delivered_at": None}


def attempted(row: Dict[str, Any], outcome: Outcome, now: datetime) -> Dict[str, Any]:
    """The row after a delivery attempt."""
    return {**row, "delivered": outcome.delivered, "attempts": (row["attempts"] or 0) + outcome.attempts,
            "last_status": outcome.status, "last_error": outcome.error, "last_attempt_at": now,
            "delivered_at": now if outcome.delivered else None}


def known_change_ids(sql: Any, sink: str, run_ids: Iterable[str]) -> Set[str]:
    run_ids = sorted(set(run_ids))
    if not run_ids or not table_exists(sql, TABLE):
        return set()
    rows = sql.execute_sql(
        f"SELECT change_id FROM {sql.make_qualified_table_name(TABLE)} WHERE sink = %s"
        f" AND run_id IN ({', '.join(['%s'] * len(run_ids))})", sink, *run_ids)
    return {row[0] for row in rows or []}


def pending(sql: Any, sink: str) -> List[Dict[str, Any]]:
    """The sink's changes not delivered yet, oldest first."""
    if not table_exists(sql, TABLE):
        return []
    table = sql.make_qualified_table_name(TABLE)
    rows = fetch_dicts(
        sql,
        f"SELECT {', '.join(COLUMNS)} FROM {table} WHERE sink = %s AND NOT delivered AND change_id NOT IN"
        f" (SELECT change_id FROM {table} WHERE sink = %s AND delivered)",
        sink, sink,
    )
    latest: Dict[str, Dict[str, Any]] = {}
    for row in rows:
        kept = latest.get(row["change_id"])
        if kept is None or (row["attempts"] or 0) > (kept["attempts"] or 0):
            latest[row["change_id"]] = row
    return sorted(latest.values(), key=lambda r: (r["observed_at"], r["change_id"]))


def save(pipeline: dlt.Pipeline, rows: List[Dict[str, Any]], synced: bool) -> None:
    """`synced`: the pipeline's state is the destination's (a run just loaded it); else `pipeline.run` syncs
    it first."""
    merges = bool(pipeline.destination.capabilities().supported_merge_strategies)
    resource = dlt.resource(rows or [dlt.mark.materialize_table_schema()], name=TABLE, columns=COLUMNS,
                            primary_key=KEY, write_disposition="merge" if merges else "append")
    if synced:
        load_synced(pipeline, [resource])
    else:
        pipeline.run(resource).raise_on_failed_jobs()


def utc_now() -> datetime:
    return datetime.now(timezone.utc)
