"""The Tracking API (events in, `api.segment.io`), for the alerts segment-history sends as `track` events.

`POST /v1/batch` (`{"batch": [...]}`) and `POST /v1/track` (one event) are authenticated with the write key
of one of the workspace's sources as the HTTP Basic username (or `writeKey` in the body). As Segment does:
401 for an unknown write key; 400 for a body that is not JSON, a request over 500 KB or an event over 32 KB;
`{"success": true}` for everything else, including events Segment then drops without a word (no `userId`
and no `anonymousId`, or a `track` without `event`). What was accepted is kept in `received`, what was
dropped in `dropped`, so tests and the demo can count them; `fail_next` scripts outages.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass
from typing import Any, Mapping

from .workspace import Workspace

PATHS = ("/v1/batch", "/v1/track")
MAX_EVENT_BYTES = 32 * 1024
MAX_REQUEST_BYTES = 500 * 1024


@dataclass(frozen=True)
class ReceivedEvent:
    write_key: str
    event: dict[str, Any]


@dataclass(frozen=True)
class DroppedEvent:
    write_key: str
    event: Any
    reason: str


def is_tracking_path(path: str) -> bool:
    return path in PATHS


class TrackingApi:
    """The events side of the emulator: answers `(status, JSON body)` for a POST to one of `PATHS`."""

    def __init__(self, workspace: Workspace):
        self.workspace = workspace
        self._received: list[ReceivedEvent] = []
        self._dropped: list[DroppedEvent] = []
        self._failures: list[int] = []
        self._lock = threading.Lock()

    @property
    def received(self) -> list[ReceivedEvent]:
        """Every event accepted so far, in order, repeats included (Segment stores one per `messageId`)."""
        with self._lock:
            return list(self._received)

    @property
    def dropped(self) -> list[DroppedEvent]:
        """Events answered with 200 and then dropped, with why."""
        with self._lock:
            return list(self._dropped)

    def clear(self) -> None:
        with self._lock:
            self._received.clear()
            self._dropped.clear()

    def fail_next(self, status: int = 503, times: int = 1) -> None:
        """Answer the next `times` requests with `status` (after authentication), storing nothing."""
        with self._lock:
            self._failures += [status] * times

    def answer(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        if method != "POST":
            return 405, _error("method_not_allowed", f"{method} is not allowed; the Tracking API takes POST")
        if len(body) > MAX_REQUEST_BYTES:
            return 400, _error("request_too_large", f"the request is over {MAX_REQUEST_BYTES // 1024} KB")
        try:
            payload = json.loads(body)
        except ValueError:
            return 400, _error("invalid_json", "the body is not valid JSON")
        if not isinstance(payload, dict):
            return 400, _error("invalid_json", "the body must be a JSON object")
        write_key = _basic_username(headers.get("Authorization")) or payload.get("writeKey")
        if not isinstance(write_key, str) or write_key not in self._write_keys():
            return 401, _error("unauthorized", "unknown write key")
        with self._lock:
            if self._failures:
                status = self._failures.pop(0)
                return status, _error("scripted_failure", f"scripted failure with status {status}")
        events = payload.get("batch") if path == "/v1/batch" else [{"type": "track", **payload}]
        if not isinstance(events, list):
            return 400, _error("invalid_request", "`batch` must be a list of events")
        if any(_size(event) > MAX_EVENT_BYTES for event in events):
            return 400, _error("event_too_large", f"an event is over {MAX_EVENT_BYTES // 1024} KB")
        self._keep(write_key, events)
        return 200, {"success": True}

    def _write_keys(self) -> set[str]:
        with self.workspace.lock:
            return {key for source in self.workspace.sources for key in source.get("writeKeys") or []}

    def _keep(self, write_key: str, events: list[Any]) -> None:
        with self._lock:
            for event in events:
                reason = _drop_reason(event)
                if reason:
                    self._dropped.append(DroppedEvent(write_key, event, reason))
                else:
                    self._received.append(ReceivedEvent(write_key, event))


def _drop_reason(event: Any) -> str | None:
    if not isinstance(event, dict):
        return "not an object"
    if not event.get("userId") and not event.get("anonymousId"):
        return "no userId and no anonymousId"
    if event.get("type") == "track" and not event.get("event"):
        return "a track without event"
    return None


def _basic_username(authorization: str | None) -> str | None:
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        return base64.b64decode(encoded.strip(), validate=True).decode().partition(":")[0]
    except ValueError:
        return None


def _size(event: Any) -> int:
    return len(json.dumps(event, separators=(",", ":")).encode())


def _error(code: str, message: str) -> dict[str, Any]:
    return {"success": False, "code": code, "message": message}
