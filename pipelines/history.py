"""The field-level change log: what one snapshot changed, field by field, and who did it.

After a load, SCD2 has done the bookkeeping: the rows that became valid at this snapshot's boundary
are the new versions, the rows whose validity ended there are the old ones. Pairing them by record key
gives `added`, `removed` and `modified`; nested settings and JSON schemas are compared leaf by leaf.
The audit trail explains a change when it names the same resource between the previous snapshot and
this one (the latest such event wins).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Dict, Iterable, List, Optional, Tuple

from segment_source.endpoints import WORKSPACE_TABLE, endpoint_for_table, references

NAME_COLUMNS = ("name", "display_name", "email", "title", "key")
IDENTITY_COLUMNS = {"workspace_id", "record_key"}
LABELS = "labels"  # the column of a resource's labels: a list of {key, value, description}


@dataclass
class Snapshot:
    run_id: str
    workspace_id: str
    boundary: datetime
    previous: Optional[datetime]
    # "scd2": versions with validity columns; "snapshots": every run appends its full snapshot with
    # `snapshot_at` (destinations without SCD2 merges, e.g. files in a lake)
    mode: str = "scd2"
    # the first run through another API than the run before (public <-> config): a row the other API did
    # not show is `first_seen` (new, or one that API could not see), and a field only one API carries is
    # not a change
    switched_api: bool = False


def previous_api(sql: Any, workspace_id: str, boundary: datetime) -> Optional[str]:
    """The API the workspace's previous run read (runs recorded before the Config API read the Public API)."""
    if not table_exists(sql, "snapshots"):
        return None
    try:
        rows = sql.execute_sql(
            f"SELECT api FROM {sql.make_qualified_table_name('snapshots')}"
            " WHERE workspace_id = %s AND started_at < %s ORDER BY started_at DESC LIMIT 1", workspace_id, boundary)
    except Exception:  # noqa: BLE001 - no `api` column: every earlier run read the Public API
        return "public"
    return (rows[0][0] or "public") if rows else None


def table_exists(sql: Any, table: str) -> bool:
    """Probed with a query: the filesystem destination's tables are views that only appear when used."""
    try:
        sql.execute_sql(f"SELECT 1 FROM {sql.make_qualified_table_name(table)} WHERE 1 = 0")
    except Exception:  # noqa: BLE001 - each driver has its own "no such table"
        return False
    return True


def fetch_dicts(sql: Any, query: str, *args: Any) -> List[Dict[str, Any]]:
    with sql.execute_query(query, *args) as cursor:
        columns = [c[0] for c in cursor.description]
        return [dict(zip(columns, row)) for row in cursor.fetchall()]


def previous_snapshot_time(sql: Any, workspace_id: str, boundary: datetime) -> Optional[datetime]:
    if not table_exists(sql, "snapshots"):
        return None
    rows = sql.execute_sql(
        f"SELECT max(started_at) FROM {sql.make_qualified_table_name('snapshots')}"
        " WHERE workspace_id = %s AND started_at < %s",
        workspace_id,
        boundary,
    )
    return rows[0][0] if rows else None


def retire_emptied_table(sql: Any, table: str, snapshot: Snapshot) -> None:
    """SCD2 cannot see an empty snapshot (no rows, no table in the package): retire by hand."""
    if table_exists(sql, table):
        sql.execute_sql(
            f"UPDATE {sql.make_qualified_table_name(table)} SET _dlt_valid_to = %s"
            " WHERE workspace_id = %s AND _dlt_valid_to IS NULL",
            snapshot.boundary,
            snapshot.workspace_id,
        )


