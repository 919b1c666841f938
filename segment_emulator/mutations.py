"""Configuration changes between pipeline runs, each recorded in the audit trail like Segment would.

`ws.apply(kind, **kw)` runs one kind from `KINDS`; keyword arguments pin the target (e.g. `source_id=`) and the
new values, everything left out is chosen at random. `ws.mutate(count)` applies random applicable kinds.
A `Mutation` says what a config diff should find through the API: the table, the row's id (natural keys for
id-less rows, see `natural keys` below), the change and the changed fields in API dot notation.

Natural keys: rules `"{tracking_plan_id}:{type}:{key or ''}:{version}"`, labels `"{key}:{value}"`,
source_warehouses `"{source_id}:{warehouse_id}"`, tracking_plan_sources `"{tracking_plan_id}:{source_id}"`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from random import Random
from typing import Any, Callable

from . import catalog, rules
from .generate import unique_source_name
from .ids import alnum_id, iso, ksuid, object_id, slugify, utcnow
from .paths import dotted, get_path, with_path
from .vocabulary import EVENT_NAMES, LABELS, function_code
from .workspace import Workspace, resource_name

Fields = dict[str, tuple[Any, Any]]


@dataclass
class Mutation:
    kind: str
    table: str  # workspace, sources, destinations, warehouses, tracking_plans, tracking_plan_rules, functions,
    #             function_versions, labels, source_warehouses, tracking_plan_sources
    resource_id: str
    change: str  # "added" | "removed" | "modified"
    fields: Fields  # path as seen through the API -> (old, new); empty for added/removed
    audit_event_id: str | None
    actor: str
    actor_email: str | None
    audit_resource_id: str
    visible: bool = True  # False when the API shows no difference (a secret rotated behind the same mask)
    cascade: list[Mutation] = field(default_factory=list)  # other rows the same change touched


class NotApplicable(LookupError):
    """The workspace has nothing this kind of mutation could change (e.g. no disabled source to enable)."""


@dataclass
class _Change:
    """One mutation in progress: the workspace, the random stream and who is acting."""

    ws: Workspace
    rng: Random
    kind: str
    actor: str
    actor_email: str | None
    now: str = field(default_factory=lambda: iso(utcnow()))

    def record(self, table: str, resource_id: str, change: str, fields: Fields, *, event_type: str,
               resource_type: str, audit_id: str, audit_name: str, visible: bool = True,
               cascade: list[Mutation] | None = None) -> Mutation:
        event = self.ws.record_audit_event(event_type, resource_type, audit_id, audit_name, self.actor,
                                           self.actor_email)
        return Mutation(self.kind, table, resource_id, change, fields, event["id"], self.actor, self.actor_email,
                        audit_id, visible, cascade or [])

    def side_effect(self, table: str, resource_id: str, change: str, fields: Fields | None = None) -> Mutation:
        """A row changed as a consequence; it shares the main mutation's audit event (filled in by `apply`)."""
        return Mutation(self.kind, table, resource_id, change, fields or {}, None, self.actor, self.actor_email, "")


KINDS: dict[str, Callable[..., Mutation]] = {}
RANDOM_WEIGHTS: dict[str, int] = {}  # the core kinds `ws.mutate()` draws from by default
SURFACE_WEIGHTS: dict[str, int] = {}  # kinds on the newer collections (`surface_mutations.py`), opt-in


def kind(name: str, weight: int = 1, surface: bool = False
         ) -> Callable[[Callable[..., Mutation]], Callable[..., Mutation]]:
    def register(function: Callable[..., Mutation]) -> Callable[..., Mutation]:
        KINDS[name] = function
        (SURFACE_WEIGHTS if surface else RANDOM_WEIGHTS)[name] = weight
        return function

    return register


def apply_mutation(ws: Workspace, rng: Random, kind_name: str, actor: str | None = None,
                   actor_email: str | None = None, **kwargs: Any) -> Mutation:
    if kind_name not in KINDS:
        raise ValueError(f"unknown mutation kind {kind_name!r}; known: {', '.join(sorted(KINDS))}")
    if actor is None:
        actor, actor_email = _random_actor(rng, ws)
    try:
        mutation = KINDS[kind_name](_Change(ws, rng, kind_name, actor, actor_email), **kwargs)
    finally:
        ws.touch()
    for effect in mutation.cascade:
        effect.audit_event_id, effect.audit_resource_id = mutation.audit_event_id, mutation.audit_resource_id
    return mutation


