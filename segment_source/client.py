"""The HTTP layer: a read-only `requests.Session` that retries and paces requests like the API asks.

dlt's REST client calls `session.send()` for every page, so all policy lives in `send`:
- only GET leaves this process (the pipeline can never change a workspace);
- 429: wait `data.msBeforeNext` (or until `X-RateLimit-Reset`), never spin;
- 5xx, dropped connections and bodies that are not complete JSON: retry with exponential backoff;
- every other status goes back to the caller, which decides (401/403/404 are permission gaps).
The bearer token is only ever put in the Authorization header, and no message here quotes headers.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional
from urllib.parse import urlsplit

import orjson
import requests
from dlt.sources.helpers.rest_client.exceptions import IgnoreResponseException
from requests.adapters import HTTPAdapter
from requests.hooks import default_hooks, dispatch_hook

from . import settings
from .rate_limit import RateLimiter, parse_reset_header

RETRYABLE_EXCEPTIONS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


class ReadOnlyViolation(RuntimeError):
    """Raised when anything tries to send a request other than GET."""


class SegmentAPIUnavailable(RuntimeError):
    """The API could not be reached or kept failing after every retry."""


@dataclass
class RequestStats:
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    faults: int = 0
    by_status: Dict[int, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, status: Optional[int], retried: bool, rate_limited: bool = False) -> None:
        with self._lock:
            self.requests += 1
            self.retries += int(retried)
            self.rate_limited += int(rate_limited)
            if status is None or status >= 500:
                self.faults += 1
            if status is not None:
                self.by_status[status] = self.by_status.get(status, 0) + 1

    def as_dict(self) -> Dict[str, Any]:
        return {
            "requests": self.requests,
            "retries": self.retries,
            "rate_limited": self.rate_limited,
            "faults": self.faults,
        }


def describe_url(url: str) -> str:
    """Host and path only: query strings never reach messages."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def ms_before_next(response: requests.Response) -> Optional[float]:
    """Seconds the 429 body asks us to wait (`errors[].data.msBeforeNext`)."""
    try:
        errors = response.json().get("errors") or []
    except ValueError:
        return None
    for error in errors:
        data = error.get("data") if isinstance(error, dict) else None
        if isinstance(data, dict) and isinstance(data.get("msBeforeNext"), (int, float)):
            return data["msBeforeNext"] / 1000.0
    return None


