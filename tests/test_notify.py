"""Alerts through the Tracking API, end to end: `segment-history run` and `notify` against the emulator,
which serves both the Public API the snapshot reads and the Tracking API the alerts go to."""

from __future__ import annotations

import uuid
from datetime import timezone

import pytest

from segment_emulator import generate_workspace

from pipelines import cli
from pipelines.demo import run_demo
from pipelines.runner import RunOptions
from segment_emulator.tracking import PATHS as TRACKING_PATHS

from .helpers import query
from .notify_setup import Cli, expected_message_id, notify_env, write_key  # noqa: F401 - notify_env: fixture
from .postgres import free_port


@pytest.fixture
def tiny(start_emulator, options_for, capsys):
    workspace = generate_workspace(seed=5, scale="tiny")
    emulator = start_emulator(workspace)
    return workspace, emulator, Cli(emulator, options_for(emulator), capsys)


def events_of(emulator):
    return [received.event for received in emulator.tracking.received]


@pytest.mark.slow
def test_one_event_per_change_with_stable_message_ids_and_nothing_twice(tiny, notify_env):
    workspace, emulator, app = tiny
    notify_env("segment", write_key=write_key(workspace), endpoint=emulator.base_url)

    assert app.run() == cli.EXIT_OK
    assert events_of(emulator) == [], "the first snapshot is a baseline: it has no changes to send"
    assert app.notifications("segment") == {}, "the table exists, empty, from the first run with a sink"

    workspace.mutate(count=6, seed=51)
    assert app.run() == cli.EXIT_OK
    rows = app.changes(app.latest_run_id())
    events = events_of(emulator)
    assert len(rows) >= 4 and len(events) == len(rows)
    assert emulator.tracking.dropped == [], "every event has an anonymousId and an event name"
    by_id = {event["messageId"]: event for event in events}
    assert set(by_id) == {expected_message_id(row) for row in rows}, "one event per change row, ids as documented"
    for row in rows:
        event = by_id[expected_message_id(row)]
        assert (event["type"], event["event"]) == ("track", "Segment Config Changed")
        assert event["anonymousId"] == f"segment-history:{row['workspace_id']}" and "userId" not in event
        assert event["timestamp"] == row["observed_at"].astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
        properties = event["properties"]
        assert {k: properties[k] for k in row if k != "observed_at"} == {k: v for k, v in row.items()
                                                                         if k != "observed_at"}
    assert {received.write_key for received in emulator.tracking.received} == {write_key(workspace)}
    assert "Notifications: " + f"{len(rows)} to segment." in app.out
    recorded = app.notifications("segment")
    assert set(recorded) == set(by_id)
    assert all(r["delivered"] and r["attempts"] == 1 and r["last_error"] is None for r in recorded.values())

    assert app.run() == cli.EXIT_OK, "a quiet run"
    assert app.notify() == cli.EXIT_OK
    assert "segment: 0 delivered, 0 pending" in app.out
    assert len(events_of(emulator)) == len(rows), "a rerun never sends a delivered change again"
    public_api = [r for r in emulator.requests if r.path not in TRACKING_PATHS]
    assert {r.method for r in public_api} == {"GET"}, "the Public API is only ever read"
    assert len(emulator.requests) - len(public_api) == 1, "one batch request for the whole run"


