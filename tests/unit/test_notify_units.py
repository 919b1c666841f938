"""The notification logic that needs no server: filters, change ids, Tracking API event size and batches,
Slack's limits, what an HTTP answer means, and reading the sinks' settings."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from pipelines.notify import configured_sinks
from pipelines.notify.changes import change_id
from pipelines.notify.delivery import to_json_bytes, verdict
from pipelines.notify.filters import ChangeFilter
from pipelines.notify.segment import MAX_BATCH_BYTES, MAX_EVENT_BYTES, batches, track_event
from pipelines.notify.slack import MAX_RESOURCES, MAX_SECTION_CHARS, MAX_VALUE_CHARS, message

from ..notify_setup import expected_message_id

OBSERVED = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def change(**fields):
    row = {"run_id": "1772366400.1", "workspace_id": "ws1", "observed_at": OBSERVED, "resource_type": "destinations",
           "resource_id": "d1", "resource_name": "Amplitude (prod)", "change_kind": "modified",
           "field_path": "enabled", "old_value": "true", "new_value": "false", "actor": "u1",
           "actor_email": "jane@example.com", "audit_event_id": "e1", "audit_event_type": "Destination Disabled",
           **fields}
    row["change_id"] = change_id(row)
    return row


def test_a_change_id_is_stable_and_differs_in_each_part():
    assert change_id(change()) == change_id(change()) == expected_message_id(change())
    assert len(change_id(change())) <= 100, "Segment's messageId limit"
    variants = [dict(run_id="2"), dict(resource_type="sources"), dict(resource_id="d2"), dict(field_path="name"),
                dict(change_kind="added", field_path=None), dict(change_kind="removed", field_path=None)]
    ids = {change_id(change(**variant)) for variant in variants}
    assert len(ids) == len(variants) and change_id(change()) not in ids
    assert change_id(change(actor="someone", audit_event_id="e2")) == change_id(change()), "attribution is not identity"
    removed = change(resource_type="sources", field_path="labels", old_value='"env=prod"', new_value=None)
    added = change(resource_type="sources", field_path="labels", old_value=None, new_value='"env=dev"')
    assert change_id(removed) != change_id(added), "each label added or removed is a change of its own"


@pytest.mark.parametrize("settings, selected, rejected", [
    (dict(resource_types=["destinations"]), {}, dict(resource_type="sources")),
    (dict(change_kinds=["added", "removed"]), dict(change_kind="added", field_path=None), {}),
    (dict(fields=["settings.*"]), dict(field_path="settings.apiKey"), dict(field_path="enabled")),
    (dict(fields=["enabled"]), {}, dict(change_kind="removed", field_path=None)),
    (dict(exclude_actors=["*@terraform.example.com"]), {}, dict(actor_email="CI@Terraform.example.com")),
    (dict(exclude_actors=["public-api-token/*"]), {}, dict(actor="public-api-token/x", actor_email=None)),
], ids=["resource_types", "change_kinds", "fields-glob", "fields-need-a-path", "exclude-email", "exclude-token"])
def test_each_filter_selects_what_it_says(settings, selected, rejected):
    change_filter = ChangeFilter.build("slack", **settings)
    assert change_filter.matches(change(**selected)) and not change_filter.matches(change(**rejected))
    assert ChangeFilter().matches(change(**rejected)), "no filter: everything"


def test_labels_match_key_value_in_either_spelling_or_a_key_alone():
    labels = {"environment:prod", "team:growth"}
    assert ChangeFilter.build("slack", labels=["environment=prod"]).matches(change(), labels)
    assert ChangeFilter.build("slack", labels=["environment:prod"]).matches(change(), labels)
    assert ChangeFilter.build("slack", labels=["team"]).matches(change(), labels)
    assert not ChangeFilter.build("slack", labels=["environment:staging", "owner"]).matches(change(), labels)
    assert not ChangeFilter.build("slack", labels=["environment:prod"]).matches(change(), set()), "unlabelled"


def test_filters_combine_with_and():
    change_filter = ChangeFilter.build("slack", resource_types=["destinations"], fields=["name"])
    assert not change_filter.matches(change()) and change_filter.matches(change(field_path="name"))


@pytest.mark.parametrize("settings, message_part", [
    (dict(change_kinds=["deleted"]), "notify.slack.change_kinds: deleted is not one of added, removed, modified"),
    (dict(fields="enabled"), "notify.slack.fields must be a list"),
])
def test_a_filter_that_cannot_be_used_is_a_one_line_error_naming_the_key(settings, message_part):
    with pytest.raises(ValueError, match=message_part.replace(".", r"\.")):
        ChangeFilter.build("slack", **settings)


def test_an_event_over_32_kb_has_its_longest_values_cut_never_dropped():
    big = change(old_value=json.dumps({"code": "x" * 100_000}), new_value=json.dumps({"code": "y" * 50_000}))
    event = track_event(big, "Segment Config Changed")
    assert len(to_json_bytes(event)) <= MAX_EVENT_BYTES
    properties = event["properties"]
    assert "old_value" in properties["truncated"] and properties["old_value"].startswith('{"code": "xxx')
    assert "…[cut " in properties["old_value"] and properties["resource_id"] == "d1"
    small = track_event(change(), "Segment Config Changed")
    assert "truncated" not in small["properties"] and small["properties"]["old_value"] == "true"


def test_multibyte_values_are_cut_by_their_encoded_size():
    event = track_event(change(new_value="é€😀" * 20_000), "Segment Config Changed")
    assert len(to_json_bytes(event)) <= MAX_EVENT_BYTES and event["properties"]["truncated"] == ["new_value"]


def test_events_are_packed_in_order_into_batches_under_500_kb():
    events = [track_event(change(resource_id=f"d{i}", new_value="v" * 30_000), "e") for i in range(60)]
    packed = list(batches(events))
    assert [e for batch in packed for e in batch] == events and len(packed) > 1
    assert all(len(to_json_bytes({"batch": batch, "sentAt": "2026-03-01T12:00:00Z",
                                  "context": {"library": {"name": "segment-history", "version": "0.1.0"}}}))
               < MAX_BATCH_BYTES for batch in packed)


def test_a_slack_message_stays_within_slacks_limits():
    many_resources = [change(resource_id=f"d{i}") for i in range(MAX_RESOURCES + 12)]
    blocks = message(many_resources, "Production")["blocks"]
    assert len(blocks) <= 50 and sum(b["type"] == "section" for b in blocks) == MAX_RESOURCES
    assert blocks[-1]["elements"][0]["text"].startswith("… and 12 more changes to 12 more resources")

    one_resource = [change(field_path=f"settings.field{i}", old_value="o" * 200, new_value="n" * 200)
                    for i in range(300)]
    [_, _, section] = message(one_resource, "x" * 500)["blocks"]
    text = section["text"]["text"]
    shown = text.count("\n• ")
    assert len(text) <= MAX_SECTION_CHARS and text.endswith(f"… and {300 - shown} more") and shown > 10
    assert "`" + "o" * (MAX_VALUE_CHARS - 1) + "…`" in text, "values are cut short"
    header = message(one_resource, "x" * 500)["blocks"][0]["text"]["text"]
    assert len(header) <= 150


def test_slack_markup_in_names_and_values_is_escaped():
    text = message([change(resource_name="<!channel> & co", new_value='"`rm`"')], "W")["blocks"][2]["text"]["text"]
    assert "&lt;!channel&gt; &amp; co" in text and "<!channel>" not in text and "'rm'" in text


@pytest.mark.parametrize("status, meaning", [
    (200, "delivered"), (204, "delivered"), (408, "retry"), (429, "retry"), (500, "retry"), (503, "retry"),
    (301, "refused"), (400, "refused"), (401, "refused"), (403, "refused"), (404, "refused"), (410, "refused"),
])
def test_what_an_answer_means(status, meaning):
    assert verdict(status) == meaning


def test_sinks_are_read_the_dlt_way_and_unset_ones_are_off(monkeypatch):
    for name in ("SEGMENT__WRITE_KEY", "SLACK__WEBHOOK_URL", "WEBHOOK__URL"):
        monkeypatch.delenv(f"NOTIFY__{name}", raising=False)
    assert configured_sinks() == []
    monkeypatch.setenv("NOTIFY__SLACK__WEBHOOK_URL", "https://hooks.slack.com/services/T/B/x")
    monkeypatch.setenv("NOTIFY__SLACK__CHANGE_KINDS", '["modified"]')
    monkeypatch.setenv("NOTIFY__TIMEOUT", "3")
    monkeypatch.setenv("NOTIFY__SEGMENT__WRITE_KEY", "wk")
    monkeypatch.setenv("NOTIFY__SEGMENT__ENDPOINT", "https://events.eu1.segmentapis.com/")
    segment, slack = configured_sinks()
    assert (segment.name, segment.url(), segment.event) == (
        "segment", "https://events.eu1.segmentapis.com/v1/batch", "Segment Config Changed")
    assert (slack.name, slack.filter.change_kinds, slack.delivery.timeout, segment.delivery.timeout) == (
        "slack", ("modified",), 3.0, 3.0)
    monkeypatch.setenv("NOTIFY__SLACK__TIMEOUT", "5")
    assert configured_sinks()[1].delivery.timeout == 5.0, "a sink's own setting wins over [notify]"
    monkeypatch.setenv("NOTIFY__SLACK__RESOURCE_TYPES", "destinations")
    with pytest.raises(ValueError, match="notify.slack: .*resource_types") as raised:
        configured_sinks()
    assert "hooks.slack.com" not in str(raised.value)