class SegmentSession(requests.Session):
    def __init__(
        self,
        rate_limiter: Optional[RateLimiter] = None,
        endpoint_limit_of: Callable[[str], Optional[str]] = lambda path: None,
        already_skipped: Callable[[str], bool] = lambda path: False,
        max_attempts: int = settings.MAX_ATTEMPTS,
        backoff_base: float = settings.BACKOFF_BASE_SECONDS,
        backoff_max: float = settings.BACKOFF_MAX_SECONDS,
        timeout: float = settings.REQUEST_TIMEOUT_SECONDS,
        pool_size: int = settings.DEFAULT_MAX_CONCURRENCY,
    ) -> None:
        super().__init__()
        self.rate_limiter = rate_limiter or RateLimiter()
        self.endpoint_limit_of = endpoint_limit_of
        self.already_skipped = already_skipped
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.timeout = timeout
        self.stats = RequestStats()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max(pool_size, 4))
        self.mount("http://", adapter)
        self.mount("https://", adapter)

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        _refuse_unless_get(method)
        return super().request(method, url, *args, **kwargs)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        _refuse_unless_get(request.method)
        kwargs.setdefault("timeout", self.timeout)
        # Response hooks (dlt's raise_for_status, our per-table checks) must see only the final answer,
        # not each attempt, or a transient 503 would end a table before the retry.
        if self.already_skipped(urlsplit(request.url or "").path):
            raise IgnoreResponseException()  # ends this pagination; the table is not loaded anyway
        hooks, request.hooks = request.hooks, default_hooks()
        response = self._send_with_retries(request, **kwargs)
        return dispatch_hook("response", hooks, response, **kwargs)

    def _send_with_retries(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        endpoint_limit = self.endpoint_limit_of(urlsplit(request.url or "").path)
        rate_limited_waits = 0
        attempt = 0
        while True:
            attempt += 1
            self.rate_limiter.acquire(endpoint_limit)
            try:
                response, problem = self._send_once(request, **kwargs)
            finally:
                self.rate_limiter.release()
            if response is not None and response.status_code == 429:
                rate_limited_waits += 1
                self._wait_after_429(response, rate_limited_waits, request)
                attempt -= 1  # the API told us when to come back: that is not a failed attempt
                continue
            if problem is None:
                return response  # type: ignore[return-value]
            if attempt >= self.max_attempts:
                return self._give_up(request, response, problem)
            time.sleep(self._backoff(attempt))

    def _send_once(self, request: requests.PreparedRequest, **kwargs: Any):
        """One attempt. Returns (response or None, problem or None): problem means retry."""
        try:
            response = super().send(request, **kwargs)
        except RETRYABLE_EXCEPTIONS as exc:
            self.stats.count(None, retried=True)
            return None, f"connection failed ({type(exc).__name__})"
        status = response.status_code
        if status == 429:
            self.stats.count(status, retried=True, rate_limited=True)
            return response, None
        if status >= 500:
            self.stats.count(status, retried=True)
            return response, f"server error {status}"
        if status == 200 and not _cache_json_body(response):
            self.stats.count(None, retried=True)
            return response, "incomplete or non-JSON response body"
        self.stats.count(status, retried=False)
        self.rate_limiter.observe(
            response.headers.get("X-RateLimit-Remaining"), response.headers.get("X-RateLimit-Reset")
        )
        return response, None

    def _wait_after_429(
        self, response: requests.Response, waits: int, request: requests.PreparedRequest
    ) -> None:
        if waits > self.max_attempts * 4:
            raise SegmentAPIUnavailable(
                f"{describe_url(request.url or '')} kept answering 429 Too Many Requests after"
                f" {waits} waits; lower sources.segment.requests_per_minute or max_concurrency."
            )
        delay = ms_before_next(response)
        if delay is None:
            reset_at = parse_reset_header(response.headers.get("X-RateLimit-Reset"), time.time())
            delay = reset_at - time.time() if reset_at else None
        if delay is None or delay <= 0:
            delay = self._backoff(waits)
        delay = min(delay + 0.01, settings.MAX_RATE_LIMIT_WAIT_SECONDS)
        self.rate_limiter.block_for(delay)

    def _give_up(
        self, request: requests.PreparedRequest, response: Optional[requests.Response], problem: str
    ) -> requests.Response:
        if response is not None and response.status_code >= 500:
            return response  # the caller raises an HTTPError carrying the status
        raise SegmentAPIUnavailable(
            f"{describe_url(request.url or '')}: {problem} after {self.max_attempts} attempts."
        )

    def _backoff(self, attempt: int) -> float:
        delay = min(self.backoff_base * 2 ** (attempt - 1), self.backoff_max)
        return delay * (0.5 + random.random() / 2)


def _refuse_unless_get(method: Optional[str]) -> None:
    if (method or "").upper() != "GET":
        raise ReadOnlyViolation(
            f"segment-history only reads from the Segment API; refusing to send {method}."
        )


def _cache_json_body(response: requests.Response) -> bool:
    """Parses the body once, and makes `response.json()` return that parse (pages can be megabytes).

    orjson parses a 4 MB page of destinations about five times faster than the standard library, and
    parsing was a third of a large snapshot's CPU time (benchmarks/results)."""
    try:
        parsed = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return False
    # the API sends JSON in UTF-8; without a charset, requests would guess by scanning the whole body
    response.encoding = "utf-8"
    response.json = lambda **_: parsed  # type: ignore[method-assign]
    return True
