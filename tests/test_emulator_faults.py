"""The emulator's hostile-network faults over real HTTP: a proxy's HTML page, a request never answered, a body
that trickles. Each is scripted per path (`fail_next`) or drawn at random for a path (`fault_kinds`)."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from segment_emulator import Emulator, Workspace

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
