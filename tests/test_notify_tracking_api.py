"""The emulator's Tracking API, over HTTP: what it accepts, refuses and silently drops, as Segment does
(the facts: POST /v1/batch and /v1/track, Basic auth with a source's write key, <= 32 KB an event and
<= 500 KB a request, 200 even for events it then drops)."""

from __future__ import annotations

import json

import pytest
import requests

from segment_emulator import Emulator, generate_workspace

from .notify_setup import write_key


@pytest.fixture(scope="module")
def emulator():
    workspace = generate_workspace(seed=3, scale="tiny")
    with Emulator(workspace) as started:
        yield started


@pytest.fixture(autouse=True)
def nothing_received_yet(emulator):
    emulator.tracking.clear()


def event(**fields):
    return {"type": "track", "event": "Segment Config Changed", "anonymousId": "segment-history:ws",
            "messageId": "m1", "properties": {"field_path": "enabled"}, **fields}


def post(emulator, path, body, key=None, **kwargs):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    key = write_key(emulator.workspace) if key is None else key
    return requests.post(emulator.base_url + path, data=data, auth=(key, "") if key else None,
                         headers={"Content-Type": "application/json"}, timeout=10, **kwargs)


def test_a_batch_with_a_sources_write_key_is_accepted_and_kept(emulator):
    response = post(emulator, "/v1/batch", {"batch": [event(), event(messageId="m2")]})
    assert (response.status_code, response.json()) == (200, {"success": True})
    assert [r.event["messageId"] for r in emulator.tracking.received] == ["m1", "m2"]
    assert {r.write_key for r in emulator.tracking.received} == {write_key(emulator.workspace)}
    assert emulator.requests[-1].method == "POST" and emulator.requests[-1].path == "/v1/batch"


def test_track_takes_one_event_and_the_write_key_may_be_in_the_body(emulator):
    body = {key: value for key, value in event().items() if key != "type"}
    assert post(emulator, "/v1/track", {**body, "writeKey": write_key(emulator.workspace)}, key="").status_code == 200
    [received] = emulator.tracking.received
    assert received.event["type"] == "track" and received.event["messageId"] == "m1"


@pytest.mark.parametrize("key", ["not-a-write-key", ""], ids=["unknown-key", "no-key"])
def test_an_unknown_or_missing_write_key_gets_401(emulator, key):
    response = post(emulator, "/v1/batch", {"batch": [event()]}, key=key)
    assert response.status_code == 401 and response.json()["success"] is False
    assert emulator.tracking.received == []


@pytest.mark.parametrize("body, what", [
    (b'{"batch": [', "invalid JSON"),
    ({"batch": [event(properties={"old_value": "x" * (32 * 1024)})]}, "an event over 32 KB"),
    ({"batch": [event(messageId=str(i), properties={"v": "x" * 20_000}) for i in range(26)]}, "a batch over 500 KB"),
], ids=["invalid-json", "event-over-32kb", "batch-over-500kb"])
def test_invalid_json_and_oversized_events_or_batches_get_400_and_nothing_is_kept(emulator, body, what):
    response = post(emulator, "/v1/batch", body)
    assert response.status_code == 400, what
    assert emulator.tracking.received == [] and emulator.tracking.dropped == []


def test_events_segment_would_drop_are_accepted_and_silently_dropped(emulator):
    no_identity = {key: value for key, value in event().items() if key != "anonymousId"}
    no_name = {key: value for key, value in event(messageId="m2").items() if key != "event"}
    response = post(emulator, "/v1/batch", {"batch": [no_identity, no_name, event(messageId="m3", userId="u")]})
    assert (response.status_code, response.json()) == (200, {"success": True})
    assert [r.event["messageId"] for r in emulator.tracking.received] == ["m3"]
    assert [d.reason for d in emulator.tracking.dropped] == ["no userId and no anonymousId", "a track without event"]


def test_scripted_outages_answer_before_anything_is_kept(emulator):
    emulator.tracking.fail_next(503, times=2)
    assert [post(emulator, "/v1/batch", {"batch": [event()]}).status_code for _ in range(3)] == [503, 503, 200]
    assert len(emulator.tracking.received) == 1


def test_only_post_reaches_the_tracking_api_and_the_public_api_stays_read_only(emulator):
    assert requests.get(emulator.base_url + "/v1/batch", timeout=10).status_code == 405
    token = next(iter(emulator.tokens))
    response = requests.post(emulator.base_url + "/sources", json={}, timeout=10,
                             headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 405
