"""The emulator's hostile-network faults over real HTTP: a proxy's HTML page, a request never answered, a body
that trickles. Each is scripted per path (`fail_next`) or drawn at random for a path (`fault_kinds`), and
`segment-history emulator` serves them for a user to see."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
import requests

from segment_emulator import Emulator, Workspace

from pipelines import cli

from .emulator_http import OWNER_TOKEN, TOKENS, get


def test_html_fault_answers_200_with_a_proxy_page(small: Workspace):
    with Emulator(small, tokens=TOKENS) as emulator:
        emulator.fail_next("/sources", status="html")
        page = get(emulator, "/sources")
        assert page.status_code == 200 and page.headers["Content-Type"] == "text/html"
        assert page.text.startswith("<html>") and "502 Bad Gateway" in page.text
        assert get(emulator, "/sources").json()["data"]["sources"], "only once"
        assert [r.fault for r in emulator.requests] == ["scripted:html", None]


def test_hang_fault_reads_the_request_and_never_answers(small: Workspace):
    with Emulator(small, tokens=TOKENS) as emulator:
        emulator.fail_next("/sources", status="hang")
        with pytest.raises(requests.exceptions.ReadTimeout):
            requests.get(emulator.base_url + "/sources", headers={"Authorization": f"Bearer {OWNER_TOKEN}"},
                         timeout=(2, 0.3))
        assert get(emulator, "/").status_code == 200, "other requests are answered meanwhile"
        assert [(r.path, r.status, r.fault) for r in emulator.requests] == [("/sources", 0, "scripted:hang"),
                                                                           ("/", 200, None)]


def test_slow_body_fault_sends_the_headers_then_trickles_the_real_body(small: Workspace):
    with Emulator(small, tokens=TOKENS, trickle_seconds=0.05) as emulator:
        whole = get(emulator, "/sources").content
        emulator.fail_next("/sources", status="slow-body")
        response = requests.get(emulator.base_url + "/sources", headers={"Authorization": f"Bearer {OWNER_TOKEN}"},
                                timeout=(2, 1), stream=True)
        assert response.status_code == 200 and int(response.headers["Content-Length"]) == len(whole)
        received = b""
        give_up = time.monotonic() + 0.5
        while time.monotonic() < give_up:
            received += response.raw.read1(1024)
        response.close()
        # each byte arrives well within the read timeout, so only a deadline on the whole body ends the wait
        assert 3 <= len(received) < len(whole) and whole.startswith(received)
        assert emulator.requests[-1].fault == "scripted:slow-body"


def test_random_faults_of_chosen_kinds_on_one_path(small: Workspace):
    with Emulator(small, tokens=TOKENS, fault_rate=1.0, fault_kinds=("html", 418), fault_path="/sources",
                  fault_seed=5) as emulator:
        assert get(emulator, "/").status_code == 200, "other paths are untouched"
        answers = {(r.status_code, r.headers["Content-Type"]) for r in (get(emulator, "/sources") for _ in range(12))}
    assert answers == {(200, "text/html"), (418, "application/json")}


def test_stop_ends_the_answers_it_holds(small: Workspace):
    emulator = Emulator(small, tokens=TOKENS, fault_rate=1.0, fault_kinds=("hang",)).__enter__()
    failures: list = []

    def ask() -> None:
        try:
            requests.get(emulator.base_url + "/", headers={"Authorization": f"Bearer {OWNER_TOKEN}"}, timeout=30)
        except requests.RequestException as exc:
            failures.append(exc)

    client = threading.Thread(target=ask)
    client.start()
    while not emulator.requests:
        time.sleep(0.01)
    emulator.stop()
    client.join(timeout=20)
    assert not client.is_alive() and len(failures) == 1, "the held request ended when the emulator stopped"


@pytest.mark.parametrize("kwargs", [{"fault_rate": 2}, {"fault_rate": -0.1}, {"latency_ms": -1},
                                    {"fault_kinds": ("flood",)}, {"fault_kinds": ()}])
def test_impossible_fault_settings_are_refused(small: Workspace, kwargs):
    with pytest.raises(ValueError):
        Emulator(small, tokens=TOKENS, **kwargs)


def test_fail_next_refuses_an_unknown_fault(small: Workspace):
    with pytest.raises(ValueError, match="slow-body"):
        Emulator(small, tokens=TOKENS).fail_next("/sources", status="slow")


# --- `segment-history emulator` ----------------------------------------------------------------------------------


@pytest.mark.parametrize("option, value, phrase", [
    ("--fault-rate", "2", "2 is not at least 0 and at most 1"),
    ("--fault-rate", "-0.5", "-0.5 is not at least 0 and at most 1"),
    ("--latency-ms", "-1", "-1 is not at least 0"),
    ("--rate-limit-rps", "0", "0 is not more than 0"),
    ("--token", "", "the token must be a non-empty word"),
    ("--token", "two words", "the token must be a non-empty word"),
    ("--fault", "slow", "unknown fault 'slow'"),
    ("--port", "70000", "not a port number"),
])
def test_emulator_command_refuses_impossible_values(capsys, option, value, phrase):
    with pytest.raises(SystemExit) as exit_:
        cli.build_parser().parse_args(["emulator", option, value])
    assert exit_.value.code == cli.EXIT_USAGE
    assert phrase in capsys.readouterr().err


def test_emulator_command_on_a_port_in_use_says_so(capsys):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        code = cli.main(["emulator", "--scale", "tiny", "--port", str(port)])
    err = capsys.readouterr().err
    assert code == cli.EXIT_USAGE, err
    assert err.strip() == (f"segment-history: error: Cannot serve the emulator on port {port}:"
                           " Address already in use. Choose another with --port (0 picks a free one).")


def test_emulator_command_demonstrates_a_hang(tmp_path):
    """`segment-history emulator --fault hang --fault-path /sources`, then a run against it: exit 4, in time."""
    environment = {**os.environ, "SEGMENT_ACCESS_TOKEN": "demo", "SOURCES__SEGMENT__READ_TIMEOUT_SECONDS": "0.5"}
    command = [sys.executable, "-m", "pipelines.cli"]
    server = subprocess.Popen([*command, "emulator", "--scale", "tiny", "--port", "0", "--token", "demo",
                               "--fault", "hang", "--fault-path", "/sources"],
                              stdout=subprocess.PIPE, text=True, env=environment)
    try:
        banner = [server.stdout.readline() for _ in range(3)]
        assert banner[1] == "Faults: 100% of requests to /sources fail with hang\n"
        base_url = banner[0].split(" at ")[1].split(";")[0]
        run = subprocess.run([*command, "run", "--base-url", base_url, "--duckdb-path", str(tmp_path / "h.duckdb"),
                              "--pipelines-dir", str(tmp_path / "p"), "--progress", "none", "--resources", "sources"],
                             capture_output=True, text=True, env=environment, timeout=120)
    finally:
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=30) == cli.EXIT_OK
    assert run.returncode == cli.EXIT_API, run.stderr
    assert run.stderr.strip() == (f"segment-history: error: The Segment API at {base_url} stopped answering:"
                                  " GET /sources did not answer within 0.5 s (3 attempts).")
