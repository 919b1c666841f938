"""The endpoint table answers everything about a resource: its by-id read, the audit events that name it and
the rows that go with it; a change-driven run is planned from those declarations alone. No server here."""

from __future__ import annotations

import threading
import time

from segment_source import ExtractionReport, segment_source
from segment_source.by_id import SharedReads
from segment_source.changes import endpoints_to_read, plan_from_events
from segment_source.endpoints import (
    ENDPOINTS,
    FUNCTION_LIST_FIELDS,
    FUNCTION_RESOURCE_TYPES,
    dependents,
    named_by_audit_type,
)
from segment_source.options import open_session, source_settings

SINCE = "2026-03-01T00:00:00Z"


def event(resource_type: str, resource_id: str = "r1") -> dict:
    return {"id": f"e-{resource_type}-{resource_id}", "resourceType": resource_type, "resourceId": resource_id}


def test_every_audit_type_names_one_table():
    owners = {}
    for endpoint in ENDPOINTS:
        for audit_type in endpoint.audit_types:
            owners.setdefault(audit_type, set()).add(endpoint.table_name)
    assert owners and all(len(tables) == 1 for tables in owners.values()), owners


def test_a_by_id_read_is_declared_on_top_level_lists_only():
    declared = [e for e in ENDPOINTS if e.by_id is not None]
    assert declared and all(not e.parent and e.audit_types for e in declared)
    assert {e.by_id.url_path("x1") for e in declared if e.table_name == "sources"} == {"sources/x1"}


def test_the_function_lists_share_one_by_id_read_that_shows_the_list_fields():
    functions = [e for e in ENDPOINTS if e.table_name == "functions"]
    assert [e.params["resourceType"] for e in functions] == list(FUNCTION_RESOURCE_TYPES)
    assert {e.by_id for e in functions} == {functions[0].by_id}
    assert functions[0].by_id.list_fields == FUNCTION_LIST_FIELDS
    assert functions[0].by_id.matches_params == ("resourceType",)
    assert named_by_audit_type("function").table_name == "functions"


def test_a_function_event_reads_the_function_once_under_its_table():
    plan, why_full = plan_from_events([event("function", "f1"), event("Functions", "f1")], SINCE)
    assert why_full is None
    assert plan.ids == {"functions": {"f1"}} and plan.roots() == {"functions"}
    read = {e.name for e in endpoints_to_read(["function_versions", "sources"], None, plan)}
    assert read == {*(f"functions_{t.lower()}" for t in FUNCTION_RESOURCE_TYPES),
                    *(f"function_versions_{t.lower()}" for t in FUNCTION_RESOURCE_TYPES)}


def test_a_change_driven_run_reads_the_named_tables_their_children_and_the_audit_trail():
    plan, _ = plan_from_events([event("tracking plan", "tp1"), event("label", "env:prod")], SINCE)
    assert plan.ids == {"tracking_plans": {"tp1"}} and plan.whole == {"labels"}
    read = [e.name for e in endpoints_to_read(None, ["core"], plan)]
    # a plan's sources change with `Source Modified` events, not with the plan's
    assert read == ["tracking_plans", "tracking_plan_rules", "labels", "audit_events"]


def test_a_deleted_source_takes_the_rows_that_refer_to_it_and_its_children():
    assert dependents("sources") == [
        ("destinations", "source_id"), ("source_warehouses", "source_id"), ("tracking_plan_sources", "source_id"),
        ("transformations", "source_id"), ("insert_function_instances", "integration_id"),
        ("source_settings", "source_id"), ("live_plugins", "source_id"),
    ]
    assert ("insert_function_instances", "integration_id") in dependents("destinations")
    assert ("destination_filters", "destination_id") in dependents("destinations")
    assert dependents("warehouses")[0] == ("source_warehouses", "warehouse_id")


def test_shared_reads_read_each_path_once_across_threads():
    calls = []

    def read():
        calls.append(1)
        time.sleep(0.05)  # the other threads ask while the first read is under way
        return {"id": "f1"}

    reads = SharedReads()
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(reads.get("functions/f1", read))) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and answers == [{"id": "f1"}] * 5


def test_building_the_source_sends_no_request():
    settings = source_settings(access_token="unit-token", base_url="http://127.0.0.1:9", groups=["core", "iam"])
    report = ExtractionReport()
    session = open_session(settings, report)
    source = segment_source(settings, {"id": "ws1", "name": "Unit"}, session, report)
    assert "sources" in source.resources and "workspace" in source.resources
    plan, _ = plan_from_events([event("source", "s1")], SINCE)
    changed = segment_source(settings, {"id": "ws1"}, session, report, plan=plan)
    assert set(changed.resources) == {"sources", "source_settings", "audit_events_ws1"}
    assert session.stats.requests == 0


def test_a_child_is_fed_the_fields_its_request_names_and_those_it_copies():
    by_name = {endpoint.name: endpoint for endpoint in ENDPOINTS}
    assert by_name["destination_filters"].fields_from_parent == ("id",)
    assert by_name["delivery_metrics"].fields_from_parent == ("id", "sourceId")  # a query parameter names it
    assert set(by_name["warehouse_selective_syncs"].fields_from_parent) == {"warehouse_id", "source_id"}
