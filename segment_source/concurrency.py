"""How many requests may be in flight at once: a limit that follows the API's answers (AIMD).

The Public API publishes no concurrency limit. A run starts at a few requests in flight and, while answers
come back fast and `X-RateLimit-Remaining` leaves room, adds one per answer (the limit doubles every round
trip) up to `ceiling`. A 429, or answers that get much slower than the fastest seen for their endpoint,
shrink it (by half for a 429, by a quarter for slowness, at most once per round trip); after the first
shrink it grows by one per round trip only. Rate pacing (the run's budget, the per-endpoint minute limits,
the headers' window) stays with `rate_limit.RateLimiter`; this only bounds parallelism.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

START = 4
# an answer is slow when it takes longer than this many times the fastest of its endpoint, plus the slack
# (a few milliseconds of scheduling on a busy machine must not read as an overloaded API)
SLOW_FACTOR = 2.0
SLOW_SLACK_SECONDS = 0.05
# smoothing of the slowness signal: one slow page among many fast ones is not a trend
SLOWNESS_WEIGHT = 0.2


@dataclass(frozen=True)
class Answer:
    """What one attempt told the controller."""

    endpoint: str
    seconds: float  # from sending to the whole body
    rate_limited: bool = False
    remaining: Optional[int] = None  # X-RateLimit-Remaining, when the API sent it


class AdaptiveConcurrency:
    def __init__(self, ceiling: int, start: int = START, clock: Callable[[], float] = time.monotonic) -> None:
        if ceiling < 1:
            raise ValueError("ceiling must be at least 1")
        self.ceiling = ceiling
        self.limit = float(min(start, ceiling))
        self._clock = clock
        self._condition = threading.Condition()
        self._in_flight = 0
        self._growing_fast = True  # until the first sign of pressure
        self._last_shrink = -math.inf
        self._fastest: Dict[str, float] = {}
        self._slowness = 0.0
        self.peak_in_flight = 0
        self.shrinks = 0
        self.changes: List[Tuple[float, int]] = [(clock(), int(self.limit))]  # (when, limit) over the run

    @property
    def in_flight(self) -> int:
        with self._condition:
            return self._in_flight

    def acquire(self) -> float:
        """Blocks until a request may be in flight; returns the moment it may start (pass it to `release`)."""
        with self._condition:
            while self._in_flight >= int(self.limit):
                self._condition.wait()
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
            return self._clock()

    def release(self, started: float, answer: Optional[Answer] = None) -> None:
        """Ends a request that `acquire` let start; `answer` is None when there was no answer to learn from."""
        with self._condition:
            self._in_flight -= 1
            if answer is not None:
                self._learn(started, answer)
            self._condition.notify_all()

    def _learn(self, started: float, answer: Answer) -> None:
        fastest = min(self._fastest.get(answer.endpoint, math.inf), answer.seconds)
        self._fastest[answer.endpoint] = fastest
        ratio = answer.seconds / (fastest * SLOW_FACTOR + SLOW_SLACK_SECONDS)
        self._slowness += SLOWNESS_WEIGHT * (ratio - self._slowness)
        if answer.rate_limited:
            self._shrink(started, 0.5)
        elif self._slowness > 1.0:
            self._shrink(started, 0.75)
        elif answer.remaining is None or answer.remaining > 2 * self.limit:
            self._set(self.limit + (1.0 if self._growing_fast else 1.0 / self.limit))

    def _shrink(self, started: float, factor: float) -> None:
        self._growing_fast = False
        if started < self._last_shrink:
            return  # this request was already in flight when the limit last shrank: the same episode
        self._last_shrink = self._clock()
        self._slowness = 0.0
        self.shrinks += 1
        self._set(self.limit * factor)

    def _set(self, limit: float) -> None:
        limit = min(max(limit, 1.0), float(self.ceiling))
        if int(limit) != int(self.limit):
            self.changes.append((self._clock(), int(limit)))
        self.limit = limit

    def summary(self) -> Dict[str, object]:
        with self._condition:
            return {"ceiling": self.ceiling, "limit": int(self.limit), "peak_in_flight": self.peak_in_flight,
                    "shrinks": self.shrinks}
