"""History: SCD2 versions, the field-level change log with actors, the audit trail and as-of queries.

Every test runs the real pipeline against the emulator, mutates the emulated workspace, runs again,
and checks the change log against the mutations the emulator reports having made.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta

import pytest
from dlt.common.normalizers.naming.snake_case import NamingConvention

from segment_emulator import generate_workspace

from segment_source import settings

from pipelines.runner import make_pipeline, run_snapshot
from pipelines import queries

from .helpers import current_keys, expected_keys, query, row_count

SNAKE = NamingConvention()
# the workspace the tests that start from a first snapshot of every default table share (after_first_snapshot)
SEED = 21


def column_path(api_path: str) -> str:
    """The change log names top-level fields by column (snake_case) and nested ones as the API does."""
    head, _, rest = api_path.partition(".")
    return SNAKE.normalize_identifier(head) + (f".{rest}" if rest else "")


def changes_of_run(options, run_id):
    rows = query(
        options,
        "select resource_type, resource_id, change_kind, field_path, old_value, new_value, actor, audit_event_id"
        " from {ds}.config_changes where run_id = ?",
        run_id,
    )
    return [dict(zip(["table", "id", "kind", "path", "old", "new", "actor", "event"], row)) for row in rows]


def expected_rows(mutation):
    if mutation.change in ("added", "removed"):
        return [(mutation.table, mutation.resource_id, mutation.change, None)]
    return [(mutation.table, mutation.resource_id, "modified", column_path(p)) for p in mutation.fields]


def explaining_mutations(mutations):
    """Where several audit events name the same resource in one window, the latest explains the change
    (mutations are applied in order, so a later one has the later event)."""
    return {m.audit_resource_id: m for m in mutations}


def explaining(mutation, explained_by, row_resources):
    """The latest mutation whose audit event names one of the resources the changed row belongs to."""
    candidates = [explained_by[r] for r in row_resources if r in explained_by]
    return max(candidates, key=lambda m: m.audit_event_id, default=mutation)


def assert_mutation_recorded(mutation, rows, explained_by=None):
    for table, resource_id, kind, path in expected_rows(mutation):
        matches = [r for r in rows if (r["table"], r["id"], r["kind"], r["path"]) == (table, resource_id, kind, path)]
        assert len(matches) == 1, f"{mutation.kind} {resource_id} {path}: {len(matches)} rows"
        row = matches[0]
        if path is not None:
            api_path = next(p for p in mutation.fields if column_path(p) == path)
            old, new = expected_values(path, *mutation.fields[api_path])
            assert (json.loads(row["old"]) if row["old"] else None) == old
            assert (json.loads(row["new"]) if row["new"] else None) == new
        explained = explaining(mutation, explained_by or {}, row_resources(mutation))
        assert row["actor"] == explained.actor
        assert row["event"] == explained.audit_event_id


def expected_values(path, old, new):
    """A resource's labels are recorded label by label: the one a mutation removed (old) or added (new),
    as `key=value`; every other field as its old and new value."""
    if path != "labels":
        return old, new
    before = {f"{label['key']}={label['value']}" for label in old}
    after = {f"{label['key']}={label['value']}" for label in new}
    removed, added = sorted(before - after), sorted(after - before)
    assert len(removed) + len(added) == 1, "a mutation adds or removes one label"
    return (removed or [None])[0], (added or [None])[0]


def row_resources(mutation):
    """The resources a changed row's audit events can name: itself, or for links and children their ends."""
    if mutation.table in ("source_warehouses", "tracking_plan_sources"):
        return mutation.resource_id.split(":")
    if mutation.table in ("tracking_plan_rules", "function_versions"):
        return [mutation.resource_id.split(":")[0]]
    return [mutation.resource_id]


# Mutations that touch one row each, so the expected change log is exactly their union.
SINGLE_ROW_MUTATIONS = [
    ("rename_source", {}),
    ("disable_destination", {}),
    ("change_destination_setting", {}),
    ("rotate_destination_secret", {"visible": True}),
    ("add_source_label", {}),
    ("create_destination", {}),
    ("delete_destination", {}),
    ("modify_rule", {}),
    ("add_rule", {}),
    ("remove_rule", {}),
    ("rename_tracking_plan", {}),
    ("connect_warehouse", {}),
    ("create_label", {}),
]


@pytest.mark.slow
def test_each_mutation_appears_exactly_once_with_fields_values_and_actor(after_first_snapshot):
    workspace, emulator, options, first = after_first_snapshot(SEED)
    assert first.changes == 0, "the first snapshot is the baseline"

    mutations = [workspace.apply(kind, **kwargs) for kind, kwargs in SINGLE_ROW_MUTATIONS]
    second = run_snapshot(options)

    rows = changes_of_run(options, second.run_id)
    for mutation in mutations:
        assert_mutation_recorded(mutation, rows, explaining_mutations(mutations))
    expected = Counter(row for m in with_cascades(mutations) for row in expected_rows(m))
    actual = Counter((r["table"], r["id"], r["kind"], r["path"]) for r in rows)
    assert actual == expected, "no change beyond the mutations and what they cascaded to"


