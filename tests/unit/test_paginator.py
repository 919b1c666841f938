"""Segment's cursor pagination (`segment_source.SegmentCursorPaginator`): how each way an API ends a list
ends the walk, and what a cursor that comes back does."""

from __future__ import annotations

import json
from typing import Any, Optional

import pytest
import requests
from dlt.sources.helpers.requests import Request

from segment_source import RepeatedCursor, SegmentCursorPaginator
from segment_source.outcomes import Kind

MISSING = object()


def page(items: list, next_cursor: Any = MISSING, pagination: Any = MISSING) -> requests.Response:
    body: dict = {"data": {"sources": items}}
    if pagination is not MISSING:
        body["data"]["pagination"] = pagination
    elif next_cursor is not MISSING:
        body["data"]["pagination"] = {"current": "c0", "next": next_cursor}
    response = requests.Response()
    response.status_code, response._content = 200, json.dumps(body).encode()
    response.request = requests.Request("GET", "https://api.segmentapis.com/sources?pagination.count=2").prepare()
    return response


def walk_one(response: requests.Response, items: Optional[list] = None) -> SegmentCursorPaginator:
    paginator = SegmentCursorPaginator()
    paginator.update_state(response, items if items is not None else json.loads(response.content)["data"]["sources"])
    return paginator


ITEMS = [{"id": "a"}, {"id": "b"}]


@pytest.mark.parametrize("last_page", [
    page(ITEMS),  # no pagination object at all
    page(ITEMS, pagination={"current": "c0"}),  # no `next`
    page(ITEMS, next_cursor=None),
    page(ITEMS, next_cursor=""),
    page([], next_cursor="c1"),  # an empty page ends the walk even when it names a next page
], ids=["no-pagination", "no-next", "null-next", "empty-next", "empty-page"])
def test_each_way_of_saying_last_page_ends_the_walk(last_page):
    assert not walk_one(last_page).has_next_page


def test_a_next_cursor_is_sent_as_pagination_cursor():
    paginator = walk_one(page(ITEMS, next_cursor="c1"))
    assert paginator.has_next_page
    request = Request("GET", "https://api.segmentapis.com/sources", params={"pagination.count": 2})
    paginator.update_request(request)
    assert request.params == {"pagination.count": 2, "pagination.cursor": "c1"}


def test_a_walk_follows_new_cursors_and_stops_at_the_first_repeated_one():
    reported: list = []
    paginator = SegmentCursorPaginator(on_malformed=reported.append)
    for cursor in ("c1", "c2", "c3"):
        paginator.update_state(page(ITEMS, next_cursor=cursor), ITEMS)
        assert paginator.has_next_page and reported == []
    paginator.update_state(page(ITEMS, next_cursor="c2"), ITEMS)
    assert not paginator.has_next_page
    (outcome,) = reported
    assert outcome.kind is Kind.PASSING_FAILURE
    assert outcome.reason == "malformed answer to GET /sources: the cursor 'c2' came back twice"


def test_a_repeated_cursor_with_nobody_to_report_to_raises():
    paginator = walk_one(page(ITEMS, next_cursor="c1"))
    with pytest.raises(RepeatedCursor, match="'c1' came back twice"):
        paginator.update_state(page(ITEMS, next_cursor="c1"), ITEMS)
