"""The pacing of one token's requests (`segment_source.rate_limit`), on a fake clock: no request is sent and no
second is waited."""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import format_datetime

import pytest

from segment_source.rate_limit import MinuteWindow, RateLimiter, Spacing, parse_reset_header

NOW = 1_750_000_000.0  # an epoch time: the limiter compares header times with the clock


class FakeClock:
    """A clock that only moves when someone sleeps; it records every sleep."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now
        self.sleeps: list = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def limiter(clock: FakeClock, **kwargs) -> RateLimiter:
    return RateLimiter(clock=clock, sleep=clock.sleep, **kwargs)


def rfc5322(epoch: float) -> str:
    return format_datetime(datetime.fromtimestamp(epoch, timezone.utc), usegmt=True)


@pytest.mark.parametrize("header, reset_at", [
    (rfc5322(NOW + 30), NOW + 30),  # what Segment documents
    (str(int((NOW + 30) * 1000)), NOW + 30),  # epoch milliseconds
    (str(int(NOW + 30)), NOW + 30),  # epoch seconds
    ("30", NOW + 30),  # seconds from now
    (" 30 ", NOW + 30),
    (None, None),
    ("", None),
    ("soon", None),
])
def test_the_reset_header_is_read_in_each_form_it_comes_in(header, reset_at):
    assert parse_reset_header(header, NOW) == reset_at


def test_spacing_gives_each_request_its_own_slot_in_the_minute():
    spacing = Spacing(per_minute=60)
    assert [spacing.reserve(now=10.0) for _ in range(3)] == [0.0, 1.0, 2.0]
    assert spacing.reserve(now=100.0) == 0.0, "an idle stretch is not saved up for a burst"


def test_a_minute_window_allows_its_whole_allowance_at_once_then_waits_for_the_next_minute():
    window = MinuteWindow(per_minute=2)
    assert [window.reserve(now=0.0) for _ in range(3)] == [0.0, 0.0, 60.0]
    assert window.reserve(now=61.0) == 0.0, "the third request used one slot of the second minute"
    assert window.reserve(now=62.0) == 58.0


def test_without_limits_or_headers_nobody_waits():
    clock = FakeClock()
    pacing = limiter(clock)
    assert [pacing.acquire() for _ in range(5)] == [0.0] * 5
    assert clock.sleeps == []


def test_a_budget_spaces_request_starts_evenly():
    clock = FakeClock()
    pacing = limiter(clock, requests_per_minute=120)
    waits = [pacing.acquire() for _ in range(3)]
    assert waits == [0.0, 0.5, 0.5]
    assert pacing.waited_seconds == 1.0


def test_an_endpoints_own_limit_holds_back_that_endpoint_only():
    clock = FakeClock()
    pacing = limiter(clock, endpoint_limits={"selective_syncs": 2})
    assert [pacing.acquire("selective_syncs") for _ in range(2)] == [0.0, 0.0]
    assert pacing.acquire(None) == 0.0
    assert pacing.acquire("selective_syncs") == 60.0


def test_no_request_starts_when_the_headers_say_none_remain_until_the_window_resets():
    clock = FakeClock()
    pacing = limiter(clock)
    pacing.observe(remaining="0", reset=rfc5322(NOW + 5))
    assert pacing.acquire() == 5.0
    assert pacing.acquire() == 0.0, "past the reset, the old count no longer holds"


def test_requests_in_flight_count_against_what_remains():
    clock = FakeClock()
    pacing = limiter(clock)
    pacing.observe(remaining="2", reset="10")
    assert [pacing.acquire(), pacing.acquire()] == [0.0, 0.0]
    assert pacing.acquire() == 10.0, "two were started and not released: nothing remained"


def test_a_released_request_gives_its_place_back():
    clock = FakeClock()
    pacing = limiter(clock)
    pacing.observe(remaining="1", reset="10")
    pacing.acquire()
    pacing.release()
    assert pacing.acquire() == 0.0


def test_of_one_windows_answers_arriving_out_of_order_the_smallest_count_wins():
    clock = FakeClock()
    pacing = limiter(clock)
    reset = rfc5322(NOW + 20)
    pacing.observe(remaining="1", reset=reset)
    pacing.observe(remaining="9", reset=reset)  # an older answer, arriving late
    pacing.acquire()
    assert pacing.acquire() == 20.0


@pytest.mark.parametrize("remaining, reset", [("many", "10"), (None, "10"), ("0", None), ("0", "later")])
def test_unusable_headers_are_ignored(remaining, reset):
    clock = FakeClock()
    pacing = limiter(clock)
    pacing.observe(remaining=remaining, reset=reset)
    assert pacing.acquire() == 0.0


def test_after_a_429_nobody_sends_until_the_api_says_the_limit_lifted():
    clock = FakeClock()
    pacing = limiter(clock)
    pacing.observe(remaining="50", reset="30")
    pacing.block_for(3.0)
    assert pacing.acquire() == 3.0
    assert pacing.acquire() == 0.0, "the count from before the 429 was dropped with it"
