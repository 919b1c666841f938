"""Answers a run cannot use: none at all, a body that never ends, a proxy's HTML page, a cursor that loops.

A run never hangs (exit 4 in bounded time, one line), and a malformed answer from a reachable server skips its
table (never loaded, nothing retired) while the run goes on and exits 6. Every table's row counts are compared
before and after. Servers that misbehave are the emulator's faults or tiny servers defined here.
"""

from __future__ import annotations

import json
import socket
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

import pytest

from segment_emulator import Emulator, generate_workspace
from segment_emulator.server import PROXY_ERROR_PAGE, Reply
from segment_source.identity import BRIDGE_TABLES

from pipelines import cli
from pipelines.runner import RunOptions

from .conftest import TOKEN
from .helpers import current_keys, dataset_fingerprint, query
from .test_bad_input import assert_failed_cleanly

# the test configuration: a wait the machine never needs, short enough that giving up takes seconds
TIMEOUT_SECONDS = "0.5"
# the outer bound of a run that must not hang; generous, as the suite shares a busy machine
OUTER_LIMIT_SECONDS = 120
RUN_BOOKKEEPING = ("snapshots", "_dlt_loads", "_dlt_pipeline_state", "_dlt_version")
PROXY_PAGE = f"HTTP 200, text/html, {len(PROXY_ERROR_PAGE)} bytes: '<html><head><title>502 Bad Gateway"


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple]:
    """One emulator and one destination holding a good snapshot, shared by the module's tests (each compares
    the destination before and after itself), and the CLI run against them, without progress lines."""
    folder = tmp_path_factory.mktemp("bad_answers")
    options = RunOptions(duckdb_path=str(folder / "history.duckdb"), pipelines_dir=str(folder / "pipelines"),
                         pipeline_name="bad_answers")
    workspace = generate_workspace(seed=9, scale="tiny")
    with Emulator(workspace, tokens={TOKEN: "owner"}, trickle_seconds=0.05) as emulator, \
            pytest.MonkeyPatch.context() as environment:
        environment.setenv("SEGMENT_ACCESS_TOKEN", TOKEN)

        def run(*extra: str) -> int:
            base_url = [] if "--base-url" in extra else ["--base-url", emulator.base_url]
            return cli.main(["run", "--duckdb-path", options.duckdb_path, "--pipelines-dir", options.pipelines_dir,
                             "--pipeline-name", options.pipeline_name, "--progress", "none", *base_url, *extra])

        assert run() == cli.EXIT_OK
        yield emulator, options, run


@pytest.fixture
def loaded(served, monkeypatch):
    emulator, options, run = served
    monkeypatch.setattr(emulator, "respond", emulator.respond)  # a test may wrap it
    yield served
    emulator.clear_faults()


@pytest.fixture
def short_timeouts(monkeypatch):
    monkeypatch.setenv("SOURCES__SEGMENT__CONNECT_TIMEOUT_SECONDS", TIMEOUT_SECONDS)
    monkeypatch.setenv("SOURCES__SEGMENT__READ_TIMEOUT_SECONDS", TIMEOUT_SECONDS)


