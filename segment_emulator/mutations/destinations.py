"""Destination kinds: rename, enable/disable, settings, secret rotation, create and delete."""

from __future__ import annotations

from random import Random
from typing import Any

from .. import catalog
from ..ids import alnum_id, object_id
from ..paths import dotted, with_path
from ..state import resource_name
from .base import Change, Fields, Mutation, choose, kind, remove_item, renamed, replace_item, setting_change, target
from .cascades import destination_dependents


def _destination_entry(destination: dict[str, Any]) -> catalog.CatalogEntry:
    return catalog.DESTINATIONS[destination["metadata"]["slug"]]


def _destination_change(change: Change, destination: dict[str, Any], new: dict[str, Any], fields: Fields,
                        event_type: str, visible: bool = True) -> Mutation:
    replace_item(change.ws.destinations, destination, new)
    return change.record("destinations", destination["id"], "modified", fields, event_type=event_type,
                         resource_type="destination", audit_id=destination["id"],
                         audit_name=resource_name("destination", new), visible=visible)


@kind("rename_destination", 2)
def rename_destination(change: Change, destination_id: str | None = None, name: str | None = None) -> Mutation:
    destination = target(change, "destinations", destination_id)
    name = name or renamed(change.rng, destination["name"] or destination["metadata"]["name"])
    return _destination_change(change, destination, {**destination, "name": name},
                               {"name": (destination["name"], name)}, "Integration Modified")


def _toggle_destination(change: Change, destination_id: str | None, enabled: bool) -> Mutation:
    destination = target(change, "destinations", destination_id, lambda item: item["enabled"] != enabled)
    return _destination_change(change, destination, {**destination, "enabled": enabled},
                               {"enabled": (destination["enabled"], enabled)},
                               "Integration Enabled" if enabled else "Integration Disabled")


@kind("disable_destination", 2)
def disable_destination(change: Change, destination_id: str | None = None) -> Mutation:
    return _toggle_destination(change, destination_id, False)


@kind("enable_destination", 2)
def enable_destination(change: Change, destination_id: str | None = None) -> Mutation:
    return _toggle_destination(change, destination_id, True)


@kind("change_destination_setting", 4)
def change_destination_setting(change: Change, destination_id: str | None = None, setting: str | None = None,
                               value: Any = None) -> Mutation:
    """A non-secret setting, possibly nested (`setting="channels.Order Completed"`)."""
    def has_plain_settings(item: dict[str, Any]) -> bool:
        return any(not opt.secret for opt in _destination_entry(item).options)

    destination = target(change, "destinations", destination_id, has_plain_settings)
    new, path, old, value = setting_change(change, destination, _destination_entry(destination), setting, value)
    return _destination_change(change, destination, new, {path: (old, value)}, "Integration Modified")


def _rotated(rng: Random, old: str, visible: bool) -> str:
    """A new secret; `visible=False` keeps the last four characters, so the masked value does not change."""
    while True:
        new = alnum_id(rng, max(len(old), 24))
        if not visible:
            new = new[:-4] + old[-4:]
        if new != old and (new[-4:] != old[-4:]) == visible:
            return new


@kind("rotate_destination_secret", 2)
def rotate_destination_secret(change: Change, destination_id: str | None = None, setting: str | None = None,
                              visible: bool = True) -> Mutation:
    ws = change.ws

    def rotatable(item: dict[str, Any]) -> list[str]:
        names = [name for name, value in ws.secrets.get(item["id"], {}).items() if value]
        return [name for name in names if setting is None or name == setting]

    destination = target(change, "destinations", destination_id, rotatable)
    name = choose(change.rng, sorted(rotatable(destination)))
    old_clear = ws.secrets[destination["id"]][name]
    new_clear = _rotated(change.rng, old_clear, visible)
    ws.secrets[destination["id"]] = {**ws.secrets[destination["id"]], name: new_clear}
    old_mask, new_mask = catalog.mask(old_clear), catalog.mask(new_clear)
    new = with_path(destination, ["settings", name], new_mask)
    fields = {dotted("settings", name): (old_mask, new_mask)} if old_mask != new_mask else {}
    return _destination_change(change, destination, new, fields, "Integration Modified", visible=bool(fields))


@kind("create_destination", 1)
def create_destination(change: Change, source_id: str | None = None, catalog_slug: str | None = None,
                       name: str | None = None) -> Mutation:
    ws, rng = change.ws, change.rng
    source = target(change, "sources", source_id)
    entry = catalog.DESTINATIONS[catalog_slug or rng.choice(sorted(catalog.DESTINATIONS))]
    settings = entry.sample_settings(rng)
    destination = {"id": object_id(rng), "name": name if name is not None else f"{entry.name} ({source['name']})",
                   "enabled": True, "sourceId": source["id"],
                   "settings": {key: catalog.mask(value) if key in entry.secrets else value
                                for key, value in settings.items()},
                   "metadata": entry.metadata}
    ws.destinations.append(destination)
    ws.secrets[destination["id"]] = {key: settings[key] for key in entry.secrets}
    return change.record("destinations", destination["id"], "added", {}, event_type="Integration Created",
                         resource_type="destination", audit_id=destination["id"],
                         audit_name=resource_name("destination", destination))


@kind("delete_destination", 1)
def delete_destination(change: Change, destination_id: str | None = None) -> Mutation:
    destination = target(change, "destinations", destination_id)
    remove_item(change.ws.destinations, destination)
    change.ws.secrets.pop(destination["id"], None)
    cascade = destination_dependents(change, {destination["id"]})
    return change.record("destinations", destination["id"], "removed", {}, event_type="Integration Deleted",
                         resource_type="destination", audit_id=destination["id"],
                         audit_name=resource_name("destination", destination), cascade=cascade)