def table_changes(sql: Any, table: str, json_columns: Iterable[str], snapshot: Snapshot) -> List[Dict]:
    if not table_exists(sql, table):
        return []
    if snapshot.mode == "snapshots":
        return _snapshot_table_changes(sql, table, set(json_columns), snapshot)
    qualified = sql.make_qualified_table_name(table)
    had_rows = sql.execute_sql(
        f"SELECT count(*) FROM {qualified} WHERE workspace_id = %s AND _dlt_valid_from < %s",
        snapshot.workspace_id,
        snapshot.boundary,
    )[0][0]
    if not had_rows:
        return []  # the first snapshot of a table is its baseline, not a list of additions
    where = f"SELECT * FROM {qualified} WHERE workspace_id = %s AND "
    new = fetch_dicts(sql, where + "_dlt_valid_from = %s", snapshot.workspace_id, snapshot.boundary)
    old = fetch_dicts(sql, where + "_dlt_valid_to = %s", snapshot.workspace_id, snapshot.boundary)
    json_columns = set(json_columns)
    return diff_versions(table, _by_key(old, json_columns), _by_key(new, json_columns), snapshot, _names(sql, snapshot))


def previous_complete_snapshot(
    sql: Any, table: str, snapshot: Snapshot, inclusive: bool = False
) -> Optional[datetime]:
    """When `table` was last read completely before this run (the `snapshots` rows say which were)."""
    if not table_exists(sql, "snapshots"):
        return None
    rows = sql.execute_sql(
        f"SELECT started_at, complete_tables FROM {sql.make_qualified_table_name('snapshots')}"
        f" WHERE workspace_id = %s AND started_at {'<=' if inclusive else '<'} %s ORDER BY started_at DESC",
        snapshot.workspace_id,
        snapshot.boundary,
    )
    for started_at, complete_tables in rows or []:
        if table in (json.loads(complete_tables) if isinstance(complete_tables, str) else complete_tables):
            return started_at
    return None


def _snapshot_table_changes(sql: Any, table: str, json_columns: set, snapshot: Snapshot) -> List[Dict]:
    previous = previous_complete_snapshot(sql, table, snapshot)
    if previous is None:
        return []  # baseline
    select = f"SELECT * FROM {sql.make_qualified_table_name(table)} WHERE workspace_id = %s AND snapshot_at = %s"
    old = fetch_dicts(sql, select, snapshot.workspace_id, previous)
    new = fetch_dicts(sql, select, snapshot.workspace_id, snapshot.boundary)
    return diff_versions(table, _by_key(old, json_columns), _by_key(new, json_columns), snapshot, _names(sql, snapshot))


def _names(sql: Any, snapshot: Snapshot) -> Names:
    return Names(sql, snapshot.workspace_id, snapshot.boundary, snapshot.mode)


def _by_key(rows: List[Dict[str, Any]], json_columns: set) -> Dict[str, Dict[str, Any]]:
    return {row["record_key"]: comparable_row(row, json_columns) for row in rows}


def is_bookkeeping(column: str) -> bool:
    """dlt's columns and the snapshot time: how a row was stored, not what the API said."""
    return column.startswith("_dlt_") or column == "snapshot_at"


def comparable_row(row: Dict[str, Any], json_columns: set) -> Dict[str, Any]:
    """The row as the API gave it: JSON columns parsed, dlt's bookkeeping columns dropped."""
    result = {}
    for column, value in row.items():
        if is_bookkeeping(column):
            continue
        if column in json_columns and isinstance(value, str):
            value = json.loads(value)
        result[column] = plain_value(value)
    return result


def plain_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def flatten(value: Any, prefix: str) -> Dict[str, Any]:
    """Leaves of nested objects by dot path; lists and scalars are leaves."""
    if isinstance(value, dict) and value:
        leaves: Dict[str, Any] = {}
        for key, item in value.items():
            leaves.update(flatten(item, f"{prefix}.{key}"))
        return leaves
    return {prefix: value}


def field_changes(old: Dict[str, Any], new: Dict[str, Any]) -> List[Tuple[str, Any, Any]]:
    old_leaves, new_leaves = {}, {}
    for column in set(old) | set(new):
        if column in IDENTITY_COLUMNS:
            continue
        old_leaves.update(flatten(old.get(column), column) if column in old else {})
        new_leaves.update(flatten(new.get(column), column) if column in new else {})
    changed = []
    for path in sorted(set(old_leaves) | set(new_leaves)):
        before, after = old_leaves.get(path), new_leaves.get(path)
        if before == after:
            continue
        if path == LABELS and _is_label_list(before) and _is_label_list(after):
            changed += label_changes(before, after)
        else:
            changed.append((path, before, after))
    return changed