def _pool(kinds: str | Any | None) -> dict[str, int]:
    """None: the core kinds (what `mutate` always did); "all": core and surface kinds; else the named kinds."""
    if kinds is None:
        return dict(RANDOM_WEIGHTS)
    if kinds == "all":
        return {**RANDOM_WEIGHTS, **SURFACE_WEIGHTS}
    if kinds == "surface":
        return dict(SURFACE_WEIGHTS)
    names = list(kinds)
    unknown = [name for name in names if name not in KINDS]
    if unknown:
        raise ValueError(f"unknown mutation kinds {unknown}")
    return {name: RANDOM_WEIGHTS.get(name) or SURFACE_WEIGHTS.get(name) or 1 for name in names}


def random_mutations(ws: Workspace, rng: Random, count: int, kinds: str | Any | None = None) -> list[Mutation]:
    applied: list[Mutation] = []
    pool = _pool(kinds)
    names, weights = list(pool), list(pool.values())
    attempts = 0
    while len(applied) < count and attempts < count * 20:
        attempts += 1
        try:
            applied.append(apply_mutation(ws, rng, rng.choices(names, weights)[0]))
        except NotApplicable:
            continue
    return applied


def _random_actor(rng: Random, ws: Workspace) -> tuple[str, str | None]:
    if ws.api_tokens and (not ws.users or rng.random() < 0.3):
        return rng.choice(ws.api_tokens), None
    user = rng.choice(ws.users)
    return user["id"], user["email"]


# --- shared helpers -------------------------------------------------------------------------------------------


def _choose(rng: Random, items: list[Any], wanted: Callable[[Any], bool] = lambda item: True) -> Any:
    candidates = [item for item in items if wanted(item)]
    if not candidates:
        raise NotApplicable("no candidate")
    return rng.choice(candidates)


def _lookup(ws: Workspace, collection: str, item_id: str) -> dict[str, Any]:
    item = ws.find(collection, item_id)
    if item is None:
        raise KeyError(f"no {collection} item with id {item_id!r}")
    return item


def _target(change: _Change, collection: str, item_id: str | None,
            wanted: Callable[[dict], bool] = lambda item: True) -> dict[str, Any]:
    if item_id is None:
        return _choose(change.rng, getattr(change.ws, collection), wanted)
    item = _lookup(change.ws, collection, item_id)
    if not wanted(item):
        raise NotApplicable(f"{change.kind} does not apply to {item_id!r}")
    return item


def _replace(items: list[dict[str, Any]], old: dict[str, Any], new: dict[str, Any]) -> None:
    items[next(index for index, item in enumerate(items) if item is old)] = new


def _remove(items: list[Any], old: Any) -> None:
    del items[next(index for index, item in enumerate(items) if item is old)]


