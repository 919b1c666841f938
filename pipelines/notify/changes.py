"""The changes a sink is told about, read back from the history: `config_changes` rows of given runs, the
stable id of each, the resource's labels when the change was observed, and workspace names.

A change's id is the SHA-256 of its run id, resource type, resource id, field path, change kind and old and
new value (the columns that make a `config_changes` row unique), in hex: the same change always gets the same id, so a
resend is recognisable (Segment de-duplicates on it as the `messageId`).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set

from ..history import fetch_dicts, table_exists

Change = Dict[str, Any]

CHANGE_COLUMNS = (
    "run_id", "workspace_id", "observed_at", "resource_type", "resource_id", "resource_name", "change_kind",
    "field_path", "old_value", "new_value", "actor", "actor_email", "audit_event_id", "audit_event_type",
)
IN_CHUNK = 500  # values per `IN (...)`


def change_id(change: Change) -> str:
    # the values are part of the identity: a resource's labels change as one row per label added or
    # removed, all with the field path `labels`
    parts = (change["run_id"], change["resource_type"], change["resource_id"], change["field_path"] or "",
             change["change_kind"], change["old_value"] or "", change["new_value"] or "")
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def changes_of_runs(sql: Any, run_ids: Iterable[str]) -> List[Change]:
    """The `config_changes` rows of these runs, each with its `change_id`, in a stable order."""
    run_ids = sorted(set(run_ids))
    if not run_ids or not table_exists(sql, "config_changes"):
        return []
    table = sql.make_qualified_table_name("config_changes")
    changes = []
    for chunk in _chunks(run_ids):
        changes += fetch_dicts(sql, f"SELECT {', '.join(CHANGE_COLUMNS)} FROM {table} WHERE run_id IN"
                                    f" ({_placeholders(chunk)})", *chunk)
    for change in changes:
        change["change_id"] = change_id(change)
    return sorted(changes, key=lambda c: (c["observed_at"], c["resource_type"], c["resource_id"],
                                          c["field_path"] or "", c["change_kind"]))


def labels_at(sql: Any, changes: Sequence[Change], start_column: str) -> Dict[str, Set[str]]:
    """change_id -> the resource's labels ("key:value") as last seen at or before the change was observed:
    its own `labels`, else those of its source (`source_id`, or its destination's `source_id`).

    `start_column` is when a stored row became what it is: `_dlt_valid_from` (SCD2), `snapshot_at` (files)."""
    labels: Dict[str, Set[str]] = {}
    for change in changes:
        row = _row_at(sql, change["resource_type"], change["workspace_id"], change["resource_id"],
                      change["observed_at"], start_column)
        labels[change["change_id"]] = _labels_of(sql, row, change, start_column)
    return labels


def workspace_names(sql: Any, workspace_ids: Iterable[str]) -> Dict[str, str]:
    """workspace id -> its name as last loaded (the id itself where none was)."""
    names = {workspace_id: workspace_id for workspace_id in workspace_ids}
    if names and table_exists(sql, "workspace"):
        for row in fetch_dicts(sql, f"SELECT id, name FROM {sql.make_qualified_table_name('workspace')}"
                                    f" WHERE id IN ({_placeholders(list(names))}) ORDER BY _dlt_load_id",
                               *names):
            names[row["id"]] = row["name"] or row["id"]
    return names


def _labels_of(sql: Any, row: Optional[Dict[str, Any]], change: Change, start_column: str) -> Set[str]:
    if row is None:
        return set()
    if "labels" in row:
        return _label_names(row["labels"])
    source_id = row.get("source_id")
    if not source_id and row.get("destination_id"):
        destination = _row_at(sql, "destinations", change["workspace_id"], row["destination_id"],
                              change["observed_at"], start_column)
        source_id = (destination or {}).get("source_id")
    if not source_id:
        return set()
    source = _row_at(sql, "sources", change["workspace_id"], source_id, change["observed_at"], start_column)
    return _label_names(source["labels"]) if source and "labels" in source else set()


def _row_at(sql: Any, table: str, workspace_id: str, record_key: str, moment: datetime,
            start_column: str) -> Optional[Dict[str, Any]]:
    """The version of a row that was current at `moment` (for a removal: the last one before it)."""
    if not table_exists(sql, table):
        return None
    rows = fetch_dicts(
        sql,
        f"SELECT * FROM {sql.make_qualified_table_name(table)} WHERE workspace_id = %s AND record_key = %s"
        f" AND {start_column} <= %s ORDER BY {start_column} DESC LIMIT 1",
        workspace_id, record_key, moment,
    )
    return rows[0] if rows else None


def _label_names(value: Any) -> Set[str]:
    labels = json.loads(value) if isinstance(value, str) else value
    return {f"{label.get('key')}:{label.get('value')}" for label in labels or [] if isinstance(label, dict)}


def _placeholders(values: Sequence[Any]) -> str:
    return ", ".join(["%s"] * len(values))


def _chunks(values: List[str]) -> Iterable[List[str]]:
    for start in range(0, len(values), IN_CHUNK):
        yield values[start:start + IN_CHUNK]
