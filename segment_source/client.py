"""The HTTP layer: a read-only `requests.Session` that retries and paces requests like the API asks.

dlt's REST client calls `session.send()` for every page, so all policy lives in `send`:
- only GET leaves this process (the pipeline can never change a workspace);
- every request has a connect and a read timeout, and a body must arrive in full within the read timeout;
- each attempt's answer is classified once (`outcomes`) and the outcome travels with the response:
  429 waits `data.msBeforeNext` (or until `X-RateLimit-Reset`), never spins; 5xx, no answer in time,
  dropped connections and bodies that are not complete JSON are retried with jittered exponential backoff;
  a request that never got an answer ends the run, and every request after it fails at once.
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
import urllib3.exceptions
from dlt.sources.helpers.rest_client.exceptions import IgnoreResponseException
from requests.adapters import HTTPAdapter
from requests.hooks import default_hooks, dispatch_hook

from . import settings
from .concurrency import AdaptiveConcurrency, Answer
from .endpoints import Endpoint
from .outcomes import BodyTimeout, Kind, Outcome, Timeouts, of_answer, of_no_answer
from .rate_limit import RateLimiter, parse_reset_header

RETRYABLE_EXCEPTIONS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
BODY_CHUNK_BYTES = 1024 * 1024  # one wait for data returns what arrived, up to this


class ReadOnlyViolation(RuntimeError):
    """Raised when anything tries to send a request other than GET."""


class SegmentAPIUnavailable(RuntimeError):
    """The API could not be reached, did not answer in time, or kept answering 429."""

    def __init__(self, message: str, outcome: Optional[Outcome] = None) -> None:
        super().__init__(message)
        self.outcome = outcome


@dataclass
class RequestStats:
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    faults: int = 0
    by_status: Dict[int, int] = field(default_factory=dict)
    concurrency: Optional[AdaptiveConcurrency] = None
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
            **({"concurrency": self.concurrency.summary()} if self.concurrency is not None else {}),
        }


def describe_url(url: str) -> str:
    """Host and path only: query strings never reach messages."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def outcome_of(response: requests.Response) -> Outcome:
    """What the session decided this response means (see `outcomes`)."""
    return response.segment_outcome  # type: ignore[attr-defined]


