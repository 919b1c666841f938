"""The Tracking API sink (`[notify.segment]`): one `track` event per change into a source you own.

    POST {endpoint}/v1/batch   Authorization: Basic base64(write_key + ":")
    {"batch": [{"type": "track", "event": "Segment Config Changed", "anonymousId": "segment-history:<workspace id>",
                "messageId": <change id>, "timestamp": <observed_at>, "properties": {<the change-log columns>},
                "context": {"library": {"name": "segment-history", ...}}}, ...], "sentAt": ...}

- `messageId` is the change's id (`changes.change_id`): a resend of the same change is the same message,
  and Segment keeps one of each.
- Identity: every event carries `anonymousId` = `segment-history:<workspace id>` and no `userId`. The subject
  of a configuration change is the workspace; the person is in `properties.actor`/`actor_email`. Segment
  silently drops an event with neither id, and an employee's id as `userId` would merge with a customer
  profile of the same id and count as a tracked user; one anonymous id per workspace costs one MTU.
- Limits: an event over 32 KB gets its longest values cut to a common length (`…[cut N characters]`,
  listed in `properties.truncated`), never dropped; events are packed into batches under 500 KB.

Segment's own `segment-analytics-python` is not used: see `docs/alerts.md` ("Why not segment-analytics-python").
"""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from .changes import Change
from .config import DEFAULT_EVENT, TRACKING_API_US, Delivery, SegmentSinkConfiguration
from .delivery import Outcome, to_json_bytes
from .filters import ChangeFilter
from .sink import Sink

MAX_EVENT_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
BATCH_ENVELOPE_BYTES = 1024  # `{"batch":[...],"sentAt":...,"context":...}` around the events
PROPERTY_COLUMNS = ("resource_type", "resource_id", "resource_name", "change_kind", "field_path", "old_value",
                    "new_value", "actor", "actor_email", "audit_event_id", "audit_event_type", "workspace_id",
                    "run_id")
CUTTABLE = ("old_value", "new_value", "resource_name", "field_path", "resource_id")


def library() -> Dict[str, str]:
    try:
        return {"name": "segment-history", "version": version("segment-history")}
    except PackageNotFoundError:
        return {"name": "segment-history"}


def anonymous_id(workspace_id: str) -> str:
    return f"segment-history:{workspace_id}"


def track_event(change: Change, event_name: str) -> Dict[str, Any]:
    """The change as a `track` event, at most `MAX_EVENT_BYTES` long."""
    event = {
        "type": "track",
        "event": event_name,
        "anonymousId": anonymous_id(change["workspace_id"]),
        "messageId": change["change_id"],
        "timestamp": _iso(change["observed_at"]),
        "properties": {column: change.get(column) for column in PROPERTY_COLUMNS},
        "context": {"library": library()},
    }
    return fit(event, MAX_EVENT_BYTES)


def fit(event: Dict[str, Any], limit: int) -> Dict[str, Any]:
    """The event, or, when its JSON is over `limit` bytes, the event with its longest values cut to one
    common length: the longest that fits (each cut value ends with `…[cut N characters]`)."""
    if len(to_json_bytes(event)) <= limit:
        return event
    texts = {name: event["properties"][name] for name in CUTTABLE if isinstance(event["properties"].get(name), str)}

    def cut_to(length: int) -> Dict[str, Any]:
        cut = [name for name, text in texts.items() if len(text) > length]
        shorter = {name: texts[name][:length] + f"…[cut {len(texts[name]) - length} characters]" for name in cut}
        return {**event, "properties": {**event["properties"], **shorter, "truncated": cut}}

    if len(to_json_bytes(cut_to(0))) > limit:
        raise ValueError("a change event is over the Tracking API's size limit even with its values cut")
    shortest, longest = 0, max(len(text) for text in texts.values())
    while shortest < longest:
        middle = (shortest + longest + 1) // 2
        if len(to_json_bytes(cut_to(middle))) <= limit:
            shortest = middle
        else:
            longest = middle - 1
    return cut_to(shortest)


def batches(events: Sequence[Dict[str, Any]], limit: int = MAX_BATCH_BYTES) -> Iterable[List[Dict[str, Any]]]:
    """Events packed in order into batches whose request body stays under `limit` bytes."""
    batch: List[Dict[str, Any]] = []
    size = BATCH_ENVELOPE_BYTES
    for event in events:
        event_size = len(to_json_bytes(event)) + 1  # and a comma
        if batch and size + event_size > limit:
            yield batch
            batch, size = [], BATCH_ENVELOPE_BYTES
        batch.append(event)
        size += event_size
    if batch:
        yield batch


class SegmentSink(Sink):
    name = "segment"
    service = "the Tracking API"

    def __init__(self, write_key: str, endpoint: str = TRACKING_API_US, event: str = DEFAULT_EVENT,
                 change_filter: ChangeFilter = ChangeFilter(), delivery: Delivery = Delivery()) -> None:
        super().__init__(change_filter, delivery)
        self._write_key = write_key
        self.endpoint = endpoint.rstrip("/")
        self.event = event

    @classmethod
    def from_settings(cls, settings: SegmentSinkConfiguration, change_filter: ChangeFilter,
                      delivery: Delivery) -> "SegmentSink":
        return cls(settings.write_key, settings.endpoint, settings.event, change_filter, delivery)

    def url(self) -> str:
        return f"{self.endpoint}/v1/batch"

    def auth(self) -> Optional[Tuple[str, str]]:
        return (self._write_key, "")

    def secrets(self) -> Tuple[Optional[str], ...]:
        return (self._write_key, base64.b64encode(f"{self._write_key}:".encode()).decode())

    def bodies(self, changes: Sequence[Change], workspace_names: Dict[str, str]) -> Iterable[Tuple[List[str], bytes]]:
        events = [track_event(change, self.event) for change in changes]
        for batch in batches(events):
            body = {"batch": batch, "sentAt": _iso(datetime.now(timezone.utc)), "context": {"library": library()}}
            yield [event["messageId"] for event in batch], to_json_bytes(body)

    def refused_advice(self, outcome: Outcome) -> str:
        if outcome.status in (401, 403):
            return ("the Tracking API refused the write key: set notify.segment.write_key to the write key of a"
                    " source in your workspace (Connections → Sources → the source → Settings → API Keys)")
        if outcome.status == 400:
            return "the Tracking API refused the batch as invalid: please report it with `segment-history notify -v`"
        return ("the Tracking API did not accept the request: check notify.segment.endpoint"
                " (https://api.segment.io, or https://events.eu1.segmentapis.com for EU workspaces)")


def _iso(moment: Any) -> str:
    if isinstance(moment, datetime):
        moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
        return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    return str(moment)
