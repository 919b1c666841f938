"""Engage kinds (surface): audience definitions and computed traits.

Tables (by id): audiences, computed_traits; audit `resourceType`s: audience, computed_trait.
"""

from __future__ import annotations

from ..vocabulary import EVENT_NAMES
from .base import Change, Fields, Mutation, NotApplicable, kind, replace_item, target


def _author(change: Change, old: str) -> str:
    """Who `updatedBy` names after the change: the acting user, or unchanged when a token acted."""
    return change.actor if change.actor_email else old


@kind("change_audience_definition", 2, surface=True)
def change_audience_definition(change: Change, audience_id: str | None = None, query: str | None = None
                               ) -> Mutation:
    item = target(change, "audiences", audience_id, lambda a: a.get("definition") is not None)
    old_query = item["definition"]["query"]
    query = query or f"{old_query} and event('{change.rng.choice(EVENT_NAMES)}').within(30 days).count() >= 1"
    if query == old_query:
        raise NotApplicable("same definition")
    author = _author(change, item["updatedBy"])
    new = {**item, "definition": {**item["definition"], "query": query}, "updatedAt": change.now,
           "updatedBy": author}
    replace_item(change.ws.audiences, item, new)
    fields: Fields = {"definition.query": (old_query, query), "updatedAt": (item["updatedAt"], change.now)}
    if author != item["updatedBy"]:
        fields["updatedBy"] = (item["updatedBy"], author)
    return change.record("audiences", item["id"], "modified", fields, event_type="Audience Modified",
                         resource_type="audience", audit_id=item["id"], audit_name=item["name"])


@kind("toggle_computed_trait", 2, surface=True)
def toggle_computed_trait(change: Change, trait_id: str | None = None, enabled: bool | None = None) -> Mutation:
    item = target(change, "computed_traits", trait_id, lambda t: enabled is None or t["enabled"] != enabled)
    new_state = (not item["enabled"]) if enabled is None else enabled
    author = _author(change, item["updatedBy"])
    replace_item(change.ws.computed_traits, item, {**item, "enabled": new_state, "updatedAt": change.now,
                                               "updatedBy": author})
    fields: Fields = {"enabled": (item["enabled"], new_state), "updatedAt": (item["updatedAt"], change.now)}
    if author != item["updatedBy"]:
        fields["updatedBy"] = (item["updatedBy"], author)
    return change.record("computed_traits", item["id"], "modified", fields, event_type="Computed Trait Modified",
                         resource_type="computed_trait", audit_id=item["id"], audit_name=item["name"])
