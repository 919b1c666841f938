"""The Dagster code location (`pipelines.dagster_definitions`): its assets materialized in-process and from
Dagster's command line, against emulated workspaces over HTTP, into a real DuckDB file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest

dg = pytest.importorskip("dagster", reason="the dagster extra is not installed (pip install -e '.[dagster]')")

from segment_emulator import generate_workspace  # noqa: E402

from pipelines import dagster_definitions as code_location  # noqa: E402
from pipelines.runner import RunOptions, workspace_keys  # noqa: E402

from .helpers import current_keys, dataset_fingerprint, expected_keys, query  # noqa: E402

REFUSED = "refused-token"


@pytest.fixture
def two_regions(start_emulator, monkeypatch):
    """A US and an EU workspace configured by name, and a third entry whose token the US API refuses."""
    us_workspace, eu_workspace = generate_workspace(seed=91, scale="tiny"), generate_workspace(seed=92, scale="tiny")
    us = start_emulator(us_workspace, tokens={"us-token": "owner"}, region="us")
    eu = start_emulator(eu_workspace, tokens={"eu-token": "owner"}, region="eu")
    monkeypatch.delenv("SEGMENT_ACCESS_TOKEN", raising=False)
    monkeypatch.setenv("SOURCES__SEGMENT__WORKSPACES", json.dumps([
        {"access_token": "us-token", "region": "us", "base_url": us.base_url, "name": "us-prod"},
        {"access_token": "eu-token", "region": "eu", "base_url": eu.base_url, "name": "eu-prod"},
        {"access_token": REFUSED, "region": "us", "base_url": us.base_url},
    ]))
    return (us_workspace, us), (eu_workspace, eu)


@pytest.fixture
def place(tmp_path: Path) -> RunOptions:
    return RunOptions(duckdb_path=str(tmp_path / "history.duckdb"), pipelines_dir=str(tmp_path / "pipelines"),
                      pipeline_name="test_history")


def materialize(defs, partition: str | None = None, mode: str = "full"):
    return dg.materialize(defs.assets, partition_key=partition, instance=dg.DagsterInstance.ephemeral(),
                          run_config={"ops": {"segment_snapshot": {"config": {"mode": mode}}}},
                          raise_on_error=False)


def materialized(result) -> dict:
    return {event.asset_key.path[-1]: event.metadata
            for event in (e.event_specific_data.materialization for e in result.get_asset_materialization_events())}


def completeness(result) -> list:
    return [(e.passed, e.severity) for e in result.get_asset_check_evaluations()]


@pytest.mark.slow
def test_each_workspace_is_a_partition_loaded_into_one_dataset(two_regions, place):
    (us_workspace, _), (eu_workspace, _) = two_regions
    defs = code_location.build_definitions(place)
    assert defs.assets[0].partitions_def.get_partition_keys() == ["us-prod", "eu-prod", "workspace-3"]

    for partition, workspace in (("us-prod", us_workspace), ("eu-prod", eu_workspace)):
        result = materialize(defs, partition)
        assert result.success
        loaded = materialized(result)
        assert {"sources", "destinations", "config_changes", "snapshots"} <= set(loaded)
        assert loaded["snapshots"]["workspace_id"].value == workspace.workspace["id"]
        assert completeness(result) == [(True, dg.AssetCheckSeverity.WARN)]

    for workspace in (us_workspace, eu_workspace):
        workspace_id = workspace.workspace["id"]
        for table, keys in expected_keys(workspace).items():
            rows = query(place, f"select record_key from {{ds}}.{table} where _dlt_valid_to is null"
                                " and workspace_id = ?", workspace_id)
            assert {row[0] for row in rows} == keys, (workspace_id, table)

    before = {d["id"] for d in us_workspace.destinations}
    us_workspace.apply("delete_destination")
    removed = before - {d["id"] for d in us_workspace.destinations}
    result = materialize(defs, "us-prod")
    assert result.success and materialized(result)["config_changes"]["changes"].value >= 1
    changes = query(place, "select workspace_id, resource_id, change_kind from {ds}.config_changes"
                           " where resource_type = 'destinations'")
    assert changes == [(us_workspace.workspace["id"], removed.pop(), "removed")]


@pytest.mark.slow
def test_a_refused_token_fails_only_its_own_partition(two_regions, place):
    defs = code_location.build_definitions(replace(place, resources=["sources"]))  # a workspace fails, not a table
    assert materialize(defs, "us-prod").success
    before = dataset_fingerprint(place)

    failed = materialize(defs, "workspace-3")
    assert not failed.success
    failure = next(e for e in failed.all_events if e.event_type_value == "STEP_FAILURE")
    message = failure.event_specific_data.error.message
    assert "refused the access token" in message and REFUSED not in message
    assert dataset_fingerprint(place) == before, "the refused workspace changed no row"

    assert materialize(defs, "eu-prod").success, "the next partition runs as if the failure never happened"


def test_an_unknown_mode_fails_the_run_and_changes_nothing(two_regions, place):
    defs = code_location.build_definitions(replace(place, resources=["sources"]))
    assert materialize(defs, "us-prod").success
    before = dataset_fingerprint(place)
    failed = materialize(defs, "us-prod", mode="fast")
    assert not failed.success
    failure = next(e for e in failed.all_events if e.event_type_value == "STEP_FAILURE")
    assert failure.event_specific_data.error.message.strip().endswith("mode must be full or changes, not 'fast'.")
    assert dataset_fingerprint(place) == before


def test_a_partial_snapshot_is_a_warning_and_loads_what_was_complete(two_regions, place):
    (us_workspace, us), _ = two_regions
    defs = code_location.build_definitions(place)
    us.fail_next("/destinations", status="html", times=1000)
    result = materialize(defs, "us-prod")

    assert result.success, "what was complete is loaded"
    loaded = materialized(result)
    assert "destinations" not in loaded and "sources" in loaded
    assert completeness(result) == [(False, dg.AssetCheckSeverity.WARN)]
    assert "destinations" in loaded["snapshots"]["skipped_tables"].value
    assert query(place, "select status from {ds}.snapshots") == [("partial",)]


def test_schedules_ask_for_a_run_per_workspace_in_their_mode(two_regions, place):
    defs = code_location.build_definitions(place)
    for name, mode in (("segment_history_nightly_full", "full"), ("segment_history_hourly_changes", "changes")):
        schedule = defs.resolve_schedule_def(name)
        context = dg.build_schedule_context(scheduled_execution_time=datetime(2026, 3, 1, 3, tzinfo=timezone.utc),
                                            repository_def=defs.get_repository_def())
        requests = list(schedule.evaluate_tick(context).run_requests)
        assert [r.partition_key for r in requests] == ["us-prod", "eu-prod", "workspace-3"]
        assert {r.run_config["ops"]["segment_snapshot"]["config"]["mode"] for r in requests} == {mode}
        assert [r.tags[code_location.WORKSPACE_TAG] for r in requests] == ["us-prod", "eu-prod", "workspace-3"]


def test_partitions_are_named_by_entry_name_or_position_never_by_token():
    entries = [{"access_token": "secret-1", "name": "agency"}, {"access_token": "secret-2"}]
    assert workspace_keys(entries) == ["agency", "workspace-2"]
    with pytest.raises(ValueError, match="'agency' is used twice"):
        workspace_keys([entries[0], {"access_token": "secret-3", "name": "agency"}])


def test_a_single_token_gives_unpartitioned_assets_and_no_request_at_load(place):
    defs = code_location.build_definitions(RunOptions(**{**place.__dict__, "access_token": "any"}))
    assert defs.assets[0].partitions_def is None
    keys = {key.path[-1] for key in defs.assets[0].keys}
    assert {"workspace", "sources", "tracking_plan_rules", "config_changes", "snapshots"} <= keys
    assert "live_plugins" not in keys, "opt-in tables are assets only when the run reads them"
    assert not os.path.exists(place.duckdb_path)


@pytest.mark.slow
def test_dagster_command_line_materializes_every_asset(start_emulator, tmp_path):
    workspace = generate_workspace(seed=93, scale="tiny")
    emulator = start_emulator(workspace, tokens={"cli-token": "owner"})
    path = tmp_path / "history.duckdb"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SOURCES__", "DAGSTER_"))}
    env.update(SEGMENT_ACCESS_TOKEN="cli-token", SOURCES__SEGMENT__BASE_URL=emulator.base_url,
               SEGMENT_HISTORY_DUCKDB_PATH=str(path), DLT_DATA_DIR=str(tmp_path / "dlt"))
    dagster = Path(sys.executable).with_name("dagster")
    done = subprocess.run([str(dagster), "asset", "materialize", "-m", "pipelines.dagster_definitions",
                           "--select", "*"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "RUN_SUCCESS" in done.stderr + done.stdout
    assert "cli-token" not in done.stderr + done.stdout
    options = RunOptions(duckdb_path=str(path))
    assert current_keys(options, "sources") == {s["id"] for s in workspace.sources}
    assert query(options, "select status from {ds}.snapshots") == [("complete",)]