def test_invisible_secret_rotation_is_not_a_change(after_first_snapshot):
    workspace, _, options, _ = after_first_snapshot(SEED)

    mutation = workspace.apply("rotate_destination_secret", visible=False)
    result = run_snapshot(options)

    assert mutation.fields == {} and not mutation.visible
    assert result.changes == 0
    assert changes_of_run(options, result.run_id) == []


def with_cascades(mutations):
    for mutation in mutations:
        yield mutation
        yield from mutation.cascade


@pytest.mark.slow
def test_run_mutate_cycles_record_history_and_as_of(start_emulator, options_for):
    workspace = generate_workspace(seed=23, scale="small")
    options = options_for(start_emulator(workspace))
    results = [run_snapshot(options)]
    keys_after = [expected_keys(workspace)]
    for cycle in range(3):
        mutations = [m for m in with_cascades(workspace.mutate(count=5, seed=100 + cycle)) if m.visible]
        result = run_snapshot(options)
        results.append(result)
        keys_after.append(expected_keys(workspace))

        rows = changes_of_run(options, result.run_id)
        touched = Counter((m.table, m.resource_id) for m in mutations)
        assert {(r["table"], r["id"]) for r in rows} == set(touched), "changes on exactly the mutated rows"
        for mutation in mutations:
            if touched[(mutation.table, mutation.resource_id)] == 1:  # one mutation: its rows are exact
                mine = [r for r in rows if (r["table"], r["id"]) == (mutation.table, mutation.resource_id)]
                assert sorted(map(str, expected_rows(mutation))) == sorted(
                    str((r["table"], r["id"], r["kind"], r["path"])) for r in mine)

    quiet = run_snapshot(options)
    assert quiet.changes == 0, "a run with no mutation reports no change"
    for table in ("sources", "destinations", "tracking_plan_rules", "labels"):
        assert current_keys(options, table) == keys_after[-1][table]

    # as-of between runs returns the state each run observed
    with make_pipeline(options).sql_client() as sql:
        for result, keys in zip(results, keys_after):
            for table in ("sources", "destinations", "tracking_plan_rules", "labels"):
                columns, rows = queries.as_of(sql, result.started_at, table)
                record_keys = {row[columns.index("record_key")] for row in rows}
                assert record_keys == keys[table], (table, result.started_at)


@pytest.mark.slow
def test_scd2_rows_grow_by_modified_and_added_only(after_first_snapshot):
    workspace, _, options, _ = after_first_snapshot(SEED)
    initial = row_count(options, "destinations")
    quiet = run_snapshot(options)
    assert row_count(options, "destinations") == initial and quiet.changes == 0

    workspace.apply("rename_destination")
    workspace.apply("disable_destination")
    workspace.apply("create_destination")
    workspace.apply("delete_destination")
    run_snapshot(options)

    modified_or_added = len({r[0] for r in query(
        options, "select resource_id from {ds}.config_changes"
                 " where resource_type = 'destinations' and change_kind in ('modified', 'added')")})
    assert row_count(options, "destinations") == initial + modified_or_added


def test_audit_events_never_duplicate_and_resume_from_the_destination(after_first_snapshot, options_for, tmp_path):
    workspace, emulator, options, _ = after_first_snapshot(SEED)
    first_count = row_count(options, "audit_events")
    newest = query(options, "select max(timestamp) from {ds}.audit_events")[0][0]

    workspace.mutate(count=3, seed=7)
    emulator.clear_requests()
    fresh_machine = options_for(emulator, pipelines_dir=str(tmp_path / "another-machine"))
    run_snapshot(fresh_machine)

    ids = [row[0] for row in query(options, "select id from {ds}.audit_events")]
    assert len(ids) == len(set(ids)) == first_count + 3
    resumed = [r.query["startTime"][0] for r in emulator.requests if r.path == "/audit-events"]
    resumed_at = datetime.fromisoformat(resumed[0].replace("Z", "+00:00"))
    overlap = timedelta(seconds=settings.AUDIT_OVERLAP_SECONDS)
    assert newest - overlap - timedelta(seconds=1) <= resumed_at <= newest, "resumed from the destination's state"


