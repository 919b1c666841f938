"""What a mutation is, and the helpers every kind shares.

A kind is a function `kind_fn(change: Change, **pins) -> Mutation` registered with `@kind(name, weight)`. It
changes `change.ws` (a `WorkspaceState`, under its lock; `apply_mutation` calls `ws.touch()` afterwards),
records the audit event with `change.record(...)` and describes other rows it changed as `change.side_effect(...)`.
It raises `NotApplicable` when the workspace has nothing it could change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from random import Random
from typing import Any, Callable

from .. import catalog
from ..ids import iso, utcnow
from ..paths import dotted, get_path, with_path
from ..state import WorkspaceState

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
class Change:
    """One mutation in progress: the workspace, the random stream and who is acting."""

    ws: WorkspaceState
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
SURFACE_WEIGHTS: dict[str, int] = {}  # kinds on the newer collections (access, delivery, engage, suppressions), opt-in


def kind(name: str, weight: int = 1, surface: bool = False
         ) -> Callable[[Callable[..., Mutation]], Callable[..., Mutation]]:
    def register(function: Callable[..., Mutation]) -> Callable[..., Mutation]:
        KINDS[name] = function
        (SURFACE_WEIGHTS if surface else RANDOM_WEIGHTS)[name] = weight
        return function

    return register


def choose(rng: Random, items: list[Any], wanted: Callable[[Any], bool] = lambda item: True) -> Any:
    candidates = [item for item in items if wanted(item)]
    if not candidates:
        raise NotApplicable("no candidate")
    return rng.choice(candidates)


def lookup(ws: WorkspaceState, collection: str, item_id: str) -> dict[str, Any]:
    item = ws.find(collection, item_id)
    if item is None:
        raise KeyError(f"no {collection} item with id {item_id!r}")
    return item


def target(change: Change, collection: str, item_id: str | None,
            wanted: Callable[[dict], bool] = lambda item: True) -> dict[str, Any]:
    if item_id is None:
        return choose(change.rng, getattr(change.ws, collection), wanted)
    item = lookup(change.ws, collection, item_id)
    if not wanted(item):
        raise NotApplicable(f"{change.kind} does not apply to {item_id!r}")
    return item


def replace_item(items: list[dict[str, Any]], old: dict[str, Any], new: dict[str, Any]) -> None:
    items[next(index for index, item in enumerate(items) if item is old)] = new


def remove_item(items: list[Any], old: Any) -> None:
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


def setting_change(change: Change, item: dict[str, Any], entry: catalog.CatalogEntry, setting: str | None,
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


RENAME_PREFIXES = ("Legacy", "New", "Main", "Core", "Unified")


def renamed(rng: Random, old: str) -> str:
    return f"{rng.choice(RENAME_PREFIXES)} {old}"
