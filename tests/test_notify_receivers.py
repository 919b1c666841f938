"""The Slack and webhook sinks against a local HTTP receiver: what they send, how they retry a 503, and
what a user is told when the receiver is gone."""

from __future__ import annotations

import pytest

from segment_emulator import generate_workspace

from pipelines import cli
from pipelines.notify.slack import MAX_RESOURCES, MAX_SECTION_CHARS

from .http_receiver import receiver  # noqa: F401 - fixture
from .http_receiver import Receiver
from .notify_setup import Cli, expected_message_id, notify_env  # noqa: F401 - notify_env: fixture

SLACK_PATH = "/services/T0TEST/B0TEST/slackwebhooksecret"


@pytest.fixture
def tiny(start_emulator, options_for, capsys):
    workspace = generate_workspace(seed=6, scale="tiny")
    emulator = start_emulator(workspace)
    return workspace, Cli(emulator, options_for(emulator), capsys)


def slack_messages(receiver: Receiver):
    return [request.json() for request in receiver.requests if request.path == SLACK_PATH]


@pytest.mark.slow
def test_slack_gets_one_block_kit_message_per_run_and_a_503_is_retried(tiny, notify_env, receiver):
    workspace, app = tiny
    notify_env("slack", webhook_url=receiver.url(SLACK_PATH))
    assert app.run() == cli.EXIT_OK and receiver.requests == []
    workspace.mutate(count=4, seed=61)
    workspace.apply("disable_destination", actor="public-api-token/terraform", actor_email=None)
    receiver.answer_next(503)
    assert app.run() == cli.EXIT_OK and app.warnings() == []
    rows = app.changes(app.latest_run_id())

    assert [r.path for r in receiver.requests] == [SLACK_PATH, SLACK_PATH], "the 503 was retried once"
    message = receiver.requests[-1].json()
    assert receiver.requests[-1].headers["Content-Type"] == "application/json"
    header, context, *sections = message["blocks"]
    assert header["type"] == "header" and header["text"]["text"].startswith(f"{len(rows)} configuration changes")
    assert "Segment workspace" in message["text"] and workspace.workspace["name"] in header["text"]["text"]
    assert app.latest_run_id() in context["elements"][0]["text"]
    resources = {(r["resource_type"], r["resource_id"]) for r in rows}
    assert len(sections) == len(resources)
    text = "\n".join(section["text"]["text"] for section in sections)
    for row in rows:
        assert row["resource_id"] in text
        if row["change_kind"] == "modified":
            assert f"`{row['field_path']}`" in text
        assert (row["actor_email"] or row["actor"] or "unknown actor") in text
    assert "public-api-token/terraform" in text and " → " in text
    recorded = app.notifications("slack")
    assert set(recorded) == {expected_message_id(row) for row in rows}
    assert {(r["delivered"], r["attempts"]) for r in recorded.values()} == {(True, 2)}

    assert app.run() == cli.EXIT_OK and app.notify() == cli.EXIT_OK
    assert len(receiver.requests) == 2, "nothing is sent twice"


def test_a_long_run_is_cut_to_slacks_limits_with_and_n_more(tiny, notify_env, receiver):
    workspace, app = tiny
    notify_env("slack", webhook_url=receiver.url(SLACK_PATH))
    assert app.run() == cli.EXIT_OK
    for _ in range(MAX_RESOURCES + 5):
        workspace.apply("create_destination")
    assert app.run() == cli.EXIT_OK
    rows = app.changes(app.latest_run_id())
    resources = list(dict.fromkeys((r["resource_type"], r["resource_id"]) for r in rows))
    assert len(resources) > MAX_RESOURCES
    [message] = slack_messages(receiver)
    blocks = message["blocks"]
    assert len(blocks) <= 50 and all(len(b["text"]["text"]) <= MAX_SECTION_CHARS for b in blocks if "text" in b)
    assert len([b for b in blocks if b["type"] == "section"]) == MAX_RESOURCES
    hidden = len(rows) - sum(1 for b in blocks if b["type"] == "section")  # one `added` row per new destination
    assert blocks[-1]["elements"][0]["text"].startswith(
        f"… and {hidden} more changes to {len(resources) - MAX_RESOURCES} more resources")


def test_slack_404_is_reported_with_what_to_do_and_not_retried(tiny, notify_env, receiver):
    workspace, app = tiny
    notify_env("slack", webhook_url=receiver.url(SLACK_PATH))
    assert app.run() == cli.EXIT_OK
    workspace.mutate(count=3, seed=62)
    receiver.answer_next(404, b"no_service")
    assert app.run() == cli.EXIT_OK, "a failed notification never fails a snapshot"
    [warning] = app.warnings()
    assert warning.startswith("segment-history: warning: notify.slack: ")
    assert "Slack answered HTTP 404 no_service" in warning and "notify.slack.webhook_url" in warning
    assert "segment-history notify" in warning and SLACK_PATH not in app.err + app.out
    assert len(receiver.requests) == 1
    assert {(r["delivered"], r["attempts"], r["last_status"]) for r in app.notifications("slack").values()} == {
        (False, 1, 404)}
    assert app.notify() == cli.EXIT_OK, "a new webhook (here: the same one, answering again) takes the pending"
    assert len(slack_messages(receiver)) == 2


def test_the_webhook_gets_one_json_post_per_run_with_its_headers(tiny, notify_env, receiver):
    workspace, app = tiny
    notify_env("webhook", url=receiver.url("/hooks/segment?token=querysecret"),
               headers={"Authorization": "Bearer webhooksecret"})
    assert app.run() == cli.EXIT_OK
    workspace.mutate(count=4, seed=63)
    receiver.answer_next(503, times=2)
    assert app.run() == cli.EXIT_OK and app.warnings() == []
    rows = app.changes(app.latest_run_id())
    assert len(receiver.requests) == 3, "two 503s, then delivered"
    request = receiver.requests[-1]
    assert request.headers["Authorization"] == "Bearer webhooksecret"
    body = request.json()
    assert body["run_id"] == app.latest_run_id() and body["change_count"] == len(rows) == len(body["changes"])
    assert body["workspace_name"] == workspace.workspace["name"]
    assert {c["change_id"] for c in body["changes"]} == {expected_message_id(row) for row in rows}
    sent = {c["change_id"]: c for c in body["changes"]}
    for row in rows:
        change = sent[expected_message_id(row)]
        assert {k: change[k] for k in row if k != "observed_at"} == {k: v for k, v in row.items() if k != "observed_at"}


def test_a_webhook_that_is_gone_is_reported_and_one_that_times_out_is_retried_later(tiny, notify_env, receiver):
    workspace, app = tiny
    notify_env("webhook", url=receiver.url("/hooks/segment"), timeout="0.5", max_attempts="2")
    assert app.run() == cli.EXIT_OK
    workspace.mutate(count=3, seed=64)
    receiver.answer_next(410, b"gone")
    assert app.run() == cli.EXIT_OK
    [warning] = app.warnings()
    assert "notify.webhook" in warning and "HTTP 410" in warning and "check notify.webhook.url" in warning
    receiver.answer_next(200, delay=1.5, times=2)
    assert app.notify() == 4
    [warning] = app.warnings()
    assert "notify.webhook" in warning and "timed out after 0.5s after 2 attempts" in warning
    assert app.notify() == cli.EXIT_OK
    assert {r["delivered"] for r in app.notifications("webhook").values()} == {True}
    assert {r["attempts"] for r in app.notifications("webhook").values()} == {1 + 2 + 1}
