"""Reading the items of a top-level table one by one (`Endpoint.by_id`), for change-driven runs."""

from __future__ import annotations

import threading
from typing import Any, Callable, Dict, Iterable, Iterator, Optional

import dlt
from dlt.extract import DltResource

from . import settings
from .client import SegmentSession, outcome_of, parsed_body
from .endpoints import Endpoint
from .outcomes import Kind, Outcome
from .report import ExtractionReport


class SharedReads:
    """One read per by-id path, however many resources ask for it and from whichever thread: the five
    function lists (one per `resourceType`) each ask for every changed function, and run in parallel."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reads: Dict[str, "_Read"] = {}

    def get(self, path: str, read: Callable[[], Optional[Dict[str, Any]]]) -> Optional[Dict[str, Any]]:
        with self._lock:
            entry = self._reads.setdefault(path, _Read())
        with entry.lock:  # the first caller reads; the others wait for its answer
            if not entry.done:
                entry.item, entry.done = read(), True
            return entry.item


class _Read:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.done = False
        self.item: Optional[Dict[str, Any]] = None


def by_id_resource(
    endpoint: Endpoint, ids: Iterable[str], session: SegmentSession, host: str, report: ExtractionReport,
    reads: SharedReads,
) -> DltResource:
    """A resource named like `endpoint` that yields the named items read one by one (through `reads`, which
    the endpoints of one table share)."""
    assert endpoint.by_id is not None
    by_id = endpoint.by_id
    ids = sorted(set(ids))

    def fetch(resource_id: str) -> Optional[Dict[str, Any]]:
        return reads.get(by_id.url_path(resource_id),
                         lambda: _get_by_id(endpoint, resource_id, session, host, report))

    def belongs_here(item: Dict[str, Any]) -> bool:
        return all(item.get(name) == endpoint.params.get(name) for name in by_id.matches_params)

    def items() -> Iterator[Any]:
        for resource_id in ids:
            item = fetch(resource_id)
            if item is None or not belongs_here(item):
                continue
            if by_id.list_fields:
                item = {name: item[name] for name in by_id.list_fields if name in item}
            report.count_page(endpoint.table_name)
            yield [dict(item)]  # a one-item page: children iterate what their parent yields

    return dlt.resource(items, name=endpoint.name, table_name=endpoint.table_name)()


def _get_by_id(
    endpoint: Endpoint, resource_id: str, session: SegmentSession, host: str, report: ExtractionReport
) -> Optional[Dict[str, Any]]:
    assert endpoint.by_id is not None
    path = endpoint.by_id.url_path(resource_id)
    response = session.get(f"{host}/{path}", headers={"Accept": settings.MEDIA_TYPES[endpoint.stability]})
    if response.status_code == 404:  # read by id, 404 means deleted
        report.deleted(endpoint.table_name, resource_id)
        return None
    outcome = outcome_of(response)
    if outcome.kind is not Kind.OK:
        report.skip(endpoint.table_name, outcome)
        return None
    item = (parsed_body(response).get("data") or {}).get(endpoint.by_id.object_key)
    if not isinstance(item, dict):
        report.skip(endpoint.table_name, Outcome(
            Kind.PASSING_FAILURE, f"malformed answer to GET /{path}: no object at data.{endpoint.by_id.object_key}"))
        return None
    return item
