"""Planning a change-driven run from the audit trail (`plan_from_events`): which resources are read again
by id, which tables are re-read whole, and which events force a full snapshot."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Dict, List

import pytest

from segment_source import audit_read_start
from segment_source.changes import endpoints_to_read, events_after, plan_from_events

SINCE = "2026-03-01T00:00:00Z"


def event(resource_type: str, resource_id: str = "id1") -> Dict[str, str]:
    return {"id": f"e-{resource_type}-{resource_id}", "type": "Changed", "resourceType": resource_type,
            "resourceId": resource_id}


@pytest.mark.parametrize("resource_type, table", [
    ("source", "sources"),
    ("Source", "sources"),
    ("SOURCES", "sources"),
    ("destination", "destinations"),
    ("integration", "destinations"),  # the trail's older name for a destination
    ("warehouse", "warehouses"),
    ("Storage Destination", "warehouses"),
    ("tracking_plan", "tracking_plans"),
    ("Tracking Plan", "tracking_plans"),
    ("transformation", "transformations"),
    ("user", "users"),
    ("user-group", "user_groups"),
    ("group", "user_groups"),
    ("warehouse credential", "credentials"),
    ("Reverse ETL Model", "reverse_etl_models"),
    ("space", "spaces"),
])
def test_each_audit_resource_type_is_read_again_by_id_from_its_table(resource_type, table):
    plan, why_full = plan_from_events([event(resource_type, "r1")], SINCE)
    assert why_full is None
    assert plan.ids == {table: {"r1"}}
    assert plan.roots() == {table}


def test_several_events_of_one_resource_read_it_once():
    plan, _ = plan_from_events([event("source", "s1"), event("source", "s1"), event("source", "s2")], SINCE)
    assert plan.ids == {"sources": {"s1", "s2"}}
    assert plan.events == 3


def test_a_label_event_rereads_the_whole_label_list():
    plan, _ = plan_from_events([event("label", "env:prod")], SINCE)
    assert plan.whole == {"labels"} and plan.labels == {"env:prod"}
    assert plan.ids == {} and plan.roots() == {"labels"}


def test_a_function_event_reads_the_function_once_by_id():
    plan, _ = plan_from_events([event("function", "f1")], SINCE)
    assert plan.ids == {"functions": {"f1"}}
    assert plan.roots() == {"functions"}


@pytest.mark.parametrize("events, named", [
    ([event("audience")], "audience"),
    ([event("source"), event("Computed Trait")], "Computed Trait"),
    ([{"id": "e1", "resourceId": "x"}], "(none)"),  # no resource type at all
])
def test_a_resource_type_only_a_full_snapshot_reads_plans_a_full_run(events: List[dict], named):
    plan, why_full = plan_from_events(events, SINCE)
    assert plan is None
    assert why_full.startswith("the audit trail names resource types only a full snapshot reads")
    assert named in why_full


def test_an_event_without_a_resource_id_cannot_be_read_by_id():
    plan, why_full = plan_from_events([event("source", "")], SINCE)
    assert plan is None and "source" in why_full


def test_a_quiet_trail_plans_nothing_to_read():
    plan, why_full = plan_from_events([], SINCE)
    assert why_full is None and plan.since == SINCE
    assert (plan.roots(), plan.events) == (set(), 0)


def timed(resource_type: str, resource_id: str, event_type: str, timestamp: str) -> Dict[str, str]:
    return {**event(resource_type, resource_id), "id": f"e-{timestamp}-{event_type}", "type": event_type,
            "timestamp": timestamp}


@pytest.mark.parametrize("resource_type, deletion, table", [
    ("source", "Source Deleted", "sources"),
    ("destination", "Integration Deleted", "destinations"),
    ("warehouse", "Storage Destination Deleted", "warehouses"),
])
def test_an_item_whose_last_event_deleted_it_is_retired_unread(resource_type, deletion, table):
    events = [timed(resource_type, "r1", deletion, "2026-03-02T10:00:00.000Z"),  # newest first, as the API
              timed(resource_type, "r1", "Modified", "2026-03-02T09:00:00.000Z")]
    plan, _ = plan_from_events(events, SINCE)
    assert plan.deleted == {table: {"r1"}} and plan.ids == {}
    assert plan.roots() == {table}, "the table is still visited: its deleted rows are retired"


def test_an_item_changed_after_or_with_its_deletion_event_is_read():
    """The trail's order is undocumented and timestamps can tie: a deletion counts only when it is alone last."""
    events = [timed("source", "s1", "Source Deleted", "2026-03-02T09:00:00Z"),
              timed("source", "s1", "Source Modified", "2026-03-02T10:00:00Z"),
              timed("source", "s2", "Source Deleted", "2026-03-02T10:00:00Z"),
              timed("source", "s2", "Source Modified", "2026-03-02T10:00:00.000Z")]
    plan, _ = plan_from_events(events, SINCE)
    assert plan.ids == {"sources": {"s1", "s2"}} and plan.deleted == {}


