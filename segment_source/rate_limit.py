"""Pacing of requests for one access token.

The Public API publishes no global number: it tells each client where it stands through the
`X-RateLimit-Remaining` / `X-RateLimit-Reset` headers (the reset is an RFC 5322 date), and answers 429
with `data.msBeforeNext` when a client goes over. Some endpoints also have documented limits of their
own (2/minute, 25/minute...). One `RateLimiter` is shared by every thread that uses the token, so that a
concurrent run stays just under the limit instead of bouncing off 429s.
"""

from __future__ import annotations

import threading
import time
from email.utils import parsedate_to_datetime
from typing import Callable, Dict, Optional


def parse_reset_header(value: Optional[str], now: float) -> Optional[float]:
    """Returns the epoch time at which the current window resets, or None when the header is unusable.

    Segment documents an RFC 5322 date; numbers (epoch seconds, epoch ms or a delta in seconds) are
    accepted too because proxies and older deployments send those.
    """
    if not value:
        return None
    value = value.strip()
    try:
        number = float(value)
    except ValueError:
        try:
            return parsedate_to_datetime(value).timestamp()
        except (TypeError, ValueError, IndexError):
            return None
    if number > 1e12:
        return number / 1000.0
    if number > 1e9:
        return number
    return now + number


class Spacing:
    """At most `per_minute` request starts per minute, evenly spaced (a budget, not a burst allowance)."""

    def __init__(self, per_minute: float) -> None:
        self.interval = 60.0 / per_minute
        self.next_start = 0.0

    def reserve(self, now: float) -> float:
        """Reserves the next free slot and returns how long the caller must wait for it."""
        start = max(now, self.next_start)
        self.next_start = start + self.interval
        return start - now


class MinuteWindow:
    """At most `per_minute` request starts in each 60-second window: the documented per-endpoint limits
    are counted per minute, so a short run may use the whole allowance at once instead of being spaced."""

    def __init__(self, per_minute: float) -> None:
        self.allowance = max(int(per_minute), 1)
        self.window_start = 0.0
        self.used = 0

    def reserve(self, now: float) -> float:
        if now >= self.window_start + 60.0:
            self.window_start, self.used = now, 0
        if self.used < self.allowance:
            self.used += 1
            return 0.0
        self.window_start, self.used = self.window_start + 60.0, 1
        return self.window_start - now


class RateLimiter:
    def __init__(
        self,
        requests_per_minute: Optional[float] = None,
        endpoint_limits: Optional[Dict[str, float]] = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep
        self._budget = Spacing(requests_per_minute) if requests_per_minute else None
        self._endpoint_windows = {name: MinuteWindow(limit) for name, limit in (endpoint_limits or {}).items()}
        self._remaining: Optional[int] = None
        self._reset_at: Optional[float] = None
        self._blocked_until = 0.0
        self._in_flight = 0
        self.waited_seconds = 0.0

    def acquire(self, endpoint_limit: Optional[str] = None) -> float:
        """Blocks until a request may start; returns the seconds waited. Pair with `release`."""
        waited = 0.0
        while True:
            with self._lock:
                delay = self._header_delay_locked()
                if delay <= 0:
                    # a reserved budget slot is ours: sleep for it without re-checking
                    slot_wait = self._reserve_slots_locked(endpoint_limit)
                    self._in_flight += 1
                    break
            self._sleep(delay)
            waited += delay
        if slot_wait > 0:
            self._sleep(slot_wait)
            waited += slot_wait
        with self._lock:
            self.waited_seconds += waited
        return waited

    def release(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _header_delay_locked(self) -> float:
        now = self._clock()
        if now < self._blocked_until:
            return self._blocked_until - now
        if self._reset_at is not None and now >= self._reset_at:
            self._remaining, self._reset_at = None, None
        if self._remaining is not None and self._reset_at is not None:
            if self._remaining - self._in_flight <= 0:
                return max(self._reset_at - now, 0.01)
        return 0.0

    def _reserve_slots_locked(self, endpoint_limit: Optional[str]) -> float:
        now = self._clock()
        wait = self._budget.reserve(now) if self._budget else 0.0
        if endpoint_limit in self._endpoint_windows:
            wait = max(wait, self._endpoint_windows[endpoint_limit].reserve(now))
        return wait

    def observe(self, remaining: Optional[str], reset: Optional[str]) -> None:
        """Takes in the rate-limit headers of a successful response."""
        now = self._clock()
        reset_at = parse_reset_header(reset, now)
        try:
            remaining_count = int(remaining) if remaining is not None else None
        except ValueError:
            remaining_count = None
        if remaining_count is None or reset_at is None:
            return
        with self._lock:
            same_window = self._reset_at is not None and abs(reset_at - self._reset_at) < 0.5
            if same_window and self._remaining is not None:
                # responses of one window arrive out of order: the smallest count is the freshest
                remaining_count = min(remaining_count, self._remaining)
            self._remaining, self._reset_at = remaining_count, reset_at

    def block_for(self, seconds: float) -> None:
        """Called on a 429: nobody sends with this token until the API says the limit lifted."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, self._clock() + seconds)
            self._remaining = None
