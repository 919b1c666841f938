"""Kinds (surface) on what shapes data on its way: destination filters, transformations, Reverse ETL models.

Tables (by id): destination_filters, transformations, reverse_etl_models; audit `resourceType`s the same in
the singular.
"""

from __future__ import annotations

from ..vocabulary import EVENT_NAMES
from .base import Change, Mutation, kind, replace_item, target


@kind("toggle_destination_filter", 2, surface=True)
def toggle_destination_filter(change: Change, filter_id: str | None = None, enabled: bool | None = None
                              ) -> Mutation:
    item = target(change, "destination_filters", filter_id, lambda f: enabled is None or f["enabled"] != enabled)
    new_state = (not item["enabled"]) if enabled is None else enabled
    new = {**item, "enabled": new_state, "updatedAt": change.now}
    replace_item(change.ws.destination_filters, item, new)
    fields = {"enabled": (item["enabled"], new_state), "updatedAt": (item["updatedAt"], change.now)}
    return change.record("destination_filters", item["id"], "modified", fields,
                         event_type="Destination Filter Enabled" if new_state else "Destination Filter Disabled",
                         resource_type="destination_filter", audit_id=item["id"], audit_name=item["title"])


@kind("change_transformation", 2, surface=True)
def change_transformation(change: Change, transformation_id: str | None = None, condition: str | None = None
                          ) -> Mutation:
    """Point the transformation at another event (its `if` condition)."""
    item = target(change, "transformations", transformation_id)
    condition = condition or f"event = '{change.rng.choice(EVENT_NAMES)}'"
    if condition == item["if"]:
        condition = f"{condition} and type = 'track'"
    replace_item(change.ws.transformations, item, {**item, "if": condition})
    return change.record("transformations", item["id"], "modified", {"if": (item["if"], condition)},
                         event_type="Transformation Updated", resource_type="transformation", audit_id=item["id"],
                         audit_name=item["name"])


@kind("toggle_reverse_etl_model", 1, surface=True)
def toggle_reverse_etl_model(change: Change, model_id: str | None = None, enabled: bool | None = None) -> Mutation:
    item = target(change, "reverse_etl_models", model_id, lambda m: enabled is None or m["enabled"] != enabled)
    new_state = (not item["enabled"]) if enabled is None else enabled
    replace_item(change.ws.reverse_etl_models, item, {**item, "enabled": new_state})
    return change.record("reverse_etl_models", item["id"], "modified", {"enabled": (item["enabled"], new_state)},
                         event_type="Model State Change Toggled", resource_type="reverse_etl_model",
                         audit_id=item["id"], audit_name=item["name"])