def parsed_body(response: requests.Response) -> Any:
    """The JSON body of a 200 answer, parsed once by the session (None if it was not JSON).

    `response.json()` returns this same object, and it is what dlt's paginator and data selector read:
    a response hook that edits it (the source's `_shape_page`) edits what they see."""
    return getattr(response, "segment_body", None)


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
        endpoint_of: Callable[[str], Optional[Endpoint]] = lambda path: None,
        already_skipped: Callable[[str], bool] = lambda path: False,
        max_attempts: int = settings.MAX_ATTEMPTS,
        backoff_base: float = settings.BACKOFF_BASE_SECONDS,
        backoff_max: float = settings.BACKOFF_MAX_SECONDS,
        timeouts: Timeouts = Timeouts(),
        max_concurrency: int = settings.DEFAULT_MAX_CONCURRENCY,
    ) -> None:
        super().__init__()
        self.rate_limiter = rate_limiter or RateLimiter()
        self.endpoint_of = endpoint_of
        self.already_skipped = already_skipped
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.timeouts = timeouts
        self.concurrency = AdaptiveConcurrency(max_concurrency)
        self.stats = RequestStats(concurrency=self.concurrency)
        self._stopped: Optional[SegmentAPIUnavailable] = None  # why the run ends: later requests fail at once
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max(max_concurrency, 4))
        self.mount("http://", adapter)
        self.mount("https://", adapter)

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        _refuse_unless_get(method)
        return super().request(method, url, *args, **kwargs)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        _refuse_unless_get(request.method)
        path = urlsplit(request.url or "").path
        # Response hooks (dlt's raise_for_status, our per-table checks) must see only the final answer,
        # not each attempt, or a transient 503 would end a table before the retry.
        if self.already_skipped(path):
            raise IgnoreResponseException()  # ends this pagination; the table is not loaded anyway
        hooks, request.hooks = request.hooks, default_hooks()
        response = self._send_with_retries(request, self.endpoint_of(path), **kwargs)
        return dispatch_hook("response", hooks, response, **kwargs)

    def _send_with_retries(
        self, request: requests.PreparedRequest, endpoint: Optional[Endpoint], **kwargs: Any
    ) -> requests.Response:
        endpoint_limit = endpoint.name if endpoint is not None and endpoint.rate_limit_per_minute else None
        rate_limited_waits = 0
        attempt = 0
        slow_or_malformed = 0  # answers worth only a few attempts (`Outcome.attempts`), whatever came between
        while True:
            if self._stopped is not None:
                raise self._stopped
            attempt += 1
            response, outcome = self._send_in_turn(request, endpoint, endpoint_limit, **kwargs)
            if outcome.rate_limited:
                rate_limited_waits += 1
                self._wait_after_429(response, rate_limited_waits, request)  # type: ignore[arg-type]
                attempt -= 1  # the API told us when to come back: that is not a failed attempt
                continue
            if outcome.kind is not Kind.RETRY:
                return _with_outcome(response, outcome)  # type: ignore[arg-type]
            slow_or_malformed += bool(outcome.attempts)
            if attempt >= self.max_attempts or (outcome.attempts and slow_or_malformed >= outcome.attempts):
                return self._give_up(request, response, outcome.given_up(attempt))
            time.sleep(self._backoff(attempt))

    def _send_in_turn(self, request: requests.PreparedRequest, endpoint: Optional[Endpoint],
                      endpoint_limit: Optional[str], **kwargs: Any):
        """One attempt once both the concurrency limit and the rate limits let it start."""
        started = self.concurrency.acquire()
        answer = None
        try:
            self.rate_limiter.acquire(endpoint_limit)
            try:
                sent = time.monotonic()
                response, outcome = self._send_once(request, endpoint, **kwargs)
            finally:
                self.rate_limiter.release()
            if response is not None:
                answer = Answer(endpoint.name if endpoint else "", time.monotonic() - sent, outcome.rate_limited,
                                _remaining(response))
            return response, outcome
        finally:
            self.concurrency.release(started, answer)

    def _send_once(self, request: requests.PreparedRequest, endpoint: Optional[Endpoint], **kwargs: Any):
        """One attempt: (the response, or None when there was no complete answer; its outcome)."""
        if kwargs.get("timeout") is None:  # requests always passes the key, as None
            kwargs["timeout"] = (self.timeouts.connect, self.timeouts.read)
        kwargs["stream"] = True  # the body is read here, against a deadline
        try:
            response = super().send(request, **kwargs)
            _read_body(response, self.timeouts.read)
        except RETRYABLE_EXCEPTIONS as exc:
            self.stats.count(None, retried=True)
            return None, of_no_answer(exc, request.url or "", self.timeouts)
        parsed = response.status_code == 200 and _cache_json_body(response)
        outcome = of_answer(response, parsed, endpoint)
        malformed = response.status_code == 200 and not parsed
        self.stats.count(None if malformed else response.status_code, retried=outcome.kind is Kind.RETRY,
                         rate_limited=outcome.rate_limited)
        if outcome.kind is not Kind.RETRY:
            self.rate_limiter.observe(
                response.headers.get("X-RateLimit-Remaining"), response.headers.get("X-RateLimit-Reset")
            )
        return response, outcome

    def _wait_after_429(
        self, response: requests.Response, waits: int, request: requests.PreparedRequest
    ) -> None:
        if waits > self.max_attempts * 4:
            raise self._ending(SegmentAPIUnavailable(
                f"{describe_url(request.url or '')} kept answering 429 Too Many Requests after"
                f" {waits} waits; lower sources.segment.requests_per_minute or max_concurrency."
            ))
        delay = ms_before_next(response)
        if delay is None:
            reset_at = parse_reset_header(response.headers.get("X-RateLimit-Reset"), time.time())
            delay = reset_at - time.time() if reset_at else None
        if delay is None or delay <= 0:
            delay = self._backoff(waits)
        delay = min(delay + 0.01, settings.MAX_RATE_LIMIT_WAIT_SECONDS)
        self.rate_limiter.block_for(delay)

    def _give_up(
        self, request: requests.PreparedRequest, response: Optional[requests.Response], outcome: Outcome
    ) -> requests.Response:
        if outcome.kind is not Kind.FATAL and response is not None:
            return _with_outcome(response, outcome)  # the caller skips the table
        parts = urlsplit(request.url or "")
        raise self._ending(SegmentAPIUnavailable(
            f"The Segment API at {parts.scheme}://{parts.netloc} stopped answering: {outcome.reason}.", outcome
        ))

    def _ending(self, error: SegmentAPIUnavailable) -> SegmentAPIUnavailable:
        """The error that ends the run; every later request raises it at once, so the run ends in bounded time."""
        self._stopped = error
        return error

    def _backoff(self, attempt: int) -> float:
        delay = min(self.backoff_base * 2 ** (attempt - 1), self.backoff_max)
        return delay * (0.5 + random.random() / 2)