def label_changes(before: Optional[List[Dict]], after: Optional[List[Dict]]) -> List[Tuple[str, Any, Any]]:
    """A resource's labels as the labels added or removed (`environment=prod`), not two whole lists."""
    def texts(labels: Optional[List[Dict]]) -> set:
        return {f"{label['key']}={label['value']}" for label in labels or []}

    removed, added = texts(before) - texts(after), texts(after) - texts(before)
    return [(LABELS, text, None) for text in sorted(removed)] + [(LABELS, None, text) for text in sorted(added)]


def _is_label_list(value: Any) -> bool:
    return value is None or (
        isinstance(value, list) and all(isinstance(item, dict) and {"key", "value"} <= set(item) for item in value)
    )


def to_json(value: Any) -> Optional[str]:
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def own_name(row: Dict[str, Any]) -> Optional[str]:
    """What the Segment app would call the resource itself: its name, else what it is an instance of."""
    if row.get("json_schema") is not None and row.get("type"):
        return f"{row['type']} {row.get('key') or ''}".strip()  # a tracking plan rule
    for column in NAME_COLUMNS:
        if row.get(column):
            return str(row[column])
    settings = row.get("settings")
    if isinstance(settings, str) and settings.startswith("{"):
        settings = json.loads(settings)  # a JSON column as the destination returns it
    if isinstance(settings, dict) and settings.get("name"):
        return str(settings["name"])  # warehouses keep their name in settings
    if row.get("metadata_name"):
        return str(row["metadata_name"])  # unnamed destinations show as their catalog type in the app
    return None


class Names:
    """What the change log calls a row, naming the resources it hangs off (`endpoints.references`): a
    connection as "Source X → Warehouse Y", a filter as "Destination › Filter", a function version under its
    function. Those resources are named by their latest version at `moment` (so a parent removed with its
    child keeps its name); one query per referenced table and batch of rows."""

    BATCH = 500

    def __init__(self, sql: Any, workspace_id: str, moment: datetime, mode: str = "scd2") -> None:
        self.sql, self.workspace_id, self.moment, self.mode = sql, workspace_id, moment, mode
        self._rows: Dict[str, Dict[str, Optional[Dict[str, Any]]]] = {}

    def of(self, table: str, row: Dict[str, Any]) -> Optional[str]:
        if table == WORKSPACE_TABLE:
            return own_name(row)
        endpoint = endpoint_for_table(table)
        named = [(ref_table, _key(row, columns)) for ref_table, columns in references(endpoint)]
        named = [(ref_table, key) for ref_table, key in named if key]
        if not named:
            return own_name(row)
        if endpoint.link_to:
            return " → ".join(f"{_noun(ref_table)} {self._name(ref_table, key)}" for ref_table, key in named)
        parent = self._name(*named[0])
        own = own_name(row)
        if own is None and row.get("id"):
            own = f"{_noun(table.rsplit('_', 1)[-1]).lower()} {row['id']}"  # a function's `version 2x0j…`
        return f"{parent} › {own}" if own else parent

    def prefetch(self, table: str, rows: Iterable[Dict[str, Any]]) -> None:
        """Loads the resources these rows reference, in batches, before they are named one by one."""
        if table == WORKSPACE_TABLE:
            return
        wanted: Dict[str, set] = {}
        for row in rows:
            for ref_table, columns in references(endpoint_for_table(table)):
                key = _key(row, columns)
                if key:
                    wanted.setdefault(ref_table, set()).add(key)
        for ref_table, keys in wanted.items():
            self._load(ref_table, keys)

    def _name(self, table: str, key: str) -> str:
        self._load(table, {key})
        row = self._rows[table].get(key)
        return (self.of(table, row) if row else None) or key

    def _load(self, table: str, keys: set) -> None:
        known = self._rows.setdefault(table, {})
        missing = sorted(keys - set(known))
        if not missing:
            return
        known.update(dict.fromkeys(missing))
        if not table_exists(self.sql, table):
            return
        time_column = "snapshot_at" if self.mode == "snapshots" else "_dlt_valid_from"
        for start in range(0, len(missing), self.BATCH):
            batch = missing[start:start + self.BATCH]
            rows = fetch_dicts(
                self.sql,
                f"SELECT * FROM {self.sql.make_qualified_table_name(table)} WHERE workspace_id = %s"
                f" AND {time_column} <= %s AND record_key IN ({', '.join(['%s'] * len(batch))})",
                self.workspace_id, self.moment, *batch,
            )
            for row in sorted(rows, key=lambda r: r[time_column]):
                known[row["record_key"]] = row  # the latest version wins