def _different(value: Any) -> Any:
    """Some other value of the same kind, when a fresh sample happens to equal the old one."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, list):
        return value[:-1] if value else ["Order Completed"]
    if isinstance(value, dict):
        return {**value, "updated": True}
    return f"{value}-v2" if value else "updated"


def _tweak(rng: Random, value: Any, fresh: Any) -> tuple[list[str], Any, Any]:
    """Pick one leaf to change inside a (possibly nested) setting: (sub-path, old, new)."""
    if isinstance(value, dict) and value:
        key = rng.choice(sorted(value))
        sub_path, old, new = _tweak(rng, value[key], fresh.get(key) if isinstance(fresh, dict) else None)
        return [key, *sub_path], old, new
    if fresh is not None and fresh != value and not isinstance(value, bool):
        return [], value, fresh
    return [], value, _different(value)


def _setting_change(change: _Change, item: dict[str, Any], entry: catalog.CatalogEntry, setting: str | None,
                    value: Any) -> tuple[dict[str, Any], str, Any, Any]:
    """Change one non-secret setting of `item`: (new item, API field path, old, new)."""
    options = {opt.name: opt for opt in entry.options if not opt.secret}
    if not options:
        raise NotApplicable(f"{entry.slug} has no plain settings")
    if setting:
        path = setting.split(".")
        if path[0] not in options:
            raise ValueError(f"{setting!r} is not a plain setting of {entry.slug}")
        old = get_path(item["settings"], path, None)
        value = value if value is not None else _different(old)
    else:
        name = change.rng.choice(sorted(options))
        sub_path, old, value = _tweak(change.rng, item["settings"].get(name), options[name].sample(change.rng))
        path = [name, *sub_path]
    settings = with_path(item["settings"], path, value)
    return {**item, "settings": settings}, dotted("settings", *path), old, value


# --- sources --------------------------------------------------------------------------------------------------

RENAME_PREFIXES = ("Legacy", "New", "Main", "Core", "Unified")


def _renamed(rng: Random, old: str) -> str:
    return f"{rng.choice(RENAME_PREFIXES)} {old}"


def _source_change(change: _Change, source: dict[str, Any], new: dict[str, Any], fields: Fields,
                   event_type: str) -> Mutation:
    _replace(change.ws.sources, source, new)
    return change.record("sources", source["id"], "modified", fields, event_type=event_type,
                         resource_type="source", audit_id=source["id"], audit_name=resource_name("source", new))


@kind("rename_source", 3)
def rename_source(change: _Change, source_id: str | None = None, name: str | None = None) -> Mutation:
    source = _target(change, "sources", source_id)
    name = name or _renamed(change.rng, source["name"])
    return _source_change(change, source, {**source, "name": name}, {"name": (source["name"], name)},
                          "Source Modified")


def _toggle_source(change: _Change, source_id: str | None, enabled: bool) -> Mutation:
    source = _target(change, "sources", source_id, lambda item: item["enabled"] != enabled)
    return _source_change(change, source, {**source, "enabled": enabled}, {"enabled": (source["enabled"], enabled)},
                          "Source Enabled" if enabled else "Source Disabled")


@kind("disable_source", 2)
def disable_source(change: _Change, source_id: str | None = None) -> Mutation:
    return _toggle_source(change, source_id, False)


@kind("enable_source", 2)
def enable_source(change: _Change, source_id: str | None = None) -> Mutation:
    return _toggle_source(change, source_id, True)


@kind("change_source_setting", 3)
def change_source_setting(change: _Change, source_id: str | None = None, setting: str | None = None,
                          value: Any = None) -> Mutation:
    """`setting` is a path inside `settings` ("website" or "consentManagement.enabled")."""
    source = _target(change, "sources", source_id, lambda item: catalog.SOURCES[item["metadata"]["slug"]].options)
    new, path, old, value = _setting_change(change, source, catalog.SOURCES[source["metadata"]["slug"]], setting,
                                            value)
    return _source_change(change, source, new, {path: (old, value)}, "Source Settings Modified")


@kind("add_source_label", 2)
def add_source_label(change: _Change, source_id: str | None = None, key: str | None = None,
                     value: str | None = None) -> Mutation:
    def missing_labels(source: dict[str, Any]) -> list[dict[str, Any]]:
        return [label for label in change.ws.labels if label not in source["labels"]
                and (key is None or (label["key"], label["value"]) == (key, value))]

    source = _target(change, "sources", source_id, missing_labels)
    label = _choose(change.rng, missing_labels(source))
    labels = [*source["labels"], label]
    return _source_change(change, source, {**source, "labels": labels}, {"labels": (source["labels"], labels)},
                          "Source Modified")


@kind("remove_source_label", 2)
def remove_source_label(change: _Change, source_id: str | None = None, key: str | None = None,
                        value: str | None = None) -> Mutation:
    def removable(source: dict[str, Any]) -> list[dict[str, Any]]:
        return [label for label in source["labels"] if key is None or (label["key"], label["value"]) == (key, value)]

    source = _target(change, "sources", source_id, removable)
    label = _choose(change.rng, removable(source))
    labels = [item for item in source["labels"] if item is not label]
    return _source_change(change, source, {**source, "labels": labels}, {"labels": (source["labels"], labels)},
                          "Source Modified")


@kind("create_source", 1)
def create_source(change: _Change, name: str | None = None, catalog_slug: str | None = None) -> Mutation:
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
def delete_source(change: _Change, source_id: str | None = None) -> Mutation:
    """Also removes the source's destinations, warehouse connections and tracking plan connection."""
    ws = change.ws
    source = _target(change, "sources", source_id)
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
    _remove(ws.sources, source)
    destination_ids = {effect.resource_id for effect in cascade if effect.table == "destinations"}
    cascade += destination_dependents(change, destination_ids) + source_dependents(change, source["id"])
    return change.record("sources", source["id"], "removed", {}, event_type="Source Deleted", resource_type="source",
                         audit_id=source["id"], audit_name=resource_name("source", source), cascade=cascade)


