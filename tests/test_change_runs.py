"""Change-driven runs read only what the audit trail names, and end in the same history as full runs."""

from __future__ import annotations

import pytest

import json
from dataclasses import replace

import duckdb

from segment_emulator import generate_workspace

from pipelines.runner import run_snapshot
from segment_source.settings import MAX_ATTEMPTS


CORE = ["sources", "destinations", "warehouses", "source_warehouses", "tracking_plans", "tracking_plan_rules",
        "tracking_plan_sources", "functions", "function_versions", "labels", "audit_events"]
COMPARED = [t for t in CORE if t != "audit_events"]


def current_state(options, table):
    """Current rows as JSON objects keyed by column (column order depends on each table's history)."""
    with duckdb.connect(options.duckdb_path, read_only=True) as connection:
        cursor = connection.execute(
            f"select * exclude (_dlt_id, _dlt_load_id, _dlt_valid_from, _dlt_valid_to)"
            f" from {options.dataset_name}.{table} where _dlt_valid_to is null")
        columns = [c[0] for c in cursor.description]
        rows = cursor.fetchall()
    return sorted(json.dumps(dict(zip(columns, row)), default=str, sort_keys=True) for row in rows)


@pytest.mark.slow
def test_change_driven_runs_end_where_full_snapshots_do(start_emulator, options_for, tmp_path):
    workspace = generate_workspace(seed=51, scale="small")
    emulator = start_emulator(workspace)
    changes = options_for(emulator, resources=CORE, mode="changes", full_snapshot_every=100)
    first = run_snapshot(changes)
    assert first.mode == "full" and first.full_reason == "no complete snapshot yet"  # no run at all

    for cycle in range(4):
        workspace.mutate(count=6, seed=500 + cycle)
        emulator.clear_requests()
        result = run_snapshot(changes)
        assert result.mode == "changes", result.full_reason
        assert not result.skipped
        assert len(emulator.requests) < first.requests["requests"], "reads less than a full run"

    reference = options_for(emulator, resources=CORE, duckdb_path=str(tmp_path / "reference.duckdb"),
                            pipeline_name="reference")
    run_snapshot(reference)
    for table in COMPARED:
        assert current_state(changes, table) == current_state(reference, table), table


@pytest.mark.slow
def test_every_nth_run_is_full(start_emulator, options_for):
    workspace = generate_workspace(seed=52, scale="tiny")
    options = options_for(start_emulator(workspace), resources=["sources", "audit_events"], mode="changes",
                          full_snapshot_every=3)
    modes = [run_snapshot(options).mode for _ in range(5)]
    assert modes == ["full", "changes", "changes", "full", "changes"]


@pytest.mark.slow
def test_permission_gaps_do_not_stop_change_driven_runs_but_passing_failures_do(start_emulator, options_for):
    """A token that may read the audit trail but not IAM makes every run partial: runs change-driven all the
    same. A table lost to a 5xx may have missed changes: the audit trail is read from an earlier run."""
    from segment_emulator.permissions import AREAS

    workspace = generate_workspace(seed=53, scale="tiny")
    emulator = start_emulator(workspace, tokens={"auditor-token": "auditor"},
                              roles={"auditor": [area for area in AREAS if area != "iam"]})
    options = options_for(emulator, access_token="auditor-token", resources=CORE + ["users"], mode="changes",
                          full_snapshot_every=100)
    full = replace(options, mode="full")

    emulator.fail_next("/labels", status=503, times=MAX_ATTEMPTS)  # outlasts every retry
    assert {"labels", "users"} <= run_snapshot(full).skipped.keys()
    refused = run_snapshot(options)
    assert refused.mode == "full" and refused.full_reason.startswith("no snapshot yet that read every table")
    assert refused.skipped.keys() == {"users"}, "a permission gap: partial"

    third = run_snapshot(options)
    assert third.mode == "changes", third.full_reason
    run_snapshot(full)
    renamed = workspace.apply("rename_source")  # after the trusted run, before the failing one
    emulator.fail_next("/labels", status=503, times=MAX_ATTEMPTS)
    assert "labels" in run_snapshot(full).skipped
    emulator.clear_requests()
    after_failure = run_snapshot(options)
    assert after_failure.mode == "changes", after_failure.full_reason
    assert f"/sources/{renamed.resource_id}" in [r.path for r in emulator.requests], (
        "the window starts at the last run that lost nothing to a passing failure")


