"""Permission gaps are not failures, and several workspaces share one dataset."""

from __future__ import annotations

import json

import pytest

from segment_emulator import generate_workspace

from pipelines import cli
from pipelines.runner import run_snapshot, run_snapshots

from .helpers import current_keys, query

MEMBER_BLIND_TABLES = ("users", "user_groups", "roles", "invites", "functions", "credentials")


@pytest.mark.slow
def test_limited_token_skips_what_it_cannot_read_and_retires_nothing(start_emulator, options_for, capsys,
                                                                     monkeypatch):
    workspace = generate_workspace(seed=61, scale="small")
    emulator = start_emulator(workspace, tokens={"owner-token": "owner", "member-token": "member"})
    owner = options_for(emulator, access_token="owner-token")
    run_snapshot(owner)
    before = {table: current_keys(owner, table) for table in MEMBER_BLIND_TABLES + ("sources", "destinations")}
    assert all(before[table] for table in MEMBER_BLIND_TABLES)

    monkeypatch.setenv("SEGMENT_ACCESS_TOKEN", "member-token")
    code = cli.main(["run", "--base-url", emulator.base_url, "--duckdb-path", owner.duckdb_path,
                     "--pipelines-dir", owner.pipelines_dir, "--pipeline-name", owner.pipeline_name,
                     "--progress", "none"])
    err = capsys.readouterr().err

    assert code == cli.EXIT_OK, err
    for table in MEMBER_BLIND_TABLES:
        assert f"skipped {table}: HTTP 401" in err, table
        assert current_keys(owner, table) == before[table], f"nothing in {table} was retired"
    skipped = json.loads(query(owner, "select skipped_tables from {ds}.snapshots order by started_at desc limit 1")[0][0])
    assert set(MEMBER_BLIND_TABLES) <= set(skipped)
    assert current_keys(owner, "sources") == before["sources"]
    # the member token sees no write keys: the fingerprints change, nothing else about sources does
    changed = query(owner, "select distinct field_path from {ds}.config_changes where resource_type = 'sources'")
    assert {row[0] for row in changed} <= {"write_keys"}


def test_token_that_cannot_read_the_workspace_fails_the_run(start_emulator, options_for, capsys, monkeypatch):
    emulator = start_emulator(generate_workspace(seed=62, scale="tiny"), tokens={"owner-token": "owner"})
    monkeypatch.setenv("SEGMENT_ACCESS_TOKEN", "stranger-token")
    options = options_for(emulator)
    code = cli.main(["run", "--base-url", emulator.base_url, "--duckdb-path", options.duckdb_path,
                     "--pipelines-dir", options.pipelines_dir])
    assert code == cli.EXIT_AUTH
    assert "refused the access token" in capsys.readouterr().err


@pytest.mark.slow
def test_two_workspaces_in_two_regions_load_into_one_dataset(start_emulator, options_for, monkeypatch):
    us_workspace, eu_workspace = generate_workspace(seed=63, scale="small"), generate_workspace(seed=64, scale="small")
    us = start_emulator(us_workspace, tokens={"us-token": "owner"}, region="us")
    eu = start_emulator(eu_workspace, tokens={"eu-token": "owner"}, region="eu")
    monkeypatch.setenv("SOURCES__SEGMENT__WORKSPACES", json.dumps([
        {"access_token": "us-token", "region": "us", "base_url": us.base_url},
        {"access_token": "eu-token", "region": "eu", "base_url": eu.base_url},
    ]))
    options = options_for(us, access_token=None, base_url=None)

    results = run_snapshots(options)
    assert [r.workspace_id for r in results] == [us_workspace.workspace["id"], eu_workspace.workspace["id"]]

    for workspace in (us_workspace, eu_workspace):
        rows = query(options, "select id from {ds}.sources where workspace_id = ? and _dlt_valid_to is null",
                     workspace.workspace["id"])
        assert {row[0] for row in rows} == {s["id"] for s in workspace.sources}
    # a change in one workspace retires nothing in the other
    us_workspace.apply("delete_destination")
    eu_before = query(options, "select count(*) from {ds}.destinations where workspace_id = ? and _dlt_valid_to is null",
                      eu_workspace.workspace["id"])
    run_snapshots(options)
    assert query(options, "select count(*) from {ds}.destinations where workspace_id = ? and _dlt_valid_to is null",
                 eu_workspace.workspace["id"]) == eu_before
    kinds = query(options, "select workspace_id, change_kind from {ds}.config_changes where resource_type = 'destinations'")
    assert kinds == [(us_workspace.workspace["id"], "removed")]
    audit_workspaces = {row[0] for row in query(options, "select distinct workspace_id from {ds}.audit_events")}
    assert audit_workspaces == {us_workspace.workspace["id"], eu_workspace.workspace["id"]}


def test_a_feature_the_plan_lacks_is_a_lasting_gap_whatever_status_says_so(start_emulator, options_for, capsys,
                                                                           monkeypatch):
    """Segment answers a missing plan feature with 403, 404 or 422 (undocumented which): each is a lasting gap,
    so the run is not partial, and the next change-driven run trusts it."""
    emulator = start_emulator(generate_workspace(seed=65, scale="tiny"), disabled_features={"engage"},
                              disabled_feature_status=422)
    options = options_for(emulator)
    monkeypatch.setenv("SEGMENT_ACCESS_TOKEN", options.access_token)
    command = ["run", "--base-url", emulator.base_url, "--duckdb-path", options.duckdb_path, "--pipelines-dir",
               options.pipelines_dir, "--pipeline-name", options.pipeline_name, "--progress", "none"]

    code = cli.main(command)

    err = capsys.readouterr().err
    assert code == cli.EXIT_OK, err
    assert "skipped spaces: HTTP 422" in err
    kinds = json.loads(query(options, "select skipped_kinds from {ds}.snapshots")[0][0])
    assert kinds["spaces"] == "lasting_gap" and set(kinds.values()) == {"lasting_gap"}
    assert cli.main(command + ["--mode", "changes", "--json"]) == cli.EXIT_OK
    assert json.loads(capsys.readouterr().out)["status"] == "ok"
    assert query(options, "select mode from {ds}.snapshots order by started_at")[-1][0] == "changes"
