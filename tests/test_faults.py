"""Faults change nothing: a flaky, rate-limited API yields exactly the history a healthy one does.

Two twin workspaces (same seed, same mutations, same mutation timestamps) are served by two emulators:
one healthy, one failing 5 % of requests at random (500, 503, dropped connections, JSON bodies cut in
half) behind a tight rate limit, plus scripted truncated and non-JSON (HTML) pages. The same sequence of
runs and mutations goes through both, and the two datasets must hold the same history: every table, every
SCD2 version (validity moments compared by the mutation cycle they fall in), the change log (without run
ids) and the audit trail. Missing rows would be lost rows, extra change rows false changes, extra retired
versions false deletions.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import pytest

from segment_emulator.server import Reply

from pipelines.runner import run_snapshot

from .helpers import current_keys
from .history_state import (Cycles, assert_same_history, dataset_state, differences, mutate_twins, only_current,
                            row_total, twin_workspaces)

pytestmark = pytest.mark.slow

FAULT_RATE = 0.05
RATE_LIMIT_RPS = 50  # requests per second per token; unpaced, a run would send hundreds per second
PAGE_SIZE = 10  # several pages per list, so faults also land in the middle of paginations
# each cycle stands for a scheduled run minutes after the one before: its own token, so the emulator's per-endpoint
# minute windows do not carry over from the cycle before. Carried over, an endpoint's window (computed traits: 25
# a minute) had fewer requests left than the run had in flight, and the client, which takes an endpoint's
# X-RateLimit headers as the token's, held every request back until the minute ended (+15-45 s, one run in four)
CYCLE_TOKENS = [f"cycle-{cycle}-token" for cycle in range(3)]
HTML = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"


def serve_html_instead(emulator, path: str, times: int) -> list:
    """The next `times` GETs of `path` get a 200 whose body is an HTML error page (a proxy's, say)."""
    answered = emulator.respond
    served: list = []

    def respond(method, target, headers):
        if urlsplit(target).path == path and len(served) < times:
            served.append(target)
            return Reply(200, HTML, content_type="text/html")
        return answered(method, target, headers)

    emulator.respond = respond
    return served


def bad_answers_retried(answered, html_targets) -> list:
    """The cut and non-JSON bodies whose very request (path and query) was not answered well later."""
    bad = [(r.path, r.query) for r in answered if r.fault and r.fault.endswith("truncate")]
    bad += [(urlsplit(t).path, parse_qs(urlsplit(t).query, keep_blank_values=True)) for t in html_targets]
    good = [(r.path, r.query) for r in answered if r.status == 200 and r.fault is None]
    return [request for request in bad if request not in good]


def test_a_faulty_rate_limited_api_yields_the_same_history(start_emulator, options_for, tmp_path):
    healthy_ws, faulty_ws = twin_workspaces(seed=61, scale="small")
    tokens = {token: "owner" for token in CYCLE_TOKENS}
    healthy = start_emulator(healthy_ws, tokens=tokens)
    faulty = start_emulator(faulty_ws, tokens=tokens, fault_rate=FAULT_RATE, fault_seed=6,
                            rate_limit_rps=RATE_LIMIT_RPS)
    html_served = serve_html_instead(faulty, "/tracking-plans", times=2)
    healthy_options = options_for(healthy, pipeline_name="healthy", duckdb_path=str(tmp_path / "healthy.duckdb"))
    faulty_options = options_for(faulty, pipeline_name="faulty", duckdb_path=str(tmp_path / "faulty.duckdb"),
                                 page_size=PAGE_SIZE)
    cycles = Cycles()
    faults: Counter = Counter()

    for cycle, token in enumerate(CYCLE_TOKENS):
        healthy_options, faulty_options = (replace(o, access_token=token) for o in (healthy_options, faulty_options))
        if cycle:
            cycles.mutated(mutate_twins([healthy_ws, faulty_ws], count=6, seed=600 + cycle))
        if cycle == 0:  # on top of the random ones: cut bodies in the middle of a pagination (the backfill)
            faulty.fail_next("/audit-events", status="truncate", times=2, after_pages=2)
        faulty.clear_requests()
        html_seen = len(html_served)
        # one after the other: the faulty run forks its extraction, and a child forked while another thread
        # imports a module waits forever on that module's import lock (seen in CI with the two side by side)
        healthy_result = run_snapshot(healthy_options)
        faulty_result = run_snapshot(faulty_options)

        answered = faulty.requests
        faults.update(r.fault for r in answered if r.fault)
        assert not faulty_result.partial, f"run {cycle} gave up on a table: {faulty_result.skipped}"
        assert set(faulty_result.skipped) == set(healthy_result.skipped), "only the same permission gaps"
        assert faulty_result.table_rows == healthy_result.table_rows
        assert faulty_result.changes == healthy_result.changes
        assert faulty_result.requests["retries"] >= sum(1 for r in answered if r.fault)
        # a cut or non-JSON body is retried (the same request is answered well later), not loaded
        assert bad_answers_retried(answered, html_served[html_seen:]) == []
        assert current_keys(faulty_options, "destinations") == {d["id"] for d in faulty_ws.destinations}

    assert faults["scripted:truncate"] == 2 and len(html_served) == 2
    injected = sum(faults.values()) + len(html_served)
    random_faults = {kind: n for kind, n in faults.items() if not kind.startswith("scripted")}
    assert sum(random_faults.values()) >= 10, f"too few random faults to prove anything: {faults}"
    assert {"500", "503", "drop", "truncate"} <= set(random_faults), faults

    expected = dataset_state(healthy_options, cycles)
    actual = dataset_state(faulty_options, cycles)
    diff = differences(expected, actual)
    lost = sum(d["missing"] for d in diff.values())
    false_changes = diff.get("config_changes", {}).get("extra", 0)
    extra = {table: rows - expected.get(table, Counter()) for table, rows in actual.items()}
    false_deletions = sum(n for rows in extra.values() for row, n in rows.items()  # versions retired wrongly
                          if '"_dlt_valid_to"' in row and '"_dlt_valid_to": null' not in row)
    print(f"\nfaults injected and survived: {injected} ({dict(faults)}, html: {len(html_served)});"
          f" rows compared: {row_total(expected)}; lost: {lost}, false changes: {false_changes},"
          f" false deletions: {false_deletions}")
    assert_same_history(only_current(expected), only_current(actual), "current state differs")
    assert_same_history(expected, actual, "history differs (SCD2 versions, change log, audit trail or runs)")
    assert row_total(expected, ["config_changes"]) >= 6, "the mutations were recorded as changes"