def test_a_deleted_source_takes_what_hangs_off_it_in_a_change_driven_run(start_emulator, options_for, tmp_path):
    """Deleting a source deletes its destinations, and with them their filters, subscriptions and insert
    function instances: rows two steps away from what the audit trail names."""
    workspace = generate_workspace(seed=54, scale="small")
    emulator = start_emulator(workspace)
    tables = ["sources", "source_settings", "destinations", "destination_filters", "destination_subscriptions",
              "transformations", "functions", "insert_function_instances", "audit_events"]
    options = options_for(emulator, resources=tables, mode="changes", full_snapshot_every=100)
    run_snapshot(options)
    attached = {i["integrationId"] for i in workspace.insert_function_instances}
    source = next(s for s in workspace.sources
                  if {d["id"] for d in workspace.destinations if d["sourceId"] == s["id"]} & attached
                  and any(f["destinationId"] in {d["id"] for d in workspace.destinations if d["sourceId"] == s["id"]}
                          for f in workspace.destination_filters))
    workspace.apply("delete_source", source_id=source["id"])

    result = run_snapshot(options)
    assert result.mode == "changes", result.full_reason
    reference = options_for(emulator, resources=tables, duckdb_path=str(tmp_path / "reference.duckdb"),
                            pipeline_name="reference")
    run_snapshot(reference)
    for table in tables[:-1]:
        assert current_state(options, table) == current_state(reference, table), table


def test_a_changed_function_is_read_once_by_id(start_emulator, options_for, tmp_path):
    """The five function lists (one per `resourceType`) read in parallel; a changed function is one request
    however many of them ask for it, and lands in its own type's list."""
    workspace = generate_workspace(seed=55, scale="small")
    emulator = start_emulator(workspace)
    tables = ["functions", "function_versions", "audit_events"]
    options = options_for(emulator, resources=tables, mode="changes", full_snapshot_every=100)
    run_snapshot(options)
    function = workspace.functions[0]
    workspace.apply("update_function_code", function_id=function["id"])

    emulator.clear_requests()
    result = run_snapshot(options)
    assert result.mode == "changes", result.full_reason
    paths = [request.path for request in emulator.requests]
    assert paths.count(f"/functions/{function['id']}") == 1, paths
    assert paths.count(f"/functions/{function['id']}/versions") == 1, paths
    reference = options_for(emulator, resources=tables, duckdb_path=str(tmp_path / "reference.duckdb"),
                            pipeline_name="reference")
    run_snapshot(reference)
    for table in tables[:-1]:
        assert current_state(options, table) == current_state(reference, table), table


def change_run_against_reference(emulator, options_for, tmp_path, tables):
    """Runs the change-driven run (requests recorded from its start) and a fresh full snapshot, and checks
    that both end in the same current rows. Returns the change-driven run's request paths."""
    options = options_for(emulator, resources=tables, mode="changes", full_snapshot_every=100)
    emulator.clear_requests()
    result = run_snapshot(options)
    assert result.mode == "changes", result.full_reason
    paths = [request.path for request in emulator.requests]
    reference = options_for(emulator, resources=tables, duckdb_path=str(tmp_path / "reference.duckdb"),
                            pipeline_name="reference")
    run_snapshot(reference)
    for table in tables:
        if table != "audit_events":
            assert current_state(options, table) == current_state(reference, table), table
    return paths, options, reference


