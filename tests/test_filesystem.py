"""The filesystem destination (parquet files, no SCD2 merges) holds the same history as DuckDB.

Each run appends its full snapshot with `snapshot_at`; the current state is the latest complete
snapshot, and the change log is computed by comparing snapshots. Both destinations follow the same
run/mutate sequence against one emulator and must agree on current state and change log.
"""

from __future__ import annotations

import json

import pytest

from segment_emulator import generate_workspace

from pipelines import queries
from pipelines.runner import history_mode, make_pipeline, run_snapshot
from segment_source.endpoints import history_tables

pytestmark = pytest.mark.slow

IGNORED = {"_dlt_id", "_dlt_load_id", "_dlt_valid_from", "_dlt_valid_to", "snapshot_at"}


def current_state(options, moment):
    pipeline = make_pipeline(options)
    mode = history_mode(pipeline)
    state = {}
    with pipeline.sql_client() as sql:
        for table in history_tables():
            columns, rows = queries.as_of(sql, moment, table, mode=mode) if queries.table_exists(sql, table) else ([], [])
            state[table] = {
                json.dumps({c: _plain(v) for c, v in zip(columns, row) if c not in IGNORED and v is not None},
                           sort_keys=True, default=str)
                for row in rows
            }
    return mode, state


def _plain(value):
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def change_log(options):
    with make_pipeline(options).sql_client() as sql:
        columns, rows = queries.change_log(sql)
    keep = ["resource_type", "resource_id", "change_kind", "field_path", "old_value", "new_value", "actor",
            "audit_event_id"]
    index = [columns.index(c) for c in keep]
    return sorted(tuple(row[i] for i in index) for row in rows)


def test_filesystem_history_matches_duckdb(start_emulator, options_for, tmp_path, monkeypatch):
    workspace = generate_workspace(seed=41, scale="small")
    emulator = start_emulator(workspace)
    monkeypatch.setenv("DESTINATION__FILESYSTEM__BUCKET_URL", (tmp_path / "lake").as_uri())
    duck = options_for(emulator)
    lake = options_for(emulator, destination="filesystem", pipeline_name="lake_history")

    for step in range(3):
        if step:
            workspace.mutate(count=5, seed=300 + step)
        moments = [run_snapshot(duck).started_at, run_snapshot(lake).started_at]

    duck_mode, duck_state = current_state(duck, moments[0])
    lake_mode, lake_state = current_state(lake, moments[1])
    assert (duck_mode, lake_mode) == ("scd2", "snapshots")
    assert lake_state == duck_state
    assert sum(len(rows) for rows in lake_state.values()) > 100
    duck_changes, lake_changes = change_log(duck), change_log(lake)
    assert lake_changes == duck_changes and len(duck_changes) >= 5
    assert list((tmp_path / "lake").rglob("*.parquet")), "the lake holds parquet files"
