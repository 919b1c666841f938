"""dlt source for the Twilio Segment Public API: the workspace's configuration and its audit trail.

Resources are declared as data in `endpoints.py` and handed to dlt's REST API toolkit. This module
turns that table into a `RESTAPIConfig`, wires in the read-only, rate-limit-aware session, and attaches
the row shaping and history hints (SCD2 per workspace, audit events merged on id).
"""

from __future__ import annotations

import logging
import os
import re
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, List, Optional, Sequence

import dlt
from dlt.extract import DltResource
from dlt.sources.helpers.rest_client.exceptions import IgnoreResponseException
from dlt.sources.helpers.rest_client.paginators import JSONResponseCursorPaginator, SinglePagePaginator
from dlt.sources.rest_api import rest_api_resources
from dlt.sources.rest_api.typing import EndpointResource, RESTAPIConfig

from . import jsonpath_cache  # noqa: F401  (speeds up dlt's JSONPath parsing for every resource)
from . import settings
from .client import SegmentSession, outcome_of
from .changes import ChangePlan, by_id_resource, refetch_for, stays_in_run
from .endpoints import ENDPOINTS_BY_NAME, PLACEHOLDER, WORKSPACE_TABLE, Endpoint, select_endpoints
from .outcomes import Kind, Outcome, Timeouts, of_repeated_cursor
from .rate_limit import RateLimiter
from .redaction import usable_token
from .report import ExtractionReport
from .rows import canonical, explode_function, first_sighting_filter, shape_row_function
from .workspace import fetch_workspace

logger = logging.getLogger("segment_history")

__all__ = ["segment_source", "resolve_base_url", "ExtractionReport"]


CURSOR_PATH = "data.pagination.next"
AUDIT_EVENTS = "audit_events"


def audit_resource_name(workspace_id: str) -> str:
    return f"{AUDIT_EVENTS}_{workspace_id}"


class RepeatedCursor(RuntimeError):
    """A cursor came back twice (for a paginator that has no table to skip)."""


class SegmentCursorPaginator(JSONResponseCursorPaginator):
    """Segment's cursor: `pagination.cursor` in, `data.pagination.next` out, stop on a missing, null or
    empty `next` or an empty page. A cursor that comes back twice is a malformed answer, not an end: the
    walk stops and `on_malformed` gets its outcome (without it, `RepeatedCursor` is raised)."""

    def __init__(
        self, cursor_path: str = CURSOR_PATH, cursor_param: str = "pagination.cursor",
        on_malformed: Optional[Callable[[Outcome], None]] = None,
    ) -> None:
        super().__init__(cursor_path=cursor_path, cursor_param=cursor_param, stop_after_empty_page=True)
        self._seen_cursors: set = set()
        # a function, not a bound method: dlt deep-copies the paginator for each parent of a child table
        self.on_malformed = on_malformed

    def update_state(self, response: Any, data: Optional[List[Any]] = None) -> None:
        super().update_state(response, data)
        cursor = self._next_reference
        if cursor is None:
            return
        if cursor in self._seen_cursors:
            self._has_next_page = False
            outcome = of_repeated_cursor(response.request.path_url.split("?")[0], cursor)
            if self.on_malformed is None:
                raise RepeatedCursor(outcome.reason)
            self.on_malformed(outcome)
        self._seen_cursors.add(cursor)


def resolve_base_url(region: Optional[str], base_url: Optional[str]) -> str:
    region = (region or settings.DEFAULT_REGION).strip().lower()
    if region not in settings.REGION_HOSTS:
        raise ValueError(
            f"Unknown Segment region {region!r}: use one of {', '.join(settings.REGION_HOSTS)}"
            " (sources.segment.region or --region)."
        )
    return base_url.rstrip("/") if base_url else settings.REGION_HOSTS[region]


def _response_hook(endpoint: Endpoint, report: ExtractionReport, children: Sequence[Endpoint] = ()):
    """Counts good pages; anything else the session classified (see `outcomes`) skips the whole table.
    `children` are the endpoints read under this one's items: the requests an item proves empty are noted."""
    skip = _table_skipper(endpoint, report)

    def hook(response: Any, *args: Any, **kwargs: Any) -> None:
        outcome = outcome_of(response)
        if outcome.kind is Kind.ABSENT:
            raise IgnoreResponseException()  # this parent has none: nothing to load, nothing missing
        if outcome.kind is not Kind.OK:
            skip(outcome)
            raise IgnoreResponseException()
        report.count_page(endpoint.table_name)
        _shape_page(response, endpoint)
        _note_unneeded_children(response, endpoint, children, report)

    return hook