@pytest.mark.slow
def test_a_sink_outage_leaves_the_run_green_and_the_next_run_or_notify_delivers_exactly_the_pending(
        tiny, notify_env):
    workspace, emulator, app = tiny
    notify_env("segment", write_key=write_key(workspace), endpoint=f"http://127.0.0.1:{free_port()}")  # down
    assert app.run() == cli.EXIT_OK
    workspace.mutate(count=4, seed=52)
    summary = app.run_json()
    second = app.changes(app.latest_run_id())
    assert summary["status"] == "ok", "a failed notification never fails a snapshot"
    [sink] = summary["notifications"]["sinks"]
    assert (sink["sink"], sink["queued"], sink["delivered"], sink["pending"], sink["requests"]) == (
        "segment", len(second), 0, len(second), 3)
    assert "could not connect" in sink["error"]
    [warning] = app.warnings()
    assert warning.startswith("segment-history: warning: notify.segment: ") and "could not connect" in warning
    assert "retries them" in warning
    assert all(not r["delivered"] and r["attempts"] == 3 and r["last_error"] == "could not connect"
               for r in app.notifications("segment").values())

    # back up, but answering 503 for a whole delivery: the next run queues its own changes and fails again
    notify_env("segment", endpoint=emulator.base_url)
    emulator.tracking.fail_next(503, times=3)
    workspace.mutate(count=4, seed=53)
    assert app.run() == cli.EXIT_OK
    third = app.changes(app.latest_run_id())
    [warning] = app.warnings()
    assert "notify.segment" in warning and "HTTP 503" in warning and f"{len(second) + len(third)} changes" in warning
    assert events_of(emulator) == []

    assert app.notify() == cli.EXIT_OK
    delivered = [event["messageId"] for event in events_of(emulator)]
    assert sorted(delivered) == sorted(expected_message_id(row) for row in second + third), "exactly the pending"
    assert app.notify() == cli.EXIT_OK and len(events_of(emulator)) == len(delivered)
    recorded = app.notifications("segment")
    assert all(r["delivered"] for r in recorded.values())
    assert {r["attempts"] for r in recorded.values()} == {3 + 3 + 1, 3 + 1}, "each request counted"


def test_a_refused_write_key_is_reported_with_what_to_do_and_sent_once_fixed(tiny, notify_env):
    workspace, emulator, app = tiny
    notify_env("segment", write_key="not-a-write-key-of-this-workspace", endpoint=emulator.base_url)
    assert app.run() == cli.EXIT_OK
    workspace.mutate(count=3, seed=54)
    assert app.run() == cli.EXIT_OK
    [warning] = app.warnings()
    assert "notify.segment" in warning and "HTTP 401" in warning and "notify.segment.write_key" in warning
    assert "segment-history notify" in warning
    assert "not-a-write-key" not in app.out + app.err
    assert {r["attempts"] for r in app.notifications("segment").values()} == {1}, "a 401 is not retried"
    assert app.notify() == 4, "notify says something is still pending"

    notify_env("segment", write_key=write_key(workspace))
    assert app.notify() == cli.EXIT_OK
    assert len(events_of(emulator)) == len(app.changes(app.latest_run_id()))


def test_filters_select_what_they_say(start_emulator, options_for, capsys, notify_env):
    workspace = generate_workspace(seed=5, scale="small")
    emulator = start_emulator(workspace)
    app = Cli(emulator, options_for(emulator), capsys)
    prod = [s["id"] for s in workspace.sources
            if {"key": "environment", "value": "prod"} in [{"key": l["key"], "value": l["value"]} for l in s["labels"]]]
    on_prod = [d["id"] for d in workspace.destinations if d["sourceId"] in prod and d["enabled"]]
    off_prod = [d["id"] for d in workspace.destinations if d["sourceId"] not in prod and d["enabled"]]
    notify_env("segment", write_key=write_key(workspace), endpoint=emulator.base_url,
               resource_types=["destinations"], change_kinds=["modified"], fields=["enabled", "settings.*"],
               labels=["environment=prod"], exclude_actors=["public-api-token/*"])
    assert app.run() == cli.EXIT_OK
    alice = dict(actor=workspace.users[0]["id"], actor_email=workspace.users[0]["email"])
    terraform = dict(actor="public-api-token/terraform", actor_email=None)
    wanted = workspace.apply("disable_destination", destination_id=on_prod[0], **alice)
    workspace.apply("disable_destination", destination_id=on_prod[1], **terraform)  # exclude_actors
    workspace.apply("disable_destination", destination_id=off_prod[0], **alice)  # labels
    workspace.apply("rename_destination", destination_id=on_prod[0], **alice)  # fields
    workspace.apply("delete_destination", destination_id=on_prod[2], **alice)  # change_kinds
    workspace.apply("rename_source", source_id=prod[0], **alice)  # resource_types
    assert app.run() == cli.EXIT_OK

    rows = app.changes(app.latest_run_id())
    kinds = {(r["resource_id"], r["change_kind"], r["field_path"]) for r in rows}
    assert {(on_prod[1], "modified", "enabled"), (off_prod[0], "modified", "enabled"), (on_prod[2], "removed", None),
            (on_prod[0], "modified", "name"), (prod[0], "modified", "name")} <= kinds, "each filter has work"
    [event] = events_of(emulator)
    assert (event["properties"]["resource_id"], event["properties"]["field_path"]) == (wanted.resource_id, "enabled")


