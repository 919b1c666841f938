"""dlt source for the Twilio Segment Public API: the workspace's configuration and its audit trail.

Resources are declared as data in `endpoints.py` and handed to dlt's REST API toolkit. This module
turns that table into a `RESTAPIConfig`, wires in the read-only, rate-limit-aware session, and attaches
the row shaping and history hints (SCD2 per workspace, audit events merged on id).
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional, Sequence

import dlt
from dlt.extract import DltResource
from dlt.sources.helpers.rest_client.exceptions import IgnoreResponseException
from dlt.sources.helpers.rest_client.paginators import JSONResponseCursorPaginator, SinglePagePaginator
from dlt.sources.rest_api import rest_api_resources
from dlt.sources.rest_api.typing import EndpointResource, RESTAPIConfig

from . import jsonpath_cache  # noqa: F401  (speeds up dlt's JSONPath parsing for every resource)
from . import settings
from .client import SegmentSession
from .endpoints import WORKSPACE_TABLE, Endpoint, select_endpoints
from .rate_limit import RateLimiter
from .report import ExtractionReport
from .rows import canonical, shape_row_function
from .workspace import fetch_workspace

logger = logging.getLogger("segment_history")

__all__ = ["segment_source", "resolve_base_url", "ExtractionReport"]


CURSOR_PATH = "data.pagination.next"


class SegmentCursorPaginator(JSONResponseCursorPaginator):
    """Segment's cursor: `pagination.cursor` in, `data.pagination.next` out, stop on a missing, null or
    empty `next` or an empty page. A cursor that comes back twice is a malformed response, not an end."""

    def __init__(self) -> None:
        super().__init__(
            cursor_path=CURSOR_PATH, cursor_param="pagination.cursor", stop_after_empty_page=True
        )
        self._seen_cursors: set = set()

    def update_state(self, response: Any, data: Optional[List[Any]] = None) -> None:
        super().update_state(response, data)
        cursor = self._next_reference
        if cursor is not None:
            if cursor in self._seen_cursors:
                raise ValueError(f"the API returned the cursor {cursor!r} twice; pagination would loop")
            self._seen_cursors.add(cursor)


def resolve_base_url(region: Optional[str], base_url: Optional[str]) -> str:
    region = (region or settings.DEFAULT_REGION).strip().lower()
    if region not in settings.REGION_HOSTS:
        raise ValueError(
            f"Unknown Segment region {region!r}: use one of {', '.join(settings.REGION_HOSTS)}"
            " (sources.segment.region or --region)."
        )
    return base_url.rstrip("/") if base_url else settings.REGION_HOSTS[region]


def _response_hook(endpoint: Endpoint, report: ExtractionReport):
    """Counts good pages; turns anything else into a recorded skip of the whole table."""
    table = endpoint.table_name

    def hook(response: Any, *args: Any, **kwargs: Any) -> None:
        problem = _page_problem(response, endpoint)
        if problem is None:
            report.count_page(table)
            return
        report.skip(table, problem)
        logger.warning("Skipping table %s for this run: %s", table, problem)
        raise IgnoreResponseException()

    return hook


def _page_problem(response: Any, endpoint: Endpoint) -> Optional[str]:
    path = response.request.path_url.split("?")[0] if response.request is not None else endpoint.path
    if response.status_code != 200:
        return f"HTTP {response.status_code} {response.reason or ''} on GET {path}".replace("  ", " ")
    body = response.json()
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict) or not isinstance(data.get(endpoint.list_key), list):
        return f"malformed page on GET {path}: no list at data.{endpoint.list_key}"
    return None


def _endpoint_resource(endpoint: Endpoint, report: ExtractionReport, page_size: int) -> EndpointResource:
    params: Dict[str, Any] = dict(endpoint.params)
    if endpoint.paginated:
        params["pagination.count"] = min(page_size, endpoint.page_size)
    resource: Dict[str, Any] = {
        "name": endpoint.name,
        "table_name": endpoint.table_name,
        "endpoint": {
            "path": endpoint.endpoint_path,
            "params": params,
            "headers": {"Accept": settings.MEDIA_TYPES[endpoint.stability]},
            "data_selector": f"data.{endpoint.list_key}",
            "paginator": SegmentCursorPaginator() if endpoint.paginated else SinglePagePaginator(),
            "response_actions": [_response_hook(endpoint, report)],
        },
    }
    if endpoint.parent:
        resource["include_from_parent"] = list(endpoint.parent_fields)
        resource["parallelized"] = True
    return resource  # type: ignore[return-value]


def _audit_events_window(endpoint_resource: Dict[str, Any], now: datetime) -> None:
    """Incremental on the event timestamp: the first run backfills the 90-day retention window."""
    start = now - timedelta(days=settings.AUDIT_RETENTION_DAYS) + timedelta(minutes=5)
    endpoint = endpoint_resource["endpoint"]
    endpoint["params"]["startTime"] = "{incremental.start_value}"
    # an explicit end keeps every page of this run on one window (the API freezes it in the cursor);
    # rounded up past `now` so an event in the snapshot's own millisecond is not cut off
    endpoint["params"]["endTime"] = _iso(now + timedelta(milliseconds=1))
    endpoint["incremental"] = {
        "cursor_path": "timestamp",
        "initial_value": _iso(start),
        "lag": settings.AUDIT_OVERLAP_SECONDS,
    }


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _apply_history_hints(resource: DltResource, endpoint: Endpoint, snapshot_time: datetime) -> None:
    if endpoint.history:
        resource.apply_hints(
            write_disposition={
                "disposition": "merge",
                "strategy": "scd2",
                # validity follows when the workspace was observed, not when the load ran
                "boundary_timestamp": snapshot_time.isoformat(),
            },
            # a table is retired per workspace: another workspace's rows are never touched
            merge_key="workspace_id",
        )
    else:
        resource.apply_hints(
            write_disposition="merge",
            primary_key=["workspace_id", "id"],
            columns={"timestamp": {"data_type": "timestamp"}},
        )


def _workspace_resource(workspace: Dict[str, Any], snapshot_time: datetime, report: ExtractionReport):
    @dlt.resource(name=WORKSPACE_TABLE, table_name=WORKSPACE_TABLE)
    def workspace_resource():
        report.count_page(WORKSPACE_TABLE)
        report.count_row(WORKSPACE_TABLE)
        row = canonical(dict(workspace))
        row["workspaceId"] = workspace["id"]
        row["recordKey"] = workspace["id"]
        yield row

    resource = workspace_resource()
    _apply_history_hints(resource, Endpoint(WORKSPACE_TABLE, "", "workspace"), snapshot_time)
    return resource


@dlt.source(name="segment", max_table_nesting=0, parallelized=True)
def segment_source(
    access_token: Optional[str] = dlt.secrets.value,
    region: str = settings.DEFAULT_REGION,
    base_url: Optional[str] = None,
    resources: Optional[Sequence[str]] = None,
    max_concurrency: int = settings.DEFAULT_MAX_CONCURRENCY,
    requests_per_minute: Optional[float] = None,
    keep_write_keys: bool = False,
    page_size: int = settings.MAX_PAGE_SIZE,
    retry_backoff_seconds: float = settings.BACKOFF_BASE_SECONDS,
    snapshot_time: Optional[datetime] = None,
    report: Optional[ExtractionReport] = None,
    session: Optional[SegmentSession] = None,
) -> List[DltResource]:
    """The Segment workspace behind `access_token`: one SCD2 table per configuration resource, plus
    the audit trail (incremental).

    Args:
        access_token: Public API token (`sources.segment.access_token` or `SEGMENT_ACCESS_TOKEN`).
        region: `us` (default) or `eu`; decides the API host.
        base_url: Overrides the host chosen by `region` (used with the emulator).
        resources: Table names to load (default: every default resource).
        max_concurrency: Requests in flight at once.
        requests_per_minute: Upper bound on this token's request rate (default: paced by the API's headers only).
        keep_write_keys: Store source write keys in clear instead of a fingerprint.
        page_size: Items per page, at most each endpoint's cap (default 1000, the API's maximum).
        retry_backoff_seconds: First wait before retrying a failed request; doubles per attempt.
        snapshot_time: The moment this snapshot stands for (default: now).
        report: Collects pages, rows and skipped tables of this extraction.
        session: A prepared `SegmentSession` (default: one built from the settings above).
    """
    access_token = access_token or os.environ.get("SEGMENT_ACCESS_TOKEN")
    if not access_token:
        raise ValueError(
            "No Segment access token: set SEGMENT_ACCESS_TOKEN or sources.segment.access_token"
            " in .dlt/secrets.toml."
        )
    host = resolve_base_url(region, base_url)
    endpoints = select_endpoints(list(resources) if resources else None)
    report = report if report is not None else ExtractionReport()
    snapshot_time = snapshot_time or datetime.now(timezone.utc)
    session = session or build_session(endpoints, max_concurrency, requests_per_minute, retry_backoff_seconds)
    session.headers["Authorization"] = f"Bearer {access_token}"

    # keep the API's timestamp strings as they are: typed copies would split into variant columns the
    # first time an item carries "" or the zero date, and history must compare what the API said
    dlt.current.source_schema().remove_type_detection("iso_timestamp")
    workspace = fetch_workspace(session, host, region)
    report.workspace, report.request_stats = workspace, session.stats
    config: RESTAPIConfig = {
        "client": {"base_url": host + "/", "session": session},
        "resources": [_endpoint_resource(endpoint, report, page_size) for endpoint in endpoints],
    }
    for resource_config in config["resources"]:
        if resource_config["name"] == "audit_events":  # type: ignore[index]
            _audit_events_window(resource_config, snapshot_time)  # type: ignore[arg-type]

    built = {resource.name: resource for resource in rest_api_resources(config)}
    for endpoint in endpoints:
        resource = built[endpoint.name]
        resource.add_map(shape_row_function(endpoint, workspace["id"], report, keep_write_keys))
        _apply_history_hints(resource, endpoint, snapshot_time)
    return [_workspace_resource(workspace, snapshot_time, report), *built.values()]


def build_session(
    endpoints: Sequence[Endpoint],
    max_concurrency: int,
    requests_per_minute: Optional[float],
    retry_backoff_seconds: float = settings.BACKOFF_BASE_SECONDS,
) -> SegmentSession:
    limits = {e.name: e.rate_limit_per_minute for e in endpoints if e.rate_limit_per_minute}
    patterns = [(e.path.split("{id}")[-1], e.name) for e in endpoints if e.rate_limit_per_minute and "{id}" in e.path]

    def endpoint_limit_of(path: str) -> Optional[str]:
        for suffix, name in patterns:
            if path.endswith(suffix):
                return name
        return None

    return SegmentSession(
        rate_limiter=RateLimiter(requests_per_minute, limits),
        endpoint_limit_of=endpoint_limit_of,
        pool_size=max_concurrency,
        backoff_base=retry_backoff_seconds,
    )