def _note_unneeded_children(response: Any, endpoint: Endpoint, children: Sequence[Endpoint],
                            report: ExtractionReport) -> None:
    """Runs before dlt hands the page's items to the children, so the session can leave out their requests."""
    conditional = [child for child in children if child.only_under_parents_with]
    if not conditional:
        return
    data = response.json()["data"]
    items = data.get(endpoint.list_key) if endpoint.list_key else data
    for item in items if isinstance(items, list) else [items]:
        for child in conditional:
            if isinstance(item, dict) and not child.reads_under(item):
                report.unneeded(child.table_name, child.path_under(item))


def _table_skipper(endpoint: Endpoint, report: ExtractionReport) -> Callable[[Outcome], None]:
    def skip(outcome: Outcome) -> None:
        if report.skip(endpoint.table_name, outcome):
            logger.warning("Skipping table %s for this run: %s", endpoint.table_name, outcome.reason)

    return skip


def _shape_page(response: Any, endpoint: Endpoint) -> None:
    """Edits the cached parse the paginator and dlt read next: an empty list the API left out is put back,
    and plain strings (invites are emails) become objects (children get their parent's id added)."""
    data = response.json()["data"]
    if endpoint.list_optional and data.get(endpoint.list_key) is None:
        data[endpoint.list_key] = []
    if endpoint.scalar_column:
        data[endpoint.list_key] = [{endpoint.scalar_column: item} for item in data[endpoint.list_key]]


def time_tokens(now: datetime) -> Dict[str, str]:
    """Values of the `$tokens` metric endpoints use in their parameters, for the snapshot's moment."""
    today = now.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    month = today.replace(day=1)
    previous_month = (month - timedelta(days=1)).replace(day=1)
    return {
        "$today": _iso(today),
        "$days_ago_7": _iso(today - timedelta(days=7)),
        "$current_month": month.date().isoformat(),
        "$previous_month": previous_month.date().isoformat(),
    }


def _resolved_params(endpoint: Endpoint, tokens: Dict[str, str]) -> Dict[str, Any]:
    return {name: tokens.get(value, value) for name, value in endpoint.endpoint_params.items()}


def _window_columns(params: Dict[str, Any]) -> Dict[str, Any]:
    """A time-series row says which window it belongs to."""
    if "startTime" in params and "endTime" in params:
        return {"windowStart": params["startTime"], "windowEnd": params["endTime"]}
    return {}


def _endpoint_resource(
    endpoint: Endpoint, report: ExtractionReport, page_size: int, tokens: Dict[str, str],
    children: Sequence[Endpoint] = (),
) -> EndpointResource:
    params: Dict[str, Any] = _resolved_params(endpoint, tokens)
    paginator: Any = SinglePagePaginator()
    if endpoint.paginated:
        params[endpoint.count_param] = min(page_size, endpoint.page_size)
        paginator = SegmentCursorPaginator(endpoint.cursor_path, endpoint.cursor_param,
                                           on_malformed=_table_skipper(endpoint, report))
    resource: Dict[str, Any] = {
        "name": endpoint.name,
        "table_name": endpoint.table_name,
        "endpoint": {
            "path": endpoint.endpoint_path,
            "params": params,
            "headers": {"Accept": settings.MEDIA_TYPES[endpoint.stability]},
            "data_selector": f"data.{endpoint.list_key}" if endpoint.list_key else "data",
            "paginator": paginator,
            "response_actions": [_response_hook(endpoint, report, children)],
        },
    }
    if endpoint.parent:
        resource["include_from_parent"] = list(endpoint.parent_fields)
        resource["parallelized"] = True
    return resource  # type: ignore[return-value]


def _audit_events_window(endpoint_resource: Dict[str, Any], now: datetime, overlap: bool) -> None:
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
        "lag": settings.AUDIT_OVERLAP_SECONDS if overlap else None,
    }


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _apply_history_hints(
    resource: DltResource, endpoint: Endpoint, snapshot_time: datetime, mode: str, scope: Optional[str] = None
) -> None:
    if endpoint.name == AUDIT_EVENTS:
        resource.apply_hints(columns={"timestamp": {"data_type": "timestamp"}})
    if mode == "snapshots":
        # no SCD2 merge at this destination (files): every run appends what it saw, stamped
        resource.apply_hints(write_disposition="append")
        if endpoint.name != AUDIT_EVENTS:
            resource.add_map(lambda row: {**row, "snapshot_at": snapshot_time})
        return
    if endpoint.history:
        resource.apply_hints(
            write_disposition={
                "disposition": "merge",
                "strategy": "scd2",
                # validity follows when the workspace was observed, not when the load ran
                "boundary_timestamp": snapshot_time.isoformat(),
                # which existing rows this load may retire: this workspace's (another workspace's rows
                # are never touched), and in a change-driven run only the records it read again.
                # Always set, because the hint is stored with the table and would outlive one run.
                "destination_scope": scope,
            },
        )
    else:
        resource.apply_hints(write_disposition="merge", primary_key=["workspace_id", "record_key"])


