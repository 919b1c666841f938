"""Rate limits, server errors, dropped connections and bad credentials, against the emulator over HTTP."""

from __future__ import annotations

import duckdb
import pytest
import requests

from segment_emulator import generate_workspace

from pipelines.cli import EXIT_API, EXIT_AUTH, main
from pipelines.runner import run_snapshot
from segment_source import build_session
from segment_source.client import ReadOnlyViolation
from segment_source.endpoints import ENDPOINTS

from .helpers import current_keys


@pytest.mark.slow
def test_rate_limited_run_waits_as_told_and_completes(start_emulator, options_for):
    workspace = generate_workspace(seed=3, scale="small")
    # unpaced, eight threads would send hundreds of requests a second: 40 a second is still far below that
    emulator = start_emulator(workspace, rate_limit_rps=40)
    # a list read page by page and a fan-out of one request per destination: about 70 requests
    options = options_for(emulator, page_size=10, max_concurrency=8,
                          resources=["sources", "destinations", "destination_filters"])

    result = run_snapshot(options)

    assert result.skipped == {}
    assert current_keys(options, "sources") == {s["id"] for s in workspace.sources}
    statuses = [r.status for r in emulator.requests]
    # pacing from X-RateLimit-Remaining/Reset keeps 429s rare; every 429 was waited out, never spun on
    assert statuses.count(429) <= max(2, len(statuses) // 20)
    assert result.requests["rate_limited"] == statuses.count(429)


def test_429_waits_ms_before_next_then_completes(start_emulator, options_for):
    workspace = generate_workspace(seed=3, scale="tiny")
    emulator = start_emulator(workspace)
    emulator.fail_next("/destinations", status=429, times=2)
    options = options_for(emulator, resources=["destinations"])  # the table read through the 429s

    result = run_snapshot(options)

    destination_calls = [r for r in emulator.requests if r.path == "/destinations"]
    assert [r.status for r in destination_calls] == [429, 429, 200]
    gaps = [b.at - a.at for a, b in zip(destination_calls, destination_calls[1:])]
    assert all(gap >= 0.1 for gap in gaps), "waited msBeforeNext before retrying"
    assert current_keys(options, "destinations") == {d["id"] for d in workspace.destinations}
    assert result.requests["rate_limited"] == 2


@pytest.mark.parametrize("fault", [500, 503, "drop", "truncate"])
def test_server_errors_and_dropped_connections_are_retried(fault, start_emulator, options_for):
    workspace = generate_workspace(seed=3, scale="tiny")
    emulator = start_emulator(workspace)
    emulator.fail_next("/sources", status=fault, times=2)
    options = options_for(emulator, resources=["sources"])  # the table read through the faults

    result = run_snapshot(options)

    assert result.skipped == {}
    assert current_keys(options, "sources") == {s["id"] for s in workspace.sources}
    assert result.requests["retries"] >= 2


def test_failure_half_way_through_pagination_retires_nothing(start_emulator, options_for):
    workspace = generate_workspace(seed=4, scale="small")
    emulator = start_emulator(workspace)
    options = options_for(emulator, page_size=4, resources=["sources", "destinations"])  # one fails, one does not
    run_snapshot(options)
    before = current_keys(options, "sources")

    emulator.fail_next("/sources", status=500, times=50, after_pages=2)  # outlasts every retry
    result = run_snapshot(options)

    assert "sources" in result.skipped and "500" in result.skipped["sources"]
    assert result.partial
    assert current_keys(options, "sources") == before, "no source was retired by the partial read"
    assert current_keys(options, "destinations") == {d["id"] for d in workspace.destinations}


def test_wrong_token_fails_clearly_and_loads_nothing(start_emulator, tmp_path, capsys, monkeypatch):
    emulator = start_emulator(generate_workspace(seed=3, scale="tiny"))
    duckdb_path = tmp_path / "history.duckdb"
    monkeypatch.setenv("SEGMENT_ACCESS_TOKEN", "not-the-token")

    code = main(["run", "--base-url", emulator.base_url, "--duckdb-path", str(duckdb_path),
                 "--pipelines-dir", str(tmp_path / "p")])

    err = capsys.readouterr().err
    assert code == EXIT_AUTH
    assert "refused the access token (HTTP 401)" in err
    assert err.count("\n") == 1, "one sentence, no traceback"
    assert "not-the-token" not in err
    assert not duckdb_path.exists() or not dataset_tables(duckdb_path)
    assert {r.path for r in emulator.requests} == {"/"}


def dataset_tables(path):
    with duckdb.connect(str(path), read_only=True) as connection:
        return connection.execute("select table_name from information_schema.tables").fetchall()


def test_unreachable_host_fails_with_exit_code_4(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SEGMENT_ACCESS_TOKEN", "any-token")

    code = main(["run", "--base-url", "http://127.0.0.1:9", "--duckdb-path", str(tmp_path / "h.duckdb"),
                 "--pipelines-dir", str(tmp_path / "p")])

    err = capsys.readouterr().err
    assert code == EXIT_API
    assert "Cannot reach the Segment API at http://127.0.0.1:9" in err


def test_the_http_layer_refuses_anything_but_get():
    session = build_session(ENDPOINTS, 2, None)
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        with pytest.raises(ReadOnlyViolation):
            session.request(method, "http://127.0.0.1:9/sources")
    with pytest.raises(ReadOnlyViolation):
        session.send(requests.Request("DELETE", "http://127.0.0.1:9/sources").prepare())
