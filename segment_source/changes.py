"""Change-driven runs: refetch only what the audit trail names since the last complete snapshot.

The audit trail says which resources changed (`resourceType`, `resourceId`). A change-driven run reads
each named resource by id (`GET /sources/{id}`...) together with its children (rules of a plan, filters
of a destination...; not those the trail audits on another resource, `changes_under_parent`), re-reads small tables the trail can only name in bulk (labels), and leaves every
other table alone. What each endpoint answers to is declared in `endpoints` (`audit_types`, `by_id`).
A resource the API no longer knows (404) was deleted; one whose last event is its documented deletion
(`deleted_types`) is not asked for. Any resource type no endpoint declares makes the
run fall back to a full snapshot, and every Nth run is a full one anyway, so whatever the trail misses is
reconciled.

Planning is pure: the runner reads the trail (`fetch_audit_events`) and hands the plan to the source, which
loads that read into the audit_events table instead of reading the trail again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple

from dlt.sources.helpers.rest_client import RESTClient

from . import settings
from .client import SegmentSession
from .endpoints import ENDPOINTS_BY_NAME, Endpoint, endpoint_for_table, named_by_audit_type, select_endpoints
from .pagination import SegmentCursorPaginator

AUDIT_EVENTS = "audit_events"
EARLIEST = datetime.min.replace(tzinfo=timezone.utc)


@dataclass
class ChangePlan:
    since: Any
    ids: Dict[str, Set[str]] = field(default_factory=dict)  # top-level table -> ids to read by id
    # top-level table -> ids whose last event deleted them: retired unread
    deleted: Dict[str, Set[str]] = field(default_factory=dict)
    whole: Set[str] = field(default_factory=set)  # tables re-read in full
    labels: Set[str] = field(default_factory=set)  # "key:value" of labels named by the trail
    events: int = 0
    # the trail as planning read it, from the audit table's overlap on: the table loads it (None: reads it)
    audit_events: Optional[List[Dict[str, Any]]] = None

    def roots(self) -> Set[str]:
        """The top-level tables this run reads (by id or whole), with everything read through them."""
        named = {table for table, ids in [*self.ids.items(), *self.deleted.items()] if ids}
        return named | set(self.whole)

    def reads_whole(self, endpoint: Endpoint) -> bool:
        return endpoint.table_name in self.whole

    def ids_of(self, endpoint: Endpoint) -> Set[str]:
        return self.ids.get(endpoint.table_name, set())

    def named_ids(self, endpoint: Endpoint) -> Set[str]:
        """The ids the trail names: those read again and those it says were deleted."""
        return self.ids_of(endpoint) | self.deleted.get(endpoint.table_name, set())


def normalized(resource_type: str) -> str:
    """An audit event's `resourceType` as endpoints declare it: lower case, alphanumeric, singular."""
    text = "".join(ch for ch in (resource_type or "").lower() if ch.isalnum())
    return text[:-1] if text.endswith("s") else text


def plan_from_events(events: Iterable[Dict[str, Any]], since: Any) -> Tuple[Optional[ChangePlan], Optional[str]]:
    """The resources to refetch, or (None, why) when the trail names something only a full run can read."""
    plan = ChangePlan(since=since)
    unknown: Set[str] = set()
    latest: Dict[Tuple[str, str], Tuple[datetime, Set[str]]] = {}  # (table, id) -> (timestamp, event types then)
    for event in events:
        plan.events += 1
        resource_id = event.get("resourceId")
        endpoint = named_by_audit_type(normalized(event.get("resourceType", "")))
        if endpoint is not None and endpoint.by_id is None:
            plan.whole.add(endpoint.table_name)
            plan.labels.add(resource_id or "")
        elif endpoint is not None and resource_id:
            _note_latest(latest, (endpoint.table_name, resource_id), event)
        else:
            unknown.add(event.get("resourceType") or "(none)")
    for (table, resource_id), (_, types) in latest.items():
        gone = types <= set(endpoint_for_table(table).deleted_types)
        (plan.deleted if gone else plan.ids).setdefault(table, set()).add(resource_id)
    if unknown:
        return None, f"the audit trail names resource types only a full snapshot reads: {', '.join(sorted(unknown))}"
    return plan, None


def _note_latest(latest: Dict[Tuple[str, str], Tuple[datetime, Set[str]]], item: Tuple[str, str],
                 event: Dict[str, Any]) -> None:
    """Keeps the types of an item's latest events: the trail's order is undocumented and several events can
    share a timestamp, so a deletion counts only when nothing else happened to the item at that moment."""
    moment, event_type = _moment(event.get("timestamp")), event.get("type") or ""
    seen = latest.get(item)
    if seen is None or moment > seen[0]:
        latest[item] = (moment, {event_type})
    elif moment == seen[0]:
        seen[1].add(event_type)


def _moment(timestamp: Any) -> datetime:
    """An event's ISO-8601 timestamp as an aware datetime (unreadable: the earliest moment)."""
    try:
        moment = datetime.fromisoformat(str(timestamp).replace("Z", "+00:00"))
    except ValueError:
        return EARLIEST
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def events_after(events: Iterable[Dict[str, Any]], moment: datetime) -> List[Dict[str, Any]]:
    moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return [event for event in events if _moment(event.get("timestamp")) > moment]


def root_of(endpoint: Endpoint) -> Endpoint:
    while endpoint.parent:
        endpoint = ENDPOINTS_BY_NAME[endpoint.parent]
    return endpoint


def endpoints_to_read(resources: Optional[Sequence[str]], groups: Optional[Sequence[str]],
                      plan: Optional[ChangePlan]) -> List[Endpoint]:
    """The selected endpoints, and in a change-driven run only those under a table the plan names (and the
    audit trail, which every run reads), leaving out children whose changes the trail names elsewhere."""
    endpoints = select_endpoints(resources, groups)
    if plan is None:
        return endpoints
    return [e for e in endpoints if e.name == AUDIT_EVENTS
            or (root_of(e).table_name in plan.roots() and e.changes_under_parent)]


def fetch_audit_events(session: SegmentSession, host: str, start: str, end: str) -> List[Dict[str, Any]]:
    """Every audit event between `start` and `end`, read with the same paginator as the tables."""
    audit = ENDPOINTS_BY_NAME[AUDIT_EVENTS]
    client = RESTClient(base_url=host + "/", session=session)
    events: List[Dict[str, Any]] = []
    for page in client.paginate(
        audit.path,
        params={audit.count_param: settings.MAX_PAGE_SIZE, "startTime": start, "endTime": end},
        headers={"Accept": settings.MEDIA_TYPES[audit.stability]},
        paginator=SegmentCursorPaginator(audit.cursor_path, audit.cursor_param),
        data_selector=f"data.{audit.list_key}",
    ):
        events.extend(page)
    return events