def _workspace_resource(
    workspace: Dict[str, Any], snapshot_time: datetime, report: ExtractionReport, mode: str, scope: str
):
    @dlt.resource(name=WORKSPACE_TABLE, table_name=WORKSPACE_TABLE)
    def workspace_resource():
        report.count_page(WORKSPACE_TABLE)
        report.count_row(WORKSPACE_TABLE)
        row = canonical(dict(workspace))
        row["workspaceId"] = workspace["id"]
        row["recordKey"] = workspace["id"]
        yield row

    resource = workspace_resource()
    _apply_history_hints(resource, Endpoint(WORKSPACE_TABLE, "", "workspace"), snapshot_time, mode, scope)
    return resource


@dlt.source(name="segment", max_table_nesting=0, parallelized=True)
def segment_source(
    access_token: Optional[str] = dlt.secrets.value,
    region: str = settings.DEFAULT_REGION,
    base_url: Optional[str] = None,
    resources: Optional[Sequence[str]] = None,
    groups: Optional[Sequence[str]] = None,
    max_concurrency: int = settings.DEFAULT_MAX_CONCURRENCY,
    requests_per_minute: Optional[float] = None,
    keep_write_keys: bool = False,
    page_size: int = settings.MAX_PAGE_SIZE,
    retry_backoff_seconds: float = settings.BACKOFF_BASE_SECONDS,
    connect_timeout_seconds: float = settings.CONNECT_TIMEOUT_SECONDS,
    read_timeout_seconds: float = settings.READ_TIMEOUT_SECONDS,
    snapshot_time: Optional[datetime] = None,
    history_mode: str = "scd2",
    report: Optional[ExtractionReport] = None,
    session: Optional[SegmentSession] = None,
    plan_changes: Optional[Callable[[SegmentSession, str, Dict[str, Any]], Optional[ChangePlan]]] = None,
) -> List[DltResource]:
    """The Segment workspace behind `access_token`: one SCD2 table per configuration resource, plus
    the audit trail (incremental).

    Args:
        access_token: Public API token (`sources.segment.access_token` or `SEGMENT_ACCESS_TOKEN`).
        region: `us` (default) or `eu`; decides the API host.
        base_url: Overrides the host chosen by `region` (used with the emulator).
        resources: Table names to load (with the parents they need).
        groups: Resource groups to load (core, iam, engage, reverse_etl, privacy, catalog, metrics);
            without `resources` or `groups`, the default groups.
        max_concurrency: Most requests in flight at once; below it, the number follows the API's answers
            (`concurrency`).
        requests_per_minute: Upper bound on this token's request rate (default: paced by the API's headers only).
        keep_write_keys: Store source write keys in clear instead of a fingerprint.
        page_size: Items per page, at most each endpoint's cap (default 1000, the API's maximum).
        retry_backoff_seconds: First wait before retrying a failed request; doubles per attempt.
        connect_timeout_seconds: Longest wait for a connection to the API.
        read_timeout_seconds: Longest wait for data, and for a page's body to arrive in full.
        snapshot_time: The moment this snapshot stands for (default: now).
        history_mode: `scd2` (versions with validity columns) or `snapshots` (each run appends its full
            snapshot with `snapshot_at`, for destinations without SCD2 merges such as files).
        report: Collects pages, rows and skipped tables of this extraction.
        session: A prepared `SegmentSession` (default: one built from the settings above).
        plan_changes: Called with the session, host and workspace: a `ChangePlan` makes this a
            change-driven run that reads only what the plan names; None reads everything.
    """
    access_token = usable_token(access_token or os.environ.get("SEGMENT_ACCESS_TOKEN"))
    if not access_token:
        raise ValueError(
            "No Segment access token: set SEGMENT_ACCESS_TOKEN or sources.segment.access_token"
            " in .dlt/secrets.toml."
        )
    host = resolve_base_url(region, base_url)
    endpoints = select_endpoints(resources, groups)
    report = report if report is not None else ExtractionReport()
    snapshot_time = snapshot_time or datetime.now(timezone.utc)
    session = session or build_session(endpoints, max_concurrency, requests_per_minute, retry_backoff_seconds, report,
                                       Timeouts(connect_timeout_seconds, read_timeout_seconds))
    session.headers["Authorization"] = f"Bearer {access_token}"

    # keep the API's timestamp strings as they are: typed copies would split into variant columns the
    # first time an item carries "" or the zero date, and history must compare what the API said
    dlt.current.source_schema().remove_type_detection("iso_timestamp")
    workspace = fetch_workspace(session, host, region)
    report.workspace, report.request_stats = workspace, session.stats
    report.rate_limit_wait = lambda: session.rate_limiter.waited_seconds
    changes = plan_changes(session, host, workspace) if plan_changes else None
    report.change_plan = changes
    if changes is not None:
        endpoints = [e for e in endpoints if e.name == AUDIT_EVENTS or stays_in_run(e, changes, ENDPOINTS_BY_NAME)]

    report.endpoints_read = [endpoint.name for endpoint in endpoints]
    tokens = time_tokens(snapshot_time)
    declared: List[Any] = []
    function_cache: Dict[str, Any] = {}
    for endpoint in endpoints:
        if changes is not None and not endpoint.parent and endpoint.table_name not in changes.whole \
                and endpoint.name != AUDIT_EVENTS:
            declared.append(_by_id(endpoint, changes, session, host, report, function_cache))
            continue
        children = [e for e in endpoints if e.parent == endpoint.name]
        resource_config = _endpoint_resource(endpoint, report, page_size, tokens, children)
        if endpoint.name == AUDIT_EVENTS:
            # appended without merge, an overlap would duplicate events: no lag in snapshots mode
            _audit_events_window(resource_config, snapshot_time, history_mode == "scd2")  # type: ignore[arg-type]
            # its incremental state is kept per resource name: one per workspace in a shared dataset
            resource_config["name"] = audit_resource_name(workspace["id"])  # type: ignore[index]
        declared.append(resource_config)
    config: RESTAPIConfig = {"client": {"base_url": host + "/", "session": session}, "resources": declared}

    built = {resource.name: resource for resource in rest_api_resources(config)}
    workspace_scope = f"workspace_id = '{_sql_text(workspace['id'])}'"
    for endpoint in endpoints:
        name = audit_resource_name(workspace["id"]) if endpoint.name == AUDIT_EVENTS else endpoint.name
        resource = built[name]
        if endpoint.explode:
            resource.add_yield_map(explode_function(endpoint.explode))
        window = _window_columns(_resolved_params(endpoint, tokens))
        resource.add_map(shape_row_function(endpoint, workspace["id"], report, keep_write_keys, window))
        if endpoint.history:
            resource.add_filter(first_sighting_filter(endpoint, report))
        scope = workspace_scope
        if changes is not None and endpoint.table_name not in changes.whole:
            scope += " AND record_key IN (SELECT record_key FROM {staging_table})"
        _apply_history_hints(resource, endpoint, snapshot_time, history_mode, scope)
    workspace_table = [] if changes is not None else [
        _workspace_resource(workspace, snapshot_time, report, history_mode, workspace_scope)
    ]
    return [*workspace_table, *built.values()]


