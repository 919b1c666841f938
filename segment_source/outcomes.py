"""What an answer of the Segment API means, decided in one place.

Every attempt's answer, or its failure to answer, is classified here once: the HTTP layer retries what is
`RETRY`, the source loads what is `OK` and skips the table on anything else, and the run's report keeps each
skipped table's outcome. Exit codes, the skipped-table messages and the change-driven window read its kind,
never its text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any, Optional

import requests

from . import settings
from .endpoints import Endpoint


class Kind(str, Enum):
    OK = "ok"  # a page to load
    ABSENT = "absent"  # the endpoint's way of saying "none here" (a parent without any): nothing is missing
    RETRY = "retry"  # ask again: a 5xx, a 429, no answer in time, a body that is not complete JSON
    LASTING_GAP = "lasting_gap"  # the token, plan or enabled features do not allow it: skipped until they do
    PASSING_FAILURE = "passing_failure"  # not read this time (kept failing, malformed): the next run tries again
    FATAL = "fatal"  # the API cannot be reached or will not let the run go on: the run ends


@dataclass(frozen=True)
class Outcome:
    kind: Kind
    reason: str = ""  # what was received, for messages; never parsed
    # for RETRY: what the outcome becomes when the attempts run out, and how many attempts it deserves
    then: Optional[Kind] = None
    attempts: Optional[int] = None
    rate_limited: bool = False  # a 429: wait as the API says, which is not a failed attempt
    timed_out: bool = False  # connected, but no (complete) answer in time

    def given_up(self, attempts: int) -> "Outcome":
        """What a RETRY became after `attempts` tries."""
        return replace(self, kind=self.then or Kind.PASSING_FAILURE, then=None,
                       reason=f"{self.reason} ({attempts} attempts)")


OK = Outcome(Kind.OK)

# 401: the token lacks a permission; 403/404/422: a feature the workspace's plan lacks (Segment does not
# document which of them it answers)
LASTING_GAP_STATUSES = (401, 403, 404, 422)


def of_answer(response: requests.Response, parsed: bool, endpoint: Optional[Endpoint] = None) -> Outcome:
    """An answer with a status; `parsed`: its body was complete JSON. With the endpoint, its own statuses
    and the shape of its pages count too."""
    status, where = response.status_code, f"GET {_path(response)}"
    if status == 429:
        return Outcome(Kind.RETRY, f"HTTP 429 on {where}", then=Kind.FATAL, rate_limited=True)
    if status >= 500:
        return Outcome(Kind.RETRY, _status_reason(response, where), then=Kind.PASSING_FAILURE)
    if endpoint is not None and status in endpoint.absent_statuses:
        return Outcome(Kind.ABSENT, _status_reason(response, where))
    if status in LASTING_GAP_STATUSES:
        return Outcome(Kind.LASTING_GAP, _status_reason(response, where))
    if status != 200:
        return Outcome(Kind.PASSING_FAILURE, _status_reason(response, where))
    if not parsed:  # a cut body can be transient; a proxy's page usually is not: a few attempts
        return Outcome(Kind.RETRY, f"malformed answer to {where}: {received(response)}",
                       then=Kind.PASSING_FAILURE, attempts=settings.FEW_ATTEMPTS)
    problem = _shape_problem(response.json(), endpoint) if endpoint is not None else None
    if problem:
        return Outcome(Kind.PASSING_FAILURE, f"malformed answer to {where}: {problem}")
    return OK


def of_no_answer(error: Exception, url: str, timeouts: "Timeouts") -> Outcome:
    """A request that got no (complete) answer: refused, dropped, or not in time."""
    where = f"GET {_path_of(url)}"
    if isinstance(error, (requests.exceptions.ReadTimeout, BodyTimeout)):
        return Outcome(Kind.RETRY, f"{where} did not answer within {timeouts.read:g} s", then=Kind.FATAL,
                       attempts=settings.FEW_ATTEMPTS, timed_out=True)
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return Outcome(Kind.RETRY, f"{where}: no connection within {timeouts.connect:g} s", then=Kind.FATAL,
                       attempts=settings.FEW_ATTEMPTS)
    return Outcome(Kind.RETRY, f"{where}: connection failed ({type(error).__name__})", then=Kind.FATAL)


def of_repeated_cursor(path: str, cursor: Any) -> Outcome:
    """A cursor that comes back twice: followed, the walk would never end."""
    return Outcome(Kind.PASSING_FAILURE, f"malformed answer to GET {path}: the cursor {cursor!r} came back twice")


def of_skipped_parent(parent_table: str, parent: Outcome) -> Outcome:
    """A child table read from a skipped parent only saw some parents: it is skipped the same way."""
    return Outcome(parent.kind, f"its parent table {parent_table} was skipped ({parent.reason})")


# `snapshots` rows written before their `skipped_kinds` were stored only have the reason text
_LEGACY_GAP = re.compile(r"\bHTTP (401|403|404|422)\b")


def kind_of_skip(reason: str, kind: Optional[str]) -> Kind:
    """A skipped table's outcome kind, as stored with the run; from its reason for runs recorded before."""
    if kind:
        return Kind(kind)
    return Kind.LASTING_GAP if _LEGACY_GAP.search(reason) else Kind.PASSING_FAILURE


@dataclass(frozen=True)
class Timeouts:
    connect: float = settings.CONNECT_TIMEOUT_SECONDS
    read: float = settings.READ_TIMEOUT_SECONDS  # each wait for data, and the whole body once it began

    def __post_init__(self) -> None:
        for name, value in (("connect", self.connect), ("read", self.read)):
            if not isinstance(value, (int, float)) or not 0 < value < 3600:
                raise ValueError(f"sources.segment.{name}_timeout_seconds must be a number of seconds between 0"
                                 f" and 3600, not {value!r}.")


class BodyTimeout(requests.exceptions.Timeout):
    """The headers came, but the body did not arrive in full in time."""


def received(response: requests.Response) -> str:
    """Status, content type, size and (unless it is JSON, which may hold write keys) the first bytes of an
    answer, printable and short."""
    body = response.content or b""
    kind = response.headers.get("Content-Type") or "no content type"
    described = f"HTTP {response.status_code}, {kind}, {len(body)} bytes"
    if "json" in kind.lower():
        return f"{described} of incomplete JSON"
    start = "".join(ch if ch.isprintable() else " " for ch in body[:80].decode("utf-8", "replace"))
    return f"{described}: {' '.join(start.split())!r}"


def _shape_problem(body: Any, endpoint: Endpoint) -> Optional[str]:
    data = body.get("data") if isinstance(body, dict) else None
    payload = data if (data is None or not endpoint.list_key) else data.get(endpoint.list_key)
    if payload is None and endpoint.list_optional and isinstance(data, dict):
        return None  # the API leaves an empty list out
    expected = dict if endpoint.single_object else list
    if not isinstance(data, dict) or not isinstance(payload, expected):
        where = f"data.{endpoint.list_key}" if endpoint.list_key else "data"
        return f"no {expected.__name__} at {where}"
    return None


def _status_reason(response: requests.Response, where: str) -> str:
    return " ".join(f"HTTP {response.status_code} {response.reason or ''} on {where}".split())


def _path(response: requests.Response) -> str:
    return _path_of(response.request.url if response.request is not None else response.url)


def _path_of(url: Optional[str]) -> str:
    """The path only: query strings never reach messages."""
    return re.sub(r"^[a-z]+://[^/]*", "", (url or "").split("?")[0]) or "/"
