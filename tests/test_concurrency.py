"""Requests in flight follow the API's answers: the controller on a fake clock, then the real pipeline
against the emulator (whose own counter says how many requests it was answering at once)."""

from __future__ import annotations

import threading

from segment_emulator import generate_workspace

from pipelines.runner import run_snapshot
from segment_source.concurrency import START, AdaptiveConcurrency, Answer

FAST = 0.1


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def answer(controller: AdaptiveConcurrency, clock: Clock, seconds: float = FAST, **kwargs) -> None:
    started = controller.acquire()
    clock.now += seconds
    controller.release(started, Answer("sources", seconds, **kwargs))


def test_grows_to_the_ceiling_while_answers_are_fast_and_never_past_it():
    clock = Clock()
    controller = AdaptiveConcurrency(ceiling=20, clock=clock)
    assert controller.limit == START
    for _ in range(100):
        answer(controller, clock)
    assert controller.limit == 20
    assert controller.shrinks == 0


def test_a_429_halves_the_limit_once_per_episode():
    clock = Clock()
    controller = AdaptiveConcurrency(ceiling=32, clock=clock)
    for _ in range(40):
        answer(controller, clock)
    assert controller.limit == 32
    early = [controller.acquire() for _ in range(3)]  # in flight together when the API pushes back
    clock.now += FAST
    for started in early:
        controller.release(started, Answer("sources", FAST, rate_limited=True))
    assert controller.limit == 16 and controller.shrinks == 1
    answer(controller, clock, rate_limited=True)  # sent after the shrink: a new episode
    assert controller.limit == 8 and controller.shrinks == 2


def test_after_pressure_it_grows_by_one_per_round_trip():
    clock = Clock()
    controller = AdaptiveConcurrency(ceiling=32, clock=clock)
    answer(controller, clock, rate_limited=True)
    assert controller.limit == 2
    for _ in range(2):
        answer(controller, clock)
    assert int(controller.limit) == 2  # +1/2 per answer: one more after a round trip of 2 answers
    for _ in range(3):
        answer(controller, clock)
    assert int(controller.limit) == 3


def test_answers_much_slower_than_their_endpoints_fastest_shrink_it():
    clock = Clock()
    controller = AdaptiveConcurrency(ceiling=32, clock=clock)
    for _ in range(30):
        answer(controller, clock)
    grown = controller.limit
    for _ in range(10):
        answer(controller, clock, seconds=1.0)  # ten times the fastest
    assert controller.shrinks >= 1 and controller.limit < grown


def test_a_slow_endpoint_is_not_mistaken_for_a_slower_api():
    """Each endpoint is compared with its own fastest answer: big pages are slow from the start."""
    clock = Clock()
    controller = AdaptiveConcurrency(ceiling=32, clock=clock)
    for index in range(60):
        started = controller.acquire()
        seconds = 1.5 if index % 2 else FAST
        clock.now += seconds
        controller.release(started, Answer("destinations" if index % 2 else "sources", seconds))
    assert controller.shrinks == 0 and controller.limit == 32


def test_no_growth_when_the_rate_limit_window_has_no_room():
    clock = Clock()
    controller = AdaptiveConcurrency(ceiling=32, clock=clock)
    for _ in range(20):
        answer(controller, clock, remaining=5)
    assert controller.limit == START
    answer(controller, clock, remaining=500)
    assert controller.limit == START + 1


def test_acquire_waits_for_a_free_slot():
    controller = AdaptiveConcurrency(ceiling=1)
    first = controller.acquire()
    entered = threading.Event()

    def second() -> None:
        controller.release(controller.acquire())
        entered.set()

    waiter = threading.Thread(target=second)
    waiter.start()
    assert not entered.wait(0.2) and controller.in_flight == 1
    controller.release(first)
    waiter.join(5)
    assert entered.is_set() and controller.in_flight == 0 and controller.peak_in_flight == 1


def _fan_out(start_emulator, options_for, scale="medium", **options):
    """Filters of every destination: one request per destination, each waiting on the emulator's latency."""
    workspace = generate_workspace(seed=11, scale=scale)
    emulator = start_emulator(workspace, latency_ms=40)
    result = run_snapshot(options_for(emulator, resources=["destination_filters"], **options))
    assert result.skipped == {}
    return emulator, result


def test_a_latency_bound_fan_out_grows_past_the_start(start_emulator, options_for):
    emulator, result = _fan_out(start_emulator, options_for)
    concurrency = result.requests["concurrency"]
    assert emulator.max_in_flight > 8  # more than the old constant, without any setting
    assert START < concurrency["peak_in_flight"] <= concurrency["ceiling"] == 32


def test_the_users_max_concurrency_is_never_exceeded(start_emulator, options_for):
    emulator, result = _fan_out(start_emulator, options_for, scale="small", max_concurrency=3)  # 60 destinations
    assert emulator.max_in_flight == 3
    assert result.requests["concurrency"]["ceiling"] == 3
