"""The bridge tables between the two APIs' ids (`segment_source.identity`): read before a run, merged after it,
and the one-time move of objects a Config API run stored under Config ids to the Public ids a Public API run
learned (before that run's load, so its SCD2 merge finds them under the key it compares by)."""

from __future__ import annotations

from typing import Any, Dict, List

import dlt
from dlt.common.schema.typing import TTableSchemaColumns
from dlt.extract import DltResource

from segment_source.identity import BRIDGE_TABLES

from .history import fetch_dicts, table_exists

BRIDGE_COLUMNS: TTableSchemaColumns = {
    name: {"data_type": "text", "nullable": True} for name in ("workspace_id", "record_key", "public_id", "config_id")
}
# bridged table -> (table, column holding the object's key; True when the record key starts with it)
KEY_COLUMNS = {
    "tracking_plans": (("tracking_plans", "id", False), ("tracking_plan_rules", "tracking_plan_id", True),
                       ("tracking_plan_sources", "tracking_plan_id", True)),
    "destinations": (("destinations", "id", False), ("destination_filters", "destination_id", False)),
}


def read_bridges(pipeline: dlt.Pipeline) -> Dict[str, List[Dict[str, Any]]]:
    """The stored bridges, by bridged table (nothing before the first run)."""
    known: Dict[str, List[Dict[str, Any]]] = {}
    try:
        with pipeline.sql_client() as sql:
            for table, bridge in BRIDGE_TABLES.items():
                if table_exists(sql, bridge):
                    known[table] = fetch_dicts(sql, f"SELECT * FROM {sql.make_qualified_table_name(bridge)}")
    except Exception:  # noqa: BLE001 - no dataset yet: nothing is known
        return {}
    return known


def new_bridge_rows(bridges: Dict[str, List[Dict[str, Any]]], skipped: Dict[str, str],
                    known: Dict[str, List[Dict[str, Any]]]) -> Dict[str, List[Dict[str, Any]]]:
    """What this run learned of the bridges of the tables it read in full, one row per object, by bridge
    table. Rows already stored as they are (`known`, from `read_bridges`) are left out: a run that learned
    nothing new loads no bridge."""
    return {
        bridge: rows for table, bridge in BRIDGE_TABLES.items()
        if (rows := _not_stored(bridges.get(bridge) or [], known.get(table) or [])) and table not in skipped
    }


def bridge_resources(rows: Dict[str, List[Dict[str, Any]]]) -> List[DltResource]:
    """The rows of `new_bridge_rows`, to merge (they are loaded with the run tables, `run_records`)."""
    return [
        dlt.resource(bridge_rows, name=bridge, write_disposition="merge", primary_key=["workspace_id", "record_key"],
                     columns=BRIDGE_COLUMNS)
        for bridge, bridge_rows in rows.items()
    ]


def _not_stored(rows: List[Dict[str, Any]], stored: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    def identity(row: Dict[str, Any]) -> tuple:
        return tuple(row.get(name) for name in BRIDGE_COLUMNS)

    already = {identity(row) for row in stored}
    return [row for row in rows if identity(row) not in already]


def move_to_public_ids(pipeline: dlt.Pipeline, rekeyed: Dict[str, Dict[str, str]], workspace_id: str) -> None:
    """Stored rows (every version, and their change-log rows) of objects first seen through the Config API
    take the Public id now known for them; their bridge rows go too (the run's own replace them)."""
    if not any(rekeyed.values()):
        return
    with pipeline.sql_client() as sql:
        for bridged, moves in rekeyed.items():
            for old, new in moves.items():
                for table, column, prefixes_key in KEY_COLUMNS[bridged]:
                    if not table_exists(sql, table):
                        continue
                    name = sql.make_qualified_table_name(table)
                    key = "%s || substr(record_key, %s)" if prefixes_key else "%s"
                    key_args = (new, len(old) + 1) if prefixes_key else (new,)
                    own_key = column == "id"
                    sql.execute_sql(
                        f"UPDATE {name} SET {column} = %s"
                        + (f", record_key = {key}" if own_key or prefixes_key else "")
                        + f" WHERE workspace_id = %s AND {column} = %s",
                        new, *(key_args if own_key or prefixes_key else ()), workspace_id, old)
                _move_change_rows(sql, bridged, old, new, workspace_id)
                bridge = sql.make_qualified_table_name(BRIDGE_TABLES[bridged])
                if table_exists(sql, BRIDGE_TABLES[bridged]):
                    sql.execute_sql(f"DELETE FROM {bridge} WHERE workspace_id = %s AND record_key = %s",
                                    workspace_id, old)


def _move_change_rows(sql: Any, bridged: str, old: str, new: str, workspace_id: str) -> None:
    if not table_exists(sql, "config_changes"):
        return
    tables = [table for table, _, _ in KEY_COLUMNS[bridged]]
    marks = ", ".join(["%s"] * len(tables))
    sql.execute_sql(
        f"UPDATE {sql.make_qualified_table_name('config_changes')}"
        " SET resource_id = %s || substr(resource_id, %s)"
        f" WHERE workspace_id = %s AND resource_type IN ({marks}) AND substr(resource_id, 1, %s) = %s",
        new, len(old) + 1, workspace_id, *tables, len(old), old)
