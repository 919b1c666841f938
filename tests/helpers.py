"""Reading the loaded dataset back, and what the emulator's workspace says it should contain."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Dict, List, Set, Tuple

import duckdb

from segment_emulator import Workspace

from pipelines.runner import RunOptions
from segment_source import settings

AUDIT_RETENTION = timedelta(days=settings.AUDIT_RETENTION_DAYS)
# for a test that needs a run, or a history to leave alone, but not every table: a run of one table (with the
# workspace, dlt's tables and the run records) costs a third of the CPU of a run of every table
ONE_TABLE = ["--resources", "sources"]


def query(options: RunOptions, sql: str, *params) -> List[tuple]:
    """Runs `sql` with `{ds}` standing for the dataset; read-only, so it never holds a lock for long."""
    with duckdb.connect(options.duckdb_path, read_only=True) as connection:
        return connection.execute(sql.format(ds=options.dataset_name), list(params)).fetchall()


def tables(options: RunOptions) -> Set[str]:
    rows = query(options, "select table_name from information_schema.tables where table_schema = '{ds}'")
    return {row[0] for row in rows}


def current_keys(options: RunOptions, table: str) -> Set[str]:
    return {row[0] for row in query(options, f"select record_key from {{ds}}.{table} where _dlt_valid_to is null")}


def dataset_fingerprint(options: RunOptions) -> Dict[str, int]:
    """Rows of every table of the dataset, dlt's own included: any load changes at least `_dlt_loads`. Read in
    one connection: opening the DuckDB file costs some 30 ms of CPU, fifty times what a count does."""
    with duckdb.connect(options.duckdb_path, read_only=True) as connection:
        names = connection.execute("select table_name from information_schema.tables where table_schema = ?",
                                   [options.dataset_name]).fetchall()
        return {name: connection.execute(f'select count(*) from "{options.dataset_name}"."{name}"').fetchone()[0]
                for name, in sorted(names)}


def row_count(options: RunOptions, table: str) -> int:
    return query(options, f"select count(*) from {{ds}}.{table}")[0][0]


def rule_key(plan_id: str, rule: Dict) -> str:
    version = rule["version"]
    version = int(version) if float(version).is_integer() else version
    return f"{plan_id}:{rule['type']}:{rule.get('key') or ''}:{version}"


def expected_keys(workspace: Workspace) -> Dict[str, Set[str]]:
    """The record keys each table must hold after a complete snapshot of `workspace`."""
    return {
        "workspace": {workspace.workspace["id"]},
        "sources": {s["id"] for s in workspace.sources},
        "destinations": {d["id"] for d in workspace.destinations},
        "warehouses": {w["id"] for w in workspace.warehouses},
        "source_warehouses": {f"{s}:{w}" for s, w in workspace.source_warehouses},
        "tracking_plans": {p["id"] for p in workspace.tracking_plans},
        "tracking_plan_rules": {rule_key(p, r) for p, rules in workspace.rules.items() for r in rules},
        "tracking_plan_sources": {f"{p}:{s}" for p, ids in workspace.tracking_plan_sources.items() for s in ids},
        "functions": {f["id"] for f in workspace.functions},
        "function_versions": {
            f"{fid}:{v['id']}" for fid, versions in workspace.function_versions.items() for v in versions
        },
        "labels": {f"{label['key']}:{label['value']}" for label in workspace.labels},
    }


def expected_audit_event_ids(workspace: Workspace, started: datetime) -> Tuple[Set[str], Set[str]]:
    """The ids a first read started at `started` must load, and those at the window's edge, which it may load
    or not: the run's own clock starts its window a moment later, a margin inside retention."""
    first_read_start = started - AUDIT_RETENTION + timedelta(seconds=settings.AUDIT_FIRST_READ_MARGIN_SECONDS)
    edge_end = first_read_start + timedelta(minutes=2)  # more than a run takes to start its read
    expected = {e["id"] for e in workspace.audit_events if parse_time(e["timestamp"]) > edge_end}
    at_edge = {e["id"] for e in workspace.audit_events
               if started - AUDIT_RETENTION < parse_time(e["timestamp"]) <= edge_end}
    return expected, at_edge


def parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def expected_surface_keys(ws: Workspace) -> Dict[str, Set[str]]:
    """Record keys of the tables beyond the core ones (IAM, Engage, privacy, functions' instances...)."""
    def ids(items):
        return {item["id"] for item in items}

    consumers = ws.credential_consumers
    return {
        "users": ids(ws.users),
        "roles": ids(ws.roles),
        "user_groups": ids(ws.user_groups),
        "user_group_members": {f"{g}:{u}" for g, users in ws.group_members.items() for u in users},
        "user_group_invites": {f"{g}:{e}" for g, emails in ws.group_invites.items() for e in emails},
        "invites": set(ws.invites),
        "source_settings": set(ws.source_settings),
        "live_plugins": {plugin["id"] for plugin in ws.live_plugins.values()},
        "destination_filters": ids(ws.destination_filters),
        "destination_subscriptions": ids(ws.destination_subscriptions),
        "warehouse_selective_syncs": {f"{s['warehouseId']}:{s['sourceId']}:{s['collection']}" for s in ws.selective_syncs},
        "warehouse_sync_schedules": set(ws.warehouse_schedules),
        "transformations": ids(ws.transformations),
        "reverse_etl_models": ids(ws.reverse_etl_models),
        "insert_function_instances": ids(ws.insert_function_instances),
        "credentials": ids(ws.credentials),
        "credential_consumer_sources": {f"{c}:{s}" for c, kinds in consumers.items() for s in kinds.get("sources", [])},
        "credential_consumer_warehouses": {f"{c}:{w}" for c, kinds in consumers.items() for w in kinds.get("warehouses", [])},
        "spaces": ids(ws.spaces),
        "audiences": ids(ws.audiences),
        "audience_schedules": {f"{a}:{s['id']}" for a, items in ws.audience_schedules.items() for s in items},
        "audience_activations": ids(ws.activations),
        "audience_destination_connections": {f"{a}:{c['id']}" for a, items in ws.audience_connections.items() for c in items},
        "computed_traits": ids(ws.computed_traits),
        "profiles_warehouses": ids(ws.profiles_warehouses),
        "space_filters": ids(ws.space_filters),
        "suppressions": {f"{s['subjectType']}:{','.join(s['subjectIds'])}" for s in ws.suppressions},
    }
