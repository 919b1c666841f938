"""The field-level diff of two versions of a resource (`pipelines.history`): flattening nested settings,
the changed leaves, labels as added/removed, and the change rows of a table."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from pipelines.history import Names, Snapshot, comparable_row, diff_versions, field_changes, flatten, own_name

BOUNDARY = datetime(2026, 3, 2, 3, 17, tzinfo=timezone.utc)


@pytest.mark.parametrize("value, leaves", [
    ("Prod", {"name": "Prod"}),
    (None, {"name": None}),
    ({}, {"name": {}}),  # an empty object is a leaf: it stays visible when it appears or goes
    ([1, 2], {"name": [1, 2]}),  # lists are leaves, compared whole
    ({"a": 1, "b": {"c": [True], "d": None}}, {"name.a": 1, "name.b.c": [True], "name.b.d": None}),
])
def test_flatten_gives_each_leaf_by_its_dot_path(value, leaves):
    assert flatten(value, "name") == leaves


def test_only_changed_leaves_are_changes_in_path_order():
    old = {"record_key": "s1", "workspace_id": "w", "name": "Web", "settings": {"a": 1, "b": {"c": 2}}}
    new = {"record_key": "s1", "workspace_id": "w", "name": "Web", "settings": {"a": 1, "b": {"c": 3}, "z": 0}}
    assert field_changes(old, new) == [("settings.b.c", 2, 3), ("settings.z", None, 0)]


@pytest.mark.parametrize("old, new, changes", [
    ({"enabled": True}, {"enabled": False}, [("enabled", True, False)]),
    ({"enabled": True}, {}, [("enabled", True, None)]),  # a column the new version lacks
    ({}, {"description": "x"}, [("description", None, "x")]),
    ({"settings": {"a": 1}}, {"settings": None}, [("settings.a", 1, None)]),  # an object gone: its leaves went
    ({"record_key": "a", "workspace_id": "w"}, {"record_key": "b", "workspace_id": "v"}, []),  # identity
    ({"enabled": True}, {"enabled": True}, []),
])
def test_field_changes(old, new, changes):
    assert field_changes(old, new) == changes


def label(key: str, value: str) -> dict:
    return {"key": key, "value": value, "description": ""}


def test_labels_change_as_the_labels_added_and_removed():
    old = {"labels": [label("env", "prod"), label("team", "web")]}
    new = {"labels": [label("env", "dev"), label("team", "web")]}
    assert field_changes(old, new) == [("labels", "env=prod", None), ("labels", None, "env=dev")]
    assert field_changes({"labels": None}, {"labels": [label("pii", "yes")]}) == [("labels", None, "pii=yes")]


def test_a_labels_column_that_is_not_a_label_list_is_compared_whole():
    assert field_changes({"labels": ["a"]}, {"labels": ["b"]}) == [("labels", ["a"], ["b"])]


def test_a_comparable_row_is_the_api_row_without_dlts_bookkeeping():
    stored = {"record_key": "s1", "_dlt_id": "x", "_dlt_valid_from": BOUNDARY, "snapshot_at": BOUNDARY,
              "settings": json.dumps({"a": 1}), "created_at": BOUNDARY, "count": Decimal("3"), "ratio": Decimal("0.5")}
    assert comparable_row(stored, json_columns={"settings"}) == {
        "record_key": "s1", "settings": {"a": 1}, "created_at": BOUNDARY.isoformat(), "count": 3, "ratio": 0.5}


@pytest.mark.parametrize("row, name", [
    ({"name": "Web", "display_name": "Other"}, "Web"),
    ({"email": "jane@example.com"}, "jane@example.com"),
    ({"settings": json.dumps({"name": "Snowflake"})}, "Snowflake"),  # warehouses keep their name in settings
    ({"metadata_name": "Amplitude"}, "Amplitude"),  # an unnamed destination shows as its catalog type
    ({"json_schema": "{}", "type": "TRACK", "key": "Order Completed"}, "TRACK Order Completed"),  # a rule
    ({"id": "x"}, None),
])
def test_a_resource_is_named_as_the_segment_app_names_it(row, name):
    assert own_name(row) == name


def source(key: str, **fields) -> dict:
    return {"record_key": key, "workspace_id": "w1", "id": key, "name": key.upper(), "enabled": True, **fields}


def test_diff_versions_gives_one_row_per_added_removed_and_changed_field():
    old = {"s1": source("s1"), "s2": source("s2")}
    new = {"s1": source("s1", enabled=False), "s3": source("s3")}
    snapshot = Snapshot(run_id="r2", workspace_id="w1", boundary=BOUNDARY, previous=None)
    names = Names(sql=None, workspace_id="w1", moment=BOUNDARY)  # sources reference no other table: no SQL

    changes = diff_versions("sources", old, new, snapshot, names)

    summary = [(c["resource_id"], c["change_kind"], c["field_path"], c["old_value"], c["new_value"]) for c in changes]
    assert summary == [
        ("s1", "modified", "enabled", "true", "false"),
        ("s2", "removed", None, json.dumps({"enabled": True, "id": "s2", "name": "S2"}), None),
        ("s3", "added", None, None, json.dumps({"enabled": True, "id": "s3", "name": "S3"})),
    ]
    assert {c["resource_name"] for c in changes} == {"S1", "S2", "S3"}
    assert {(c["run_id"], c["workspace_id"], c["observed_at"]) for c in changes} == {("r2", "w1", BOUNDARY)}
    assert [c["audit_resource_ids"] for c in changes] == [["s1"], ["s2"], ["s3"]]


def test_unchanged_versions_give_no_change_rows():
    rows = {"s1": source("s1")}
    snapshot = Snapshot(run_id="r2", workspace_id="w1", boundary=BOUNDARY, previous=None)
    assert diff_versions("sources", rows, dict(rows), snapshot, Names(None, "w1", BOUNDARY)) == []