def _remaining(response: requests.Response) -> Optional[int]:
    try:
        return int(response.headers["X-RateLimit-Remaining"])
    except (KeyError, ValueError):
        return None


def _with_outcome(response: requests.Response, outcome: Outcome) -> requests.Response:
    response.segment_outcome = outcome  # type: ignore[attr-defined]
    return response


def _read_body(response: requests.Response, seconds: float) -> None:
    """Reads the whole body within `seconds`: the read timeout bounds each wait for data, so a body that
    trickles a byte at a time would otherwise never end. Errors are requests' own, as for `.content`."""
    try:
        response._content = _body_before(response.raw, time.monotonic() + seconds, seconds)
    except BaseException:
        response.close()  # the connection is not reused
        raise
    response._content_consumed = True


def _body_before(raw: Any, deadline: float, seconds: float) -> bytes:
    chunks = []
    try:
        while True:
            chunk = raw.read1(BODY_CHUNK_BYTES, decode_content=True)  # at most one wait for data
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            if time.monotonic() > deadline:
                raise BodyTimeout(f"the body did not arrive in full within {seconds:g} s")
    except urllib3.exceptions.ReadTimeoutError as exc:
        raise requests.exceptions.ReadTimeout(exc) from exc
    except urllib3.exceptions.DecodeError as exc:
        raise requests.exceptions.ContentDecodingError(exc) from exc
    except urllib3.exceptions.SSLError as exc:
        raise requests.exceptions.SSLError(exc) from exc
    except urllib3.exceptions.ProtocolError as exc:  # the connection broke mid-body
        raise requests.exceptions.ChunkedEncodingError(exc) from exc


def _refuse_unless_get(method: Optional[str]) -> None:
    if (method or "").upper() != "GET":
        raise ReadOnlyViolation(
            f"segment-history only reads from the Segment API; refusing to send {method}."
        )


def _cache_json_body(response: requests.Response) -> bool:
    """Parses the body once, keeps it as `parsed_body(response)`, and makes `response.json()` return that
    same object (pages can be megabytes; dlt calls `.json()` for the paginator and for the data).

    orjson parses a 4 MB page of destinations about five times faster than the standard library, and
    parsing was a third of a large snapshot's CPU time (benchmarks/results)."""
    try:
        parsed = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return False
    # the API sends JSON in UTF-8; without a charset, requests would guess by scanning the whole body
    response.encoding = "utf-8"
    response.segment_body = parsed  # type: ignore[attr-defined]
    response.json = lambda **_: parsed  # type: ignore[method-assign]
    return True