# --- destinations ---------------------------------------------------------------------------------------------


def _destination_entry(destination: dict[str, Any]) -> catalog.CatalogEntry:
    return catalog.DESTINATIONS[destination["metadata"]["slug"]]


def _destination_change(change: _Change, destination: dict[str, Any], new: dict[str, Any], fields: Fields,
                        event_type: str, visible: bool = True) -> Mutation:
    _replace(change.ws.destinations, destination, new)
    return change.record("destinations", destination["id"], "modified", fields, event_type=event_type,
                         resource_type="destination", audit_id=destination["id"],
                         audit_name=resource_name("destination", new), visible=visible)


@kind("rename_destination", 2)
def rename_destination(change: _Change, destination_id: str | None = None, name: str | None = None) -> Mutation:
    destination = _target(change, "destinations", destination_id)
    name = name or _renamed(change.rng, destination["name"] or destination["metadata"]["name"])
    return _destination_change(change, destination, {**destination, "name": name},
                               {"name": (destination["name"], name)}, "Integration Modified")


def _toggle_destination(change: _Change, destination_id: str | None, enabled: bool) -> Mutation:
    destination = _target(change, "destinations", destination_id, lambda item: item["enabled"] != enabled)
    return _destination_change(change, destination, {**destination, "enabled": enabled},
                               {"enabled": (destination["enabled"], enabled)},
                               "Integration Enabled" if enabled else "Integration Disabled")


@kind("disable_destination", 2)
def disable_destination(change: _Change, destination_id: str | None = None) -> Mutation:
    return _toggle_destination(change, destination_id, False)


@kind("enable_destination", 2)
def enable_destination(change: _Change, destination_id: str | None = None) -> Mutation:
    return _toggle_destination(change, destination_id, True)


@kind("change_destination_setting", 4)
def change_destination_setting(change: _Change, destination_id: str | None = None, setting: str | None = None,
                               value: Any = None) -> Mutation:
    """A non-secret setting, possibly nested (`setting="channels.Order Completed"`)."""
    def has_plain_settings(item: dict[str, Any]) -> bool:
        return any(not opt.secret for opt in _destination_entry(item).options)

    destination = _target(change, "destinations", destination_id, has_plain_settings)
    new, path, old, value = _setting_change(change, destination, _destination_entry(destination), setting, value)
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
def rotate_destination_secret(change: _Change, destination_id: str | None = None, setting: str | None = None,
                              visible: bool = True) -> Mutation:
    ws = change.ws

    def rotatable(item: dict[str, Any]) -> list[str]:
        names = [name for name, value in ws.secrets.get(item["id"], {}).items() if value]
        return [name for name in names if setting is None or name == setting]

    destination = _target(change, "destinations", destination_id, rotatable)
    name = _choose(change.rng, sorted(rotatable(destination)))
    old_clear = ws.secrets[destination["id"]][name]
    new_clear = _rotated(change.rng, old_clear, visible)
    ws.secrets[destination["id"]] = {**ws.secrets[destination["id"]], name: new_clear}
    old_mask, new_mask = catalog.mask(old_clear), catalog.mask(new_clear)
    new = with_path(destination, ["settings", name], new_mask)
    fields = {dotted("settings", name): (old_mask, new_mask)} if old_mask != new_mask else {}
    return _destination_change(change, destination, new, fields, "Integration Modified", visible=bool(fields))


