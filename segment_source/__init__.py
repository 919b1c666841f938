"""dlt source for the Twilio Segment Public API: the workspace's configuration and its audit trail.

Resources are declared as data in `endpoints.py` and handed to dlt's REST API toolkit. This module
turns that table into a `RESTAPIConfig` with its row shaping (`processing_steps`) and history hints (SCD2
per workspace, audit events merged on id). Building the source sends no request: the caller resolves the
settings (`options.source_settings`), opens the session, reads `GET /` (`workspace.fetch_workspace`) and,
for a change-driven run, plans it (`changes`), then hands all of it in.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, List, Optional, Sequence

import dlt
from dlt.extract import DltResource
from dlt.sources.helpers.rest_client.exceptions import IgnoreResponseException
from dlt.sources.helpers.rest_client.paginators import SinglePagePaginator
from dlt.sources.rest_api import rest_api_resources
from dlt.sources.rest_api.typing import EndpointResource, ProcessingSteps, RESTAPIConfig

from . import jsonpath_cache  # noqa: F401  (speeds up dlt's JSONPath parsing for every resource)
from . import settings
from .by_id import SharedReads, by_id_resource
from .changes import AUDIT_EVENTS, ChangePlan, endpoints_to_read
from .client import SegmentSession, outcome_of, parsed_body
from .config_resolution import one_runtime_configuration
from .endpoints import WORKSPACE_TABLE, Endpoint
from .identity import OBSERVED_TABLES, Identities, public_observer
from .options import SourceSettings, build_session, open_session, resolve_base_url, source_settings
from .outcomes import Kind, Outcome
from .pagination import RepeatedCursor, SegmentCursorPaginator
from .report import ExtractionReport
from .rows import canonical, explode_function, first_sighting_filter, shape_row_function

logger = logging.getLogger("segment_history")

__all__ = [
    "segment_source", "source_settings", "open_session", "build_session", "resolve_base_url", "SourceSettings",
    "audit_read_start",
    "ExtractionReport", "SegmentCursorPaginator", "RepeatedCursor",
]


def audit_resource_name(workspace_id: str) -> str:
    return f"{AUDIT_EVENTS}_{workspace_id}"


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
    data = parsed_body(response)["data"]
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
    data = parsed_body(response)["data"]
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
    steps: List[ProcessingSteps],
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
        "processing_steps": steps,
    }
    if endpoint.parent:
        resource["include_from_parent"] = list(endpoint.parent_fields)
        resource["parallelized"] = True
    return resource  # type: ignore[return-value]


def _audit_events_window(endpoint_resource: Dict[str, Any], now: datetime, overlap: bool) -> None:
    """Incremental on the event timestamp: the first run backfills the 90-day retention window."""
    endpoint = endpoint_resource["endpoint"]
    endpoint["params"]["startTime"] = "{incremental.start_value}"
    # an explicit end keeps every page of this run on one window (the API freezes it in the cursor);
    # rounded up past `now` so an event in the snapshot's own millisecond is not cut off
    endpoint["params"]["endTime"] = _iso(now + timedelta(milliseconds=1))
    endpoint["incremental"] = _audit_incremental(now, overlap)


def _first_read_start(now: datetime) -> datetime:
    """Where a first read of the audit trail starts: its retention window, less a margin."""
    return now - timedelta(days=settings.AUDIT_RETENTION_DAYS) + timedelta(
        seconds=settings.AUDIT_FIRST_READ_MARGIN_SECONDS)


def _audit_incremental(now: datetime, overlap: bool) -> Dict[str, Any]:
    return {"cursor_path": "timestamp", "initial_value": _iso(_first_read_start(now)),
            "lag": settings.AUDIT_OVERLAP_SECONDS if overlap else None}


def audit_read_start(pipeline_state: Dict[str, Any], workspace_id: str, now: datetime) -> datetime:
    """Where this run's read of the audit table starts (its incremental's start): the newest stored event less
    the overlap, or on a first read the retention window."""
    resources = pipeline_state.get("sources", {}).get("segment", {}).get("resources", {})
    cursor = resources.get(audit_resource_name(workspace_id), {}).get("incremental", {}).get("timestamp", {})
    try:
        last = datetime.fromisoformat(str(cursor["last_value"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return _first_read_start(now)
    return last - timedelta(seconds=settings.AUDIT_OVERLAP_SECONDS)


def _audit_events_read(events: List[Dict[str, Any]], name: str, report: ExtractionReport, now: datetime,
                       steps: List[ProcessingSteps]) -> DltResource:
    """The audit table of a change-driven run: the events planning read, through the same incremental
    (same state, same overlap) as the table's own read."""
    def audit_events(updated: Any = dlt.sources.incremental(**_audit_incremental(now, True))) -> Any:
        report.count_page(AUDIT_EVENTS)
        yield list(events)

    return _with_steps(dlt.resource(audit_events, name=name, table_name=AUDIT_EVENTS)(), steps)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def processing_steps(
    endpoint: Endpoint, workspace_id: str, report: ExtractionReport, keep_write_keys: bool,
    window: Dict[str, Any], stamp: Optional[datetime], identities: Optional[Identities] = None,
) -> List[ProcessingSteps]:
    """How an item becomes a row, in order: spread a time series into days, shape the row, drop a repeat
    of a record this run already read, and (snapshots mode) stamp the snapshot's moment. Children read
    their parent's shaped rows (dlt applies a parent's steps before its children are fed)."""
    steps: List[ProcessingSteps] = []
    if endpoint.explode:
        steps.append({"yield_map": explode_function(endpoint.explode)})
    steps.append({"map": shape_row_function(endpoint, workspace_id, report, keep_write_keys, window)})
    if identities is not None and endpoint.name in OBSERVED_TABLES:
        steps.append({"map": public_observer(endpoint.name, identities)})
    if endpoint.history:
        steps.append({"filter": first_sighting_filter(endpoint, report)})
    if stamp is not None and endpoint.name != AUDIT_EVENTS:
        steps.append({"map": lambda row: {**row, "snapshot_at": stamp}})
    return steps


