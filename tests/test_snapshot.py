"""A snapshot run loads every resource complete: the real pipeline, over HTTP, into a real DuckDB."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from segment_emulator import generate_workspace

from pipelines.runner import run_snapshot
from segment_source import resolve_base_url
from segment_source.endpoints import ENDPOINTS_BY_NAME, FUNCTION_RESOURCE_TYPES
from segment_source.settings import MAX_PAGE_SIZE

from .helpers import current_keys, expected_audit_event_ids, expected_keys, query


def page_size(path: str) -> int:
    """The page a top-level list is read with: the API's largest, or its endpoint's if smaller."""
    return min(MAX_PAGE_SIZE, ENDPOINTS_BY_NAME[path.strip("/").replace("-", "_")].page_size)


def assert_complete(options, workspace, started):
    for table, keys in expected_keys(workspace).items():
        assert current_keys(options, table) == keys, table
    loaded_events = {row[0] for row in query(options, "select id from {ds}.audit_events")}
    expected, at_edge = expected_audit_event_ids(workspace, started)
    assert loaded_events - at_edge == expected


def test_small_snapshot_loads_every_resource_complete(small_workspace, start_emulator, options_for):
    emulator = start_emulator(small_workspace)
    options = options_for(emulator)
    started = datetime.now(timezone.utc)

    result = run_snapshot(options)

    assert result.skipped == {}
    assert_complete(options, small_workspace, started)
    assert result.table_rows["sources"] == len(small_workspace.sources)
    # every request asked for the largest page its endpoint allows and the right version
    lists = [r for r in emulator.requests if r.path in ("/sources", "/destinations", "/tracking-plans")]
    assert lists and all(r.query.get("pagination.count") == [str(page_size(r.path))] for r in lists)
    versions = [r for r in emulator.requests if r.path.endswith("/versions")]
    assert versions and all(r.accept == "application/vnd.segment.v1alpha+json" for r in versions)
    assert {r.method for r in emulator.requests} == {"GET"}
    function_types = {r.query["resourceType"][0] for r in emulator.requests if r.path == "/functions"}
    assert function_types == set(FUNCTION_RESOURCE_TYPES)


def test_many_small_pages_load_the_same_rows(small_workspace, start_emulator, options_for):
    emulator = start_emulator(small_workspace)
    options = options_for(emulator, page_size=3)

    run_snapshot(options)

    assert_complete(options, small_workspace, datetime.now(timezone.utc))
    source_pages = [r for r in emulator.requests if r.path == "/sources"]
    assert len(source_pages) >= len(small_workspace.sources) // 3
    cursors = [r.query.get("pagination.cursor", [None])[0] for r in source_pages]
    assert cursors[0] is None and len(set(cursors)) == len(cursors)


@pytest.mark.parametrize("last_page_next", ["absent", "null", "empty"])
def test_pagination_ends_on_every_last_page_style(last_page_next, start_emulator, options_for):
    workspace = generate_workspace(seed=3, scale="tiny")
    emulator = start_emulator(workspace, last_page_next=last_page_next)
    options = options_for(emulator, page_size=2, resources=["sources"])  # every list ends the same way

    run_snapshot(options)

    assert current_keys(options, "sources") == {s["id"] for s in workspace.sources}
    source_pages = [r for r in emulator.requests if r.path == "/sources"]
    assert len(source_pages) == -(-len(workspace.sources) // 2)  # no request past the last page


@pytest.mark.slow
def test_medium_snapshot_is_complete_across_pages(start_emulator, options_for):
    workspace = generate_workspace(seed=5, scale="medium")
    emulator = start_emulator(workspace)
    # core only: Engage's per-audience endpoints are paced at 50-60 requests a minute, minutes at this size
    options = options_for(emulator, groups=["core"])
    started = datetime.now(timezone.utc)

    run_snapshot(options)

    assert_complete(options, workspace, started)
    destination_pages = [r for r in emulator.requests if r.path == "/destinations"]
    assert len(destination_pages) == -(-len(workspace.destinations) // page_size("/destinations")) > 1
    rule_pages = [r for r in emulator.requests if r.path.endswith("/rules")]
    assert len(rule_pages) > len(workspace.tracking_plans), "some plans need more than one page of rules"


def test_region_selects_the_host():
    assert resolve_base_url(None, None) == "https://api.segmentapis.com"
    assert resolve_base_url("us", None) == "https://api.segmentapis.com"
    assert resolve_base_url("EU", None) == "https://eu1.api.segmentapis.com"
    assert resolve_base_url("eu", "http://127.0.0.1:9/") == "http://127.0.0.1:9"
    with pytest.raises(ValueError, match="Unknown Segment region 'ap'"):
        resolve_base_url("ap", None)
