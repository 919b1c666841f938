"""dlt source for Segment's legacy Config API (`platform.segmentapis.com/v1beta`), into the Public API's tables.

Some workspaces still hold only a Config API token (Segment stopped issuing them in February 2024). This
flavour reads what that API can say (workspace, sources, their schema settings, destinations named by
catalog slug, destination filters, tracking plans with their embedded rules, plan-source connections,
source and destination functions) through dlt's REST client with the Config API's own paginator
(`pages.py`), shapes each item as the Public API would (`shapes.py`) and loads it into the same tables with
the same SCD2 history, so a dataset can move from one API to the other and keep one history
(`segment_source/identity.py` says how objects keep their record keys across the switch).

What it cannot say is left out, not guessed: it has no audit trail (change rows of its runs have no actor),
no warehouses, no labels list, no Engage or Reverse ETL. Its 200 requests a minute are never exceeded.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import dlt
from dlt.extract import DltResource
from dlt.sources.helpers.rest_client.client import RESTClient

from .. import settings
from ..client import SegmentSession, outcome_of
from .. import scd2_disposition
from ..identity import Identities
from ..outcomes import Kind, Outcome, Timeouts
from ..rate_limit import RateLimiter
from ..redaction import register, usable_token
from ..report import ExtractionReport
from ..rows import canonical, fingerprint, record_key, slim_catalog_reference, without_collisions
from .endpoints import ENDPOINTS_BY_NAME, WORKSPACE_TABLE, ConfigEndpoint, select
from .pages import PageTokenPaginator
from .shapes import Shaper, rule_rows
from .workspace import fetch_config_workspace

DEFAULT_BASE_URL = "https://platform.segmentapis.com/v1beta"
REQUESTS_PER_MINUTE = 200  # the Config API's documented limit (facts §5)


class ConfigApiRead:
    """One run's reads: pages of an endpoint, with every non-OK answer skipping its table."""

    def __init__(self, session: SegmentSession, base_url: str, report: ExtractionReport, workspace: Dict[str, Any]):
        self.client = RESTClient(base_url=base_url + "/", session=session)
        self.report, self.workspace = report, workspace

    def items(self, endpoint: ConfigEndpoint, parent: Dict[str, Any]) -> Iterator[Dict[str, Any]]:
        table = endpoint.table_name
        if self.report.is_skipped(table):
            return
        path = endpoint.path.format(ws=self.workspace["slug"], workspace_id=self.workspace["id"], **parent)
        if endpoint.single_object:
            response = self.client.session.get(f"{self.client.base_url}{path}")
            if self._usable(table, response):
                yield response.json()
            return
        paginator = PageTokenPaginator(on_malformed=lambda outcome: self._skip(table, outcome))
        for page in self.client.paginate(path, params=dict(endpoint.params), paginator=paginator,
                                         data_selector=endpoint.list_key, hooks={"response": [self._hook(table)]}):
            yield from page

    def _hook(self, table: str):
        from dlt.sources.helpers.rest_client.exceptions import IgnoreResponseException

        def hook(response: Any, *args: Any, **kwargs: Any) -> None:
            if not self._usable(table, response):
                raise IgnoreResponseException()

        return hook

    def _usable(self, table: str, response: Any) -> bool:
        outcome = outcome_of(response)
        if outcome.kind is not Kind.OK:
            self._skip(table, outcome)
            return False
        self.report.count_page(table)
        return True

    def _skip(self, table: str, outcome: Outcome) -> None:
        self.report.skip(table, outcome)


def _row(item: Dict[str, Any], endpoint: ConfigEndpoint, workspace_id: str, keep_write_keys: bool) -> Dict[str, Any]:
    row = {name: value for name, value in item.items() if not name.startswith("_")}
    slim_catalog_reference(row)
    row = {name: value for name, value in row.items() if not (name.startswith("metadata_") and value is None)}
    register(*row.get("writeKeys") or [])
    if "writeKeys" in row and not keep_write_keys:
        row["writeKeys"] = [fingerprint(key) for key in row["writeKeys"] or []]
    row = without_collisions(canonical(row))
    row["workspaceId"] = workspace_id
    row["recordKey"] = record_key(row, endpoint.key)
    return row