@pytest.mark.slow
def test_labels_are_the_resources_labels_when_the_change_was_observed(tiny, notify_env):
    workspace, emulator, app = tiny
    source = next(s for s in workspace.sources if any(l["value"] == "prod" for l in s["labels"]))
    destinations = [d["id"] for d in workspace.destinations if d["sourceId"] == source["id"]]
    notify_env("segment", write_key=write_key(workspace), endpoint=emulator.base_url, labels=["environment:prod"])
    assert app.run() == cli.EXIT_OK
    workspace.apply("disable_destination", destination_id=destinations[0])
    assert app.run() == cli.EXIT_OK
    assert [e["properties"]["resource_id"] for e in events_of(emulator)] == [destinations[0]]
    workspace.apply("remove_source_label", source_id=source["id"], key="environment", value="prod")
    workspace.apply("disable_destination", destination_id=destinations[1])
    assert app.run() == cli.EXIT_OK
    removed = [r for r in app.changes(app.latest_run_id()) if r["resource_type"] == "sources"]
    assert removed and all(r["field_path"].startswith("labels") for r in removed)
    assert [e["properties"]["resource_id"] for e in events_of(emulator)] == [destinations[0]], (
        "no longer labelled prod when its destination changed")


@pytest.mark.slow
def test_notify_works_on_a_machine_that_holds_only_the_destination(tiny, notify_env, tmp_path):
    workspace, emulator, app = tiny
    notify_env("segment", write_key=write_key(workspace), endpoint=f"http://127.0.0.1:{free_port()}")
    assert app.run() == cli.EXIT_OK
    workspace.mutate(count=3, seed=55)
    assert app.run() == cli.EXIT_OK and app.warnings()
    notify_env("segment", endpoint=emulator.base_url)
    fresh = Cli(emulator, app.options, app.capsys)
    fresh.place[fresh.place.index("--pipelines-dir") + 1] = str(tmp_path / "elsewhere")
    assert fresh.notify() == cli.EXIT_OK and fresh.notify() == cli.EXIT_OK
    assert len(events_of(emulator)) == len(app.changes(app.latest_run_id()))
    assert {r["delivered"] for r in app.notifications("segment").values()} == {True}
    schemas = query(app.options, "select distinct schema_name from {ds}._dlt_version")
    assert schemas == [("segment",)], "the notifications went into the history's own schema"
    assert app.run() == cli.EXIT_OK and app.warnings() == [], "the usual machine goes on as before"


def test_notify_without_a_sink_says_how_to_configure_one(tiny, notify_env):
    _, _, app = tiny
    assert app.notify() == cli.EXIT_USAGE
    assert "notify.segment.write_key" in app.err and "docs/alerts.md" in app.err


def test_a_bad_filter_setting_is_one_line_and_never_fails_the_snapshot(tiny, notify_env):
    workspace, emulator, app = tiny
    notify_env("segment", write_key=write_key(workspace), endpoint=emulator.base_url, change_kinds=["deleted"])
    assert app.run() == cli.EXIT_OK
    [warning] = app.warnings()
    assert "notify.segment.change_kinds: deleted is not one of added, removed, modified" in warning
    assert app.notify() == cli.EXIT_USAGE


