"""Hostile data loads without error and without loss: unicode, huge and deep values, colliding keys,
an unexpected extra field on one page."""

from __future__ import annotations

import json

from segment_emulator import generate_workspace

from pipelines.runner import run_snapshot

from .helpers import current_keys, expected_keys, query


def test_hostile_workspace_loads_completely_and_keeps_every_value(start_emulator, options_for):
    workspace = generate_workspace(seed=81, scale="small", hostile=True)
    options = options_for(start_emulator(workspace))

    result = run_snapshot(options)
    assert result.skipped == {}
    for table, keys in expected_keys(workspace).items():
        assert current_keys(options, table) == keys, table

    names = {row[0] for row in query(options, "select name from {ds}.sources where _dlt_valid_to is null")}
    assert {s["name"] for s in workspace.sources} == names, "unicode names survive byte for byte"

    settings = {row[0]: json.loads(row[1]) for row in query(
        options, "select id, settings from {ds}.destinations where _dlt_valid_to is null")}
    for destination in workspace.destinations:
        assert settings[destination["id"]] == destination["settings"], "settings, long/deep/colliding, intact"

    ours = {row[0] for row in query(options, "select distinct workspace_id from {ds}.sources")}
    assert ours == {workspace.workspace["id"]}, "an item's own workspace_id never replaces ours"
    colliding = [s for s in workspace.sources if "workspace_id" in s]
    assert colliding
    kept = query(options, "select workspace_id_2 from {ds}.sources where id = ?", colliding[0]["id"])
    assert kept == [(colliding[0]["workspace_id"],)]

    extra = [row[0] for row in query(options, "select connection_mode from {ds}.destinations"
                                               " where connection_mode is not null")]
    assert extra, "the undocumented field of one page is a column, not an error"

    again = run_snapshot(options)
    assert again.changes == 0, "hostile values compare equal run after run"
