"""Every resource of the configuration surface loads complete from the emulator (id parity)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from segment_emulator import generate_workspace

from pipelines import cli
from pipelines.runner import run_snapshot
from segment_source.endpoints import ENDPOINTS, GROUPS, WORKSPACE_TABLE, tables

from .helpers import current_keys, expected_keys, expected_surface_keys, parse_time, query, row_count

OPT_IN = [e.table_name for e in ENDPOINTS if not e.default]
# 2 requests a minute: read only on a tiny workspace, or the test would wait minutes
SLOW = [e.table_name for e in ENDPOINTS if e.rate_limit_per_minute and e.rate_limit_per_minute < 10]
RETENTION = timedelta(days=90)


def assert_parity(options, workspace, result, tables):
    assert result.skipped == {}
    expected = {**expected_keys(workspace), **expected_surface_keys(workspace)}
    for table in tables:
        assert current_keys(options, table) == expected[table], table


@pytest.mark.slow
def test_every_resource_loads_with_id_parity(start_emulator, options_for):
    workspace = generate_workspace(seed=71, scale="small")
    emulator = start_emulator(workspace)
    options = options_for(emulator, groups=list(GROUPS), resources=[t for t in OPT_IN if t not in SLOW])

    result = run_snapshot(options)

    surface = set(expected_surface_keys(workspace)) - set(SLOW)
    assert_parity(options, workspace, result, set(expected_keys(workspace)) | surface)
    oldest = datetime.now(timezone.utc) - RETENTION
    regulations = {row[0] for row in query(options, "select id from {ds}.regulations")}
    assert regulations == {r["id"] for r in workspace.regulations if parse_time(r["createdAt"]) > oldest}
    for table in ("catalog_sources", "catalog_destinations", "catalog_warehouses", "usage_mtu_daily",
                  "usage_api_calls_sources_daily", "events_volume", "delivery_metrics", "audience_references"):
        assert table in result.table_rows and row_count(options, table) == result.table_rows[table] > 0, table
    # page caps: audiences at most 200 a page, space filters 10
    audiences = {r.query["pagination.count"][0] for r in emulator.requests if r.path.endswith("/audiences")}
    space_filters = {r.query["pagination.count"][0] for r in emulator.requests if r.path == "/filters"}
    assert audiences == {"200"} and space_filters == {"10"}


@pytest.mark.slow
def test_endpoints_limited_to_two_a_minute_load_on_a_tiny_workspace(start_emulator, options_for):
    workspace = generate_workspace(seed=75, scale="tiny")  # two connections: within one minute's allowance
    options = options_for(start_emulator(workspace), resources=SLOW)

    result = run_snapshot(options)

    assert_parity(options, workspace, result, SLOW)


def test_resources_command_lists_the_surface(capsys):
    assert cli.main(["resources"]) == cli.EXIT_OK
    listing = capsys.readouterr().out.splitlines()[2:]
    assert len(listing) >= 60
    assert any("GET /destination/{id}/filters" in line for line in listing)


def test_resources_command_lists_every_table_the_workspace_one_included(capsys):
    assert cli.main(["resources", "--output", "json"]) == cli.EXIT_OK
    listed = json.loads(capsys.readouterr().out)
    assert {row["table"] for row in listed} == set(tables())
    (workspace,) = [row for row in listed if row["table"] == WORKSPACE_TABLE]
    assert workspace["endpoint"] == "GET /" and workspace["default"] == "yes" and workspace["history"] == "scd2"