def _sees(endpoint: ConfigEndpoint, identities: Identities) -> Optional[str]:
    """The rows of the endpoint's table this API can see: its declared `sees`, less the destinations it
    cannot name."""
    unnamed = identities.unnamed.get("destinations") if endpoint.destination_column else None
    conditions = [endpoint.sees] if endpoint.sees else []
    if unnamed:
        keys = ", ".join("'" + key.replace("'", "''") + "'" for key in unnamed)
        conditions.append(f"{endpoint.destination_column} NOT IN ({keys})")
    return " AND ".join(f"({condition})" for condition in conditions) or None


def _history_hints(resource: DltResource, endpoint_sees: Optional[str], snapshot_time: datetime, mode: str,
                   scope: str) -> None:
    if mode == "snapshots":
        resource.apply_hints(write_disposition="append")
        resource.add_map(lambda row: {**row, "snapshot_at": snapshot_time})
        return
    if endpoint_sees:
        scope += f" AND ({endpoint_sees})"  # rows this API cannot see are never retired by it
    resource.apply_hints(write_disposition=scd2_disposition(snapshot_time, scope))


def open_config_api(
    access_token: Optional[str] = None,
    base_url: Optional[str] = None,
    workspace_slug: Optional[str] = None,
    max_concurrency: int = settings.DEFAULT_MAX_CONCURRENCY,
    requests_per_minute: Optional[float] = None,
    retry_backoff_seconds: float = settings.BACKOFF_BASE_SECONDS,
    connect_timeout_seconds: float = settings.CONNECT_TIMEOUT_SECONDS,
    read_timeout_seconds: float = settings.READ_TIMEOUT_SECONDS,
) -> Tuple[SegmentSession, str, Dict[str, Any]]:
    """The session a Config API run reads with, the API's base URL, and the workspace it reads (the run's
    first request: `GET /workspaces`, or the one named by `workspace_slug`).

    Args:
        access_token: Config API token (the same setting as the Public API's).
        base_url: The API base including its version prefix (default `https://platform.segmentapis.com/v1beta`).
        workspace_slug: The workspace to read; without it, the one workspace the token sees.
        requests_per_minute: Request rate (default the API's 200 a minute; more only for an emulator).
    """
    access_token = usable_token(access_token or os.environ.get("SEGMENT_ACCESS_TOKEN"))
    if not access_token:
        raise ValueError("No Config API access token: set SEGMENT_ACCESS_TOKEN or sources.segment.access_token.")
    base = (base_url or DEFAULT_BASE_URL).rstrip("/")
    rate = requests_per_minute or REQUESTS_PER_MINUTE  # above 200 only for an emulator
    session = SegmentSession(rate_limiter=RateLimiter(rate, {}), max_concurrency=max_concurrency,
                             backoff_base=retry_backoff_seconds,
                             timeouts=Timeouts(connect_timeout_seconds, read_timeout_seconds))
    session.headers["Authorization"] = f"Bearer {access_token}"
    return session, base, fetch_config_workspace(session, base, workspace_slug)