def finished_within(seconds: float, run: Callable[[], int]) -> int:
    """The run's exit code; fails the test when the run is still going after `seconds`."""
    result: dict = {}
    worker = threading.Thread(target=lambda: result.setdefault("code", run()), daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"the run was still going after {seconds} s"
    return result["code"]


@contextmanager
def tiny_server(answer: Callable[[socket.socket, threading.Event], None]) -> Iterator[str]:
    """A TCP server on 127.0.0.1 that reads each request's head and hands the connection to `answer`."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    stop = threading.Event()
    connections: list = []

    def handle(connection: socket.socket) -> None:
        received = b""
        while b"\r\n\r\n" not in received and not stop.is_set():
            chunk = connection.recv(4096)
            if not chunk:
                return
            received += chunk
        answer(connection, stop)

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except socket.timeout:
                continue
            connections.append(connection)
            threading.Thread(target=handle, args=(connection,), daemon=True).start()

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        server.join()
        listener.close()
        for connection in connections:
            connection.close()


def never_answer(connection: socket.socket, stop: threading.Event) -> None:
    stop.wait()


def trickle_a_body(connection: socket.socket, stop: threading.Event) -> None:
    """Headers at once, then a byte every 50 ms: each read succeeds long before any read timeout."""
    try:
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
        while not stop.wait(0.05):
            connection.sendall(b" ")
    except OSError:  # the client gave up
        pass


@pytest.mark.parametrize("answer", [never_answer, trickle_a_body], ids=["never-answers", "trickles-a-body"])
def test_a_server_that_never_answers_in_full_ends_the_run_with_exit_4(loaded, short_timeouts, capsys, answer):
    emulator, options, run = loaded
    before = dataset_fingerprint(options)
    capsys.readouterr()
    with tiny_server(answer) as base_url:
        code = finished_within(OUTER_LIMIT_SECONDS, lambda: run("--base-url", base_url))
    assert_failed_cleanly(capsys, options, before, code, cli.EXIT_API,
                          f"The Segment API at {base_url} did not answer within 0.5 s")


@pytest.mark.parametrize("fault", ["hang", "slow-body"])
def test_an_endpoint_that_stops_answering_ends_the_run_with_exit_4(loaded, short_timeouts, capsys, fault):
    emulator, options, run = loaded
    before = dataset_fingerprint(options)
    capsys.readouterr()
    emulator.fail_next("/destinations", status=fault, times=1000)
    code = finished_within(OUTER_LIMIT_SECONDS, run)
    assert_failed_cleanly(capsys, options, before, code, cli.EXIT_API,
                          "GET /destinations did not answer within 0.5 s")


@pytest.mark.parametrize("fault", ["hang", "slow-body", "html"])
def test_one_bad_answer_is_retried(loaded, short_timeouts, capsys, fault):
    emulator, options, run = loaded
    emulator.fail_next("/destinations", status=fault, times=1)
    code = finished_within(OUTER_LIMIT_SECONDS, lambda: run("--resources", "destinations"))
    assert code == cli.EXIT_OK, capsys.readouterr().err
    assert [r.fault for r in emulator.requests if r.path == "/destinations"][-2:] == [f"scripted:{fault}", None]


def skipped_by_a_run_that_changed_nothing(options, before) -> set:
    """The tables the last (partial) run skipped; it added its own records and changed no other row."""
    after = dataset_fingerprint(options)
    assert {t: n for t, n in after.items() if t not in RUN_BOOKKEEPING} == (
        {t: n for t, n in before.items() if t not in RUN_BOOKKEEPING}), "no table's rows changed"
    assert after["snapshots"] == before["snapshots"] + 1
    status, skipped, kinds = query(options, "select status, skipped_tables, skipped_kinds from {ds}.snapshots"
                                            " order by started_at desc limit 1")[0]
    assert status == "partial" and set(json.loads(kinds)) == set(json.loads(skipped))
    assert set(json.loads(kinds).values()) == {"passing_failure"}
    return set(json.loads(skipped))


def test_a_table_answered_with_html_is_skipped_and_the_run_goes_on(loaded, capsys):
    emulator, options, run = loaded
    before = dataset_fingerprint(options)
    plans = current_keys(options, "tracking_plans")
    capsys.readouterr()
    emulator.fail_next("/tracking-plans", status="html", times=1000)

    code = finished_within(OUTER_LIMIT_SECONDS, run)

    err = capsys.readouterr().err
    assert code == cli.EXIT_PARTIAL, err
    assert f"skipped tracking_plans: malformed answer to GET /tracking-plans: {PROXY_PAGE}" in err
    assert "skipped tracking_plan_rules: its parent table tracking_plans was skipped" in err
    assert "Traceback" not in err
    assert skipped_by_a_run_that_changed_nothing(options, before) == {
        "tracking_plans", "tracking_plan_rules", "tracking_plan_sources"}
    assert current_keys(options, "tracking_plans") == plans, "nothing retired"


def test_html_from_every_endpoint_but_the_workspace_skips_every_table(loaded, capsys):
    emulator, options, run = loaded
    before = dataset_fingerprint(options)
    sources = current_keys(options, "sources")
    capsys.readouterr()
    emulator.fail_next("/*", status="html", times=100_000, after_pages=1)  # `GET /` comes first and succeeds

    code = finished_within(OUTER_LIMIT_SECONDS, run)

    err = capsys.readouterr().err
    assert code == cli.EXIT_PARTIAL, err
    assert "skipped sources: malformed answer to GET /sources: HTTP 200, text/html" in err
    assert "Traceback" not in err and "segment-history: error" not in err
    history_tables = {table for table in before if not table.startswith("_dlt")} - {
        "snapshots", "config_changes", *BRIDGE_TABLES.values()}
    assert history_tables - {"workspace"} <= skipped_by_a_run_that_changed_nothing(options, before)
    assert current_keys(options, "sources") == sources, "nothing retired"


def test_html_from_the_workspace_endpoint_says_what_was_received(loaded, capsys):
    emulator, options, run = loaded
    before = dataset_fingerprint(options)
    capsys.readouterr()
    emulator.fail_next("/", status="html", times=1000)
    code = finished_within(OUTER_LIMIT_SECONDS, run)
    assert_failed_cleanly(capsys, options, before, code, cli.EXIT_API,
                          f"GET {emulator.base_url}/ answered {PROXY_PAGE}", "not the Segment Public API")


def loop_the_cursor_of(emulator, path: str) -> None:
    """Every page of `path` is the first one and says the next is at cursor 'same': followed blindly, a walk
    never ends."""
    answered = emulator.respond

    def respond(method, target, headers):
        if target.split("?")[0] == path:
            target = target.replace("pagination.cursor=same", "")
        reply = answered(method, target, headers)
        if target.split("?")[0] == path and reply.status == 200:
            body = json.loads(reply.body)
            body["data"]["pagination"] = {"current": "same", "next": "same"}
            return Reply(200, json.dumps(body).encode(), reply.content_type, reply.headers)
        return reply

    emulator.respond = respond


def test_a_repeated_cursor_skips_the_table(loaded, capsys):
    emulator, options, run = loaded
    before = dataset_fingerprint(options)
    sources = current_keys(options, "sources")
    capsys.readouterr()
    loop_the_cursor_of(emulator, "/sources")

    code = finished_within(OUTER_LIMIT_SECONDS, run)

    err = capsys.readouterr().err
    assert code == cli.EXIT_PARTIAL, err
    assert "skipped sources: malformed answer to GET /sources: the cursor 'same' came back twice" in err
    assert "skipped source_settings: its parent table sources was skipped" in err
    assert {"sources", "source_settings"} <= skipped_by_a_run_that_changed_nothing(options, before)
    assert current_keys(options, "sources") == sources, "nothing retired"