def test_an_undocumented_deletion_wording_is_read_by_id():
    plan, _ = plan_from_events([timed("source", "s1", "Source Removed", "2026-03-02T10:00:00Z"),
                                timed("destination", "d1", "Source Deleted", "2026-03-02T10:00:00Z")], SINCE)
    assert plan.ids == {"sources": {"s1"}, "destinations": {"d1"}} and plan.deleted == {}


def test_planning_reads_only_events_after_the_window_start():
    since = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
    events = [timed("source", "s1", "Source Modified", "2026-03-02T10:00:00.001Z"),
              timed("source", "s2", "Source Modified", "2026-03-02T10:00:00Z"),
              timed("source", "s3", "Source Modified", "2026-03-02T09:58:00Z")]
    assert [e["resourceId"] for e in events_after(events, since)] == ["s1"]
    assert [e["resourceId"] for e in events_after(events, since.replace(tzinfo=None))] == ["s1"]


def test_a_changed_plan_rereads_its_rules_but_not_its_sources():
    """Connecting a source to a tracking plan is audited on the source (`Source Modified`), never on the plan."""
    plan, _ = plan_from_events([event("tracking_plan", "tp1")], SINCE)
    read = {e.table_name for e in endpoints_to_read(["tracking_plans", "tracking_plan_rules",
                                                     "tracking_plan_sources"], None, plan)}
    assert read == {"tracking_plans", "tracking_plan_rules"}
    full = {e.table_name for e in endpoints_to_read(["tracking_plan_sources"], None, None)}
    assert full == {"tracking_plans", "tracking_plan_sources"}


def test_the_audit_read_starts_where_the_audit_tables_own_read_would():
    """Planning's read of the trail feeds the audit table, so it starts no later than the table's incremental."""
    now = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)
    state = {"sources": {"segment": {"resources": {"audit_events_w1": {"incremental": {"timestamp": {
        "last_value": "2026-03-02T11:00:00.000Z"}}}}}}}
    assert audit_read_start(state, "w1", now) == datetime(2026, 3, 2, 10, 55, tzinfo=timezone.utc)  # 5 min overlap
    first_read = audit_read_start({}, "w1", now)
    assert first_read == now - timedelta(days=90) + timedelta(minutes=5)
    assert audit_read_start(state, "another workspace", now) == first_read


def test_the_change_log_compares_every_table_a_deletion_reaches():
    """A deleted source takes its destinations, their filters and its plan links with it: those tables are not
    read when only the source was named, but their retired rows belong in the change log."""
    from pipelines.change_runs import tables_it_may_change

    plan, _ = plan_from_events([timed("source", "s1", "Source Deleted", "2026-03-02T10:00:00Z")], SINCE)
    read = endpoints_to_read(["sources", "destinations", "destination_filters", "tracking_plan_sources", "labels"],
                             None, plan)
    assert {e.table_name for e in read} == {"sources"}
    assert tables_it_may_change(read) >= {"sources", "destinations", "destination_filters", "tracking_plan_sources"}
    assert "labels" not in tables_it_may_change(read)
