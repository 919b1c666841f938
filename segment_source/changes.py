"""Change-driven runs: refetch only what the audit trail names since the last complete snapshot.

The audit trail says which resources changed (`resourceType`, `resourceId`). A change-driven run reads
each named resource by id (`GET /sources/{id}`...) together with its children (rules of a plan, filters
of a destination...), re-reads small tables the trail can only name in bulk (labels), and leaves every
other table alone. A resource the API no longer knows (404) was deleted. Any resource type this module
cannot refetch makes the run fall back to a full snapshot, and every Nth run is a full one anyway, so
whatever the trail misses is reconciled.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, Iterator, List, Optional, Set, Tuple

import dlt
from dlt.extract import DltResource

from . import settings
from .client import SegmentSession, outcome_of
from .endpoints import FUNCTION_RESOURCE_TYPES, Endpoint
from .outcomes import Kind, Outcome
from .report import ExtractionReport

logger = logging.getLogger("segment_history")

# ListFunctionItemV1: what `GET /functions` lists, so a function read by id compares with listed ones
FUNCTION_LIST_FIELDS = ("id", "resourceType", "createdAt", "createdBy", "displayName", "description", "logoUrl",
                        "catalogId", "workspaceId")


@dataclass(frozen=True)
class Refetch:
    """How to read one resource of a top-level table by id."""

    endpoint: str
    path: str
    object_key: str
    audit_types: Tuple[str, ...]
    stability: str = "stable"


REFETCH_BY_ID = [
    Refetch("sources", "sources/{id}", "source", ("source",)),
    Refetch("destinations", "destinations/{id}", "destination", ("destination", "integration")),
    Refetch("warehouses", "warehouses/{id}", "warehouse", ("warehouse", "storagedestination")),
    Refetch("tracking_plans", "tracking-plans/{id}", "trackingPlan", ("trackingplan",)),
    Refetch("transformations", "transformations/{id}", "transformation", ("transformation",)),
    Refetch("users", "users/{id}", "user", ("user",)),
    Refetch("user_groups", "groups/{id}", "userGroup", ("usergroup", "group")),
    Refetch("credentials", "credentials/{id}", "credential", ("credential", "warehousecredential")),
    Refetch("reverse_etl_models", "reverse-etl-models/{id}", "reverseEtlModel", ("model", "reverseetlmodel"),
            stability="alpha"),
    Refetch("spaces", "spaces/{id}", "space", ("space",), stability="alpha"),
]
FUNCTIONS = Refetch("functions", "functions/{id}", "function", ("function",))
# named in bulk: the trail says "a label changed", re-reading the whole (unpaginated) list is one request
REFETCH_WHOLE = {"label": "labels"}
# rows of other tables that point at a resource and go with it when it is deleted
# (a deleted source takes its destinations, transformations and insert function instances with it); the
# child tables read through a deleted row go too (see pipelines.change_runs)
REFERENCES = {
    "sources": [("destinations", "source_id"), ("source_warehouses", "source_id"),
                ("tracking_plan_sources", "source_id"), ("transformations", "source_id"),
                ("insert_function_instances", "integration_id")],
    "destinations": [("insert_function_instances", "integration_id")],
    "warehouses": [("source_warehouses", "warehouse_id")],
}


@dataclass
class ChangePlan:
    since: Any
    ids: Dict[str, Set[str]] = field(default_factory=dict)  # top-level endpoint -> ids to read by id
    functions: Set[str] = field(default_factory=set)
    whole: Set[str] = field(default_factory=set)  # tables re-read in full
    labels: Set[str] = field(default_factory=set)  # "key:value" of labels named by the trail
    events: int = 0

    def roots(self) -> Set[str]:
        names = {name for name, ids in self.ids.items() if ids} | set(self.whole)
        if self.functions:
            names |= {f"functions_{t.lower()}" for t in FUNCTION_RESOURCE_TYPES}
        return names


def _normalized(resource_type: str) -> str:
    text = "".join(ch for ch in (resource_type or "").lower() if ch.isalnum())
    return text[:-1] if text.endswith("s") else text


BY_AUDIT_TYPE = {audit_type: refetch for refetch in [*REFETCH_BY_ID, FUNCTIONS] for audit_type in refetch.audit_types}


def plan_from_events(events: Iterable[Dict[str, Any]], since: Any) -> Tuple[Optional[ChangePlan], Optional[str]]:
    """The resources to refetch, or (None, why) when the trail names something only a full run can read."""
    plan = ChangePlan(since=since)
    unknown: Set[str] = set()
    for event in events:
        plan.events += 1
        kind, resource_id = _normalized(event.get("resourceType", "")), event.get("resourceId")
        if kind in REFETCH_WHOLE:
            plan.whole.add(REFETCH_WHOLE[kind])
            plan.labels.add(resource_id or "")
        elif kind == "function":
            plan.functions.add(resource_id)
        elif kind in BY_AUDIT_TYPE and resource_id:
            plan.ids.setdefault(BY_AUDIT_TYPE[kind].endpoint, set()).add(resource_id)
        else:
            unknown.add(event.get("resourceType") or "(none)")
    if unknown:
        return None, f"the audit trail names resource types only a full snapshot reads: {', '.join(sorted(unknown))}"
    return plan, None


def root_of(endpoint: Endpoint, by_name: Dict[str, Endpoint]) -> Endpoint:
    while endpoint.parent:
        endpoint = by_name[endpoint.parent]
    return endpoint


def by_id_resource(
    endpoint: Endpoint, refetch: Refetch, ids: Iterable[str], session: SegmentSession, host: str,
    report: ExtractionReport, only_type: Optional[str] = None, cache: Optional[Dict[str, Any]] = None,
) -> DltResource:
    """A resource named like `endpoint` that yields the named items read one by one."""
    ids = sorted(set(ids))
    cache = cache if cache is not None else {}

    def fetch(resource_id: str) -> Optional[Dict[str, Any]]:
        if resource_id not in cache:  # functions of five types share one read per id
            cache[resource_id] = _get_by_id(refetch, resource_id, session, host, report, endpoint.table_name)
        return cache[resource_id]

    def items() -> Iterator[Dict[str, Any]]:
        for resource_id in ids:
            item = fetch(resource_id)
            if item is None:
                continue
            if only_type is not None:
                if item.get("resourceType") != only_type:
                    continue
                item = {name: item[name] for name in FUNCTION_LIST_FIELDS if name in item}
            report.count_page(endpoint.table_name)
            yield [dict(item)]  # a one-item page: children iterate what their parent yields

    return dlt.resource(items, name=endpoint.name, table_name=endpoint.table_name)()


def _get_by_id(
    refetch: Refetch, resource_id: str, session: SegmentSession, host: str, report: ExtractionReport, table: str
) -> Optional[Dict[str, Any]]:
    url = f"{host}/{refetch.path.format(id=resource_id)}"
    response = session.get(url, headers={"Accept": settings.MEDIA_TYPES[refetch.stability]})
    if response.status_code == 404:  # read by id, 404 means deleted
        report.deleted(table, resource_id)
        return None
    outcome = outcome_of(response)
    if outcome.kind is not Kind.OK:
        report.skip(table, outcome)
        return None
    item = (response.json().get("data") or {}).get(refetch.object_key)
    if not isinstance(item, dict):
        path = refetch.path.format(id=resource_id)
        report.skip(table, Outcome(Kind.PASSING_FAILURE, f"malformed answer to GET /{path}: no object at data"
                                                         f".{refetch.object_key}"))
        return None
    return item


def refetch_for(endpoint_name: str) -> Refetch:
    if endpoint_name.startswith("functions_"):
        return FUNCTIONS
    return next(r for r in REFETCH_BY_ID if r.endpoint == endpoint_name)


def stays_in_run(endpoint: Endpoint, plan: ChangePlan, by_name: Dict[str, Endpoint]) -> bool:
    return root_of(endpoint, by_name).name in plan.roots()




def fetch_audit_events(session: SegmentSession, host: str, start: str, end: str) -> List[Dict[str, Any]]:
    """Every audit event between `start` and `end`, read with the same paginator as the tables."""
    from dlt.sources.helpers.rest_client import RESTClient

    from . import SegmentCursorPaginator  # the package's paginator; imported late to avoid a cycle

    client = RESTClient(base_url=host + "/", session=session)
    events: List[Dict[str, Any]] = []
    for page in client.paginate(
        "audit-events",
        params={"pagination.count": settings.MAX_PAGE_SIZE, "startTime": start, "endTime": end},
        headers={"Accept": settings.MEDIA_TYPES["stable"]},
        paginator=SegmentCursorPaginator(),
        data_selector="data.events",
    ):
        events.extend(page)
    return events