def last_changes(options):
    """What the last run's change log says: (table, record key, kind, field) of each row."""
    dataset = options.dataset_name
    with duckdb.connect(options.duckdb_path, read_only=True) as connection:
        return sorted(connection.execute(
            f"select resource_type, resource_id, change_kind, field_path from {dataset}.config_changes where run_id ="
            f" (select run_id from {dataset}.snapshots order by started_at desc limit 1)").fetchall())


def audit_event_ids(options):
    with duckdb.connect(options.duckdb_path, read_only=True) as connection:
        return {row[0] for row in connection.execute(f"select id from {options.dataset_name}.audit_events").fetchall()}


def test_the_audit_trail_is_read_once_and_loaded_whole(start_emulator, options_for, tmp_path):
    """Planning reads the trail; the audit_events table loads that read instead of asking again, and ends
    with the same events as a full snapshot's read (the next run's window starts after them)."""
    workspace = generate_workspace(seed=56, scale="tiny")
    emulator = start_emulator(workspace)
    tables = ["sources", "audit_events"]
    run_snapshot(options_for(emulator, resources=tables, mode="changes", full_snapshot_every=100))
    mutation = workspace.apply("rename_source")

    paths, options, reference = change_run_against_reference(emulator, options_for, tmp_path, tables)
    assert paths.count("/audit-events") == 1, paths
    assert mutation.audit_event_id in audit_event_ids(options)
    assert audit_event_ids(options) == audit_event_ids(reference)

    later = workspace.apply("rename_source")
    emulator.clear_requests()
    assert run_snapshot(options).mode == "changes"
    assert later.audit_event_id in audit_event_ids(options)
    assert audit_event_ids(options) - audit_event_ids(reference) == {later.audit_event_id}


def test_a_rule_change_rereads_the_plans_rules_not_its_sources(start_emulator, options_for, tmp_path):
    """Rule changes are audited on their tracking plan; connecting a source to a plan is audited on the source
    (`Source Modified`), so a plan the trail names keeps its sources unread."""
    workspace = generate_workspace(seed=57, scale="tiny")
    emulator = start_emulator(workspace)
    tables = ["sources", "tracking_plans", "tracking_plan_rules", "tracking_plan_sources", "audit_events"]
    run_snapshot(options_for(emulator, resources=tables, mode="changes", full_snapshot_every=100))
    plan = next(p for p in workspace.tracking_plans if workspace.tracking_plan_sources.get(p["id"]))
    workspace.apply("add_rule", tracking_plan_id=plan["id"])

    paths, _, _ = change_run_against_reference(emulator, options_for, tmp_path, tables)
    assert paths.count(f"/tracking-plans/{plan['id']}/rules") >= 1, paths
    assert not [path for path in paths if path.endswith("/sources")], paths


def test_a_source_the_trail_says_was_deleted_is_retired_unread(start_emulator, options_for, tmp_path):
    """`Source Deleted` is the documented event of a deletion: the source and what refers to it (its tracking
    plan and warehouse links) go without a request for it, and the change log records each removal."""
    workspace = generate_workspace(seed=58, scale="small")
    emulator = start_emulator(workspace)
    tables = ["sources", "destinations", "warehouses", "source_warehouses", "tracking_plans",
              "tracking_plan_sources", "audit_events"]
    run_snapshot(options_for(emulator, resources=tables, mode="changes", full_snapshot_every=100))
    full = options_for(emulator, resources=tables, duckdb_path=str(tmp_path / "full.duckdb"), pipeline_name="full")
    run_snapshot(full)
    connected = {source_id for sources in workspace.tracking_plan_sources.values() for source_id in sources}
    warehoused = {source_id for source_id, _ in workspace.source_warehouses}
    source = next(s for s in workspace.sources if s["id"] in connected & warehoused)
    workspace.apply("delete_source", source_id=source["id"])

    paths, options, _ = change_run_against_reference(emulator, options_for, tmp_path, tables)
    assert not [path for path in paths if source["id"] in path], paths
    assert not [row for row in current_state(options, "tracking_plan_sources") if source["id"] in row]
    run_snapshot(full)
    assert last_changes(options) == last_changes(full), "the change log says what a full run's says"