@kind("create_destination", 1)
def create_destination(change: _Change, source_id: str | None = None, catalog_slug: str | None = None,
                       name: str | None = None) -> Mutation:
    ws, rng = change.ws, change.rng
    source = _target(change, "sources", source_id)
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
def delete_destination(change: _Change, destination_id: str | None = None) -> Mutation:
    destination = _target(change, "destinations", destination_id)
    _remove(change.ws.destinations, destination)
    change.ws.secrets.pop(destination["id"], None)
    cascade = destination_dependents(change, {destination["id"]})
    return change.record("destinations", destination["id"], "removed", {}, event_type="Integration Deleted",
                         resource_type="destination", audit_id=destination["id"],
                         audit_name=resource_name("destination", destination), cascade=cascade)


# --- warehouse connections ------------------------------------------------------------------------------------


def _connection_change(change: _Change, source_id: str, warehouse_id: str, connect: bool) -> Mutation:
    warehouse = _lookup(change.ws, "warehouses", warehouse_id)
    # The audit trail names the warehouse: connections are managed under /warehouses/{id}/connected-sources.
    return change.record("source_warehouses", f"{source_id}:{warehouse_id}", "added" if connect else "removed", {},
                         event_type="Storage Destination Modified", resource_type="warehouse",
                         audit_id=warehouse_id, audit_name=resource_name("warehouse", warehouse))


@kind("connect_warehouse", 2)
def connect_warehouse(change: _Change, source_id: str | None = None, warehouse_id: str | None = None) -> Mutation:
    ws, rng = change.ws, change.rng
    connected = set(ws.source_warehouses)
    pairs = [(source["id"], warehouse["id"]) for source in ws.sources for warehouse in ws.warehouses
             if (source_id in (None, source["id"]) and warehouse_id in (None, warehouse["id"])
                 and (source["id"], warehouse["id"]) not in connected)]
    pair = _choose(rng, pairs)
    ws.source_warehouses.append(pair)
    return _connection_change(change, *pair, connect=True)


@kind("disconnect_warehouse", 2)
def disconnect_warehouse(change: _Change, source_id: str | None = None, warehouse_id: str | None = None) -> Mutation:
    ws = change.ws
    pair = _choose(change.rng, ws.source_warehouses,
                   lambda item: source_id in (None, item[0]) and warehouse_id in (None, item[1]))
    _remove(ws.source_warehouses, pair)
    cascade = selective_sync_dependents(change, lambda item: (item["sourceId"], item["warehouseId"]) == pair)
    mutation = _connection_change(change, *pair, connect=False)
    mutation.cascade = cascade
    return mutation


# --- tracking plans -------------------------------------------------------------------------------------------


def _plan_touched(change: _Change, plan: dict[str, Any], extra: Fields | None = None) -> tuple[dict, Mutation]:
    """Bump the plan's `updatedAt` (every rule change does) and describe that as a side effect."""
    fields: Fields = {"updatedAt": (plan.get("updatedAt"), change.now), **(extra or {})}
    new = {**plan, **{name: new for name, (_, new) in fields.items()}}
    _replace(change.ws.tracking_plans, plan, new)
    return new, change.side_effect("tracking_plans", plan["id"], "modified", fields)


def _rule_change(change: _Change, plan: dict[str, Any], resource_id: str, what: str, fields: Fields,
                 touch_plan: bool) -> Mutation:
    """Rule changes are audited on their tracking plan. With `touch_plan` the plan's `updatedAt` moves too (a
    second changed row, reported in `cascade`); by default a rule mutation changes exactly one row."""
    cascade = []
    if touch_plan:
        plan, plan_effect = _plan_touched(change, plan)
        cascade.append(plan_effect)
    return change.record("tracking_plan_rules", resource_id, what, fields, event_type="Tracking Plan Modified",
                         resource_type="tracking_plan", audit_id=plan["id"],
                         audit_name=resource_name("tracking_plan", plan), cascade=cascade)


def _find_rule(change: _Change, tracking_plan_id: str | None, key: str | None,
               wanted: Callable[[dict], bool] = lambda item: True) -> tuple[dict[str, Any], dict[str, Any]]:
    ws = change.ws
    candidates = [(plan, item) for plan in ws.tracking_plans if tracking_plan_id in (None, plan["id"])
                  for item in ws.rules.get(plan["id"], []) if key in (None, item.get("key")) and wanted(item)]
    return _choose(change.rng, candidates)