def _sql_text(value: str) -> str:
    return value.replace("'", "''")


def _by_id(
    endpoint: Endpoint, changes: ChangePlan, session: SegmentSession, host: str, report: ExtractionReport,
    function_cache: Dict[str, Any],
) -> DltResource:
    refetch = refetch_for(endpoint.name)
    if endpoint.table_name == "functions":
        resource_type = endpoint.params["resourceType"]
        return by_id_resource(endpoint, refetch, changes.functions, session, host, report,
                              only_type=resource_type, cache=function_cache)
    return by_id_resource(endpoint, refetch, changes.ids.get(endpoint.name, ()), session, host, report)


def build_session(
    endpoints: Sequence[Endpoint],
    max_concurrency: int,
    requests_per_minute: Optional[float],
    retry_backoff_seconds: float = settings.BACKOFF_BASE_SECONDS,
    report: Optional[ExtractionReport] = None,
    timeouts: Timeouts = Timeouts(),
) -> SegmentSession:
    patterns = [(re.compile("^/" + PLACEHOLDER.sub("[^/]+", e.path) + "$"), e) for e in endpoints]

    def endpoint_of(path: str) -> Optional[Endpoint]:
        return next((endpoint for pattern, endpoint in patterns if pattern.match(path)), None)

    def already_skipped(path: str) -> bool:
        # once a table is known to be unreadable (e.g. 401 for every parent), asking again is waste; so is
        # a request whose parent proved it empty
        if report is None:
            return False
        endpoint = endpoint_of(path)
        return endpoint is not None and (report.is_skipped(endpoint.table_name) or report.is_unneeded(path))

    limits = {e.name: e.rate_limit_per_minute for e in endpoints if e.rate_limit_per_minute}
    return SegmentSession(
        rate_limiter=RateLimiter(requests_per_minute, limits),
        endpoint_of=endpoint_of,
        already_skipped=already_skipped,
        max_concurrency=max_concurrency,
        backoff_base=retry_backoff_seconds,
        timeouts=timeouts,
    )
