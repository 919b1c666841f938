"""Source kinds: rename, enable/disable, settings, labels, create and delete (with what hangs off a source)."""

from __future__ import annotations

from typing import Any

from .. import catalog
from ..ids import alnum_id, slugify
from ..state import resource_name
from ..vocabulary import unique_source_name
from .base import Change, Fields, Mutation, choose, kind, remove_item, renamed, replace_item, setting_change, target
from .cascades import destination_dependents, source_dependents


def _source_change(change: Change, source: dict[str, Any], new: dict[str, Any], fields: Fields,
                   event_type: str) -> Mutation:
    replace_item(change.ws.sources, source, new)
    return change.record("sources", source["id"], "modified", fields, event_type=event_type,
                         resource_type="source", audit_id=source["id"], audit_name=resource_name("source", new))


@kind("rename_source", 3)
def rename_source(change: Change, source_id: str | None = None, name: str | None = None) -> Mutation:
    source = target(change, "sources", source_id)
    name = name or renamed(change.rng, source["name"])
    return _source_change(change, source, {**source, "name": name}, {"name": (source["name"], name)},
                          "Source Modified")


def _toggle_source(change: Change, source_id: str | None, enabled: bool) -> Mutation:
    source = target(change, "sources", source_id, lambda item: item["enabled"] != enabled)
    return _source_change(change, source, {**source, "enabled": enabled}, {"enabled": (source["enabled"], enabled)},
                          "Source Enabled" if enabled else "Source Disabled")


@kind("disable_source", 2)
def disable_source(change: Change, source_id: str | None = None) -> Mutation:
    return _toggle_source(change, source_id, False)


@kind("enable_source", 2)
def enable_source(change: Change, source_id: str | None = None) -> Mutation:
    return _toggle_source(change, source_id, True)


@kind("change_source_setting", 3)
def change_source_setting(change: Change, source_id: str | None = None, setting: str | None = None,
                          value: Any = None) -> Mutation:
    """`setting` is a path inside `settings` ("website" or "consentManagement.enabled")."""
    source = target(change, "sources", source_id, lambda item: catalog.SOURCES[item["metadata"]["slug"]].options)
    new, path, old, value = setting_change(change, source, catalog.SOURCES[source["metadata"]["slug"]], setting,
                                            value)
    return _source_change(change, source, new, {path: (old, value)}, "Source Settings Modified")


@kind("add_source_label", 2)
def add_source_label(change: Change, source_id: str | None = None, key: str | None = None,
                     value: str | None = None) -> Mutation:
    def missing_labels(source: dict[str, Any]) -> list[dict[str, Any]]:
        return [label for label in change.ws.labels if label not in source["labels"]
                and (key is None or (label["key"], label["value"]) == (key, value))]

    source = target(change, "sources", source_id, missing_labels)
    label = choose(change.rng, missing_labels(source))
    labels = [*source["labels"], label]
    return _source_change(change, source, {**source, "labels": labels}, {"labels": (source["labels"], labels)},
                          "Source Modified")


@kind("remove_source_label", 2)
def remove_source_label(change: Change, source_id: str | None = None, key: str | None = None,
                        value: str | None = None) -> Mutation:
    def removable(source: dict[str, Any]) -> list[dict[str, Any]]:
        return [label for label in source["labels"] if key is None or (label["key"], label["value"]) == (key, value)]

    source = target(change, "sources", source_id, removable)
    label = choose(change.rng, removable(source))
    labels = [item for item in source["labels"] if item is not label]
    return _source_change(change, source, {**source, "labels": labels}, {"labels": (source["labels"], labels)},
                          "Source Modified")


@kind("create_source", 1)
def create_source(change: Change, name: str | None = None, catalog_slug: str | None = None) -> Mutation:
    ws, rng = change.ws, change.rng
    entry = catalog.SOURCES[catalog_slug or rng.choice(sorted(catalog.SOURCES))]
    name = name or unique_source_name(rng, entry.slug, {source["name"] for source in ws.sources})[0]
    source = {"id": alnum_id(rng), "slug": slugify(name), "name": name, "workspaceId": ws.workspace["id"],
              "enabled": True, "writeKeys": [alnum_id(rng, 32)], "metadata": entry.metadata,
              "settings": entry.sample_settings(rng), "labels": []}
    ws.sources.append(source)
    ws.source_tracking_plan[source["id"]] = None
    return change.record("sources", source["id"], "added", {}, event_type="Source Created",
                         resource_type="source", audit_id=source["id"], audit_name=name)


@kind("delete_source", 1)
def delete_source(change: Change, source_id: str | None = None) -> Mutation:
    """Also removes the source's destinations, warehouse connections and tracking plan connection."""
    ws = change.ws
    source = target(change, "sources", source_id)
    cascade = [change.side_effect("destinations", destination["id"], "removed")
               for destination in ws.destinations_of(source["id"])]
    ws.destinations[:] = [item for item in ws.destinations if item["sourceId"] != source["id"]]
    for effect in cascade:
        ws.secrets.pop(effect.resource_id, None)
    cascade += [change.side_effect("source_warehouses", f"{source_id_}:{warehouse_id}", "removed")
                for source_id_, warehouse_id in ws.source_warehouses if source_id_ == source["id"]]
    ws.source_warehouses[:] = [pair for pair in ws.source_warehouses if pair[0] != source["id"]]
    plan_id = ws.source_tracking_plan.pop(source["id"], None)
    if plan_id:
        cascade.append(change.side_effect("tracking_plan_sources", f"{plan_id}:{source['id']}", "removed"))
    remove_item(ws.sources, source)
    destination_ids = {effect.resource_id for effect in cascade if effect.table == "destinations"}
    cascade += destination_dependents(change, destination_ids) + source_dependents(change, source["id"])
    return change.record("sources", source["id"], "removed", {}, event_type="Source Deleted", resource_type="source",
                         audit_id=source["id"], audit_name=resource_name("source", source), cascade=cascade)