def _with_steps(resource: DltResource, steps: List[ProcessingSteps]) -> DltResource:
    """The steps on a resource dlt's REST API toolkit did not build (a by-id read), as the toolkit applies
    them (`dlt.sources.rest_api.rest_api_resources`)."""
    for step in steps:
        if "filter" in step:
            resource.add_filter(step["filter"])
        if "map" in step:
            resource.add_map(step["map"])
        if "yield_map" in step:
            resource.add_yield_map(step["yield_map"])
    return resource


def scd2_disposition(snapshot_time: datetime, scope: str) -> Dict[str, Any]:
    """dlt's SCD2 merge of one snapshot: `scope` says which existing rows this load may retire."""
    return {
        "disposition": "merge",
        "strategy": "scd2",
        # validity follows when the workspace was observed, not when the load ran
        "boundary_timestamp": snapshot_time.isoformat(),
        # this workspace's rows only (another workspace's are never touched), and in a change-driven run
        # only the records it read again. Always set: the hint is stored with the table and outlives one run.
        "destination_scope": scope,
    }


def _apply_history_hints(resource: DltResource, endpoint: Endpoint, snapshot_time: datetime, mode: str,
                         scope: str) -> None:
    if endpoint.name == AUDIT_EVENTS:
        resource.apply_hints(columns={"timestamp": {"data_type": "timestamp"}})
    if mode == "snapshots":
        # no SCD2 merge at this destination (files): every run appends what it saw, stamped
        resource.apply_hints(write_disposition="append")
        return
    if endpoint.history:
        resource.apply_hints(write_disposition=scd2_disposition(snapshot_time, scope))
    else:
        resource.apply_hints(write_disposition="merge", primary_key=["workspace_id", "record_key"])


def _workspace_resource(
    workspace: Dict[str, Any], snapshot_time: datetime, report: ExtractionReport, mode: str, scope: str
) -> DltResource:
    @dlt.resource(name=WORKSPACE_TABLE, table_name=WORKSPACE_TABLE)
    def workspace_resource():
        report.count_page(WORKSPACE_TABLE)
        report.count_row(WORKSPACE_TABLE)
        row = canonical(dict(workspace))
        row["workspaceId"] = workspace["id"]
        row["recordKey"] = workspace["id"]
        if mode == "snapshots":
            row["snapshot_at"] = snapshot_time
        yield row

    resource = workspace_resource()
    _apply_history_hints(resource, Endpoint(WORKSPACE_TABLE, "", "workspace"), snapshot_time, mode, scope)
    return resource


