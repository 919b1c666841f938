"""`GET /audit-events` (facts §4).

Where the facts are silent, we chose:
- window: `startTime < timestamp < endTime`, both exclusive (the docs say "after" and "before");
- `endTime` defaults to now; a cursor's frozen `endTime` wins over the query's `endTime`;
- retention: nothing older than 90 days before the request is ever returned, whatever `startTime` says;
- order: newest first (ties broken by the higher event number);
- `resourceType` matches case-insensitively, ignoring spaces, `_`, `-` and a plural `s`
  ("Sources" = "source", "Tracking Plans" = "tracking_plan");
- cursor: base64 of `{"pageToken": base64(page number, from 1), "endTime": ...}` like the spec's examples;
  the page token is a page number, so a client changing `count` mid-walk shifts the window;
- `totalEntries` is omitted (the API may omit it when counting is expensive); `previous` is null on page one.
"""

from __future__ import annotations

import binascii
import json
from datetime import datetime, timedelta
from typing import Any

from .errors import validation
from .ids import iso, parse_iso, utcnow
from .pagination import Query, b64decode_text, b64encode_text, page_request, page_window

RETENTION = timedelta(days=90)


def list_audit_events(events: list[dict[str, Any]], query: Query, last_page_next: str,
                      now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    page = page_request(query)
    page_number, end_time = _decode_cursor(page.cursor) if page.cursor else (1, _time_arg(query, "endTime") or now)
    start_time = _time_arg(query, "startTime")
    matching = _filter(events, query, start_time, end_time, now - RETENTION)
    offset = (page_number - 1) * page.count
    chunk = matching[offset: offset + page.count]
    more = offset + page.count < len(matching)
    pagination = page_window(_cursor(page_number, end_time), _cursor(page_number + 1, end_time) if more else None,
                             _cursor(page_number - 1, end_time) if page_number > 1 else None, last_page_next, None)
    return {"events": chunk, "pagination": pagination}


def _filter(events: list[dict[str, Any]], query: Query, start: datetime | None, end: datetime,
            oldest: datetime) -> list[dict[str, Any]]:
    # Our timestamps all share one ISO layout, so comparing strings compares instants.
    lowest, highest = iso(oldest), iso(end)
    after = iso(start) if start else None
    resource_id = _arg(query, "resourceId")
    resource_type = _normal_type(_arg(query, "resourceType"))
    matching = [event for event in events
                if lowest <= event["timestamp"] < highest and (after is None or event["timestamp"] > after)
                and (resource_id is None or event["resourceId"] == resource_id)
                and (resource_type is None or _normal_type(event["resourceType"]) == resource_type)]
    matching.sort(key=lambda event: (event["timestamp"], _event_number(event)), reverse=True)
    return matching


def _event_number(event: dict[str, Any]) -> int:
    tail = event["id"].rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def _normal_type(value: str | None) -> str | None:
    if not value:
        return None
    compact = "".join(char for char in value.lower() if char not in " _-")
    return compact[:-1] if compact.endswith("s") else compact


def _arg(query: Query, name: str) -> str | None:
    values = query.get(name)
    return values[0] if values and values[0] != "" else None


def _time_arg(query: Query, name: str) -> datetime | None:
    text = _arg(query, name)
    if text is None:
        return None
    try:
        return parse_iso(text)
    except ValueError:
        raise validation(name, f"{name} must be an ISO-8601 timestamp") from None


def _cursor(page_number: int, end_time: datetime) -> str:
    token = {"pageToken": b64encode_text(str(page_number)), "endTime": iso(end_time)}
    return b64encode_text(json.dumps(token, separators=(",", ":")))


def _decode_cursor(cursor: str) -> tuple[int, datetime]:
    try:
        token = json.loads(b64decode_text(cursor))
        page_number = int(b64decode_text(token["pageToken"]))
        end_time = parse_iso(token["endTime"])
    except (binascii.Error, UnicodeDecodeError, ValueError, KeyError, TypeError):
        raise validation("pagination.cursor", "pagination.cursor is not a cursor this endpoint issued") from None
    if page_number < 1:
        raise validation("pagination.cursor", "pagination.cursor is not a cursor this endpoint issued")
    return page_number, end_time
