"""Fixed-window request counters, the way the live API reports them (facts §1.8).

A window starts on a whole multiple of its length (every second, or every minute for per-endpoint limits), so
`X-RateLimit-Reset` falls on a whole second. Rejected requests count as consumed too, which is how the
`consumedPoints` of the documented 429 body can exceed the limit.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from email.utils import formatdate
from typing import Callable, Hashable


@dataclass(frozen=True)
class WindowState:
    limit: int
    consumed: int
    reset_at: float  # epoch seconds when the window ends
    now: float

    @property
    def allowed(self) -> bool:
        return self.consumed <= self.limit

    @property
    def remaining(self) -> int:
        return max(self.limit - self.consumed, 0)

    @property
    def ms_before_next(self) -> int:
        return max(math.ceil((self.reset_at - self.now) * 1000), 1)

    def headers(self) -> dict[str, str]:
        return {"X-RateLimit-Consumed": str(self.consumed), "X-RateLimit-Remaining": str(self.remaining),
                "X-RateLimit-Reset": formatdate(self.reset_at, usegmt=True)}


class FixedWindowLimiter:
    def __init__(self, limit: int, window_seconds: float, clock: Callable[[], float] = time.time):
        self.limit = limit
        self.window = window_seconds
        self.clock = clock
        self._windows: dict[Hashable, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def consume(self, key: Hashable) -> WindowState:
        now = self.clock()
        start = math.floor(now / self.window) * self.window
        with self._lock:
            window_start, consumed = self._windows.get(key, (start, 0))
            consumed = consumed + 1 if window_start == start else 1
            self._windows[key] = (start, consumed)
        return WindowState(self.limit, consumed, start + self.window, now)
