"""Rows of the newer collections that disappear with their parent (a deleted source, destination or warehouse
connection), reported as side effects of the change that removed the parent."""

from __future__ import annotations

from typing import Any, Callable

from .base import Change, Mutation

# Table names and natural keys of these rows: destination_filters, destination_subscriptions,
# insert_function_instances, audience_activations, transformations (ids); live_plugins (the plugin id);
# source_settings (the source id); audience_destination_connections "{audience_id}:{destination_id}";
# warehouse_selective_syncs "{warehouse_id}:{source_id}:{collection}".


def _drop(change: Change, items: list[dict[str, Any]], wanted: Callable[[dict], bool], table: str,
          key: Callable[[dict], str]) -> list[Mutation]:
    gone = [item for item in items if wanted(item)]
    if gone:
        items[:] = [item for item in items if not wanted(item)]
    return [change.side_effect(table, key(item), "removed") for item in gone]


def selective_sync_dependents(change: Change, wanted: Callable[[dict], bool]) -> list[Mutation]:
    return _drop(change, change.ws.selective_syncs, wanted, "warehouse_selective_syncs",
                 lambda item: f"{item['warehouseId']}:{item['sourceId']}:{item['collection']}")


def destination_dependents(change: Change, destination_ids: set[str]) -> list[Mutation]:
    """Filters, subscriptions, insert function instances, audience connections and activations of deleted
    destinations."""
    ws = change.ws
    if not destination_ids:
        return []
    effects = _drop(change, ws.destination_filters, lambda item: item["destinationId"] in destination_ids,
                    "destination_filters", lambda item: item["id"])
    effects += _drop(change, ws.destination_subscriptions, lambda item: item["destinationId"] in destination_ids,
                     "destination_subscriptions", lambda item: item["id"])
    effects += _drop(change, ws.insert_function_instances, lambda item: item["integrationId"] in destination_ids,
                     "insert_function_instances", lambda item: item["id"])
    effects += _drop(change, ws.activations, lambda item: item["connectionId"] in destination_ids,
                     "audience_activations", lambda item: item["id"])
    for audience_id, links in list(ws.audience_connections.items()):
        if any(link["id"] in destination_ids for link in links):
            effects += [change.side_effect("audience_destination_connections", f"{audience_id}:{link['id']}",
                                           "removed")
                        for link in links if link["id"] in destination_ids]
            ws.audience_connections[audience_id] = [link for link in links if link["id"] not in destination_ids]
    return effects


def source_dependents(change: Change, source_id: str) -> list[Mutation]:
    """Selective syncs, transformations, live plugin, schema settings and insert function instances of a
    deleted source."""
    ws = change.ws
    effects = selective_sync_dependents(change, lambda item: item["sourceId"] == source_id)
    effects += _drop(change, ws.transformations, lambda item: item["sourceId"] == source_id, "transformations",
                     lambda item: item["id"])
    effects += _drop(change, ws.insert_function_instances, lambda item: item["integrationId"] == source_id,
                     "insert_function_instances", lambda item: item["id"])
    plugin = ws.live_plugins.pop(source_id, None)
    if plugin is not None:
        effects.append(change.side_effect("live_plugins", plugin["id"], "removed"))
    ws.source_settings.pop(source_id, None)  # served (defaults included) for every source: always a row
    effects.append(change.side_effect("source_settings", source_id, "removed"))
    return effects