@dlt.source(name="segment", max_table_nesting=0)
def config_api_source(
    session: SegmentSession,
    base: str,
    workspace: Dict[str, Any],
    report: ExtractionReport,
    resources: Optional[Sequence[str]] = None,
    keep_write_keys: bool = False,
    snapshot_time: Optional[datetime] = None,
    history_mode: str = "scd2",
    identities: Optional[Identities] = None,
) -> List[DltResource]:
    """The workspace behind a Config API token (`open_config_api`), into the Public API's tables.

    Args:
        resources: Table names to load (with the parents they need); default all it can read.
        identities: Record keys of tracking plans and destinations known to the dataset (`identity.py`).
    """
    identities = identities if identities is not None else Identities()
    snapshot_time = snapshot_time or datetime.now(timezone.utc)
    dlt.current.source_schema().remove_type_detection("iso_timestamp")
    endpoints = select(list(resources) if resources else None)
    read = ConfigApiRead(session, base, report, workspace)
    sources = list(read.items(ENDPOINTS_BY_NAME["sources"], {}))
    shaper = Shaper({item["name"].rsplit("/", 1)[-1]: item["id"] for item in sources}, identities)
    scope = f"workspace_id = '{workspace['id'].replace(chr(39), chr(39) * 2)}'"

    def rows(endpoint: ConfigEndpoint, items: Iterator[Dict[str, Any]], parent: Dict[str, Any]) -> Iterator[Dict]:
        shape = shaper.shape(endpoint.shape)
        for item in items:
            row = _row(shape(item, parent), endpoint, workspace["id"], keep_write_keys)
            if report.first_sighting(endpoint.table_name, row["recordKey"]):
                report.count_row(endpoint.table_name)
                yield row

    plans = list(read.items(ENDPOINTS_BY_NAME["tracking_plans"], {})) \
        if any(e.parent == "tracking_plans" or e.name == "tracking_plans" for e in endpoints) else []
    plan_rows = [shaper.tracking_plan(item, {}) for item in plans]
    raw_rules = {row["id"]: item.get("rules") for row, item in zip(plan_rows, plans)}

    def parents(endpoint: ConfigEndpoint) -> List[Dict[str, Any]]:
        if endpoint.parent == "sources":
            return [{"id": item["id"], "slug": item["name"].rsplit("/", 1)[-1]} for item in sources]
        if endpoint.parent == "tracking_plans":
            return [{"id": row["id"], "rs_id": row["_rs_id"]} for row in plan_rows]
        if endpoint.parent == "destinations":
            return destination_parents
        return [{}]

    def table_rows(endpoint: ConfigEndpoint) -> Iterator[Dict[str, Any]]:
        if endpoint.name == "sources":
            yield from rows(endpoint, iter(sources), {})
        elif endpoint.name == "tracking_plans":
            yield from rows(endpoint, iter(plans), {})
        elif endpoint.unpacked_from == "tracking_plans":
            for rule in rule_rows([{"id": key, "_rules": rules} for key, rules in raw_rules.items()]):
                row = _row(rule, endpoint, workspace["id"], keep_write_keys)
                if report.first_sighting(endpoint.table_name, row["recordKey"]):
                    report.count_row(endpoint.table_name)
                    yield row
        else:
            for parent in parents(endpoint):
                yield from rows(endpoint, read.items(endpoint, parent), parent)

    # destinations are read before the resources run: their filters need each one's path and record key
    destination_parents: List[Dict[str, Any]] = []
    destination_rows: List[Dict[str, Any]] = []
    if any(e.name in ("destinations", "destination_filters") for e in endpoints):
        for parent in parents(ENDPOINTS_BY_NAME["destinations"]):
            for item in read.items(ENDPOINTS_BY_NAME["destinations"], parent):
                shaped = shaper.destination(item, parent)
                if shaped is None:  # one of several of its type on the source: not named, its filters not read
                    continue
                destination_parents.append({"id": shaped["id"], "source_id": parent["id"],
                                            "source_slug": shaped["_source_slug"],
                                            "catalog_slug": shaped["_catalog_slug"]})
                destination_rows.append(_row(shaped, ENDPOINTS_BY_NAME["destinations"], workspace["id"],
                                             keep_write_keys))

    def destination_table() -> Iterator[Dict[str, Any]]:
        for row in destination_rows:
            if report.first_sighting("destinations", row["recordKey"]):
                report.count_row("destinations")
                yield row

    built: List[DltResource] = [_workspace_resource(shaper.workspace(workspace["raw"]), workspace["id"], report)]
    by_table: Dict[str, List[ConfigEndpoint]] = {}
    for endpoint in endpoints:
        by_table.setdefault(endpoint.table_name, []).append(endpoint)
    for table, table_endpoints in by_table.items():
        def generate(table_endpoints: List[ConfigEndpoint] = table_endpoints) -> Iterator[Dict[str, Any]]:
            for endpoint in table_endpoints:
                yield from (destination_table() if endpoint.name == "destinations" else table_rows(endpoint))

        resource = dlt.resource(generate(), name=table, table_name=table)
        _history_hints(resource, _sees(table_endpoints[0], identities), snapshot_time, history_mode, scope)
        built.append(resource)
    _history_hints(built[0], None, snapshot_time, history_mode, scope)
    return built


def _workspace_resource(workspace: Dict[str, Any], workspace_id: str, report: ExtractionReport) -> DltResource:
    def rows() -> Iterator[Dict[str, Any]]:
        report.count_page(WORKSPACE_TABLE)
        report.count_row(WORKSPACE_TABLE)
        yield {**canonical(workspace), "workspaceId": workspace_id, "recordKey": workspace_id}

    return dlt.resource(rows(), name=WORKSPACE_TABLE, table_name=WORKSPACE_TABLE)
