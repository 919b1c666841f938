"""Requests the parent's own item proves empty are not sent, and nothing is lost by leaving them out."""

from __future__ import annotations

from segment_emulator import generate_workspace

from pipelines.runner import run_snapshot
from segment_source.endpoints import ENDPOINTS_BY_NAME

from .helpers import current_keys, row_count

SUBSCRIPTIONS = ENDPOINTS_BY_NAME["destination_subscriptions"]


def test_subscriptions_are_read_only_for_actions_destinations(start_emulator, options_for):
    workspace = generate_workspace(seed=11, scale="small")
    actions = [d for d in workspace.destinations if d["metadata"]["actions"]]
    classic = [d for d in workspace.destinations if not d["metadata"]["actions"]]
    assert actions and classic, "the workspace has both kinds"
    emulator = start_emulator(workspace)
    options = options_for(emulator, resources=["destination_subscriptions"])

    result = run_snapshot(options)

    asked = {r.path for r in emulator.requests if r.path.endswith("/subscriptions")}
    assert asked == {f"/destinations/{d['id']}/subscriptions" for d in actions}
    assert result.requests["not_needed"] == {"destination_subscriptions": len(classic)}
    assert current_keys(options, "destination_subscriptions") == {s["id"] for s in workspace.destination_subscriptions}
    assert result.skipped == {}


def test_a_destination_whose_item_does_not_say_is_read():
    assert SUBSCRIPTIONS.reads_under({"id": "d1", "metadata": {"actions": [{"id": "a"}]}})
    assert not SUBSCRIPTIONS.reads_under({"id": "d1", "metadata": {"actions": []}})
    # the API documents `metadata.actions` as required: an item without it is read, not assumed empty
    assert SUBSCRIPTIONS.reads_under({"id": "d1", "metadata": {}})
    assert SUBSCRIPTIONS.reads_under({"id": "d1"})
    assert SUBSCRIPTIONS.path_under({"id": "d1"}) == "/destinations/d1/subscriptions"


def test_a_destination_that_becomes_actions_gets_its_subscriptions_read(start_emulator, options_for):
    """The condition is evaluated on each run's items, never remembered."""
    workspace = generate_workspace(seed=11, scale="small")
    classic = next(d for d in workspace.destinations if not d["metadata"]["actions"])
    emulator = start_emulator(workspace)
    options = options_for(emulator, resources=["destination_subscriptions"])
    run_snapshot(options)
    before = row_count(options, "destination_subscriptions")

    donor = next(d for d in workspace.destinations if d["metadata"]["actions"])
    classic["metadata"] = donor["metadata"]
    subscription = {**next(s for s in workspace.destination_subscriptions if s["destinationId"] == donor["id"]),
                    "id": "subscription-of-a-converted-destination", "destinationId": classic["id"]}
    workspace.destination_subscriptions.append(subscription)
    workspace.touch()
    emulator.clear_requests()
    run_snapshot(options)

    assert f"/destinations/{classic['id']}/subscriptions" in {r.path for r in emulator.requests}
    assert "subscription-of-a-converted-destination" in current_keys(options, "destination_subscriptions")
    assert row_count(options, "destination_subscriptions") == before + 1
