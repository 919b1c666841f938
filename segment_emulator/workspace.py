"""The emulated workspace: plain dicts and lists in the API's camelCase shapes, plus cached lookups.

Rules for anyone changing state (mutations, tests):
- hold `ws.lock` and call `ws.touch()` afterwards, so the cached indexes below are rebuilt;
- never edit a dict that may already be served: replace it (see `paths.with_path`). Lists may change in
  place under the lock, because the server copies the slice it serves while holding the same lock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from random import Random
from typing import TYPE_CHECKING, Any, Callable

from .ids import iso, utcnow

if TYPE_CHECKING:
    from .mutations import Mutation

# Collections addressed by an `id` field, for `Workspace.find`.
ID_COLLECTIONS = ("sources", "destinations", "warehouses", "tracking_plans", "functions", "users")


@dataclass(eq=False)
class Workspace:
    """Everything the emulator serves. Field names follow the API; see the module docstring for editing rules."""

    workspace: dict[str, Any]
    sources: list[dict[str, Any]]
    source_tracking_plan: dict[str, str | None]
    destinations: list[dict[str, Any]]
    warehouses: list[dict[str, Any]]
    source_warehouses: list[tuple[str, str]]
    tracking_plans: list[dict[str, Any]]
    rules: dict[str, list[dict[str, Any]]]
    functions: list[dict[str, Any]]
    function_versions: dict[str, list[dict[str, Any]]]  # newest first, as served
    labels: list[dict[str, Any]]
    audit_events: list[dict[str, Any]]  # oldest first
    secrets: dict[str, dict[str, str]]  # destination id -> setting name -> clear value behind the mask
    users: list[dict[str, Any]]
    api_tokens: list[str]  # audit actors such as "public-api-token/TJ7z8cg6"
    seed: int = 0
    scale: str = "custom"
    generated_at: datetime = field(default_factory=utcnow)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _rng: Random = field(default_factory=Random, repr=False)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)
    _last_event_number: int | None = None

    # --- derived views ------------------------------------------------------------------------------------------

    @property
    def tracking_plan_sources(self) -> dict[str, list[str]]:
        """Tracking plan id -> ids of its connected sources (derived from `source_tracking_plan`)."""
        return self._cached("tracking_plan_sources", self._build_tracking_plan_sources)

    def _build_tracking_plan_sources(self) -> dict[str, list[str]]:
        by_plan: dict[str, list[str]] = {plan["id"]: [] for plan in self.tracking_plans}
        for source in self.sources:
            plan_id = self.source_tracking_plan.get(source["id"])
            if plan_id in by_plan:
                by_plan[plan_id].append(source["id"])
        return by_plan

    def find(self, collection: str, item_id: str) -> dict[str, Any] | None:
        """The item with this id in one of `ID_COLLECTIONS`, or None."""
        if collection not in ID_COLLECTIONS:
            raise ValueError(f"{collection!r} items have no id; use one of {ID_COLLECTIONS}")
        index = self._cached(f"index:{collection}", lambda: {item["id"]: item for item in getattr(self, collection)})
        return index.get(item_id)

    def destinations_of(self, source_id: str) -> list[dict[str, Any]]:
        return self._grouped("destinations_by_source", self.destinations, lambda d: d["sourceId"]).get(source_id, [])

    def warehouses_of(self, source_id: str) -> list[dict[str, Any]]:
        pairs = self._grouped("warehouse_ids_by_source", self.source_warehouses, lambda pair: pair[0])
        return [self.find("warehouses", warehouse_id) for _, warehouse_id in pairs.get(source_id, [])]

    def sources_of_warehouse(self, warehouse_id: str) -> list[dict[str, Any]]:
        pairs = self._grouped("source_ids_by_warehouse", self.source_warehouses, lambda pair: pair[1])
        return [self.find("sources", source_id) for source_id, _ in pairs.get(warehouse_id, [])]

    def sources_of_plan(self, tracking_plan_id: str) -> list[dict[str, Any]]:
        return [self.find("sources", source_id) for source_id in self.tracking_plan_sources.get(tracking_plan_id, [])]

    def functions_of_type(self, resource_type: str) -> list[dict[str, Any]]:
        return self._grouped("functions_by_type", self.functions, lambda f: f["resourceType"]).get(resource_type, [])

    def touch(self) -> None:
        """Forget cached indexes; call after changing any collection."""
        self._cache = {}

    def _cached(self, name: str, build: Callable[[], Any]) -> Any:
        cache = self._cache  # a concurrent touch() swaps the dict; we keep using the one we read
        if name not in cache:
            cache[name] = build()
        return cache[name]

    def _grouped(self, name: str, items: list[Any], key: Callable[[Any], str]) -> dict[str, list[Any]]:
        def build() -> dict[str, list[Any]]:
            groups: dict[str, list[Any]] = {}
            for item in items:
                groups.setdefault(key(item), []).append(item)
            return groups

        return self._cached(name, build)

    # --- changes ------------------------------------------------------------------------------------------------

    def mutate(self, count: int = 5, seed: int | None = None) -> list[Mutation]:
        """Apply `count` random configuration changes, each with its audit event (timestamp = now)."""
        from .mutations import random_mutations

        rng = Random(seed) if seed is not None else self._rng
        with self.lock:
            return random_mutations(self, rng, count)

    def apply(self, kind: str, **kwargs: Any) -> Mutation:
        """Apply one mutation of a given kind; keyword arguments pin its target and values (see mutations.py)."""
        from .mutations import apply_mutation

        with self.lock:
            return apply_mutation(self, self._rng, kind, **kwargs)

    def record_audit_event(self, event_type: str, resource_type: str, resource_id: str, resource_name: str,
                           actor: str, actor_email: str | None) -> dict[str, Any]:
        """Append an `AuditEventV1` stamped now; ids keep increasing like `events/318842771`."""
        if self._last_event_number is None:
            numbers = (int(event["id"].rsplit("/", 1)[-1]) for event in self.audit_events)
            self._last_event_number = max(numbers, default=318_000_000)
        self._last_event_number += 1
        event = {"id": f"events/{self._last_event_number}", "timestamp": iso(utcnow()), "type": event_type,
                 "actor": actor}
        if actor_email:
            event["actorEmail"] = actor_email
        event.update(resourceId=resource_id, resourceType=resource_type, resourceName=resource_name)
        self.audit_events.append(event)
        return event

    def counts(self) -> dict[str, int]:
        """Sizes of the main collections, handy in tests and in the demo banner."""
        return {"sources": len(self.sources), "destinations": len(self.destinations),
                "warehouses": len(self.warehouses), "tracking_plans": len(self.tracking_plans),
                "rules": sum(len(rules) for rules in self.rules.values()), "functions": len(self.functions),
                "labels": len(self.labels), "audit_events": len(self.audit_events)}


def resource_name(resource_type: str, item: dict[str, Any]) -> str:
    """What the audit trail shows as `resourceName` for an item of this type."""
    if resource_type == "warehouse":
        return item["settings"].get("name", "")
    if resource_type == "function":
        return item["displayName"]
    return item.get("name") or item.get("metadata", {}).get("name", "")