@pytest.mark.slow
@pytest.mark.parametrize("seed", [31])
def test_medium_workspace_history(seed, start_emulator, options_for):
    workspace = generate_workspace(seed=seed, scale="medium")
    # core only: Engage's per-audience endpoints are paced at 50-60 requests a minute, minutes at this size
    options = options_for(start_emulator(workspace), groups=["core"])
    run_snapshot(options)
    mutations = [workspace.apply(kind, **kwargs) for kind, kwargs in SINGLE_ROW_MUTATIONS]
    result = run_snapshot(options)
    rows = changes_of_run(options, result.run_id)
    for mutation in mutations:
        assert_mutation_recorded(mutation, rows, explaining_mutations(mutations))
    assert result.changes == sum(len(expected_rows(m)) for m in with_cascades(mutations))


def names_of_run(options, run_id):
    rows = query(options, "select resource_type, resource_id, change_kind, field_path, resource_name"
                          " from {ds}.config_changes where run_id = ?", run_id)
    return {(table, key, kind, path): name for table, key, kind, path, name in rows}


def test_child_rows_are_named_under_their_parent(start_emulator, options_for):
    workspace = generate_workspace(seed=26, scale="small")
    options = options_for(start_emulator(workspace), groups=["core"])
    run_snapshot(options)

    function = next(f for f in workspace.functions if workspace.function_versions.get(f["id"]))
    source, warehouse = next((s, w) for s in workspace.sources for w in workspace.warehouses
                             if (s["id"], w["id"]) not in workspace.source_warehouses)
    filtered = {f["destinationId"] for f in workspace.destination_filters}
    doomed = next(d for d in workspace.destinations
                  if d["id"] in filtered and workspace.subscriptions_of(d["id"]))
    toggled = next(f for f in workspace.destination_filters if f["destinationId"] != doomed["id"])
    planned = next(s for s in workspace.sources
                   if workspace.source_tracking_plan.get(s["id"]) and s["id"] != source["id"]
                   and all(d["id"] != toggled["destinationId"] for d in workspace.destinations_of(s["id"])))
    plan = next(p for p in workspace.tracking_plans if p["id"] == workspace.source_tracking_plan[planned["id"]])
    destinations = {d["id"]: d for d in workspace.destinations}
    doomed_filters = [f for f in workspace.destination_filters if f["destinationId"] == doomed["id"]]
    doomed_subscriptions = workspace.subscriptions_of(doomed["id"])

    code = workspace.apply("update_function_code", function_id=function["id"])
    workspace.apply("connect_warehouse", source_id=source["id"], warehouse_id=warehouse["id"])
    workspace.apply("toggle_destination_filter", filter_id=toggled["id"])
    workspace.apply("delete_destination", destination_id=doomed["id"])
    workspace.apply("delete_source", source_id=planned["id"])
    names = names_of_run(options, run_snapshot(options).run_id)

    new_version = next(m.resource_id for m in code.cascade if m.change == "added")
    assert names[("function_versions", f"{function['id']}:{new_version}", "added", None)] == (
        f"{function['displayName']} › version {new_version}")
    assert names[("source_warehouses", f"{source['id']}:{warehouse['id']}", "added", None)] == (
        f"Source {source['name']} → Warehouse {warehouse['settings']['name']}")
    assert names[("destination_filters", toggled["id"], "modified", "enabled")] == (
        f"{destinations[toggled['destinationId']]['name']} › {toggled['title']}")
    # children removed with their parent keep its name
    for item in doomed_filters:
        assert names[("destination_filters", item["id"], "removed", None)] == f"{doomed['name']} › {item['title']}"
    for item in doomed_subscriptions:
        assert names[("destination_subscriptions", item["id"], "removed", None)] == (
            f"{doomed['name']} › {item['name']}")
    assert names[("source_settings", planned["id"], "removed", None)] == planned["name"]
    assert names[("tracking_plan_sources", f"{plan['id']}:{planned['id']}", "removed", None)] == (
        f"Tracking plan {plan['name']} → Source {planned['name']}")
    assert all(names.values()), "every change row names its resource"


def test_label_changes_read_as_the_label_added_or_removed(start_emulator, options_for):
    workspace = generate_workspace(seed=27, scale="small")
    options = options_for(start_emulator(workspace), groups=["core"])
    run_snapshot(options)
    source = next(s for s in workspace.sources if s["labels"])
    dropped = source["labels"][0]
    added = next(label for label in workspace.labels if label not in source["labels"])

    workspace.apply("remove_source_label", source_id=source["id"], key=dropped["key"], value=dropped["value"])
    workspace.apply("add_source_label", source_id=source["id"], key=added["key"], value=added["value"])
    result = run_snapshot(options)

    rows = query(options, "select field_path, old_value, new_value from {ds}.config_changes"
                          " where run_id = ? and resource_id = ? order by old_value nulls last",
                 result.run_id, source["id"])
    assert rows == [
        ("labels", json.dumps(f"{dropped['key']}={dropped['value']}"), None),
        ("labels", None, json.dumps(f"{added['key']}={added['value']}")),
    ]
