"""What an answer means, decided once (`segment_source.outcomes`), and what reads the decision: the run's exit
status, dependent tables and the change-driven window. Pure logic, no server."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone
from typing import Optional

import pytest
import requests

from segment_source import RepeatedCursor, SegmentCursorPaginator
from segment_source.endpoints import ENDPOINTS_BY_NAME, Endpoint
from segment_source.outcomes import (BodyTimeout, Kind, Outcome, Timeouts, kind_of_skip, of_answer, of_no_answer,
                                     of_repeated_cursor, received)
from segment_source.settings import FEW_ATTEMPTS

from pipelines.change_runs import _only_lasting_gaps
from pipelines.package import with_dependent_tables
from pipelines.runner import RunResult

SOURCES = ENDPOINTS_BY_NAME["sources"]
LIVE_PLUGINS = ENDPOINTS_BY_NAME["live_plugins"]  # a source without a plugin answers 404
URL = "https://api.segmentapis.com/sources?pagination.count=1000&pagination.cursor=secret-ish"


def answer(status: int, body: bytes = b"", content_type: str = "application/json", reason: str = "",
           url: str = URL) -> requests.Response:
    response = requests.Response()
    response.status_code, response._content, response.reason, response.url = status, body, reason, url
    response.headers["Content-Type"] = content_type
    response.request = requests.Request("GET", url).prepare()
    return response


def classify(status: int, body: bytes = b"", endpoint: Optional[Endpoint] = SOURCES, **kwargs) -> Outcome:
    response = answer(status, body, **kwargs)
    try:
        response.json()
        parsed = True
    except ValueError:
        parsed = False
    return of_answer(response, parsed, endpoint)


PAGE = json.dumps({"data": {"sources": [], "pagination": {}}}).encode()


@pytest.mark.parametrize("status, endpoint, kind", [
    (200, SOURCES, Kind.OK),
    (401, SOURCES, Kind.LASTING_GAP),
    (403, SOURCES, Kind.LASTING_GAP),
    (404, SOURCES, Kind.LASTING_GAP),
    (422, SOURCES, Kind.LASTING_GAP),  # a feature the plan lacks
    (404, LIVE_PLUGINS, Kind.ABSENT),  # this endpoint's way of saying "none"
    (400, SOURCES, Kind.PASSING_FAILURE),
    (415, SOURCES, Kind.PASSING_FAILURE),
    (500, SOURCES, Kind.RETRY),
    (503, None, Kind.RETRY),
    (429, SOURCES, Kind.RETRY),
])
def test_each_status_means_one_thing(status, endpoint, kind):
    assert classify(status, PAGE if status == 200 else b'{"errors": []}', endpoint).kind is kind


def test_what_a_retry_becomes_when_the_attempts_run_out():
    server_error = classify(503, b"{}", reason="Service Unavailable")
    assert (server_error.then, server_error.attempts) == (Kind.PASSING_FAILURE, None)
    assert server_error.given_up(8) == Outcome(Kind.PASSING_FAILURE,
                                               "HTTP 503 Service Unavailable on GET /sources (8 attempts)")
    rate_limited = classify(429, b"{}")
    assert rate_limited.rate_limited and rate_limited.then is Kind.FATAL


def test_a_page_that_is_not_json_is_retried_a_few_times_then_skips_the_table():
    html = classify(200, b"<html><title>502 Bad Gateway</title>\x1b[31m\r\n</html>", content_type="text/html")
    assert (html.kind, html.then, html.attempts) == (Kind.RETRY, Kind.PASSING_FAILURE, FEW_ATTEMPTS)
    assert html.reason == ("malformed answer to GET /sources: HTTP 200, text/html, 50 bytes:"
                           " '<html><title>502 Bad Gateway</title> [31m </html>'"), "sanitised, no query string"


def test_a_page_of_the_wrong_shape_skips_the_table_at_once():
    outcome = classify(200, json.dumps({"data": {"source": {}}}).encode())
    assert outcome == Outcome(Kind.PASSING_FAILURE, "malformed answer to GET /sources: no list at data.sources")


def test_an_empty_list_the_api_leaves_out_is_fine_where_the_endpoint_says_so():
    space_filters = ENDPOINTS_BY_NAME["space_filters"]
    assert space_filters.list_optional
    assert classify(200, json.dumps({"data": {}}).encode(), space_filters).kind is Kind.OK


def test_received_shows_the_start_of_a_page_but_never_of_json():
    long_page = answer(200, b"<p>" + b"x" * 500, content_type="text/html")
    assert received(long_page) == f"HTTP 200, text/html, 503 bytes: '<p>{'x' * 77}'"
    cut_json = answer(200, b'{"data":{"sources":[{"writeKeys":["wk_', content_type="application/json")
    assert received(cut_json) == "HTTP 200, application/json, 38 bytes of incomplete JSON"


@pytest.mark.parametrize("error, reason, timed_out, attempts", [
    (requests.exceptions.ReadTimeout(), "GET /sources did not answer within 2 s", True, FEW_ATTEMPTS),
    (BodyTimeout(), "GET /sources did not answer within 2 s", True, FEW_ATTEMPTS),
    (requests.exceptions.ConnectTimeout(), "GET /sources: no connection within 1 s", False, FEW_ATTEMPTS),
    (requests.exceptions.ConnectionError(), "GET /sources: connection failed (ConnectionError)", False, None),
])
def test_no_answer_is_retried_then_ends_the_run(error, reason, timed_out, attempts):
    outcome = of_no_answer(error, URL, Timeouts(connect=1, read=2))
    assert (outcome.kind, outcome.then, outcome.reason) == (Kind.RETRY, Kind.FATAL, reason)
    assert (outcome.timed_out, outcome.attempts) == (timed_out, attempts)


@pytest.mark.parametrize("connect, read", [(0, 60), (10, -1), (10, "60"), (10, 86400)])
def test_impossible_timeouts_are_refused(connect, read):
    with pytest.raises(ValueError, match="timeout_seconds"):
        Timeouts(connect, read)


@pytest.mark.parametrize("reason, stored, kind", [
    ("HTTP 500 Internal Server Error on GET /sources", "lasting_gap", Kind.LASTING_GAP),  # the stored kind wins
    ("HTTP 403 Forbidden on GET /users", "passing_failure", Kind.PASSING_FAILURE),
    ("HTTP 422 Unprocessable Entity on GET /spaces", None, Kind.LASTING_GAP),  # rows recorded before kinds
    ("its parent table users was skipped (HTTP 401 Unauthorized on GET /users)", None, Kind.LASTING_GAP),
    ("malformed page on GET /sources: no list at data.sources", None, Kind.PASSING_FAILURE),
])
def test_a_skipped_tables_kind_is_the_stored_one_or_read_from_old_rows(reason, stored, kind):
    assert kind_of_skip(reason, stored) is kind


def run_result(skipped, kinds) -> RunResult:
    moment = datetime.now(timezone.utc)
    return RunResult("run", "ws", "name", moment, moment, {}, skipped, 0, skipped_kinds=kinds)


def test_exit_status_reads_the_kind_never_the_text():
    gap = run_result({"spaces": "HTTP 422 Unprocessable Entity on GET /spaces"}, {"spaces": "lasting_gap"})
    assert not gap.partial, "a feature the plan lacks is a lasting gap, not a partial run"
    failure = run_result({"users": "HTTP 403 Forbidden on GET /users"}, {"users": "passing_failure"})
    assert failure.partial


def test_the_change_driven_window_reads_the_kind_and_falls_back_to_the_reason_of_old_rows():
    assert _only_lasting_gaps({"skipped_tables": json.dumps({"spaces": "HTTP 500 on GET /spaces"}),
                               "skipped_kinds": json.dumps({"spaces": "lasting_gap"})})
    assert not _only_lasting_gaps({"skipped_tables": {"users": "HTTP 401 on GET /users"},
                                   "skipped_kinds": {"users": "passing_failure"}})
    assert _only_lasting_gaps({"skipped_tables": json.dumps({"spaces": "HTTP 422 Unprocessable Entity"})})
    assert not _only_lasting_gaps({"skipped_tables": {"labels": "HTTP 503 on GET /labels"}, "skipped_kinds": None})
    assert _only_lasting_gaps({"skipped_tables": None})


def test_a_child_of_a_skipped_table_is_skipped_the_same_way():
    skipped = with_dependent_tables({"tracking_plans": Outcome(Kind.LASTING_GAP, "HTTP 403 on GET /tracking-plans")})
    assert skipped["tracking_plan_rules"] == Outcome(
        Kind.LASTING_GAP, "its parent table tracking_plans was skipped (HTTP 403 on GET /tracking-plans)")


def cursor_page(next_cursor: str) -> requests.Response:
    return answer(200, json.dumps({"data": {"sources": [{"id": "a"}], "pagination": {"next": next_cursor}}}).encode())


def test_a_repeated_cursor_stops_the_walk_and_reports_a_malformed_answer():
    reported: list = []
    paginator = copy.deepcopy(SegmentCursorPaginator(on_malformed=reported.append))  # as dlt copies it per parent
    paginator.update_state(cursor_page("c1"), [{"id": "a"}])
    assert paginator.has_next_page and reported == []
    paginator.update_state(cursor_page("c1"), [{"id": "a"}])
    assert not paginator.has_next_page
    assert reported == [of_repeated_cursor("/sources", "c1")]
    assert reported[0].kind is Kind.PASSING_FAILURE


def test_a_repeated_cursor_without_a_table_to_skip_raises():
    paginator = SegmentCursorPaginator()
    paginator.update_state(cursor_page("c1"), [{"id": "a"}])
    with pytest.raises(RepeatedCursor, match="the cursor 'c1' came back twice"):
        paginator.update_state(cursor_page("c1"), [{"id": "a"}])
