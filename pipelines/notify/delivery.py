"""One POST to a sink, retried while retrying can help, and what its answer means (decided here only).

2xx: delivered. 408, 429, 5xx, no answer or a timeout: retried (`max_attempts`, waits doubling from
`backoff_seconds`, or the `Retry-After` the sink asked for), then left pending for the next run. Any
other status (401 bad write key, 404/410 webhook gone, a redirect) is refused: retrying cannot fix it,
the user must change a setting. Error texts are ours: a sink's URL, key and headers are secrets, so
they are never formatted into a message (nor an exception's text, which names the URL).
"""

from __future__ import annotations

import json
import logging
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Dict, Iterator, Optional, Tuple
from urllib.parse import urlsplit

import requests

from segment_source import redaction

from .config import Delivery

logger = logging.getLogger("segment_history")
MAX_RETRY_AFTER_SECONDS = 60
REASON_WORD = re.compile(r"^[a-z][a-z0-9_]{0,39}$")  # Slack's "no_service", "invalid_token": safe to repeat


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    attempts: int  # requests sent
    status: Optional[int] = None  # the last HTTP status; None when nothing answered
    error: Optional[str] = None  # in our words: "HTTP 503", "timed out after 10s", "could not connect"
    refused: bool = False  # a status retrying cannot fix: a setting must change
    sent_bytes: int = 0


def verdict(status: int) -> str:
    """`delivered`, `retry` or `refused`."""
    if 200 <= status < 300:
        return "delivered"
    if status in (408, 429) or status >= 500:
        return "retry"
    return "refused"


def post_json(session: requests.Session, url: str, body: bytes, delivery: Delivery,
              headers: Optional[Dict[str, str]] = None, auth: Optional[Tuple[str, str]] = None) -> Outcome:
    headers = {**(headers or {}), "Content-Type": "application/json"}
    outcome = Outcome(False, 0)
    for attempt in range(1, delivery.max_attempts + 1):
        wait = delivery.backoff_seconds * 2 ** (attempt - 1)
        try:
            response = session.post(url, data=body, headers=headers, auth=auth, timeout=delivery.timeout,
                                    allow_redirects=False)
        except requests.Timeout:
            outcome = Outcome(False, attempt, None, f"timed out after {delivery.timeout:g}s", sent_bytes=len(body))
        except requests.ConnectionError:
            outcome = Outcome(False, attempt, None, "could not connect", sent_bytes=len(body))
        except requests.RequestException as exc:
            outcome = Outcome(False, attempt, None, f"request failed ({type(exc).__name__})", sent_bytes=len(body))
        else:
            kind = verdict(response.status_code)
            error = None if kind == "delivered" else _status_text(response)
            outcome = Outcome(kind == "delivered", attempt, response.status_code, error, kind == "refused",
                              sent_bytes=len(body))
            if kind != "retry":
                return outcome
            wait = _retry_after(response) or wait
        if attempt < delivery.max_attempts:
            logger.info("Attempt %d of %d failed (%s); retrying in %.1fs.", attempt, delivery.max_attempts,
                        outcome.error, wait)
            time.sleep(wait)
    return outcome


def to_json_bytes(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def _status_text(response: requests.Response) -> str:
    """`HTTP 404 no_service`: the status, and the receiver's reason when it is one plain word."""
    reason = response.text.strip()
    if response.headers.get("Content-Type", "").startswith("application/json"):
        try:
            reason = str(response.json().get("code") or "")
        except (ValueError, AttributeError):
            reason = ""
    return f"HTTP {response.status_code}" + (f" {reason}" if REASON_WORD.match(reason) else "")


def _retry_after(response: requests.Response) -> Optional[float]:
    try:
        return min(max(float(response.headers.get("Retry-After", "")), 0.0), MAX_RETRY_AFTER_SECONDS)
    except ValueError:
        return None


@contextmanager
def secrets_kept_out_of_logs(*secret_urls_and_values: Optional[str]) -> Iterator[None]:
    """urllib3 logs every request's path at DEBUG, and a webhook URL's path (or query) is its secret: the
    URLs, their paths and queries, and the values are registered as secrets, so every log line (and every
    message of the command line) shows them masked."""
    for value in filter(None, secret_urls_and_values):
        parts = urlsplit(value)
        paths = [parts.path + (f"?{parts.query}" if parts.query else ""), parts.query]
        redaction.register(value, *paths, *([parts.path] if parts.path not in ("", "/") else []))
    yield