@kind("add_rule", 3)
def add_rule(change: _Change, tracking_plan_id: str | None = None, key: str | None = None,
             touch_plan: bool = False) -> Mutation:
    ws, rng = change.ws, change.rng
    plan = _target(change, "tracking_plans", tracking_plan_id)
    plan_rules = ws.rules.setdefault(plan["id"], [])
    used = {item.get("key") for item in plan_rules if item["type"] == "TRACK"}
    unused = [name for name in EVENT_NAMES if name not in used]
    key = key or (rng.choice(unused) if unused else rng.choice(sorted(used)))  # full plans get a new version
    zero_dates = any(item.get("deprecatedAt") == rules.NOT_DEPRECATED for item in plan_rules)
    version = 1 + max((item["version"] for item in plan_rules if item.get("key") == key), default=0)
    item = rules.rule(rng, "TRACK", key, version, change.now, change.now,
                      rules.NOT_DEPRECATED if zero_dates else None)
    plan_rules.append(item)
    return _rule_change(change, plan, rules.natural_key(plan["id"], item), "added", {}, touch_plan)


@kind("modify_rule", 4)
def modify_rule(change: _Change, tracking_plan_id: str | None = None, key: str | None = None,
                property: str | None = None, new_type: str | None = None, touch_plan: bool = False) -> Mutation:
    """Retype one top-level property of a rule's schema; type, key and version stay the same."""
    def retypable(item: dict[str, Any]) -> list[str]:
        fields = get_path(item["jsonSchema"], rules.section_path(item), {})
        return [name for name, schema in fields.items()
                if property in (None, name) and (new_type or rules.retyped(schema))]

    plan, item = _find_rule(change, tracking_plan_id, key, retypable)
    name = change.rng.choice(sorted(retypable(item)))
    schema_path = [*rules.section_path(item), name, "type"]
    old_type = get_path(item["jsonSchema"], schema_path, None)
    new_type = new_type or rules.retyped(get_path(item["jsonSchema"], schema_path[:-1]))
    new_item = {**item, "jsonSchema": with_path(item["jsonSchema"], schema_path, new_type), "updatedAt": change.now}
    _replace(change.ws.rules[plan["id"]], item, new_item)
    fields = {dotted("jsonSchema", *schema_path): (old_type, new_type), "updatedAt": (item.get("updatedAt"),
                                                                                      change.now)}
    return _rule_change(change, plan, rules.natural_key(plan["id"], item), "modified", fields, touch_plan)


@kind("remove_rule", 2)
def remove_rule(change: _Change, tracking_plan_id: str | None = None, key: str | None = None,
                touch_plan: bool = False) -> Mutation:
    plan, item = _find_rule(change, tracking_plan_id, key)
    _remove(change.ws.rules[plan["id"]], item)
    return _rule_change(change, plan, rules.natural_key(plan["id"], item), "removed", {}, touch_plan)


@kind("rename_tracking_plan", 1)
def rename_tracking_plan(change: _Change, tracking_plan_id: str | None = None, name: str | None = None) -> Mutation:
    plan = _target(change, "tracking_plans", tracking_plan_id)
    name = name or _renamed(change.rng, plan.get("name", ""))
    new_plan, effect = _plan_touched(change, plan, {"name": (plan.get("name"), name)})
    return change.record("tracking_plans", plan["id"], "modified", effect.fields,
                         event_type="Tracking Plan Modified", resource_type="tracking_plan", audit_id=plan["id"],
                         audit_name=name)


# --- functions ------------------------------------------------------------------------------------------------

FUNCTION_EVENT = {"SOURCE": "Source Function Modified", "DESTINATION": "Destination Function Modified"}