@pytest.mark.slow
def test_the_demo_says_how_many_alerts_the_emulated_tracking_api_received(tmp_path, capsys):
    path = tmp_path / "demo.duckdb"
    assert run_demo(str(path), "tiny", 7, 2, str(tmp_path / "pipelines")) == 0
    lines = capsys.readouterr().out.splitlines()
    [alerts] = [line for line in lines if "alerts delivered" in line]
    changes = query(RunOptions(duckdb_path=str(path)), "select count(*) from {ds}.config_changes")[0][0]
    assert changes > 0 and alerts == f"{changes} alerts delivered to the emulated Tracking API"
    assert lines.index(alerts) < lines.index(next(line for line in lines if "Try next:" in line)), \
        "the commands to try come last, so they can be copied"


@pytest.mark.slow
def test_exactly_once_on_postgres(start_emulator, options_for, capsys, notify_env, postgres_dsn, monkeypatch):
    """The same queue, deliver, record cycle with the `notifications` table in PostgreSQL."""
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", postgres_dsn)
    workspace = generate_workspace(seed=5, scale="tiny")
    emulator = start_emulator(workspace)
    options = options_for(emulator, destination="postgres", pipeline_name="pg_notify",
                          dataset_name=f"notify_{uuid.uuid4().hex[:8]}")
    app = Cli(emulator, options, capsys)
    notify_env("segment", write_key=write_key(workspace), endpoint=f"http://127.0.0.1:{free_port()}",
               labels=["environment:prod"])
    assert app.run() == cli.EXIT_OK
    source = next(s for s in workspace.sources if {"key": "environment", "value": "prod"} in
                  [{"key": label["key"], "value": label["value"]} for label in s["labels"]])
    workspace.apply("disable_destination",
                    destination_id=next(d["id"] for d in workspace.destinations if d["sourceId"] == source["id"]))
    workspace.apply("rename_source", source_id=source["id"])
    assert app.run() == cli.EXIT_OK and len(app.warnings()) == 1
    rows = app.changes(app.latest_run_id())
    assert len(rows) >= 2 and all(not r["delivered"] for r in app.notifications("segment").values())

    notify_env("segment", endpoint=emulator.base_url)
    assert app.notify() == cli.EXIT_OK
    assert sorted(e["messageId"] for e in events_of(emulator)) == sorted(expected_message_id(r) for r in rows)
    assert app.run() == cli.EXIT_OK and app.notify() == cli.EXIT_OK
    assert len(events_of(emulator)) == len(rows)
    recorded = app.notifications("segment")
    assert {(r["delivered"], r["attempts"]) for r in recorded.values()} == {(True, 4)}


def test_exactly_once_on_files_where_each_attempt_is_appended(start_emulator, options_for, capsys, notify_env,
                                                              tmp_path, monkeypatch):
    """The filesystem destination cannot merge: `notifications` gets a row per attempt, and the latest counts."""
    monkeypatch.setenv("DESTINATION__FILESYSTEM__BUCKET_URL", (tmp_path / "lake").as_uri())
    workspace = generate_workspace(seed=5, scale="tiny")
    emulator = start_emulator(workspace)
    app = Cli(emulator, options_for(emulator, destination="filesystem", pipeline_name="lake_notify"), capsys)
    source = next(s for s in workspace.sources if any(label["value"] == "prod" for label in s["labels"]))
    notify_env("segment", write_key=write_key(workspace), endpoint=emulator.base_url, labels=["environment:prod"])
    assert app.run() == cli.EXIT_OK
    emulator.tracking.fail_next(503, times=3)
    workspace.apply("disable_destination",
                    destination_id=next(d["id"] for d in workspace.destinations if d["sourceId"] == source["id"]))
    staging = next(s for s in workspace.sources if not any(label["value"] == "prod" for label in s["labels"]))
    workspace.apply("rename_source", source_id=staging["id"])
    assert app.run() == cli.EXIT_OK and "HTTP 503" in app.warnings()[0]
    assert app.notify() == cli.EXIT_OK and app.notify() == cli.EXIT_OK
    [event] = events_of(emulator)
    assert event["properties"]["resource_type"] == "destinations", "labels read from the appended snapshots"
    rows = app.query("select delivered, attempts from {ds}.notifications order by attempts")
    assert [(r["delivered"], r["attempts"]) for r in rows] == [(False, 0), (False, 3), (True, 4)]