@dlt.source(name="segment", max_table_nesting=0, parallelized=True)
def segment_source(
    source: SourceSettings,
    workspace: Dict[str, Any],
    session: SegmentSession,
    report: ExtractionReport,
    plan: Optional[ChangePlan] = None,
    snapshot_time: Optional[datetime] = None,
    history_mode: str = "scd2",
    identities: Optional[Identities] = None,
) -> List[DltResource]:
    """The Segment workspace `GET /` answered: one SCD2 table per configuration resource, plus the audit
    trail (incremental). Declares resources only; they read when the pipeline extracts them.

    Args:
        source: What to read and how (`options.source_settings`).
        workspace: What `GET /` answered (`workspace.fetch_workspace`).
        session: The session that read it (`options.open_session`): its token, pacing and counters.
        report: Collects pages, rows, deletions and skipped tables of this extraction.
        plan: A change-driven run's plan: only what it names is read; None reads everything.
        snapshot_time: The moment this snapshot stands for (default: now).
        history_mode: `scd2` (versions with validity columns) or `snapshots` (each run appends its full
            snapshot with `snapshot_at`, for destinations without SCD2 merges such as files).
        identities: Record keys of tracking plans and destinations known to the dataset (`identity.py`).
    """
    # keep the API's timestamp strings as they are: typed copies would split into variant columns the
    # first time an item carries "" or the zero date, and history must compare what the API said
    dlt.current.source_schema().remove_type_detection("iso_timestamp")
    snapshot_time = snapshot_time or datetime.now(timezone.utc)
    endpoints = endpoints_to_read(source.resources, source.groups, plan)
    tokens = time_tokens(snapshot_time)
    workspace_id = workspace["id"]
    stamp = snapshot_time if history_mode == "snapshots" else None

    declared: List[Any] = []
    shared_reads = SharedReads()
    for endpoint in endpoints:
        steps = processing_steps(endpoint, workspace_id, report, source.keep_write_keys,
                                 _window_columns(_resolved_params(endpoint, tokens)), stamp, identities)
        if plan is not None and not endpoint.parent and not plan.reads_whole(endpoint) \
                and endpoint.name != AUDIT_EVENTS:
            by_id = by_id_resource(endpoint, plan.ids_of(endpoint), session, source.host, report, shared_reads)
            declared.append(_with_steps(by_id, steps))
            continue
        if plan is not None and plan.audit_events is not None and endpoint.name == AUDIT_EVENTS:
            declared.append(_audit_events_read(plan.audit_events, audit_resource_name(workspace_id), report,
                                               snapshot_time, steps))
            continue
        children = [e for e in endpoints if e.parent == endpoint.name]
        resource_config = _endpoint_resource(endpoint, report, source.page_size, tokens, steps, children)
        if endpoint.name == AUDIT_EVENTS:
            # appended without merge, an overlap would duplicate events: no lag in snapshots mode
            _audit_events_window(resource_config, snapshot_time, history_mode == "scd2")  # type: ignore[arg-type]
            # its incremental state is kept per resource name: one per workspace in a shared dataset
            resource_config["name"] = audit_resource_name(workspace_id)  # type: ignore[index]
        declared.append(resource_config)
    config: RESTAPIConfig = {"client": {"base_url": source.host + "/", "session": session}, "resources": declared}

    with one_runtime_configuration():
        built = {resource.name: resource for resource in rest_api_resources(config)}
    for endpoint in endpoints:
        if endpoint.parent and endpoint.name in built:
            built[endpoint.name].add_map(_parent_fields_only(endpoint), insert_at=0)
    workspace_scope = f"workspace_id = '{_sql_text(workspace_id)}'"
    for endpoint in endpoints:
        name = audit_resource_name(workspace_id) if endpoint.name == AUDIT_EVENTS else endpoint.name
        scope = workspace_scope
        if plan is not None and not plan.reads_whole(endpoint):
            scope += " AND record_key IN (SELECT record_key FROM {staging_table})"
        _apply_history_hints(built[name], endpoint, snapshot_time, history_mode, scope)
    workspace_table = [] if plan is not None else [
        _workspace_resource(workspace, snapshot_time, report, history_mode, workspace_scope)
    ]
    return [*workspace_table, *built.values()]


def _parent_fields_only(endpoint: Endpoint) -> Callable[[Dict[str, Any]], Dict[str, Any]]:
    """What a child is fed of each parent row. dlt hands a child its parent's whole page and the child keeps it
    until it has read under every row of it, which at 8,000 destinations is most of the run: with only the
    fields it reads, the parent's rows are freed once written (BENCHMARKS.md, "Round two")."""
    fields = endpoint.fields_from_parent
    return lambda row: {name: row[name] for name in fields if name in row}


def _sql_text(value: str) -> str:
    return value.replace("'", "''")