@kind("update_function_code", 2)
def update_function_code(change: _Change, function_id: str | None = None, code: str | None = None) -> Mutation:
    """Save and deploy new code: a new deployed version, the previous one is no longer deployed."""
    ws, rng = change.ws, change.rng
    function = _target(change, "functions", function_id)
    history = ws.function_versions.setdefault(function["id"], [])
    code = code or function_code(function["resourceType"], function["displayName"].split(" (")[0], len(history) + 1)
    version = {"id": ksuid(rng), "author": change.actor, "isDeployed": True, "code": code,
               "createdAt": change.now, "updatedAt": change.now, "deployedAt": change.now}
    cascade = [change.side_effect("function_versions", version["id"], "added")]
    for index, old in enumerate(history):
        if old.get("isDeployed"):
            history[index] = {**old, "isDeployed": False}
            cascade.append(change.side_effect("function_versions", old["id"], "modified",
                                              {"isDeployed": (True, False)}))
    history.insert(0, version)
    new = {**function, "code": code, "deployedAt": change.now}
    _replace(ws.functions, function, new)
    fields = {"code": (function.get("code"), code), "deployedAt": (function.get("deployedAt"), change.now)}
    return change.record("functions", function["id"], "modified", fields,
                         event_type=FUNCTION_EVENT.get(function["resourceType"], "Insert Function Modified"),
                         resource_type="function", audit_id=function["id"], audit_name=function["displayName"],
                         cascade=cascade)


# --- labels ---------------------------------------------------------------------------------------------------

PROTECTED_LABELS = {("environment", "prod"), ("environment", "dev")}  # every workspace has these two


@kind("create_label", 1)
def create_label(change: _Change, key: str | None = None, value: str | None = None,
                 description: str | None = None) -> Mutation:
    ws = change.ws
    existing = {(label["key"], label["value"]) for label in ws.labels}
    if key is None or value is None:
        spare = [entry for entry in LABELS if entry[:2] not in existing]
        key, value, description = spare[0] if spare else ("team", f"squad-{len(ws.labels) + 1}", "New squad")
    if (key, value) in existing:
        raise NotApplicable(f"label {key}:{value} exists")
    ws.labels.append({"key": key, "value": value, "description": description or ""})
    return change.record("labels", f"{key}:{value}", "added", {}, event_type="Label Created", resource_type="label",
                         audit_id=f"{key}:{value}", audit_name=f"{key}:{value}")


@kind("delete_label", 1)
def delete_label(change: _Change, key: str | None = None, value: str | None = None) -> Mutation:
    """Random picks prefer labels no source uses; an explicit label in use is detached from its sources too."""
    ws = change.ws
    if key is not None:
        label = _choose(change.rng, ws.labels, lambda item: (item["key"], item["value"]) == (key, value))
    else:
        used = {(item["key"], item["value"]) for source in ws.sources for item in source["labels"]}
        label = _choose(change.rng, ws.labels, lambda item: (item["key"], item["value"]) not in used | PROTECTED_LABELS)
    cascade = []
    for source in [source for source in ws.sources if label in source["labels"]]:
        labels = [item for item in source["labels"] if item != label]
        _replace(ws.sources, source, {**source, "labels": labels})
        cascade.append(change.side_effect("sources", source["id"], "modified", {"labels": (source["labels"], labels)}))
    _remove(ws.labels, label)
    natural = f"{label['key']}:{label['value']}"
    return change.record("labels", natural, "removed", {}, event_type="Label Deleted", resource_type="label",
                         audit_id=natural, audit_name=natural, cascade=cascade)


# --- rows of the newer collections that disappear with their parent -------------------------------------------
# Table names and natural keys of these rows: destination_filters, destination_subscriptions,
# insert_function_instances, audience_activations, transformations (ids); live_plugins (the plugin id);
# source_settings (the source id); audience_destination_connections "{audience_id}:{destination_id}";
# warehouse_selective_syncs "{warehouse_id}:{source_id}:{collection}".


def _drop(change: _Change, items: list[dict[str, Any]], wanted: Callable[[dict], bool], table: str,
          key: Callable[[dict], str]) -> list[Mutation]:
    gone = [item for item in items if wanted(item)]
    if gone:
        items[:] = [item for item in items if not wanted(item)]
    return [change.side_effect(table, key(item), "removed") for item in gone]


def selective_sync_dependents(change: _Change, wanted: Callable[[dict], bool]) -> list[Mutation]:
    return _drop(change, change.ws.selective_syncs, wanted, "warehouse_selective_syncs",
                 lambda item: f"{item['warehouseId']}:{item['sourceId']}:{item['collection']}")


def destination_dependents(change: _Change, destination_ids: set[str]) -> list[Mutation]:
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


def source_dependents(change: _Change, source_id: str) -> list[Mutation]:
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


from . import surface_mutations  # noqa: E402,F401  (registers the surface kinds)