def _key(row: Dict[str, Any], columns: Tuple[str, ...]) -> Optional[str]:
    values = [row.get(column) for column in columns]
    return ":".join(str(value) for value in values) if all(v not in (None, "") for v in values) else None


def _noun(table: str) -> str:
    """`tracking_plans` -> `Tracking plan`: how a link names the kind of each of its ends."""
    singular = table[:-1] if table.endswith("s") else table
    return singular.replace("_", " ").capitalize()


def diff_versions(
    table: str, old: Dict[str, Dict], new: Dict[str, Dict], snapshot: Snapshot, names: Names
) -> List[Dict[str, Any]]:
    audit_columns = ("id",) if table == WORKSPACE_TABLE else endpoint_for_table(table).audit_resources
    changed = {key: new[key] if key in new else old[key] for key in set(old) ^ set(new)}
    changed.update({key: new[key] for key in set(old) & set(new) if old[key] != new[key]})
    names.prefetch(table, changed.values())
    changes = []

    def change(key: str, row: Dict, kind: str, path: Optional[str], before: Any, after: Any) -> None:
        changes.append({
            "run_id": snapshot.run_id,
            "workspace_id": snapshot.workspace_id,
            "observed_at": snapshot.boundary,
            "resource_type": table,
            "resource_id": key,
            "resource_name": names.of(table, row),
            "change_kind": kind,
            "field_path": path,
            "old_value": to_json(before),
            "new_value": to_json(after),
            "audit_resource_ids": [row[c] for c in audit_columns if row.get(c)],
        })

    for key in sorted(changed):
        if key not in old:
            kind = "first_seen" if snapshot.switched_api else "added"
            change(key, new[key], kind, None, None, _content(new[key]))
        elif key not in new:
            change(key, old[key], "removed", None, _content(old[key]), None)
        else:
            for path, before, after in field_changes(old[key], new[key]):
                if snapshot.switched_api and (before is None or after is None):
                    continue  # a field only one of the two APIs carries
                change(key, new[key], "modified", path, before, after)
    return changes


def _content(row: Dict[str, Any]) -> Dict[str, Any]:
    return {column: value for column, value in row.items() if column not in IDENTITY_COLUMNS}


def attribute(sql: Any, changes: List[Dict[str, Any]], snapshot: Snapshot) -> None:
    """Sets actor, actor email, audit event id and type from the audit trail, where one explains it."""
    events = _events_in_window(sql, snapshot) if changes else []
    latest: Dict[str, Dict[str, Any]] = {}
    for event in sorted(events, key=lambda e: (e["timestamp"], e["id"])):
        latest[event["resource_id"]] = event
    for change in changes:
        candidates = [latest[r] for r in change.pop("audit_resource_ids") if r in latest]
        event = max(candidates, key=lambda e: (e["timestamp"], e["id"]), default=None)
        change["actor"] = event.get("actor") if event else None
        change["actor_email"] = event.get("actor_email") if event else None
        change["audit_event_id"] = event.get("id") if event else None
        change["audit_event_type"] = event.get("type") if event else None


def _events_in_window(sql: Any, snapshot: Snapshot) -> List[Dict[str, Any]]:
    if snapshot.previous is None or not table_exists(sql, "audit_events"):
        return []
    return fetch_dicts(
        sql,
        f"SELECT * FROM {sql.make_qualified_table_name('audit_events')}"
        " WHERE workspace_id = %s AND timestamp > %s AND timestamp <= %s",
        snapshot.workspace_id,
        snapshot.previous,
        snapshot.boundary,
    )
